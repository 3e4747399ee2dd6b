//! Shared helpers for tresor-keys' integration tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tresor_keys::{KeyManager, KeySource, KeyValue};
use tresor_store::Store;

/// A temp SQLite store.
pub fn store() -> (tempfile::TempDir, Arc<Store>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let kek = Arc::new(tresor_crypto::LocalKek::generate().expect("kek"));
    let s = Store::open_sqlite(&dir.path().join("t.db"), kek, "tester").expect("store");
    (dir, Arc::new(s))
}

/// A manager on a fresh temp store.
pub fn manager() -> (tempfile::TempDir, Arc<KeyManager>) {
    let (d, s) = store();
    (d, Arc::new(KeyManager::open(s).expect("manager")))
}

/// A source whose value can be changed and whose calls are counted.
#[derive(Clone)]
pub struct Counted {
    /// The value the source returns.
    pub value: Arc<Mutex<KeyValue>>,
    /// How often the source was called.
    pub calls: Arc<AtomicUsize>,
}

impl Counted {
    /// A source returning `v`.
    pub fn new(v: KeyValue) -> Self {
        Counted {
            value: Arc::new(Mutex::new(v)),
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }
    /// The key source.
    pub fn source(&self) -> KeySource {
        let c = self.clone();
        KeySource::from_fn(move || {
            c.calls.fetch_add(1, Ordering::SeqCst);
            Ok(c.value.lock().expect("lock").clone())
        })
    }
    /// Changes the value.
    pub fn set(&self, v: KeyValue) {
        *self.value.lock().expect("lock") = v;
    }
    /// Calls so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}
