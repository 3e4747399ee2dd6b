//! How a key is written: its kernel key type, what happens when a key of that name exists
//! or not, and the options of [`Keyring::set_with`](super::Keyring::set_with).

use std::ffi::CStr;
use std::time::Duration;

use linux_keyutils::KeyPermissions;

#[cfg(doc)]
use super::Keyring;
#[cfg(doc)]
use crate::KeyringError;

/// The kernel key type of a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyKind {
    /// `user`: readable by whoever has read permission (or possesses it and
    /// may search it).
    #[default]
    User,
    /// `logon`: like `user` but never readable from userspace; the name needs
    /// a `service:` prefix. Only kernel services (dm-crypt, fscrypt, cifs,
    /// ...) use the payload.
    Logon,
}

impl KeyKind {
    /// The kernel's type name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::User => "user",
            KeyKind::Logon => "logon",
        }
    }

    pub(super) fn as_cstr(self) -> &'static CStr {
        match self {
            KeyKind::User => c"user",
            KeyKind::Logon => c"logon",
        }
    }
}

/// What [`Keyring::set_with`] does when a key of that name exists or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Create {
    /// Create the key, or replace the payload of the existing one.
    #[default]
    Always,
    /// Create the key only if the ring has none of that name; otherwise fail
    /// with [`KeyringError::AlreadyExists`] and leave it alone.
    IfMissing,
    /// Only update an existing key; fail with [`KeyringError::NotFound`] if
    /// there is none.
    Never,
}

/// Options for [`Keyring::set_with`].
#[derive(Debug, Clone, Default)]
pub struct SetOptions {
    /// Key type (default `user`).
    pub kind: KeyKind,
    /// Create/update policy (default [`Create::Always`]).
    pub create: Create,
    /// Expire the key after this long (whole seconds, rounded up).
    pub timeout: Option<Duration>,
    /// Permissions to set right after creating the key (default: the
    /// kernel's, possessor all and user view).
    pub permissions: Option<KeyPermissions>,
}
