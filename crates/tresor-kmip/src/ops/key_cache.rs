//! The server's cache of unsealed key material for the cryptographic operations (Encrypt,
//! Decrypt, Sign, Signature Verify, MAC, MAC Verify).
//!
//! What it saves is the *unsealing* of a key's stored version (the backend's read of the
//! sealed blob, the unwrap of its data key by the store's key provider, the AEAD open) and,
//! for a private key, its parse into a signing key ([`UnsealedKey::signer`]: an EC or
//! Ed25519 key's parse derives or checks its public key, about the cost of a signature), for
//! a public key its parse for Signature Verify ([`UnsealedKey::verifier`]: an EC point is
//! decoded and checked on the curve):
//! every request still reads the object's metadata from the store and checks its state,
//! dates, usage mask and owner exactly as before. An entry is filed under the object's uid
//! and answers only a request whose freshly read metadata has the same [`Stamp`] (current
//! version, revision, creation time, object type). Every write to an object bumps its
//! revision, so a Re-Key, Revoke, Destroy, new version or attribute change made by *any*
//! writer (this server, another server on the same PostgreSQL store, the CLI) makes the next
//! request miss and unseal again; a revoked or destroyed key is refused by the metadata
//! checks before the cache is asked. This server also drops the entries of the objects its
//! own writes changed, once they commit ([`KeyCache::forget`]).
//!
//! Bounded: at most the configured number of entries (`tresor kmip serve
//! --key-cache-entries`, default [`DEFAULT_KEY_CACHE_ENTRIES`]; 0 turns the cache off), each
//! at most [`MAX_CACHED_KEY_BYTES`] of material (a larger key is unsealed on every use). A
//! reload (SIGHUP) sets the bound again ([`KeyCache::set_capacity`]): a smaller bound evicts
//! the least recently used entries at once. The
//! material is a [`SecretBytes`] in an [`UnsealedKey`] behind an [`Arc`]: zeroized when the
//! last holder drops it, i.e. when it is evicted, replaced or forgotten and no request is
//! still using it, and when the cache drops; a parsed signing key is aws-lc memory, which
//! aws-lc clears when it frees it (`OPENSSL_free` cleanses every allocation). The entries
//! are split over shards, each with its own lock, so requests on different cores rarely
//! wait for each other (no global lock on the read path).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tresor_crypto::SecretBytes;
use tresor_store::{ObjectMeta, ObjectType};

use super::OpError;
use super::crypto::{Signer, Verifier};

/// The default bound on cached keys.
pub const DEFAULT_KEY_CACHE_ENTRIES: usize = 1024;

/// The largest material the cache keeps (bytes); an RSA-4096 private key is ~2.4 KB.
pub const MAX_CACHED_KEY_BYTES: usize = 16 * 1024;

/// Shards of the cache (each its own lock), at most.
const SHARDS: usize = 16;

/// Which stored state of an object an entry was unsealed from: the metadata read on each
/// request must carry the same stamp for the entry to be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    version: u32,
    rev: u64,
    created: i64,
    object_type: ObjectType,
}

impl Stamp {
    /// The stamp of the current version of `meta`.
    pub(crate) fn of(meta: &ObjectMeta) -> Self {
        Stamp {
            version: meta.current_version,
            rev: meta.rev,
            created: meta.created,
            object_type: meta.object_type,
        }
    }
}

#[cfg(test)]
impl Stamp {
    /// A stamp of revision `rev` (tests that fill a cache without a store).
    pub(crate) fn for_test(rev: u64) -> Self {
        Stamp {
            version: 1,
            rev,
            created: 1,
            object_type: ObjectType::SymmetricKey,
        }
    }
}

/// A key's unsealed material, and the signing or verifying key parsed from it once asked for.
pub(crate) struct UnsealedKey {
    material: SecretBytes,
    signer: OnceLock<Signer>,
    verifier: OnceLock<Verifier>,
}

