//! The name of a vault secret, `APP:ENV:KEY`, and the store conventions that go with it:
//! the only module that spells them.
//!
//! Every door (the vault, the KMIP server, the S3 keyring, the remote CLI, the Python wheel)
//! parses, prints and recognises a secret's name here, and names tresor's own attributes and
//! reserved objects with the constants below. [`crate::reserved`] holds the rules for what
//! outside input may not name or set, built on the same constants.
//!
//! | item | what |
//! |---|---|
//! | [`SecretName`] | `APP:ENV:KEY`: [`parse`](SecretName::parse), [`Display`](std::fmt::Display), [`attributes`](SecretName::attributes), [`from_meta`](SecretName::from_meta) |
//! | [`validate_name`], [`validate_full_name`] | the one rule set for the three parts |
//! | [`ROLE`], [`TYPE`], [`GRANTS`] | tresor's attributes on an object (`tresor.role`, ...) |
//! | [`APP`], [`ENV`], [`KEY`] | the attributes that place a secret in the vault's view |
//! | [`RESERVED_PREFIX`], [`KEY_PREFIX`], [`USER_PREFIX`], [`IDENTITY_PREFIX`], [`APP_POLICY_PREFIX`], [`ROTATOR_PREFIX`] | tresor's own object names; [`user_name`], [`identity_name`], [`key_name`] build them |
//!
//! # The rules for a name
//!
//! A name is three parts separated by `:`. No part may contain `:` or a control character,
//! or be only white space; the key must not be empty (an app or an env may be). Leading and
//! trailing white space inside a part is kept (`my app:dev:DB PASSWORD` is a name). These
//! are the rules the vault has always applied; KMIP used to refuse any white space in a part
//! and an empty app or env, so a KMIP client could give an object a name such as
//! `shop:prod:DB PASSWORD` (which the vault shows as shop's secret) without shop's app
//! policy. Both now use these rules.
//!
//! A parsed name may lie in tresor's reserved namespace (`tresor:identity:me` parses);
//! [`SecretName::is_reserved`] says so, and it is true exactly when the app is reserved
//! ([`crate::reserved::is_reserved_app`]).
//!
//! # Examples
//!
//! ```
//! use tresor_store::secret_name::{self, SecretName};
//!
//! let n: SecretName = "shop:prod:DB_PASSWORD".parse()?;
//! assert_eq!((n.app(), n.env(), n.key()), ("shop", "prod", "DB_PASSWORD"));
//! assert_eq!(n.to_string(), "shop:prod:DB_PASSWORD");
//! assert!(!n.is_reserved());
//! let a = n.attributes("str");
//! assert_eq!(a[secret_name::ROLE], "secret");
//! assert_eq!(a[secret_name::KEY], "DB_PASSWORD");
//!
//! assert!("shop:prod".parse::<SecretName>().is_err());
//! assert!("shop:prod:A:B".parse::<SecretName>().is_err());
//! assert_eq!(secret_name::user_name("bob"), "tresor:user:bob");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::model::{Attributes, ObjectMeta};

/// Attribute: what an object is to tresor's doors (`secret`, `user`, `identity`, `policy`,
/// `rotator`...).
pub const ROLE: &str = "tresor.role";
/// Attribute: a secret's seeqret-style type (`str`, `text`, `file`), or a policy's type.
pub const TYPE: &str = "tresor.type";
/// Attribute: the KMIP grants on an object (`{"IDENTITY": "get,locate"}`).
pub const GRANTS: &str = "tresor.grants";
/// Attribute: the identities that may create names under a KMIP app policy
/// (tresor-kmip's `access` module).
pub const ALLOW: &str = "tresor.allow";
/// Attribute: a split key part's parameters (tresor-kmip's Split Key objects).
pub const SPLIT_KEY: &str = "tresor.split_key";
/// Attribute: the uid of the secret a rotator companion rotates (tresor-rotate).
pub const ROTATES: &str = "tresor.rotates";
/// Attribute: a rotator companion's configuration (tresor-rotate).
pub const ROTATOR: &str = "tresor.rotator";
/// Attribute: a rotator companion's journal (tresor-rotate).
pub const ROTATION: &str = "tresor.rotation";
/// Attribute: a vault secret's app.
pub const APP: &str = "app";
/// Attribute: a vault secret's env.
pub const ENV: &str = "env";
/// Attribute: a vault secret's key.
pub const KEY: &str = "key";
/// The [`ROLE`] of a vault secret.
pub const SECRET_ROLE: &str = "secret";
/// The [`TYPE`] of a secret written without one (KMIP, the S3 keyring, `.env` imports).
pub const DEFAULT_TYPE: &str = "str";
/// The app under which the vault shows objects that have no vault name (KMIP objects).
pub const KMIP_APP: &str = "kmip";

