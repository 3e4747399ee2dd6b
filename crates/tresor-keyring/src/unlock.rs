//! [`UnlockCache`]: the vault's unlock key, cached in the kernel for a while.

use std::time::Duration;

use linux_keyutils::{
    Key, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, KeySerialId, Permission,
};
use zeroize::Zeroizing;

use crate::keyring::{Create, Keyring, SetOptions};
use crate::{KeyringError, Ring};

/// Caches a vault's 32-byte unlock key in the user keyring with a timeout,
/// so that `tresor` commands within the timeout need no passphrase.
///
/// # Why a `user` key and not a `logon` key
///
/// A `logon` key can never be read back from userspace (`KEYCTL_READ` fails
/// with `EOPNOTSUPP`), so [`UnlockCache::load`] would be impossible. The key is
/// therefore a `user` key named `tresor:unlock:<vault_id>` with
/// **possessor-only** permissions (`0x3f000000`: no user, group or other
/// bits), so `keyctl print`/`pipe` by serial number fails for processes that
/// do not possess it, and linked into the user keyring with a timeout.
///
/// Possession follows the kernel's rules: a process possesses the key when it
/// reaches the user keyring through its own keyrings — true for processes
/// without a session keyring of their own (the default) and for login
/// sessions set up by `pam_keyinit`, which link the user keyring. A process
/// in a private session that does not link `@u` (`keyctl session -`,
/// systemd `KeyringMode=private`) cannot read the key: [`UnlockCache::load`]
/// returns `None` there and the vault asks for the passphrase again.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tresor_keyring::UnlockCache;
///
/// let key = [7u8; 32];
/// UnlockCache::store("doc-vault", &key, Duration::from_secs(60))?;
/// assert_eq!(UnlockCache::load("doc-vault").as_deref(), Some(&key));
/// UnlockCache::clear("doc-vault")?;
/// assert!(UnlockCache::load("doc-vault").is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct UnlockCache;

impl UnlockCache {
    /// The key name used for `vault_id`.
    pub fn key_name(vault_id: &str) -> String {
        format!("tresor:unlock:{vault_id}")
    }

    /// Stores (or replaces) the unlock key of `vault_id`, expiring after
    /// `ttl` (rounded up to whole seconds; at least one second).
    ///
    /// The key is made in this thread's private keyring (`@t`), given its
    /// possessor-only permissions and its timeout there, and only then linked
    /// into the user keyring, where the link atomically displaces an older
    /// key of the same name. A process killed between any two of these system
    /// calls therefore never leaves a reachable key without its timeout or
    /// with wider permissions: the thread keyring, and the half-made key with
    /// it, dies with the thread.
    ///
    /// # Errors
    ///
    /// [`KeyringError::InvalidName`] for an unusable `vault_id`, quota and
    /// permission errors from the kernel. On any error after the write, the
    /// key is invalidated rather than left behind.
    pub fn store(vault_id: &str, key: &[u8; 32], ttl: Duration) -> Result<(), KeyringError> {
        let name = Self::key_name(vault_id);
        let private = Keyring::open_or_create(Ring::Thread)?;
        let perms = KeyPermissionsBuilder::builder()
            .posessor(Permission::ALL)
            .build();
        let id = private.set_with(
            &name,
            key,
            &SetOptions {
                create: Create::Always,
                timeout: Some(ttl.max(Duration::from_secs(1))),
                permissions: Some(perms),
                ..SetOptions::default()
            },
        )?;
        let made = Key::from_id(KeySerialId::new(id));
        let linked = KeyRing::from_special_id(KeyRingIdentifier::User, false)
            .and_then(|user| user.link_key(made));
        if let Err(e) = linked {
            let _ = made.invalidate();
            return Err(KeyringError::from_errno(
                crate::keyring::errno_of(e),
                "link",
                "user",
                &name,
            ));
        }
        // The thread keyring's link is no longer needed; it would go at thread exit anyway.
        let _ = crate::ffi::unlink(id, private.target_id());
        Ok(())
    }

    /// Loads the unlock key of `vault_id`, or `None` when there is none (not
    /// stored, expired, cleared, not readable by this process, or not 32
    /// bytes).
    pub fn load(vault_id: &str) -> Option<Zeroizing<[u8; 32]>> {
        Self::try_load(vault_id).ok().flatten()
    }

    /// Like [`UnlockCache::load`], but tells errors apart from a miss.
    ///
    /// # Errors
    ///
    /// Kernel errors other than "not found" and "expired" (for example
    /// permission denied in a private session).
    pub fn try_load(vault_id: &str) -> Result<Option<Zeroizing<[u8; 32]>>, KeyringError> {
        let ring = Keyring::open(Ring::User)?;
        let bytes = match ring.get(&Self::key_name(vault_id)) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(KeyringError::Expired { .. } | KeyringError::Revoked { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut out = Zeroizing::new([0u8; 32]);
        if bytes.len() != out.len() {
            return Ok(None);
        }
        out.copy_from_slice(&bytes);
        Ok(Some(out))
    }

    /// Removes the unlock key of `vault_id`; succeeds if there was none.
    ///
    /// # Errors
    ///
    /// Kernel errors other than "not found".
    pub fn clear(vault_id: &str) -> Result<(), KeyringError> {
        let ring = Keyring::open(Ring::User)?;
        match ring.invalidate(&Self::key_name(vault_id)) {
            Err(e) if e.is_not_found() => Ok(()),
            Err(KeyringError::Expired { .. } | KeyringError::Revoked { .. }) => Ok(()),
            r => r,
        }
    }
}
