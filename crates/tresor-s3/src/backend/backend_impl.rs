//! The store's [`Backend`] trait on [`S3Backend`]: reads, `commit` (object by object, then
//! the audit entries), the audit log, store settings, dump and restore, the MAC backfill.

use std::collections::HashMap;

use base64::Engine as _;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode};
use tresor_store::{
    AuditEntry, AuditSigner, Backend, Batch, Dump, ObjectMeta, Query, SealedVersion, StoreError,
    Write,
};

use super::audit::StoredAudit;
use super::record::{StoredVersion, b64};
use super::requests::{PutOutcome, decode_err};
use super::{S3Backend, SResult};
use crate::keys;

impl Backend for S3Backend {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn get(&self, uid: &str) -> SResult<Option<ObjectMeta>> {
        Ok(self.load(uid)?.rec.map(|r| r.meta))
    }

    fn get_by_name(&self, name: &str) -> SResult<Option<ObjectMeta>> {
        Ok(self.record_by_name(name)?.map(|r| r.meta))
    }

    fn get_current_by_name(
        &self,
        name: &str,
    ) -> SResult<Option<(ObjectMeta, Option<SealedVersion>)>> {
        let Some(rec) = self.record_by_name(name)? else {
            return Ok(None);
        };
        let cv = rec.meta.current_version;
        let v = rec
            .versions
            .iter()
            .find(|v| v.version == cv)
            .map(|v| Self::to_sealed(&rec.meta.uid, v))
            .transpose()?;
        Ok(Some((rec.meta, v)))
    }

    fn version(&self, uid: &str, version: u32) -> SResult<Option<SealedVersion>> {
        let Some(rec) = self.load(uid)?.rec else {
            return Ok(None);
        };
        rec.versions
            .iter()
            .find(|v| v.version == version)
            .map(|v| Self::to_sealed(uid, v))
            .transpose()
    }

    fn versions(&self, uid: &str) -> SResult<Vec<SealedVersion>> {
        let Some(rec) = self.load(uid)?.rec else {
            return Ok(Vec::new());
        };
        rec.versions
            .iter()
            .map(|v| Self::to_sealed(uid, v))
            .collect()
    }

    fn locate(&self, q: &Query) -> SResult<Vec<ObjectMeta>> {
        if let Some(n) = &q.name {
            let found = self.get_by_name(n)?.filter(|m| q.matches(m));
            return Ok(found
                .into_iter()
                .skip(q.offset)
                .take(q.limit.unwrap_or(usize::MAX))
                .collect());
        }
        let mut out: Vec<ObjectMeta> = self
            .all_records()?
            .into_iter()
            .map(|r| r.meta)
            .filter(|m| q.matches(m))
            .collect();
        // As the SQL backends: by primary name (unnamed first), then uid.
        out.sort_by(|a, b| (a.name(), &a.uid).cmp(&(b.name(), &b.uid)));
        Ok(out
            .into_iter()
            .skip(q.offset)
            .take(q.limit.unwrap_or(usize::MAX))
            .collect())
    }

    fn commit(&self, batch: &Batch, signer: &AuditSigner) -> SResult<()> {
        let mut order: Vec<&str> = Vec::new();
        let mut by_uid: HashMap<&str, Vec<&Write>> = HashMap::new();
        for w in &batch.writes {
            let uid = match w {
                Write::PutObject { meta, .. } => meta.uid.as_str(),
                Write::PutVersion(v) => v.uid.as_str(),
                Write::DestroyMaterial { uid, .. } | Write::DeleteObject { uid, .. } => {
                    uid.as_str()
                }
                // S3 has no multi-object transaction: the key check is made before the
                // writes (not atomic with them), and a rekey is refused.
                Write::MetaAbsentOr { key, value } => {
                    let p = self.path(&format!("meta/{}", keys::encode_component(key)));
                    if self
                        .get_raw(&p)?
                        .is_some_and(|(b, _)| b.as_ref() != value.as_slice())
                    {
                        return Err(StoreError::KeyRotated);
                    }
                    continue;
                }
                Write::RewrapVersion { .. }
                | Write::SetMeta { .. }
                | Write::AllSealedStartWith { .. } => {
                    return Err(StoreError::Unsupported(
                        "rekeying is not supported on the S3 backend (no multi-object transaction); with KMS, rotate the KMS key instead".into(),
                    ));
                }
            };
            if !by_uid.contains_key(uid) {
                order.push(uid);
            }
            by_uid.entry(uid).or_default().push(w);
        }
        for uid in order {
            self.apply_object(uid, &by_uid[uid])?;
        }
        self.append_audit(batch, signer)
    }

