//! Who may do what to an object, who may create names under an app, and what an identity
//! without access learns about an object (nothing: the answer for an absent one).
//!
//! Rules (one place; the operations call these):
//! - the owner and the server's admins (`tresor kmip serve --admin ID`) may do everything;
//! - anyone else needs a grant naming the permission (or `all`) in `tresor.grants`: reads
//!   (`get`, `locate`, `use`) and writes (`modify` for new versions, attribute and state
//!   changes; `destroy` for Destroy and Purge) alike;
//! - an identity with no grant at all on an object gets exactly the answer for an absent uid
//!   (`not_found_unless_visible`); one with some grant but not the one asked for gets
//!   Permission Denied (it already knows the object exists);
//! - a name of the vault's form `APP:ENV:KEY` may be given to an object (Create, Register,
//!   Create Key Pair, Add/Modify Attribute Name) only by an admin or an identity the app's
//!   policy allows (`may_create_under_app`). A policy is a store object named
//!   `tresor:app:APP` (role [`POLICY_ROLE`], type [`APP_POLICY_TYPE`]) whose
//!   [`APP_ALLOW_ATTR`] lists the identities; `tresor:app:*` applies to every app and the
//!   identity `*` to everyone (never to the `tresor` app: tresor's own names stay the
//!   admins'). No policy: closed (admins only). Policies are written by the
//!   server's local owner with `tresor kmip apps` (never by KMIP clients: `tresor:` names are
//!   reserved).

use serde_json::Value as Json;
use tresor_store::ObjectMeta;
use tresor_store::secret_name::{ROLE, SecretName, TYPE};

use super::{GRANTS_ATTR, OpError, Session};
use crate::attributes::{Attribute, AttributeName};
use crate::enums::ResultReason;
use crate::tags::Tag;
use crate::ttlv::Value;

/// The store name prefix of app policies: `tresor:app:APP`.
pub const APP_POLICY_PREFIX: &str = tresor_store::secret_name::APP_POLICY_PREFIX;
/// The attribute of an app policy listing the identities that may create names under it.
pub const APP_ALLOW_ATTR: &str = tresor_store::secret_name::ALLOW;
/// The `tresor.role` of a policy object.
pub const POLICY_ROLE: &str = "policy";
/// The `tresor.type` of an app policy.
pub const APP_POLICY_TYPE: &str = "app";
/// Every app (as an app) or every identity (as an identity) in a policy.
pub const ANY: &str = "*";
/// The app of tresor's own names (`tresor:user:NAME`, `tresor:app:APP`…): admins only,
/// whatever the policies say.
pub const RESERVED_APP: &str = "tresor";

/// The store name of the policy of `app`.
pub fn app_policy_name(app: &str) -> String {
    format!("{APP_POLICY_PREFIX}{app}")
}

/// The app of a name of the vault's form `APP:ENV:KEY` ([`SecretName::parse`]), else
/// `None`.
pub fn app_of(name: &str) -> Option<&str> {
    SecretName::parse(name).ok().and(name.split(':').next())
}

