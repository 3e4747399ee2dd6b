//! App policies: who may create names under an app (`APP:*:*`) on a KMIP server, kept in
//! the server's store as `tresor:app:APP` objects (see [`crate::ops::access`], which enforces
//! them). `tresor kmip apps list|allow|deny` is their command line: a local command on the
//! store (the server's owner, who holds the vault key), not a KMIP request, since KMIP clients
//! cannot write `tresor:` names.

use serde_json::json;
use tresor_store::{NewObject, ObjectType, Query, Store, StoreError};

use crate::ops::access::{
    APP_ALLOW_ATTR, APP_POLICY_PREFIX, APP_POLICY_TYPE, POLICY_ROLE, allowed_of, app_policy_name,
    is_app_policy,
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
