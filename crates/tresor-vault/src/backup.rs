//! Backups: every row of the vault's store (material still sealed) plus its settings, sealed
//! again under the vault key, so names and the audit trail are not readable either.
//!
//! File layout: `TRESOR-BACKUP/1\n` then the `tresor_crypto::envelope` wire form.
//! A backup restores only with the vault key that made it (the key file, or its passphrase).

use std::path::Path;

use serde::{Deserialize, Serialize};
use tresor_crypto::envelope::{self, Sealed};
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
        let dump = self.store().dump()?;
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
        fsutil::write_atomic(path, &out)?;
        self.store().write(|tx| {
            tx.record("backup", None, format!("{} objects", report.objects));
            Ok(())
        })?;
        Ok(report)
    }

    /// Replaces this vault's content with the backup at `path` (one transaction).
    ///
    /// # Errors
    /// [`VaultError::Rejected`] for a damaged or foreign backup; nothing changes then.
    pub fn restore(&self, path: &Path) -> Result<BackupReport> {
        let body = read_backup(self, path)?;
        let d = &body.dump;
        let report = BackupReport {
            objects: d.objects.len(),
            versions: d.versions.len(),
            audit: d.audit.len(),
        };
        self.store().restore(d)?;
        Ok(report)
    }

    /// Restores a backup into a folder without a vault, using the key file that made it.
    ///
    /// # Errors
    /// [`VaultError::AlreadyInitialized`] if `dir` holds a vault; [`VaultError::Rejected`].
    pub fn restore_new(
        dir: &Path,
        key_file: &Path,
        backup: &Path,
        passphrase: &mut dyn FnMut() -> Result<tresor_crypto::SecretBytes>,
    ) -> Result<BackupReport> {
        if dir.join(DB_FILE).exists() || dir.join(KEY_FILE).exists() {
            return Err(VaultError::AlreadyInitialized(dir.to_owned()));
        }
        let key_text = Zeroizing::new(
            std::fs::read(key_file).map_err(VaultError::io("cannot read key file", key_file))?,
        );
        let key_dir = key_file.parent().unwrap_or(Path::new("."));
        let kek = Vault::read_key(key_dir, passphrase)?;
        fsutil::create_private_dir(dir)?;
        let store = tresor_store::Store::open_sqlite(
            &dir.join(DB_FILE),
            std::sync::Arc::new(kek),
            "restore",
        )?;
        let body = open_backup(&store, backup)?;
        let d = &body.dump;
        store.restore(d)?;
        fsutil::write_atomic(&dir.join(KEY_FILE), &key_text)?;
        let cfg = serde_json::to_vec_pretty(&body.config)
            .map_err(|e| VaultError::Refused(e.to_string()))?;
        fsutil::write_atomic(&dir.join(CONFIG_FILE), &cfg)?;
        Ok(BackupReport {
            objects: d.objects.len(),
            versions: d.versions.len(),
            audit: d.audit.len(),
        })
    }
}

fn read_backup(v: &Vault, path: &Path) -> Result<BackupBody> {
    open_backup(v.store(), path)
}

fn open_backup(store: &tresor_store::Store, path: &Path) -> Result<BackupBody> {
    let rej = |why: &str| VaultError::Rejected {
        what: "backup",
        why: why.to_owned(),
    };
    let bytes = std::fs::read(path).map_err(VaultError::io("cannot read backup", path))?;
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| rej("not a tresor backup (bad header)"))?;
    let sealed = Sealed::from_bytes(rest).map_err(|_| rej("truncated or damaged"))?;
    let body = envelope::open(store.provider().as_ref(), AAD, &sealed).map_err(|e| match e {
        tresor_crypto::CryptoError::NoProvider(_) => rej("made with another vault key"),
        _ => rej("tampered, truncated, or made with another vault key"),
    })?;
    serde_json::from_slice(body.expose()).map_err(|e| rej(&format!("damaged content: {e}")))
}
