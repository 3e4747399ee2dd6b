//! One rule for key material leaving the store over KMIP.
//!
//! Every operation that puts an object's material (or a version's value) into a response
//! gets it from [`material`]: Get (in clear or under a Key Wrapping Specification) and
//! tresor's vendor Versions operation. No other code path reads material for a response;
//! the cryptographic operations read keys to use them and return only their results.
//!
//! The rule, in order:
//! 1. permission: the identity owns the object, is an admin, or holds a `get` grant;
//! 2. state: a destroyed object's material is gone (Object Destroyed in 2.x, Item Not Found
//!    in 1.x); Compromised objects are still served, as KMIP's Get allows;
//! 3. Extractable = false: never leaves, wrapped or not (Not Extractable);
//! 4. Sensitive = true: leaves only wrapped (Sensitive in 2.x, Permission Denied in 1.x), and
//!    only under a wrapping key that cannot open it outside the server: the wrapping key is
//!    itself protected (Sensitive, or not Extractable), so its own material never leaves in
//!    clear, and its Cryptographic Usage Mask is set and does not allow Decrypt (AES
//!    decryption of chosen blocks, in ECB or through CBC with a chosen IV, computes the
//!    RFC 3394 unwrap). A key unwrapped at Register under such a protected key is stored
//!    Sensitive ([`keep_sensitive`]), so registering the wrapped value back
//!    does not launder it either.
//!
//! Sensitive, Extractable and the Cryptographic Usage Mask only tighten through KMIP
//! ([`check_not_loosened`]): Sensitive true → false, Extractable false → true, a usage bit
//! added to a set mask, or deleting any of them, is refused for every client, owners
//! included.

use serde_json::{Value as Json, json};
use tresor_crypto::SecretBytes;
use tresor_store::{Attributes, ObjectMeta};

use super::{OpError, Session};
use crate::enums::{CryptographicUsageMask, ResultReason};
use crate::ttlv::Ttlv;

/// How the material leaves.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Export<'a> {
    /// In clear.
    Clear,
    /// Wrapped as this Key Wrapping Specification asks.
    Wrapped(&'a Ttlv),
}

fn sensitive_reason(s: &Session<'_>) -> ResultReason {
    if s.version.is_v2() {
        ResultReason::SENSITIVE
    } else {
        ResultReason::PERMISSION_DENIED
    }
}

/// Returns true if and only if `attrs` say Sensitive = true.
fn is_sensitive(attrs: &Attributes) -> bool {
    attrs.get("Sensitive") == Some(&json!(true))
}

/// Returns true if and only if `attrs` say Extractable = false.
fn is_non_extractable(attrs: &Attributes) -> bool {
    attrs.get("Extractable") == Some(&json!(false))
}

/// Returns true if and only if an object with these attributes never leaves in clear.
pub(crate) fn is_protected(attrs: &Attributes) -> bool {
    is_sensitive(attrs) || is_non_extractable(attrs)
}

/// Loads `uid` for export and applies the rule (permission, state, Extractable, Sensitive
/// and the wrapping key); returns its metadata.
///
/// # Errors
/// [`OpError`] with the reason the material may not leave.
pub(crate) fn authorize(
    s: &mut Session<'_>,
    uid: &str,
    export: Export<'_>,
) -> Result<ObjectMeta, OpError> {
    let meta = s.load(uid, "get")?;
    if meta.state.is_destroyed() {
        return Err(OpError::new(
            if s.version.is_v2() {
                ResultReason::OBJECT_DESTROYED
            } else {
                ResultReason::ITEM_NOT_FOUND
            },
            format!("object '{uid}' is destroyed; its material is gone"),
        ));
    }
    if is_non_extractable(&meta.attributes) {
        return Err(OpError::new(
            ResultReason::NOT_EXTRACTABLE,
            format!("object '{uid}' is not extractable"),
        ));
    }
    if is_sensitive(&meta.attributes) {
        match export {
            Export::Clear => {
                return Err(OpError::new(
                    sensitive_reason(s),
                    format!(
                        "object '{uid}' is sensitive: its material is not returned in clear \
                         (get it with a key wrapping specification)"
                    ),
                ));
            }
            Export::Wrapped(spec) => {
                let kek = super::wrap::wrapping_key_uid(s, spec)?;
                check_protecting_key(s, uid, &kek)?;
            }
        }
    }
    Ok(meta)
}

/// The wrapping key of a sensitive object must keep it sealed outside the server.
fn check_protecting_key(s: &mut Session<'_>, uid: &str, kek: &str) -> Result<(), OpError> {
    let k = s.load(kek, "use")?;
    if !is_protected(&k.attributes) {
        return Err(OpError::new(
            sensitive_reason(s),
            format!(
                "object '{uid}' is sensitive: wrapping key '{kek}' is neither sensitive nor \
                 non-extractable, so the wrapped value could be opened in clear; wrap it \
                 under a sensitive or non-extractable key"
            ),
        ));
    }
    let mask = k
        .attributes
        .get("Cryptographic Usage Mask")
        .and_then(Json::as_i64)
        .map(|m| CryptographicUsageMask(m as u32));
    match mask {
        Some(m) if !m.allows(CryptographicUsageMask::DECRYPT) => Ok(()),
        _ => Err(OpError::new(
            sensitive_reason(s),
            format!(
                "object '{uid}' is sensitive: wrapping key '{kek}' may also decrypt (its \
                 usage mask allows Decrypt or is not set), which would unwrap it; use a key \
                 whose usage mask allows Wrap Key but not Decrypt"
            ),
        )),
    }
}

