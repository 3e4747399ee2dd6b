//! PostgreSQL connections for other doors (tresor-rotate's admin connection and its logins as
//! the rotated role), with the backend's URL grammar and TLS rules: `sslmode`, `sslrootcert`,
//! `sslcert`/`sslkey`, `TRESOR_PG_CA`, verify-full by default for a remote host.

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls::{self, TlsSettings};
use crate::{Result, StoreError};

/// A PostgreSQL server, and how to reach it, parsed from a `postgres://` URL.
pub struct PgTarget {
    config: postgres::Config,
    settings: TlsSettings,
    tls: MakeRustlsConnect,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("hosts", &self.config.get_hosts())
            .field("user", &self.config.get_user())
            .finish_non_exhaustive()
    }
}

impl PgTarget {
    /// Parses `url`; the error never repeats the URL (it may hold a password).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] for a URL that does not parse or TLS files that cannot
    /// be read.
    pub fn parse(url: &str) -> Result<Self> {
        let (rest, settings) = tls::split_url(url)?;
        let mut config = postgres::Config::from_str(&rest).map_err(|_| {
            StoreError::Unavailable(
                "bad PostgreSQL URL (expected postgres://USER:PASSWORD@HOST:PORT/DB)".into(),
            )
        })?;
        config.ssl_mode(settings.mode);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let tls = tls::connector(&settings)?;
        Ok(PgTarget {
            config,
            settings,
            tls,
        })
    }

    /// The connection settings (hosts, port, database, user).
    pub fn config(&self) -> &postgres::Config {
        &self.config
    }

    /// The URL's TLS parameters, as `sslmode=…&sslrootcert=…` (empty for none), to hand on to
    /// a URL made for the same server.
    pub fn tls_query(url: &str) -> String {
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
        query
            .split('&')
            .filter(|p| {
                let k = p.split_once('=').map(|(k, _)| k).unwrap_or(p);
                matches!(k, "sslmode" | "sslrootcert" | "sslcert" | "sslkey")
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Connects with the URL's own credentials.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] with the server's reason (and what to do about a
    /// certificate that did not verify).
    pub fn connect(&self) -> Result<postgres::Client> {
        self.connect_with(&self.config)
    }

    /// Connects to the same server and database as `user` with `password`.
    ///
    /// # Errors
    /// As [`PgTarget::connect`]; a refused login is `Unavailable` with SQLSTATE 28P01 in it.
    pub fn connect_as(&self, user: &str, password: &[u8]) -> Result<postgres::Client> {
        let mut c = self.config.clone();
        c.user(user).password(password);
        self.connect_with(&c)
    }

    fn connect_with(&self, c: &postgres::Config) -> Result<postgres::Client> {
        c.connect(self.tls.clone()).map_err(|e| {
            tls::explain(
                &self.settings,
                StoreError::Unavailable(super::errors::describe(&e)),
            )
        })
    }
}
