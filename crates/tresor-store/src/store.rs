//! The [`Store`]: the one API every door uses. It seals material, keeps revisions and writes
//! the audit chain; a [`Backend`] keeps the rows.

use std::sync::{Arc, Mutex};

use tresor_crypto::envelope::{self, Sealed};
use tresor_crypto::{KeyProvider, Secret};

use crate::audit::AuditSigner;
use crate::backend::Backend;
use crate::head::HeadSink;
use crate::mac::MetaKey;
use crate::model::{ObjectMeta, State, material_aad};
use crate::{Result, StoreError};

mod backup;
mod chain;
mod metamac;
mod read;
mod txn;

pub use chain::AuditReport;
pub use txn::Txn;

pub(crate) const AUDIT_KEY: &str = "audit-key";
pub(crate) const AUDIT_KEY_AAD: &[u8] = b"tresor/v1\0audit-key";
/// The store-wide setting naming the key that wraps every data key, set by a rekey
/// ([`Store::rekey`]); absent in a store never rekeyed.
pub const KEK_ID_META: &str = "kek-id";

/// A store of managed objects on some backend, sealing material with a key provider.
pub struct Store {
    backend: Arc<dyn Backend>,
    provider: Arc<dyn KeyProvider>,
    /// The audit key, unwrapped on first need (a commit, [`Store::verify_audit`],
    /// [`Store::dump`], [`Store::check_key`]): a read-only command never fetches it, which on
    /// a remote backend saves a round trip and a key-provider call per process.
    signer: Mutex<Option<Arc<AuditSigner>>>,
    /// The metadata MAC key, derived from the audit key when it is unwrapped (once).
    meta_key: Mutex<Option<Arc<MetaKey>>>,
    actor: String,
    /// Where the audit head is kept outside the database, if anywhere
    /// ([`Store::with_audit_head`]).
    head: Option<Arc<dyn HeadSink>>,
    /// The head bytes this process last recorded: found again in the sink, they need no
    /// second MAC check (this process made them).
    last_head: Mutex<Option<Vec<u8>>>,
    /// The highest audit seq this process recorded in the sink (0: none yet). A commit whose
    /// head is not above it has nothing to record: the sink already holds a newer head. Under
    /// group commit this spares most writers of a group the sink's lock, read and write.
    last_head_seq: std::sync::atomic::AtomicU64,
    /// Held while this process moves the head: a writer that waited for another's update
    /// checks `last_head_seq` again before it touches the sink (a group's writers wake
    /// together; without it each took the sink's lock and read it only to find the group's
    /// head already there).
    head_writer: Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend.kind())
            .field("actor", &self.actor)
            .finish()
    }
}

impl Store {
    /// Opens a store on `backend`, sealing with `provider`, acting as `actor`.
    ///
    /// Opening reads nothing: the store's audit key is fetched and unwrapped on the first
    /// read or write (created then, exactly once, for a new store), and the metadata MAC key
    /// is derived from it; a store written before metadata MACs is brought forward then. A
    /// wrong `provider` shows as [`StoreError::Crypto`] on that first use. Call
    /// [`Store::check_key`] to check the key now.
    ///
    /// # Errors
    /// None today; kept fallible so a backend may check itself here.
    pub fn open(
        backend: Arc<dyn Backend>,
        provider: Arc<dyn KeyProvider>,
        actor: impl Into<String>,
    ) -> Result<Self> {
        Ok(Store {
            backend,
            provider,
            signer: Mutex::new(None),
            meta_key: Mutex::new(None),
            actor: actor.into(),
            head: None,
            last_head: Mutex::new(None),
            last_head_seq: std::sync::atomic::AtomicU64::new(0),
            head_writer: Mutex::new(()),
        })
    }

    /// Keeps the audit head in `sink` from now on: each commit moves it forward (never back),
    /// and [`Store::verify_audit`] checks the chain reaches it.
    pub fn with_audit_head(mut self, sink: Arc<dyn HeadSink>) -> Self {
        self.head = Some(sink);
        self
    }

    /// Where this store keeps its audit head, if anywhere.
    pub fn audit_head(&self) -> Option<&Arc<dyn HeadSink>> {
        self.head.as_ref()
    }

    /// Checks now that `provider` is the key this store was created with, by unwrapping the
    /// store's audit key (creating it for a new store), as [`Store::open`] no longer does.
    ///
    /// # Errors
    /// [`StoreError::Crypto`] if the provider does not open the audit key; backend errors.
    pub fn check_key(&self) -> Result<()> {
        self.signer().map(|_| ())
    }

