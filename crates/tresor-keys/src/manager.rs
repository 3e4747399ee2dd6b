//! The [`KeyManager`]: defined keys, their versions, the forward and back paths.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use aws_lc_rs::hmac;
use tresor_store::Store;

use crate::algo::KeyType;
use crate::ciphertext::validate_name;
use crate::definition::{KeyDefinition, Purpose};
use crate::error::{KeysError, Result};
use crate::state::{Def, Entry, OBJECT_PREFIX, Runtime, Snapshot, rd, wr};

mod callbacks;
mod paths;
mod versions;

pub use callbacks::{KeyChange, OnChangeFn};

/// Manages named keys: their sources, versions, rotation and on-change callbacks, on a
/// tresor [`Store`].
///
/// It is `Send + Sync`; share it in an `Arc`. No lock is held while a key source or an
/// on-change callback runs, so callbacks may call back into the manager.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use tresor_keys::{KeyDefinition, KeyManager, KeySource, KeyValue};
///
/// let dir = tempfile::tempdir()?;
/// let kek = Arc::new(tresor_crypto::LocalKek::generate()?);
/// let store = Arc::new(tresor_store::Store::open_sqlite(&dir.path().join("t.db"), kek, "me")?);
/// let km = KeyManager::open(store)?;
/// km.define_key(KeyDefinition::new("k", KeySource::from_fn(|| Ok(KeyValue::symmetric("value_1")))))?;
/// assert_eq!(km.encrypt_key("k")?.expose(), b"value_1");
/// km.key_changed("k", None, KeyValue::symmetric("value_2"))?;
/// // The back path still gives the key the data was last encrypted with.
/// assert_eq!(km.decrypt_key("k")?.expose(), b"value_1");
///
/// // Transit-style keys: ciphertexts name their key and version.
/// km.create("orders", tresor_keys::KeyType::Aes256Gcm)?;
/// let ct = km.encrypt("orders", b"hello", b"")?;
/// assert!(ct.starts_with("tresor:orders:v1:"));
/// km.rotate("orders")?;
/// assert_eq!(km.decrypt(&ct, b"")?.expose(), b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeyManager {
    pub(crate) store: Arc<Store>,
    pub(crate) entries: RwLock<HashMap<String, Arc<Entry>>>,
    pub(crate) callbacks: RwLock<HashMap<String, Vec<(String, OnChangeFn)>>>,
    fp_key: hmac::Key,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = rd(&self.entries).keys().cloned().collect();
        f.debug_struct("KeyManager")
            .field("store", &self.store)
            .field("keys", &names)
            .finish()
    }
}

