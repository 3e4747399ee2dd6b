//! tresor's reserved namespaces: the object names and attribute keys only tresor itself
//! writes. Every door that accepts names or attributes from outside (KMIP clients, imports)
//! refuses them; the vault, the key manager and the identity code are the only writers.
//!
//! - names starting with `tresor:` (the `tresor` app, `tresor:user:NAME`,
//!   `tresor:identity:NAME`) or `tresor-key:` (tresor-keys), in any letter case and after
//!   leading white space;
//! - attribute keys starting with `tresor.` or `tresor:` in any letter case (`tresor.role`,
//!   `tresor.type`, `tresor.grants`), the identity attributes of `tresor:user:*` objects and
//!   the key-manager attributes of `tresor-key:*` objects;
//! - the vault attributes `app`, `env`, `key`, which the server derives from a vault name.
//!
//! The names and attributes themselves are spelled once, in [`crate::secret_name`]; this
//! module holds the rules built on them.

use crate::secret_name::{APP, ENV, KEY, KEY_PREFIX, RESERVED_PREFIX};

/// Prefixes of names only tresor creates.
pub const NAME_PREFIXES: &[&str] = &[RESERVED_PREFIX, KEY_PREFIX];

/// Prefixes of attribute keys only tresor sets.
pub const ATTRIBUTE_PREFIXES: &[&str] = &["tresor.", "tresor:"];

/// The attributes of a known user (`tresor:user:NAME`, see tresor-vault's identity module).
pub const IDENTITY_ATTRIBUTES: &[&str] = &["username", "email", "age", "ed25519", "seeqret"];

/// The attributes tresor-keys keeps on its `tresor-key:NAME` objects.
pub const KEY_ATTRIBUTES: &[&str] = &[
    "x-key-type",
    "x-key-purpose",
    "x-primary-version",
    "x-min-decryption-version",
    "x-auto-rotate-secs",
    "x-last-flow",
    "x-last-forward-version",
    "x-rotation-journal",
    "x-pending-callbacks",
];

/// The attributes that place a secret in the vault's `app:env:KEY` view.
pub const VAULT_ATTRIBUTES: &[&str] = &[APP, ENV, KEY];

/// Lower-cased and without leading white space: the form reserved names are compared in.
fn folded(s: &str) -> String {
    s.trim_start().to_lowercase()
}

/// Returns true if and only if `name` is in a reserved namespace (`tresor:`, `tresor-key:`),
/// in any letter case.
///
/// # Examples
///
/// ```
/// use tresor_store::reserved::is_reserved_name;
/// assert!(is_reserved_name("tresor:user:bob"));
/// assert!(is_reserved_name("TRESOR:USER:bob"));
/// assert!(is_reserved_name("Tresor-Key:orders"));
/// assert!(!is_reserved_name("shop:prod:DB_PASSWORD"));
/// ```
pub fn is_reserved_name(name: &str) -> bool {
    let f = folded(name);
    NAME_PREFIXES.iter().any(|p| f.starts_with(p))
}

/// Returns true if and only if `app` is an app name reserved for tresor (`tresor` or
/// `tresor-key`, any letter case, after leading white space): a secret `APP:ENV:KEY` under
/// it is a reserved name.
///
/// # Examples
///
/// ```
/// use tresor_store::reserved::is_reserved_app;
/// assert!(is_reserved_app("TRESOR") && is_reserved_app("tresor-key"));
/// assert!(!is_reserved_app("tresor2"));
/// ```
pub fn is_reserved_app(app: &str) -> bool {
    is_reserved_name(&format!("{app}:"))
}

/// Returns true if and only if attribute `key` is one only tresor sets: `tresor.*`/`tresor:*`
/// in any case, an identity attribute or a key-manager attribute. (The vault attributes
/// `app`/`env`/`key` are checked against the object's name instead; see
/// [`VAULT_ATTRIBUTES`].)
///
/// # Examples
///
/// ```
/// use tresor_store::reserved::is_reserved_attribute;
/// assert!(is_reserved_attribute("tresor.role"));
/// assert!(is_reserved_attribute("TRESOR.Grants"));
/// assert!(is_reserved_attribute("ed25519"));
/// assert!(is_reserved_attribute("x-min-decryption-version"));
/// assert!(!is_reserved_attribute("x-ID"));
/// ```
pub fn is_reserved_attribute(key: &str) -> bool {
    let f = folded(key);
    ATTRIBUTE_PREFIXES.iter().any(|p| f.starts_with(p))
        || IDENTITY_ATTRIBUTES.contains(&f.as_str())
        || KEY_ATTRIBUTES.contains(&f.as_str())
}

/// Returns true if and only if `key` is one of the vault attributes `app`, `env`, `key`
/// (any case).
pub fn is_vault_attribute(key: &str) -> bool {
    VAULT_ATTRIBUTES.contains(&folded(key).as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_any_case_are_reserved() {
        for n in [
            "tresor:user:x",
            "TRESOR:USER:x",
            "tresor:identity:me",
            "tresor-key:k",
            "TrEsOr-KeY:k",
            "  tresor:prod:X",
            "tresor:",
        ] {
            assert!(is_reserved_name(n), "{n}");
        }
        for n in ["shop:prod:DB", "tresorx:a:b", "my-tresor:a:b", "tresor", ""] {
            assert!(!is_reserved_name(n), "{n}");
        }
    }

    #[test]
    fn attributes_in_any_case_are_reserved() {
        for a in [
            "tresor.role",
            "Tresor.Type",
            "tresor.grants",
            "tresor:anything",
            "username",
            "AGE",
            "x-key-type",
        ] {
            assert!(is_reserved_attribute(a), "{a}");
        }
        for a in ["x-ID", "x-owner", "Name", "Cryptographic Usage Mask", "app"] {
            assert!(!is_reserved_attribute(a), "{a}");
        }
        assert!(is_vault_attribute("APP") && is_vault_attribute("key"));
    }
}
