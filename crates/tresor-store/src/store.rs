//! The [`Store`]: the one API every door uses. It seals material, keeps revisions and writes
//! the audit chain; a [`Backend`] keeps the rows.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tresor_crypto::envelope::{self, Sealed};
use tresor_crypto::{KeyProvider, Secret, SecretBytes};

use crate::audit::{AuditDraft, AuditEntry, AuditSigner};
use crate::backend::{Backend, Batch, Found, Precondition, Write};
use crate::head::{AuditHead, HeadSink};
use crate::mac::MetaKey;
use crate::model::{
    NewObject, ObjectMeta, SealedVersion, State, VersionInfo, material_aad, new_uid, now,
};
use crate::query::Query;
use crate::{Result, StoreError};

pub(crate) const AUDIT_KEY: &str = "audit-key";
pub(crate) const AUDIT_KEY_AAD: &[u8] = b"tresor/v1\0audit-key";
/// The store setting present once every object carries a metadata MAC.
const MAC_MARKER: &str = "metadata-mac";
/// The audit action of bringing a store written before metadata MACs forward.
const MAC_MIGRATION: &str = "metadata-mac";
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
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend.kind())
            .field("actor", &self.actor)
            .finish()
    }
}

/// Result of [`Store::verify_audit`].
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: u64,
    /// The first entry whose MAC or position is wrong, if any.
    pub first_bad: Option<u64>,
    /// The seq the audit head kept outside the database names, if a head was checked.
    pub head: Option<u64>,
    /// `(head seq, last seq in the chain)` when the head names an entry past the end of the
    /// chain: entries were deleted or an older database was restored.
    pub missing_tail: Option<(u64, u64)>,
    /// The head names an entry the chain has with another MAC: the chain was replaced (an
    /// older database restored, then written to).
    pub head_mismatch: Option<u64>,
    /// The head is malformed or its MAC does not verify under this store's audit key.
    pub head_tampered: bool,
}

