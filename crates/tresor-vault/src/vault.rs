//! The developer vault: a folder with a key file and a store, and the secrets in it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tresor_crypto::keyfile::{self, KdfParams};
use tresor_crypto::{LocalKek, SecretBytes};
use tresor_store::{Store, fsutil};

use crate::cache::ValueCache;
use crate::{Result, VaultError};

mod import;
mod location;
mod names;
mod secrets;

pub use import::{ImportReport, check_import};
pub use location::open_store;
pub use names::{secret_name, vault_view};
pub use secrets::SecretInfo;

/// The database file inside a vault folder.
pub const DB_FILE: &str = "tresor.db";
/// The key file inside a vault folder.
pub const KEY_FILE: &str = "vault.key";
/// The settings file inside a vault folder.
pub const CONFIG_FILE: &str = "vault.json";

/// Attribute that says what an object is to tresor's doors (`tresor.role`).
pub use tresor_store::secret_name::ROLE;
/// Attribute with the secret's seeqret-style type (`str`, `text`, `file`): `tresor.type`.
pub use tresor_store::secret_name::TYPE as KIND;

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

impl VaultConfig {
    /// The settings saved in `dir` (`vault.json`), or `None` when there are none to read.
    ///
    /// # Errors
    /// [`VaultError::Rejected`] for a settings file that is not valid.
    pub fn read(dir: &Path) -> Result<Option<VaultConfig>> {
        match std::fs::read(dir.join(CONFIG_FILE)) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| VaultError::Rejected {
                    what: "vault settings",
                    why: e.to_string(),
                }),
            Err(_) => Ok(None),
        }
    }
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

impl Vault {
    /// A vault on a store its caller opened: a composition root that unlocks the store
    /// another way than with the folder's key file (the `tresor` binary opens an S3 vault
    /// whose data keys AWS KMS wraps). `dir` is the folder for settings and local state.
    pub fn from_store(dir: &Path, config: VaultConfig, store: Store) -> Vault {
        Vault {
            dir: dir.to_owned(),
            store,
            config,
            cache: None,
        }
    }

    /// Creates the owner's identity objects (as [`Vault::init`] does) unless they exist.
    ///
    /// # Errors
    /// Store errors.
    pub fn ensure_owner(&self) -> Result<()> {
        match crate::identity::create_owner(self) {
            Ok(()) | Err(VaultError::Store(tresor_store::StoreError::NameTaken(_))) => Ok(()),
            Err(e) => Err(e),
        }
    }

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
        let config = VaultConfig::read(dir)?.unwrap_or_else(|| VaultConfig {
            version: 1,
            user: default_user(),
            email: String::new(),
            created: 0,
            store: None,
        });
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
}
