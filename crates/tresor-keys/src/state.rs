//! The state of a key as the [`KeyManager`](crate::KeyManager) holds it: its store object's
//! name and attributes, its versions and their material (an immutable snapshot, replaced
//! whole on every change), its definition and its runtime flow.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::algo::{Engine, KeyType};
use crate::definition::{ErrorStrategy, Flow, Purpose};
use crate::journal::JournalEntry;
use crate::source::KeySource;
use crate::value::KeyValue;

/// Prefix of the store object name of a key: `tresor-key:NAME`.
pub const OBJECT_PREFIX: &str = tresor_store::secret_name::KEY_PREFIX;
pub(crate) const A_TYPE: &str = "x-key-type";
pub(crate) const A_PURPOSE: &str = "x-key-purpose";
pub(crate) const A_PRIMARY: &str = "x-primary-version";
pub(crate) const A_MIN: &str = "x-min-decryption-version";
pub(crate) const A_AUTO: &str = "x-auto-rotate-secs";
pub(crate) const A_FLOW: &str = "x-last-flow";
pub(crate) const A_LAST_FWD: &str = "x-last-forward-version";

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
    pub(crate) fn empty(key_type: KeyType) -> Self {
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