/// The identities an app policy object allows.
pub fn allowed_of(meta: &ObjectMeta) -> Vec<String> {
    match meta.attributes.get(APP_ALLOW_ATTR) {
        Some(Json::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Returns true if and only if `meta` is an app policy of a store whose local owner (the
/// acting identity of `tresor kmip apps`) is `local_owner`: owned by it, named
/// `tresor:app:…`, and role and type say so. An object a KMIP client made to look like one
/// is not a policy.
pub fn is_app_policy(meta: &ObjectMeta, local_owner: &str) -> bool {
    meta.owner == local_owner
        && meta.attr_str(ROLE) == Some(POLICY_ROLE)
        && meta.attr_str(TYPE) == Some(APP_POLICY_TYPE)
        && meta.names.iter().any(|n| n.starts_with(APP_POLICY_PREFIX))
}

/// Returns true if and only if the session identity is one of the server's admins.
pub(crate) fn is_admin(s: &Session<'_>) -> bool {
    s.admins.iter().any(|a| a == &s.identity)
}

/// The session identity's grant on `meta` (`"get,locate"`), if any.
fn grant<'m>(s: &Session<'_>, meta: &'m ObjectMeta) -> Option<&'m str> {
    meta.attributes
        .get(GRANTS_ATTR)
        .and_then(|g| g.get(&s.identity))
        .and_then(Json::as_str)
}

/// Returns true if and only if the session identity may use `meta` for `perm`: owner,
/// admin, or a grant holding `perm` or `all`.
pub(crate) fn may(s: &Session<'_>, meta: &ObjectMeta, perm: &str) -> bool {
    if meta.owner == s.identity || is_admin(s) {
        return true;
    }
    grant(s, meta).is_some_and(|p| p.split(',').any(|x| x.trim() == perm || x.trim() == "all"))
}

/// Returns true if and only if the identity may read `meta` (Get, Versions, attributes).
pub(crate) fn may_read(s: &Session<'_>, meta: &ObjectMeta) -> bool {
    may(s, meta, "get")
}

/// Returns true if and only if the identity may write `meta` (new version, attribute or
/// state change) other than destroying it: the owner, an admin, or an explicit `modify`
/// (or `all`) grant.
pub(crate) fn may_modify(s: &Session<'_>, meta: &ObjectMeta) -> bool {
    may(s, meta, "modify")
}

/// Returns true if and only if the identity may know `meta` exists: owner, admin, or any
/// non-empty grant.
pub(crate) fn visible(s: &Session<'_>, meta: &ObjectMeta) -> bool {
    meta.owner == s.identity
        || is_admin(s)
        || grant(s, meta).is_some_and(|p| p.split(',').any(|x| !x.trim().is_empty()))
}

/// Allows `perm` on `meta`, or refuses it: with exactly the answer for an absent `uid`
/// when the identity may not even know the object exists, else Permission Denied.
pub(crate) fn not_found_unless_visible(
    s: &Session<'_>,
    uid: &str,
    meta: &ObjectMeta,
    perm: &str,
) -> Result<(), OpError> {
    let allowed = match perm {
        "get" => may_read(s, meta),
        "modify" => may_modify(s, meta),
        p => may(s, meta, p),
    };
    if allowed {
        return Ok(());
    }
    if !visible(s, meta) {
        return Err(OpError::not_found(uid, s.version));
    }
    Err(OpError::new(
        ResultReason::PERMISSION_DENIED,
        format!(
            "object '{uid}': identity '{}' is not allowed to {perm} it",
            s.identity
        ),
    ))
}

/// Allows giving an object the name `name`, or refuses it when the name is of the vault's
/// form `APP:ENV:KEY` and neither an admin nor the app's policy (or the `*` policy) allows
/// the identity. The answer does not depend on whether the name is taken.
pub(crate) fn may_create_under_app(s: &Session<'_>, name: &str) -> Result<(), OpError> {
    let Some(app) = app_of(name) else {
        return Ok(());
    };
    if is_admin(s) {
        return Ok(());
    }
    // tresor's own names (`tresor:user:NAME`…) are never opened by a policy, not even `*`.
    let policies = if app == RESERVED_APP {
        Vec::new()
    } else {
        vec![app_policy_name(app), app_policy_name(ANY)]
    };
    for policy in policies {
        if let Some(m) = s.txn.get_by_name(&policy)?
            && is_app_policy(&m, s.store.actor())
            && allowed_of(&m).iter().any(|i| i == &s.identity || i == ANY)
        {
            return Ok(());
        }
    }
    Err(OpError::new(
        ResultReason::PERMISSION_DENIED,
        format!(
            "identity '{}' may not create names under app '{app}' ('{name}'); the server's \
             owner allows it with: tresor kmip apps allow {app} {}",
            s.identity, s.identity
        ),
    ))
}

/// [`may_create_under_app`] for an attribute a client adds or changes, when it is a Name.
pub(crate) fn may_set_name(s: &Session<'_>, a: &Attribute) -> Result<(), OpError> {
    if a.name != AttributeName::Standard(Tag::NAME) {
        return Ok(());
    }
    let text = match &a.value {
        Value::Structure(items) => items
            .iter()
            .find(|t| t.tag == Tag::NAME_VALUE)
            .and_then(|t| t.as_text().map(str::to_owned)),
        Value::TextString(t) => Some(t.clone()),
        _ => None,
    };
    match text {
        Some(n) => may_create_under_app(s, &n),
        None => Ok(()),
    }
}
