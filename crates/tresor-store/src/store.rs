//! The [`Store`]: the one API every door uses. It seals material, keeps revisions and writes
//! the audit chain; a [`Backend`] keeps the rows.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tresor_crypto::envelope::{self, Sealed};
use tresor_crypto::{KeyProvider, Secret, SecretBytes};

use crate::audit::{AuditDraft, AuditEntry, AuditSigner};
use crate::backend::{Backend, Batch, Precondition, Write};
use crate::model::{
    NewObject, ObjectMeta, SealedVersion, State, VersionInfo, material_aad, new_uid, now,
};
use crate::query::Query;
use crate::{Result, StoreError};

pub(crate) const AUDIT_KEY: &str = "audit-key";
const AUDIT_KEY_AAD: &[u8] = b"tresor/v1\0audit-key";
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
    actor: String,
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
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: u64,
    /// The first entry whose MAC or position is wrong, if any.
    pub first_bad: Option<u64>,
}

impl Store {
    /// Opens a store on `backend`, sealing with `provider`, acting as `actor`.
    ///
    /// Opening reads nothing: the store's audit key is fetched and unwrapped on the first
    /// write (created then, exactly once, for a new store), so a wrong `provider` shows as
    /// [`StoreError::Crypto`] on the first read of material or the first write. Call
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
            actor: actor.into(),
        })
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
        let s = Arc::new(AuditSigner::new(key));
        if let Ok(mut g) = self.signer.lock() {
            *g = Some(s.clone());
        }
        Ok(s)
    }

    /// The same store under another key provider, keeping the unwrapped audit key (a rekey
    /// rewraps it, its value stays).
    pub(crate) fn with_provider(&self, provider: Arc<dyn KeyProvider>) -> Store {
        Store {
            backend: self.backend.clone(),
            provider,
            signer: Mutex::new(self.signer.lock().ok().and_then(|g| g.clone())),
            actor: self.actor.clone(),
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
    /// On a backend error.
    pub fn get(&self, uid: &str) -> Result<Option<ObjectMeta>> {
        self.backend.get(uid)
    }

    /// One object by name.
    ///
    /// # Errors
    /// On a backend error.
    pub fn get_by_name(&self, name: &str) -> Result<Option<ObjectMeta>> {
        self.backend.get_by_name(name)
    }

    /// An object by name and its current material, in one read: the hot path of `tresor get`.
    ///
    /// # Errors
    /// [`StoreError::Crypto`] if the row was tampered with or the key is wrong.
    pub fn read_by_name(&self, name: &str) -> Result<Option<(ObjectMeta, SecretBytes)>> {
        match self.backend.get_current_by_name(name)? {
            None => Ok(None),
            Some((meta, v)) => {
                let v = v.ok_or_else(|| StoreError::NoMaterial {
                    uid: meta.uid.clone(),
                    version: meta.current_version,
                })?;
                let m = self.open_version(&meta, &v)?;
                Ok(Some((meta, m)))
            }
        }
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
    /// On a backend error.
    pub fn locate(&self, q: &Query) -> Result<Vec<ObjectMeta>> {
        let Some((base, rest)) = q.split_unindexed() else {
            return self.backend.locate(q);
        };
        // Conditions on attributes without index rows (`query::is_indexed`) are checked on
        // what the indexed ones found; limit and offset apply to the result.
        let rest = Query {
            attrs: rest,
            ..Query::default()
        };
        Ok(self
            .backend
            .locate(&base)?
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

    /// Checks the whole audit chain.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Crypto`] if the key provider is wrong.
    pub fn verify_audit(&self) -> Result<AuditReport> {
        let signer = self.signer()?;
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self.backend.audit(after, 10_000)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            all.extend(page);
        }
        Ok(match signer.verify(&all) {
            Ok(n) => AuditReport {
                entries: n as u64,
                first_bad: None,
            },
            Err(seq) => AuditReport {
                entries: all.len() as u64,
                first_bad: Some(seq),
            },
        })
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
    /// opens the dump's audit key and that its audit chain verifies.
    ///
    /// # Errors
    /// [`StoreError::Crypto`] if the dump was made under another key, [`StoreError::Invalid`]
    /// if its audit chain is broken.
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
        let signer = Arc::new(AuditSigner::new(key));
        if let Err(seq) = signer.verify(&dump.audit) {
            return Err(StoreError::Invalid {
                uid: String::new(),
                why: format!("the dump's audit chain breaks at entry {seq}"),
            });
        }
        // Whatever happens below, forget the audit key this store had: the next write
        // re-reads it (the dump's, once replaced).
        if let Ok(mut g) = self.signer.lock() {
            *g = None;
        }
        self.backend.replace_all(dump)?;
        if let Ok(mut g) = self.signer.lock() {
            *g = Some(signer);
        }
        Ok(())
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
        let m = self.store.backend.get(uid)?;
        if let Some(m) = &m {
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
        match self.store.backend.get_by_name(name)? {
            Some(m) if self.touched.borrow().contains_key(&m.uid) => Ok(None),
            Some(m) => {
                self.pin(&m);
                Ok(Some(m))
            }
            None => Ok(None),
        }
    }

    /// The material of `version` (0 = current), including versions written in this transaction.
    ///
    /// # Errors
    /// [`StoreError::NoMaterial`] if absent or destroyed.
    pub fn material(&self, uid: &str, version: u32) -> Result<SecretBytes> {
        let meta = self
            .get(uid)?
            .ok_or_else(|| StoreError::NotFound(uid.to_owned()))?;
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
                return self.store.open_version(&meta, v);
            }
        }
        self.store.material(&meta, version)
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
        if self.audit.is_empty() && self.writes.is_empty() {
            return Ok(());
        }
        let mut batch = Batch {
            writes: Vec::new(),
            audit: self.audit,
        };
        let mut versions = self.writes;
        let touched = self.touched.into_inner();
        for uid in self.order.into_inner().iter() {
            let Some(t) = touched.get(uid) else {
                continue;
            };
            if !t.dirty {
                continue;
            }
            match (&t.meta, t.base) {
                (Some(m), None) => batch.writes.push(Write::PutObject {
                    meta: m.clone(),
                    expect: Precondition::Absent,
                }),
                (Some(m), Some(base)) => {
                    let mut m = m.clone();
                    m.rev = base + 1;
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
        let signer = self.store.signer()?;
        self.store.backend.commit(&batch, &signer)
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
