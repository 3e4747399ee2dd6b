//! Where a store lives, named by a URL, and the one place a backend is opened from one.
//!
//! | URL | backend |
//! |---|---|
//! | a path, `sqlite:PATH` | [`SqliteBackend`](crate::SqliteBackend) |
//! | `postgres://…`, `postgresql://…` | [`PostgresBackend`](crate::PostgresBackend) (feature `postgres`) |
//! | `s3://bucket/prefix` | tresor-s3's backend, when a composition root has [`install`]ed it |
//!
//! This crate opens the SQL backends it holds. Backends that live in door crates (S3 in
//! tresor-s3) are opened through an [`Opener`] the composition root (the `tresor` binary,
//! the Python wheel) installs once at start, as `sqlx::any::install_default_drivers` does, so
//! the vault and every other door open any store by URL without depending on the crate that
//! implements it.
//!
//! # Examples
//!
//! ```
//! use tresor_store::store_url::StoreUrl;
//!
//! assert!(matches!(StoreUrl::parse("/var/lib/tresor/t.db")?, StoreUrl::Sqlite(_)));
//! assert!(matches!(StoreUrl::parse("sqlite:t.db")?, StoreUrl::Sqlite(_)));
//! assert!(matches!(StoreUrl::parse("s3://bucket/team")?, StoreUrl::S3(_)));
//! let e = StoreUrl::parse("ftp://host/x").unwrap_err().to_string();
//! assert!(e.contains("unsupported store 'ftp://'"), "{e}");
//! # Ok::<(), tresor_store::StoreError>(())
//! ```

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crate::{Backend, Result, StoreError};

/// A store location, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A SQLite file (a plain path or `sqlite:PATH`).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://…` or `postgresql://…`, as given).
    Postgres(String),
    /// An S3 bucket and prefix (`s3://bucket/prefix`, as given).
    S3(String),
}

impl StoreUrl {
    /// Parses a store location.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] for a scheme other than those above, naming the ones that
    /// are.
    pub fn parse(url: &str) -> Result<StoreUrl> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(url.to_owned()));
        }
        if url.starts_with("s3://") {
            return Ok(StoreUrl::S3(url.to_owned()));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(StoreError::Unsupported(format!(
                "unsupported store '{scheme}://': use a path, sqlite:PATH, postgres://… or s3://…"
            )));
        }
        Ok(StoreUrl::Sqlite(PathBuf::from(
            url.strip_prefix("sqlite:").unwrap_or(url),
        )))
    }

    /// True for a store on this machine (a SQLite file), whose state a local file can vouch
    /// for (the audit head kept beside a vault's key file).
    pub fn is_local(&self) -> bool {
        matches!(self, StoreUrl::Sqlite(_))
    }

    /// True for a store on S3, where every check costs a round trip.
    pub fn is_s3(&self) -> bool {
        matches!(self, StoreUrl::S3(_))
    }

    /// Opens the backend this URL names: SQLite and PostgreSQL here, S3 through the installed
    /// [`Opener`].
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] when this program was built without the backend; the
    /// backend's own errors.
    pub fn open(&self) -> Result<Arc<dyn Backend>> {
        match self {
            StoreUrl::Sqlite(path) => Ok(Arc::new(crate::SqliteBackend::open(path)?)),
            StoreUrl::Postgres(url) => open_postgres(url),
            StoreUrl::S3(url) => match S3_OPENER.get() {
                Some(open) => open(url),
                None => Err(StoreError::Unsupported(
                    "this tresor was built without S3 support (feature 's3')".into(),
                )),
            },
        }
    }
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &str) -> Result<Arc<dyn Backend>> {
    Ok(Arc::new(crate::PostgresBackend::connect(url)?))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(_: &str) -> Result<Arc<dyn Backend>> {
    Err(StoreError::Unsupported(
        "this tresor was built without PostgreSQL support (feature 'postgres')".into(),
    ))
}

/// Opens the backend of an `s3://` URL (tresor-s3's `open_backend`).
pub type Opener = fn(&str) -> Result<Arc<dyn Backend>>;

static S3_OPENER: OnceLock<Opener> = OnceLock::new();

/// Makes `s3://` URLs open with `opener` in this process. Called once by a composition root
/// before it opens anything; a second call keeps the first opener.
pub fn install(opener: Opener) {
    let _ = S3_OPENER.set(opener);
}

/// Opens a backend by URL: [`StoreUrl::parse`] then [`StoreUrl::open`].
///
/// # Errors
/// As those two.
pub fn open_backend(url: &str) -> Result<Arc<dyn Backend>> {
    StoreUrl::parse(url)?.open()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn each_form_parses_to_its_backend() {
        let p = |s: &str| StoreUrl::parse(s).unwrap();
        assert_eq!(p("t.db"), StoreUrl::Sqlite(PathBuf::from("t.db")));
        assert_eq!(
            p("sqlite:/x/t.db"),
            StoreUrl::Sqlite(PathBuf::from("/x/t.db"))
        );
        assert_eq!(
            p("postgres://h/db"),
            StoreUrl::Postgres("postgres://h/db".into())
        );
        assert_eq!(
            p("postgresql://h/db"),
            StoreUrl::Postgres("postgresql://h/db".into())
        );
        assert_eq!(p("s3://b/p"), StoreUrl::S3("s3://b/p".into()));
        assert!(p("t.db").is_local() && !p("s3://b").is_local() && p("s3://b").is_s3());
    }

    #[test]
    fn s3_without_an_installed_opener_says_how_it_was_built() {
        // This test binary installs no opener (the composition roots do).
        let e = open_backend("s3://bucket/p").map(|_| ()).unwrap_err();
        assert!(e.to_string().contains("without S3 support"), "{e}");
    }

    #[test]
    fn a_path_opens_sqlite() {
        let d = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", d.path().join("t.db").display());
        open_backend(&url).unwrap();
        assert!(Path::new(&d.path().join("t.db")).exists());
    }
}
