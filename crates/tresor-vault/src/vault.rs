//! The developer vault: a folder with a key file and a store, and the secrets in it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tresor_crypto::keyfile::{self, KdfParams};
use tresor_crypto::{LocalKek, SecretBytes};
use tresor_store::{
    AttrCond, NewObject, ObjectMeta, ObjectType, Query, Store, VersionInfo, fsutil,
};

use crate::cache::{Lookup, ValueCache};
use crate::filter::{Filter, FilterSet, validate_full_name};
use crate::{Result, VaultError};

/// The database file inside a vault folder.
pub const DB_FILE: &str = "tresor.db";
/// The key file inside a vault folder.
pub const KEY_FILE: &str = "vault.key";
/// The settings file inside a vault folder.
pub const CONFIG_FILE: &str = "vault.json";

/// Attribute that says what an object is to tresor's doors.
pub const ROLE: &str = "tresor.role";
/// Attribute with the secret's seeqret-style type (`str`, `text`, `file`).
pub const KIND: &str = "tresor.type";

/// The vault folder: `$TRESOR_VAULT`, else `$XDG_DATA_HOME/tresor`, else `~/.local/share/tresor`.
pub fn default_dir() -> PathBuf {
    if let Some(v) = std::env::var_os("TRESOR_VAULT").filter(|v| !v.is_empty()) {
        return PathBuf::from(v);
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("tresor");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/tresor")
}

/// `user@host` for the current process.
pub fn default_user() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "user".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

/// Settings kept beside the database.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct VaultConfig {
    /// Format version of this file.
    pub version: u32,
    /// The vault's owner (the acting identity).
    pub user: String,
    /// The owner's email.
    pub email: String,
    /// When the vault was made (Unix seconds).
    pub created: i64,
    /// Where the objects live when not in the folder's SQLite file (`postgres://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

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

/// How to initialise a vault.
#[derive(Debug, Default)]
pub struct InitOptions {
    /// Owner identity (default `user@host`).
    pub user: Option<String>,
    /// Owner email.
    pub email: Option<String>,
    /// Protect the key file with this passphrase.
    pub passphrase: Option<SecretBytes>,
    /// Argon2id cost (default parameters when `None`).
    pub kdf: Option<KdfParams>,
    /// Keep the objects elsewhere (`postgres://…`) instead of the folder's SQLite file.
    pub store: Option<String>,
}

/// A secret as listed (no value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretInfo {
    /// Store uid.
    pub uid: String,
    /// The app part.
    pub app: String,
    /// The env part.
    pub env: String,
    /// The key part.
    pub key: String,
    /// The full stored name.
    pub name: String,
    /// seeqret-style type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Object type in the store.
    pub object_type: String,
    /// Lifecycle state.
    pub state: String,
    /// Current version.
    pub version: u32,
    /// Last change (Unix seconds).
    pub updated: i64,
}

/// What [`Vault::import_pairs`] did (or would do, in a dry run).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Names added.
    pub added: Vec<String>,
    /// Names given a new version.
    pub updated: Vec<String>,
    /// Names whose value was already the same.
    pub unchanged: Vec<String>,
}

/// An open vault.
pub struct Vault {
    dir: PathBuf,
    store: Store,
    config: VaultConfig,
    cache: Option<ValueCache>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("dir", &self.dir)
            .field("user", &self.config.user)
            .finish()
    }
}

fn secret_attrs(app: &str, env: &str, key: &str, kind: &str) -> tresor_store::Attributes {
    let mut a = tresor_store::Attributes::new();
    a.insert("app".into(), app.into());
    a.insert("env".into(), env.into());
    a.insert("key".into(), key.into());
    a.insert(ROLE.into(), "secret".into());
    a.insert(KIND.into(), kind.into());
    a
}

/// The full stored name of a vault secret.
pub fn secret_name(app: &str, env: &str, key: &str) -> String {
    format!("{app}:{env}:{key}")
}

