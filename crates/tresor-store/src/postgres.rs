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

use tokio_postgres_rustls::MakeRustlsConnect;

mod backend_impl;
mod client;
mod conn;
mod errors;
mod migrate;
mod pool;
mod sql;
mod tls;
mod write;

pub use client::PgTarget;

use crate::group::GroupCommit;
use crate::{Result, StoreError};
use conn::Conn;
use pool::blocking;

const LOCK_MIGRATE: i64 = 0x7472_6573_6f72_0001;
const LOCK_WRITE: i64 = 0x7472_6573_6f72_0002;

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
            id: crate::prefetch::backend_id(),
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
}
