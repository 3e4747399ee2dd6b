//! tresor's reserved namespace, as the vault's writers see it.
//!
//! Objects named `tresor:…` (the owner's identity, known users) and `tresor-key:…` (the keys
//! door) belong to tresor itself; the app `tresor` is reserved with them. Every path that
//! writes secrets from outside input (`load`, `import-seeqret`, `importenv`, `add --force`)
//! checks its targets here first, so an export or a `.env` file can never add a version to an
//! identity, a user's public keys or a managed key.

use tresor_store::ObjectMeta;
use tresor_store::secret_name::SecretName;

use crate::{Result, VaultError};

/// Name prefixes owned by tresor, compared without regard to ASCII case (one list for every
/// door: [`tresor_store::reserved`]).
pub use tresor_store::reserved::NAME_PREFIXES as RESERVED_PREFIXES;

/// Returns true if and only if `name` lies in tresor's reserved namespace: it starts with
/// `tresor:` or `tresor-key:` in any letter case (the store's rule, shared with KMIP).
///
/// ```
/// use tresor_vault::reserved::is_reserved_name;
/// assert!(is_reserved_name("tresor:identity:me"));
/// assert!(is_reserved_name("TReSoR-Key:signing"));
/// assert!(!is_reserved_name("tresorapp:prod:KEY"));
/// ```
pub fn is_reserved_name(name: &str) -> bool {
    tresor_store::reserved::is_reserved_name(name)
}

/// Returns true if and only if `app` is an app name reserved for tresor (`tresor` or
/// `tresor-key`, any ASCII case): a secret `APP:ENV:KEY` under it would be a reserved name
/// (the store's rule, [`tresor_store::reserved::is_reserved_app`]).
pub fn is_reserved_app(app: &str) -> bool {
    tresor_store::reserved::is_reserved_app(app)
}

/// Checks that a secret write from outside input may target `APP:ENV:KEY`: the name is not
/// reserved, and `existing` (the object now carrying that name, if any) is a vault secret
/// (`tresor.role = secret` with matching `app`/`env`/`key` attributes).
///
/// # Errors
/// [`VaultError::Reserved`] naming the secret and why.
pub fn check_secret_target(
    app: &str,
    env: &str,
    key: &str,
    existing: Option<&ObjectMeta>,
) -> Result<()> {
    let name = crate::vault::secret_name(app, env, key);
    if is_reserved_app(app) || is_reserved_name(&name) {
        return Err(VaultError::Reserved {
            name,
            why: "names under the 'tresor' app are reserved for tresor's own objects",
        });
    }
    if let Some(m) = existing
        && !SecretName::is_secret(m, app, env, key)
    {
        return Err(VaultError::Reserved {
            name,
            why: "an object with that name exists and is not a vault secret",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_any_case() {
        use tresor_store::secret_name::{KEY_PREFIX, identity_name, user_name};
        for n in [
            identity_name("me").as_str(),
            user_name("bob").as_str(),
            "TRESOR:USER:bob",
            "Tresor-Key:k",
            KEY_PREFIX,
        ] {
            assert!(is_reserved_name(n), "{n}");
        }
        for n in [
            "tresor",
            "tresorx:a:b",
            "app:tresor:KEY",
            "",
            "tresor-keys:a",
            "é",
        ] {
            assert!(!is_reserved_name(n), "{n}");
        }
        assert!(is_reserved_app("TRESOR"));
        assert!(is_reserved_app("tresor-key"));
        assert!(!is_reserved_app("tresor2"));
    }

    #[test]
    fn reserved_app_refused_without_object() {
        let e = check_secret_target("Tresor", "identity", "me", None).unwrap_err();
        assert!(e.to_string().contains("Tresor:identity:me"), "{e}");
        assert!(check_secret_target("shop", "prod", "DB", None).is_ok());
    }
}
