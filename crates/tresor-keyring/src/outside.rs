//! The kernel keyrings behind tresor-crypto's [`outside`](tresor_crypto::outside) traits:
//! the composition roots (the `tresor` binary, the Python wheel) hand these to the doors that
//! take a [`KeyCache`] or [`NamedKeys`], so no door depends on this crate.

use std::time::Duration;

use tresor_crypto::outside::{KeyCache, NamedKeys, OutsideError};
use zeroize::Zeroizing;

use crate::{Keyring, Ring, UnlockCache};

/// [`KeyCache`] in the kernel user keyring: each entry is a possessor-only key with a
/// timeout, made as [`UnlockCache::store`] makes `tresor unlock`'s vault key.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelKeyCache;

impl KeyCache for KernelKeyCache {
    fn load(&self, id: &str) -> Option<Zeroizing<[u8; 32]>> {
        UnlockCache::load(id)
    }

    fn store(&self, id: &str, key: &[u8; 32], ttl: Duration) -> Result<(), OutsideError> {
        Ok(UnlockCache::store(id, key, ttl)?)
    }
}

/// [`NamedKeys`] in the kernel keyrings: `ring` is parsed as [`Ring`] (`user`, `session`,
/// `@name`, ...), and the key is searched for there as [`Keyring::get`] does.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelKeys;

impl NamedKeys for KernelKeys {
    fn read(&self, ring: &str, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, OutsideError> {
        let r: Ring = ring.parse()?;
        match Keyring::open(r)?.get(name) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
