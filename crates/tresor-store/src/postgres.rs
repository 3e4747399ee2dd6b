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

use std::cell::RefCell;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row, Statement, Transaction};
use tokio_postgres_rustls::MakeRustlsConnect;

mod client;
mod tls;

pub use client::PgTarget;

use crate::audit::{AuditEntry, AuditSigner, GENESIS};
use crate::backend::{Backend, Batch, Dump, Precondition, Write};
use crate::group::{GroupCommit, Slot, fail_group};
use crate::model::{ObjectMeta, SealedVersion};
use crate::query::Query;
use crate::sqlite::SCHEMA_VERSION;
use crate::{Result, StoreError};

const LOCK_MIGRATE: i64 = 0x7472_6573_6f72_0001;
const LOCK_WRITE: i64 = 0x7472_6573_6f72_0002;
/// Idle connections kept per backend (more may be open while busy).
const MAX_IDLE: usize = 16;

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

/// The object columns every object query selects, in [`row_meta`]'s order.
macro_rules! obj_cols {
    () => {
        "o.uid, o.object_type, o.state, o.owner, o.names, o.attrs, o.current_version, o.created, o.updated, o.rev, o.mac"
    };
}
const OBJ_COLS: &str = obj_cols!();
/// The version columns [`row_version`] reads.
macro_rules! version_cols {
    () => {
        "v.version, v.created, v.created_by, v.sealed"
    };
}

// `get` and `get_by_name` bring the current version along (see [`Prefetched`]).
const SQL_GET: &str = concat!(
    "SELECT ",
    obj_cols!(),
    ", ",
    version_cols!(),
    " FROM objects o LEFT JOIN versions v ON v.uid=o.uid AND v.version=o.current_version WHERE o.uid=$1"
);
const SQL_GET_BY_NAME: &str = concat!(
    "SELECT ",
    obj_cols!(),
    ", ",
    version_cols!(),
    " FROM names n JOIN objects o ON o.uid=n.uid \
     LEFT JOIN versions v ON v.uid=o.uid AND v.version=o.current_version WHERE n.name=$1"
);
const SQL_GET_MANY_BY_NAME: &str = concat!(
    "SELECT ",
    obj_cols!(),
    ", ",
    version_cols!(),
    ", w.i FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS w(name, ver, i) \
     JOIN names n ON n.name=w.name JOIN objects o ON o.uid=n.uid \
     LEFT JOIN versions v ON v.uid=o.uid AND v.version=\
     (CASE WHEN w.ver=0 THEN o.current_version ELSE w.ver END)"
);
const SQL_VERSION: &str = concat!(
    "SELECT ",
    version_cols!(),
    " FROM versions v WHERE v.uid=$1 AND v.version=$2"
);
const SQL_VERSIONS: &str = concat!(
    "SELECT ",
    version_cols!(),
    " FROM versions v WHERE v.uid=$1 ORDER BY v.version"
);
const SQL_LOCK: &str = "SELECT pg_advisory_xact_lock($1)";
const SQL_INSERT_VERSION: &str =
    "INSERT INTO versions (uid, version, created, created_by, sealed) VALUES ($1, $2, $3, $4, $5)";
const SQL_INSERT_AUDIT: &str = "INSERT INTO audit (seq, ts, actor, action, uid, detail, prev, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Statements a connection has prepared, by SQL text.
///
/// PostgreSQL keeps a prepared statement for the whole session, so a cached one costs one
/// round trip (Bind/Execute) instead of two (Parse/Describe, then Bind/Execute), and the server
/// skips parsing and analysis. A new connection starts with none: reconnecting (after
/// PostgreSQL restarted, say) invalidates them with the connection.
#[derive(Default)]
struct Statements {
    by_sql: HashMap<String, Statement>,
}

/// At most this many statements per connection: Locate builds its SQL from the query, so the
/// texts are not a fixed set. When full, the cache starts again.
const MAX_STATEMENTS: usize = 64;

