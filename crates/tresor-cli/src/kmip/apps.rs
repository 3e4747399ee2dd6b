//! `tresor kmip apps list|allow|deny`: who may create names under an app (`APP:*:*`) on a
//! KMIP server, kept in the server's store as app policies (see [`tresor_kmip::ops::access`]).
//!
//! Like `tresor kmip grant`, a local command on the store (the server's owner, who holds the
//! vault key), not a KMIP request: KMIP clients cannot write `tresor:` names.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use super::args::{AppsCommand, OpenStore};
use super::usage;
use tresor_kmip::KmipError;
use tresor_kmip::apps::{policies, set};
use tresor_kmip::ops::access::{ANY, RESERVED_APP};
use tresor_store::StoreError;

/// An app as `tresor kmip apps` takes it: `*` or a vault app part.
fn check_app(app: &str) -> Result<(), KmipError> {
    if app == ANY
        || (app != RESERVED_APP
            && !app.is_empty()
            && !app.contains(':')
            && !app.contains(char::is_whitespace)
            && !app.contains('*'))
    {
        return Ok(());
    }
    Err(usage(format!(
        "app '{app}' must be '*' or an app name (non-empty, without ':', '*' or spaces; \
         '{RESERVED_APP}' is tresor's own)"
    )))
}

/// An identity as `tresor kmip apps` takes it: `*` or a certificate identity.
fn check_identity(identity: &str) -> Result<(), KmipError> {
    if identity == ANY
        || (!identity.is_empty()
            && !identity.contains(',')
            && !identity.contains(char::is_control)
            && !identity.contains('*'))
    {
        return Ok(());
    }
    Err(usage(format!(
        "identity '{identity}' must be '*' or a certificate identity (non-empty, without ',' or '*')"
    )))
}

/// `tresor kmip apps ...`.
pub(super) fn apps(
    open_store: OpenStore<'_>,
    dir: Option<&Path>,
    cmd: AppsCommand,
) -> Result<ExitCode, KmipError> {
    let (app, identity, allow) = match &cmd {
        AppsCommand::List { .. } => (None, None, false),
        AppsCommand::Allow { app, identity } => (Some(app), Some(identity), true),
        AppsCommand::Deny { app, identity } => (Some(app), Some(identity), false),
    };
    if let (Some(a), Some(i)) = (app, identity) {
        check_app(a)?;
        check_identity(i)?;
    }
    let store = open_store(dir).map_err(|e| KmipError::Store(e.to_string()))?;
    let store_err = |e: StoreError| KmipError::Store(e.to_string());
    match cmd {
        AppsCommand::List { json } => {
            let p = policies(&store).map_err(store_err)?;
            if json {
                let v: Vec<_> = p
                    .iter()
                    .map(|(a, ids)| json!({"app": a, "allow": ids}))
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else if p.is_empty() {
                eprintln!(
                    "no app policies: only admins (--admin) may create APP:ENV:KEY names; \
                     'tresor kmip apps allow APP IDENTITY' opens an app"
                );
            } else {
                for (a, ids) in &p {
                    println!(
                        "{a}\t{}",
                        if ids.is_empty() {
                            "(admins only)".to_owned()
                        } else {
                            ids.join(",")
                        }
                    );
                }
            }
        }
        AppsCommand::Allow { app, identity } | AppsCommand::Deny { app, identity } => {
            let changed = set(&store, &app, &identity, allow).map_err(store_err)?;
            let verb = if allow { "allowed" } else { "denied" };
            eprintln!(
                "{}{identity} {verb} creating names under app '{app}'",
                if changed { "" } else { "unchanged: " }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
