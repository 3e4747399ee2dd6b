//! Which keyring an operation targets.

use std::fmt;
use std::str::FromStr;

use crate::KeyringError;

/// A kernel keyring: one of the seven special keyrings of the calling
/// process, or a named keyring that tresor creates and links into the user
/// keyring.
///
/// Parses from the names the CLI accepts (`session`, `user`, ...), from
/// `keyctl`'s short forms (`@s`, `@u`, `@us`, `@t`, `@p`, `@g`), and from
/// `@name` for a named keyring.
///
/// # Examples
///
/// ```
/// use tresor_keyring::Ring;
///
/// assert_eq!("user".parse::<Ring>()?, Ring::User);
/// assert_eq!("@s".parse::<Ring>()?, Ring::Session);
/// assert_eq!("@app".parse::<Ring>()?, Ring::Named("app".into()));
/// assert_eq!(Ring::Named("app".into()).to_string(), "@app");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ring {
    /// The calling thread's keyring (`@t`), created on first use.
    Thread,
    /// The calling process's keyring (`@p`), created on first use, shared by
    /// its threads.
    Process,
    /// The session keyring (`@s`). Without a session of its own, a process
    /// uses the per-user default session keyring; see
    /// [`session_status`](crate::session_status).
    Session,
    /// The per-user keyring (`@u`): shared by all processes of the user,
    /// works everywhere.
    User,
    /// The per-user default session keyring (`@us`).
    UserSession,
    /// The group keyring (`@g`). Linux does not implement it; operations on
    /// it fail with the kernel's error.
    Group,
    /// The authorization key of a `request-key` helper (only there).
    ReqKeyAuthKey,
    /// A keyring named `name` linked directly into the user keyring
    /// (`keyctl newring name @u` makes the same thing).
    Named(String),
}

impl Ring {
    /// The kernel's special id (`KEY_SPEC_*`) for a special keyring, `None`
    /// for a named one.
    pub fn special_id(&self) -> Option<i32> {
        Some(match self {
            Ring::Thread => -1,
            Ring::Process => -2,
            Ring::Session => -3,
            Ring::User => -4,
            Ring::UserSession => -5,
            Ring::Group => -6,
            Ring::ReqKeyAuthKey => -7,
            Ring::Named(_) => return None,
        })
    }

    /// The matching `linux_keyutils` identifier, `None` for a named ring.
    pub fn identifier(&self) -> Option<linux_keyutils::KeyRingIdentifier> {
        use linux_keyutils::KeyRingIdentifier as K;
        Some(match self {
            Ring::Thread => K::Thread,
            Ring::Process => K::Process,
            Ring::Session => K::Session,
            Ring::User => K::User,
            Ring::UserSession => K::UserSession,
            Ring::Group => K::Group,
            Ring::ReqKeyAuthKey => K::ReqKeyAuthKey,
            Ring::Named(_) => return None,
        })
    }
}

impl fmt::Display for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ring::Thread => f.write_str("thread"),
            Ring::Process => f.write_str("process"),
            Ring::Session => f.write_str("session"),
            Ring::User => f.write_str("user"),
            Ring::UserSession => f.write_str("user-session"),
            Ring::Group => f.write_str("group"),
            Ring::ReqKeyAuthKey => f.write_str("reqkey-auth"),
            Ring::Named(n) => write!(f, "@{n}"),
        }
    }
}

impl FromStr for Ring {
    type Err = KeyringError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "thread" | "@t" => Ring::Thread,
            "process" | "@p" => Ring::Process,
            "session" | "@s" => Ring::Session,
            "user" | "@u" => Ring::User,
            "user-session" | "@us" => Ring::UserSession,
            "group" | "@g" => Ring::Group,
            "reqkey-auth" | "@a" => Ring::ReqKeyAuthKey,
            _ => match s.strip_prefix('@') {
                Some(name) if crate::keyring::check_name(name).is_ok() => {
                    Ring::Named(name.to_owned())
                }
                _ => {
                    return Err(KeyringError::InvalidRing {
                        input: s.to_owned(),
                    });
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_display_round_trip() {
        for s in [
            "thread",
            "process",
            "session",
            "user",
            "user-session",
            "group",
            "reqkey-auth",
            "@app",
        ] {
            let r: Ring = s.parse().unwrap();
            assert_eq!(r.to_string(), s);
        }
    }

    #[test]
    fn special_ids_match_kernel_constants() {
        assert_eq!(Ring::User.special_id(), Some(-4));
        assert_eq!(Ring::Named("x".into()).special_id(), None);
        assert_eq!(Ring::UserSession.identifier().map(|k| k as i32), Some(-5));
    }

    #[test]
    fn rejects_unknown_rings() {
        for s in ["", "@", "sessions", "User", "@a\0b"] {
            let e = s.parse::<Ring>().unwrap_err();
            assert!(matches!(e, KeyringError::InvalidRing { .. }), "{s:?}");
        }
    }
}