/// Checks an import's input before anything is read or written: every `app:env:KEY` name is
/// valid and no key appears twice. Shared by the local vault and the `--server` door.
///
/// # Errors
/// [`VaultError::Name`] for an invalid part, [`VaultError::Refused`] for a repeated key.
pub fn check_import(app: &str, env: &str, pairs: &[(String, SecretBytes)]) -> Result<()> {
    for (k, _) in pairs {
        validate_full_name(app, env, k)?;
        crate::reserved::check_secret_target(app, env, k, None)?;
    }
    let mut seen = std::collections::HashSet::new();
    for (k, _) in pairs {
        if !seen.insert(k.as_str()) {
            return Err(VaultError::Refused(format!(
                "key '{k}' appears twice in the input"
            )));
        }
    }
    Ok(())
}

/// True if `s` is `APP:ENV:KEY` with three non-empty parts free of glob syntax (`*?[,`) and
/// control characters: a filter that can only match the secret of that exact name.
fn is_literal_name(s: &str) -> bool {
    let mut colons = 0;
    let mut part_len = 0;
    for c in s.chars() {
        match c {
            ':' => {
                if part_len == 0 {
                    return false;
                }
                colons += 1;
                part_len = 0;
            }
            '*' | '?' | '[' | ',' => return false,
            c if c.is_control() => return false,
            _ => part_len += 1,
        }
    }
    colons == 2 && part_len > 0
}

/// `vault_view(m).is_some()`, without building the three strings (the `get` hot path).
fn is_vault_object(m: &ObjectMeta) -> bool {
    match m.attr_str(ROLE) {
        Some("secret") => ["app", "env", "key"]
            .iter()
            .all(|a| m.attr_str(a).is_some()),
        Some(_) => false,
        None => {
            let name = m.name().unwrap_or(&m.uid);
            !(name.starts_with("tresor:") || name.starts_with("tresor-key:"))
        }
    }
}

/// How an object appears to the vault: `(app, env, key)`, or `None` for internal objects.
pub fn vault_view(m: &ObjectMeta) -> Option<(String, String, String)> {
    match m.attr_str(ROLE) {
        Some("secret") => {
            let (a, e, k) = (m.attr_str("app")?, m.attr_str("env")?, m.attr_str("key")?);
            return Some((a.to_owned(), e.to_owned(), k.to_owned()));
        }
        Some(_) => return None,
        None => {}
    }
    let name = m.name().unwrap_or(&m.uid);
    if name.starts_with("tresor:") || name.starts_with("tresor-key:") {
        return None;
    }
    let parts: Vec<&str> = name.split(':').collect();
    if let [a, e, k] = parts.as_slice()
        && validate_full_name(a, e, k).is_ok()
    {
        return Some(((*a).into(), (*e).into(), (*k).into()));
    }
    // Objects made over KMIP without a vault name: app "kmip", env = their type.
    Some((
        "kmip".into(),
        m.object_type.as_str().to_ascii_lowercase(),
        name.replace(':', "_"),
    ))
}

