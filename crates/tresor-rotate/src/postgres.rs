//! The `postgres` rotator: a role's password.
//!
//! `apply` runs `ALTER ROLE "role" PASSWORD 'SCRAM-SHA-256$…'` over the admin connection
//! string kept in another vault secret; the SCRAM verifier is computed here, so the new
//! password never reaches the server (or its statement log) in clear. `verify` logs in as
//! the role with the new password. PostgreSQL keeps one password per role: the old one is
//! refused from the moment `apply` runs, so `retire` has nothing left to do and the grace
//! period only keeps the old version readable in the vault.

use std::str::FromStr;
use std::time::Duration;

use tresor_crypto::SecretBytes;

use crate::error::StepFailure;
use crate::rotator::{Rotator, StepCtx};

/// Rotates one role's password.
pub struct PostgresRotator {
    admin: postgres::Config,
    role: String,
}

impl std::fmt::Debug for PostgresRotator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresRotator")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// `"name"` with inner quotes doubled: a safe SQL identifier.
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn pg_error(what: &str, e: &postgres::Error) -> StepFailure {
    // The driver's message, with the server's part when there is one; neither holds a value.
    match e.as_db_error() {
        Some(db) => StepFailure::new(format!("{what}: {} ({})", db.message(), db.code().code())),
        None => StepFailure::new(format!("{what}: {e}")),
    }
}

impl PostgresRotator {
    /// A rotator for `role`, administered through the connection string `admin_dsn`.
    ///
    /// # Errors
    /// The connection string does not parse (the message does not repeat it), or asks for TLS.
    pub fn new(admin_dsn: &str, role: &str) -> Result<Self, StepFailure> {
        let mut admin = postgres::Config::from_str(admin_dsn).map_err(|_| {
            StepFailure::new(
                "the admin connection string does not parse (expected postgres://USER:PASSWORD@HOST:PORT/DB)",
            )
        })?;
        if admin.get_ssl_mode() == postgres::config::SslMode::Require {
            return Err(StepFailure::new(
                "the postgres rotator connects without TLS: use a local or private-network address with sslmode=disable or prefer",
            ));
        }
        if role.is_empty() {
            return Err(StepFailure::new("the role name is empty"));
        }
        admin.connect_timeout(Duration::from_secs(10));
        Ok(PostgresRotator {
            admin,
            role: role.to_owned(),
        })
    }
}

impl Rotator for PostgresRotator {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn apply(&mut self, _cx: &StepCtx<'_>, new: &SecretBytes) -> Result<(), StepFailure> {
        let mut c = self
            .admin
            .connect(postgres::NoTls)
            .map_err(|e| pg_error("connecting with the admin connection string", &e))?;
        let verifier = postgres_protocol::password::scram_sha_256(new.expose());
        if verifier.contains('\'') {
            return Err(StepFailure::new(
                "unexpected character in the SCRAM verifier",
            ));
        }
        c.batch_execute(&format!(
            "ALTER ROLE {} PASSWORD '{verifier}'",
            quote_ident(&self.role)
        ))
        .map_err(|e| pg_error(&format!("ALTER ROLE {}", quote_ident(&self.role)), &e))
    }

    fn verify(&mut self, _cx: &StepCtx<'_>, new: &SecretBytes) -> Result<(), StepFailure> {
        let mut cfg = self.admin.clone();
        cfg.user(&self.role).password(new.expose());
        let mut c = cfg.connect(postgres::NoTls).map_err(|e| {
            pg_error(
                &format!("logging in as {} with the new password", self.role),
                &e,
            )
        })?;
        c.simple_query("SELECT 1")
            .map_err(|e| pg_error("SELECT 1 as the role", &e))?;
        Ok(())
    }

    fn retire(&mut self, _cx: &StepCtx<'_>, _old: &SecretBytes) -> Result<(), StepFailure> {
        // One password per role: `apply` already replaced the old one.
        Ok(())
    }
}
