//! [`SecretsDoor`]: what the vault commands need from a vault, local or on a server.
//!
//! The local [`Vault`] implements it by delegation; [`crate::remote::RemoteVault`] over a
//! KMIP server. `vault_cmd` picks one door per process and never asks which it got.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use tresor_crypto::SecretBytes;
use tresor_store::VersionInfo;
use tresor_vault::filter::{Filter, FilterSet};
use tresor_vault::reference::Reference;
use tresor_vault::{ImportReport, SecretInfo, Vault};

/// Read requests this process made of the store: one per local read call (`get`, `list`,
/// `value`, `history`, `read_references`, …), one per request message to a KMIP server.
static READS: AtomicU64 = AtomicU64::new(0);

/// Counts one read request (see [`reads`]).
pub fn count_read() {
    READS.fetch_add(1, Ordering::Relaxed);
}

/// How many read requests this process made of the store so far.
pub fn reads() -> u64 {
    READS.load(Ordering::Relaxed)
}

/// With `TRESOR_DEBUG_STORE_READS` set, prints `tresor: store reads: N` on stderr (what the
/// reference tests and `bench/vault/references.sh` count).
pub fn report_reads() {
    if std::env::var_os("TRESOR_DEBUG_STORE_READS").is_some() {
        eprintln!("tresor: store reads: {}", reads());
    }
}

/// The secret operations shared by the local vault and a remote one.
pub trait SecretsDoor {
    /// The value of the one secret `filter` names.
    fn get(&self, filter: &str) -> Result<SecretBytes>;
    /// Every secret matching any filter of `set` (all for an empty set), sorted by name.
    fn list(&self, set: &FilterSet) -> Result<Vec<SecretInfo>>;
    /// The current value of a listed secret.
    fn value(&self, s: &SecretInfo) -> Result<SecretBytes>;
    /// The values of `refs`, all in one read (a local vault: one pass of indexed lookups; a
    /// server: one request message); `None` for each one that names no secret or version.
    fn read_references(&self, refs: &[Reference]) -> Result<Vec<Option<SecretBytes>>>;
    /// Adds a secret (a new version of an existing one with `force`); returns its version.
    fn add(
        &self,
        app: &str,
        env: &str,
        key: &str,
        value: &[u8],
        kind: &str,
        force: bool,
    ) -> Result<u32>;
    /// Gives every target a new version holding `value`.
    fn set_values(&self, targets: &[SecretInfo], value: &[u8]) -> Result<()>;
    /// Removes secrets.
    fn remove(&self, targets: &[SecretInfo]) -> Result<()>;
    /// Who owns a listed secret, when the door has owners (a server; a local vault is
    /// its one owner's).
    fn owner(&self, _s: &SecretInfo) -> Option<String> {
        None
    }
    /// The versions of a secret, oldest first.
    fn history(&self, s: &SecretInfo) -> Result<Vec<VersionInfo>>;
    /// The value of one version.
    fn value_at(&self, s: &SecretInfo, version: u32) -> Result<SecretBytes>;
    /// Makes an old version's value current again (as a new version).
    fn rollback(&self, s: &SecretInfo, version: u32) -> Result<u32>;
    /// Imports `(key, value)` pairs into `app:env`, all or nothing.
    fn import_pairs(
        &self,
        app: &str,
        env: &str,
        pairs: &[(String, SecretBytes)],
        update: bool,
        dry_run: bool,
    ) -> Result<ImportReport>;
    /// [`SecretsDoor::import_pairs`], reporting to `progress` (a server's import is one
    /// batch: one step).
    fn import_pairs_with(
        &self,
        app: &str,
        env: &str,
        pairs: &[(String, SecretBytes)],
        update: bool,
        dry_run: bool,
        progress: &dyn tresor_store::progress::Progress,
    ) -> Result<ImportReport> {
        progress.phase("importing (one batch)", Some(1));
        let r = self.import_pairs(app, env, pairs, update, dry_run)?;
        progress.advance(1);
        Ok(r)
    }

    /// The one secret `f` matches ([`SecretInfo::only_match`]).
    ///
    /// # Errors
    /// [`tresor_vault::VaultError::NotFound`], [`tresor_vault::VaultError::Ambiguous`].
    fn find_one(&self, f: &Filter) -> Result<SecretInfo> {
        let found = self.list(&FilterSet::from_iter([f.clone()]))?;
        Ok(SecretInfo::only_match(f, found)?)
    }
}

impl SecretsDoor for Vault {
    fn get(&self, filter: &str) -> Result<SecretBytes> {
        count_read();
        Ok(Vault::get(self, filter)?)
    }
    fn list(&self, set: &FilterSet) -> Result<Vec<SecretInfo>> {
        count_read();
        Ok(Vault::list(self, set)?)
    }
    fn value(&self, s: &SecretInfo) -> Result<SecretBytes> {
        count_read();
        Ok(Vault::value(self, s)?)
    }
    fn read_references(&self, refs: &[Reference]) -> Result<Vec<Option<SecretBytes>>> {
        count_read();
        Ok(Vault::read_references(self, refs)?)
    }
    fn add(
        &self,
        app: &str,
        env: &str,
        key: &str,
        value: &[u8],
        kind: &str,
        force: bool,
    ) -> Result<u32> {
        Ok(Vault::add(self, app, env, key, value, kind, force)?)
    }
    fn set_values(&self, targets: &[SecretInfo], value: &[u8]) -> Result<()> {
        Ok(Vault::set_values(self, targets, value)?)
    }
    fn remove(&self, targets: &[SecretInfo]) -> Result<()> {
        Ok(Vault::remove(self, targets)?)
    }
    fn history(&self, s: &SecretInfo) -> Result<Vec<VersionInfo>> {
        count_read();
        Ok(Vault::history(self, s)?)
    }
    fn value_at(&self, s: &SecretInfo, version: u32) -> Result<SecretBytes> {
        count_read();
        Ok(Vault::value_at(self, s, version)?)
    }
    fn rollback(&self, s: &SecretInfo, version: u32) -> Result<u32> {
        Ok(Vault::rollback(self, s, version)?)
    }
    fn import_pairs(
        &self,
        app: &str,
        env: &str,
        pairs: &[(String, SecretBytes)],
        update: bool,
        dry_run: bool,
    ) -> Result<ImportReport> {
        Ok(Vault::import_pairs(self, app, env, pairs, update, dry_run)?)
    }
    fn import_pairs_with(
        &self,
        app: &str,
        env: &str,
        pairs: &[(String, SecretBytes)],
        update: bool,
        dry_run: bool,
        progress: &dyn tresor_store::progress::Progress,
    ) -> Result<ImportReport> {
        Ok(Vault::import_pairs_with(
            self, app, env, pairs, update, dry_run, progress,
        )?)
    }
    fn find_one(&self, f: &Filter) -> Result<SecretInfo> {
        count_read();
        Ok(Vault::find_one(self, f)?)
    }
}
