//! The SQLite backend's read-ahead of a `get` (one statement, one read transaction, per
//! KMIP Get), attacked as on PostgreSQL: `cases/prefetch.rs`.

use std::sync::Arc;

use tresor_store::{Backend, SqliteBackend};

mod cases {
    pub mod prefetch;
}

#[test]
fn sqlite_prefetched_version_never_outlives_its_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tresor.db");
    let a: Arc<dyn Backend> = Arc::new(SqliteBackend::open(&path).unwrap());
    let b: Arc<dyn Backend> = Arc::new(SqliteBackend::open(&path).unwrap());
    cases::prefetch::prefetched_version_never_outlives_its_read(a, b);
}
