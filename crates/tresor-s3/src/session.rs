//! s3keyring's secrets on tresor's encrypted S3 store: [`Session`] opens the store of an
//! s3keyring profile and reads and writes `(service, username)` pairs, and
//! [`import_s3keyring`] rewrites an s3keyring bucket into it (`tresor s3 …` is the command
//! line over both).
//!
//! Secrets are vault secrets named `SERVICE:NAMESPACE:USERNAME` (see [`crate::compat`]) in
//! the store `s3://BUCKET/.tresor` (or another `s3://` store), their data keys wrapped by the
//! profile's KMS key. s3keyring never writes a key starting with `.` (it escapes dots), so that
//! store cannot meet an s3keyring layout in the same bucket.

use std::sync::Arc;
use std::time::Duration;

use tresor_crypto::outside::KeyCache;
use tresor_store::secret_name::{self, SecretName};
use tresor_store::{NewObject, ObjectType, Store, StoreError};

use crate::compat::{self, Profile};
use crate::error::{Result, S3Error};
use crate::{CachingProvider, KmsProvider, S3Backend, S3Location, S3Settings};

/// The store prefix used when no store is given: `s3://BUCKET/.tresor`.
pub const DEFAULT_PREFIX: &str = ".tresor";

mod import;

pub use import::{ImportFailure, ImportOptions, ImportReport, import_s3keyring};

/// The largest s3keyring body `import-s3keyring` reads (a secret, base64).
const MAX_LEGACY_BODY: u64 = 1 << 20;

fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// `user@host`, the identity audit entries name.
fn actor() -> String {
    let user = env_var("USER")
        .or_else(|| env_var("LOGNAME"))
        .unwrap_or_else(|| "user".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

/// An open tresor store for an s3keyring profile.
pub struct Session {
    /// The store.
    pub store: Store,
    /// Its backend (for listings by name).
    pub backend: Arc<S3Backend>,
    /// The KMS key wrapping data keys.
    pub kms: Arc<KmsProvider>,
    /// Where the store lives.
    pub location: S3Location,
    /// The connection settings.
    pub settings: S3Settings,
    /// The s3keyring namespace.
    pub namespace: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({}, {})", self.location, self.namespace)
    }
}

impl Session {
    /// Opens the store of profile `p`: `store` if it is an `s3://` URL, else
    /// `s3://BUCKET/.tresor`, with the profile's AWS profile and KMS key.
    ///
    /// # Errors
    /// [`S3Error::MissingSetting`], a bad location or S3 configuration. Nothing is sent yet:
    /// a missing bucket, refused credentials or an unusable KMS key fail the first operation,
    /// before anything is written.
    pub fn open(p: &Profile, store: Option<&str>) -> Result<Session> {
        Self::open_with_cache(p, store, None)
    }

    /// As [`Session::open`], also caching unwrapped data keys in `key_cache` (the CLI gives
    /// `tresor_keyring::KernelKeyCache`, the kernel user keyring) for its duration when given.
    ///
    /// # Errors
    /// As [`Session::open`].
    pub fn open_with_cache(
        p: &Profile,
        store: Option<&str>,
        key_cache: Option<(Arc<dyn KeyCache>, Duration)>,
    ) -> Result<Session> {
        let settings = match p.get("aws_profile") {
            None | Some("") | Some("default") => S3Settings::from_env(),
            Some(ap) => S3Settings::with_aws_profile(Some(ap)),
        };
        let location = match store {
            Some(url) if url.starts_with("s3://") => S3Location::parse(url)?,
            Some(other) => {
                return Err(S3Error::Input(format!(
                    "tresor s3 keeps secrets in an S3 store, but --store (or TRESOR_STORE) is '{other}'"
                )));
            }
            None => S3Location::parse(&format!("s3://{}/{DEFAULT_PREFIX}", p.require("bucket")?))?,
        };
        let kms_key = match (p.get("kms_key_id"), settings.kms_key_id.as_deref()) {
            (Some(k), _) | (None, Some(k)) => k.to_owned(),
            (None, None) => {
                p.require("kms_key_id")?;
                unreachable!("require fails when the setting is missing")
            }
        };
        let backend = Arc::new(S3Backend::open_with(location.clone(), &settings)?);
        let kms = Arc::new(KmsProvider::new(&kms_key, &location.url(), &settings)?);
        let mut cache = CachingProvider::new(kms.clone(), Duration::from_secs(300));
        if let Some((outside, ttl)) = key_cache {
            cache = cache.with_key_cache(outside, ttl);
        }
        let provider = Arc::new(cache);
        // Opening sends nothing: the first get, set or delete is the first request, and its
        // error names the bucket or the KMS key that failed.
        let store = Store::open(backend.clone(), provider, actor())?;
        Ok(Session {
            store,
            backend,
            kms,
            location,
            settings,
            namespace: p.namespace().to_owned(),
        })
    }

    /// The value of `(service, username)`, if stored.
    ///
    /// # Errors
    /// Store and KMS errors.
    pub fn get(&self, service: &str, username: &str) -> Result<Option<tresor_crypto::SecretBytes>> {
        let name = compat::tresor_name(&self.namespace, service, username);
        Ok(self.store.read_by_name(&name)?.map(|(_, v)| v))
    }

    /// Stores `value` for `(service, username)`: a new secret, or a new version.
    ///
    /// # Errors
    /// Store and KMS errors; nothing is written on error.
    pub fn set(&self, service: &str, username: &str, value: &[u8]) -> Result<u32> {
        let (app, env, key) = compat::tresor_parts(&self.namespace, service, username);
        let name = SecretName::join(&app, &env, &key);
        Ok(self.store.write(|tx| match tx.get_by_name(&name)? {
            Some(m) => tx.put_material(&m.uid, value),
            None => {
                tx.create(new_secret(&app, &env, &key, value))?;
                Ok(1)
            }
        })?)
    }

    /// The error for `(service, username)` missing from this session's namespace:
    /// [`S3Error::NotFound`], naming the secret, its service and the namespace.
    pub fn not_found(&self, service: &str, username: &str) -> S3Error {
        not_found(&self.namespace, service, username)
    }

    /// Deletes `(service, username)`.
    ///
    /// # Errors
    /// [`S3Error::NotFound`] if it is not stored.
    pub fn delete(&self, service: &str, username: &str) -> Result<()> {
        let name = compat::tresor_name(&self.namespace, service, username);
        let r = self.store.write(|tx| match tx.get_by_name(&name)? {
            Some(m) => tx.delete(&m.uid),
            None => Err(StoreError::NotFound(name.clone())),
        });
        match r {
            Err(StoreError::NotFound(_)) => Err(not_found(&self.namespace, service, username)),
            r => Ok(r?),
        }
    }

    /// `(service, username)` pairs of the namespace (of one service), from key listings only.
    ///
    /// # Errors
    /// S3 errors.
    pub fn list(&self, service: Option<&str>) -> Result<Vec<(String, String)>> {
        let ns = compat::encode_part(&self.namespace);
        let prefix = match service {
            Some(s) => format!("{}:{ns}:", compat::encode_part(s)),
            None => String::new(),
        };
        let mut out = Vec::new();
        for name in self.backend.list_names(&prefix)? {
            if let Some((n, s, u)) = compat::parse_tresor_name(&name)
                && n == self.namespace
                && service.is_none_or(|want| want == s)
            {
                out.push((s, u));
            }
        }
        out.sort();
        Ok(out)
    }
}

fn new_secret(app: &str, env: &str, key: &str, value: &[u8]) -> NewObject {
    let mut n = NewObject::new(ObjectType::SecretData);
    n.names.push(SecretName::join(app, env, key));
    // The vault's attributes, so `tresor list` and `tresor get` see an ordinary secret.
    n.attributes = SecretName::attributes_of(app, env, key, secret_name::DEFAULT_TYPE);
    n.material = Some(value.to_vec());
    n
}

fn not_found(ns: &str, service: &str, username: &str) -> S3Error {
    S3Error::NotFound(format!(
        "secret '{username}' of service '{service}' (namespace '{ns}')"
    ))
}
