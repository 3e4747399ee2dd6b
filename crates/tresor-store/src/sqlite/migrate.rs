//! The SQLite schema: its migrations, the version each brings a database to, and how an
//! older database is brought up to date when it is opened.

use rusqlite::{Connection, TransactionBehavior};

use crate::{Result, StoreError};

use super::SqliteBackend;

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

impl SqliteBackend {
    pub(super) fn migrate(&self, c: &Connection) -> Result<()> {
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

pub(super) fn read_version(c: &Connection) -> rusqlite::Result<u32> {
    c.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0))
}

#[cfg(test)]
mod migration_tests {
    use super::*;
    use crate::Backend;

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
