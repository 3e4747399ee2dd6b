//! The value cache behind [`crate::Vault::with_cache`]: values read by `get`, kept in memory
//! only while nothing has been written to the store since, by this process or another.
//!
//! Every commit moves the store's audit head (a small file beside the database, see
//! `tresor_store::head`), so the cache reads the head before each lookup and drops every
//! value when it moved. A store without a head file on this machine (PostgreSQL, S3) keeps
//! nothing: there, a change by another process could not be seen.

use std::collections::HashMap;
use std::sync::Mutex;

use tresor_crypto::SecretBytes;
use tresor_store::HeadWatch;

/// Values by the filter they were read with, valid for one head.
#[derive(Debug)]
pub(crate) struct ValueCache {
    watch: Option<HeadWatch>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The head the values were read under.
    head: Option<Vec<u8>>,
    values: HashMap<String, SecretBytes>,
}

/// What a lookup found: the value if it is current, else the head to read a value under.
pub(crate) enum Lookup {
    Hit(SecretBytes),
    /// Not cached (or no longer current): read it, then [`ValueCache::insert`] it under
    /// this head, which was read before the value is.
    Miss(Option<Vec<u8>>),
}

impl ValueCache {
    /// A cache watching the head file of the store (`None`: nothing is ever kept).
    pub(crate) fn new(watch: Option<HeadWatch>) -> Self {
        ValueCache {
            watch,
            state: Mutex::new(State::default()),
        }
    }

    /// The value of `filter` if it was read since the last commit.
    pub(crate) fn lookup(&self, filter: &str) -> Lookup {
        let Some(now) = self.watch.as_ref().and_then(HeadWatch::current) else {
            return Lookup::Miss(None);
        };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.head.as_deref() != Some(now.as_slice()) {
            state.values.clear();
            state.head = Some(now.clone());
        }
        match state.values.get(filter) {
            Some(v) => Lookup::Hit(v.clone()),
            None => Lookup::Miss(Some(now)),
        }
    }

    /// Keeps `value`, read after `head` was: only if no newer head has been seen since.
    pub(crate) fn insert(&self, head: Option<Vec<u8>>, filter: &str, value: &SecretBytes) {
        let Some(head) = head else { return };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.head.as_deref() == Some(head.as_slice()) {
            state.values.insert(filter.to_owned(), value.clone());
        }
    }

    /// Drops every value (this process wrote).
    pub(crate) fn clear(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.values.clear();
        state.head = None;
    }
}