impl KeyManager {
    /// A manager on `store`. Keys created in the store earlier are found by name when used.
    /// After defining keys and registering callbacks, call [`KeyManager::resume`] to finish
    /// rotations a crash interrupted.
    ///
    /// # Errors
    /// [`KeysError::Crypto`] if the system random generator fails.
    pub fn open(store: Arc<Store>) -> Result<Self> {
        let mut k = zeroize::Zeroizing::new([0u8; 32]);
        tresor_crypto::random_fill(k.as_mut())?;
        Ok(KeyManager {
            store,
            entries: RwLock::new(HashMap::new()),
            callbacks: RwLock::new(HashMap::new()),
            fp_key: hmac::Key::new(hmac::HMAC_SHA256, k.as_ref()),
        })
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Defines a key (keys-management's `define_key`). A stated key (`stateless: false`)
    /// picks up the versions and state a previous manager left in the store.
    ///
    /// # Errors
    /// [`KeysError::InvalidName`], [`KeysError::AlreadyDefined`], [`KeysError::Refused`] if
    /// the store holds a generated (not externally sourced) key of that name.
    pub fn define_key(&self, def: KeyDefinition) -> Result<()> {
        validate_name(&def.name)?;
        if rd(&self.entries)
            .get(&def.name)
            .is_some_and(|e| e.def.is_some())
        {
            return Err(KeysError::AlreadyDefined(def.name));
        }
        let d = Def {
            source: def.source,
            purpose: def.purpose,
            stateless: def.stateless,
            keep_in_cache: def.keep_in_cache,
            strategy: def.on_change,
        };
        let snap = if d.stateless {
            Snapshot::empty(KeyType::External)
        } else {
            match self
                .store
                .get_by_name(&format!("{OBJECT_PREFIX}{}", def.name))?
            {
                Some(meta) => {
                    let s = self.load_snapshot(&meta, d.keep_in_cache)?;
                    if s.key_type != KeyType::External {
                        return Err(KeysError::Refused {
                            key: def.name,
                            why: format!(
                                "the store holds a generated {} key of that name",
                                s.key_type
                            ),
                        });
                    }
                    s
                }
                None => Snapshot::empty(KeyType::External),
            }
        };
        let rt = Runtime {
            last_flow: snap.last_flow,
            last_forward: snap.last_forward,
        };
        let entry = Arc::new(Entry {
            name: def.name.clone(),
            def: Some(d),
            snap: RwLock::new(Arc::new(snap)),
            rt: Mutex::new(rt),
            write: Mutex::new(()),
        });
        let mut map = wr(&self.entries);
        if map.get(&def.name).is_some_and(|e| e.def.is_some()) {
            return Err(KeysError::AlreadyDefined(def.name));
        }
        map.insert(def.name, entry);
        Ok(())
    }

    /// Returns true if and only if `name` is defined or exists in the store.
    ///
    /// # Errors
    /// On a store error.
    pub fn exists(&self, name: &str) -> Result<bool> {
        match self.entry(name) {
            Ok(_) => Ok(true),
            Err(KeysError::Undefined(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Registers an on-change callback under a name unique for this key.
    ///
    /// # Errors
    /// [`KeysError::Undefined`], [`KeysError::CallbackExists`] (never overwritten).
    pub fn on_change(
        &self,
        name: &str,
        callback_name: &str,
        callback: impl Fn(&crate::KeyChange<'_>) -> std::result::Result<(), crate::BoxError>
        + Send
        + Sync
        + 'static,
    ) -> Result<()> {
        self.entry(name)?;
        let mut map = wr(&self.callbacks);
        let list = map.entry(name.to_owned()).or_default();
        if list.iter().any(|(n, _)| n == callback_name) {
            return Err(KeysError::CallbackExists {
                key: name.to_owned(),
                callback: callback_name.to_owned(),
            });
        }
        list.push((callback_name.to_owned(), Arc::new(callback)));
        Ok(())
    }

    /// The names of a key's callbacks, in run order.
    pub fn callbacks(&self, name: &str) -> Vec<String> {
        rd(&self.callbacks)
            .get(name)
            .map(|l| l.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default()
    }

    // ---- internals ----

    pub(crate) fn purpose(&self, e: &Entry) -> Purpose {
        e.def.as_ref().map_or(Purpose::RoundTrip, |d| d.purpose)
    }

    pub(crate) fn defined(&self, name: &str) -> Result<Arc<Entry>> {
        let e = self.entry(name)?;
        if e.def.is_none() {
            return Err(KeysError::Unsupported {
                key: name.to_owned(),
                why: "a stored key has no source; use encrypt/decrypt or decrypt_key_version"
                    .into(),
            });
        }
        Ok(e)
    }

    /// The entry of `name`: defined, or loaded from the store.
    pub(crate) fn entry(&self, name: &str) -> Result<Arc<Entry>> {
        if let Some(e) = rd(&self.entries).get(name) {
            return Ok(e.clone());
        }
        validate_name(name)?;
        let meta = self
            .store
            .get_by_name(&format!("{OBJECT_PREFIX}{name}"))?
            .ok_or_else(|| KeysError::Undefined(name.to_owned()))?;
        let snap = self.load_snapshot(&meta, true)?;
        let entry = Arc::new(Entry {
            name: name.to_owned(),
            def: None,
            rt: Mutex::new(Runtime {
                last_flow: snap.last_flow,
                last_forward: snap.last_forward,
            }),
            snap: RwLock::new(Arc::new(snap)),
            write: Mutex::new(()),
        });
        Ok(wr(&self.entries)
            .entry(name.to_owned())
            .or_insert(entry)
            .clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manager_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<KeyManager>();
    }
}
