//! The [`KeyManager`]: defined keys, their versions, the forward and back paths.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use aws_lc_rs::hmac;
use serde_json::json;
use tresor_store::{NewObject, ObjectMeta, Store, StoreError};

use crate::algo::{Engine, KeyType};
use crate::ciphertext::validate_name;
use crate::definition::{ErrorStrategy, Flow, KeyDefinition, OnChangeFn, Purpose};
use crate::error::{KeysError, Result};
use crate::journal::JournalEntry;
use crate::source::KeySource;
use crate::value::{Key, KeyValue};

/// Prefix of the store object name of a key: `tresor-key:NAME`.
pub const OBJECT_PREFIX: &str = "tresor-key:";
pub(crate) const A_TYPE: &str = "x-key-type";
pub(crate) const A_PURPOSE: &str = "x-key-purpose";
pub(crate) const A_PRIMARY: &str = "x-primary-version";
pub(crate) const A_MIN: &str = "x-min-decryption-version";
pub(crate) const A_AUTO: &str = "x-auto-rotate-secs";
pub(crate) const A_FLOW: &str = "x-last-flow";
pub(crate) const A_LAST_FWD: &str = "x-last-forward-version";
pub(crate) const A_JOURNAL: &str = "x-rotation-journal";
pub(crate) const A_PENDING: &str = "x-pending-callbacks";

pub(crate) fn rd<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}
pub(crate) fn wr<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}
pub(crate) fn lk<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
    l.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One version's material, prepared.
pub(crate) struct Material {
    pub(crate) value: KeyValue,
    pub(crate) engine: Engine,
}

/// What is known about one version.
#[derive(Clone)]
pub(crate) struct Version {
    pub(crate) created: i64,
    pub(crate) destroyed: bool,
    /// Keyed fingerprint of the value, to recognise a source value without keeping it.
    pub(crate) fp: Option<[u8; 32]>,
    /// The material, when cached.
    pub(crate) mat: Option<Arc<Material>>,
}

/// An immutable view of a key's versions; replaced whole on every change.
#[derive(Clone)]
pub(crate) struct Snapshot {
    pub(crate) key_type: KeyType,
    pub(crate) uid: Option<String>,
    pub(crate) primary: u32,
    pub(crate) min_dec: u32,
    pub(crate) auto_rotate: u64,
    pub(crate) created: i64,
    pub(crate) versions: BTreeMap<u32, Version>,
    pub(crate) journal: Vec<JournalEntry>,
    pub(crate) last_flow: Option<Flow>,
    pub(crate) last_forward: Option<u32>,
}

impl Snapshot {
    fn empty(key_type: KeyType) -> Self {
        Snapshot {
            key_type,
            uid: None,
            primary: 0,
            min_dec: 1,
            auto_rotate: 0,
            created: tresor_store::now(),
            versions: BTreeMap::new(),
            journal: Vec::new(),
            last_flow: None,
            last_forward: None,
        }
    }

    /// Unix time at which the primary is due for rotation (0: never).
    pub(crate) fn rotate_at(&self) -> i64 {
        if self.auto_rotate == 0 {
            return 0;
        }
        let born = self
            .versions
            .get(&self.primary)
            .map_or(self.created, |v| v.created);
        born.saturating_add(self.auto_rotate as i64)
    }
}

/// The definition part of an entry (absent for keys that live only in the store).
pub(crate) struct Def {
    pub(crate) source: KeySource,
    pub(crate) purpose: Purpose,
    pub(crate) stateless: bool,
    pub(crate) keep_in_cache: bool,
    pub(crate) strategy: ErrorStrategy,
}

#[derive(Default)]
pub(crate) struct Runtime {
    pub(crate) last_flow: Option<Flow>,
    pub(crate) last_forward: Option<u32>,
}

/// One named key known to the manager.
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) def: Option<Def>,
    pub(crate) snap: RwLock<Arc<Snapshot>>,
    pub(crate) rt: Mutex<Runtime>,
    /// Serialises changes of this key's versions and journal; never held while a source or a
    /// callback runs.
    pub(crate) write: Mutex<()>,
}

