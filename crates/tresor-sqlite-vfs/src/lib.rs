//! A SQLite VFS that hands each transaction's WAL frames to the kernel in one `pwrite`.
//!
//! SQLite appends a committing transaction to its write-ahead log one frame at a time, and
//! each frame as two writes: its 24-byte header, then the page. A KMIP Create touches ~15
//! pages, so its commit made ~32 `pwrite` calls before its `fdatasync`, and each call pays the
//! kernel's per-call cost again (file lookup, locks, time stamps, ext4's write begin/end on the
//! same folio twice): ~17 % of a one-connection Create's server CPU (perf, session 19).
//!
//! [`register`] adds a VFS named [`VFS_NAME`] that is the platform's default VFS with one
//! change: writes to a WAL file that continue the previous one are gathered in memory and
//! written together. They are written (in the order SQLite gave them, as one call)
//!
//! - as soon as the transaction's **commit frame** is complete: before SQLite publishes the
//!   frames to other connections in the WAL index, whatever `PRAGMA synchronous` says, so no
//!   reader can ever be sent to a frame that is not in the file yet;
//! - before any other operation on that file (read, sync, size, truncate, file control,
//!   close), and before a write that does not continue the gathered ones;
//! - when 128 KiB have gathered (the most the default Unix VFS writes in one call).
//!
//! Nothing else changes: every other file (the database, its journal, temporary files) is
//! the default VFS's own file, and locking and shared memory are the default VFS's, so other
//! processes using the plain default VFS (the `sqlite3` shell, an older tresor) share the
//! database safely. A crash loses only gathered frames of a transaction that had not reached
//! its commit frame, which SQLite ignores after a crash anyway (they were never synced).
//!
//! ```no_run
//! tresor_sqlite_vfs::register().expect("SQLite VFS");
//! let c = rusqlite::Connection::open_with_flags_and_vfs(
//!     "vault.db",
//!     rusqlite::OpenFlags::default(),
//!     tresor_sqlite_vfs::VFS_NAME,
//! )
//! .unwrap();
//! c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (x)").unwrap();
//! ```

mod shim;

/// The name [`register`] gives the VFS: pass it to `sqlite3_open_v2` (rusqlite:
/// `Connection::open_with_flags_and_vfs`).
pub const VFS_NAME: &str = "tresor-wal";

/// Registers the VFS [`VFS_NAME`] with SQLite (once per process; later calls return the
/// first call's outcome). It is not made the default VFS.
///
/// # Errors
/// [`Error`] if SQLite has no default VFS or refused the registration (its result code).
pub fn register() -> Result<(), Error> {
    shim::register()
}

/// Counts of what the WAL files of this process were sent, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Writes SQLite asked for.
    pub writes: u64,
    /// Writes made to the kernel for them.
    pub flushes: u64,
}

/// What this process's WAL files were sent so far (all databases opened with the VFS).
pub fn stats() -> Stats {
    shim::stats()
}

/// The VFS could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    /// SQLite's result code (`SQLITE_ERROR` when there is no default VFS).
    pub code: i32,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot register the SQLite VFS '{VFS_NAME}' (SQLite result code {})",
            self.code
        )
    }
}

impl std::error::Error for Error {}