impl AuditReport {
    /// Returns true if and only if the chain verifies and agrees with the head (if any).
    pub fn is_ok(&self) -> bool {
        self.first_bad.is_none()
            && self.missing_tail.is_none()
            && self.head_mismatch.is_none()
            && !self.head_tampered
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

    /// Moves the recorded head to `new` if it is ahead of the recorded one and the recorded
    /// one still names an entry of the chain. A recorded head that is forged, or that the
    /// chain no longer reaches, is left as it is: it is the evidence `verify_audit` reports.
    ///
    /// `chained_onto`: the seq and MAC of the entry this commit's entries were chained onto.
    /// When it is the recorded head's entry, the chain reaches that head without a read (the
    /// commit just linked to it); otherwise the entry is read back.
    fn advance_head(
        &self,
        signer: &AuditSigner,
        new: &AuditHead,
        chained_onto: &(u64, String),
    ) -> Result<()> {
        let Some(sink) = &self.head else {
            return Ok(());
        };
        let new_bytes = new.to_bytes();
        let mut written = false;
        sink.update(&mut |cur| {
            let Some(bytes) = cur else {
                written = true;
                return Ok(Some(new_bytes.clone()));
            };
            let Ok(old) = AuditHead::from_bytes(bytes) else {
                return Ok(None);
            };
            let ours = self.last_head.lock().is_ok_and(|l| {
                l.as_deref()
                    .is_some_and(|l| tresor_crypto::ct_eq(l, crate::head::recorded(bytes)))
            });
            if old.seq >= new.seq || !(ours || old.is_authentic(signer)) {
                return Ok(None);
            }
            // Whether (seq, mac) names the recorded head's entry.
            let names_old = |seq: u64, mac: &str| {
                seq == old.seq && tresor_crypto::ct_eq(mac.as_bytes(), old.entry.as_bytes())
            };
            let reached = names_old(chained_onto.0, &chained_onto.1) || {
                let at = self.backend.audit(old.seq.saturating_sub(1), 1)?;
                at.first().is_some_and(|e| names_old(e.seq, &e.mac))
            };
            written = reached;
            Ok(reached.then(|| new_bytes.clone()))
        })?;
        if written && let Ok(mut l) = self.last_head.lock() {
            // In the form the sink gives back, so the next commit's comparison can match.
            *l = Some(crate::head::recorded(&new_bytes).to_vec());
        }
        Ok(())
    }

    /// Records `head` (or removes the need for one: `None` for an empty chain) whatever was
    /// recorded before: after a deliberate [`Store::restore`].
    fn reset_head(&self, head: Option<AuditHead>) -> Result<()> {
        let Some(sink) = &self.head else {
            return Ok(());
        };
        let Some(head) = head else {
            return Ok(());
        };
        sink.update(&mut |_| Ok(Some(head.to_bytes())))
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

    /// Gives every object of a store written before metadata MACs its MAC, in one
    /// transaction, the first time the key is at hand; a no-op (one settings read) once the
    /// store's marker is set. Refused when the audit chain shows the store was already
    /// brought forward: then the marker was removed by someone editing the database, and
    /// MACing what they left would bless their edits.
    fn bring_forward(&self, signer: &AuditSigner, mk: &MetaKey) -> Result<()> {
        if self.backend.meta_get(MAC_MARKER)?.is_some() {
            return Ok(());
        }
        let mut after = 0;
        loop {
            let page = self.backend.audit(after, 10_000)?;
            let Some(last) = page.last() else { break };
            if page.iter().any(|e| e.action == MAC_MIGRATION) {
                // Another process may have just brought it forward.
                if self.backend.meta_get(MAC_MARKER)?.is_some() {
                    return Ok(());
                }
                return Err(StoreError::Tampered {
                    uid: "(store)".into(),
                    detail: format!(
                        "its '{MAC_MARKER}' setting was removed after its objects were MACed"
                    ),
                });
            }
            after = last.seq;
        }
        let note = AuditDraft {
            actor: self.actor.clone(),
            action: MAC_MIGRATION.into(),
            uid: None,
            detail: "metadata MACs added to the objects written before them".into(),
        };
        self.backend
            .backfill_macs(&|m| mk.compute(m), MAC_MARKER, &note, signer)?;
        Ok(())
    }

    /// Checks an object found by `name`: its MAC, and that it carries the name (a forged
    /// name row pointing at another object is caught here).
    fn check_named(mk: Option<&MetaKey>, m: &ObjectMeta, name: &str) -> Result<()> {
        check_remembered(mk, m)?;
        if !m.names.iter().any(|n| n == name) {
            return Err(tampered(
                &m.uid,
                format!("the name '{name}' leads to it, but it does not carry that name"),
            ));
        }
        Ok(())
    }

    /// Checks an object found by uid.
    fn check_uid(mk: Option<&MetaKey>, m: &ObjectMeta, uid: &str) -> Result<()> {
        check_remembered(mk, m)?;
        if m.uid != uid {
            return Err(tampered(uid, format!("its row holds object '{}'", m.uid)));
        }
        Ok(())
    }

    /// Checks every object a query returned: its MAC, and that it really matches (a forged
    /// index row is caught here).
    fn check_found(mk: Option<&MetaKey>, q: &Query, found: &[ObjectMeta]) -> Result<()> {
        for m in found {
            check(mk, m)?;
            if !q.matches(m) {
                return Err(tampered(
                    &m.uid,
                    "an index row lists it for a search it does not match".into(),
                ));
            }
        }
        Ok(())
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

    /// One object by uid.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Tampered`] if its metadata was edited outside tresor.
    pub fn get(&self, uid: &str) -> Result<Option<ObjectMeta>> {
        // The key first: on a store's first read it may bring the rows forward.
        let mk = self.read_key()?;
        let m = self.backend.get(uid)?;
        if let Some(m) = &m {
            Self::check_uid(mk.as_deref(), m, uid)?;
        }
        Ok(m)
    }

    /// One object by name.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Tampered`] if its metadata or the name row was edited
    /// outside tresor.
    pub fn get_by_name(&self, name: &str) -> Result<Option<ObjectMeta>> {
        let mk = self.read_key()?;
        let m = self.backend.get_by_name(name)?;
        if let Some(m) = &m {
            Self::check_named(mk.as_deref(), m, name)?;
        }
        Ok(m)
    }

    /// An object by name and its current material, in one read: the hot path of `tresor get`.
    ///
    /// # Errors
    /// [`StoreError::Crypto`] if the material was tampered with or the key is wrong,
    /// [`StoreError::Tampered`] if the metadata was.
    pub fn read_by_name(&self, name: &str) -> Result<Option<(ObjectMeta, SecretBytes)>> {
        let mk = self.read_key()?;
        match self.backend.get_current_by_name(name)? {
            None => Ok(None),
            Some((meta, v)) => {
                Self::check_named(mk.as_deref(), &meta, name)?;
                let v = v.ok_or_else(|| StoreError::NoMaterial {
                    uid: meta.uid.clone(),
                    version: meta.current_version,
                })?;
                let m = self.open_version(&meta, &v)?;
                Ok(Some((meta, m)))
            }
        }
    }

    /// Objects by name, each with the material of one version (`0`: the current one), in
    /// the order of `wanted`: one read of the backend per [`crate::MAX_MANY`] names (on
    /// SQLite and PostgreSQL one query; S3 reads each name). `None` where no object holds
    /// the name; a `None` material where the object has no such version or its material
    /// was destroyed.
    ///
    /// # Errors
    /// [`StoreError::Crypto`] if a material was tampered with or the key is wrong,
    /// [`StoreError::Tampered`] if a metadata row was.
    #[allow(clippy::type_complexity)]
    pub fn read_many_by_name(
        &self,
        wanted: &[(&str, u32)],
    ) -> Result<Vec<Option<(ObjectMeta, Option<SecretBytes>)>>> {
        let mk = self.read_key()?;
        let mut out = Vec::with_capacity(wanted.len());
        for chunk in wanted.chunks(crate::MAX_MANY) {
            for (found, (name, _)) in self.backend.get_many_by_name(chunk)?.into_iter().zip(chunk) {
                let Some((meta, v)) = found else {
                    out.push(None);
                    continue;
                };
                Self::check_named(mk.as_deref(), &meta, name)?;
                let material = match v {
                    Some(v) if v.sealed.is_some() => Some(self.open_version(&meta, &v)?),
                    _ => None,
                };
                out.push(Some((meta, material)));
            }
        }
        Ok(out)
    }

    /// Opens one sealed version of `meta` (as read by [`Backend::get_many_by_name`]).
    ///
    /// # Errors
    /// [`StoreError::NoMaterial`] if its material was destroyed, [`StoreError::Crypto`] if it
    /// was tampered with or the key is wrong.
    pub fn open_sealed(&self, meta: &ObjectMeta, v: &SealedVersion) -> Result<SecretBytes> {
        self.open_version(meta, v)
    }

    /// The material of `version` of an object (0 = current).
    ///
    /// # Errors
    /// [`StoreError::NoMaterial`] if absent or destroyed.
    pub fn material(&self, meta: &ObjectMeta, version: u32) -> Result<SecretBytes> {
        let version = if version == 0 {
            meta.current_version
        } else {
            version
        };
        let v =
            self.backend
                .version(&meta.uid, version)?
                .ok_or_else(|| StoreError::NoMaterial {
                    uid: meta.uid.clone(),
                    version,
                })?;
        self.open_version(meta, &v)
    }

    fn open_version(&self, meta: &ObjectMeta, v: &SealedVersion) -> Result<SecretBytes> {
        let sealed = v.sealed.as_deref().ok_or_else(|| StoreError::NoMaterial {
            uid: meta.uid.clone(),
            version: v.version,
        })?;
        let aad = material_aad(&meta.uid, v.version, meta.object_type);
        Ok(envelope::open(
            self.provider.as_ref(),
            &aad,
            &Sealed::from_bytes(sealed)?,
        )?)
    }

    /// Facts about every version of an object, oldest first.
    ///
    /// # Errors
    /// On a backend error.
    pub fn versions(&self, uid: &str) -> Result<Vec<VersionInfo>> {
        Ok(self
            .backend
            .versions(uid)?
            .iter()
            .map(VersionInfo::from)
            .collect())
    }

    /// Objects matching `q`.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Tampered`] if a found object's metadata or an index
    /// row was edited outside tresor.
    pub fn locate(&self, q: &Query) -> Result<Vec<ObjectMeta>> {
        let mk = self.read_key()?;
        let Some((base, rest)) = q.split_unindexed() else {
            let found = self.backend.locate(q)?;
            Self::check_found(mk.as_deref(), q, &found)?;
            return Ok(found);
        };
        // Conditions on attributes without index rows (`query::is_indexed`) are checked on
        // what the indexed ones found; limit and offset apply to the result.
        let rest = Query {
            attrs: rest,
            ..Query::default()
        };
        let found = self.backend.locate(&base)?;
        Self::check_found(mk.as_deref(), &base, &found)?;
        Ok(found
            .into_iter()
            .filter(|m| rest.matches(m))
            .skip(q.offset)
            .take(q.limit.unwrap_or(usize::MAX))
            .collect())
    }

    /// Number of objects.
    ///
    /// # Errors
    /// On a backend error.
    pub fn count(&self) -> Result<u64> {
        self.backend.count()
    }

    /// Starts a transaction: writes are buffered and applied atomically by [`Txn::commit`].
    pub fn begin(&self) -> Txn<'_> {
        self.begin_as(&self.actor)
    }

    /// Starts a transaction acting as `actor` (a server acts for each client identity): new
    /// objects are owned by `actor` and audit entries name it.
    pub fn begin_as(&self, actor: &str) -> Txn<'_> {
        Txn {
            store: self,
            actor: actor.to_owned(),
            touched: RefCell::new(HashMap::new()),
            names: RefCell::new(HashMap::new()),
            order: RefCell::new(Vec::new()),
            writes: Vec::new(),
            audit: Vec::new(),
        }
    }

    /// Runs `f` in a transaction and commits it, retrying up to 8 times when another writer
    /// changed an object in between ([`StoreError::Conflict`]).
    ///
    /// # Errors
    /// Whatever `f` returns, or the commit's error.
    pub fn write<T>(&self, f: impl FnMut(&mut Txn<'_>) -> Result<T>) -> Result<T> {
        self.write_as(&self.actor, f)
    }

    /// As [`Store::write`], acting as `actor`.
    ///
    /// # Errors
    /// Whatever `f` returns, or the commit's error.
    pub fn write_as<T>(
        &self,
        actor: &str,
        mut f: impl FnMut(&mut Txn<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut attempt = 0;
        loop {
            let mut tx = self.begin_as(actor);
            let out = f(&mut tx)?;
            match tx.commit() {
                Ok(()) => return Ok(out),
                Err(StoreError::Conflict(_)) if attempt < 8 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Creates one object in its own transaction.
    ///
    /// # Errors
    /// [`StoreError::NameTaken`] if a name is in use.
    pub fn create(&self, new: NewObject) -> Result<ObjectMeta> {
        self.write(|tx| {
            let uid = tx.create(new.clone())?;
            tx.get(&uid)?.ok_or(StoreError::NotFound(uid))
        })
    }

    /// Audit entries with `seq > after`, at most `limit`.
    ///
    /// # Errors
    /// On a backend error.
    pub fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        self.backend.audit(after, limit)
    }

    /// Checks the whole audit chain, and that it reaches the audit head kept outside the
    /// database ([`Store::with_audit_head`]) if there is one.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Crypto`] if the key provider is wrong.
    pub fn verify_audit(&self) -> Result<AuditReport> {
        let head = match &self.head {
            Some(sink) => sink.read()?,
            None => None,
        };
        self.verify_audit_with(head.as_deref())
    }

    /// As [`Store::verify_audit`], checking the chain against `head` instead: the bytes of a
    /// head file, or a server's JSON-lines audit stream (its last head counts). `None`
    /// checks the chain alone. Bytes holding no head are reported as a tampered head.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Crypto`] if the key provider is wrong.
    pub fn verify_audit_with(&self, head: Option<&[u8]>) -> Result<AuditReport> {
        let signer = self.signer()?;
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self.backend.audit(after, 10_000)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            all.extend(page);
        }
        let mut report = AuditReport {
            entries: all.len() as u64,
            first_bad: signer.verify(&all).err(),
            ..AuditReport::default()
        };
        if let Some(bytes) = head {
            match AuditHead::find_last(bytes).filter(|h| h.is_authentic(&signer)) {
                None => report.head_tampered = true,
                Some(h) => {
                    report.head = Some(h.seq);
                    let end = all.last().map_or(0, |e| e.seq);
                    match usize::try_from(h.seq)
                        .ok()
                        .and_then(|i| all.get(i.wrapping_sub(1)))
                    {
                        _ if h.seq > end => report.missing_tail = Some((h.seq, end)),
                        Some(e)
                            if e.seq == h.seq
                                && tresor_crypto::ct_eq(e.mac.as_bytes(), h.entry.as_bytes()) => {}
                        _ => report.head_mismatch = Some(h.seq),
                    }
                }
            }
        }
        Ok(report)
    }

    /// Every row of the store (material stays sealed), for backup and migration. The audit
    /// key is checked (created for a new store) first, so every dump carries one.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Crypto`] if the key provider is wrong.
    pub fn dump(&self) -> Result<crate::Dump> {
        self.check_key()?;
        self.backend.dump()
    }

    /// Replaces the whole store with `dump`, atomically, after checking that this store's key
    /// opens the dump's audit key, that its audit chain verifies and that every object's
    /// metadata MAC verifies. A dump made by a tresor before metadata MACs (no MACs, no
    /// marker) gets its MACs computed here, as opening such a store would.
    ///
    /// # Errors
    /// [`StoreError::Crypto`] if the dump was made under another key, [`StoreError::Invalid`]
    /// if its audit chain is broken, [`StoreError::Tampered`] if an object's MAC does not
    /// match (or is missing from a dump that had them).
    pub fn restore(&self, dump: &crate::Dump) -> Result<()> {
        let sealed = dump
            .meta
            .iter()
            .find(|(k, _)| k == AUDIT_KEY)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| StoreError::Decode("the dump has no audit key".into()))?;
        let key = envelope::open(
            self.provider.as_ref(),
            AUDIT_KEY_AAD,
            &Sealed::from_bytes(&sealed)?,
        )?;
        let mk = Arc::new(MetaKey::derive(key.expose())?);
        let signer = Arc::new(AuditSigner::new(key));
        if let Err(seq) = signer.verify(&dump.audit) {
            return Err(StoreError::Invalid {
                uid: String::new(),
                why: format!("the dump's audit chain breaks at entry {seq}"),
            });
        }
        let dump = &macs_for_restore(dump, &mk)?;
        // Whatever happens below, forget the audit key this store had: the next write
        // re-reads it (the dump's, once replaced).
        if let Ok(mut g) = self.signer.lock() {
            *g = None;
        }
        if let Ok(mut g) = self.meta_key.lock() {
            *g = None;
        }
        self.backend.replace_all(dump)?;
        if let Ok(mut g) = self.meta_key.lock() {
            *g = Some(mk);
        }
        // A deliberate restore: the head follows the restored chain.
        let head = dump
            .audit
            .last()
            .map(|e| AuditHead::new(&signer, e.seq, &e.mac));
        if let Ok(mut g) = self.signer.lock() {
            *g = Some(signer);
        }
        self.reset_head(head)
    }

    fn seal(&self, meta: &ObjectMeta, version: u32, material: &[u8]) -> Result<Vec<u8>> {
        let aad = material_aad(&meta.uid, version, meta.object_type);
        Ok(envelope::seal(self.provider.as_ref(), &aad, material)?.to_bytes())
    }
}

/// Checks an object's metadata MAC (`mk` is `None` in a store without an audit key, where no
/// object can have been written by tresor).
fn check(mk: Option<&MetaKey>, m: &ObjectMeta) -> Result<()> {
    let Some(mk) = mk else {
        return Err(tampered(
            &m.uid,
            "the store has no audit key, so nothing in it can be checked".into(),
        ));
    };
    mk.verify(m).map_err(|d| tampered(&m.uid, d.to_owned()))
}

/// As [`check`], for one object read by uid or name: metadata verified before in exactly
/// this form is not MACed again ([`MetaKey::verify_remembered`]).
fn check_remembered(mk: Option<&MetaKey>, m: &ObjectMeta) -> Result<()> {
    let Some(mk) = mk else {
        return check(mk, m);
    };
    mk.verify_remembered(m)
        .map_err(|d| tampered(&m.uid, d.to_owned()))
}

fn tampered(uid: &str, detail: String) -> StoreError {
    StoreError::Tampered {
        uid: uid.to_owned(),
        detail,
    }
}

/// The dump to write on restore: every MAC checked; a dump from before metadata MACs gets
/// them (and the marker saying so).
fn macs_for_restore<'d>(
    dump: &'d crate::Dump,
    mk: &MetaKey,
) -> Result<std::borrow::Cow<'d, crate::Dump>> {
    let marked = dump.meta.iter().any(|(k, _)| k == MAC_MARKER);
    if !marked
        && (dump.audit.iter().any(|e| e.action == MAC_MIGRATION)
            || dump.objects.iter().any(|o| o.mac.is_some()))
    {
        return Err(tampered(
            "(dump)",
            format!("its '{MAC_MARKER}' setting was removed after its objects were MACed"),
        ));
    }
    for o in &dump.objects {
        if o.mac.is_some() || marked {
            mk.verify(o).map_err(|d| tampered(&o.uid, d.to_owned()))?;
        }
    }
    if marked {
        return Ok(std::borrow::Cow::Borrowed(dump));
    }
    let mut d = dump.clone();
    for o in &mut d.objects {
        if o.mac.is_none() {
            o.mac = Some(mk.compute(o));
        }
    }
    d.meta.push((MAC_MARKER.to_owned(), b"1".to_vec()));
    Ok(std::borrow::Cow::Owned(d))
}

fn zeroize_arr(k: &mut [u8; 32]) {
    let s = Secret::new(*k);
    drop(s);
    *k = [0u8; 32];
}

/// A transaction: reads see its own uncommitted writes (by uid); nothing is stored until
/// [`Txn::commit`], and then all of it or none.
pub struct Txn<'s> {
    store: &'s Store,
    actor: String,
    /// uid → (current metadata, revision when first read; None when created here, Some(None) when deleted)
    touched: RefCell<HashMap<String, Touched>>,
    /// name → uid of the touched object that last carried it (a hint: verified on use), so a
    /// name lookup inside a large import is O(1) instead of a scan of every touched object.
    names: RefCell<HashMap<String, String>>,
    order: RefCell<Vec<String>>,
    writes: Vec<Write>,
    audit: Vec<AuditDraft>,
}

