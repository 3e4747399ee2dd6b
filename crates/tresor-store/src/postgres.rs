//! The PostgreSQL backend: the same schema concepts and migrations as SQLite, for several
//! tresor servers sharing one database. Material arrives sealed: PostgreSQL never sees
//! plaintext or unwrapped data keys.
//!
//! Writers serialise on a transaction-scoped advisory lock before appending to the audit
//! chain, so the chain stays linear across servers; object updates are guarded by
//! `WHERE rev = $n` (optimistic concurrency), names by a primary key.
//!
//! The password comes from the URL, `TRESOR_PG_PASSWORD`, `PGPASSWORD`, the file named by
//! `TRESOR_PG_PASSWORD_FILE`, or a libpq password file (`PGPASSFILE`, else `~/.pgpass`) —
//! never from the command line. TLS: `sslmode` and `sslrootcert` as in libpq (see [`tls`]).
//!
//! Connections are pooled; a connection PostgreSQL has closed (restart, failover) is dropped
//! with every other pooled one, and the request is retried once on a fresh connection when
//! nothing of it can have been committed. While the server is away, calls fail fast with
//! [`StoreError::Unavailable`] (connect timeout 5 s unless the URL sets one).

use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use postgres::{Client, Row, Transaction};
use tokio_postgres_rustls::MakeRustlsConnect;

mod tls;

use crate::audit::{AuditEntry, AuditSigner, GENESIS};
use crate::backend::{Backend, Batch, Dump, Precondition, Write};
use crate::model::{ObjectMeta, SealedVersion};
use crate::query::Query;
use crate::sqlite::{SCHEMA_VERSION, index_values};
use crate::{Result, StoreError};

const LOCK_MIGRATE: i64 = 0x7472_6573_6f72_0001;
const LOCK_WRITE: i64 = 0x7472_6573_6f72_0002;

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
];

const OBJ_COLS: &str = "o.uid, o.object_type, o.state, o.owner, o.names, o.attrs, o.current_version, o.created, o.updated, o.rev";

/// A PostgreSQL database holding a store.
pub struct PostgresBackend {
    config: postgres::Config,
    tls: MakeRustlsConnect,
    pool: Mutex<Vec<Client>>,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PostgresBackend({:?}@{:?}/{:?})",
            self.config.get_user(),
            self.config.get_hosts(),
            self.config.get_dbname()
        )
    }
}

/// The error and its causes ("error performing TLS handshake: invalid peer certificate: …").
fn describe(e: &postgres::Error) -> String {
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cause = c.source();
    }
    s
}

fn unavailable(e: postgres::Error) -> StoreError {
    StoreError::Unavailable(describe(&e))
}

/// Returns true if and only if `e` means the connection (or the server) is gone: closed
/// socket, I/O error, or a SQLSTATE of class 08 (connection exception), 57P01-57P03 (the
/// server shutting down or starting) or 53300 (too many connections).
fn is_connection_error(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(c) => {
            let c = c.code();
            c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03" | "53300")
        }
        None => e.as_db_error().is_none(),
    }
}

fn pg(e: postgres::Error) -> StoreError {
    if is_connection_error(&e) {
        return StoreError::Unavailable(describe(&e));
    }
    if let Some(c) = e.code()
        && matches!(c.code(), "40001" | "40P01")
    {
        // Serialization failure or deadlock: the writer retries, as after a lost race.
        return StoreError::Conflict(format!("(database said: {e})"));
    }
    StoreError::Decode(format!("postgres: {e}"))
}