    fn audit(&self, after: u64, limit: usize) -> SResult<Vec<AuditEntry>> {
        let mut seqs: Vec<u64> = self
            .list("audit")?
            .into_iter()
            .filter_map(|(p, _)| p.filename().and_then(|f| f.parse::<u64>().ok()))
            .filter(|s| *s > after)
            .collect();
        seqs.sort_unstable();
        seqs.truncate(limit);
        let paths: Vec<(u64, Path)> = seqs.iter().map(|s| (*s, self.audit_path(*s))).collect();
        let store = self.store.clone();
        let bodies = self.run(async move {
            futures::stream::iter(
                    paths.into_iter().map(|(s, p)| {
                        let store = store.clone();
                        async move {
                            Ok::<_, object_store::Error>((s, store.get(&p).await?.bytes().await?))
                        }
                    }),
                )
                .buffered(16)
                .try_collect::<Vec<_>>()
                .await
        });
        let bodies = bodies.map_err(|e| self.err("GET", &self.path("audit"), e))?;
        bodies
            .into_iter()
            .map(|(seq, b)| {
                let a: StoredAudit =
                    serde_json::from_slice(&b).map_err(|e| decode_err(&self.audit_path(seq), e))?;
                Ok(AuditEntry {
                    seq,
                    ts: a.ts,
                    actor: a.actor,
                    action: a.action,
                    uid: a.uid,
                    detail: a.detail,
                    prev: a.prev,
                    mac: a.mac,
                })
            })
            .collect()
    }

    fn meta_get(&self, key: &str) -> SResult<Option<Vec<u8>>> {
        if let Some(v) = self.meta.lock().ok().and_then(|m| m.get(key).cloned()) {
            return Ok(Some(v));
        }
        let p = self.path(&format!("meta/{}", keys::encode_component(key)));
        let v = self.get_raw(&p)?.map(|(b, _)| b.to_vec());
        if let (Some(v), Ok(mut m)) = (&v, self.meta.lock()) {
            m.insert(key.to_owned(), v.clone());
        }
        Ok(v)
    }

    fn meta_init(&self, key: &str, value: &[u8]) -> SResult<Vec<u8>> {
        let p = self.path(&format!("meta/{}", keys::encode_component(key)));
        match self.put_raw(&p, value.to_vec(), PutMode::Create)? {
            PutOutcome::Done(_) => Ok(value.to_vec()),
            PutOutcome::Lost => self
                .meta_get(key)?
                .ok_or_else(|| StoreError::Conflict(format!("meta {key}"))),
        }
    }

    fn count(&self) -> SResult<u64> {
        Ok(self
            .list("objects")?
            .into_iter()
            .filter(|(_, s)| *s > 0)
            .count() as u64)
    }

    fn dump(&self) -> SResult<Dump> {
        let mut meta = Vec::new();
        let base = format!("{}/", self.path("meta").as_ref());
        for (p, _) in self.list("meta")? {
            let Some(k) = p
                .as_ref()
                .strip_prefix(&base)
                .and_then(keys::decode_component)
            else {
                continue;
            };
            if let Some(v) = self.meta_get(&k)? {
                meta.push((k, v));
            }
        }
        meta.sort();
        let mut objects = Vec::new();
        let mut versions = Vec::new();
        let mut recs = self.all_records()?;
        recs.sort_by(|a, b| a.meta.uid.cmp(&b.meta.uid));
        for r in recs {
            for v in &r.versions {
                versions.push(Self::to_sealed(&r.meta.uid, v)?);
            }
            objects.push(r.meta);
        }
        let mut audit = Vec::new();
        let mut after = 0;
        loop {
            let page = self.audit(after, 10_000)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            audit.extend(page);
        }
        Ok(Dump {
            meta,
            objects,
            versions,
            audit,
        })
    }

