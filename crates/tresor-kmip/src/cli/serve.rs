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

/// `tresor kmip certs init|client`.
pub(super) fn certs(cmd: CertsCommand) -> Result<ExitCode, KmipError> {
    match cmd {
        CertsCommand::Init { dir } => {
            let f = crate::certs::init(&dir)?;
            eprintln!(
                "wrote {}, {}, {}, {}, {}",
                f.ca_cert.display(),
                f.server_cert.display(),
                f.server_key.display(),
                f.client_cert.display(),
                f.client_key.display()
            );
        }
        CertsCommand::Client { dir, name } => {
            let f = crate::certs::client(&dir, &name)?;
            eprintln!("wrote {}, {}", f.cert.display(), f.key.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tresor kmip serve`: runs the server until SIGTERM or SIGINT.
pub(super) fn serve(a: ServeArgs, open_store: OpenStore<'_>) -> Result<ExitCode, KmipError> {
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
    rt.block_on(async move {
        let mut server = Server::bind(config, store).await?;
        match audit_log {
            Some(log) => {
                eprintln!("kmip: audit stream to {}", log.target());
                server = server.with_audit_log(log);
            }
            None => eprintln!("kmip: no audit stream (pass --audit-log FILE|-)"),
        }
        eprintln!("listening on {}", server.local_addr());
        server.serve(shutdown_signal()).await;
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