    /// The audit signer, fetching (or, for a new store, creating) the sealed audit key on
    /// first use. `meta_init` is race-safe, so concurrent first writers agree on one key.
    pub(crate) fn signer(&self) -> Result<Arc<AuditSigner>> {
        if let Some(s) = self.signer.lock().ok().and_then(|g| g.clone()) {
            return Ok(s);
        }
        let sealed = match self.backend.meta_get(AUDIT_KEY)? {
            Some(s) => s,
            None => {
                let mut k = [0u8; 32];
                tresor_crypto::random_fill(&mut k)?;
                let s = envelope::seal(self.provider.as_ref(), AUDIT_KEY_AAD, &k)?;
                zeroize_arr(&mut k);
                self.backend.meta_init(AUDIT_KEY, &s.to_bytes())?
            }
        };
        let key = envelope::open(
            self.provider.as_ref(),
            AUDIT_KEY_AAD,
            &Sealed::from_bytes(&sealed)?,
        )?;
        let mk = Arc::new(MetaKey::derive(key.expose())?);
        let s = Arc::new(AuditSigner::new(key));
        self.bring_forward(&s, &mk)?;
        if let Ok(mut g) = self.meta_key.lock() {
            *g = Some(mk);
        }
        if let Ok(mut g) = self.signer.lock() {
            *g = Some(s.clone());
        }
        Ok(s)
    }

    /// The metadata MAC key (unwrapping the audit key on first use).
    pub(crate) fn meta_key(&self) -> Result<Arc<MetaKey>> {
        if let Some(k) = self.meta_key.lock().ok().and_then(|g| g.clone()) {
            return Ok(k);
        }
        self.signer()?;
        self.meta_key
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .ok_or_else(|| StoreError::Unavailable("the metadata key cache is poisoned".into()))
    }

    /// The metadata key for a read: as [`Store::meta_key`], but a store without an audit key
    /// yet (a new, empty store) is not given one by a read: `None` then, and any object such
    /// a store returns is refused by [`check`].
    fn read_key(&self) -> Result<Option<Arc<MetaKey>>> {
        if let Some(k) = self.meta_key.lock().ok().and_then(|g| g.clone()) {
            return Ok(Some(k));
        }
        if self.backend.meta_get(AUDIT_KEY)?.is_none() {
            return Ok(None);
        }
        self.meta_key().map(Some)
    }

    /// The same store under another key provider, keeping the unwrapped audit key (a rekey
    /// rewraps it, its value stays).
    pub(crate) fn with_provider(&self, provider: Arc<dyn KeyProvider>) -> Store {
        Store {
            backend: self.backend.clone(),
            provider,
            signer: Mutex::new(self.signer.lock().ok().and_then(|g| g.clone())),
            meta_key: Mutex::new(self.meta_key.lock().ok().and_then(|g| g.clone())),
            actor: self.actor.clone(),
            head: self.head.clone(),
            last_head: Mutex::new(None),
            last_head_seq: std::sync::atomic::AtomicU64::new(0),
            head_writer: Mutex::new(()),
        }
    }

    /// Opens (creating if needed) a SQLite store at `path`.
    ///
    /// # Errors
    /// As [`crate::SqliteBackend::open`] and [`Store::open`].
    pub fn open_sqlite(
        path: &std::path::Path,
        provider: Arc<dyn KeyProvider>,
        actor: impl Into<String>,
    ) -> Result<Self> {
        Self::open(Arc::new(crate::SqliteBackend::open(path)?), provider, actor)
    }

    /// The identity that audit entries name.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Changes the acting identity.
    pub fn set_actor(&mut self, actor: impl Into<String>) {
        self.actor = actor.into();
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The key provider.
    pub fn provider(&self) -> &Arc<dyn KeyProvider> {
        &self.provider
    }

    fn seal(&self, meta: &ObjectMeta, version: u32, material: &[u8]) -> Result<Vec<u8>> {
        let aad = material_aad(&meta.uid, version, meta.object_type);
        Ok(envelope::seal(self.provider.as_ref(), &aad, material)?.to_bytes())
    }
}

fn zeroize_arr(k: &mut [u8; 32]) {
    let s = Secret::new(*k);
    drop(s);
    *k = [0u8; 32];
}

/// Lifecycle rules shared by the doors: which transitions the KMIP state machine allows.
pub fn check_transition(uid: &str, from: State, to: State) -> Result<()> {
    use State::*;
    let ok = matches!(
        (from, to),
        (PreActive, Active)
            | (PreActive, Compromised)
            | (PreActive, Destroyed)
            | (Active, Deactivated)
            | (Active, Compromised)
            | (Deactivated, Compromised)
            | (Deactivated, Destroyed)
            | (Compromised, DestroyedCompromised)
            | (Destroyed, DestroyedCompromised)
    );
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            uid: uid.to_owned(),
            why: format!("cannot go from {from} to {to}"),
        })
    }
}
