//! Rotating the vault key ([`Vault::rekey`]) and changing its passphrase
//! ([`Vault::change_passphrase`]), crash-safe across the two places a vault keeps its key: the
//! store (which data keys it wraps, and the id of that key under
//! [`tresor_store::KEK_ID_META`]) and the key file.
//!
//! A rekey, under an exclusive lock on `vault.key.lock`:
//! 1. writes the new key to `vault.key.next` (0600, atomically), protected like `vault.key`;
//! 2. commits one store transaction that rewraps every data key and sealed setting and records
//!    the new key's id;
//! 3. renames `vault.key.next` over `vault.key`.
//!
//! Killed before 2 commits, the store still uses the old key, which `vault.key` holds; killed
//! after, the store uses the new key, which `vault.key.next` holds, and the next open
//! ([`Vault::read_key_at`], [`finish_pending_rekey`]) finishes step 3 because the recorded id
//! is the one of `vault.key.next`. A `vault.key.next` whose id the store does not record is
//! left over from a rekey that never committed and is removed (under the lock, so never while
//! a rekey runs).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use tresor_crypto::keyfile::{self, KdfParams};
use tresor_crypto::{KeyProvider, LocalKek, SecretBytes};
use tresor_store::{KEK_ID_META, RekeyReport, fsutil};
use zeroize::Zeroizing;

use crate::vault::{CONFIG_FILE, DB_FILE, KEY_FILE, VaultConfig};
use crate::{Result, Vault, VaultError};

/// The new key file a rekey writes before it commits; renamed over `vault.key` after.
pub const NEXT_KEY_FILE: &str = "vault.key.next";
/// The lock a rekey, a passphrase change and the finishing of an interrupted rekey hold.
pub const LOCK_FILE: &str = "vault.key.lock";

/// An exclusive `flock` on the vault's lock file; released when dropped or when the process
/// dies (a `SIGKILL` leaves no stale lock).
struct KeyLock(#[allow(dead_code)] File);

fn lock(dir: &Path) -> Result<KeyLock> {
    let path = dir.join(LOCK_FILE);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&path)
        .map_err(VaultError::io("cannot open lock file", &path))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| VaultError::io("cannot lock", &path)(e.into()))?;
    Ok(KeyLock(f))
}

/// Wraps a passphrase source so it is asked at most once.
fn once(f: &mut dyn FnMut() -> Result<SecretBytes>) -> impl FnMut() -> Result<SecretBytes> {
    let mut got: Option<SecretBytes> = None;
    move || {
        if let Some(p) = &got {
            return Ok(p.clone());
        }
        let p = f()?;
        got = Some(p.clone());
        Ok(p)
    }
}

