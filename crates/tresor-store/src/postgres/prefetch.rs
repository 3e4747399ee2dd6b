//! The current version a `get` / `get_by_name` read along with the object, kept on the thread
//! for the `version` call that usually follows at once.

use std::cell::RefCell;
use std::sync::atomic::AtomicU64;

use postgres::Row;

use super::PostgresBackend;
use super::sql::{row_meta, row_version};
use crate::Result;
use crate::model::{ObjectMeta, SealedVersion};

/// The current version that the last `get` / `get_by_name` on this thread read along with the
/// object, kept for the `version` call that usually follows at once (a KMIP Get loads the
/// object, checks it, then asks for its material): one query and one round trip instead of
/// two. It answers only the very next call of the same backend on the same thread, and only
/// for that object and version; any other call forgets it first. So it never outlives the
/// read it came with, and object and material come from one snapshot (one statement), which
/// two separate queries did not guarantee. The material in it is sealed, as in the table.
pub(super) struct Prefetched {
    pub(super) backend: u64,
    pub(super) uid: String,
    pub(super) version: u32,
    pub(super) row: Option<SealedVersion>,
}

thread_local! {
    pub(super) static PREFETCHED: RefCell<Option<Prefetched>> = const { RefCell::new(None) };
}

/// Distinguishes backends in [`PREFETCHED`] (tests open several in one process).
pub(super) static NEXT_BACKEND_ID: AtomicU64 = AtomicU64::new(1);

pub(super) fn forget_prefetched() {
    PREFETCHED.with(|p| p.borrow_mut().take());
}

impl PostgresBackend {
    /// The object of a `get` row, keeping its current version (columns 10..) for `version`.
    pub(super) fn prefetch(&self, r: &Row) -> Result<ObjectMeta> {
        let m = row_meta(r)?;
        let row = row_version(&m.uid, r, 11);
        PREFETCHED.with(|p| {
            *p.borrow_mut() = Some(Prefetched {
                backend: self.id,
                uid: m.uid.clone(),
                version: m.current_version,
                row,
            })
        });
        Ok(m)
    }
}