/// The password when the URL has none: `TRESOR_PG_PASSWORD`, `PGPASSWORD`, the file named by
/// `TRESOR_PG_PASSWORD_FILE` (an unreadable file is an error naming it), then a libpq
/// password file.
fn read_password(config: &postgres::Config) -> Result<Option<String>> {
    for var in ["TRESOR_PG_PASSWORD", "PGPASSWORD"] {
        if let Ok(p) = std::env::var(var) {
            return Ok(Some(p));
        }
    }
    if let Some(f) = std::env::var_os("TRESOR_PG_PASSWORD_FILE") {
        let text = std::fs::read_to_string(&f).map_err(|e| {
            StoreError::Unavailable(format!(
                "reading the PostgreSQL password file '{}' (TRESOR_PG_PASSWORD_FILE): {e}",
                std::path::Path::new(&f).display()
            ))
        })?;
        return Ok(Some(text.trim_end_matches(['\n', '\r']).to_owned()));
    }
    let file = std::env::var_os("PGPASSFILE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".pgpass")));
    let Some(file) = file else { return Ok(None) };
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or(user);
    Ok(tls::pgpass(&file, &host, port, db, user))
}

impl PostgresBackend {
    /// Connects to `url` (`postgres://user@host:port/db`) and brings the schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the server cannot be reached, [`StoreError::TooNew`].
    pub fn connect(url: &str) -> Result<Self> {
        let (rest, tls_settings) = tls::split_url(url)?;
        let mut config = postgres::Config::from_str(&rest)
            .map_err(|e| StoreError::Unavailable(format!("bad PostgreSQL URL: {e}")))?;
        config.ssl_mode(tls_settings.mode);
        if config.get_password().is_none()
            && let Some(p) = read_password(&config)?
        {
            config.password(p);
        }
        // Bounded waits when the server is away: connect, and unacknowledged data.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(Duration::from_secs(15));
        }
        let b = PostgresBackend {
            config,
            tls: tls::connector(&tls_settings)?,
            pool: Mutex::new(Vec::new()),
        };
        let mut c = b.connect_one()?;
        b.migrate(&mut c)?;
        b.release(c);
        Ok(b)
    }

    fn connect_one(&self) -> Result<Client> {
        self.config.connect(self.tls.clone()).map_err(unavailable)
    }

    /// A client from the pool (`true`) or a fresh one (`false`).
    fn take(&self) -> Result<(Client, bool)> {
        loop {
            let popped = self.pool.lock().map(|mut p| p.pop()).unwrap_or(None);
            match popped {
                Some(c) if c.is_closed() => continue,
                Some(c) => return Ok((c, true)),
                None => return Ok((self.connect_one()?, false)),
            }
        }
    }

    fn release(&self, c: Client) {
        if c.is_closed() {
            return;
        }
        if let Ok(mut p) = self.pool.lock()
            && p.len() < 16
        {
            p.push(c);
        }
    }

    /// Forgets every pooled connection: after one broke, the others (opened to the same
    /// server process) are broken too.
    fn drop_pool(&self) {
        let old = self.pool.lock().map(|mut p| std::mem::take(&mut *p));
        drop(old);
    }

    /// Runs `f` on a pooled connection. A broken pooled connection is replaced and `f` run
    /// once more on a fresh one: `f` must be safe to repeat (reads, or a transaction that
    /// failed before its COMMIT was sent — see [`PostgresBackend::commit`]).
    fn with<T>(
        &self,
        mut f: impl FnMut(&mut Client) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let (mut c, pooled) = self.take()?;
        let r = f(&mut c);
        match r {
            Err(e) if is_connection_error(&e) => {
                drop(c);
                self.drop_pool();
                if !pooled {
                    return Err(pg(e));
                }
                let mut c = self.connect_one()?;
                let r = f(&mut c);
                self.release(c);
                r.map_err(pg)
            }
            r => {
                self.release(c);
                r.map_err(pg)
            }
        }
    }

    /// As [`PostgresBackend::with`] for a body returning the store's errors; `sent` tells
    /// whether a broken connection may have committed (then no retry).
    fn with_tx<T>(&self, mut f: impl FnMut(&mut Client, &mut bool) -> Result<T>) -> Result<T> {
        let (mut c, pooled) = self.take()?;
        let mut sent = false;
        let r = f(&mut c, &mut sent);
        let broken = c.is_closed() || matches!(r, Err(StoreError::Unavailable(_)));
        if broken {
            drop(c);
            self.drop_pool();
            if pooled && !sent {
                let mut c = self.connect_one()?;
                let mut sent = false;
                let r = f(&mut c, &mut sent);
                self.release(c);
                return r;
            }
            return r;
        }
        self.release(c);
        r
    }

    fn migrate(&self, c: &mut Client) -> Result<()> {
        let mut tx = c.transaction().map_err(pg)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_MIGRATE])
            .map_err(pg)?;
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

fn row_meta(r: &Row) -> Result<ObjectMeta> {
    let t: String = r.get(1);
    let s: String = r.get(2);
    let names: String = r.get(4);
    let attrs: String = r.get(5);
    Ok(ObjectMeta {
        uid: r.get(0),
        object_type: t.parse().map_err(StoreError::Decode)?,
        state: s.parse().map_err(StoreError::Decode)?,
        owner: r.get(3),
        names: serde_json::from_str(&names).map_err(|e| StoreError::Decode(e.to_string()))?,
        attributes: serde_json::from_str(&attrs).map_err(|e| StoreError::Decode(e.to_string()))?,
        current_version: r.get::<_, i64>(6) as u32,
        created: r.get(7),
        updated: r.get(8),
        rev: r.get::<_, i64>(9) as u64,
    })
}