impl Statements {
    fn get(&mut self, c: &mut impl GenericClient, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.by_sql.get(sql) {
            return Ok(s.clone());
        }
        if self.by_sql.len() >= MAX_STATEMENTS {
            self.by_sql.clear();
        }
        let s = c.prepare(sql)?;
        self.by_sql.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// After an error: a cached plan PostgreSQL can no longer use (SQLSTATE 0A000, "cached
    /// plan must not change result type": a table changed under it) empties the cache, so the
    /// next call prepares afresh. Returns true if and only if that happened.
    fn forget_if_stale(&mut self, e: &postgres::Error) -> bool {
        let stale = e.code() == Some(&postgres::error::SqlState::FEATURE_NOT_SUPPORTED);
        if stale {
            self.by_sql.clear();
        }
        stale
    }
}

/// A pooled connection with its prepared statements.
struct Conn {
    client: Client,
    statements: Statements,
    /// Set when [`Statements::forget_if_stale`] emptied the cache during the last call.
    stale: bool,
}

/// Query helpers shared by a connection and a transaction on it: every statement is
/// prepared once per connection.
macro_rules! cached_queries {
    ($client:ident) => {
        fn query_opt(
            &mut self,
            sql: &str,
            params: &[&(dyn ToSql + Sync)],
        ) -> std::result::Result<Option<Row>, postgres::Error> {
            let st = self.statements.get(&mut self.$client, sql)?;
            let r = self.$client.query_opt(&st, params);
            self.note(r)
        }

        fn query(
            &mut self,
            sql: &str,
            params: &[&(dyn ToSql + Sync)],
        ) -> std::result::Result<Vec<Row>, postgres::Error> {
            let st = self.statements.get(&mut self.$client, sql)?;
            let r = self.$client.query(&st, params);
            self.note(r)
        }

        fn execute(
            &mut self,
            sql: &str,
            params: &[&(dyn ToSql + Sync)],
        ) -> std::result::Result<u64, postgres::Error> {
            let st = self.statements.get(&mut self.$client, sql)?;
            let r = self.$client.execute(&st, params);
            self.note(r)
        }
    };
}

impl Conn {
    fn new(client: Client) -> Self {
        Conn {
            client,
            statements: Statements::default(),
            stale: false,
        }
    }

    fn note<T>(
        &mut self,
        r: std::result::Result<T, postgres::Error>,
    ) -> std::result::Result<T, postgres::Error> {
        if let Err(e) = &r {
            self.stale |= self.statements.forget_if_stale(e);
        }
        r
    }

    cached_queries!(client);

    fn query_one(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> std::result::Result<Row, postgres::Error> {
        let st = self.statements.get(&mut self.client, sql)?;
        let r = self.client.query_one(&st, params);
        self.note(r)
    }

    fn batch_execute(&mut self, sql: &str) -> std::result::Result<(), postgres::Error> {
        self.client.batch_execute(sql)
    }

    /// A read-write transaction whose statements use this connection's cache.
    fn transaction(&mut self) -> std::result::Result<Tx<'_>, postgres::Error> {
        Ok(Tx {
            tx: self.client.transaction()?,
            statements: &mut self.statements,
            stale: &mut self.stale,
        })
    }

    /// A read-only snapshot (REPEATABLE READ) transaction.
    fn snapshot(&mut self) -> std::result::Result<Tx<'_>, postgres::Error> {
        Ok(Tx {
            tx: self
                .client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?,
            statements: &mut self.statements,
            stale: &mut self.stale,
        })
    }
}

/// A transaction on a [`Conn`], using and filling its statement cache (PostgreSQL keeps
/// prepared statements across a rollback: they belong to the session, not the transaction).
struct Tx<'a> {
    tx: Transaction<'a>,
    statements: &'a mut Statements,
    stale: &'a mut bool,
}

impl Tx<'_> {
    fn note<T>(
        &mut self,
        r: std::result::Result<T, postgres::Error>,
    ) -> std::result::Result<T, postgres::Error> {
        if let Err(e) = &r {
            *self.stale |= self.statements.forget_if_stale(e);
        }
        r
    }

    cached_queries!(tx);

    fn batch_execute(&mut self, sql: &str) -> std::result::Result<(), postgres::Error> {
        self.tx.batch_execute(sql)
    }

    fn commit(self) -> std::result::Result<(), postgres::Error> {
        self.tx.commit()
    }

    /// A savepoint in this transaction: dropped without [`Tx::commit`], it rolls back to
    /// where it was taken, and only that.
    fn savepoint(&mut self) -> std::result::Result<Tx<'_>, postgres::Error> {
        Ok(Tx {
            tx: self.tx.transaction()?,
            statements: &mut *self.statements,
            stale: &mut *self.stale,
        })
    }
}

