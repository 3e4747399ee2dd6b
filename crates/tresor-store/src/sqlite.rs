//! The SQLite backend: one file, WAL, `synchronous=FULL`, one `BEGIN IMMEDIATE` transaction
//! per batch, cached prepared statements on a small connection pool.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use crate::group::GroupCommit;
use crate::{Result, StoreError};

mod backend_impl;
pub mod memory;
mod migrate;
mod rows;
mod write;

pub use migrate::SCHEMA_VERSION;
pub(crate) use write::half_maced;

use migrate::read_version;

/// A SQLite database holding a store.
pub struct SqliteBackend {
    path: PathBuf,
    pool: Mutex<Vec<Connection>>,
    group: GroupCommit,
    /// Tells this backend's prefetched rows from others' ([`crate::prefetch`]).
    id: u64,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteBackend({})", self.path.display())
    }
}

impl SqliteBackend {
    /// Opens (creating if missing, with mode 0600) the database at `path` and brings its
    /// schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if it is not a tresor database, [`StoreError::TooNew`] if a
    /// newer tresor wrote it.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            crate::fsutil::create_private_file(path)?;
        }
        let b = SqliteBackend {
            path: path.to_owned(),
            pool: Mutex::new(Vec::new()),
            group: GroupCommit::default(),
            id: crate::prefetch::backend_id(),
        };
        let conn = b.connect()?;
        b.migrate(&conn)?;
        b.release(conn);
        Ok(b)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version stored in the database.
    ///
    /// # Errors
    /// On a database error.
    pub fn schema_version(&self) -> Result<u32> {
        self.with(read_version)
    }

    fn corrupt(&self, e: rusqlite::Error) -> StoreError {
        map_err(&self.path, e)
    }

    fn connect(&self) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // The default VFS with each commit's WAL frames written in one system call (see
        // tresor_sqlite_vfs); a process that cannot register it uses the default VFS itself.
        let c = match tresor_sqlite_vfs::register() {
            Ok(()) => {
                Connection::open_with_flags_and_vfs(&self.path, flags, tresor_sqlite_vfs::VFS_NAME)
            }
            Err(_) => Connection::open_with_flags(&self.path, flags),
        }
        .map_err(|e| self.corrupt(e))?;
        // wal_autocheckpoint: WAL frames (pages) after which the committing connection
        // checkpoints (SQLite's default: 1000). A KMIP Create writes ~30 frames, most of them
        // the same hot pages (the tail of each attribute's index range, the objects and audit
        // tables). At 1000 frames the checkpoint, which copies the distinct pages into the
        // database and fsyncs it before the committing request returns, came every ~30
        // Creates and was ~30 % of their mean time; at 8000 (a WAL of up to ~33 MB, reused
        // after each checkpoint) each hot page is copied once per ~270 Creates.
        // mmap_size=0 and cache_size: the memory bound, see `memory` (a map of the file made
        // RSS follow the database's size, 256 MiB per pooled connection).
        c.execute_batch(
            "PRAGMA busy_timeout=10000; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
             PRAGMA foreign_keys=ON; PRAGMA secure_delete=FAST; PRAGMA cache_size=-16000; \
             PRAGMA mmap_size=0; PRAGMA wal_autocheckpoint=8000;",
        )
        .map_err(|e| self.corrupt(e))?;
        // Query planner stability: without it SQLite marks a statement for re-preparation
        // whenever a re-bound parameter *might* change the plan, so every cached statement was
        // parsed again on each call (measured: 24 % of `Vault::get` in sqlite3Reprepare).
        // tresor's queries have one good plan each (indexed equality or range conditions).
        c.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(|e| self.corrupt(e))?;
        c.set_prepared_statement_cache_capacity(64);
        Ok(c)
    }

    /// A pooled connection (or a new one). Every database access goes through here, so
    /// this is where what a `get` kept for the next `version` is forgotten.
    fn take(&self) -> Result<Connection> {
        crate::prefetch::forget();
        let popped = self.pool.lock().map(|mut p| p.pop()).unwrap_or(None);
        match popped {
            Some(c) => Ok(c),
            None => self.connect(),
        }
    }

    fn release(&self, c: Connection) {
        if let Ok(mut p) = self.pool.lock()
            && p.len() < memory::POOL_MAX
        {
            p.push(c);
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let c = self.take()?;
        let r = f(&c);
        self.release(c);
        r.map_err(|e| self.corrupt(e))
    }
}

fn map_err(path: &Path, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    if let rusqlite::Error::SqliteFailure(f, msg) = &e
        && matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    {
        return StoreError::Corrupt {
            path: path.display().to_string(),
            why: msg.clone().unwrap_or_else(|| f.to_string()),
        };
    }
    StoreError::Sqlite(e)
}

#[cfg(test)]
mod checkpoint_tests {
    use super::*;

    /// Every pooled connection checkpoints at 8000 WAL frames, not SQLite's 1000 (the stall a
    /// checkpoint puts on the committing request comes 8× less often), and the database is
    /// still WAL with synchronous=FULL (2).
    #[test]
    fn connections_checkpoint_every_8000_frames_durably() {
        let dir = tempfile::tempdir().unwrap();
        let b = SqliteBackend::open(&dir.path().join("c.db")).unwrap();
        let (ckpt, mode, sync): (i64, String, i64) = b
            .with(|c| {
                Ok((
                    c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?,
                    c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
                    c.query_row("PRAGMA synchronous", [], |r| r.get(0))?,
                ))
            })
            .unwrap();
        assert_eq!((ckpt, mode.as_str(), sync), (8000, "wal", 2));
    }
}
