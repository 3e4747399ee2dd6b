//! Keys kept outside tresor's store, behind two small traits, so that the doors that use them
//! (the S3 store's data-key cache, the key manager's keyring source) depend on this crate
//! only; the composition roots (the `tresor` binary, the Python wheel) inject the Linux
//! kernel-keyring implementations from `tresor-keyring`.
//!
//! # Examples
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use std::time::Duration;
//! use tresor_crypto::outside::{KeyCache, OutsideError};
//! use zeroize::Zeroizing;
//!
//! /// A cache that forgets nothing (tests only: a real one expires entries after `ttl`).
//! #[derive(Default)]
//! struct Memory(Mutex<HashMap<String, [u8; 32]>>);
//!
//! impl KeyCache for Memory {
//!     fn load(&self, id: &str) -> Option<Zeroizing<[u8; 32]>> {
//!         self.0.lock().ok()?.get(id).map(|k| Zeroizing::new(*k))
//!     }
//!     fn store(&self, id: &str, key: &[u8; 32], _ttl: Duration) -> Result<(), OutsideError> {
//!         self.0.lock().map_err(|_| "poisoned")?.insert(id.into(), *key);
//!         Ok(())
//!     }
//! }
//!
//! let cache = Memory::default();
//! cache.store("k1", &[7; 32], Duration::from_secs(60))?;
//! assert_eq!(cache.load("k1").as_deref(), Some(&[7; 32]));
//! assert!(cache.load("k2").is_none());
//! # Ok::<(), OutsideError>(())
//! ```

use std::time::Duration;

use zeroize::Zeroizing;

/// An error from an outside key store, boxed (each implementation has its own type).
pub type OutsideError = Box<dyn std::error::Error + Send + Sync>;

/// A cache of 256-bit keys that outlives the process, each entry expiring after its `ttl`
/// (the kernel user keyring: `tresor unlock`'s vault key, the S3 store's unwrapped data keys).
///
/// A cache is an optimisation: a miss costs the caller the slow path (a passphrase, a KMS
/// call), never correctness, so `load` answers `None` for any failure.
pub trait KeyCache: Send + Sync {
    /// The key cached under `id`, or `None` (never stored, expired, unreadable).
    fn load(&self, id: &str) -> Option<Zeroizing<[u8; 32]>>;

    /// Caches `key` under `id` for `ttl`, replacing an older entry.
    ///
    /// # Errors
    /// The store's own errors (a full quota, no access).
    fn store(&self, id: &str, key: &[u8; 32], ttl: Duration) -> Result<(), OutsideError>;
}

/// Named secret values kept by someone else (the Linux kernel keyrings), read by name.
pub trait NamedKeys: Send + Sync {
    /// The value named `name` in `ring` (a keyring as `tresor keyring` names it: `user`,
    /// `session`, `@name`, ...), or `Ok(None)` when there is no such key.
    ///
    /// # Errors
    /// An unknown ring, no access, or the system call failing.
    fn read(&self, ring: &str, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, OutsideError>;
}
