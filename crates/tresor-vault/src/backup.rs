//! Backups: every row of the vault's store (material still sealed) plus its settings, sealed
//! again under the vault key, so names and the audit trail are not readable either.
//!
//! File layout: `TRESOR-BACKUP/1\n` then the `tresor_crypto::envelope` wire form.
//! A backup restores only with the vault key that made it (the key file, or its passphrase).

use std::path::Path;

use serde::{Deserialize, Serialize};
use tresor_crypto::envelope::{self, Sealed};
use tresor_store::progress::Progress;
use tresor_store::{Dump, fsutil};
use zeroize::Zeroizing;

use crate::vault::{CONFIG_FILE, DB_FILE, KEY_FILE, Vault, VaultConfig};
use crate::{Result, VaultError};

const MAGIC: &[u8] = b"TRESOR-BACKUP/1\n";
const AAD: &[u8] = b"tresor/v1\0backup";

#[derive(Serialize, Deserialize)]
struct BackupBody {
    config: VaultConfig,
    dump: Dump,
}

/// What a backup or restore moved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackupReport {
    /// Objects (secrets, users, keys).
    pub objects: usize,
    /// Versions of material.
    pub versions: usize,
    /// Audit entries.
    pub audit: usize,
}

impl Vault {
    /// Writes an encrypted backup of the whole vault to `path` (atomically, mode 0600).
    ///
    /// # Errors
    /// Store or file errors; a failed backup leaves no partial file.
    pub fn backup(&self, path: &Path) -> Result<BackupReport> {
        self.backup_with(path, &())
    }

    /// [`Vault::backup`], reporting its phases to `progress`.
    ///
    /// # Errors
    /// As [`Vault::backup`].
    pub fn backup_with(&self, path: &Path, progress: &dyn Progress) -> Result<BackupReport> {
        progress.phase("reading the store", None);
        let dump = self.store().dump()?;
        progress.phase(
            &format!(
                "sealing {} objects, {} versions, {} audit entries",
                dump.objects.len(),
                dump.versions.len(),
                dump.audit.len()
            ),
            None,
        );
        let report = BackupReport {
            objects: dump.objects.len(),
            versions: dump.versions.len(),
            audit: dump.audit.len(),
        };
        let body = Zeroizing::new(
            serde_json::to_vec(&BackupBody {
                config: self.config().clone(),
                dump,
            })
            .map_err(|e| VaultError::Refused(e.to_string()))?,
        );
        let sealed = envelope::seal(self.store().provider().as_ref(), AAD, &body)?;
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&sealed.to_bytes());
        progress.phase("writing the backup file", None);
        fsutil::write_atomic(path, &out)?;
        self.store().write(|tx| {
            tx.record("backup", None, format!("{} objects", report.objects));
            Ok(())
        })?;
        Ok(report)
    }

    /// Replaces this vault's content with the backup at `path` (one transaction).
    ///
    /// A backup of another vault (another owner, or the same owner's vault made at another
    /// time) that happens to open with this key is refused unless `other_vault` is true: its
    /// identity objects would replace this vault's.
    ///
    /// # Errors
    /// [`VaultError::Rejected`] for a damaged or foreign backup; nothing changes then.
    pub fn restore(&self, path: &Path, other_vault: bool) -> Result<BackupReport> {
        self.restore_with(path, other_vault, &())
    }

    /// [`Vault::restore`], reporting its phases to `progress`.
    ///
    /// # Errors
    /// As [`Vault::restore`].
    pub fn restore_with(
        &self,
        path: &Path,
        other_vault: bool,
        progress: &dyn Progress,
    ) -> Result<BackupReport> {
        progress.phase("opening the backup", None);
        let body = read_backup(self, path)?;
        if !other_vault && !same_vault(self.config(), &body.config) {
            return Err(VaultError::Rejected {
                what: "backup",
                why: format!(
                    "it is a backup of another vault (owner '{}', made {}), not of this one (owner '{}', made {}); pass --force-other-vault to replace this vault's content and identity with it",
                    body.config.user,
                    body.config.created,
                    self.config().user,
                    self.config().created
                ),
            });
        }
        let d = &body.dump;
        let report = BackupReport {
            objects: d.objects.len(),
            versions: d.versions.len(),
            audit: d.audit.len(),
        };
        progress.phase(&restoring(&report), None);
        self.store().restore(d)?;
        Ok(report)
    }

    /// Restores a backup into a folder without a vault, using the key file that made it
    /// (`key_file` is read as given, wherever it is and whatever its name).
    ///
    /// The backup is opened and checked before anything is created; a restore that fails
    /// later removes every file it made (and the folder, if it made it), so it can simply be
    /// run again. An existing vault in `dir` is never touched.
    ///
    /// # Errors
    /// [`VaultError::AlreadyInitialized`] if `dir` holds a vault; [`VaultError::Rejected`].
    pub fn restore_new(
        dir: &Path,
        key_file: &Path,
        backup: &Path,
        passphrase: &mut dyn FnMut() -> Result<tresor_crypto::SecretBytes>,
    ) -> Result<BackupReport> {
        Self::restore_new_with(dir, key_file, backup, passphrase, &())
    }

    /// [`Vault::restore_new`], reporting its phases to `progress`.
    ///
    /// # Errors
    /// As [`Vault::restore_new`].
    pub fn restore_new_with(
        dir: &Path,
        key_file: &Path,
        backup: &Path,
        passphrase: &mut dyn FnMut() -> Result<tresor_crypto::SecretBytes>,
        progress: &dyn Progress,
    ) -> Result<BackupReport> {
        let (db, key, cfg) = (dir.join(DB_FILE), dir.join(KEY_FILE), dir.join(CONFIG_FILE));
        if db.exists() || key.exists() || cfg.exists() {
            return Err(VaultError::AlreadyInitialized(dir.to_owned()));
        }
        let key_text = Zeroizing::new(
            std::fs::read(key_file).map_err(VaultError::io("cannot read key file", key_file))?,
        );
        let kek = decode_key_file(key_file, &key_text, passphrase)?;
        // Open and parse the backup first: a wrong key or a damaged file creates nothing.
        progress.phase("opening the backup", None);
        let body = open_backup_with(&kek, backup)?;
        let made_dir = !dir.exists();
        fsutil::create_private_dir(dir)?;
        let finish = || -> Result<BackupReport> {
            let store = tresor_store::Store::open_sqlite(&db, std::sync::Arc::new(kek), "restore")?;
            let d = &body.dump;
            progress.phase(
                &restoring(&BackupReport {
                    objects: d.objects.len(),
                    versions: d.versions.len(),
                    audit: d.audit.len(),
                }),
                None,
            );
            store.restore(d)?;
            drop(store);
            let cfg_text = serde_json::to_vec_pretty(&body.config)
                .map_err(|e| VaultError::Refused(e.to_string()))?;
            fsutil::write_atomic(&cfg, &cfg_text)?;
            // The key last: a folder with a key file is a vault.
            fsutil::write_atomic(&key, &key_text)?;
            Ok(BackupReport {
                objects: d.objects.len(),
                versions: d.versions.len(),
                audit: d.audit.len(),
            })
        };
        finish().inspect_err(|_| {
            for f in [
                &key,
                &cfg,
                &db,
                &dir.join("tresor.db-wal"),
                &dir.join("tresor.db-shm"),
                &dir.join("tresor.db-journal"),
            ] {
                let _ = std::fs::remove_file(f);
            }
            if made_dir {
                let _ = std::fs::remove_dir(dir);
            }
        })
    }
}