impl UnsealedKey {
    /// The key of `material`.
    pub(crate) fn new(material: SecretBytes) -> Self {
        UnsealedKey {
            material,
            signer: OnceLock::new(),
            verifier: OnceLock::new(),
        }
    }

    /// The material.
    pub(crate) fn expose(&self) -> &[u8] {
        self.material.expose()
    }

    /// The material parsed as a PKCS#8 private key for signing (parsed on the first call).
    ///
    /// # Errors
    /// [`Signer::parse`]'s, on every call, for material that is not a supported private key.
    pub(crate) fn signer(&self) -> Result<&Signer, OpError> {
        parsed_once(&self.signer, || Signer::parse(self.expose()))
    }

    /// The material parsed as a SubjectPublicKeyInfo public key for verifying (parsed on the
    /// first call).
    ///
    /// # Errors
    /// [`Verifier::parse`]'s, on every call, for material that is not a supported public key.
    pub(crate) fn verifier(&self) -> Result<&Verifier, OpError> {
        parsed_once(&self.verifier, || Verifier::parse(self.expose()))
    }
}

/// The value in `cell`, or `parse`'s, kept in `cell` when it succeeds (a failed parse is not
/// kept: it fails again on the next call). Two threads may both parse the first time; one
/// result is kept.
fn parsed_once<T>(
    cell: &OnceLock<T>,
    parse: impl FnOnce() -> Result<T, OpError>,
) -> Result<&T, OpError> {
    if let Some(v) = cell.get() {
        return Ok(v);
    }
    let parsed = parse()?;
    Ok(cell.get_or_init(|| parsed))
}

struct Entry {
    stamp: Stamp,
    material: Arc<UnsealedKey>,
    /// The shard's clock when last used (the least recently used is evicted).
    used: u64,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<String, Entry>,
    clock: u64,
    /// The most entries this shard holds (its share of the cache's bound).
    limit: usize,
}

impl Shard {
    /// Drops least recently used entries until at most `keep` remain.
    fn evict_to(&mut self, keep: usize) {
        while self.entries.len() > keep {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.entries.remove(&k),
                None => break,
            };
        }
    }
}

/// Shard `i`'s share of `bound` entries over `shards` shards: the shares add up to `bound`.
fn share(bound: usize, i: usize, shards: usize) -> usize {
    let shards = shards.max(1);
    bound / shards + usize::from(i < bound % shards)
}

/// A bounded cache of unsealed key material, shared by a server's connections (see the
/// module documentation for what it holds and when an entry is used).
pub struct KeyCache {
    shards: Box<[Mutex<Shard>]>,
    /// The most entries over all shards (0: the cache is off); each shard keeps its share.
    bound: AtomicUsize,
    hasher: RandomState,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache::new(DEFAULT_KEY_CACHE_ENTRIES)
    }
}

impl KeyCache {
    /// A cache of at most `entries` keys (0: a cache that keeps nothing). The number of
    /// shards is set here (at most 16, one per entry below that) and kept by
    /// [`KeyCache::set_capacity`].
    pub fn new(entries: usize) -> Self {
        let shards = SHARDS.min(entries).max(1);
        KeyCache {
            shards: (0..shards)
                .map(|i| {
                    Mutex::new(Shard {
                        limit: share(entries, i, shards),
                        ..Shard::default()
                    })
                })
                .collect(),
            bound: AtomicUsize::new(entries),
            hasher: RandomState::new(),
        }
    }

    /// The most entries it holds.
    pub fn capacity(&self) -> usize {
        self.bound.load(Ordering::Relaxed)
    }

    /// Holds at most `entries` keys from now on (0: nothing). A smaller bound evicts the
    /// least recently used entries of each shard now; their material is dropped, hence
    /// zeroized, as soon as no request still holds it.
    pub fn set_capacity(&self, entries: usize) {
        self.bound.store(entries, Ordering::Relaxed);
        let n = self.shards.len();
        for (i, m) in self.shards.iter().enumerate() {
            let mut shard = lock(m);
            shard.limit = share(entries, i, n);
            let keep = shard.limit;
            shard.evict_to(keep);
        }
    }