/// The current version that the last `get` / `get_by_name` on this thread read along with the
/// object, kept for the `version` call that usually follows at once (a KMIP Get loads the
/// object, checks it, then asks for its material): one query and one round trip instead of
/// two. It answers only the very next call of the same backend on the same thread, and only
/// for that object and version; any other call forgets it first. So it never outlives the
/// read it came with, and object and material come from one snapshot (one statement), which
/// two separate queries did not guarantee. The material in it is sealed, as in the table.
struct Prefetched {
    backend: u64,
    uid: String,
    version: u32,
    row: Option<SealedVersion>,
}

thread_local! {
    static PREFETCHED: RefCell<Option<Prefetched>> = const { RefCell::new(None) };
}

/// Distinguishes backends in [`PREFETCHED`] (tests open several in one process).
static NEXT_BACKEND_ID: AtomicU64 = AtomicU64::new(1);

fn forget_prefetched() {
    PREFETCHED.with(|p| p.borrow_mut().take());
}

/// Runs `f`, which blocks on PostgreSQL, so that it may be called from anywhere.
///
/// The sync `postgres` client drives its connection with a runtime of its own, which must not
/// start on a thread that is running tokio tasks (a KMIP server answers reads in place on its
/// worker): that panics. On a multi-thread runtime `block_in_place` hands the worker's other
/// tasks to another thread for the wait, so the other connections keep being served while
/// this one waits for PostgreSQL. Outside a runtime, and on a current-thread runtime (where
/// `block_in_place` is not allowed; the caller must then use `spawn_blocking`), `f` runs as is.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// A PostgreSQL database holding a store.
pub struct PostgresBackend {
    id: u64,
    config: postgres::Config,
    tls: MakeRustlsConnect,
    pool: Mutex<Vec<Conn>>,
    group: GroupCommit,
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        // Closing a connection blocks too (it tells the server goodbye).
        let pool = self.pool.get_mut().map(std::mem::take).unwrap_or_default();
        blocking(|| drop(pool));
    }
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
            id: NEXT_BACKEND_ID.fetch_add(1, Ordering::Relaxed),
            config,
            tls: tls::connector(&tls_settings)?,
            pool: Mutex::new(Vec::new()),
            group: GroupCommit::default(),
        };
        blocking(|| -> Result<()> {
            let mut c = b
                .connect_one()
                .map_err(|e| tls::explain(&tls_settings, e))?;
            b.migrate(&mut c)?;
            b.release(c);
            Ok(())
        })?;
        Ok(b)
    }

    fn connect_one(&self) -> Result<Conn> {
        self.config
            .connect(self.tls.clone())
            .map(Conn::new)
            .map_err(unavailable)
    }

    /// A connection from the pool (`true`) or a fresh one (`false`).
    fn take(&self) -> Result<(Conn, bool)> {
        loop {
            let popped = self.pool.lock().map(|mut p| p.pop()).unwrap_or(None);
            match popped {
                Some(c) if c.client.is_closed() => continue,
                Some(c) => return Ok((c, true)),
                None => return Ok((self.connect_one()?, false)),
            }
        }
    }

    fn release(&self, mut c: Conn) {
        if c.client.is_closed() {
            return;
        }
        c.stale = false;
        if let Ok(mut p) = self.pool.lock()
            && p.len() < MAX_IDLE
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
    /// failed before its COMMIT was sent — see [`PostgresBackend::commit`]). So is a call
    /// that met a stale cached plan, on the same connection once its cache is emptied.
    fn with<T>(
        &self,
        f: impl FnMut(&mut Conn) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        forget_prefetched();
        blocking(|| self.with_here(f))
    }

    fn with_here<T>(
        &self,
        mut f: impl FnMut(&mut Conn) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let (mut c, pooled) = self.take()?;
        let mut r = f(&mut c);
        if r.is_err() && std::mem::take(&mut c.stale) {
            r = f(&mut c);
        }
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
    /// Applies a group of batches (see [`crate::group`]) in one transaction holding the
    /// writers' advisory lock once, each batch under its own savepoint, and commits once.
    fn apply_group(&self, group: &[Arc<Slot>]) -> Vec<Result<()>> {
        let r = self.with_tx(|c, sent| {
            let mut tx = c.transaction().map_err(pg)?;
            // Serialise writers: the audit chain must stay linear across servers.
            tx.execute(SQL_LOCK, &[&LOCK_WRITE]).map_err(pg)?;
            let mut out = Vec::with_capacity(group.len());
            if let [only] = group {
                // A lone writer: its transaction is its scope; its error is the commit's.
                apply_batch(&mut tx, &only.batch, &only.signer)?;
                out.push(Ok(()));
            } else {
                for slot in group {
                    let mut sp = tx.savepoint().map_err(pg)?;
                    match apply_batch(&mut sp, &slot.batch, &slot.signer) {
                        Ok(()) => {
                            sp.commit().map_err(pg)?;
                            out.push(Ok(()));
                        }
                        // A statement invalidated by another server's migration: retry the
                        // whole group on fresh statements rather than fail this batch.
                        Err(e) if *sp.stale => return Err(e),
                        // Dropping the savepoint rolls this batch back, and only it.
                        Err(e) => out.push(Err(e)),
                    }
                }
            }
            // From here a broken connection may have committed: no retry.
            *sent = true;
            tx.commit().map_err(pg)?;
            Ok(out)
        });
        match r {
            Ok(out) => out,
            Err(e) => fail_group(e, group.len(), |e| StoreError::Unavailable(e.to_string())),
        }
    }

    fn with_tx<T>(&self, f: impl FnMut(&mut Conn, &mut bool) -> Result<T>) -> Result<T> {
        forget_prefetched();
        blocking(|| self.with_tx_here(f))
    }

    fn with_tx_here<T>(&self, mut f: impl FnMut(&mut Conn, &mut bool) -> Result<T>) -> Result<T> {
        let (mut c, pooled) = self.take()?;
        let mut sent = false;
        let mut r = f(&mut c, &mut sent);
        if r.is_err() && !sent && std::mem::take(&mut c.stale) {
            r = f(&mut c, &mut sent);
        }
        let broken = c.client.is_closed() || matches!(r, Err(StoreError::Unavailable(_)));
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

    fn migrate(&self, c: &mut Conn) -> Result<()> {
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

impl PostgresBackend {
    /// The object of a `get` row, keeping its current version (columns 10..) for `version`.
    fn prefetch(&self, r: &Row) -> Result<ObjectMeta> {
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
        // NULL or not 32 bytes: no MAC (the read is refused as tampered).
        mac: r
            .get::<_, Option<&[u8]>>(10)
            .and_then(|b| <[u8; 32]>::try_from(b).ok()),
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

fn put_object(tx: &mut Tx<'_>, meta: &ObjectMeta, expect: Precondition) -> Result<()> {
    let names =
        serde_json::to_string(&meta.names).map_err(|e| StoreError::Decode(e.to_string()))?;
    let attrs =
        serde_json::to_string(&meta.attributes).map_err(|e| StoreError::Decode(e.to_string()))?;
    let (cv, rev) = (meta.current_version as i64, meta.rev as i64);
    let mac: Option<&[u8]> = meta.mac.as_ref().map(|m| &m[..]);
    match expect {
        Precondition::Absent => {
            let r = tx.execute(
                "INSERT INTO objects (uid, object_type, state, owner, name, names, attrs, current_version, created, updated, rev, mac) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[&meta.uid, &meta.object_type.as_str(), &meta.state.as_str(), &meta.owner, &meta.name(), &names, &attrs, &cv, &meta.created, &meta.updated, &rev, &mac],
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
                    "UPDATE objects SET object_type=$2, state=$3, owner=$4, name=$5, names=$6, attrs=$7, current_version=$8, updated=$9, rev=$10, mac=$12 \
                     WHERE uid=$1 AND rev=$11",
                    &[&meta.uid, &meta.object_type.as_str(), &meta.state.as_str(), &meta.owner, &meta.name(), &names, &attrs, &cv, &meta.updated, &rev, &(old as i64), &mac],
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
    for (a, v) in crate::query::indexed_rows(&meta.attributes) {
        tx.execute(
            "INSERT INTO attr_index (attr, value, uid) VALUES ($1, $2, $3)",
            &[&a, &v, &meta.uid],
        )
        .map_err(pg)?;
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

/// Applies one batch on `tx` (the group's transaction or a savepoint in it), audit last.
fn apply_batch(tx: &mut Tx<'_>, batch: &Batch, signer: &AuditSigner) -> Result<()> {
    for w in &batch.writes {
        match w {
            Write::PutObject { meta, expect } => put_object(tx, meta, *expect)?,
            Write::PutVersion(v) => {
                let r = tx.execute(
                    SQL_INSERT_VERSION,
                    &[
                        &v.uid,
                        &(v.version as i64),
                        &v.created,
                        &v.created_by,
                        &v.sealed,
                    ],
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
            Write::RewrapVersion {
                uid,
                version,
                from,
                to,
            } => {
                let n = tx
                    .execute(
                        "UPDATE versions SET sealed=$4 WHERE uid=$1 AND version=$2 AND sealed=$3",
                        &[uid, &(*version as i64), from, to],
                    )
                    .map_err(pg)?;
                if n == 0 {
                    return Err(StoreError::Conflict(uid.clone()));
                }
            }
            Write::SetMeta { key, value, expect } => {
                let now: Option<Vec<u8>> = tx
                    .query_opt("SELECT v FROM meta WHERE k=$1", &[key])
                    .map_err(pg)?
                    .map(|r| r.get(0));
                if now != *expect {
                    return Err(StoreError::Conflict(key.clone()));
                }
                tx.execute(
                    "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                    &[key, value],
                )
                .map_err(pg)?;
            }
            Write::MetaAbsentOr { key, value } => {
                let now: Option<Vec<u8>> = tx
                    .query_opt("SELECT v FROM meta WHERE k=$1", &[key])
                    .map_err(pg)?
                    .map(|r| r.get(0));
                if now.is_some_and(|v| v != *value) {
                    return Err(StoreError::KeyRotated);
                }
            }
            Write::AllSealedStartWith { prefix } => {
                let len = prefix.len() as i32;
                let other: i64 = tx
                    .query_opt(
                        "SELECT count(*) FROM versions WHERE sealed IS NOT NULL AND substring(sealed FROM 1 FOR $1) <> $2",
                        &[&len, prefix],
                    )
                    .map_err(pg)?
                    .map_or(0, |r| r.get(0));
                if other != 0 {
                    return Err(StoreError::Conflict(format!(
                        "{other} version(s) sealed under another key"
                    )));
                }
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
    append_audit(tx, &batch.audit, signer)
}

/// Appends `audit` to the chain inside `tx` (which holds the write lock).
fn append_audit(tx: &mut Tx<'_>, audit: &[crate::AuditDraft], signer: &AuditSigner) -> Result<()> {
    if audit.is_empty() {
        return Ok(());
    }
    let last = tx
        .query_opt("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1", &[])
        .map_err(pg)?;
    let (mut seq, mut prev) = match last {
        Some(r) => (r.get::<_, i64>(0) as u64, r.get::<_, String>(1)),
        None => (0, GENESIS.to_owned()),
    };
    let ts = crate::model::now();
    for d in audit {
        seq += 1;
        let mac = signer.mac(seq, ts, d, &prev);
        tx.execute(
            SQL_INSERT_AUDIT,
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
    Ok(())
}

impl Backend for PostgresBackend {
    fn group_sizes(&self) -> Vec<(usize, u64)> {
        self.group.group_sizes()
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn get(&self, uid: &str) -> Result<Option<ObjectMeta>> {
        let r = self.with(|c| c.query_opt(SQL_GET, &[&uid]))?;
        r.map(|r| self.prefetch(&r)).transpose()
    }

    fn get_by_name(&self, name: &str) -> Result<Option<ObjectMeta>> {
        let r = self.with(|c| c.query_opt(SQL_GET_BY_NAME, &[&name]))?;
        r.map(|r| self.prefetch(&r)).transpose()
    }

    fn get_current_by_name(
        &self,
        name: &str,
    ) -> Result<Option<(ObjectMeta, Option<SealedVersion>)>> {
        let r = self.with(|c| c.query_opt(SQL_GET_BY_NAME, &[&name]))?;
        match r {
            None => Ok(None),
            Some(r) => {
                let m = row_meta(&r)?;
                let v = row_version(&m.uid, &r, 11);
                Ok(Some((m, v)))
            }
        }
    }

    fn get_many_by_name(
        &self,
        wanted: &[(&str, u32)],
    ) -> Result<Vec<Option<crate::backend::Found>>> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // One statement for every name: two arrays unnested side by side, each row joined
        // to its name and object by primary key and to the version asked for (0: current).
        let names: Vec<&str> = wanted.iter().map(|(n, _)| *n).collect();
        let versions: Vec<i64> = wanted.iter().map(|(_, v)| i64::from(*v)).collect();
        let rows = self.with(|c| c.query(SQL_GET_MANY_BY_NAME, &[&names, &versions]))?;
        let mut out: Vec<Option<crate::backend::Found>> = vec![None; wanted.len()];
        for r in &rows {
            let m = row_meta(r)?;
            let v = row_version(&m.uid, r, 11);
            let i: i64 = r.get(15);
            if let Some(slot) = usize::try_from(i - 1).ok().and_then(|i| out.get_mut(i)) {
                *slot = Some((m, v));
            }
        }
        Ok(out)
    }

    fn version(&self, uid: &str, version: u32) -> Result<Option<SealedVersion>> {
        let hit = PREFETCHED.with(|p| {
            p.borrow_mut()
                .take()
                .filter(|p| p.backend == self.id && p.uid == uid && p.version == version)
        });
        if let Some(p) = hit {
            return Ok(p.row);
        }
        let r = self.with(|c| c.query_opt(SQL_VERSION, &[&uid, &(version as i64)]))?;
        Ok(r.and_then(|r| row_version(uid, &r, 0)))
    }

    fn versions(&self, uid: &str) -> Result<Vec<SealedVersion>> {
        let rows = self.with(|c| c.query(SQL_VERSIONS, &[&uid]))?;
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
        self.group
            .commit(batch, signer, |group| self.apply_group(group))
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
            let mut tx = c.snapshot().map_err(pg)?;
            let meta = tx
                .query("SELECT k, v FROM meta ORDER BY k", &[])
                .map_err(pg)?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let objects = tx
                .query(
                    concat!("SELECT ", obj_cols!(), " FROM objects o ORDER BY o.uid"),
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

    fn backfill_macs(
        &self,
        mac: &dyn Fn(&ObjectMeta) -> [u8; 32],
        marker: &str,
        note: &crate::AuditDraft,
        signer: &AuditSigner,
    ) -> Result<u64> {
        self.with_tx(|c, sent| {
            let mut tx = c.transaction().map_err(pg)?;
            tx.execute(SQL_LOCK, &[&LOCK_WRITE]).map_err(pg)?;
            // Another server may have brought it forward since the caller looked.
            if tx
                .query_opt("SELECT 1 FROM meta WHERE k=$1", &[&marker])
                .map_err(pg)?
                .is_some()
            {
                return Ok(0);
            }
            let todo = tx
                .query(
                    concat!(
                        "SELECT ",
                        obj_cols!(),
                        " FROM objects o WHERE o.mac IS NULL"
                    ),
                    &[],
                )
                .map_err(pg)?
                .iter()
                .map(row_meta)
                .collect::<Result<Vec<_>>>()?;
            let maced: i64 = tx
                .query_opt("SELECT count(*) FROM objects WHERE mac IS NOT NULL", &[])
                .map_err(pg)?
                .map(|r| r.get(0))
                .unwrap_or(0);
            if maced > 0 {
                return Err(crate::sqlite::half_maced(marker));
            }
            for m in &todo {
                tx.execute(
                    "UPDATE objects SET mac=$2 WHERE uid=$1",
                    &[&m.uid, &&mac(m)[..]],
                )
                .map_err(pg)?;
            }
            tx.execute(
                "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING",
                &[&marker, &&b"1"[..]],
            )
            .map_err(pg)?;
            if !todo.is_empty() {
                let mut note = note.clone();
                note.detail = format!("{} ({} objects)", note.detail, todo.len());
                append_audit(&mut tx, std::slice::from_ref(&note), signer)?;
            }
            *sent = true;
            tx.commit().map_err(pg)?;
            Ok(todo.len() as u64)
        })
    }

    fn replace_all(&self, dump: &Dump) -> Result<()> {
        self.with_tx(|c, sent| {
            let mut tx = c.transaction().map_err(pg)?;
            tx.execute(SQL_LOCK, &[&LOCK_WRITE]).map_err(pg)?;
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
                    SQL_INSERT_VERSION,
                    &[&v.uid, &(v.version as i64), &v.created, &v.created_by, &v.sealed],
                )
                .map_err(pg)?;
            }
            for e in &dump.audit {
                tx.execute(
                    SQL_INSERT_AUDIT,
                    &[&(e.seq as i64), &e.ts, &e.actor, &e.action, &e.uid, &e.detail, &e.prev, &e.mac],
                )
                .map_err(pg)?;
            }
            *sent = true;
            tx.commit().map_err(pg)
        })
    }
}