/// Whether a backup's settings describe the same vault as `mine`: the same owner, and the
/// same creation time where both know it (settings from before it was recorded say 0).
fn same_vault(mine: &VaultConfig, backup: &VaultConfig) -> bool {
    mine.user == backup.user
        && (mine.created == 0 || backup.created == 0 || mine.created == backup.created)
}

/// Decodes the key-file text read from `path`, asking for the passphrase only if it needs one.
fn decode_key_file(
    path: &Path,
    text: &[u8],
    passphrase: &mut dyn FnMut() -> Result<tresor_crypto::SecretBytes>,
) -> Result<tresor_crypto::LocalKek> {
    let text = std::str::from_utf8(text).map_err(|_| VaultError::Rejected {
        what: "key file",
        why: format!("'{}' is not a tresor key file (not text)", path.display()),
    })?;
    let mut asked: Option<VaultError> = None;
    let r = tresor_crypto::keyfile::decode(text, || match passphrase() {
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

fn read_backup(v: &Vault, path: &Path) -> Result<BackupBody> {
    open_backup_with(v.store().provider().as_ref(), path)
}

fn open_backup_with(provider: &dyn tresor_crypto::KeyProvider, path: &Path) -> Result<BackupBody> {
    let rej = |why: &str| VaultError::Rejected {
        what: "backup",
        why: why.to_owned(),
    };
    let bytes = std::fs::read(path).map_err(VaultError::io("cannot read backup", path))?;
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| rej("not a tresor backup (bad header)"))?;
    let sealed = Sealed::from_bytes(rest).map_err(|_| rej("truncated or damaged"))?;
    let body = envelope::open(provider, AAD, &sealed).map_err(|e| match e {
        tresor_crypto::CryptoError::NoProvider(_) => rej("made with another vault key"),
        _ => rej("tampered, truncated, or made with another vault key"),
    })?;
    serde_json::from_slice(body.expose()).map_err(|e| rej(&format!("damaged content: {e}")))
}

/// The restore phase's description.
fn restoring(r: &BackupReport) -> String {
    format!(
        "writing {} objects, {} versions, {} audit entries",
        r.objects, r.versions, r.audit
    )
}