fn row_version(uid: &str, r: &Row, at: usize) -> Option<SealedVersion> {
    let version: Option<i64> = r.get(at);
    version.map(|v| SealedVersion {
        uid: uid.to_owned(),
        version: v as u32,
        created: r.get(at + 1),
        created_by: r.get(at + 2),
        sealed: r.get(at + 3),
    })
}

fn is_unique(e: &postgres::Error) -> Option<String> {
    let db = e.as_db_error()?;
    (db.code() == &postgres::error::SqlState::UNIQUE_VIOLATION)
        .then(|| db.constraint().unwrap_or("").to_owned())
}

fn put_object(tx: &mut Transaction<'_>, meta: &ObjectMeta, expect: Precondition) -> Result<()> {
    let names =
        serde_json::to_string(&meta.names).map_err(|e| StoreError::Decode(e.to_string()))?;
    let attrs =
        serde_json::to_string(&meta.attributes).map_err(|e| StoreError::Decode(e.to_string()))?;
    let (cv, rev) = (meta.current_version as i64, meta.rev as i64);
    match expect {
        Precondition::Absent => {
            let r = tx.execute(
                "INSERT INTO objects (uid, object_type, state, owner, name, names, attrs, current_version, created, updated, rev) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[&meta.uid, &meta.object_type.as_str(), &meta.state.as_str(), &meta.owner, &meta.name(), &names, &attrs, &cv, &meta.created, &meta.updated, &rev],
            );
            if let Err(e) = &r
                && is_unique(e).is_some()
            {
                return Err(StoreError::Conflict(meta.uid.clone()));
            }
            r.map_err(pg)?;
        }
        Precondition::Rev(old) => {
            let n = tx
                .execute(
                    "UPDATE objects SET object_type=$2, state=$3, owner=$4, name=$5, names=$6, attrs=$7, current_version=$8, updated=$9, rev=$10 \
                     WHERE uid=$1 AND rev=$11",
                    &[&meta.uid, &meta.object_type.as_str(), &meta.state.as_str(), &meta.owner, &meta.name(), &names, &attrs, &cv, &meta.updated, &rev, &(old as i64)],
                )
                .map_err(pg)?;
            if n == 0 {
                return Err(StoreError::Conflict(meta.uid.clone()));
            }
            tx.execute("DELETE FROM names WHERE uid=$1", &[&meta.uid])
                .map_err(pg)?;
            tx.execute("DELETE FROM attr_index WHERE uid=$1", &[&meta.uid])
                .map_err(pg)?;
        }
    }
    for n in &meta.names {
        // A savepoint keeps the transaction usable for the caller's error report.
        let r = tx.execute(
            "INSERT INTO names (name, uid) VALUES ($1, $2)",
            &[n, &meta.uid],
        );
        if let Err(e) = &r
            && is_unique(e).is_some()
        {
            return Err(StoreError::NameTaken(n.clone()));
        }
        r.map_err(pg)?;
    }
    let mut rows = Vec::new();
    for (k, v) in &meta.attributes {
        index_values(k, v, &mut rows);
    }
    if !rows.is_empty() {
        let st = tx
            .prepare("INSERT INTO attr_index (attr, value, uid) VALUES ($1, $2, $3)")
            .map_err(pg)?;
        for (a, v) in rows {
            tx.execute(&st, &[&a, &v, &meta.uid]).map_err(pg)?;
        }
    }
    Ok(())
}

fn audit_row(r: &Row) -> AuditEntry {
    AuditEntry {
        seq: r.get::<_, i64>(0) as u64,
        ts: r.get(1),
        actor: r.get(2),
        action: r.get(3),
        uid: r.get(4),
        detail: r.get(5),
        prev: r.get(6),
        mac: r.get(7),
    }
}

impl Backend for PostgresBackend {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn get(&self, uid: &str) -> Result<Option<ObjectMeta>> {
        let r = self.with(|c| {
            c.query_opt(
                &format!("SELECT {OBJ_COLS} FROM objects o WHERE o.uid=$1"),
                &[&uid],
            )
        })?;
        r.as_ref().map(row_meta).transpose()
    }