/// Prefix of tresor's own object names (the `tresor` app).
pub const RESERVED_PREFIX: &str = "tresor:";
/// Prefix of tresor-keys' managed keys: `tresor-key:NAME`.
pub const KEY_PREFIX: &str = "tresor-key:";
/// Prefix of a known user's public keys: `tresor:user:NAME`.
pub const USER_PREFIX: &str = "tresor:user:";
/// Prefix of the vault owner's identity: `tresor:identity:NAME`.
pub const IDENTITY_PREFIX: &str = "tresor:identity:";
/// Prefix of a KMIP app policy: `tresor:app:APP` (tresor-kmip's `access` module).
pub const APP_POLICY_PREFIX: &str = "tresor:app:";
/// Prefix of a secret's rotator companion: `tresor:rotator:UID` (tresor-rotate).
pub const ROTATOR_PREFIX: &str = "tresor:rotator:";

/// The store name of a known user's public keys: `tresor:user:USER`.
pub fn user_name(user: &str) -> String {
    format!("{USER_PREFIX}{user}")
}

/// The store name of the owner's identity: `tresor:identity:USER`.
pub fn identity_name(user: &str) -> String {
    format!("{IDENTITY_PREFIX}{user}")
}

/// The store name of a tresor-keys managed key: `tresor-key:NAME`.
pub fn key_name(name: &str) -> String {
    format!("{KEY_PREFIX}{name}")
}

/// One of the three parts of a vault secret name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamePart {
    /// The application.
    App,
    /// The environment (`dev`, `prod`, ...).
    Env,
    /// The key (`DB_PASSWORD`).
    Key,
}

impl fmt::Display for NamePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NamePart::App => "APP",
            NamePart::Env => "ENV",
            NamePart::Key => "KEY",
        })
    }
}

/// An invalid app, env or key name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {part} name '{}': {kind}", value.escape_debug())]
pub struct NameError {
    /// Which part of the name is invalid.
    pub part: NamePart,
    /// The rejected value.
    pub value: String,
    /// Why it is invalid.
    pub kind: NameErrorKind,
}

/// Why a name part is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameErrorKind {
    /// The key is empty.
    #[error("must not be empty")]
    Empty,
    /// The value is only whitespace.
    #[error("must not be only whitespace")]
    WhitespaceOnly,
    /// The value contains a `:`.
    #[error("must not contain ':'")]
    Colon,
    /// The value contains a control character.
    #[error("must not contain control characters")]
    ControlChar,
}

/// Checks that `value` is a valid name for `part`.
///
/// No part may contain `:`, control characters, or be only whitespace; a
/// key must also be non-empty (an app or env may be empty).
///
/// # Errors
///
/// Returns a [`NameError`] naming the part and the rule broken.
///
/// # Examples
///
/// ```
/// use tresor_store::secret_name::{NamePart, validate_name};
///
/// assert!(validate_name(NamePart::Key, "DB_PASSWORD").is_ok());
/// assert!(validate_name(NamePart::Key, "").is_err());
/// assert!(validate_name(NamePart::App, "a:b").is_err());
/// ```
pub fn validate_name(part: NamePart, value: &str) -> Result<(), NameError> {
    let kind = if value.is_empty() {
        (part == NamePart::Key).then_some(NameErrorKind::Empty)
    } else if value.contains(':') {
        Some(NameErrorKind::Colon)
    } else if value.chars().any(char::is_control) {
        Some(NameErrorKind::ControlChar)
    } else if value.chars().all(char::is_whitespace) {
        Some(NameErrorKind::WhitespaceOnly)
    } else {
        None
    };
    match kind {
        None => Ok(()),
        Some(kind) => Err(NameError {
            part,
            value: value.to_owned(),
            kind,
        }),
    }
}