impl Entry {
    pub(crate) fn snap(&self) -> Arc<Snapshot> {
        rd(&self.snap).clone()
    }
    pub(crate) fn set_snap(&self, s: Snapshot) {
        *wr(&self.snap) = Arc::new(s);
    }
    /// Versions are kept in the store.
    pub(crate) fn persisted(&self) -> bool {
        self.def.as_ref().is_none_or(|d| !d.stateless)
    }
    /// Material is kept in memory.
    pub(crate) fn caches(&self) -> bool {
        self.def.as_ref().is_none_or(|d| d.keep_in_cache)
    }
    /// The key has versions at all (a stateless key without cache keeps nothing).
    pub(crate) fn versioned(&self) -> bool {
        self.persisted() || self.caches()
    }
    pub(crate) fn strategy(&self) -> ErrorStrategy {
        self.def
            .as_ref()
            .map_or(ErrorStrategy::SkipAndRaise, |d| d.strategy)
    }
    pub(crate) fn object_name(&self) -> String {
        format!("{OBJECT_PREFIX}{}", self.name)
    }
}

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

    /// The forward-path (encrypt) key. The source is read every time (a changed value
    /// that nobody declared is recorded as a new version and the callbacks run, so the old
    /// one is never lost).
    ///
    /// # Errors
    /// [`KeysError::Undefined`], [`KeysError::Source`], callback errors of an undeclared change.
    pub fn encrypt_key(&self, name: &str) -> Result<Key> {
        let e = self.defined(name)?;
        let flow = if self.purpose(&e) == Purpose::OneWay {
            Flow::Default
        } else {
            Flow::Forward
        };
        let (v, value, _) = self.forward(&e, flow)?;
        Ok(Key {
            name: e.name.clone(),
            version: v,
            bytes: value.encrypt_key().clone(),
        })
    }

    /// The back-path (decrypt) key: the version the forward path last gave (from memory when
    /// cached, else from the store when stated, else from the source).
    ///
    /// # Errors
    /// [`KeysError::Undefined`], [`KeysError::Unsupported`] for a one-way key,
    /// [`KeysError::Source`], [`KeysError::VersionRetired`].
    pub fn decrypt_key(&self, name: &str) -> Result<Key> {
        let e = self.defined(name)?;
        if self.purpose(&e) == Purpose::OneWay {
            return Err(KeysError::Unsupported {
                key: name.to_owned(),
                why: "a one-way key has no back path".into(),
            });
        }
        let last = lk(&e.rt).last_forward;
        let key = match last {
            Some(v) if e.versioned() && v > 0 => {
                let m = self.version_material(&e, v)?;
                Key {
                    name: e.name.clone(),
                    version: v,
                    bytes: m.value.decrypt_key().clone(),
                }
            }
            _ => {
                let (v, value, _) = self.read_source_version(&e)?;
                Key {
                    name: e.name.clone(),
                    version: v,
                    bytes: value.decrypt_key().clone(),
                }
            }
        };
        lk(&e.rt).last_flow = Some(Flow::Back);
        Ok(key)
    }

    /// The decrypt key of one version (any version ≥ the minimum decryption version).
    ///
    /// # Errors
    /// [`KeysError::VersionRetired`], [`KeysError::UnknownVersion`].
    pub fn decrypt_key_version(&self, name: &str, version: u32) -> Result<Key> {
        let e = self.entry(name)?;
        let m = self.version_material(&e, version)?;
        Ok(Key {
            name: e.name.clone(),
            version,
            bytes: m.value.decrypt_key().clone(),
        })
    }

    /// keys-management's `get_key` without a purpose ("last flow" compatibility mode): a
    /// one-way key reads its source; a round-trip key gives the back path if the last get was
    /// the forward path, else the forward path. A stated key restores its last flow from the
    /// store (see [`KeyManager::save_state`]).
    ///
    /// # Errors
    /// As [`KeyManager::encrypt_key`] and [`KeyManager::decrypt_key`].
    pub fn get_key(&self, name: &str) -> Result<Key> {
        let e = self.defined(name)?;
        if self.purpose(&e) == Purpose::OneWay {
            return self.encrypt_key(name);
        }
        let last = lk(&e.rt).last_flow;
        if last == Some(Flow::Forward) {
            self.decrypt_key(name)
        } else {
            self.encrypt_key(name)
        }
    }

    /// The flow of the last get of a defined key.
    ///
    /// # Errors
    /// [`KeysError::Undefined`].
    pub fn last_flow(&self, name: &str) -> Result<Option<Flow>> {
        Ok(lk(&self.defined(name)?.rt).last_flow)
    }

    /// Sets the last flow (keys-management's `OnChangeKeyDefinition.set_last_flow`), e.g. from
    /// a callback that decrypted all data.
    ///
    /// # Errors
    /// [`KeysError::Undefined`].
    pub fn set_last_flow(&self, name: &str, flow: Flow) -> Result<()> {
        lk(&self.defined(name)?.rt).last_flow = Some(flow);
        Ok(())
    }

    /// Saves a stated key's state (last flow, last forward version) in the store, so a fresh
    /// manager restores it. Versions are always saved as they are made.
    ///
    /// # Errors
    /// [`KeysError::Unsupported`] for a stateless key.
    pub fn save_state(&self, name: &str) -> Result<()> {
        let e = self.defined(name)?;
        if !e.persisted() {
            return Err(KeysError::Unsupported {
                key: name.to_owned(),
                why: "a stateless key has no saved state".into(),
            });
        }
        let rt = {
            let r = lk(&e.rt);
            (r.last_flow, r.last_forward)
        };
        let _w = lk(&e.write);
        let uid = match e.snap().uid.clone() {
            Some(u) => u,
            None => self.ensure_object(&e)?,
        };
        let meta = self.store.write(|tx| {
            tx.update(&uid, "save key state", |m| {
                m.attributes.insert(
                    A_FLOW.into(),
                    serde_json::to_value(rt.0).unwrap_or_default(),
                );
                m.attributes.insert(A_LAST_FWD.into(), json!(rt.1));
                Ok(())
            })
        })?;
        let mut s = (*e.snap()).clone();
        s.uid = Some(meta.uid);
        s.last_flow = rt.0;
        s.last_forward = rt.1;
        e.set_snap(s);
        Ok(())
    }

    /// Declares that a key changed (keys-management's `key_changed`): `new` is recorded as a
    /// new primary version, keeping every older one (in the store for a stated key, with a
    /// rotation journal, in one transaction), then the callbacks run under the key's error
    /// strategy. `old`, if given, is recorded first when the key has no version yet.
    ///
    /// # Errors
    /// [`KeysError::Undefined`], store errors, and callback errors as the strategy says.
    pub fn key_changed(
        &self,
        name: &str,
        old: Option<KeyValue>,
        new: KeyValue,
    ) -> Result<crate::ChangeReport> {
        let e = self.entry(name)?;
        new.check().map_err(|s| KeysError::Source {
            key: name.to_owned(),
            source: s,
        })?;
        if e.def.is_none() && e.snap().key_type != KeyType::External {
            return Err(KeysError::Unsupported {
                key: name.to_owned(),
                why: "a generated key changes by rotation, not key_changed".into(),
            });
        }
        self.record_change(&e, old, new, true)
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

    pub(crate) fn fingerprint(&self, v: &KeyValue) -> [u8; 32] {
        let tag = hmac::sign(&self.fp_key, &v.encode());
        let mut out = [0u8; 32];
        out.copy_from_slice(&tag.as_ref()[..32]);
        out
    }

    pub(crate) fn material_of(&self, t: KeyType, raw: &[u8]) -> Result<Material> {
        let value = if t == KeyType::External {
            KeyValue::decode(raw).ok_or(KeysError::Store(StoreError::Decode(
                "stored key value is malformed".into(),
            )))?
        } else {
            KeyValue::symmetric(raw)
        };
        Ok(Material {
            engine: Engine::new(t, &value),
            value,
        })
    }

    pub(crate) fn encode_material(t: KeyType, v: &KeyValue) -> zeroize::Zeroizing<Vec<u8>> {
        if t == KeyType::External {
            v.encode()
        } else {
            zeroize::Zeroizing::new(v.encrypt_key().expose().to_vec())
        }
    }

    /// Reads a key's snapshot from its store object.
    pub(crate) fn load_snapshot(&self, meta: &ObjectMeta, cache: bool) -> Result<Snapshot> {
        let a = |k: &str| meta.attributes.get(k).and_then(|v| v.as_u64());
        let key_type = meta
            .attr_str(A_TYPE)
            .and_then(|s| s.parse().ok())
            .unwrap_or(KeyType::External);
        let min_dec = a(A_MIN).unwrap_or(1).max(1) as u32;
        let mut versions = BTreeMap::new();
        for info in self.store.versions(&meta.uid)? {
            let mut v = Version {
                created: info.created,
                destroyed: info.destroyed,
                fp: None,
                mat: None,
            };
            if !info.destroyed && info.version >= min_dec {
                let raw = self.store.material(meta, info.version)?;
                let m = self.material_of(key_type, raw.expose())?;
                v.fp = Some(self.fingerprint(&m.value));
                if cache {
                    v.mat = Some(Arc::new(m));
                }
            }
            versions.insert(info.version, v);
        }
        let journal: Vec<JournalEntry> = meta
            .attributes
            .get(A_JOURNAL)
            .and_then(|j| serde_json::from_value(j.clone()).ok())
            .unwrap_or_default();
        Ok(Snapshot {
            key_type,
            uid: Some(meta.uid.clone()),
            primary: a(A_PRIMARY).map_or(meta.current_version, |p| p as u32),
            min_dec,
            auto_rotate: a(A_AUTO).unwrap_or(0),
            created: meta.created,
            versions,
            journal,
            last_flow: meta
                .attributes
                .get(A_FLOW)
                .and_then(|f| serde_json::from_value(f.clone()).ok())
                .flatten(),
            last_forward: a(A_LAST_FWD).map(|v| v as u32),
        })
    }

    /// Reloads a persisted key's snapshot from the store.
    pub(crate) fn reload(&self, e: &Entry) -> Result<()> {
        if let Some(meta) = self.store.get_by_name(&e.object_name())? {
            let s = self.load_snapshot(&meta, e.caches())?;
            e.set_snap(s);
        }
        Ok(())
    }

    /// The material of `version`, checked against the minimum decryption version.
    pub(crate) fn version_material(&self, e: &Entry, version: u32) -> Result<Arc<Material>> {
        for attempt in 0..2 {
            let s = e.snap();
            if version < s.min_dec {
                return Err(KeysError::VersionRetired {
                    key: e.name.clone(),
                    version,
                    min: s.min_dec,
                });
            }
            match s.versions.get(&version) {
                Some(v) if v.destroyed => break,
                Some(v) => {
                    if let Some(m) = &v.mat {
                        return Ok(m.clone());
                    }
                    let uid = s.uid.as_deref().ok_or_else(|| KeysError::UnknownVersion {
                        key: e.name.clone(),
                        version,
                    })?;
                    let meta = self
                        .store
                        .get(uid)?
                        .ok_or_else(|| KeysError::Undefined(e.name.clone()))?;
                    let raw = self
                        .store
                        .material(&meta, version)
                        .map_err(|err| match err {
                            StoreError::NoMaterial { .. } => KeysError::UnknownVersion {
                                key: e.name.clone(),
                                version,
                            },
                            other => other.into(),
                        })?;
                    return Ok(Arc::new(self.material_of(s.key_type, raw.expose())?));
                }
                None if attempt == 0 && e.persisted() => self.reload(e)?,
                None => break,
            }
        }
        Err(KeysError::UnknownVersion {
            key: e.name.clone(),
            version,
        })
    }

    fn fetch(&self, e: &Entry) -> Result<KeyValue> {
        let d = e
            .def
            .as_ref()
            .ok_or_else(|| KeysError::Undefined(e.name.clone()))?;
        d.source.fetch(&self.store).map_err(|s| KeysError::Source {
            key: e.name.clone(),
            source: s,
        })
    }

    /// Reads the source and finds (or records) its version.
    fn read_source_version(
        &self,
        e: &Arc<Entry>,
    ) -> Result<(u32, KeyValue, Option<Arc<Material>>)> {
        let value = self.fetch(e)?;
        if !e.versioned() {
            return Ok((0, value, None));
        }
        let fp = self.fingerprint(&value);
        let s = e.snap();
        let found = s
            .versions
            .iter()
            .rev()
            .find(|(n, v)| **n >= s.min_dec && !v.destroyed && v.fp == Some(fp));
        if let Some((n, v)) = found {
            return Ok((*n, value, v.mat.clone()));
        }
        drop(s);
        let report = self.record_change(e, None, value.clone(), false)?;
        let mat = e
            .snap()
            .versions
            .get(&report.new_version)
            .and_then(|v| v.mat.clone());
        Ok((report.new_version, value, mat))
    }

    pub(crate) fn forward(
        &self,
        e: &Arc<Entry>,
        flow: Flow,
    ) -> Result<(u32, KeyValue, Option<Arc<Material>>)> {
        let out = self.read_source_version(e)?;
        let mut rt = lk(&e.rt);
        rt.last_flow = Some(flow);
        if flow == Flow::Forward {
            rt.last_forward = Some(out.0);
        }
        Ok(out)
    }

    /// Creates the store object of a stated key (no version yet); returns its uid.
    fn ensure_object(&self, e: &Entry) -> Result<String> {
        let name = e.object_name();
        let purpose = self.purpose(e);
        let uid = self.store.write(|tx| {
            if let Some(m) = tx.get_by_name(&name)? {
                return Ok(m.uid);
            }
            let mut n = NewObject::new(KeyType::External.object_type());
            n.names.push(name.clone());
            n.attributes
                .insert(A_TYPE.into(), json!(KeyType::External.as_str()));
            n.attributes.insert(
                A_PURPOSE.into(),
                serde_json::to_value(purpose).unwrap_or_default(),
            );
            n.attributes.insert(A_MIN.into(), json!(1));
            n.attributes.insert(A_PRIMARY.into(), json!(0));
            tx.create(n)
        })?;
        Ok(uid)
    }

    /// Records `new` as the new primary version (persisting it with a journal entry first
    /// for a stated key), then runs the callbacks. The key's write lock is held only while
    /// recording.
    pub(crate) fn record_change(
        &self,
        e: &Arc<Entry>,
        old: Option<KeyValue>,
        new: KeyValue,
        explicit: bool,
    ) -> Result<crate::ChangeReport> {
        let (from, to, jid, old_value, names) = {
            let _w = lk(&e.write);
            let s = e.snap();
            // A key's first value (read from its source) is no change: no callbacks.
            let names = if !explicit && s.primary == 0 {
                Vec::new()
            } else {
                self.callbacks(&e.name)
            };
            let fp = self.fingerprint(&new);
            let primary_is_new = s.versions.get(&s.primary).is_some_and(|v| v.fp == Some(fp));
            if primary_is_new && !explicit {
                return Ok(crate::ChangeReport {
                    key: e.name.clone(),
                    old_version: None,
                    new_version: s.primary,
                    ..Default::default()
                });
            }
            let prev = (s.primary > 0).then_some(s.primary);
            let old_value = match prev {
                Some(p) => match self.version_material(e, p) {
                    Ok(m) => Some(m.value.clone()),
                    Err(_) => old.clone(),
                },
                None => old.clone(),
            };
            if primary_is_new {
                (prev, s.primary, None, old_value, names)
            } else if !e.versioned() {
                (None, 0, None, old_value, names)
            } else if e.persisted() {
                let (from, to, jid) = self.persist_version(e, &s, old.as_ref(), &new, &names)?;
                self.reload(e)?;
                (from, to, jid, old_value, names)
            } else {
                let mut n = (*s).clone();
                let now = tresor_store::now();
                let mut from = prev;
                if from.is_none() {
                    if let Some(o) = &old {
                        let v = n.versions.keys().next_back().copied().unwrap_or(0) + 1;
                        n.versions.insert(v, self.mem_version(n.key_type, o, now));
                        from = Some(v);
                    }
                }
                let v = n.versions.keys().next_back().copied().unwrap_or(0) + 1;
                n.versions
                    .insert(v, self.mem_version(n.key_type, &new, now));
                n.primary = v;
                e.set_snap(n);
                (from, v, None, old_value, names)
            }
        };
        self.run_callbacks(
            e,
            jid.as_deref(),
            from,
            to,
            old_value.as_ref(),
            &new,
            &names,
            false,
        )
    }

    fn mem_version(&self, t: KeyType, v: &KeyValue, now: i64) -> Version {
        Version {
            created: now,
            destroyed: false,
            fp: Some(self.fingerprint(v)),
            mat: Some(Arc::new(Material {
                engine: Engine::new(t, v),
                value: v.clone(),
            })),
        }
    }

    /// One store transaction: the new version (and `old` first if the key has none), the new
    /// primary and a journal entry listing `callbacks` as pending.
    fn persist_version(
        &self,
        e: &Entry,
        s: &Snapshot,
        old: Option<&KeyValue>,
        new: &KeyValue,
        callbacks: &[String],
    ) -> Result<(Option<u32>, u32, Option<String>)> {
        let name = e.object_name();
        let t = s.key_type;
        let purpose = self.purpose(e);
        let jid = if callbacks.is_empty() {
            None
        } else {
            Some(crate::journal::new_id()?)
        };
        let new_raw = Self::encode_material(t, new);
        let old_raw = old.map(|o| Self::encode_material(t, o));
        let out = self.store.write(|tx| {
            let uid = match tx.get_by_name(&name)? {
                Some(m) => m.uid,
                None => {
                    let mut n = NewObject::new(t.object_type());
                    n.names.push(name.clone());
                    n.attributes.insert(A_TYPE.into(), json!(t.as_str()));
                    n.attributes.insert(
                        A_PURPOSE.into(),
                        serde_json::to_value(purpose).unwrap_or_default(),
                    );
                    n.attributes.insert(A_MIN.into(), json!(1));
                    n.attributes.insert(A_PRIMARY.into(), json!(0));
                    tx.create(n)?
                }
            };
            let meta = tx
                .get(&uid)?
                .ok_or_else(|| StoreError::NotFound(uid.clone()))?;
            let mut from = meta
                .attributes
                .get(A_PRIMARY)
                .and_then(|v| v.as_u64())
                .map(|v| v as u32)
                .filter(|v| *v > 0);
            if from.is_none() {
                if let Some(o) = &old_raw {
                    from = Some(tx.put_material(&uid, o)?);
                }
            }
            let to = tx.put_material(&uid, &new_raw)?;
            tx.update(&uid, &format!("key version v{to} primary"), |m| {
                m.attributes.insert(A_PRIMARY.into(), json!(to));
                if let Some(id) = &jid {
                    let mut j: Vec<JournalEntry> = m
                        .attributes
                        .get(A_JOURNAL)
                        .and_then(|j| serde_json::from_value(j.clone()).ok())
                        .unwrap_or_default();
                    j.push(JournalEntry::new(id.clone(), from, to, callbacks));
                    crate::journal::store_journal(&mut m.attributes, &j);
                }
                Ok(())
            })?;
            Ok((from, to))
        })?;
        Ok((out.0, out.1, jid))
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