    fn get_by_name(&self, name: &str) -> Result<Option<ObjectMeta>> {
        let r = self.with(|c| {
            c.query_opt(
                &format!(
                    "SELECT {OBJ_COLS} FROM names n JOIN objects o ON o.uid=n.uid WHERE n.name=$1"
                ),
                &[&name],
            )
        })?;
        r.as_ref().map(row_meta).transpose()
    }

    fn get_current_by_name(
        &self,
        name: &str,
    ) -> Result<Option<(ObjectMeta, Option<SealedVersion>)>> {
        let r = self.with(|c| {
            c.query_opt(
                &format!(
                    "SELECT {OBJ_COLS}, v.version, v.created, v.created_by, v.sealed FROM names n JOIN objects o ON o.uid=n.uid \
                     LEFT JOIN versions v ON v.uid=o.uid AND v.version=o.current_version WHERE n.name=$1"
                ),
                &[&name],
            )
        })?;
        match r {
            None => Ok(None),
            Some(r) => {
                let m = row_meta(&r)?;
                let v = row_version(&m.uid, &r, 10);
                Ok(Some((m, v)))
            }
        }
    }

    fn version(&self, uid: &str, version: u32) -> Result<Option<SealedVersion>> {
        let r = self.with(|c| {
            c.query_opt("SELECT version, created, created_by, sealed FROM versions WHERE uid=$1 AND version=$2", &[&uid, &(version as i64)])
        })?;
        Ok(r.and_then(|r| row_version(uid, &r, 0)))
    }

    fn versions(&self, uid: &str) -> Result<Vec<SealedVersion>> {
        let rows = self.with(|c| c.query("SELECT version, created, created_by, sealed FROM versions WHERE uid=$1 ORDER BY version", &[&uid]))?;
        Ok(rows.iter().filter_map(|r| row_version(uid, r, 0)).collect())
    }

    fn locate(&self, q: &Query) -> Result<Vec<ObjectMeta>> {
        let dialect = crate::query::Dialect {
            placeholder: |n| format!("${n}"),
            collate: " COLLATE \"C\"",
        };
        let (sql, args) = q.to_sql(OBJ_COLS, &dialect);
        // PostgreSQL has no LIMIT -1: "LIMIT ALL" means the same.
        // Same order as SQLite: objects without a name first.
        let sql = sql.replace(" LIMIT -1", " LIMIT ALL").replace(
            " ORDER BY o.name COLLATE \"C\",",
            " ORDER BY o.name COLLATE \"C\" NULLS FIRST,",
        );
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> = args
            .iter()
            .map(|a| a as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let rows = self.with(|c| c.query(&sql, &params))?;
        rows.iter().map(row_meta).collect()
    }

    fn commit(&self, batch: &Batch, signer: &AuditSigner) -> Result<()> {
        self.with_tx(|c, sent| {
            let mut tx = c.transaction().map_err(pg)?;
            // Serialise writers: the audit chain must stay linear across servers.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_WRITE])
                .map_err(pg)?;
            for w in &batch.writes {
                match w {
                    Write::PutObject { meta, expect } => put_object(&mut tx, meta, *expect)?,
                    Write::PutVersion(v) => {
                        let r = tx.execute(
                            "INSERT INTO versions (uid, version, created, created_by, sealed) VALUES ($1, $2, $3, $4, $5)",
                            &[&v.uid, &(v.version as i64), &v.created, &v.created_by, &v.sealed],
                        );
                        if let Err(e) = &r
                            && is_unique(e).is_some()
                        {
                            return Err(StoreError::Conflict(v.uid.clone()));
                        }
                        r.map_err(pg)?;
                    }
                    Write::DestroyMaterial { uid, below } => {
                        tx.execute(
                            "UPDATE versions SET sealed=NULL WHERE uid=$1 AND version<$2",
                            &[uid, &(below.unwrap_or(u32::MAX) as i64)],
                        )
                        .map_err(pg)?;
                    }
                    Write::DeleteObject { uid, expect } => {
                        let n = tx
                            .execute(
                                "DELETE FROM objects WHERE uid=$1 AND rev=$2",
                                &[uid, &(*expect as i64)],
                            )
                            .map_err(pg)?;
                        if n == 0 {
                            return Err(StoreError::Conflict(uid.clone()));
                        }
                    }
                }
            }
            if !batch.audit.is_empty() {
                let last = tx
                    .query_opt("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1", &[])
                    .map_err(pg)?;
                let (mut seq, mut prev) = match last {
                    Some(r) => (r.get::<_, i64>(0) as u64, r.get::<_, String>(1)),
                    None => (0, GENESIS.to_owned()),
                };
                let ts = crate::model::now();
                let st = tx
                    .prepare("INSERT INTO audit (seq, ts, actor, action, uid, detail, prev, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .map_err(pg)?;
                for d in &batch.audit {
                    seq += 1;
                    let mac = signer.mac(seq, ts, d, &prev);
                    tx.execute(
                        &st,
                        &[
                            &(seq as i64),
                            &ts,
                            &d.actor,
                            &d.action,
                            &d.uid,
                            &d.detail,
                            &prev,
                            &mac,
                        ],
                    )
                    .map_err(pg)?;
                    prev = mac;
                }
            }
            // From here a broken connection may have committed: no retry.
            *sent = true;
            tx.commit().map_err(pg)
        })
    }

    fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows = self.with(|c| {
            c.query(
                "SELECT seq, ts, actor, action, uid, detail, prev, mac FROM audit WHERE seq>$1 ORDER BY seq LIMIT $2",
                &[&(after as i64), &limit],
            )
        })?;
        Ok(rows.iter().map(audit_row).collect())
    }

    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let r = self.with(|c| c.query_opt("SELECT v FROM meta WHERE k=$1", &[&key]))?;
        Ok(r.map(|r| r.get(0)))
    }