struct Touched {
    meta: Option<ObjectMeta>,
    base: Option<u64>,
    dirty: bool,
}

impl Txn<'_> {
    /// The store this transaction writes to.
    pub fn store(&self) -> &Store {
        self.store
    }

    /// The identity this transaction acts as.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// One object by uid, including this transaction's changes.
    ///
    /// # Errors
    /// On a backend error.
    pub fn get(&self, uid: &str) -> Result<Option<ObjectMeta>> {
        if let Some(t) = self.touched.borrow().get(uid) {
            return Ok(t.meta.clone());
        }
        let mk = self.store.read_key()?;
        let m = self.store.backend.get(uid)?;
        if let Some(m) = &m {
            Store::check_uid(mk.as_deref(), m, uid)?;
            self.pin(m);
        }
        Ok(m)
    }

    /// Remembers the revision an object had when this transaction first read it, so that a
    /// later write is checked against it (a read-modify-write never loses an update).
    fn pin(&self, m: &ObjectMeta) {
        let mut touched = self.touched.borrow_mut();
        if !touched.contains_key(&m.uid) {
            self.index_names(m);
            touched.insert(
                m.uid.clone(),
                Touched {
                    base: Some(m.rev),
                    meta: Some(m.clone()),
                    dirty: false,
                },
            );
            self.order.borrow_mut().push(m.uid.clone());
        }
    }

    /// One object by name, including this transaction's changes.
    ///
    /// # Errors
    /// On a backend error.
    pub fn get_by_name(&self, name: &str) -> Result<Option<ObjectMeta>> {
        // Every name a touched object carries is in `names`, so a miss means none has it.
        let hint = self.names.borrow().get(name).cloned();
        if let Some(uid) = hint {
            let touched = self.touched.borrow();
            let has = |t: &Touched| {
                t.meta
                    .as_ref()
                    .is_some_and(|m| m.names.iter().any(|n| n == name))
            };
            if let Some(t) = touched.get(&uid).filter(|t| has(t)) {
                return Ok(t.meta.clone());
            }
            // The hint is stale (renamed or deleted since): look through every touched object.
            if let Some(t) = touched.values().find(|t| has(t)) {
                return Ok(t.meta.clone());
            }
        }
        let mk = self.store.read_key()?;
        let found = self.store.backend.get_by_name(name)?;
        if let Some(m) = &found {
            Store::check_named(mk.as_deref(), m, name)?;
        }
        match found {
            Some(m) if self.touched.borrow().contains_key(&m.uid) => Ok(None),
            Some(m) => {
                self.pin(&m);
                Ok(Some(m))
            }
            None => Ok(None),
        }
    }

    /// Objects by name with one sealed version each (`0`: the current one), in the order of
    /// `wanted`, including this transaction's changes: the names no object of this
    /// transaction holds are read from the backend in one [`Backend::get_many_by_name`]
    /// call (per [`crate::MAX_MANY`]), each found object pinned as [`Txn::get_by_name`]
    /// does. Open a version with [`Store::open_sealed`] once the caller may see it.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Tampered`] if a metadata row was edited outside
    /// tresor.
    pub fn get_many_by_name(&self, wanted: &[(&str, u32)]) -> Result<Vec<Option<Found>>> {
        let mut out: Vec<Option<Found>> = vec![None; wanted.len()];
        let mut ask: Vec<(usize, (&str, u32))> = Vec::new();
        for (i, &(name, version)) in wanted.iter().enumerate() {
            let local = self.names.borrow().contains_key(name);
            if !local {
                ask.push((i, (name, version)));
                continue;
            }
            // An object this transaction touched: its own view (and versions it wrote).
            if let Some(m) = self.get_by_name(name)? {
                let v = if version == 0 {
                    m.current_version
                } else {
                    version
                };
                let written = self.writes.iter().rev().find_map(|w| match w {
                    Write::PutVersion(sv) if sv.uid == m.uid && sv.version == v => Some(sv.clone()),
                    _ => None,
                });
                let sv = match written {
                    Some(sv) => Some(sv),
                    None => self.store.backend.version(&m.uid, v)?,
                };
                out[i] = Some((m, sv));
            }
        }
        if ask.is_empty() {
            return Ok(out);
        }
        let mk = self.store.read_key()?;
        // Objects this call pins (a name asked twice, or two names of one object).
        let mut pinned: std::collections::HashSet<String> = std::collections::HashSet::new();
        for chunk in ask.chunks(crate::MAX_MANY) {
            let names: Vec<(&str, u32)> = chunk.iter().map(|(_, w)| *w).collect();
            let found = self.store.backend.get_many_by_name(&names)?;
            for ((i, (name, _)), f) in chunk.iter().zip(found) {
                let Some((m, v)) = f else { continue };
                Store::check_named(mk.as_deref(), &m, name)?;
                // Touched earlier by this transaction (under another name): its view wins.
                if !pinned.contains(&m.uid) && self.touched.borrow().contains_key(&m.uid) {
                    continue;
                }
                self.pin(&m);
                pinned.insert(m.uid.clone());
                out[*i] = Some((m, v));
            }
        }
        Ok(out)
    }

    /// The material of `version` (0 = current), including versions written in this transaction.
    ///
    /// # Errors
    /// [`StoreError::NoMaterial`] if absent or destroyed.
    pub fn material(&self, uid: &str, version: u32) -> Result<SecretBytes> {
        // An object this transaction already read (a Get loads, checks, then asks for the
        // material) is used in place: no copy of its metadata.
        {
            let touched = self.touched.borrow();
            if let Some(t) = touched.get(uid) {
                let meta = t
                    .meta
                    .as_ref()
                    .ok_or_else(|| StoreError::NotFound(uid.to_owned()))?;
                return self.material_of(meta, version);
            }
        }
        let meta = self
            .get(uid)?
            .ok_or_else(|| StoreError::NotFound(uid.to_owned()))?;
        self.material_of(&meta, version)
    }

    fn material_of(&self, meta: &ObjectMeta, version: u32) -> Result<SecretBytes> {
        let uid = meta.uid.as_str();
        let version = if version == 0 {
            meta.current_version
        } else {
            version
        };
        for w in self.writes.iter().rev() {
            if let Write::PutVersion(v) = w
                && v.uid == uid
                && v.version == version
            {
                return self.store.open_version(meta, v);
            }
        }
        self.store.material(meta, version)
    }

    fn note(&mut self, action: &str, uid: Option<&str>, detail: String) {
        self.audit.push(AuditDraft {
            actor: self.actor.clone(),
            action: action.to_owned(),
            uid: uid.map(str::to_owned),
            detail,
        });
    }

    /// Adds a custom audit entry (e.g. `export`, `restore`).
    pub fn record(&mut self, action: &str, uid: Option<&str>, detail: impl Into<String>) {
        self.note(action, uid, detail.into());
    }

    fn load(&mut self, uid: &str) -> Result<ObjectMeta> {
        self.get(uid)?
            .ok_or_else(|| StoreError::NotFound(uid.to_owned()))
    }

    /// Records the names `m` carries in the name → uid hint map.
    fn index_names(&self, m: &ObjectMeta) {
        let mut names = self.names.borrow_mut();
        for n in &m.names {
            names.insert(n.clone(), m.uid.clone());
        }
    }

    fn stage(&mut self, meta: ObjectMeta) {
        self.index_names(&meta);
        if let Some(t) = self.touched.get_mut().get_mut(&meta.uid) {
            t.meta = Some(meta);
            t.dirty = true;
        }
    }

    /// Creates an object (with version 1 if material is given); returns its uid.
    ///
    /// # Errors
    /// [`StoreError::NameTaken`] if a name is used (checked now and again at commit).
    pub fn create(&mut self, new: NewObject) -> Result<String> {
        for n in &new.names {
            if self.get_by_name(n)?.is_some() {
                return Err(StoreError::NameTaken(n.clone()));
            }
        }
        let uid = match new.uid {
            Some(u) => u,
            None => new_uid()?,
        };
        let t = now();
        let mut meta = ObjectMeta {
            uid: uid.clone(),
            object_type: new.object_type,
            state: new.state,
            owner: new.owner.unwrap_or_else(|| self.actor.clone()),
            names: new.names,
            attributes: new.attributes,
            current_version: 0,
            created: t,
            updated: t,
            rev: 1,
            mac: None,
        };
        let detail = format!("{} {}", meta.object_type, meta.name().unwrap_or(""));
        self.index_names(&meta);
        self.touched.get_mut().insert(
            uid.clone(),
            Touched {
                meta: Some(meta.clone()),
                base: None,
                dirty: true,
            },
        );
        self.order.get_mut().push(uid.clone());
        self.note("create", Some(&uid), detail.trim_end().to_owned());
        if let Some(m) = new.material {
            let m = Secret::new(m);
            meta.current_version = 1;
            let sealed = self.store.seal(&meta, 1, m.expose())?;
            self.writes.push(Write::PutVersion(SealedVersion {
                uid: uid.clone(),
                version: 1,
                created: t,
                created_by: self.actor.clone(),
                sealed: Some(sealed),
            }));
            self.stage(meta);
        }
        Ok(uid)
    }

    /// Adds a new version of the material and makes it current; returns its number.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or [`StoreError::Invalid`] on a destroyed object.
    pub fn put_material(&mut self, uid: &str, material: &[u8]) -> Result<u32> {
        let mut meta = self.load(uid)?;
        if meta.state.is_destroyed() {
            return Err(StoreError::Invalid {
                uid: uid.to_owned(),
                why: "its material was destroyed".into(),
            });
        }
        let version = meta.current_version + 1;
        let sealed = self.store.seal(&meta, version, material)?;
        self.writes.push(Write::PutVersion(SealedVersion {
            uid: uid.to_owned(),
            version,
            created: now(),
            created_by: self.actor.clone(),
            sealed: Some(sealed),
        }));
        meta.current_version = version;
        meta.updated = now();
        self.note("new-version", Some(uid), format!("v{version}"));
        self.stage(meta);
        Ok(version)
    }

    /// Replaces an object's metadata (state, names, attributes, owner); `f` edits a copy.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or whatever `f` returns.
    pub fn update(
        &mut self,
        uid: &str,
        detail: &str,
        f: impl FnOnce(&mut ObjectMeta) -> Result<()>,
    ) -> Result<ObjectMeta> {
        let mut meta = self.load(uid)?;
        let before_names = meta.names.clone();
        f(&mut meta)?;
        meta.uid = uid.to_owned();
        for n in meta.names.iter().filter(|n| !before_names.contains(n)) {
            if self.get_by_name(n)?.is_some_and(|o| o.uid != uid) {
                return Err(StoreError::NameTaken(n.clone()));
            }
        }
        meta.updated = now();
        self.note("update", Some(uid), detail.to_owned());
        self.stage(meta.clone());
        Ok(meta)
    }

    /// Erases the material of every version (or those below `below`); metadata is kept.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub fn destroy_material(&mut self, uid: &str, below: Option<u32>) -> Result<()> {
        let mut meta = self.load(uid)?;
        self.writes.push(Write::DestroyMaterial {
            uid: uid.to_owned(),
            below,
        });
        meta.updated = now();
        self.note(
            "destroy",
            Some(uid),
            below
                .map(|b| format!("versions below v{b}"))
                .unwrap_or_else(|| "all versions".into()),
        );
        self.stage(meta);
        Ok(())
    }

    /// Removes an object with all its versions.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub fn delete(&mut self, uid: &str) -> Result<()> {
        let meta = self.load(uid)?;
        let detail = meta.name().unwrap_or("").to_owned();
        if let Some(t) = self.touched.get_mut().get_mut(uid) {
            t.meta = None;
            t.dirty = true;
        }
        self.note("delete", Some(uid), detail);
        Ok(())
    }

    /// Number of audit entries this transaction will write.
    pub fn pending(&self) -> usize {
        self.audit.len()
    }

    /// Applies every write atomically.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if another writer changed a touched object (nothing applied),
    /// [`StoreError::NameTaken`].
    pub fn commit(self) -> Result<()> {
        self.commit_head().map(|_| ())
    }

    /// As [`Txn::commit`], returning the audit head this commit left (the seq and MAC of
    /// its last audit entry, MAC'd), `None` if it wrote no entry. With
    /// [`Store::with_audit_head`] the head is recorded too.
    ///
    /// # Errors
    /// As [`Txn::commit`]; [`StoreError::Io`] if the commit applied but the head could not
    /// be recorded.
    pub fn commit_head(self) -> Result<Option<AuditHead>> {
        if self.audit.is_empty() && self.writes.is_empty() {
            return Ok(None);
        }
        let signer = self.store.signer()?;
        let mk = self.store.meta_key()?;
        let mut batch = Batch {
            writes: Vec::new(),
            audit: self.audit,
        };
        let mut versions = self.writes;
        // Owned from here: each touched object's metadata moves into the batch (no copy).
        let mut touched = self.touched.into_inner();
        for uid in self.order.into_inner().iter() {
            let Some(t) = touched.remove(uid) else {
                continue;
            };
            if !t.dirty {
                continue;
            }
            match (t.meta, t.base) {
                (Some(mut m), None) => {
                    m.mac = Some(mk.compute(&m));
                    batch.writes.push(Write::PutObject {
                        meta: m,
                        expect: Precondition::Absent,
                    })
                }
                (Some(mut m), Some(base)) => {
                    m.rev = base + 1;
                    m.mac = Some(mk.compute(&m));
                    batch.writes.push(Write::PutObject {
                        meta: m,
                        expect: Precondition::Rev(base),
                    })
                }
                (None, Some(base)) => {
                    versions.retain(|w| !matches!(w, Write::PutVersion(v) if &v.uid == uid));
                    batch.writes.push(Write::DeleteObject {
                        uid: uid.clone(),
                        expect: base,
                    })
                }
                (None, None) => {
                    versions.retain(|w| !matches!(w, Write::PutVersion(v) if &v.uid == uid))
                }
            }
        }
        // A data key wrapped here must open with the store's key: refused (atomically, in the
        // backend) if a rekey replaced the key since this process opened the store.
        if versions.iter().any(|w| matches!(w, Write::PutVersion(_))) {
            batch.writes.push(Write::MetaAbsentOr {
                key: KEK_ID_META.to_owned(),
                value: self.store.provider.key_id().as_bytes().to_vec(),
            });
        }
        batch.writes.extend(versions);
        let issuing = signer.for_commit();
        self.store.backend.commit(&batch, &issuing)?;
        let Some(issued) = issuing.last_issued() else {
            return Ok(None);
        };
        let (seq, mac) = &issued.last;
        let head = AuditHead::new(&signer, *seq, mac);
        self.store
            .advance_head(&signer, &head, &issued.chained_onto)
            .map_err(|e| match e {
                StoreError::Io { path, source, .. } => StoreError::Io {
                    what: "the write was committed, but the audit head could not be updated",
                    path,
                    source,
                },
                e => e,
            })?;
        Ok(Some(head))
    }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::Store;
    use crate::head::{FileHead, HeadSink};
    use crate::model::{NewObject, ObjectType};

    /// After a commit the store remembers its head in the form the sink gives back, so the
    /// next commit recognises its own head without re-checking its MAC. Until session 11 it
    /// remembered `AuditHead::to_bytes` with its newline, which never equalled the trimmed
    /// read: every commit paid the MAC check (~10,000 instructions per KMIP Create).
    #[test]
    fn a_store_recognises_the_head_it_wrote_last() {
        let dir = tempfile::tempdir().unwrap();
        let sink = Arc::new(FileHead::new(dir.path().join("audit.head")));
        let kek = Arc::new(tresor_crypto::LocalKek::generate().unwrap());
        let store = Store::open_sqlite(&dir.path().join("t.db"), kek, "alice")
            .unwrap()
            .with_audit_head(sink.clone());
        for i in 0..2 {
            let mut new = NewObject::new(ObjectType::SecretData);
            new.names.push(format!("app:dev:K{i}"));
            new.material = Some(b"v".to_vec());
            store.create(new).unwrap();
            let remembered = store.last_head.lock().unwrap().clone();
            assert!(remembered.is_some(), "commit {i} left no remembered head");
            assert_eq!(remembered, sink.read().unwrap(), "commit {i}");
        }
    }
}
