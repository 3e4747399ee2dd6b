//! `tresor kmip serve`, `tresor kmip certs` and `tresor kmip grant`: the commands that work on
//! the local store or files rather than talk to a server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;

use super::args::{CertsCommand, OpenStore, ServeArgs};
use super::{server_runtime, usage};
use tresor_kmip::KmipError;
use tresor_kmip::ops::{GRANTS_ATTR, PERMISSIONS};
use tresor_kmip::server::logging::LogFormat;
use tresor_kmip::server::{AuditLog, AuditReads, Server, ServerConfig, config_file};

/// `tresor kmip certs init|client|revoke`.
pub(super) fn certs(cmd: CertsCommand) -> Result<ExitCode, KmipError> {
    match cmd {
        CertsCommand::Init {
            dir,
            days,
            server_days,
            ca_days,
        } => {
            let lifetimes = tresor_kmip::certs::Lifetimes {
                ca_days,
                server_days,
                client_days: days,
            };
            let f = tresor_kmip::certs::init_with(&dir, &lifetimes)?;
            eprintln!(
                "wrote {}, {}, {}, {}, {}, {}",
                f.ca_cert.display(),
                f.server_cert.display(),
                f.server_key.display(),
                f.client_cert.display(),
                f.client_key.display(),
                f.crl.display()
            );
        }
        CertsCommand::Client { dir, name, days } => {
            let f = tresor_kmip::certs::client_with(&dir, &name, days)?;
            eprintln!("wrote {}, {}", f.cert.display(), f.key.display());
        }
        CertsCommand::Revoke {
            dir,
            name,
            serial,
            cert,
        } => {
            use tresor_kmip::certs::RevokeTarget;
            let target = match (name, serial, cert) {
                (Some(n), None, None) => RevokeTarget::Name(n),
                (None, Some(s), None) => RevokeTarget::Serial(s),
                (None, None, Some(c)) => RevokeTarget::CertFile(c),
                _ => return Err(usage("give one of NAME, --serial or --cert".to_owned())),
            };
            let r = tresor_kmip::certs::revoke(&dir, &target)?;
            if r.already {
                eprintln!("serial {} is already in {}", r.serial, r.crl.display());
            } else {
                eprintln!(
                    "revoked serial {} in {}; send SIGHUP to a server started with --crl {} \
                     to refuse it",
                    r.serial,
                    r.crl.display(),
                    r.crl.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tresor kmip serve`: runs the server until SIGTERM or SIGINT.
pub(super) fn serve(a: ServeArgs, open_store: OpenStore<'_>) -> Result<ExitCode, KmipError> {
    // tresor.toml first: its [log] table chooses the log writer. A reload merges the flags
    // as given with the file as it is then.
    let given = a.clone();
    let a = with_config_file(a)?;
    let format: LogFormat = a.log_format.as_deref().unwrap_or("text").parse()?;
    let level = a
        .config
        .as_deref()
        .filter(|p| config_file::is_toml(p))
        .map(config_file::load)
        .transpose()?
        .and_then(|f| f.log.level.map(toml::Spanned::into_inner));
    let _log = tresor_kmip::server::logging::init(format, level.as_deref())?;
    if a.ephemeral {
        return super::ephemeral::serve_ephemeral(a);
    }
    if a.certs.is_some() {
        return Err(usage("--certs DIR goes with --ephemeral".to_owned()));
    }
    let (config, store_dir) = server_config(&a)?;
    let reads = AuditReads::parse(
        a.audit_reads
            .as_deref()
            .unwrap_or(tresor_kmip::server::DEFAULT_READS),
    )?;
    let store = open_store(store_dir.as_deref()).map_err(|e| KmipError::Store(e.to_string()))?;
    let audit_log = audit_log_path(&a.audit_log, a.no_audit_log, &store)
        .map(|p| AuditLog::open(&p, reads))
        .transpose()?;
    let rt = server_runtime(a.worker_threads)?;
    let http_listen = a.http_listen.clone();
    let metrics_listen = a.metrics_listen.clone();
    let backend = store.backend().clone();
    rt.block_on(async move {
        let mut server = Server::bind(config, store).await?;
        if let Some(h) = &http_listen {
            server = server.with_http(h).await?;
            if let Some(addr) = server.http_local_addr() {
                eprintln!("kmip: HTTPS/JSON (POST /kmip/2_1) listening on {addr}");
            }
        }
        if let Some(m) = &metrics_listen {
            server = server.with_metrics(m).await?;
            if let Some(addr) = server.metrics_local_addr() {
                eprintln!("kmip: metrics (/metrics, /healthz, /readyz) listening on {addr}");
            }
        }
        match audit_log {
            Some(log) => {
                eprintln!("kmip: audit stream to {}", log.target());
                server = server.with_audit_log(log);
            }
            None => eprintln!("kmip: no audit stream (pass --audit-log FILE|-)"),
        }
        eprintln!("listening on {}", server.local_addr());
        tracing::info!(
            target: "tresor::kmip",
            listen = %server.local_addr(),
            version = env!("CARGO_PKG_VERSION"),
            "serving"
        );
        reload_on_sighup(server.reloader(), given);
        notify(&[sd_notify::NotifyState::Ready]);
        server
            .serve(async {
                shutdown_signal().await;
                notify(&[sd_notify::NotifyState::Stopping]);
            })
            .await;
        let groups = backend.group_sizes();
        if !groups.is_empty() {
            let sizes: Vec<String> = groups.iter().map(|(s, n)| format!("{s}x{n}")).collect();
            eprintln!(
                "kmip: commit groups (batches x groups): {}",
                sizes.join(" ")
            );
        }
        eprintln!("kmip: shut down");
        Ok::<_, KmipError>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Tells systemd (when NOTIFY_SOCKET is set) the server's state; a failure is logged.
fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, state) {
        tracing::warn!(target: "tresor::kmip", error = %e, "sd_notify failed");
    }
}

/// The flags with the values of `--config FILE.toml` filled in where no flag (or its
/// environment variable) gave one. A PyKMIP server.conf is read later, by `server_config`.
///
/// # Errors
/// [`KmipError::Config`] naming the line of a bad key or value.
pub fn with_config_file(mut a: ServeArgs) -> Result<ServeArgs, KmipError> {
    let Some(path) = a.config.clone().filter(|p| config_file::is_toml(p)) else {
        return Ok(a);
    };
    let f = config_file::load(&path)?;
    let s = f.server;
    let path_of = |v: Option<toml::Spanned<PathBuf>>| v.map(toml::Spanned::into_inner);
    a.listen = a.listen.or(s.listen);
    a.cert = a.cert.or(path_of(s.cert));
    a.key = a.key.or(path_of(s.key));
    a.ca = a.ca.or(path_of(s.ca));
    a.crl = a.crl.or(path_of(s.crl));
    a.identity_from = a
        .identity_from
        .or(s.identity_from.map(toml::Spanned::into_inner));
    if s.client_auth_eku == Some(false) {
        a.no_client_auth_eku = true;
    }
    if a.admin.is_empty() {
        a.admin = s.admins.unwrap_or_default();
    }
    if let Some(st) = &s.store
        && st.contains("://")
    {
        return Err(KmipError::Config {
            path: path.display().to_string(),
            reason: format!(
                "[server] store '{st}' is a URL: name a store URL with the global --store \
                 flag; store = names the vault folder"
            ),
        });
    }
    a.store = a.store.or(s.store);
    if a.audit_log.is_none() {
        a.audit_log = s.audit_log;
        if s.no_audit_log == Some(true) && a.audit_log.is_none() {
            a.no_audit_log = true;
        }
    }
    a.audit_reads = a
        .audit_reads
        .or(s.audit_reads.map(toml::Spanned::into_inner));
    a.http_listen = a.http_listen.or(s.http_listen);
    a.metrics_listen = a.metrics_listen.or(s.metrics_listen);
    a.drain_timeout = a.drain_timeout.or(s.drain_timeout);
    a.key_cache_entries = a.key_cache_entries.or(s.key_cache_entries);
    a.worker_threads = a.worker_threads.or(s.worker_threads);
    a.log_format = a.log_format.or(f.log.format.map(toml::Spanned::into_inner));
    let l = &mut a.limits;
    let t = f.limits;
    l.max_batch_items = l.max_batch_items.or(t.max_batch_items);
    l.max_response_size = l.max_response_size.or(t.max_response_size);
    l.max_connections = l.max_connections.or(t.max_connections);
    l.max_connections_per_identity = l
        .max_connections_per_identity
        .or(t.max_connections_per_identity);
    l.max_requests_per_second = l.max_requests_per_second.or(t.max_requests_per_second);
    l.read_timeout = l.read_timeout.or(t.read_timeout);
    l.write_timeout = l.write_timeout.or(t.write_timeout);
    l.idle_timeout = l.idle_timeout.or(t.idle_timeout);
    l.max_rng_bytes = l.max_rng_bytes.or(t.max_rng_bytes);
    l.max_key_pairs = l.max_key_pairs.or(t.max_key_pairs);
    l.max_rsa_bits = l.max_rsa_bits.or(t.max_rsa_bits);
    Ok(a)
}

/// The server configuration of the flags (already merged with a tresor.toml) and a PyKMIP
/// server.conf, if `--config` names one; and the store folder.
fn server_config(a: &ServeArgs) -> Result<(ServerConfig, Option<PathBuf>), KmipError> {
    let mut config = ServerConfig::new(
        a.cert.clone().unwrap_or_default(),
        a.key.clone().unwrap_or_default(),
        a.ca.clone().unwrap_or_default(),
    );
    // A store URL (the tresor binary's global `--store postgres://…`) is not a directory: the
    // opener takes it from there and keeps the vault folder for the key.
    let mut store_dir = a
        .store
        .clone()
        .filter(|s| !s.contains("://"))
        .map(PathBuf::from);
    if let Some(p) = a.config.as_deref().filter(|p| !config_file::is_toml(p)) {
        let (c, db) = tresor_kmip::server::from_pykmip_server_conf(p, config)?;
        config = c;
        if store_dir.is_none() {
            store_dir = db;
        }
    }
    if let Some(l) = &a.listen {
        config.listen.clone_from(l);
    }
    if let Some(c) = &a.cert {
        config.cert.clone_from(c);
    }
    if let Some(k) = &a.key {
        config.key.clone_from(k);
    }
    if let Some(c) = &a.ca {
        config.ca.clone_from(c);
    }
    if a.no_client_auth_eku {
        config.require_client_auth_eku = false;
    }
    if let Some(c) = &a.crl {
        config.crl = Some(c.clone());
    }
    if let Some(s) = &a.identity_from {
        config.identity_from = s.parse()?;
    }
    apply_limits(&a.limits, &mut config);
    config.admins.clone_from(&a.admin);
    config.shutdown_grace = std::time::Duration::from_secs(a.drain_timeout.unwrap_or(10));
    if let Some(n) = a.key_cache_entries {
        config.key_cache_entries = n;
    }
    for (p, f) in [
        (&config.cert, "--cert"),
        (&config.key, "--key"),
        (&config.ca, "--ca"),
    ] {
        if p.as_os_str().is_empty() {
            return Err(usage(format!(
                "{f} is required (or cert/key/ca in a tresor.toml, \
                 certificate_path/key_path/ca_path in a server.conf)"
            )));
        }
    }
    Ok((config, store_dir))
}

/// `tresor config check FILE`.
///
/// # Errors
/// [`KmipError::Config`] naming the line of the first problem, [`KmipError::Io`].
pub fn config(cmd: super::args::ConfigCommand) -> Result<ExitCode, KmipError> {
    let super::args::ConfigCommand::Check { file, json } = cmd;
    let r = config_file::check(&file)?;
    if json {
        let missing: Vec<_> = r
            .missing
            .iter()
            .map(|(k, p, e)| json!({"key": k, "path": p.display().to_string(), "error": e}))
            .collect();
        println!(
            "{}",
            json!({"file": file.display().to_string(), "kind": r.kind, "ok": missing.is_empty(),
                   "missing": missing})
        );
    } else {
        for (k, p, e) in &r.missing {
            eprintln!("error: {}: {k} = '{}': {e}", file.display(), p.display());
        }
        if r.missing.is_empty() {
            println!("{}: ok ({})", file.display(), r.kind);
        }
    }
    Ok(if r.missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The audit stream's file: `--audit-log`, else `audit.jsonl` beside the store's audit head
/// (a SQLite vault's folder), else none.
fn audit_log_path(
    given: &Option<PathBuf>,
    off: bool,
    store: &tresor_store::Store,
) -> Option<PathBuf> {
    if off {
        return None;
    }
    given.clone().or_else(|| {
        store
            .audit_head()
            .and_then(|h| h.path())
            .and_then(Path::parent)
            .map(|d| d.join("audit.jsonl"))
    })
}

/// Sets the limit flags given over `config`'s (defaults, or --config's).
pub(super) fn apply_limits(l: &super::args::ServeLimitArgs, config: &mut ServerConfig) {
    let b = &mut config.server_limits;
    let secs = std::time::Duration::from_secs;
    if let Some(v) = l.max_batch_items {
        b.max_batch_items = v;
    }
    if let Some(v) = l.max_response_size {
        b.max_response_size = v;
    }
    if let Some(v) = l.max_connections {
        b.max_connections = v;
    }
    if let Some(v) = l.max_connections_per_identity {
        b.max_connections_per_identity = v;
    }
    if let Some(v) = l.max_requests_per_second {
        b.requests_per_second = v;
    }
    if let Some(v) = l.read_timeout {
        b.read_timeout = secs(v);
    }
    if let Some(v) = l.write_timeout {
        b.write_timeout = secs(v);
    }
    if let Some(v) = l.max_rng_bytes {
        b.max_rng_bytes = v;
    }
    if let Some(v) = l.max_key_pairs {
        b.max_key_pairs = v;
    }
    if let Some(v) = l.max_rsa_bits {
        b.max_rsa_bits = v;
    }
    if let Some(v) = l.idle_timeout {
        config.idle_timeout = secs(v);
    }
}

/// On each SIGHUP, re-reads the configuration (the flags, `--config` again) and from it the
/// certificate, key, CA, CRL, limits and key cache bound, for new handshakes and requests
/// (open connections go on); a failed reload keeps the old configuration and is logged.
fn reload_on_sighup(reloader: tresor_kmip::server::Reloader, args: ServeArgs) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        notify(&[sd_notify::NotifyState::Reloading]);
                        let r = with_config_file(args.clone())
                            .and_then(|a| server_config(&a))
                            .and_then(|(c, _)| reloader.reload_with(&c));
                        match r {
                            Ok(()) => tracing::info!(
                                target: "tresor::kmip",
                                "reloaded the certificates and CRL (and limits, key cache bound)"
                            ),
                            Err(e) => tracing::error!(
                                target: "tresor::kmip",
                                error = %e,
                                "reload failed, keeping the old files and limits"
                            ),
                        }
                        notify(&[sd_notify::NotifyState::Ready]);
                    }
                });
            }
            Err(e) => tracing::warn!(
                target: "tresor::kmip",
                error = %e,
                "cannot listen for SIGHUP (no reload)"
            ),
        }
    }
    #[cfg(not(unix))]
    let _ = (reloader, args);
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut t), Ok(mut i)) => {
                tokio::select! {
                    _ = t.recv() => {}
                    _ = i.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `tresor kmip grant`: sets (or with "none" revokes) IDENTITY's permissions on object
/// UID in the store.
pub(super) fn grant(
    open_store: OpenStore<'_>,
    dir: Option<&Path>,
    uid: &str,
    identity: &str,
    ops: &str,
) -> Result<ExitCode, KmipError> {
    let perms: Vec<&str> = ops
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let revoke = perms == ["none"];
    if !revoke && (perms.is_empty() || perms.iter().any(|p| !PERMISSIONS.contains(p))) {
        return Err(usage(format!(
            "permissions '{ops}' must be a comma-separated list of {} (or none)",
            PERMISSIONS.join(", ")
        )));
    }
    if identity.is_empty() || identity.contains(['.', ',']) {
        return Err(usage(format!(
            "identity '{identity}' must be non-empty without '.' or ','"
        )));
    }
    let store = open_store(dir).map_err(|e| KmipError::Store(e.to_string()))?;
    let actor = store.actor().to_owned();
    let joined = perms.join(",");
    let r = store.write_as(&actor, |tx| {
        tx.update(uid, &format!("kmip grant {identity} {joined}"), |m| {
            let g = m
                .attributes
                .entry(GRANTS_ATTR.to_owned())
                .or_insert_with(|| json!({}));
            if !g.is_object() {
                *g = json!({});
            }
            if let Some(o) = g.as_object_mut() {
                if revoke {
                    o.remove(identity);
                } else {
                    o.insert(identity.to_owned(), json!(joined));
                }
            }
            Ok(())
        })?;
        Ok(())
    });
    match r {
        Ok(()) => {
            eprintln!(
                "{}",
                if revoke {
                    format!("revoked {identity} on {uid}")
                } else {
                    format!("granted {joined} on {uid} to {identity}")
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(tresor_store::StoreError::NotFound(_)) => {
            eprintln!("error: object '{uid}' not found");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(KmipError::Store(e.to_string())),
    }
}