/// Checks all three parts of a name with [`validate_name`].
///
/// # Errors
///
/// Returns the [`NameError`] of the first invalid part.
pub fn validate_full_name(app: &str, env: &str, key: &str) -> Result<(), NameError> {
    validate_name(NamePart::App, app)?;
    validate_name(NamePart::Env, env)?;
    validate_name(NamePart::Key, key)
}

/// The name of a vault secret: `APP:ENV:KEY`, three parts that follow [`validate_name`].
///
/// Parsed with [`SecretName::parse`] (or [`FromStr`]), printed with [`Display`] as
/// `APP:ENV:KEY`; `parse(n.to_string()) == n` for every name.
///
/// [`Display`]: std::fmt::Display
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretName {
    app: String,
    env: String,
    key: String,
}

impl SecretName {
    /// The name with these parts.
    ///
    /// # Errors
    /// The [`NameError`] of the first invalid part.
    ///
    /// # Examples
    ///
    /// ```
    /// use tresor_store::secret_name::SecretName;
    /// assert_eq!(SecretName::new("a", "dev", "K")?.to_string(), "a:dev:K");
    /// assert!(SecretName::new("a", "dev", "").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        app: impl Into<String>,
        env: impl Into<String>,
        key: impl Into<String>,
    ) -> Result<Self, NameError> {
        let (app, env, key) = (app.into(), env.into(), key.into());
        validate_full_name(&app, &env, &key)?;
        Ok(Self { app, env, key })
    }

    /// Parses `APP:ENV:KEY`. A name with fewer than two `:` has an empty key; one with more
    /// has a key containing `:`: both are refused as such.
    ///
    /// # Errors
    /// The [`NameError`] of the first invalid part.
    ///
    /// # Examples
    ///
    /// ```
    /// use tresor_store::secret_name::{NameErrorKind, NamePart, SecretName};
    /// let n = SecretName::parse("my app:dev:DB PASSWORD")?;
    /// assert_eq!(n.app(), "my app");
    /// let e = SecretName::parse("a:b:c:d").unwrap_err();
    /// assert_eq!((e.part, e.kind), (NamePart::Key, NameErrorKind::Colon));
    /// assert_eq!(SecretName::parse("a:b").unwrap_err().kind, NameErrorKind::Empty);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let (app, env, key) = Self::split(s);
        Self::new(app, env, key)
    }

    /// The three parts of the text `APP:ENV:KEY`, unchecked: the inverse of
    /// [`SecretName::join`], for a caller that must see an invalid name's parts (the key
    /// keeps any further colon; a missing part is empty).
    ///
    /// # Examples
    ///
    /// ```
    /// use tresor_store::secret_name::SecretName;
    /// assert_eq!(SecretName::split("a:dev:K:x"), ("a", "dev", "K:x"));
    /// assert_eq!(SecretName::split("a"), ("a", "", ""));
    /// ```
    pub fn split(s: &str) -> (&str, &str, &str) {
        let mut it = s.splitn(3, ':');
        let app = it.next().unwrap_or_default();
        let env = it.next().unwrap_or_default();
        let key = it.next().unwrap_or_default();
        (app, env, key)
    }

    /// The text `APP:ENV:KEY` of three parts, unchecked: what [`Display`](std::fmt::Display)
    /// prints for a [`SecretName`], for a caller holding parts it has already checked (or
    /// looking them up: a name with invalid parts names no secret).
    ///
    /// # Examples
    ///
    /// ```
    /// use tresor_store::secret_name::SecretName;
    /// assert_eq!(SecretName::join("a", "dev", "K"), "a:dev:K");
    /// ```
    pub fn join(app: &str, env: &str, key: &str) -> String {
        format!("{app}:{env}:{key}")
    }

    /// The app.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The env.
    pub fn env(&self) -> &str {
        &self.env
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The three parts, `(app, env, key)`.
    pub fn into_parts(self) -> (String, String, String) {
        (self.app, self.env, self.key)
    }

    /// Returns true if and only if the name lies in tresor's reserved namespace
    /// ([`crate::reserved::is_reserved_name`]), which is when its app is reserved.
    ///
    /// # Examples
    ///
    /// ```
    /// use tresor_store::secret_name::SecretName;
    /// assert!(SecretName::parse("Tresor:identity:me")?.is_reserved());
    /// assert!(!SecretName::parse("app:tresor:KEY")?.is_reserved());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_reserved(&self) -> bool {
        crate::reserved::is_reserved_app(&self.app)
    }

    /// The attributes of a vault secret of this name: [`APP`], [`ENV`], [`KEY`], the
    /// [`ROLE`] `secret` and the [`TYPE`] `kind` (`str`, `text`, `file`).
    pub fn attributes(&self, kind: &str) -> Attributes {
        Self::attributes_of(&self.app, &self.env, &self.key, kind)
    }

    /// [`SecretName::attributes`] of parts already checked, without building the name.
    pub fn attributes_of(app: &str, env: &str, key: &str, kind: &str) -> Attributes {
        let mut a = Attributes::new();
        a.insert(APP.into(), app.into());
        a.insert(ENV.into(), env.into());
        a.insert(KEY.into(), key.into());
        a.insert(ROLE.into(), SECRET_ROLE.into());
        a.insert(TYPE.into(), kind.into());
        a
    }

    /// Returns true if and only if `m` is the vault secret `app:env:key`: role `secret` and
    /// those three attributes.
    pub fn is_secret(m: &ObjectMeta, app: &str, env: &str, key: &str) -> bool {
        m.attr_str(ROLE) == Some(SECRET_ROLE)
            && m.attr_str(APP) == Some(app)
            && m.attr_str(ENV) == Some(env)
            && m.attr_str(KEY) == Some(key)
    }

    /// How an object appears to the vault, or `None` for tresor's internal objects:
    ///
    /// - an object with role `secret`: its `app`/`env`/`key` attributes (`None` if one is
    ///   missing); with another role: `None`;
    /// - without a role, an object whose name (else uid) is reserved: `None`;
    /// - else its name when that is a valid `APP:ENV:KEY`;
    /// - else app `kmip`, env its object type in lower case and key its name (or uid) with
    ///   `:` turned into `_` (objects made over KMIP without a vault name). Such a key is
    ///   shown as is, and need not follow [`validate_name`].
    pub fn from_meta(m: &ObjectMeta) -> Option<SecretName> {
        Self::view(
            m.attr_str(ROLE),
            |a| m.attr_str(a),
            m.name(),
            &m.uid,
            || m.object_type.as_str().to_ascii_lowercase(),
        )
    }

    /// [`SecretName::from_meta`] of an object described by its parts (a door that sees
    /// objects through a client, not as [`ObjectMeta`]): its role, a lookup of its string
    /// attributes, its first name, its uid and its object type (`SecretData`...).
    pub fn view<'a>(
        role: Option<&str>,
        attr: impl Fn(&str) -> Option<&'a str>,
        name: Option<&str>,
        uid: &str,
        object_type: impl FnOnce() -> String,
    ) -> Option<SecretName> {
        match role {
            Some(SECRET_ROLE) => {
                return Some(SecretName {
                    app: attr(APP)?.to_owned(),
                    env: attr(ENV)?.to_owned(),
                    key: attr(KEY)?.to_owned(),
                });
            }
            Some(_) => return None,
            None => {}
        }
        let name = name.unwrap_or(uid);
        if is_internal(name) {
            return None;
        }
        if let Ok(n) = SecretName::parse(name) {
            return Some(n);
        }
        Some(SecretName {
            app: KMIP_APP.into(),
            env: object_type(),
            key: name.replace(':', "_"),
        })
    }

    /// `from_meta(m).is_some()`, without building the name (the vault's `get` hot path).
    pub fn is_vault_object(m: &ObjectMeta) -> bool {
        match m.attr_str(ROLE) {
            Some(SECRET_ROLE) => [APP, ENV, KEY].iter().all(|a| m.attr_str(a).is_some()),
            Some(_) => false,
            None => !is_internal(m.name().unwrap_or(&m.uid)),
        }
    }
}

