//! The current version a backend's `get` / `get_by_name` read along with the object, kept on
//! the thread for the `version` call that usually follows at once (a KMIP Get loads the
//! object, checks it, then asks for its material): one statement instead of two, so one
//! read transaction and one round trip, and object and material from one snapshot.
//!
//! It answers only the very next call of the same backend on the same thread, and only for
//! that object and version: every other backend call [`forget`]s it first, so it never
//! outlives the read it came with. The material in it is sealed, as in the table.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::{ObjectMeta, SealedVersion};

struct Prefetched {
    backend: u64,
    uid: String,
    version: u32,
    row: Option<SealedVersion>,
}

thread_local! {
    static PREFETCHED: RefCell<Option<Prefetched>> = const { RefCell::new(None) };
}

static NEXT_BACKEND_ID: AtomicU64 = AtomicU64::new(1);

/// A number telling this backend's prefetched rows from another's (tests open several
/// backends in one process).
pub(crate) fn backend_id() -> u64 {
    NEXT_BACKEND_ID.fetch_add(1, Ordering::Relaxed)
}

/// Drops what the last read on this thread kept (called by every backend call but
/// `version`).
pub(crate) fn forget() {
    PREFETCHED.with(|p| p.borrow_mut().take());
}

/// The object of `found` (an object and its current version, read together by `backend`),
/// keeping the version for the next call.
pub(crate) fn keep_current(
    backend: u64,
    found: Option<(ObjectMeta, Option<SealedVersion>)>,
) -> Option<ObjectMeta> {
    let (m, row) = found?;
    PREFETCHED.with(|p| {
        *p.borrow_mut() = Some(Prefetched {
            backend,
            uid: m.uid.clone(),
            version: m.current_version,
            row,
        })
    });
    Some(m)
}

/// The kept row if it is version `version` of `uid` read by `backend` (`Some(None)`: that
/// version has no row or no material); forgets it either way.
pub(crate) fn take(backend: u64, uid: &str, version: u32) -> Option<Option<SealedVersion>> {
    PREFETCHED.with(|p| {
        p.borrow_mut()
            .take()
            .filter(|p| p.backend == backend && p.uid == uid && p.version == version)
            .map(|p| p.row)
    })
}
