//! The composition root: which store backends and key caches this binary has, wired into
//! the doors that take them (ripgrep's core builds its searcher from arguments the same way).
//!
//! - [`install`] makes `s3://` stores open everywhere (feature `s3`): the vault, `migrate`,
//!   `rekey` and `kmip serve` open stores by URL through [`tresor_store::store_url`], which
//!   knows SQLite and PostgreSQL itself and asks the opener installed here for S3.
//! - [`open_kms_vault`] opens a vault whose objects live on S3 and whose data keys AWS KMS
//!   wraps: a store unlocked by a KMS key instead of a key file, with the kernel user keyring
//!   as the data-key cache ([`tresor_keyring::KernelKeyCache`]) injected into tresor-s3's
//!   caching provider.
//! - The vault key cache of `tresor unlock` (the kernel user keyring) is read in
//!   `vault_cmd`'s `Ctx::open`, which calls [`tresor_vault::Vault::open_with_key_at`].
//!
//! The Python wheel is the other composition root (`crates/tresor-py/src/lib.rs`); it
//! installs the same S3 opener.

/// Installs the store backends that live in door crates (S3), once, before anything opens
/// a store.
pub(crate) fn install() {
    #[cfg(feature = "s3")]
    tresor_store::store_url::install(tresor_s3::S3Backend::open_backend);
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
pub(crate) fn open_kms_vault(
    dir: &std::path::Path,
    url: &str,
    init: bool,
) -> anyhow::Result<Option<tresor_vault::Vault>> {
    use std::sync::Arc;
    use std::time::Duration;
    use tresor_vault::{Vault, VaultConfig, VaultError, default_user};

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
    let provider = tresor_s3::CachingProvider::new(Arc::new(kms), Duration::from_secs(300));
    let config = VaultConfig::read(dir)?.unwrap_or_else(|| VaultConfig {
        version: 1,
        user: default_user(),
        email: String::new(),
        created: tresor_store::now(),
        store: Some(loc.url()),
    });
    let store = tresor_store::Store::open(Arc::new(backend), Arc::new(provider), &config.user)
        .map_err(VaultError::from)?;
    let v = Vault::from_store(dir, config, store);
    if init {
        v.ensure_owner()?;
    }
    Ok(Some(v))
}