/// The vault's test for tresor's own objects by name: starts with `tresor:` or
/// `tresor-key:`, compared exactly (an object without a role and named `TRESOR:x:y` is shown;
/// [`crate::reserved::is_reserved_name`] is the stricter test writers use).
fn is_internal(name: &str) -> bool {
    name.starts_with(RESERVED_PREFIX) || name.starts_with(KEY_PREFIX)
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.app, self.env, self.key)
    }
}

impl FromStr for SecretName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, NameError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reserved::{is_reserved_app, is_reserved_name};
    use proptest::prelude::*;

    #[test]
    fn examples() {
        for ok in [
            "a:e:K",
            ":dev:K",
            "::K",
            "a b:e:k]",
            " a :e: K ",
            "*:e:K",
            "é:ü:🔑",
        ] {
            let n = SecretName::parse(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
            assert_eq!(n.to_string(), ok);
        }
        for (bad, part, kind) in [
            ("", NamePart::Key, NameErrorKind::Empty),
            ("a", NamePart::Key, NameErrorKind::Empty),
            ("a:e", NamePart::Key, NameErrorKind::Empty),
            ("a:e:", NamePart::Key, NameErrorKind::Empty),
            ("a:e:k:x", NamePart::Key, NameErrorKind::Colon),
            (" :e:k", NamePart::App, NameErrorKind::WhitespaceOnly),
            ("a:\t:k", NamePart::Env, NameErrorKind::ControlChar),
            ("a:e:k\n", NamePart::Key, NameErrorKind::ControlChar),
        ] {
            let e = SecretName::parse(bad).unwrap_err();
            assert_eq!((e.part, e.kind), (part, kind), "{bad:?}");
        }
    }

    #[test]
    fn prefixes_are_reserved_names() {
        for p in [
            RESERVED_PREFIX,
            KEY_PREFIX,
            USER_PREFIX,
            IDENTITY_PREFIX,
            APP_POLICY_PREFIX,
            ROTATOR_PREFIX,
        ] {
            assert!(is_reserved_name(p), "{p}");
        }
        assert!(is_reserved_name(&user_name("bob")) && is_reserved_name(&identity_name("me")));
        assert!(is_reserved_name(&key_name("orders")));
    }

    fn part() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9_ .*-]{0,8}",
            "\\PC{0,6}",
            Just("tresor".to_owned()),
            Just("TRESOR-Key".to_owned()),
            Just(" tresor".to_owned()),
        ]
    }

    proptest! {
        /// Whatever `parse` accepts prints back to the same text, and parses to the same name.
        #[test]
        fn parse_display_round_trip(s in "\\PC{0,16}|[a-z: ]{0,12}") {
            if let Ok(n) = SecretName::parse(&s) {
                prop_assert_eq!(n.to_string(), s.clone());
                prop_assert_eq!(SecretName::parse(&n.to_string()), Ok(n));
            }
        }

        /// A name built from valid parts round-trips through its text.
        #[test]
        fn parts_round_trip(a in part(), e in part(), k in part()) {
            if let Ok(n) = SecretName::new(a.clone(), e.clone(), k.clone()) {
                let back = SecretName::parse(&n.to_string()).expect("a printed name parses");
                prop_assert_eq!(back.into_parts(), (a, e, k));
            }
        }

        /// A parsed name is reserved exactly when its app is.
        #[test]
        fn reserved_only_by_app(a in part(), e in part(), k in part()) {
            if let Ok(n) = SecretName::new(a.clone(), e, k) {
                prop_assert_eq!(is_reserved_name(&n.to_string()), is_reserved_app(&a));
                prop_assert_eq!(n.is_reserved(), is_reserved_app(&a));
            }
        }
    }
}
