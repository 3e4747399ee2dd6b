//! The SQLite backend: one file, WAL, `synchronous=FULL`, one `BEGIN IMMEDIATE` transaction
//! per batch, cached prepared statements on a small connection pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use crate::audit::{AuditEntry, AuditSigner, GENESIS};
use crate::backend::{Backend, Batch, Dump, Precondition, Write};
use crate::group::{GroupCommit, Slot, fail_group};
use crate::model::{ObjectMeta, SealedVersion};
use crate::query::Query;
use crate::{Result, StoreError};

pub mod memory;

/// Schema migrations; index + 1 is the version each brings the database to.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE objects (
    uid TEXT PRIMARY KEY,
    object_type TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT,
    names TEXT NOT NULL,
    attrs TEXT NOT NULL,
    current_version INTEGER NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    rev INTEGER NOT NULL
);
CREATE INDEX objects_type_state ON objects(object_type, state);
CREATE INDEX objects_owner ON objects(owner);
CREATE INDEX objects_name ON objects(name);
CREATE TABLE names (
    name TEXT PRIMARY KEY,
    uid TEXT NOT NULL REFERENCES objects(uid) ON DELETE CASCADE
);
CREATE INDEX names_uid ON names(uid);
CREATE TABLE attr_index (
    attr TEXT NOT NULL,
    value TEXT NOT NULL,
    uid TEXT NOT NULL REFERENCES objects(uid) ON DELETE CASCADE
);
CREATE INDEX attr_index_av ON attr_index(attr, value);
CREATE INDEX attr_index_uid ON attr_index(uid);
CREATE TABLE versions (
    uid TEXT NOT NULL REFERENCES objects(uid) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    created INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    sealed BLOB,
    PRIMARY KEY (uid, version)
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    uid TEXT,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    mac TEXT NOT NULL
);
"#,
    // 2: `names` and `versions` become WITHOUT ROWID tables, so a lookup by name or by
    // (uid, version) is one b-tree search instead of index search + rowid search (the `get`
    // hot path went from six searches to four).
    r#"
CREATE TABLE names_v2 (
    name TEXT PRIMARY KEY,
    uid TEXT NOT NULL REFERENCES objects(uid) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO names_v2 (name, uid) SELECT name, uid FROM names;
DROP TABLE names;
ALTER TABLE names_v2 RENAME TO names;
CREATE INDEX names_uid ON names(uid);
CREATE TABLE versions_v2 (
    uid TEXT NOT NULL REFERENCES objects(uid) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    created INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    sealed BLOB,
    PRIMARY KEY (uid, version)
) WITHOUT ROWID;
INSERT INTO versions_v2 (uid, version, created, created_by, sealed)
    SELECT uid, version, created, created_by, sealed FROM versions;
DROP TABLE versions;
ALTER TABLE versions_v2 RENAME TO versions;
"#,
    // 3: the metadata MAC (see `mac.rs`). Existing rows get theirs when the store is next
    // opened with its key (`Store::bring_forward`, one transaction).
    "ALTER TABLE objects ADD COLUMN mac BLOB;",
];