    /// S3 has no transaction over many keys: each record without a MAC is rewritten with a
    /// conditional PUT (`If-Match` its etag), then the marker is created. A crash midway leaves
    /// the marker absent, so the next open with the key finishes the job; until then the
    /// records not yet rewritten read as tampered.
    fn backfill_macs(
        &self,
        mac: &dyn Fn(&ObjectMeta) -> [u8; 32],
        marker: &str,
        note: &tresor_store::AuditDraft,
        signer: &AuditSigner,
    ) -> SResult<u64> {
        let mut n = 0u64;
        for (p, size) in self.list("objects")? {
            if size == 0 {
                continue;
            }
            let Some((body, etag)) = self.get_raw(&p)? else {
                continue;
            };
            let Some(mut rec) = self.parse_record(&p, &body, None)? else {
                continue;
            };
            if rec.meta.mac.is_some() {
                continue;
            }
            rec.meta.mac = Some(mac(&rec.meta));
            let body = self.encode_record(&rec.meta, rec.versions)?;
            match self.put_raw(&p, body, Self::update_mode(&etag))? {
                PutOutcome::Done(_) => n += 1,
                PutOutcome::Lost => return Err(StoreError::Conflict(rec.meta.uid)),
            }
        }
        self.meta_init(marker, b"1")?;
        if n > 0 {
            let mut note = note.clone();
            note.detail = format!("{} ({n} objects)", note.detail);
            let batch = Batch {
                writes: Vec::new(),
                audit: vec![note],
            };
            self.append_audit(&batch, signer)?;
        }
        Ok(n)
    }

    fn replace_all(&self, dump: &Dump) -> SResult<()> {
        // Not atomic on S3: everything under the prefix is deleted, then rewritten.
        let store = self.store.clone();
        let mut all = Vec::new();
        for rel in ["objects", "names", "audit", "meta"] {
            all.extend(self.list(rel)?.into_iter().map(|(p, _)| p));
        }
        let r = self.run(async move {
            futures::stream::iter(all.into_iter().map(|p| {
                let store = store.clone();
                async move { store.delete(&p).await }
            }))
            .buffer_unordered(16)
            .try_collect::<Vec<_>>()
            .await
        });
        r.map_err(|e| self.err("DELETE", &self.path(""), e))?;
        if let Ok(mut m) = self.names.lock() {
            m.clear();
        }
        if let Ok(mut m) = self.meta.lock() {
            m.clear();
        }
        if let Ok(mut h) = self.head.lock() {
            *h = None;
        }
        for (k, v) in &dump.meta {
            let p = self.path(&format!("meta/{}", keys::encode_component(k)));
            self.put_raw(&p, v.clone(), PutMode::Overwrite)?;
        }
        for o in &dump.objects {
            let vs: Vec<StoredVersion> = dump
                .versions
                .iter()
                .filter(|v| v.uid == o.uid)
                .map(|v| StoredVersion {
                    version: v.version,
                    created: v.created,
                    created_by: v.created_by.clone(),
                    sealed: v.sealed.as_ref().map(|s| b64().encode(s)),
                })
                .collect();
            self.put_raw(
                &self.object_path(&o.uid),
                self.encode_record(o, vs)?,
                PutMode::Overwrite,
            )?;
            for n in &o.names {
                self.put_raw(
                    &self.name_path(n),
                    o.uid.as_bytes().to_vec(),
                    PutMode::Overwrite,
                )?;
            }
        }
        for e in &dump.audit {
            let body = serde_json::to_vec(&StoredAudit {
                ts: e.ts,
                actor: e.actor.clone(),
                action: e.action.clone(),
                uid: e.uid.clone(),
                detail: e.detail.clone(),
                prev: e.prev.clone(),
                mac: e.mac.clone(),
            })
            .map_err(|e| StoreError::Decode(e.to_string()))?;
            self.put_raw(&self.audit_path(e.seq), body, PutMode::Overwrite)?;
        }
        Ok(())
    }
}