impl Vault {
    /// The database path of a vault folder.
    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join(DB_FILE)
    }

    /// The key-file path of a vault folder.
    pub fn key_path(dir: &Path) -> PathBuf {
        dir.join(KEY_FILE)
    }

    /// Creates a vault in `dir` (made 0700): key file (0600), database (0600), settings and
    /// the owner's identity. Refuses to touch an existing vault.
    ///
    /// # Errors
    /// [`VaultError::AlreadyInitialized`] if `dir` holds a vault.
    pub fn init(dir: &Path, opts: InitOptions) -> Result<Vault> {
        let (db, key, cfg) = (dir.join(DB_FILE), dir.join(KEY_FILE), dir.join(CONFIG_FILE));
        if db.exists() || key.exists() || cfg.exists() {
            return Err(VaultError::AlreadyInitialized(dir.to_owned()));
        }
        fsutil::create_private_dir(dir)?;
        // A head left by an earlier vault in this folder is not this vault's.
        let _ = std::fs::remove_file(dir.join(tresor_store::HEAD_FILE));
        let kek = LocalKek::generate()?;
        let text = keyfile::encode(
            &kek,
            opts.passphrase.as_ref().map(|p| p.expose().as_slice()),
            opts.kdf.unwrap_or_default(),
        )?;
        // Key first, with create_new semantics: a concurrent init loses here, not later.
        fsutil::create_private_file(&key)
            .map_err(|_| VaultError::AlreadyInitialized(dir.to_owned()))?;
        fsutil::write_atomic(&key, text.as_bytes())?;
        let finish = || -> Result<Vault> {
            let config = VaultConfig {
                version: 1,
                user: opts.user.unwrap_or_else(default_user),
                email: opts.email.unwrap_or_default(),
                created: tresor_store::now(),
                store: opts.store,
            };
            let cfg_text = serde_json::to_vec_pretty(&config)
                .map_err(|e| VaultError::Refused(e.to_string()))?;
            fsutil::write_atomic(&cfg, &cfg_text)?;
            let store = open_store(dir, config.store.as_deref(), kek, &config.user)?;
            let v = Vault {
                dir: dir.to_owned(),
                store,
                config,
                cache: None,
            };
            crate::identity::create_owner(&v)?;
            Ok(v)
        };
        // A failed init leaves nothing behind, so it can simply be run again.
        finish().inspect_err(|_| {
            for f in [
                &key,
                &cfg,
                &db,
                &dir.join("tresor.db-wal"),
                &dir.join("tresor.db-shm"),
            ] {
                let _ = std::fs::remove_file(f);
            }
        })
    }

    /// Reads the vault key of `dir`, calling `passphrase` only if the key file needs one.
    ///
    /// # Errors
    /// [`VaultError::NotInitialized`], [`VaultError::KeyFileMissing`],
    /// [`VaultError::WrongPassphrase`], [`VaultError::PassphraseRequired`].
    pub fn read_key(
        dir: &Path,
        passphrase: &mut dyn FnMut() -> Result<SecretBytes>,
    ) -> Result<LocalKek> {
        let key = dir.join(KEY_FILE);
        let text = match std::fs::read_to_string(&key) {
            Ok(t) => zeroize::Zeroizing::new(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(if dir.join(DB_FILE).exists() {
                    VaultError::KeyFileMissing(key)
                } else {
                    VaultError::NotInitialized(dir.to_owned())
                });
            }
            Err(e) => return Err(VaultError::io("cannot read key file", &key)(e)),
        };
        let mut asked: Option<VaultError> = None;
        let r = keyfile::decode(&text, || match passphrase() {
            Ok(p) => Ok(p),
            Err(e) => {
                asked = Some(e);
                Err(tresor_crypto::CryptoError::WrongPassphrase)
            }
        });
        match (r, asked) {
            (Ok(k), _) => Ok(k),
            (Err(_), Some(e)) => Err(e),
            (Err(tresor_crypto::CryptoError::WrongPassphrase), None) => {
                Err(VaultError::WrongPassphrase)
            }
            (Err(e), None) => Err(e.into()),
        }
    }

    /// Whether the key file of `dir` needs a passphrase.
    pub fn needs_passphrase(dir: &Path) -> bool {
        std::fs::read_to_string(dir.join(KEY_FILE))
            .map(|t| keyfile::needs_passphrase(&t))
            .unwrap_or(false)
    }

    /// Warnings about the vault folder (e.g. a key file readable by others).
    pub fn permission_warnings(dir: &Path) -> Vec<String> {
        let mut w = Vec::new();
        for (p, want) in [
            (dir.to_owned(), 0o700),
            (dir.join(KEY_FILE), 0o600),
            (dir.join(DB_FILE), 0o600),
        ] {
            if let Some(m) = fsutil::mode(&p)
                && m & 0o077 != 0
            {
                w.push(format!(
                    "'{}' has mode {m:04o}, readable by others; run 'chmod {want:o} {}'",
                    p.display(),
                    p.display()
                ));
            }
        }
        w
    }

    /// Opens the vault in `dir` with an already unlocked key.
    ///
    /// # Errors
    /// [`VaultError::NotInitialized`], store errors (a key that does not fit fails here).
    pub fn open_with_key(dir: &Path, kek: LocalKek) -> Result<Vault> {
        Self::open_with_key_at(dir, kek, None)
    }

    /// As [`Vault::open_with_key`], with the store at `location` (overriding the settings).
    ///
    /// # Errors
    /// As [`Vault::open_with_key`].
    pub fn open_with_key_at(dir: &Path, kek: LocalKek, location: Option<&str>) -> Result<Vault> {
        let cfg_path = dir.join(CONFIG_FILE);
        if !dir.join(DB_FILE).exists() && !cfg_path.exists() {
            return Err(VaultError::NotInitialized(dir.to_owned()));
        }
        let config: VaultConfig = match std::fs::read(&cfg_path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| VaultError::Rejected {
                what: "vault settings",
                why: e.to_string(),
            })?,
            Err(_) => VaultConfig {
                version: 1,
                user: default_user(),
                email: String::new(),
                created: 0,
                store: None,
            },
        };
        let location = location.or(config.store.as_deref());
        if location.is_none() {
            // SQLite would silently make a fresh, empty store in place of a deleted or
            // zero-length database: the owner's identity and the audit trail would be gone.
            let db = dir.join(DB_FILE);
            let why = match std::fs::metadata(&db) {
                Ok(m) if m.len() > 0 => None,
                Ok(_) => Some("is empty (truncated or overwritten)"),
                Err(_) => Some("is missing"),
            };
            if let Some(why) = why {
                return Err(VaultError::Rejected {
                    what: "vault database",
                    why: format!(
                        "'{}' {why}; move the vault folder aside and rebuild it from a backup with 'tresor restore BACKUP --key-file OLD_FOLDER/vault.key'",
                        db.display()
                    ),
                });
            }
        }
        let store = open_store(dir, location, kek, &config.user)?;
        Ok(Vault {
            dir: dir.to_owned(),
            store,
            config,
            cache: None,
        })
    }

    /// Opens the vault in `dir`, reading the key file (and the passphrase if needed).
    ///
    /// # Errors
    /// As [`Vault::read_key`] and [`Vault::open_with_key`].
    pub fn open(dir: &Path, passphrase: &mut dyn FnMut() -> Result<SecretBytes>) -> Result<Vault> {
        if !dir.join(DB_FILE).exists() && !dir.join(KEY_FILE).exists() {
            return Err(VaultError::NotInitialized(dir.to_owned()));
        }
        let kek = Self::read_key_at(dir, None, passphrase)?;
        Self::open_with_key(dir, kek)
    }

    /// Opens the default vault ([`default_dir`]); a passphrase comes from `TRESOR_PASSPHRASE`.
    ///
    /// ```no_run
    /// let vault = tresor_vault::Vault::open_default()?;
    /// let password = vault.get("myapp:prod:DB_PASSWORD")?;
    /// # Ok::<(), tresor_vault::VaultError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Vault::open`].
    pub fn open_default() -> Result<Vault> {
        Self::open(&default_dir(), &mut || {
            std::env::var("TRESOR_PASSPHRASE")
                .map(SecretBytes::from)
                .map_err(|_| VaultError::PassphraseRequired)
        })
    }

    /// Turns on an in-memory cache of values for [`Vault::get`] (off by default). A value
    /// is kept only until the next commit to the store, by this process or any other (the
    /// store's audit head moves on each one; checking it costs two system calls per `get`
    /// instead of a database read). A store without a head file here (PostgreSQL, S3)
    /// keeps nothing. Stale in one case: a writer that dies between its commit and its head
    /// update, until the next commit ([`tresor_store::HeadWatch`]).
    pub fn with_cache(mut self) -> Self {
        let watch = self
            .store
            .audit_head()
            .and_then(|h| h.path())
            .map(tresor_store::HeadWatch::new);
        self.cache = Some(ValueCache::new(watch));
        self
    }

    /// The vault folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The settings.
    pub fn config(&self) -> &VaultConfig {
        &self.config
    }

    /// The store underneath (for the other doors: keys, KMIP).
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn invalidate(&self) {
        if let Some(c) = &self.cache {
            c.clear();
        }
    }

    /// The value of the one secret `filter` names (`APP:ENV:KEY` is an index lookup).
    ///
    /// # Errors
    /// [`VaultError::NotFound`], [`VaultError::Ambiguous`], a filter error.
    pub fn get(&self, filter: &str) -> Result<SecretBytes> {
        // The head is read before the value: a commit in between shows at the next lookup.
        let head = match self.cache.as_ref().map(|c| c.lookup(filter)) {
            Some(Lookup::Hit(v)) => return Ok(v),
            Some(Lookup::Miss(head)) => head,
            None => None,
        };
        // A plain `app:env:KEY` (no glob, no alternative) is one indexed read; anything else is
        // compiled as a filter. `is_literal_name` never accepts what `Filter::new` would treat
        // differently, so both paths give the same answer.
        let value = if is_literal_name(filter) {
            self.read_exact(filter)?
        } else {
            let f = Filter::new(filter)?;
            if f.is_exact() {
                self.read_exact(filter)?
            } else {
                let one = self.find_one(&f)?;
                self.value(&one)?
            }
        };
        if let Some(c) = &self.cache {
            c.insert(head, filter, &value);
        }
        Ok(value)
    }

    fn read_exact(&self, name: &str) -> Result<SecretBytes> {
        match self.store.read_by_name(name)? {
            Some((meta, value)) if is_vault_object(&meta) => Ok(value),
            _ => Err(VaultError::NotFound(name.to_owned())),
        }
    }

    /// The one secret `f` matches.
    ///
    /// # Errors
    /// [`VaultError::NotFound`], [`VaultError::Ambiguous`].
    pub fn find_one(&self, f: &Filter) -> Result<SecretInfo> {
        let mut found = self.list(&FilterSet::from_iter([f.clone()]))?;
        match found.len() {
            0 => Err(VaultError::NotFound(f.to_string())),
            1 => Ok(found.remove(0)),
            n => Err(VaultError::Ambiguous {
                filter: f.to_string(),
                count: n,
                names: found.iter().take(5).map(|s| s.name.clone()).collect(),
            }),
        }
    }

    /// The current value of a listed secret.
    ///
    /// # Errors
    /// Store errors.
    pub fn value(&self, s: &SecretInfo) -> Result<SecretBytes> {
        let meta = self
            .store
            .get(&s.uid)?
            .ok_or_else(|| VaultError::NotFound(s.name.clone()))?;
        Ok(self.store.material(&meta, 0)?)
    }

    /// Every secret matching any filter of `set` (all secrets for an empty set), sorted by name.
    ///
    /// # Errors
    /// Store errors.
    pub fn list(&self, set: &FilterSet) -> Result<Vec<SecretInfo>> {
        let mut out: Vec<SecretInfo> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let filters: Vec<Filter> = if set.is_empty() {
            vec![Filter::new("")?]
        } else {
            set.filters().to_vec()
        };
        for f in &filters {
            for meta in self.store.locate(&query_for(f))? {
                let Some((app, env, key)) = vault_view(&meta) else {
                    continue;
                };
                if f.is_match(&app, &env, &key) && seen.insert(meta.uid.clone()) {
                    out.push(info(&meta, app, env, key));
                }
            }
        }
        out.sort_by(|a, b| (&a.app, &a.env, &a.key).cmp(&(&b.app, &b.env, &b.key)));
        Ok(out)
    }

    /// Adds a secret; with `force`, an existing one gets a new version instead of an error.
    /// Returns the version written.
    ///
    /// # Errors
    /// [`VaultError::Name`] for an invalid part, [`VaultError::Exists`] without `force`.
    pub fn add(
        &self,
        app: &str,
        env: &str,
        key: &str,
        value: &[u8],
        kind: &str,
        force: bool,
    ) -> Result<u32> {
        validate_full_name(app, env, key)?;
        crate::reserved::check_secret_target(app, env, key, None)?;
        let name = secret_name(app, env, key);
        let mut refused = None;
        let r = self.store.write(|tx| match tx.get_by_name(&name)? {
            Some(m) if force => {
                refuse_target(&mut refused, app, env, key, &m)?;
                tx.put_material(&m.uid, value)
            }
            Some(_) => Err(tresor_store::StoreError::NameTaken(name.clone())),
            None => {
                let mut n = NewObject::new(ObjectType::SecretData);
                n.names.push(name.clone());
                n.attributes = secret_attrs(app, env, key, kind);
                n.material = Some(value.to_vec());
                tx.create(n).map(|_| 1)
            }
        });
        self.invalidate();
        if let Some(e) = refused {
            return Err(e);
        }
        match r {
            Err(tresor_store::StoreError::NameTaken(n)) => Err(VaultError::Exists(n)),
            r => Ok(r?),
        }
    }

    /// Sets the value of every secret in `targets` (one transaction, a new version each).
    ///
    /// # Errors
    /// Store errors; nothing is changed on error.
    pub fn set_values(&self, targets: &[SecretInfo], value: &[u8]) -> Result<()> {
        self.store.write(|tx| {
            for t in targets {
                tx.put_material(&t.uid, value)?;
            }
            Ok(())
        })?;
        self.invalidate();
        Ok(())
    }

    /// Removes secrets (one transaction).
    ///
    /// # Errors
    /// Store errors; nothing is removed on error.
    pub fn remove(&self, targets: &[SecretInfo]) -> Result<()> {
        self.store.write(|tx| {
            for t in targets {
                tx.delete(&t.uid)?;
            }
            Ok(())
        })?;
        self.invalidate();
        Ok(())
    }

    /// The versions of a secret, oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub fn history(&self, s: &SecretInfo) -> Result<Vec<VersionInfo>> {
        Ok(self.store.versions(&s.uid)?)
    }

    /// The value of one version of a secret.
    ///
    /// # Errors
    /// [`tresor_store::StoreError::NoMaterial`] if there is no such version.
    pub fn value_at(&self, s: &SecretInfo, version: u32) -> Result<SecretBytes> {
        let meta = self
            .store
            .get(&s.uid)?
            .ok_or_else(|| VaultError::NotFound(s.name.clone()))?;
        Ok(self.store.material(&meta, version)?)
    }

    /// Makes the value of `version` current again, as a new version; returns its number.
    ///
    /// # Errors
    /// [`tresor_store::StoreError::NoMaterial`] if there is no such version.
    pub fn rollback(&self, s: &SecretInfo, version: u32) -> Result<u32> {
        let v = self.store.write(|tx| {
            let old = tx.material(&s.uid, version)?;
            tx.put_material(&s.uid, old.expose())
        })?;
        self.invalidate();
        Ok(v)
    }

    /// Imports `(key, value)` pairs into `app:env` in one transaction. Existing keys are an
    /// error unless `update`; with `dry_run` nothing is written.
    ///
    /// # Errors
    /// [`VaultError::Exists`] naming the first existing key without `update`.
    pub fn import_pairs(
        &self,
        app: &str,
        env: &str,
        pairs: &[(String, SecretBytes)],
        update: bool,
        dry_run: bool,
    ) -> Result<ImportReport> {
        self.import_pairs_with(app, env, pairs, update, dry_run, &())
    }

    /// [`Vault::import_pairs`], reporting each pair to `progress`.
    ///
    /// # Errors
    /// As [`Vault::import_pairs`].
    pub fn import_pairs_with(
        &self,
        app: &str,
        env: &str,
        pairs: &[(String, SecretBytes)],
        update: bool,
        dry_run: bool,
        progress: &dyn tresor_store::progress::Progress,
    ) -> Result<ImportReport> {
        check_import(app, env, pairs)?;
        let mut report = ImportReport::default();
        let mut tx = self.store.begin();
        progress.phase("importing", Some(pairs.len() as u64));
        for (k, v) in pairs {
            progress.advance(1);
            let name = secret_name(app, env, k);
            match tx.get_by_name(&name)? {
                Some(m) => {
                    crate::reserved::check_secret_target(app, env, k, Some(&m))?;
                    if !update {
                        return Err(VaultError::Exists(name));
                    }
                    if tx.material(&m.uid, 0).map(|old| old == *v).unwrap_or(false) {
                        report.unchanged.push(name);
                    } else {
                        tx.put_material(&m.uid, v.expose())?;
                        report.updated.push(name);
                    }
                }
                None => {
                    let mut n = NewObject::new(ObjectType::SecretData);
                    n.names.push(name.clone());
                    n.attributes = secret_attrs(app, env, k, "str");
                    n.material = Some(v.expose().clone());
                    tx.create(n)?;
                    report.added.push(name);
                }
            }
        }
        if !dry_run {
            tx.commit()?;
            self.invalidate();
        }
        Ok(report)
    }

    /// Imports secrets given with their full names (backup-like sources) in one transaction;
    /// existing names get a new version only if the value differs.
    pub(crate) fn import_named(
        &self,
        items: &[(String, String, String, String, SecretBytes)],
        detail: &str,
        progress: &dyn tresor_store::progress::Progress,
    ) -> Result<ImportReport> {
        // Names first, before anything is read: a reserved or invalid name refuses the whole
        // import.
        for (app, env, key, _, _) in items {
            validate_full_name(app, env, key)?;
            crate::reserved::check_secret_target(app, env, key, None)?;
        }
        let mut report = ImportReport::default();
        let mut refused = None;
        let r = self.store.write(|tx| {
            report = ImportReport::default();
            progress.phase("importing", Some(items.len() as u64));
            for (app, env, key, kind, value) in items {
                progress.advance(1);
                let name = secret_name(app, env, key);
                match tx.get_by_name(&name)? {
                    Some(m) => {
                        refuse_target(&mut refused, app, env, key, &m)?;
                        if tx
                            .material(&m.uid, 0)
                            .map(|old| old == *value)
                            .unwrap_or(false)
                        {
                            report.unchanged.push(name);
                        } else {
                            tx.put_material(&m.uid, value.expose())?;
                            report.updated.push(name);
                        }
                    }
                    None => {
                        let mut n = NewObject::new(ObjectType::SecretData);
                        n.names.push(name.clone());
                        n.attributes = secret_attrs(app, env, key, kind);
                        n.material = Some(value.expose().clone());
                        tx.create(n)?;
                        report.added.push(name);
                    }
                }
            }
            tx.record("import", None, detail);
            Ok(())
        });
        if let Some(e) = refused {
            return Err(e);
        }
        r?;
        self.invalidate();
        Ok(report)
    }
}