    /// The entries it holds now.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).entries.len()).sum()
    }

    /// True if it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, uid: &str) -> &Mutex<Shard> {
        // Below the number of shards (at least 1) by construction.
        let i = (self.hasher.hash_one(uid) % self.shards.len() as u64) as usize;
        &self.shards[i]
    }

    /// The material of `uid` unsealed from the stored state `stamp`, if cached.
    pub(crate) fn get(&self, uid: &str, stamp: Stamp) -> Option<Arc<UnsealedKey>> {
        if self.capacity() == 0 {
            return None;
        }
        let mut shard = lock(self.shard(uid));
        shard.clock += 1;
        let now = shard.clock;
        let e = shard.entries.get_mut(uid)?;
        if e.stamp != stamp {
            return None;
        }
        e.used = now;
        Some(e.material.clone())
    }

    /// Keeps `material`, unsealed from the stored state `stamp` of `uid`, replacing what the
    /// cache held for `uid` and evicting the least recently used entry of its shard if full.
    /// Material over [`MAX_CACHED_KEY_BYTES`] is not kept.
    pub(crate) fn put(&self, uid: &str, stamp: Stamp, material: Arc<UnsealedKey>) {
        if self.capacity() == 0 || material.expose().len() > MAX_CACHED_KEY_BYTES {
            return;
        }
        let mut shard = lock(self.shard(uid));
        if shard.limit == 0 {
            return;
        }
        shard.clock += 1;
        let used = shard.clock;
        if !shard.entries.contains_key(uid) {
            let keep = shard.limit - 1;
            shard.evict_to(keep);
        }
        let entry = Entry {
            stamp,
            material,
            used,
        };
        shard.entries.insert(uid.to_owned(), entry);
    }

    /// The material of `meta`'s current version: the cached copy if it was unsealed from the
    /// same stored state, else `open()`'s, which is then kept.
    ///
    /// # Errors
    /// `open`'s.
    pub(crate) fn get_or_open<E>(
        &self,
        meta: &ObjectMeta,
        open: impl FnOnce() -> Result<SecretBytes, E>,
    ) -> Result<Arc<UnsealedKey>, E> {
        let stamp = Stamp::of(meta);
        if let Some(m) = self.get(&meta.uid, stamp) {
            return Ok(m);
        }
        let m = Arc::new(UnsealedKey::new(open()?));
        self.put(&meta.uid, stamp, m.clone());
        Ok(m)
    }

    /// Drops the entry of `uid` (an object this server changed).
    pub fn forget(&self, uid: &str) {
        if self.capacity() == 0 {
            return;
        }
        lock(self.shard(uid)).entries.remove(uid);
    }
}

