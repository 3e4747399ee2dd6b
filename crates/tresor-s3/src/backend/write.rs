//! Writing one object: a batch's writes for a uid applied as one conditional PUT of its
//! record, then its names claimed or released, rolled back when a name cannot be claimed.

use base64::Engine as _;
use object_store::PutMode;
use object_store::path::Path;
use tresor_store::{ObjectMeta, Precondition, SealedVersion, StoreError, Write};

use super::record::{Loaded, Record, StoredVersion, b64};
use super::requests::PutOutcome;
use super::{S3Backend, SResult};

impl S3Backend {
    /// Applies every write of `batch` that concerns `uid`.
    pub(super) fn apply_object(&self, uid: &str, writes: &[&Write]) -> SResult<()> {
        let mut put: Option<(&ObjectMeta, Precondition)> = None;
        let mut delete: Option<u64> = None;
        let mut new_versions: Vec<&SealedVersion> = Vec::new();
        let mut destroys: Vec<Option<u32>> = Vec::new();
        for w in writes {
            match w {
                Write::PutObject { meta, expect } => put = Some((meta, *expect)),
                Write::PutVersion(v) => new_versions.push(v),
                Write::DestroyMaterial { below, .. } => destroys.push(*below),
                Write::DeleteObject { expect, .. } => delete = Some(*expect),
                // Handled (or refused) by `commit` before any object is touched.
                Write::RewrapVersion { .. }
                | Write::SetMeta { .. }
                | Write::MetaAbsentOr { .. }
                | Write::AllSealedStartWith { .. } => {}
            }
        }
        let p = self.object_path(uid);
        let creating = matches!(put, Some((_, Precondition::Absent)));
        let mut cur = if creating {
            Loaded {
                rec: None,
                etag: None,
            }
        } else {
            self.load(uid)?
        };
        let mut claimed: Vec<String> = Vec::new();
        loop {
            let snapshot = cur.rec.clone();
            let old = snapshot.as_ref();
            // Preconditions.
            match (put, delete) {
                (Some((_, Precondition::Absent)), _) if old.is_some() => {
                    return Err(StoreError::Conflict(uid.to_owned()));
                }
                (Some((_, Precondition::Rev(r))), _) | (None, Some(r))
                    if old.map(|o| o.meta.rev) != Some(r) =>
                {
                    self.release_all(&claimed, uid);
                    return Err(StoreError::Conflict(uid.to_owned()));
                }
                (None, None) if old.is_none() => {
                    return Err(StoreError::NotFound(uid.to_owned()));
                }
                _ => {}
            }
            if delete.is_some() {
                let Some(old) = old else {
                    return Err(StoreError::Conflict(uid.to_owned()));
                };
                let names = old.meta.names.clone();
                match self.put_raw(&p, Vec::new(), Self::update_mode(&cur.etag))? {
                    PutOutcome::Done(_) => {
                        for n in &names {
                            self.release_name(n, uid)?;
                        }
                        return Ok(());
                    }
                    PutOutcome::Lost => {
                        cur = self.load(uid)?;
                        continue;
                    }
                }
            }
            let meta = match (put, old) {
                (Some((m, _)), _) => m.clone(),
                (None, Some(o)) => o.meta.clone(),
                (None, None) => return Err(StoreError::NotFound(uid.to_owned())),
            };
            let mut versions: Vec<StoredVersion> =
                old.map(|o| o.versions.clone()).unwrap_or_default();
            for v in &new_versions {
                if versions.iter().any(|x| x.version == v.version) {
                    self.release_all(&claimed, uid);
                    return Err(StoreError::Conflict(uid.to_owned()));
                }
                versions.push(StoredVersion {
                    version: v.version,
                    created: v.created,
                    created_by: v.created_by.clone(),
                    sealed: v.sealed.as_ref().map(|s| b64().encode(s)),
                });
            }
            versions.sort_by_key(|v| v.version);
            for below in &destroys {
                for v in versions.iter_mut() {
                    if v.version < below.unwrap_or(u32::MAX) {
                        v.sealed = None;
                    }
                }
            }
            let old_names: Vec<String> = old.map(|o| o.meta.names.clone()).unwrap_or_default();
            let body = self.encode_record(&meta, versions)?;
            let mode = if creating || cur.etag.is_none() {
                PutMode::Create
            } else {
                Self::update_mode(&cur.etag)
            };
            match self.put_raw(&p, body.clone(), mode)? {
                PutOutcome::Done(_) => {}
                PutOutcome::Lost => {
                    // A tombstone (deleted object whose uid is reused) may be overwritten.
                    cur = self.load(uid)?;
                    if creating && cur.rec.is_none() {
                        match self.put_raw(&p, body, Self::update_mode(&cur.etag))? {
                            PutOutcome::Done(_) => {}
                            PutOutcome::Lost => return Err(StoreError::Conflict(uid.to_owned())),
                        }
                    } else {
                        // The revision check above decides: conflict, or a retry.
                        continue;
                    }
                }
            }
            // Names: claim the new ones (rolling back on a clash), free the dropped ones.
            for n in meta.names.iter().filter(|n| !old_names.contains(n)) {
                match self.claim_name(n, uid) {
                    Ok(_) => claimed.push(n.clone()),
                    Err(e) => {
                        self.release_all(&claimed, uid);
                        self.rollback(uid, old, &p);
                        return Err(e);
                    }
                }
            }
            for n in old_names.iter().filter(|n| !meta.names.contains(n)) {
                self.release_name(n, uid)?;
            }
            if let Ok(mut m) = self.names.lock() {
                for n in &meta.names {
                    m.insert(n.clone(), uid.to_owned());
                }
            }
            return Ok(());
        }
    }

    /// Puts back the record as it was before a write whose names could not be claimed.
    fn rollback(&self, uid: &str, old: Option<&Record>, p: &Path) {
        let body = match old {
            None => Vec::new(),
            Some(o) => match self.encode_record(&o.meta, o.versions.clone()) {
                Ok(b) => b,
                Err(_) => return,
            },
        };
        let _ = uid;
        let _ = self.put_raw(p, body, PutMode::Overwrite);
    }
}
