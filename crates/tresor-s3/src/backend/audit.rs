//! The audit chain: one `audit/<seq>` object per entry, each created with `If-None-Match: *`
//! so that two writers cannot take the same position; reading the head and appending.

use object_store::PutMode;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use tresor_store::{AuditEntry, AuditSigner, Batch, StoreError};

use super::requests::{PutOutcome, decode_err};
use super::{S3Backend, SResult};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Serialize, Deserialize)]
pub(super) struct StoredAudit {
    pub(super) ts: i64,
    pub(super) actor: String,
    pub(super) action: String,
    pub(super) uid: Option<String>,
    pub(super) detail: String,
    pub(super) prev: String,
    pub(super) mac: String,
}

impl S3Backend {
    fn audit_head(&self) -> SResult<(u64, String)> {
        if let Some(h) = self.head.lock().ok().and_then(|h| h.clone()) {
            return Ok(h);
        }
        let mut keys: Vec<Path> = self.list("audit")?.into_iter().map(|(p, _)| p).collect();
        keys.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
        match keys.last() {
            None => Ok((0, GENESIS.to_owned())),
            Some(p) => {
                let seq = p
                    .filename()
                    .and_then(|f| f.parse::<u64>().ok())
                    .ok_or_else(|| decode_err(p, "not an audit entry key"))?;
                let e = self
                    .read_audit(seq)?
                    .ok_or_else(|| decode_err(p, "vanished"))?;
                Ok((seq, e.mac))
            }
        }
    }

    fn read_audit(&self, seq: u64) -> SResult<Option<AuditEntry>> {
        let p = self.audit_path(seq);
        let Some((body, _)) = self.get_raw(&p)? else {
            return Ok(None);
        };
        let a: StoredAudit = serde_json::from_slice(&body).map_err(|e| decode_err(&p, e))?;
        Ok(Some(AuditEntry {
            seq,
            ts: a.ts,
            actor: a.actor,
            action: a.action,
            uid: a.uid,
            detail: a.detail,
            prev: a.prev,
            mac: a.mac,
        }))
    }

    pub(super) fn append_audit(&self, batch: &Batch, signer: &AuditSigner) -> SResult<()> {
        if batch.audit.is_empty() {
            return Ok(());
        }
        let (mut seq, mut prev) = self.audit_head()?;
        let ts = tresor_store::now();
        for d in &batch.audit {
            loop {
                let next = seq + 1;
                let mac = signer.mac(next, ts, d, &prev);
                let body = serde_json::to_vec(&StoredAudit {
                    ts,
                    actor: d.actor.clone(),
                    action: d.action.clone(),
                    uid: d.uid.clone(),
                    detail: d.detail.clone(),
                    prev: prev.clone(),
                    mac: mac.clone(),
                })
                .map_err(|e| StoreError::Decode(e.to_string()))?;
                match self.put_raw(&self.audit_path(next), body, PutMode::Create)? {
                    PutOutcome::Done(_) => {
                        seq = next;
                        prev = mac;
                        break;
                    }
                    PutOutcome::Lost => {
                        // Another writer took this position: move past it and retry.
                        let e = self
                            .read_audit(next)?
                            .ok_or_else(|| StoreError::Conflict("audit".into()))?;
                        seq = next;
                        prev = e.mac;
                    }
                }
            }
        }
        if let Ok(mut h) = self.head.lock() {
            *h = Some((seq, prev));
        }
        Ok(())
    }
}