/// Applies the rule ([`authorize`]) and reads version `version` (0: current) of `uid`'s
/// material: the only source of material for a response.
///
/// # Errors
/// [`OpError`] from [`authorize`] or the store.
pub(crate) fn material(
    s: &mut Session<'_>,
    uid: &str,
    version: u32,
    export: Export<'_>,
) -> Result<(ObjectMeta, SecretBytes), OpError> {
    let meta = authorize(s, uid, export)?;
    let m = s.txn.material(uid, version)?;
    Ok((meta, m))
}

/// Register of a key block wrapped under `kek` (already unwrapped): if `kek` is protected,
/// the new object is stored Sensitive (and Always Sensitive), so a sensitive key exported
/// wrapped cannot come back as a non-sensitive copy. `asked_clear` says the client asked
/// for Sensitive = false, which is then refused.
///
/// # Errors
/// Permission Denied if the client asked for Sensitive = false under a protected key.
pub(crate) fn keep_sensitive(
    kek: &ObjectMeta,
    asked_clear: bool,
    attrs: &mut Attributes,
) -> Result<(), OpError> {
    if !is_protected(&kek.attributes) {
        return Ok(());
    }
    if asked_clear {
        return Err(OpError::new(
            ResultReason::PERMISSION_DENIED,
            format!(
                "a key unwrapped under protected key '{}' stays sensitive; register it \
                 without Sensitive = false",
                kek.uid
            ),
        ));
    }
    attrs.insert("Sensitive".into(), json!(true));
    attrs.insert("Always Sensitive".into(), json!(true));
    Ok(())
}

fn loosened(key: &str, old: Option<&Json>, new: Option<&Json>) -> Option<&'static str> {
    match key {
        "Sensitive" => (old == Some(&json!(true)) && new != Some(&json!(true)))
            .then_some("sensitive cannot go from true to false"),
        "Extractable" => (old == Some(&json!(false)) && new != Some(&json!(false)))
            .then_some("extractable cannot go from false to true"),
        "Cryptographic Usage Mask" => {
            let old = old.and_then(Json::as_i64)?;
            match new.and_then(Json::as_i64) {
                Some(n) if n & !old == 0 => None,
                Some(_) => Some("its cryptographic usage mask may lose usages but not gain any"),
                None => Some("its cryptographic usage mask cannot be removed"),
            }
        }
        _ => None,
    }
}

/// Refuses a change of attribute `key` of object `uid` from its value in `old` to `new`
/// (`None`: deleted) that loosens Sensitive, Extractable or the usage mask.
///
/// # Errors
/// Permission Denied naming the object and the attribute.
pub(crate) fn check_not_loosened(
    uid: &str,
    old: &Attributes,
    key: &str,
    new: Option<&Json>,
) -> Result<(), OpError> {
    match loosened(key, old.get(key), new) {
        Some(why) => Err(OpError::new(
            ResultReason::PERMISSION_DENIED,
            format!("object '{uid}': {why} (protection attributes only tighten)"),
        )),
        None => Ok(()),
    }
}

/// [`check_not_loosened`] for every protection attribute, between an object's attributes
/// and its replacement's (Re-Key).
///
/// # Errors
/// Permission Denied naming the object and the attribute.
pub(crate) fn check_replacement(
    uid: &str,
    old: &Attributes,
    new: &Attributes,
) -> Result<(), OpError> {
    for key in ["Sensitive", "Extractable", "Cryptographic Usage Mask"] {
        check_not_loosened(uid, old, key, new.get(key))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, Json)]) -> Attributes {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn protection_only_tightens() {
        let a = attrs(&[
            ("Sensitive", json!(true)),
            ("Extractable", json!(false)),
            ("Cryptographic Usage Mask", json!(12)),
        ]);
        assert!(check_not_loosened("u", &a, "Sensitive", Some(&json!(false))).is_err());
        assert!(check_not_loosened("u", &a, "Sensitive", None).is_err());
        assert!(check_not_loosened("u", &a, "Sensitive", Some(&json!(true))).is_ok());
        assert!(check_not_loosened("u", &a, "Extractable", Some(&json!(true))).is_err());
        assert!(check_not_loosened("u", &a, "Extractable", None).is_err());
        assert!(check_not_loosened("u", &a, "Cryptographic Usage Mask", Some(&json!(4))).is_ok());
        assert!(check_not_loosened("u", &a, "Cryptographic Usage Mask", Some(&json!(13))).is_err());
        assert!(check_not_loosened("u", &a, "Cryptographic Usage Mask", None).is_err());
        let open = attrs(&[("Sensitive", json!(false))]);
        assert!(check_not_loosened("u", &open, "Sensitive", Some(&json!(true))).is_ok());
        assert!(check_not_loosened("u", &open, "Extractable", Some(&json!(false))).is_ok());
        assert!(
            check_not_loosened("u", &open, "Cryptographic Usage Mask", Some(&json!(4))).is_ok()
        );
    }
}
