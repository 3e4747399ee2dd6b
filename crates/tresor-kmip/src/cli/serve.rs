//! `tresor kmip serve`, `tresor kmip certs` and `tresor kmip grant`: the commands that work on
//! the local store or files rather than talk to a server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;

use super::args::{CertsCommand, OpenStore, ServeArgs};
use super::{runtime, usage};
use crate::error::KmipError;
use crate::ops::{GRANTS_ATTR, PERMISSIONS};
use crate::server::{AuditLog, AuditReads, Server, ServerConfig};

/// `tresor kmip certs init|client|revoke`.
pub(super) fn certs(cmd: CertsCommand) -> Result<ExitCode, KmipError> {
    match cmd {
        CertsCommand::Init {
            dir,
            days,
            server_days,
            ca_days,
        } => {
            let lifetimes = crate::certs::Lifetimes {
                ca_days,
                server_days,
                client_days: days,
            };
            let f = crate::certs::init_with(&dir, &lifetimes)?;
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
            let f = crate::certs::client_with(&dir, &name, days)?;
            eprintln!("wrote {}, {}", f.cert.display(), f.key.display());
        }
        CertsCommand::Revoke {
            dir,
            name,
            serial,
            cert,
        } => {
            use crate::certs::RevokeTarget;
            let target = match (name, serial, cert) {
                (Some(n), None, None) => RevokeTarget::Name(n),
                (None, Some(s), None) => RevokeTarget::Serial(s),
                (None, None, Some(c)) => RevokeTarget::CertFile(c),
                _ => return Err(usage("give one of NAME, --serial or --cert".to_owned())),
            };
            let r = crate::certs::revoke(&dir, &target)?;
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
    if a.ephemeral {
        return super::ephemeral::serve_ephemeral(a);
    }
    if a.certs.is_some() {
        return Err(usage("--certs DIR goes with --ephemeral".to_owned()));
    }
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
    if let Some(p) = &a.config {
        let (c, db) = crate::server::from_pykmip_server_conf(p, config)?;
        config = c;
        if store_dir.is_none() {
            store_dir = db;
        }
    }
    if let Some(l) = a.listen {
        config.listen = l;
    }
    if let Some(c) = a.cert {
        config.cert = c;
    }
    if let Some(k) = a.key {
        config.key = k;
    }
    if let Some(c) = a.ca {
        config.ca = c;
    }
    if a.no_client_auth_eku {
        config.require_client_auth_eku = false;
    }
    if let Some(c) = a.crl {
        config.crl = Some(c);
    }
    if let Some(s) = &a.identity_from {
        config.identity_from = s.parse()?;
    }
    apply_limits(&a.limits, &mut config);
    config.admins = a.admin;
    for (p, f) in [
        (&config.cert, "--cert"),
        (&config.key, "--key"),
        (&config.ca, "--ca"),
    ] {
        if p.as_os_str().is_empty() {
            return Err(usage(format!(
                "{f} is required (or certificate_path/key_path/ca_path in --config)"
            )));
        }
    }
    let reads = AuditReads::parse(&a.audit_reads)?;
    let store = open_store(store_dir.as_deref()).map_err(|e| KmipError::Store(e.to_string()))?;
    let audit_log = audit_log_path(&a.audit_log, a.no_audit_log, &store)
        .map(|p| AuditLog::open(&p, reads))
        .transpose()?;
    let rt = runtime()?;
    let http_listen = a.http_listen.clone();
    let backend = store.backend().clone();
    rt.block_on(async move {
        let mut server = Server::bind(config, store).await?;
        if let Some(h) = &http_listen {
            server = server.with_http(h).await?;
            if let Some(addr) = server.http_local_addr() {
                eprintln!("kmip: HTTPS/JSON (POST /kmip/2_1) listening on {addr}");
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
        reload_on_sighup(server.reloader());
        server.serve(shutdown_signal()).await;
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

/// On each SIGHUP, re-reads the certificate, key, CA and CRL for new handshakes (open
/// connections go on); a failed reload keeps the old files and is logged.
fn reload_on_sighup(reloader: crate::server::Reloader) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        match reloader.reload() {
                            Ok(()) => eprintln!("kmip: reloaded the certificates and CRL"),
                            Err(e) => eprintln!("kmip: reload failed, keeping the old files: {e}"),
                        }
                    }
                });
            }
            Err(e) => eprintln!("kmip: cannot listen for SIGHUP (no reload): {e}"),
        }
    }
    #[cfg(not(unix))]
    let _ = reloader;
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
