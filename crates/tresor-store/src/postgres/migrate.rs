//! The schema: its migrations, applied under the migration lock when a backend connects, and
//! dropping every table (for tests).

use super::conn::Conn;
use super::errors::pg;
use super::sql::SQL_LOCK;
use super::{LOCK_MIGRATE, PostgresBackend};
use crate::sqlite::SCHEMA_VERSION;
use crate::{Result, StoreError};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (k TEXT PRIMARY KEY, v BYTEA NOT NULL);
CREATE TABLE objects (
    uid TEXT PRIMARY KEY,
    object_type TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT,
    names TEXT NOT NULL,
    attrs TEXT NOT NULL,
    current_version BIGINT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    rev BIGINT NOT NULL
);
CREATE INDEX objects_type_state ON objects(object_type, state);
CREATE INDEX objects_owner ON objects(owner);
CREATE INDEX objects_name ON objects(name);
CREATE TABLE names (name TEXT PRIMARY KEY, uid TEXT NOT NULL REFERENCES objects(uid) ON DELETE CASCADE);
CREATE INDEX names_uid ON names(uid);
CREATE TABLE attr_index (attr TEXT NOT NULL, value TEXT NOT NULL, uid TEXT NOT NULL REFERENCES objects(uid) ON DELETE CASCADE);
CREATE INDEX attr_index_av ON attr_index(attr, value);
CREATE INDEX attr_index_uid ON attr_index(uid);
CREATE TABLE versions (
    uid TEXT NOT NULL REFERENCES objects(uid) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    created BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    sealed BYTEA,
    PRIMARY KEY (uid, version)
);
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    ts BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    uid TEXT,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    mac TEXT NOT NULL
);
"#,
    // 2: SQLite made `names` and `versions` WITHOUT ROWID tables; PostgreSQL's primary keys
    // are already the lookup path, so nothing changes here (the versions stay in step).
    "SELECT 1",
    // 3: the metadata MAC (see `mac.rs`). Existing rows get theirs when the store is next
    // opened with its key (`Store::bring_forward`, one transaction).
    "ALTER TABLE objects ADD COLUMN mac BYTEA",
];

impl PostgresBackend {
    pub(super) fn migrate(&self, c: &mut Conn) -> Result<()> {
        let mut tx = c.transaction().map_err(pg)?;
        tx.execute(SQL_LOCK, &[&LOCK_MIGRATE]).map_err(pg)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS tresor_schema (version INT NOT NULL)")
            .map_err(pg)?;
        let found: i32 = tx
            .query_opt("SELECT version FROM tresor_schema", &[])
            .map_err(pg)?
            .map(|r| r.get(0))
            .unwrap_or(0);
        let found = found as u32;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < SCHEMA_VERSION {
            for m in MIGRATIONS.iter().skip(found as usize) {
                tx.batch_execute(m).map_err(pg)?;
            }
            tx.execute("DELETE FROM tresor_schema", &[]).map_err(pg)?;
            tx.execute(
                "INSERT INTO tresor_schema (version) VALUES ($1)",
                &[&(SCHEMA_VERSION as i32)],
            )
            .map_err(pg)?;
        }
        tx.commit().map_err(pg)
    }

    /// Drops every tresor table (for tests that need an empty database).
    ///
    /// # Errors
    /// On a database error.
    pub fn drop_all(&self) -> Result<()> {
        self.with(|c| c.batch_execute("DROP TABLE IF EXISTS attr_index, names, versions, audit, objects, meta, tresor_schema CASCADE"))
    }
}