/// Inside a store transaction: checks that `m` may be written as the secret `app:env:key`
/// ([`crate::reserved::check_secret_target`]); on refusal keeps the vault error in `slot` and
/// aborts the transaction.
fn refuse_target(
    slot: &mut Option<VaultError>,
    app: &str,
    env: &str,
    key: &str,
    m: &ObjectMeta,
) -> tresor_store::Result<()> {
    match crate::reserved::check_secret_target(app, env, key, Some(m)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let uid = secret_name(app, env, key);
            let why = e.to_string();
            *slot = Some(e);
            Err(tresor_store::StoreError::Invalid { uid, why })
        }
    }
}

fn info(meta: &ObjectMeta, app: String, env: String, key: String) -> SecretInfo {
    SecretInfo {
        uid: meta.uid.clone(),
        name: meta.name().unwrap_or(&meta.uid).to_owned(),
        app,
        env,
        key,
        kind: meta
            .attr_str(KIND)
            .unwrap_or(if meta.object_type == ObjectType::SecretData {
                "str"
            } else {
                "key"
            })
            .to_owned(),
        object_type: meta.object_type.as_str().to_owned(),
        state: meta.state.as_str().to_owned(),
        version: meta.current_version,
        updated: meta.updated,
    }
}

/// The index query that narrows a filter before glob matching.
/// The index query that narrows a filter before glob matching. Only the most selective
/// condition is sent (each condition is a separate index lookup that SQLite materialises in
/// full, so a broad `env = prod` beside a narrow key prefix would cost a scan of every prod
/// secret): app and env literal → one range scan of the name index (`app:env:KEYPREFIX…`);
/// else the key; else app or env. Glob matching on the results does the rest.
fn query_for(f: &Filter) -> Query {
    let mut q = Query::default();
    let lit = f.literal_parts();
    if lit.app == Some("kmip") {
        return q;
    }
    let key_prefix = f
        .key()
        .prefixes()
        .filter(|p| p.len() == 1)
        .map(|p| p[0].to_owned());
    if let (Some(app), Some(env)) = (lit.app, lit.env) {
        let key = lit
            .key
            .map(str::to_owned)
            .or(key_prefix)
            .unwrap_or_default();
        q.name_prefix = Some(format!("{app}:{env}:{key}"));
        return q;
    }
    let cond =
        |attr: &str, part: &crate::filter::Part, literal: Option<&str>| -> Option<AttrCond> {
            if let Some(l) = literal {
                Some(AttrCond::Eq(attr.into(), l.into()))
            } else if let Some(lits) = part.literals() {
                Some(AttrCond::In(
                    attr.into(),
                    lits.iter().map(|s| (*s).to_owned()).collect(),
                ))
            } else {
                part.prefixes()
                    .filter(|p| p.len() == 1 && !p[0].is_empty())
                    .map(|p| AttrCond::Prefix(attr.into(), p[0].to_owned()))
            }
        };
    if let Some(c) = cond("key", f.key(), lit.key)
        .or_else(|| cond("app", f.app(), lit.app))
        .or_else(|| cond("env", f.env(), lit.env))
    {
        q.attrs.push(c);
    }
    q
}

#[cfg(test)]
mod literal_name_tests {
    use super::is_literal_name;
    use crate::filter::Filter;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert!(is_literal_name("app:prod:DB_URL"));
        assert!(is_literal_name("a b:e:k]"));
        for s in [
            "", "::", "a:e", "a:e:", ":e:k", "a::k", "a:e:k:x", "a:e:K*", "a:e:K?", "a:e:[K]",
            "a,b:e:k", "a:e:k\n",
        ] {
            assert!(!is_literal_name(s), "{s:?}");
        }
    }

    proptest! {
        /// The fast path of `Vault::get` only takes what the filter grammar would compile to
        /// an exact name.
        #[test]
        fn literal_names_are_exact_filters(s in "[a-z:*?\\[\\],\t ]{0,12}") {
            if is_literal_name(&s) {
                let f = Filter::new(&s).expect("a literal name is a valid filter");
                prop_assert!(f.is_exact());
            }
        }
    }
}