/// The newest schema version this binary knows.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The object columns every object query selects, as a macro so hot statements are
/// `concat!`ed at compile time (no `format!` per call).
macro_rules! obj_cols {
    () => {
        "o.uid, o.object_type, o.state, o.owner, o.names, o.attrs, o.current_version, o.created, o.updated, o.rev, o.mac"
    };
}
const OBJ_COLS: &str = obj_cols!();

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
        let c = Connection::open_with_flags(&self.path, flags).map_err(|e| self.corrupt(e))?;
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

    /// Applies a group of batches (see [`crate::group`]) in one `BEGIN IMMEDIATE`
    /// transaction, each under its own savepoint, and commits once.
    fn apply_group(&self, group: &[Arc<Slot>]) -> Vec<Result<()>> {
        let fail_all = |e: StoreError| fail_group(e, group.len(), copy_err);
        let mut c = match self.take() {
            Ok(c) => c,
            Err(e) => return fail_all(e),
        };
        let out = (|| -> std::result::Result<Vec<Result<()>>, rusqlite::Error> {
            let mut tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut out = Vec::with_capacity(group.len());
            if let [only] = group {
                // A group of one (a lone writer): no savepoint, the transaction is its scope.
                match apply_batch(&tx, &only.batch, &only.signer) {
                    Ok(()) => out.push(Ok(())),
                    Err(e) => return Ok(vec![Err(e)]),
                }
            } else {
                for slot in group {
                    let sp = tx.savepoint()?;
                    match apply_batch(&sp, &slot.batch, &slot.signer) {
                        Ok(()) => {
                            sp.commit()?;
                            out.push(Ok(()));
                        }
                        // Dropping the savepoint rolls this batch back, and only it.
                        Err(e) => out.push(Err(e)),
                    }
                }
            }
            tx.commit()?;
            Ok(out)
        })();
        self.release(c);
        match out {
            Ok(out) => out,
            Err(e) => fail_all(StoreError::Sqlite(e)),
        }
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

    fn migrate(&self, c: &Connection) -> Result<()> {
        let found = read_version(c).map_err(|e| self.corrupt(e))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        let mut c2 = self.connect()?;
        let tx = c2
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.corrupt(e))?;
        // Re-read inside the write lock: another process may have migrated meanwhile.
        let found = read_version(&tx).map_err(|e| self.corrupt(e))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(m).map_err(|e| self.corrupt(e))?;
            tx.execute_batch(&format!("PRAGMA user_version={}", i + 1))
                .map_err(|e| self.corrupt(e))?;
        }
        tx.commit().map_err(|e| self.corrupt(e))?;
        Ok(())
    }
}

fn read_version(c: &Connection) -> rusqlite::Result<u32> {
    c.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0))
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

fn row_meta(r: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectMeta> {
    let bad = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    // Borrowed text: no String per column on the hot read path.
    let text = |i: usize| -> rusqlite::Result<&str> {
        r.get_ref(i)?.as_str().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    };
    Ok(ObjectMeta {
        uid: r.get(0)?,
        object_type: text(1)?.parse().map_err(|e| bad(1, e))?,
        state: text(2)?.parse().map_err(|e| bad(2, e))?,
        owner: r.get(3)?,
        names: serde_json::from_str(text(4)?).map_err(|e| bad(4, e.to_string()))?,
        attributes: serde_json::from_str(text(5)?).map_err(|e| bad(5, e.to_string()))?,
        current_version: r.get(6)?,
        created: r.get(7)?,
        updated: r.get(8)?,
        rev: r.get::<_, i64>(9)? as u64,
        mac: mac_of(r.get_ref(10)?),
    })
}

/// The MAC column: `None` when NULL or not 32 bytes (both read as "no MAC", i.e. tampered).
fn mac_of(v: rusqlite::types::ValueRef<'_>) -> Option<[u8; 32]> {
    match v {
        rusqlite::types::ValueRef::Blob(b) => b.try_into().ok(),
        _ => None,
    }
}

/// An object row (columns 0..11, [`OBJ_COLS`]) with a version read along with it (11..).
fn with_version(r: &rusqlite::Row<'_>) -> rusqlite::Result<(ObjectMeta, Option<SealedVersion>)> {
    let m = row_meta(r)?;
    let v = row_version(&m.uid, r, 11)?;
    Ok((m, v))
}

fn row_version(
    uid: &str,
    r: &rusqlite::Row<'_>,
    at: usize,
) -> rusqlite::Result<Option<SealedVersion>> {
    let version: Option<u32> = r.get(at)?;
    Ok(match version {
        None => None,
        Some(version) => Some(SealedVersion {
            uid: uid.to_owned(),
            version,
            created: r.get(at + 1)?,
            created_by: r.get(at + 2)?,
            sealed: r.get(at + 3)?,
        }),
    })
}

fn put_object(tx: &Connection, meta: &ObjectMeta, expect: Precondition) -> Result<()> {
    let names =
        serde_json::to_string(&meta.names).map_err(|e| StoreError::Decode(e.to_string()))?;
    let attrs =
        serde_json::to_string(&meta.attributes).map_err(|e| StoreError::Decode(e.to_string()))?;
    match expect {
        Precondition::Absent => {
            let r = tx.prepare_cached(
                "INSERT INTO objects (uid, object_type, state, owner, name, names, attrs, current_version, created, updated, rev, mac) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![meta.uid, meta.object_type.as_str(), meta.state.as_str(), meta.owner,
                meta.name(), names, attrs, meta.current_version, meta.created, meta.updated, meta.rev as i64,
                meta.mac.as_ref().map(|m| &m[..])]);
            if let Err(rusqlite::Error::SqliteFailure(f, _)) = &r
                && f.code == rusqlite::ErrorCode::ConstraintViolation
            {
                return Err(StoreError::Conflict(meta.uid.clone()));
            }
            r?;
        }
        Precondition::Rev(rev) => {
            let n = tx.prepare_cached(
                "UPDATE objects SET object_type=?2, state=?3, owner=?4, name=?5, names=?6, attrs=?7, \
                 current_version=?8, updated=?9, rev=?10, mac=?12 WHERE uid=?1 AND rev=?11",
            )?
            .execute(params![meta.uid, meta.object_type.as_str(), meta.state.as_str(), meta.owner,
                meta.name(), names, attrs, meta.current_version, meta.updated, meta.rev as i64, rev as i64,
                meta.mac.as_ref().map(|m| &m[..])])?;
            if n == 0 {
                return Err(StoreError::Conflict(meta.uid.clone()));
            }
            tx.prepare_cached("DELETE FROM names WHERE uid=?1")?
                .execute([&meta.uid])?;
            tx.prepare_cached("DELETE FROM attr_index WHERE uid=?1")?
                .execute([&meta.uid])?;
        }
    }
    for n in &meta.names {
        let r = tx
            .prepare_cached("INSERT INTO names (name, uid) VALUES (?1, ?2)")?
            .execute([n, &meta.uid]);
        if let Err(rusqlite::Error::SqliteFailure(f, _)) = &r
            && f.code == rusqlite::ErrorCode::ConstraintViolation
        {
            return Err(StoreError::NameTaken(n.clone()));
        }
        r?;
    }
    let rows = crate::query::indexed_rows(&meta.attributes);
    let mut ins =
        tx.prepare_cached("INSERT INTO attr_index (attr, value, uid) VALUES (?1, ?2, ?3)")?;
    for (a, v) in rows {
        ins.execute([&a, &v, &meta.uid])?;
    }
    Ok(())
}

