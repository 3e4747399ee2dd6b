//! Transactions on the [`Store`]: the [`Txn`] type, whose reads see its own uncommitted
//! writes and whose commit applies all of them or none, and the `Store` methods that run one.

use std::cell::RefCell;
use std::collections::HashMap;

use tresor_crypto::{Secret, SecretBytes};

use crate::audit::AuditDraft;
#[cfg(doc)]
use crate::backend::Backend;
use crate::backend::{Batch, Found, Precondition, Write};
use crate::head::AuditHead;
use crate::model::{NewObject, ObjectMeta, SealedVersion, new_uid, now};
use crate::{Result, StoreError};

use super::{KEK_ID_META, Store};

impl Store {
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
        let head = AuditHead::new(&signer, issued.last.0, &issued.last.1);
        // The head moves to the last entry of the whole commit group (committed with this
        // batch): one head write per group. Without a group run, to this batch's last entry.
        let group = issuing.group_issued().unwrap_or(issued);
        let to = if group.last.0 == head.seq {
            head.clone()
        } else {
            AuditHead::new(&signer, group.last.0, &group.last.1)
        };
        self.store
            .advance_head(&signer, &to, &group.chained_onto)
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
