//! [`CachingProvider`]: remembers unwrapped data keys for a while, so reading the same version
//! again costs no KMS (or KMIP) call: a hot get is one GetObject.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tresor_crypto::outside::KeyCache;
use tresor_crypto::{CryptoError, DataKey, KeyProvider, Secret, WrappedKey};

/// A cached key and when it was cached.
type Entry = (Instant, Secret<[u8; 32]>);

/// Wraps another provider and caches what it unwraps, in memory, for `ttl`.
///
/// The cache key is a SHA-256 of the key id, the wrapped bytes and the associated data, so an
/// entry is only ever used for exactly the blob it came from. Entries are zeroized on drop.
pub struct CachingProvider {
    inner: Arc<dyn KeyProvider>,
    ttl: Duration,
    max: usize,
    keys: Mutex<HashMap<[u8; 32], Entry>>,
    /// Also keep unwrapped keys in an outside cache (the kernel user keyring) for this long.
    outside: Option<(Arc<dyn KeyCache>, Duration)>,
}

impl std::fmt::Debug for CachingProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CachingProvider({}, ttl {:?})",
            self.inner.key_id(),
            self.ttl
        )
    }
}

impl CachingProvider {
    /// Caches what `inner` unwraps for `ttl`, at most 4096 keys.
    pub fn new(inner: Arc<dyn KeyProvider>, ttl: Duration) -> Self {
        CachingProvider {
            inner,
            ttl,
            max: 4096,
            keys: Mutex::new(HashMap::new()),
            outside: None,
        }
    }

    /// Also caches unwrapped keys in `cache` (the CLI passes `tresor_keyring::KernelKeyCache`:
    /// the kernel user keyring, possessor-only, as `tresor unlock` keeps the vault key),
    /// expiring after `ttl`, so the next process skips the KMS `Decrypt`: a CLI `get` then
    /// costs its S3 GETs only. Each entry is named after a SHA-256 of the wrapped key and its
    /// associated data, and serves exactly that blob.
    pub fn with_key_cache(mut self, cache: Arc<dyn KeyCache>, ttl: Duration) -> Self {
        self.outside = Some((cache, ttl));
        self
    }

    fn outside_id(slot: &[u8; 32]) -> String {
        format!("s3dek:{}", tresor_crypto::hash::hex(slot))
    }

    fn outside_load(&self, slot: &[u8; 32]) -> Option<[u8; 32]> {
        let (cache, _) = self.outside.as_ref()?;
        cache.load(&Self::outside_id(slot)).map(|k| *k)
    }

    fn outside_store(&self, slot: &[u8; 32], key: &[u8; 32]) {
        if let Some((cache, ttl)) = &self.outside {
            // A full quota or a private session only costs the next process a KMS call.
            let _ = cache.store(&Self::outside_id(slot), key, *ttl);
        }
    }

    /// Number of keys cached now.
    pub fn len(&self) -> usize {
        self.keys.lock().map(|k| k.len()).unwrap_or(0)
    }

    /// Returns true if and only if nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slot(w: &WrappedKey, aad: &[u8]) -> [u8; 32] {
        tresor_crypto::hash::sha256_parts(&[
            b"tresor dek cache v1",
            &(w.key_id.len() as u64).to_be_bytes(),
            w.key_id.as_bytes(),
            &(w.bytes.len() as u64).to_be_bytes(),
            &w.bytes,
            aad,
        ])
    }
}

impl KeyProvider for CachingProvider {
    fn key_id(&self) -> &str {
        self.inner.key_id()
    }

    fn wrap(&self, dek: &DataKey, aad: &[u8]) -> Result<WrappedKey, CryptoError> {
        let w = self.inner.wrap(dek, aad)?;
        if let Ok(mut k) = self.keys.lock()
            && k.len() < self.max
        {
            k.insert(
                Self::slot(&w, aad),
                (Instant::now(), Secret::new(*dek.expose())),
            );
        }
        Ok(w)
    }

    fn unwrap(&self, w: &WrappedKey, aad: &[u8]) -> Option<Result<DataKey, CryptoError>> {
        let slot = Self::slot(w, aad);
        if let Ok(mut k) = self.keys.lock() {
            match k.get(&slot) {
                Some((at, key)) if at.elapsed() < self.ttl => {
                    return Some(Ok(DataKey::from_bytes(*key.expose())));
                }
                Some(_) => {
                    k.remove(&slot);
                }
                None => {}
            }
        }
        if let Some(key) = self.outside_load(&slot) {
            let dek = DataKey::from_bytes(key);
            if let Ok(mut k) = self.keys.lock()
                && k.len() < self.max
            {
                k.insert(slot, (Instant::now(), Secret::new(*dek.expose())));
            }
            return Some(Ok(dek));
        }
        let r = self.inner.unwrap(w, aad)?;
        if let Ok(dek) = &r {
            self.outside_store(&slot, dek.expose());
        }
        if let (Ok(dek), Ok(mut k)) = (&r, self.keys.lock()) {
            if k.len() >= self.max {
                k.retain(|_, (at, _)| at.elapsed() < self.ttl);
            }
            if k.len() < self.max {
                k.insert(slot, (Instant::now(), Secret::new(*dek.expose())));
            }
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tresor_crypto::{LocalKek, envelope};

    #[test]
    fn caches_exactly_the_blob_it_opened() {
        let kek: Arc<dyn KeyProvider> = Arc::new(LocalKek::generate().unwrap());
        let c = CachingProvider::new(kek.clone(), Duration::from_secs(60));
        let s = envelope::seal(kek.as_ref(), b"ad", b"secret").unwrap();
        assert!(c.is_empty());
        assert_eq!(envelope::open(&c, b"ad", &s).unwrap().expose(), b"secret");
        assert_eq!(c.len(), 1);
        assert_eq!(envelope::open(&c, b"ad", &s).unwrap().expose(), b"secret");
        // Other associated data is not served from the cache, and still fails.
        assert!(envelope::open(&c, b"other", &s).is_err());
        assert_eq!(c.len(), 1);
    }
}