/// The store setting says "no MACs yet" but some objects carry one: in a SQL store, where
/// bringing forward is one transaction, only an edit of the database does that.
pub(crate) fn half_maced(marker: &str) -> StoreError {
    StoreError::Tampered {
        uid: "(store)".into(),
        detail: format!(
            "some objects carry a metadata MAC but the store's '{marker}' setting is missing"
        ),
    }
}

/// Appends `audit` to the chain inside `tx`.
fn append_audit(tx: &Connection, audit: &[crate::AuditDraft], signer: &AuditSigner) -> Result<()> {
    if audit.is_empty() {
        return Ok(());
    }
    let (mut seq, mut prev): (u64, String) = tx
        .prepare_cached("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .optional()?
        .unwrap_or((0, GENESIS.to_owned()));
    let ts = crate::model::now();
    let mut ins = tx.prepare_cached(
        "INSERT INTO audit (seq, ts, actor, action, uid, detail, prev, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for d in audit {
        seq += 1;
        let mac = signer.mac(seq, ts, d, &prev);
        ins.execute(params![
            seq as i64, ts, d.actor, d.action, d.uid, d.detail, prev, mac
        ])?;
        prev = mac;
    }
    Ok(())
}

/// Applies one batch on `tx` (a transaction or a savepoint in one), audit entries last.
fn apply_batch(tx: &Connection, batch: &Batch, signer: &AuditSigner) -> Result<()> {
    for w in &batch.writes {
        match w {
            Write::PutObject { meta, expect } => put_object(tx, meta, *expect)?,
            Write::PutVersion(v) => {
                tx.prepare_cached(
                    "INSERT INTO versions (uid, version, created, created_by, sealed) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![v.uid, v.version, v.created, v.created_by, v.sealed])
                .map_err(|e| match &e {
                    rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                        StoreError::Conflict(v.uid.clone())
                    }
                    _ => StoreError::Sqlite(e),
                })?;
            }
            Write::DestroyMaterial { uid, below } => {
                tx.prepare_cached("UPDATE versions SET sealed=NULL WHERE uid=?1 AND version<?2")?
                    .execute(params![uid, below.unwrap_or(u32::MAX)])?;
            }
            Write::RewrapVersion {
                uid,
                version,
                from,
                to,
            } => {
                let n = tx
                    .prepare_cached(
                        "UPDATE versions SET sealed=?4 WHERE uid=?1 AND version=?2 AND sealed=?3",
                    )?
                    .execute(params![uid, version, from, to])?;
                if n == 0 {
                    return Err(StoreError::Conflict(uid.clone()));
                }
            }
            Write::SetMeta { key, value, expect } => {
                let now: Option<Vec<u8>> = tx
                    .prepare_cached("SELECT v FROM meta WHERE k=?1")?
                    .query_row([key], |r| r.get(0))
                    .optional()?;
                if now != *expect {
                    return Err(StoreError::Conflict(key.clone()));
                }
                tx.prepare_cached("INSERT OR REPLACE INTO meta (k, v) VALUES (?1, ?2)")?
                    .execute(params![key, value])?;
            }
            Write::MetaAbsentOr { key, value } => {
                let now: Option<Vec<u8>> = tx
                    .prepare_cached("SELECT v FROM meta WHERE k=?1")?
                    .query_row([key], |r| r.get(0))
                    .optional()?;
                if now.is_some_and(|v| v != *value) {
                    return Err(StoreError::KeyRotated);
                }
            }
            Write::AllSealedStartWith { prefix } => {
                let other: i64 = tx
                    .prepare_cached(
                        "SELECT count(*) FROM versions WHERE sealed IS NOT NULL AND substr(sealed, 1, ?1) != ?2",
                    )?
                    .query_row(params![prefix.len() as i64, prefix], |r| r.get(0))?;
                if other != 0 {
                    return Err(StoreError::Conflict(format!(
                        "{other} version(s) sealed under another key"
                    )));
                }
            }
            Write::DeleteObject { uid, expect } => {
                let n = tx
                    .prepare_cached("DELETE FROM objects WHERE uid=?1 AND rev=?2")?
                    .execute(params![uid, *expect as i64])?;
                if n == 0 {
                    return Err(StoreError::Conflict(uid.clone()));
                }
            }
        }
    }
    append_audit(tx, &batch.audit, signer)
}

/// A copy of `e` for another batch of a failed group.
fn copy_err(e: &StoreError) -> StoreError {
    match e {
        StoreError::Sqlite(e) => StoreError::Sqlite(dup_err(e)),
        e => StoreError::Unavailable(e.to_string()),
    }
}

/// A copy of a database error, for each batch of a group whose transaction failed.
fn dup_err(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(f, m) => rusqlite::Error::SqliteFailure(*f, m.clone()),
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

impl Backend for SqliteBackend {
    fn group_sizes(&self) -> Vec<(usize, u64)> {
        self.group.group_sizes()
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn get(&self, uid: &str) -> Result<Option<ObjectMeta>> {
        // With its current version, kept for the `version` call that usually follows (a
        // KMIP Get): one statement, so one read transaction instead of two.
        let found = self.with(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                obj_cols!(),
                ", v.version, v.created, v.created_by, v.sealed FROM objects o \
                 LEFT JOIN versions v ON v.uid=o.uid AND v.version=o.current_version WHERE o.uid=?1"
            ))?
            .query_row([uid], with_version)
            .optional()
        })?;
        Ok(crate::prefetch::keep_current(self.id, found))
    }

    fn get_by_name(&self, name: &str) -> Result<Option<ObjectMeta>> {
        let found = self.get_current_by_name(name)?;
        Ok(crate::prefetch::keep_current(self.id, found))
    }

    fn get_current_by_name(
        &self,
        name: &str,
    ) -> Result<Option<(ObjectMeta, Option<SealedVersion>)>> {
        self.with(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                obj_cols!(),
                ", v.version, v.created, v.created_by, v.sealed FROM names n \
                 JOIN objects o ON o.uid=n.uid \
                 LEFT JOIN versions v ON v.uid=o.uid AND v.version=o.current_version WHERE n.name=?1"
            ))?
            .query_row([name], with_version)
            .optional()
        })
    }

    fn get_many_by_name(
        &self,
        wanted: &[(&str, u32)],
    ) -> Result<Vec<Option<crate::backend::Found>>> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // One statement for every name: the list goes in as one JSON parameter
        // (`[[name, version], …]`), read back by `json_each`, each row joined to its name
        // and object by primary key and to the version asked for (0: the current one).
        let list = serde_json::to_string(wanted).map_err(|e| StoreError::Decode(e.to_string()))?;
        let rows = self.with(|c| {
            let mut st = c.prepare_cached(concat!(
                "WITH w(i, name, ver) AS (SELECT CAST(key AS INTEGER), json_extract(value, '$[0]'), \
                 json_extract(value, '$[1]') FROM json_each(?1)) SELECT ",
                obj_cols!(),
                ", v.version, v.created, v.created_by, v.sealed, w.i FROM w \
                 JOIN names n ON n.name=w.name JOIN objects o ON o.uid=n.uid \
                 LEFT JOIN versions v ON v.uid=o.uid AND v.version=\
                 (CASE WHEN w.ver=0 THEN o.current_version ELSE w.ver END)"
            ))?;
            let rows = st.query_map([&list], |r| Ok((r.get::<_, i64>(15)?, with_version(r)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let mut out: Vec<Option<crate::backend::Found>> = vec![None; wanted.len()];
        for (i, found) in rows {
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) {
                *slot = Some(found);
            }
        }
        Ok(out)
    }

    fn version(&self, uid: &str, version: u32) -> Result<Option<SealedVersion>> {
        if let Some(row) = crate::prefetch::take(self.id, uid, version) {
            return Ok(row);
        }
        self.with(|c| {
            c.prepare_cached("SELECT version, created, created_by, sealed FROM versions WHERE uid=?1 AND version=?2")?
                .query_row(params![uid, version], |r| row_version(uid, r, 0))
                .optional()
                .map(Option::flatten)
        })
    }

    fn versions(&self, uid: &str) -> Result<Vec<SealedVersion>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT version, created, created_by, sealed FROM versions WHERE uid=?1 ORDER BY version",
            )?;
            let rows = st.query_map([uid], |r| row_version(uid, r, 0))?;
            let mut out = Vec::new();
            for r in rows {
                if let Some(v) = r? {
                    out.push(v);
                }
            }
            Ok(out)
        })
    }

    fn locate(&self, q: &Query) -> Result<Vec<ObjectMeta>> {
        let dialect = crate::query::Dialect {
            placeholder: |n| format!("?{n}"),
            collate: "",
        };
        let (sql, args) = q.to_sql(OBJ_COLS, &dialect);
        self.with(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(rusqlite::params_from_iter(args.iter()), row_meta)?;
            rows.collect()
        })
    }

    fn commit(&self, batch: &Batch, signer: &AuditSigner) -> Result<()> {
        // Group commit may run this batch on another writer's thread: forget here, on the
        // caller's, what its last read kept (the batch may destroy that very material).
        crate::prefetch::forget();
        self.group
            .commit(batch, signer, |group| self.apply_group(group))
            .map_err(|e| match e {
                StoreError::Sqlite(e) => self.corrupt(e),
                e => e,
            })
    }

    fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT seq, ts, actor, action, uid, detail, prev, mac FROM audit WHERE seq>?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = st.query_map(params![after as i64, limit as i64], |r| {
                Ok(AuditEntry {
                    seq: r.get::<_, i64>(0)? as u64,
                    ts: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    uid: r.get(4)?,
                    detail: r.get(5)?,
                    prev: r.get(6)?,
                    mac: r.get(7)?,
                })
            })?;
            rows.collect()
        })
    }

    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.with(|c| {
            c.prepare_cached("SELECT v FROM meta WHERE k=?1")?
                .query_row([key], |r| r.get(0))
                .optional()
        })
    }

    fn meta_init(&self, key: &str, value: &[u8]) -> Result<Vec<u8>> {
        self.with(|c| {
            c.prepare_cached("INSERT OR IGNORE INTO meta (k, v) VALUES (?1, ?2)")?
                .execute(params![key, value])?;
            c.prepare_cached("SELECT v FROM meta WHERE k=?1")?
                .query_row([key], |r| r.get(0))
        })
    }

    fn count(&self) -> Result<u64> {
        self.with(|c| {
            c.query_row("SELECT count(*) FROM objects", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
    }

    fn dump(&self) -> Result<Dump> {
        let mut c = self.take()?;
        let r = (|| -> rusqlite::Result<Dump> {
            // A read transaction gives one consistent snapshot under WAL.
            let tx = c.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let mut d = Dump::default();
            {
                let mut st = tx.prepare("SELECT k, v FROM meta ORDER BY k")?;
                d.meta = st
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                let mut st =
                    tx.prepare(&format!("SELECT {OBJ_COLS} FROM objects o ORDER BY o.uid"))?;
                d.objects = st
                    .query_map([], row_meta)?
                    .collect::<rusqlite::Result<_>>()?;
                let mut st = tx.prepare("SELECT uid, version, created, created_by, sealed FROM versions ORDER BY uid, version")?;
                d.versions = st
                    .query_map([], |r| {
                        Ok(SealedVersion {
                            uid: r.get(0)?,
                            version: r.get(1)?,
                            created: r.get(2)?,
                            created_by: r.get(3)?,
                            sealed: r.get(4)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                let mut st = tx.prepare(
                    "SELECT seq, ts, actor, action, uid, detail, prev, mac FROM audit ORDER BY seq",
                )?;
                d.audit = st
                    .query_map([], |r| {
                        Ok(AuditEntry {
                            seq: r.get::<_, i64>(0)? as u64,
                            ts: r.get(1)?,
                            actor: r.get(2)?,
                            action: r.get(3)?,
                            uid: r.get(4)?,
                            detail: r.get(5)?,
                            prev: r.get(6)?,
                            mac: r.get(7)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
            }
            tx.commit()?;
            Ok(d)
        })();
        self.release(c);
        r.map_err(|e| self.corrupt(e))
    }

    fn backfill_macs(
        &self,
        mac: &dyn Fn(&ObjectMeta) -> [u8; 32],
        marker: &str,
        note: &crate::AuditDraft,
        signer: &AuditSigner,
    ) -> Result<u64> {
        let mut c = self.take()?;
        let r = (|| -> Result<u64> {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Another process may have brought it forward since the caller looked.
            let done: Option<i64> = tx
                .query_row("SELECT 1 FROM meta WHERE k=?1", [marker], |r| r.get(0))
                .optional()?;
            if done.is_some() {
                return Ok(0);
            }
            let todo: Vec<ObjectMeta> = {
                let mut st = tx.prepare(concat!(
                    "SELECT ",
                    obj_cols!(),
                    " FROM objects o WHERE o.mac IS NULL"
                ))?;
                st.query_map([], row_meta)?
                    .collect::<rusqlite::Result<_>>()?
            };
            let maced: i64 = tx.query_row(
                "SELECT count(*) FROM objects WHERE mac IS NOT NULL",
                [],
                |r| r.get(0),
            )?;
            if maced > 0 {
                return Err(half_maced(marker));
            }
            {
                let mut up = tx.prepare("UPDATE objects SET mac=?2 WHERE uid=?1")?;
                for m in &todo {
                    up.execute(params![m.uid, &mac(m)[..]])?;
                }
            }
            tx.execute(
                "INSERT OR IGNORE INTO meta (k, v) VALUES (?1, x'31')",
                [marker],
            )?;
            if !todo.is_empty() {
                let mut note = note.clone();
                note.detail = format!("{} ({} objects)", note.detail, todo.len());
                append_audit(&tx, std::slice::from_ref(&note), signer)?;
            }
            tx.commit()?;
            Ok(todo.len() as u64)
        })();
        self.release(c);
        r.map_err(|e| match e {
            StoreError::Sqlite(e) => self.corrupt(e),
            e => e,
        })
    }

    fn replace_all(&self, dump: &Dump) -> Result<()> {
        let mut c = self.take()?;
        let r = (|| -> Result<()> {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch("DELETE FROM attr_index; DELETE FROM names; DELETE FROM versions; DELETE FROM objects; DELETE FROM audit; DELETE FROM meta;")?;
            for (k, v) in &dump.meta {
                tx.execute("INSERT INTO meta (k, v) VALUES (?1, ?2)", params![k, v])?;
            }
            for o in &dump.objects {
                put_object(&tx, o, Precondition::Absent)?;
            }
            for v in &dump.versions {
                tx.prepare_cached("INSERT INTO versions (uid, version, created, created_by, sealed) VALUES (?1, ?2, ?3, ?4, ?5)")?
                    .execute(params![v.uid, v.version, v.created, v.created_by, v.sealed])?;
            }
            for e in &dump.audit {
                tx.prepare_cached("INSERT INTO audit (seq, ts, actor, action, uid, detail, prev, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?
                    .execute(params![e.seq as i64, e.ts, e.actor, e.action, e.uid, e.detail, e.prev, e.mac])?;
            }
            tx.commit()?;
            Ok(())
        })();
        self.release(c);
        r.map_err(|e| match e {
            StoreError::Sqlite(e) => self.corrupt(e),
            e => e,
        })
    }
}

#[cfg(test)]
mod migration_tests {
    use super::*;

    /// A database left at schema 1 by an older tresor opens, migrates to the current schema
    /// and keeps every row.
    #[test]
    fn schema_1_database_migrates_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;")
                .unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.execute_batch(
                "PRAGMA user_version=1;
                 INSERT INTO objects VALUES ('u1', 'SecretData', 'Active', 'me', 'a:e:K', '[\"a:e:K\"]', '{}', 2, 1, 1, 3);
                 INSERT INTO names VALUES ('a:e:K', 'u1');
                 INSERT INTO versions VALUES ('u1', 1, 1, 'me', x'0102');
                 INSERT INTO versions VALUES ('u1', 2, 1, 'me', x'0304');",
            )
            .unwrap();
        }
        let b = SqliteBackend::open(&path).unwrap();
        assert_eq!(b.schema_version().unwrap(), SCHEMA_VERSION);
        let (m, v) = b.get_current_by_name("a:e:K").unwrap().unwrap();
        assert_eq!(m.uid, "u1");
        let v = v.unwrap();
        assert_eq!((v.version, v.sealed.as_deref()), (2, Some(&[3u8, 4][..])));
        assert_eq!(b.versions("u1").unwrap().len(), 2);
        assert_eq!(b.get_by_name("a:e:K").unwrap().unwrap().uid, "u1");
        let without_rowid: i64 = b
            .with(|c| {
                c.query_row(
                    "SELECT count(*) FROM sqlite_schema WHERE name IN ('names', 'versions') AND sql LIKE '%WITHOUT ROWID%'",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(without_rowid, 2);
        // Deleting the object still cascades to the rebuilt tables.
        b.with(|c| c.execute("DELETE FROM objects WHERE uid='u1'", []))
            .unwrap();
        assert!(b.get_by_name("a:e:K").unwrap().is_none());
        assert!(b.versions("u1").unwrap().is_empty());
    }
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

#[cfg(test)]
mod index_tests {
    use super::*;
    use crate::{NewObject, ObjectType, Store};
    use std::sync::Arc;

    /// Only indexed attribute rows reach `attr_index` (flags, dates and structure fields that
    /// never narrow a search cost a b-tree leaf per commit and are left out).
    #[test]
    fn unindexed_attributes_write_no_index_rows() {
        let dir = tempfile::tempdir().unwrap();
        let b = Arc::new(SqliteBackend::open(&dir.path().join("i.db")).unwrap());
        let kek = Arc::new(tresor_crypto::LocalKek::generate().unwrap());
        let s = Store::open(b.clone(), kek, "t").unwrap();
        let mut k = NewObject::new(ObjectType::SymmetricKey);
        k.attributes
            .insert("Sensitive".into(), serde_json::json!(false));
        k.attributes
            .insert("Initial Date".into(), serde_json::json!(1700000000));
        k.attributes
            .insert("Cryptographic Algorithm".into(), serde_json::json!("AES"));
        k.attributes.insert(
            "Digest".into(),
            serde_json::json!([{"HashingAlgorithm": "SHA_256", "DigestValue": "ab12"}]),
        );
        s.create(k).unwrap();
        let mut rows: Vec<String> = b
            .with(|c| {
                let mut st = c.prepare("SELECT attr FROM attr_index")?;
                st.query_map([], |r| r.get(0))?.collect()
            })
            .unwrap();
        rows.sort();
        assert_eq!(rows, ["Cryptographic Algorithm", "Digest.DigestValue"]);
    }
}
