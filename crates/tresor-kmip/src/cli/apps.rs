//! `tresor kmip apps list|allow|deny`: who may create names under an app (`APP:*:*`) on a
//! KMIP server, kept in the server's store as app policies (see [`crate::ops::access`]).
//!
//! Like `tresor kmip grant`, a local command on the store (the server's owner, who holds the
//! vault key), not a KMIP request: KMIP clients cannot write `tresor:` names.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;
use tresor_store::{NewObject, ObjectType, Query, Store, StoreError};

use super::args::{AppsCommand, OpenStore};
use super::usage;
use crate::error::KmipError;
use crate::ops::access::{
    ANY, APP_ALLOW_ATTR, APP_POLICY_PREFIX, APP_POLICY_TYPE, POLICY_ROLE, RESERVED_APP, allowed_of,
    app_policy_name, is_app_policy,
};

/// Every app policy of `store`: `(app, identities allowed to create names under it)`,
/// sorted by app.
///
/// # Errors
/// On a store error.
pub fn policies(store: &Store) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let q = Query {
        name_prefix: Some(APP_POLICY_PREFIX.to_owned()),
        ..Query::default()
    };
    let mut out: Vec<(String, Vec<String>)> = store
        .locate(&q)?
        .iter()
        .filter(|m| is_app_policy(m, store.actor()))
        .filter_map(|m| {
            let app = m
                .names
                .iter()
                .find_map(|n| n.strip_prefix(APP_POLICY_PREFIX))?;
            Some((app.to_owned(), allowed_of(m)))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Adds (`allow`) or removes `identity` from the identities that may create names under
/// `app` (`*`: every app), as the store's acting identity. Returns false when nothing
/// changed.
///
/// # Errors
/// On a store error; [`StoreError::NameTaken`] if `tresor:app:APP` is some other object.
pub fn set(store: &Store, app: &str, identity: &str, allow: bool) -> Result<bool, StoreError> {
    let name = app_policy_name(app);
    let actor = store.actor().to_owned();
    let what = format!(
        "kmip apps {} {app} {identity}",
        if allow { "allow" } else { "deny" }
    );
    store.write_as(&actor, |tx| match tx.get_by_name(&name)? {
        Some(m) if is_app_policy(&m, &actor) => {
            let mut ids = allowed_of(&m);
            let had = ids.iter().any(|i| i == identity);
            if had == allow {
                return Ok(false);
            }
            if allow {
                ids.push(identity.to_owned());
                ids.sort();
            } else {
                ids.retain(|i| i != identity);
            }
            tx.update(&m.uid, &what, |o| {
                o.attributes.insert(APP_ALLOW_ATTR.into(), json!(ids));
                Ok(())
            })?;
            Ok(true)
        }
        Some(_) => Err(StoreError::NameTaken(name.clone())),
        None if !allow => Ok(false),
        None => {
            let mut new = NewObject::new(ObjectType::OpaqueObject);
            new.names.push(name.clone());
            new.attributes
                .insert(tresor_store::secret_name::ROLE.into(), json!(POLICY_ROLE));
            new.attributes.insert(
                tresor_store::secret_name::TYPE.into(),
                json!(APP_POLICY_TYPE),
            );
            new.attributes
                .insert(APP_ALLOW_ATTR.into(), json!([identity]));
            tx.create(new)?;
            Ok(true)
        }
    })
}

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