/// Decodes key-file text, mapping a wrong passphrase to [`VaultError::WrongPassphrase`] and
/// passing the passphrase source's own error through.
fn decode(text: &str, passphrase: &mut dyn FnMut() -> Result<SecretBytes>) -> Result<LocalKek> {
    let mut asked: Option<VaultError> = None;
    let r = keyfile::decode(text, || match passphrase() {
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

fn read_text(path: &Path) -> Result<Option<Zeroizing<String>>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(Zeroizing::new(t))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(VaultError::io("cannot read key file", path)(e)),
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Step 3: `vault.key.next` becomes `vault.key` (rename, then fsync of the folder). If the
/// file is gone (another process finished the switch), `text` is written in its place.
fn promote(dir: &Path, text: &str) -> Result<()> {
    let (next, key) = (dir.join(NEXT_KEY_FILE), dir.join(KEY_FILE));
    match std::fs::rename(&next, &key) {
        Ok(()) => {
            sync_dir(dir);
            Ok(())
        }
        Err(_) => Ok(fsutil::write_atomic(&key, text.as_bytes())?),
    }
}

/// The key id the vault's store records (`None` for a store never rekeyed), read from the
/// store at `location`, else the one in the vault's settings, else `tresor.db`.
fn recorded_key_id(dir: &Path, location: Option<&str>) -> Result<Option<Vec<u8>>> {
    let configured = std::fs::read(dir.join(CONFIG_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<VaultConfig>(&b).ok())
        .and_then(|c| c.store);
    let backend = match location.map(str::to_owned).or(configured) {
        Some(url) => tresor_store::store_url::open_backend(&url)?,
        None => {
            let db = dir.join(DB_FILE);
            if !db.exists() {
                return Err(VaultError::Refused(format!(
                    "'{}' is missing: cannot tell which key the store uses",
                    db.display()
                )));
            }
            Arc::new(tresor_store::SqliteBackend::open(&db)?)
        }
    };
    Ok(backend.meta_get(KEK_ID_META)?)
}

fn finish_locked(
    dir: &Path,
    location: Option<&str>,
    passphrase: &mut dyn FnMut() -> Result<SecretBytes>,
) -> Result<()> {
    let Some(text) = read_text(&dir.join(NEXT_KEY_FILE))? else {
        return Ok(());
    };
    let next = decode(&text, passphrase)?;
    if recorded_key_id(dir, location)?.as_deref() == Some(next.key_id().as_bytes()) {
        promote(dir, &text)
    } else {
        // A rekey that never committed: the store still uses the key in vault.key.
        std::fs::remove_file(dir.join(NEXT_KEY_FILE))
            .map_err(VaultError::io("cannot remove", &dir.join(NEXT_KEY_FILE)))
    }
}

/// Finishes a rekey a crash interrupted: when `vault.key.next` holds the key the store
/// records, it replaces `vault.key`; when it holds another, it is removed. Does nothing (one
/// `stat`) when there is no `vault.key.next`.
///
/// # Errors
/// [`VaultError::WrongPassphrase`] and the like for `vault.key.next`, store and file errors.
pub fn finish_pending_rekey(
    dir: &Path,
    location: Option<&str>,
    passphrase: &mut dyn FnMut() -> Result<SecretBytes>,
) -> Result<()> {
    if !dir.join(NEXT_KEY_FILE).exists() {
        return Ok(());
    }
    let _lock = lock(dir)?;
    finish_locked(dir, location, passphrase)
}

impl Vault {
    /// Reads the vault key of `dir` as [`Vault::read_key`] does, first finishing a rekey a
    /// crash interrupted ([`finish_pending_rekey`]; the store at `location`, else the
    /// configured one). The passphrase is asked at most once.
    ///
    /// # Errors
    /// As [`Vault::read_key`] and [`finish_pending_rekey`].
    pub fn read_key_at(
        dir: &Path,
        location: Option<&str>,
        passphrase: &mut dyn FnMut() -> Result<SecretBytes>,
    ) -> Result<LocalKek> {
        let mut pw = once(passphrase);
        finish_pending_rekey(dir, location, &mut pw)?;
        Self::read_key(dir, &mut pw)
    }

    /// Rotates the vault key: a new key replaces the one in `vault.key` (protected by the same
    /// passphrase and Argon2id cost), every data key of the store and its sealed settings are
    /// rewrapped under it in one transaction, and the old key opens nothing any more. Crash
    /// safe: see the [module documentation](self). `passphrase` (asked only if the key file
    /// has one) must open the current key file.
    ///
    /// Other folders whose key file opens the same store (a PostgreSQL store shared by
    /// copies of the key file) must be given the new `vault.key`.
    ///
    /// # Errors
    /// [`VaultError::WrongPassphrase`]; [`VaultError::Refused`] if the key file does not hold
    /// the store's key; [`tresor_store::StoreError::KeyRotated`] if another rekey replaced
    /// the key since this vault was opened; store errors (nothing changed).
    pub fn rekey(
        &self,
        passphrase: &mut dyn FnMut() -> Result<SecretBytes>,
    ) -> Result<RekeyReport> {
        let dir = self.dir().to_owned();
        let store = self.store();
        let _lock = lock(&dir)?;
        let recorded = store.backend().meta_get(KEK_ID_META)?;
        if recorded
            .as_deref()
            .is_some_and(|r| r != store.provider().key_id().as_bytes())
        {
            return Err(tresor_store::StoreError::KeyRotated.into());
        }
        let key_path = dir.join(KEY_FILE);
        let text =
            read_text(&key_path)?.ok_or_else(|| VaultError::KeyFileMissing(key_path.clone()))?;
        let mut pw = once(passphrase);
        let current = decode(&text, &mut pw)?;
        if current.key_id() != store.provider().key_id() {
            return Err(VaultError::Refused(format!(
                "'{}' does not hold the key this vault's store uses; nothing was changed",
                key_path.display()
            )));
        }
        let new = LocalKek::generate()?;
        let new_id = new.key_id().to_owned();
        let new_text = Zeroizing::new(match keyfile::needs_passphrase(&text) {
            true => keyfile::encode(
                &new,
                Some(pw()?.expose()),
                keyfile::params_of(&text).unwrap_or_default(),
            )?,
            false => keyfile::encode(&new, None, KdfParams::default())?,
        });
        // Step 1.
        fsutil::write_atomic(&dir.join(NEXT_KEY_FILE), new_text.as_bytes())?;
        // Step 2.
        let report = match store.rekey(Arc::new(new)) {
            Ok((_, report)) => report,
            Err(e) => {
                return match store.backend().meta_get(KEK_ID_META) {
                    // The commit went through although its reply was lost: finish the switch.
                    Ok(Some(id)) if id == new_id.as_bytes() => {
                        promote(&dir, &new_text)?;
                        Err(VaultError::Refused(format!(
                            "the rekey was committed but its confirmation was lost ({e}); the new key file is in place"
                        )))
                    }
                    Ok(_) => {
                        let _ = std::fs::remove_file(dir.join(NEXT_KEY_FILE));
                        Err(e.into())
                    }
                    // Unknown: keep vault.key.next; the next open decides from the store.
                    Err(_) => Err(e.into()),
                };
            }
        };
        // Step 3.
        promote(&dir, &new_text)?;
        Ok(report)
    }

    /// Sets, changes or (`new` = `None`) removes the passphrase of the key file of `dir`: the
    /// same key, re-protected, written atomically (0600); nothing in the store changes. `old`
    /// is asked only if the key file has a passphrase and must open it. `kdf` sets the
    /// Argon2id cost (default: the file's current cost, else the default cost). A rekey a
    /// crash interrupted is finished first (the store at `location`, else the configured one).
    ///
    /// # Errors
    /// [`VaultError::WrongPassphrase`] (nothing changed), [`VaultError::Refused`] when asked to
    /// remove a passphrase the file does not have, file errors.
    pub fn change_passphrase(
        dir: &Path,
        location: Option<&str>,
        old: &mut dyn FnMut() -> Result<SecretBytes>,
        new: Option<&SecretBytes>,
        kdf: Option<KdfParams>,
    ) -> Result<()> {
        let key_path = dir.join(KEY_FILE);
        if !key_path.exists() {
            return Err(if dir.join(DB_FILE).exists() {
                VaultError::KeyFileMissing(key_path)
            } else {
                VaultError::NotInitialized(dir.to_owned())
            });
        }
        let _lock = lock(dir)?;
        let mut pw = once(old);
        finish_locked(dir, location, &mut pw)?;
        let text =
            read_text(&key_path)?.ok_or_else(|| VaultError::KeyFileMissing(key_path.clone()))?;
        if new.is_none() && !keyfile::needs_passphrase(&text) {
            return Err(VaultError::Refused(
                "the key file has no passphrase; nothing was changed".into(),
            ));
        }
        let kek = decode(&text, &mut pw)?;
        let params = kdf
            .or_else(|| keyfile::params_of(&text))
            .unwrap_or_default();
        let out = Zeroizing::new(keyfile::encode(
            &kek,
            new.map(|p| p.expose().as_slice()),
            params,
        )?);
        fsutil::write_atomic(&key_path, out.as_bytes())?;
        Ok(())
    }
}