/// A shard's lock; a panic while holding it left its map consistent (every change is one
/// `HashMap` call), so a poisoned lock is used as is.
fn lock(m: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(uid: &str, version: u32, rev: u64) -> ObjectMeta {
        ObjectMeta {
            uid: uid.to_owned(),
            object_type: ObjectType::SymmetricKey,
            state: tresor_store::State::Active,
            owner: "o".to_owned(),
            names: Vec::new(),
            attributes: Default::default(),
            current_version: version,
            created: 1,
            updated: 1,
            rev,
            mac: None,
        }
    }

    fn key(b: u8) -> SecretBytes {
        SecretBytes::new(vec![b; 32])
    }

    fn unsealed(b: u8) -> Arc<UnsealedKey> {
        Arc::new(UnsealedKey::new(key(b)))
    }

    /// A cache of one shard of `entries` (which entry is evicted is then known).
    fn one_shard(entries: usize) -> KeyCache {
        KeyCache {
            shards: vec![Mutex::new(Shard {
                limit: entries,
                ..Shard::default()
            })]
            .into_boxed_slice(),
            bound: AtomicUsize::new(entries),
            hasher: RandomState::new(),
        }
    }

    #[test]
    fn a_hit_needs_the_same_stored_state() {
        let c = KeyCache::new(8);
        let opened = std::cell::Cell::new(0);
        let open = |b| {
            opened.set(opened.get() + 1);
            Ok::<_, ()>(key(b))
        };
        let m = meta("k", 1, 3);
        assert_eq!(c.get_or_open(&m, || open(1)).unwrap().expose()[0], 1);
        assert_eq!(c.get_or_open(&m, || open(9)).unwrap().expose()[0], 1);
        assert_eq!(opened.get(), 1, "the second use is a hit");
        // Another revision (any write), another version, another object of the same uid.
        let mut recreated = meta("k", 1, 3);
        recreated.created += 1;
        for changed in [meta("k", 1, 4), meta("k", 2, 3), recreated] {
            assert_eq!(c.get_or_open(&changed, || open(7)).unwrap().expose()[0], 7);
        }
        assert_eq!(opened.get(), 4);
        assert_eq!(
            c.len(),
            1,
            "one entry per uid: a newer state replaces the older"
        );
    }

    #[test]
    fn stays_within_its_bound() {
        for bound in [0, 1, 5, 16, 100] {
            let c = KeyCache::new(bound);
            assert!(c.capacity() <= bound);
            for i in 0..1000 {
                c.put(&format!("k{i}"), Stamp::of(&meta("x", 1, 1)), unsealed(1));
                assert!(c.len() <= bound, "bound {bound}: {} entries", c.len());
            }
            if bound >= SHARDS {
                // Every shard fills up (1000 uids spread over all of them).
                assert_eq!(c.len(), c.capacity());
            }
        }
        let c = KeyCache::new(0);
        let m = meta("k", 1, 1);
        let mut opened = 0;
        for _ in 0..3 {
            c.get_or_open(&m, || {
                opened += 1;
                Ok::<_, ()>(key(1))
            })
            .unwrap();
        }
        assert_eq!(opened, 3, "0 turns the cache off");
    }

    #[test]
    fn a_new_bound_evicts_down_to_it_and_drops_the_material() {
        let c = KeyCache::new(64);
        let s = Stamp::of(&meta("x", 1, 1));
        let mut held = Vec::new();
        for i in 0..200 {
            let m = unsealed(1);
            held.push(Arc::downgrade(&m));
            c.put(&format!("k{i}"), s, m);
        }
        let live = |held: &[std::sync::Weak<UnsealedKey>]| {
            held.iter().filter(|w| w.upgrade().is_some()).count()
        };
        assert_eq!(live(&held), c.len(), "the cache is the only holder");
        for bound in [40, 5, 1, 0] {
            c.set_capacity(bound);
            assert_eq!(c.capacity(), bound);
            assert!(c.len() <= bound, "bound {bound}: {} entries", c.len());
            // Dropped material is zeroized (`tresor_crypto::Secret`'s Drop).
            assert_eq!(
                live(&held),
                c.len(),
                "bound {bound}: evicted material dropped"
            );
        }
        c.put("k", s, unsealed(2));
        assert!(c.get("k", s).is_none(), "0 turns the cache off");
        // Growing again: the 16 shards take their shares of the new bound.
        c.set_capacity(100);
        for i in 0..1000 {
            c.put(&format!("k{i}"), s, unsealed(1));
            assert!(c.len() <= 100);
        }
        assert_eq!(c.len(), 100, "every shard fills its share");

        // The least recently used entries go first.
        let c = one_shard(3);
        for k in ["a", "b", "c"] {
            c.put(k, s, unsealed(1));
        }
        c.get("a", s);
        c.set_capacity(1);
        assert!(c.get("a", s).is_some(), "a was the most recently used");
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn too_large_material_is_not_kept() {
        let c = KeyCache::new(4);
        let big = Arc::new(UnsealedKey::new(SecretBytes::new(vec![
            1;
            MAX_CACHED_KEY_BYTES
                + 1
        ])));
        c.put("big", Stamp::of(&meta("big", 1, 1)), big);
        assert!(c.is_empty());
    }

    #[test]
    fn eviction_replacement_and_forget_drop_the_material() {
        // One shard of two entries: the third key evicts the least recently used.
        let c = one_shard(2);
        let s = Stamp::of(&meta("x", 1, 1));
        let a = unsealed(1);
        let weak_a = Arc::downgrade(&a);
        c.put("a", s, a);
        c.put("b", s, unsealed(2));
        assert!(c.get("a", s).is_some(), "a is now the most recently used");
        let weak_b = Arc::downgrade(&c.get("b", s).unwrap());
        c.get("a", s);
        c.put("c", s, unsealed(3));
        // The `Secret` of b was dropped, which zeroizes it (`tresor_crypto::Secret`'s Drop).
        assert!(
            weak_b.upgrade().is_none(),
            "b was evicted and its material dropped"
        );
        assert!(weak_a.upgrade().is_some(), "a stays");
        // A request still holding a's material keeps it until it is done.
        let held = c.get("a", s).unwrap();
        c.forget("a");
        assert!(c.get("a", s).is_none());
        assert!(weak_a.upgrade().is_some());
        drop(held);
        assert!(
            weak_a.upgrade().is_none(),
            "forgotten and no longer used: dropped"
        );
        // Replacing an entry drops the old material.
        let weak_c = Arc::downgrade(&c.get("c", s).unwrap());
        c.put("c", Stamp::of(&meta("x", 2, 2)), unsealed(4));
        assert!(weak_c.upgrade().is_none());
        drop(c);
    }

    #[test]
    fn a_private_key_is_parsed_once_and_signs() {
        use crate::enums::CryptographicAlgorithm as Alg;
        use crate::ops::crypto::{Params, key_pair, verify};
        for (alg, bits) in [(Alg::ECDSA, Some(256)), (Alg::ED25519, None)] {
            let kp = key_pair(alg, bits, None).unwrap();
            let k = UnsealedKey::new(SecretBytes::new(kp.private_pkcs8.to_vec()));
            let first: *const Signer = k.signer().unwrap();
            let again: *const Signer = k.signer().unwrap();
            assert_eq!(first, again, "{alg}: parsed once");
            let p = Params::default();
            let sig = k.signer().unwrap().sign(&p, b"msg").unwrap();
            assert!(verify(&kp.public_spki, &p, b"msg", &sig).unwrap(), "{alg}");
        }
        let not_a_key = UnsealedKey::new(key(1));
        assert!(not_a_key.signer().is_err());
        assert!(not_a_key.signer().is_err(), "a failed parse is not kept");
    }

    #[test]
    fn a_public_key_is_parsed_once_and_verifies() {
        use crate::enums::CryptographicAlgorithm as Alg;
        use crate::enums::PaddingMethod;
        use crate::ops::crypto::{Params, key_pair};
        let pss = Params::default();
        let pkcs1 = Params {
            padding: Some(PaddingMethod::PKCS1V1_5),
            ..Params::default()
        };
        for (alg, bits) in [
            (Alg::ECDSA, Some(256)),
            (Alg::ED25519, None),
            (Alg::RSA, Some(2048)),
        ] {
            let kp = key_pair(alg, bits, None).unwrap();
            let k = UnsealedKey::new(SecretBytes::new(kp.public_spki.to_vec()));
            let first: *const Verifier = k.verifier().unwrap();
            let again: *const Verifier = k.verifier().unwrap();
            assert_eq!(first, again, "{alg}: parsed once");
            // An RSA key verifies under each scheme asked for (parsed once per scheme).
            for p in [&pss, &pkcs1, &pss] {
                let sig = Signer::parse(&kp.private_pkcs8)
                    .unwrap()
                    .sign(p, b"msg")
                    .unwrap();
                let v = k.verifier().unwrap();
                assert!(v.verify(p, b"msg", &sig).unwrap(), "{alg}");
                assert!(!v.verify(p, b"other", &sig).unwrap(), "{alg}");
            }
        }
        let not_a_key = UnsealedKey::new(key(1));
        assert!(not_a_key.verifier().is_err());
        assert!(not_a_key.verifier().is_err(), "a failed parse is not kept");
    }
}
