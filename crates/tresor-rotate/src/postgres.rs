//! The `postgres` rotator: a role's password.
//!
//! `apply` runs `ALTER ROLE "role" PASSWORD 'SCRAM-SHA-256$…'` over the admin connection
//! string kept in another vault secret; the SCRAM verifier is computed here, so the new
//! password never reaches the server (or its statement log) in clear. `verify` logs in as
//! the role with the new password.
//!
//! One role has one password: the old one is refused from the moment `apply` runs, so in
//! that mode `retire` has nothing left to do. With `two_roles` (dual credentials), the login
//! roles `ROLE_a` and `ROLE_b` (members of the group role `ROLE`, acting as it) take turns:
//! the secret holds `postgres://ROLE_x:PASSWORD@HOST:PORT/DB`, a rotation sets the password
//! of the login role not in use, and `retire` (after the grace period) removes the password of
//! the previous one, which PostgreSQL then refuses.

use std::str::FromStr;

use tresor_crypto::SecretBytes;

use tresor_store::PgTarget;

use crate::error::StepFailure;
use crate::rotator::{Rotator, StepCtx};

/// Rotates one role's password.
pub struct PostgresRotator {
    admin: PgTarget,
    /// The admin URL's TLS parameters, repeated in the URLs `--two-roles` stores.
    tls_query: String,
    role: String,
    two_roles: bool,
}

impl std::fmt::Debug for PostgresRotator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresRotator")
            .field("role", &self.role)
            .field("two_roles", &self.two_roles)
            .finish_non_exhaustive()
    }
}

/// `"name"` with inner quotes doubled: a safe SQL identifier.
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `'text'` with inner quotes doubled: a safe SQL string literal (never used for a value).
fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn pg_error(what: &str, e: &postgres::Error) -> StepFailure {
    // The driver's message, with the server's part when there is one; neither holds a value.
    match e.as_db_error() {
        Some(db) => StepFailure::new(format!("{what}: {} ({})", db.message(), db.code().code())),
        None => StepFailure::new(format!("{what}: {e}")),
    }
}

/// The connection error without the store's "backend unavailable" framing.
fn reason(e: tresor_store::StoreError) -> String {
    match e {
        tresor_store::StoreError::Unavailable(m) => m,
        e => e.to_string(),
    }
}

/// A login as (user, password) from a secret's value: in two-roles mode a connection URL.
struct Login {
    user: String,
    password: SecretBytes,
}

impl PostgresRotator {
    /// A rotator for `role`, administered through the connection string `admin_dsn`.
    ///
    /// The connection string follows the store's rules for `postgres://` URLs: TLS with
    /// `sslmode`/`sslrootcert` or `TRESOR_PG_CA`, verify-full by default for a remote host.
    ///
    /// # Errors
    /// The connection string does not parse (the message does not repeat it), a TLS file
    /// cannot be read.
    pub fn new(admin_dsn: &str, role: &str, two_roles: bool) -> Result<Self, StepFailure> {
        let admin = PgTarget::parse(admin_dsn).map_err(|e| StepFailure::new(e.to_string()))?;
        if role.is_empty() {
            return Err(StepFailure::new("the role name is empty"));
        }
        Ok(PostgresRotator {
            admin,
            tls_query: PgTarget::tls_query(admin_dsn),
            role: role.to_owned(),
            two_roles,
        })
    }

    fn admin(&self) -> Result<postgres::Client, StepFailure> {
        self.admin.connect().map_err(|e| {
            StepFailure::new(format!("connecting with the admin connection string: {e}"))
        })
    }

    fn login_roles(&self) -> [String; 2] {
        [format!("{}_a", self.role), format!("{}_b", self.role)]
    }

    /// Who a value logs in as.
    fn login(&self, v: &SecretBytes, which: &str) -> Result<Login, StepFailure> {
        if !self.two_roles {
            return Ok(Login {
                user: self.role.clone(),
                password: v.clone(),
            });
        }
        let text = v.as_str().unwrap_or("");
        // The libpq TLS parameters (sslrootcert, …) are not the driver's: user and password
        // come before them.
        let text = text.split_once('?').map(|(base, _)| base).unwrap_or(text);
        let cfg = postgres::Config::from_str(text).map_err(|_| {
            StepFailure::new(format!(
                "the {which} value is not a connection URL (postgres://USER:PASSWORD@HOST:PORT/DB)"
            ))
        })?;
        Ok(Login {
            user: cfg.get_user().unwrap_or("").to_owned(),
            password: SecretBytes::new(cfg.get_password().unwrap_or(&[]).to_vec()),
        })
    }