    fn meta_init(&self, key: &str, value: &[u8]) -> Result<Vec<u8>> {
        let r = self.with(|c| {
            c.execute(
                "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING",
                &[&key, &value],
            )?;
            c.query_one("SELECT v FROM meta WHERE k=$1", &[&key])
        })?;
        Ok(r.get(0))
    }

    fn count(&self) -> Result<u64> {
        let r = self.with(|c| c.query_one("SELECT count(*) FROM objects", &[]))?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    fn dump(&self) -> Result<Dump> {
        self.with_tx(|c, _| {
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(pg)?;
            let meta = tx
                .query("SELECT k, v FROM meta ORDER BY k", &[])
                .map_err(pg)?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let objects = tx
                .query(
                    &format!("SELECT {OBJ_COLS} FROM objects o ORDER BY o.uid"),
                    &[],
                )
                .map_err(pg)?
                .iter()
                .map(row_meta)
                .collect::<Result<_>>()?;
            let versions = tx
                .query("SELECT uid, version, created, created_by, sealed FROM versions ORDER BY uid, version", &[])
                .map_err(pg)?
                .iter()
                .map(|r| SealedVersion { uid: r.get(0), version: r.get::<_, i64>(1) as u32, created: r.get(2), created_by: r.get(3), sealed: r.get(4) })
                .collect();
            let audit = tx
                .query(
                    "SELECT seq, ts, actor, action, uid, detail, prev, mac FROM audit ORDER BY seq",
                    &[],
                )
                .map_err(pg)?
                .iter()
                .map(audit_row)
                .collect();
            tx.commit().map_err(pg)?;
            Ok(Dump {
                meta,
                objects,
                versions,
                audit,
            })
        })
    }

    fn replace_all(&self, dump: &Dump) -> Result<()> {
        self.with_tx(|c, sent| {
            let mut tx = c.transaction().map_err(pg)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_WRITE])
                .map_err(pg)?;
            tx.batch_execute("DELETE FROM attr_index; DELETE FROM names; DELETE FROM versions; DELETE FROM objects; DELETE FROM audit; DELETE FROM meta;")
                .map_err(pg)?;
            for (k, v) in &dump.meta {
                tx.execute("INSERT INTO meta (k, v) VALUES ($1, $2)", &[k, v])
                    .map_err(pg)?;
            }
            for o in &dump.objects {
                put_object(&mut tx, o, Precondition::Absent)?;
            }
            for v in &dump.versions {
                tx.execute(
                    "INSERT INTO versions (uid, version, created, created_by, sealed) VALUES ($1, $2, $3, $4, $5)",
                    &[&v.uid, &(v.version as i64), &v.created, &v.created_by, &v.sealed],
                )
                .map_err(pg)?;
            }
            for e in &dump.audit {
                tx.execute(
                    "INSERT INTO audit (seq, ts, actor, action, uid, detail, prev, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[&(e.seq as i64), &e.ts, &e.actor, &e.action, &e.uid, &e.detail, &e.prev, &e.mac],
                )
                .map_err(pg)?;
            }
            *sent = true;
            tx.commit().map_err(pg)
        })
    }
}
