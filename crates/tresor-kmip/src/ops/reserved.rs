//! Reserved namespaces, refused from KMIP clients (the definitions are shared with the vault
//! in [`tresor_store::reserved`]).
//!
//! A client may not create or rename an object into `tresor:*` / `tresor-key:*` (any letter
//! case), nor set, change or delete `tresor.*` attributes (role, type, grants: grants are
//! given with `tresor kmip grant`), a user's identity attributes or tresor-keys' key
//! attributes. The vault attributes `app`, `env`, `key` are set by the server from a valid
//! vault name (`app:env:KEY`); a client may send them only with exactly those values.
//! Locate by any of them is allowed.

use tresor_store::reserved::{is_reserved_attribute, is_reserved_name, is_vault_attribute};

use super::OpError;
use super::attrs;
use crate::attributes::{Attribute, AttributeName, AttributeSet};
use crate::enums::ResultReason;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

fn refused(msg: String) -> OpError {
    OpError::new(ResultReason::PERMISSION_DENIED, msg)
}

/// Refuses a reserved object name.
///
/// # Errors
/// Permission Denied naming the name.
pub(crate) fn check_name(name: &str) -> Result<(), OpError> {
    if is_reserved_name(name) {
        return Err(refused(format!(
            "the name '{}' is reserved for tresor (tresor:* and tresor-key:* names are \
             created by tresor itself, not by kmip clients)",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// The value of a Name attribute.
fn name_value(a: &Attribute) -> Option<&str> {
    match &a.value {
        Value::Structure(items) => items
            .iter()
            .find(|i| i.tag == Tag::NAME_VALUE)
            .and_then(Ttlv::as_text),
        Value::TextString(s) => Some(s),
        _ => None,
    }
}

/// Refuses a reserved attribute key (not the Name: see [`check_attribute`]).
///
/// # Errors
/// Permission Denied naming the attribute.
pub(crate) fn check_key(name: &AttributeName) -> Result<(), OpError> {
    if matches!(name, AttributeName::Standard(_)) {
        return Ok(());
    }
    let key = attrs::key_of(name);
    if is_reserved_attribute(&key) {
        return Err(refused(format!(
            "attribute '{}' is reserved for tresor and cannot be set by kmip clients",
            key.escape_debug()
        )));
    }
    Ok(())
}

/// Refuses an attribute a client sends: a reserved key, a Name in a reserved namespace, or
/// `app`/`env`/`key` unless `vault` (the parts of the object's vault name) has that value.
///
/// # Errors
/// Permission Denied naming the attribute or name.
pub(crate) fn check_attribute(a: &Attribute, vault: Option<[&str; 3]>) -> Result<(), OpError> {
    if a.name == AttributeName::Standard(Tag::NAME) {
        return match name_value(a) {
            Some(n) => check_name(n),
            None => Ok(()),
        };
    }
    check_key(&a.name)?;
    let key = attrs::key_of(&a.name);
    if let AttributeName::Custom { .. } = a.name
        && is_vault_attribute(&key)
    {
        let expected = vault.map(|[app, env, k]| match key.to_lowercase().as_str() {
            tresor_store::secret_name::APP => app,
            tresor_store::secret_name::ENV => env,
            _ => k,
        });
        let sent = match &a.value {
            Value::TextString(s) => Some(s.as_str()),
            _ => None,
        };
        if expected.is_none() || expected != sent || key != key.to_lowercase() {
            return Err(refused(format!(
                "attribute '{}' is set by the server from a vault name (app:env:KEY); \
                 kmip clients cannot set it",
                key.escape_debug()
            )));
        }
    }
    Ok(())
}

/// Checks every attribute of a Create/Create Key Pair/Register/Re-Key request; `vault` is
/// the parts of the vault name the new object gets, if any.
///
/// # Errors
/// Permission Denied naming the first reserved attribute or name.
pub(crate) fn check_request(set: &AttributeSet, vault: Option<[&str; 3]>) -> Result<(), OpError> {
    set.attributes
        .iter()
        .try_for_each(|a| check_attribute(a, vault))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::NameType;

    fn custom(name: &str, v: &str) -> Attribute {
        Attribute {
            name: AttributeName::Custom {
                vendor: None,
                name: name.to_owned(),
            },
            index: None,
            value: Value::TextString(v.to_owned()),
        }
    }

    #[test]
    fn reserved_names_and_attributes_are_refused() {
        use tresor_store::secret_name::{GRANTS, ROLE, TYPE, key_name, user_name};
        for n in [
            user_name("x").as_str(),
            "TRESOR:USER:x",
            key_name("k").as_str(),
            "Tresor:Identity:me",
        ] {
            let a = Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING);
            let e = check_attribute(&a, None).unwrap_err();
            assert_eq!(e.reason, ResultReason::PERMISSION_DENIED);
            assert!(e.message.contains(n), "{}", e.message);
        }
        for k in [ROLE, TYPE, GRANTS, "TRESOR.ROLE", "ed25519"] {
            let e = check_attribute(&custom(k, "x"), None).unwrap_err();
            assert!(e.message.contains(k), "{}", e.message);
        }
        let vendor = Attribute {
            name: AttributeName::Custom {
                vendor: Some("tresor".into()),
                name: "role".into(),
            },
            index: None,
            value: Value::TextString("secret".into()),
        };
        assert!(check_attribute(&vendor, None).is_err());
        let ok = Attribute::name("shop:prod:DB", NameType::UNINTERPRETED_TEXT_STRING);
        assert!(check_attribute(&ok, None).is_ok());
        assert!(check_attribute(&custom("x-ID", "t"), None).is_ok());
    }

    #[test]
    fn vault_attributes_only_match_the_vault_name() {
        let v = Some(["shop", "prod", "DB"]);
        assert!(check_attribute(&custom("app", "shop"), v).is_ok());
        assert!(check_attribute(&custom("key", "DB"), v).is_ok());
        assert!(check_attribute(&custom("app", "bank"), v).is_err());
        assert!(check_attribute(&custom("APP", "shop"), v).is_err());
        assert!(check_attribute(&custom("env", "prod"), None).is_err());
    }
}
