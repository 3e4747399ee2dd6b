/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No object with that uid or name.
    #[error("object '{0}' not found")]
    NotFound(String),
    /// A name is already used by another object.
    #[error("name '{0}' is already taken")]
    NameTaken(String),
    /// Another writer changed the object since it was read; retry.
    #[error("object '{0}' was changed by another writer; retry")]
    Conflict(String),
    /// The store's key was rotated (`tresor rekey-vault`) since this process opened it: what
    /// it would seal could not be opened with the new key, so nothing was written.
    #[error(
        "the vault key was rotated while this process had the store open; nothing was written: open the vault again (it now uses the new key file)"
    )]
    KeyRotated,
    /// The backend cannot do this operation.
    #[error("{0}")]
    Unsupported(String),
    /// The database is newer than this binary.
    #[error(
        "the store has schema version {found}, newer than this tresor supports ({supported}); upgrade tresor"
    )]
    TooNew {
        /// Version found in the database.
        found: u32,
        /// Newest version this binary knows.
        supported: u32,
    },
    /// The database file is damaged or not a tresor store.
    #[error("the store at '{path}' is damaged or not a tresor store: {why}")]
    Corrupt {
        /// The database path.
        path: String,
        /// What the database engine said.
        why: String,
    },
    /// A requested version does not exist or its material was destroyed.
    #[error("object '{uid}' has no material for version {version}")]
    NoMaterial {
        /// The object.
        uid: String,
        /// The version asked for.
        version: u32,
    },
    /// A state change the lifecycle does not allow.
    #[error("object '{uid}': {why}")]
    Invalid {
        /// The object.
        uid: String,
        /// What rule was broken.
        why: String,
    },
    /// Cryptography failed (wrong vault key, tampered row).
    #[error(transparent)]
    Crypto(#[from] tresor_crypto::CryptoError),
    /// The database engine failed.
    #[error("database error: {0}{hint}", hint = disk_hint(.0))]
    Sqlite(#[from] rusqlite::Error),
    /// A file operation failed.
    #[error("{what} '{path}': {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path involved.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A stored record could not be decoded.
    #[error("stored record is malformed: {0}")]
    Decode(String),
    /// An object's metadata (owner, grants, names, versions, state, ...) or its name and
    /// index rows were changed outside tresor: its MAC does not match.
    #[error(
        "object '{uid}' was tampered with: {detail} (the database was edited outside tresor; restore a backup or investigate)"
    )]
    Tampered {
        /// The object (its uid as stored).
        uid: String,
        /// What does not match.
        detail: String,
    },
    /// The backend is unreachable (a server store); the request may be retried later.
    #[error("store backend unavailable: {0}")]
    Unavailable(String),
}

/// Result alias for the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A hint for the SQLite errors that mean the disk holding the store is full: `SQLITE_FULL`
/// names it, but a process that cannot even size SQLite's shared-memory file (no byte free)
/// only gets "disk I/O error" (`SQLITE_IOERR_SHMSIZE`).
fn disk_hint(e: &rusqlite::Error) -> &'static str {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::DiskFull
                || f.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE =>
        {
            " (is the disk holding the store full? free space and retry)"
        }
        _ => "",
    }
}