    /// `postgres://USER:PASSWORD@HOST:PORT/DB` on the admin string's server and database.
    fn url(&self, user: &str, password: &SecretBytes) -> Result<SecretBytes, StepFailure> {
        let pw = password.as_str().unwrap_or("");
        if !pw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        {
            return Err(StepFailure::new(
                "with --two-roles the password goes in a URL: use --alphabet alnum or hex",
            ));
        }
        let cfg = self.admin.config();
        let host = match cfg.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            _ => {
                return Err(StepFailure::new(
                    "with --two-roles the admin connection string must name a TCP host",
                ));
            }
        };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let port = cfg.get_ports().first().copied().unwrap_or(5432);
        let db = cfg.get_dbname().unwrap_or("postgres");
        let query = if self.tls_query.is_empty() {
            String::new()
        } else {
            format!("?{}", self.tls_query)
        };
        Ok(SecretBytes::new(
            format!("postgres://{user}:{pw}@{host}:{port}/{db}{query}").into_bytes(),
        ))
    }
}

impl Rotator for PostgresRotator {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn generate(&mut self, cx: &StepCtx<'_>) -> Result<SecretBytes, StepFailure> {
        let password = cx
            .policy
            .generate()
            .map_err(|e| StepFailure::new(e.to_string()))?;
        if !self.two_roles {
            return Ok(password);
        }
        // The login role not in use now (the first rotation starts with ROLE_a).
        let [a, b] = self.login_roles();
        let current = self.login(cx.current, "current").map(|l| l.user).ok();
        let next = if current.as_deref() == Some(a.as_str()) {
            b
        } else {
            a
        };
        self.url(&next, &password)
    }

    fn apply(&mut self, _cx: &StepCtx<'_>, new: &SecretBytes) -> Result<(), StepFailure> {
        let login = self.login(new, "new")?;
        let mut c = self.admin()?;
        let verifier = postgres_protocol::password::scram_sha_256(login.password.expose());
        if verifier.contains('\'') {
            return Err(StepFailure::new(
                "unexpected character in the SCRAM verifier",
            ));
        }
        let user = quote_ident(&login.user);
        if self.two_roles {
            if !self.login_roles().contains(&login.user) {
                return Err(StepFailure::new(format!(
                    "the new value logs in as '{}', not one of {:?}",
                    login.user,
                    self.login_roles()
                )));
            }
            // Create the login role on first use, a member of the group role that it acts as
            // (objects it creates belong to the group, not to one of the two logins).
            let group = quote_ident(&self.role);
            c.batch_execute(&format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {lit}) THEN \
                 CREATE ROLE {user} LOGIN IN ROLE {group}; END IF; END $$; \
                 ALTER ROLE {user} SET role = {role_lit}",
                lit = quote_literal(&login.user),
                role_lit = quote_literal(&self.role),
            ))
            .map_err(|e| pg_error(&format!("creating login role {}", login.user), &e))?;
        }
        // Two roles: a login retired earlier (PASSWORD NULL) comes back with no expiry.
        let extra = if self.two_roles {
            " LOGIN VALID UNTIL 'infinity'"
        } else {
            ""
        };
        c.batch_execute(&format!("ALTER ROLE {user} PASSWORD '{verifier}'{extra}"))
            .map_err(|e| pg_error(&format!("ALTER ROLE {user}"), &e))
    }

    fn verify(&mut self, _cx: &StepCtx<'_>, new: &SecretBytes) -> Result<(), StepFailure> {
        let login = self.login(new, "new")?;
        let mut c = self
            .admin
            .connect_as(&login.user, login.password.expose())
            .map_err(|e| {
                StepFailure::new(format!(
                    "logging in as {} with the new password: {}",
                    login.user,
                    reason(e)
                ))
            })?;
        c.simple_query("SELECT 1")
            .map_err(|e| pg_error("SELECT 1 as the role", &e))?;
        Ok(())
    }

    fn retire(&mut self, cx: &StepCtx<'_>, old: &SecretBytes) -> Result<(), StepFailure> {
        if !self.two_roles {
            // One password per role: `apply` already replaced the old one.
            return Ok(());
        }
        let Ok(old) = self.login(old, "old") else {
            // The value before the first rotation was not a URL: no login role to retire.
            return Ok(());
        };
        let current = self.login(cx.current, "current")?;
        if old.user == current.user || !self.login_roles().contains(&old.user) {
            return Ok(());
        }
        let mut c = self.admin()?;
        c.batch_execute(&format!(
            "ALTER ROLE {} PASSWORD NULL",
            quote_ident(&old.user)
        ))
        .map_err(|e| pg_error(&format!("ALTER ROLE {} PASSWORD NULL", old.user), &e))
    }
}
