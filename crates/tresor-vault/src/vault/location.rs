//! Where a vault's objects live: the store and backend a location names (the folder's
//! SQLite file, `postgres://…`, `s3://…`), and a vault opened on S3 with AWS KMS.

use std::path::Path;
use std::sync::Arc;

use tresor_crypto::LocalKek;
use tresor_store::Store;

use crate::{Result, VaultError};

use super::DB_FILE;
#[cfg(feature = "s3")]
use super::{CONFIG_FILE, Vault, VaultConfig, default_user};

/// Opens the store a vault keeps its objects in: `postgres://…` (feature `postgres`), or the
/// SQLite file `tresor.db` in `dir`.
///
/// # Errors
/// [`VaultError::Refused`] for an unsupported location, store errors.
pub fn open_store(dir: &Path, location: Option<&str>, kek: LocalKek, actor: &str) -> Result<Store> {
    let store = match location {
        None => Store::open_sqlite(&dir.join(DB_FILE), Arc::new(kek), actor)?,
        Some(url) => Store::open(open_backend(url)?, Arc::new(kek), actor)?,
    };
    // A SQLite vault keeps its audit head beside its key file, out of reach of whoever
    // rolls the database file back (an older copy put back, the last audit rows deleted).
    let store = if location.is_none_or(|l| !l.contains("://")) {
        store.with_audit_head(Arc::new(tresor_store::FileHead::new(
            dir.join(tresor_store::HEAD_FILE),
        )))
    } else {
        store
    };
    // `Store::open` no longer reads the audit key, so a key file from another vault would only
    // show at the first value read. Where the check is a local lookup (SQLite, PostgreSQL),
    // make it now, as before; on S3 it would cost a round trip per command, and the first
    // read or write refuses the wrong key anyway.
    if !location.is_some_and(|l| l.starts_with("s3://")) {
        store.check_key()?;
    }
    Ok(store)
}

/// Opens a backend by URL: `sqlite:PATH`, a plain path (SQLite), or `postgres://…`.
///
/// # Errors
/// [`VaultError::Refused`] for an unsupported scheme, store errors.
pub fn open_backend(url: &str) -> Result<Arc<dyn tresor_store::Backend>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(Arc::new(tresor_store::PostgresBackend::connect(url)?));
        #[cfg(not(feature = "postgres"))]
        return Err(VaultError::Refused(
            "this tresor was built without PostgreSQL support (feature 'postgres')".into(),
        ));
    }
    if url.starts_with("s3://") {
        #[cfg(feature = "s3")]
        return Ok(Arc::new(
            tresor_s3::S3Backend::open(url).map_err(|e| VaultError::Refused(e.to_string()))?,
        ));
        #[cfg(not(feature = "s3"))]
        return Err(VaultError::Refused(
            "this tresor was built without S3 support (feature 's3')".into(),
        ));
    }
    if let Some(scheme) = url.split_once("://").map(|(s, _)| s) {
        return Err(VaultError::Refused(format!(
            "unsupported store '{scheme}://': use a path, sqlite:PATH, postgres://… or s3://…"
        )));
    }
    let path = url.strip_prefix("sqlite:").unwrap_or(url);
    Ok(Arc::new(tresor_store::SqliteBackend::open(Path::new(
        path,
    ))?))
}

/// Opens a vault whose objects live on S3 (`url` is `s3://bucket/prefix`) and whose data keys
/// are wrapped by AWS KMS (the key from `TRESOR_KMS_KEY_ID` or tresor's S3 config file): no key
/// file or local folder is needed, so any machine with those two settings and AWS credentials
/// shares the vault. Returns `None` when `url` is not `s3://` or no KMS key is configured.
/// With `init`, the owner's identity objects are created unless present (idempotent).
///
/// # Errors
/// S3 and KMS errors (a denied KMS key fails before anything is written), store errors.
#[cfg(feature = "s3")]
pub fn open_remote(dir: &Path, url: &str, init: bool) -> Result<Option<Vault>> {
    if !url.starts_with("s3://") {
        return Ok(None);
    }
    let settings = tresor_s3::S3Settings::from_env();
    let Some(kms_key) = settings.kms_key_id.clone() else {
        return Ok(None);
    };
    let refused = |e: tresor_s3::S3Error| VaultError::Refused(e.to_string());
    let loc = tresor_s3::S3Location::parse(url).map_err(refused)?;
    let kms = tresor_s3::KmsProvider::new(&kms_key, &loc.url(), &settings).map_err(refused)?;
    if init {
        kms.check().map_err(refused)?;
    }
    let backend = tresor_s3::S3Backend::open_with(loc.clone(), &settings).map_err(refused)?;
    let provider =
        tresor_s3::CachingProvider::new(Arc::new(kms), std::time::Duration::from_secs(300));
    let config = match std::fs::read(dir.join(CONFIG_FILE)) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| VaultError::Rejected {
            what: "vault settings",
            why: e.to_string(),
        })?,
        Err(_) => VaultConfig {
            version: 1,
            user: default_user(),
            email: String::new(),
            created: tresor_store::now(),
            store: Some(loc.url()),
        },
    };
    let store = Store::open(Arc::new(backend), Arc::new(provider), &config.user)?;
    let v = Vault {
        dir: dir.to_owned(),
        store,
        config,
        cache: None,
    };
    if init {
        match crate::identity::create_owner(&v) {
            Ok(()) | Err(VaultError::Store(tresor_store::StoreError::NameTaken(_))) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(v))
}
