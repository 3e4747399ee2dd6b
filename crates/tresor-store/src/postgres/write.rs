//! Writing: a group of batches applied in one transaction under the writers' advisory lock,
//! each batch's writes (objects with their names and attribute index, versions, settings),
//! then its audit entries appended to the chain.

use std::sync::Arc;

use super::conn::Tx;
use super::errors::{is_unique, pg};
use super::sql::{SQL_INSERT_AUDIT, SQL_INSERT_VERSION, SQL_LOCK};
use super::{LOCK_WRITE, PostgresBackend};
use crate::audit::{AuditSigner, GENESIS};
use crate::backend::{Batch, Precondition, Write};
use crate::group::{Slot, fail_group};
use crate::model::ObjectMeta;
use crate::{Result, StoreError};

impl PostgresBackend {
    /// Applies a group of batches (see [`crate::group`]) in one transaction holding the
    /// writers' advisory lock once, each batch under its own savepoint, and commits once.
    pub(super) fn apply_group(&self, group: &[Arc<Slot>]) -> Vec<Result<()>> {
        let r = self.with_tx(|c, sent| {
            let mut tx = c.transaction().map_err(pg)?;
            // Serialise writers: the audit chain must stay linear across servers.
            tx.execute(SQL_LOCK, &[&LOCK_WRITE]).map_err(pg)?;
            let mut out = Vec::with_capacity(group.len());
            if let [only] = group {
                // A lone writer: its transaction is its scope; its error is the commit's.
                apply_batch(&mut tx, &only.batch, &only.signer)?;
                out.push(Ok(()));
            } else {
                for slot in group {
                    let mut sp = tx.savepoint().map_err(pg)?;
                    match apply_batch(&mut sp, &slot.batch, &slot.signer) {
                        Ok(()) => {
                            sp.commit().map_err(pg)?;
                            out.push(Ok(()));
                        }
                        // A statement invalidated by another server's migration: retry the
                        // whole group on fresh statements rather than fail this batch.
                        Err(e) if *sp.stale => return Err(e),
                        // Dropping the savepoint rolls this batch back, and only it.
                        Err(e) => out.push(Err(e)),
                    }
                }
            }
            // From here a broken connection may have committed: no retry.
            *sent = true;
            tx.commit().map_err(pg)?;
            Ok(out)
        });
        match r {
            Ok(out) => out,
            Err(e) => fail_group(e, group.len(), |e| StoreError::Unavailable(e.to_string())),
        }
    }
}

pub(super) fn put_object(tx: &mut Tx<'_>, meta: &ObjectMeta, expect: Precondition) -> Result<()> {
    let names =
        serde_json::to_string(&meta.names).map_err(|e| StoreError::Decode(e.to_string()))?;
    let attrs =
        serde_json::to_string(&meta.attributes).map_err(|e| StoreError::Decode(e.to_string()))?;
    let (cv, rev) = (meta.current_version as i64, meta.rev as i64);
    let mac: Option<&[u8]> = meta.mac.as_ref().map(|m| &m[..]);
    match expect {
        Precondition::Absent => {
            let r = tx.execute(
                "INSERT INTO objects (uid, object_type, state, owner, name, names, attrs, current_version, created, updated, rev, mac) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[&meta.uid, &meta.object_type.as_str(), &meta.state.as_str(), &meta.owner, &meta.name(), &names, &attrs, &cv, &meta.created, &meta.updated, &rev, &mac],
            );
            if let Err(e) = &r
                && is_unique(e).is_some()
            {
                return Err(StoreError::Conflict(meta.uid.clone()));
            }
            r.map_err(pg)?;
        }
        Precondition::Rev(old) => {
            let n = tx
                .execute(
                    "UPDATE objects SET object_type=$2, state=$3, owner=$4, name=$5, names=$6, attrs=$7, current_version=$8, updated=$9, rev=$10, mac=$12 \
                     WHERE uid=$1 AND rev=$11",
                    &[&meta.uid, &meta.object_type.as_str(), &meta.state.as_str(), &meta.owner, &meta.name(), &names, &attrs, &cv, &meta.updated, &rev, &(old as i64), &mac],
                )
                .map_err(pg)?;
            if n == 0 {
                return Err(StoreError::Conflict(meta.uid.clone()));
            }
            tx.execute("DELETE FROM names WHERE uid=$1", &[&meta.uid])
                .map_err(pg)?;
            tx.execute("DELETE FROM attr_index WHERE uid=$1", &[&meta.uid])
                .map_err(pg)?;
        }
    }
    for n in &meta.names {
        // A savepoint keeps the transaction usable for the caller's error report.
        let r = tx.execute(
            "INSERT INTO names (name, uid) VALUES ($1, $2)",
            &[n, &meta.uid],
        );
        if let Err(e) = &r
            && is_unique(e).is_some()
        {
            return Err(StoreError::NameTaken(n.clone()));
        }
        r.map_err(pg)?;
    }
    for (a, v) in crate::query::indexed_rows(&meta.attributes) {
        tx.execute(
            "INSERT INTO attr_index (attr, value, uid) VALUES ($1, $2, $3)",
            &[&a, &v, &meta.uid],
        )
        .map_err(pg)?;
    }
    Ok(())
}

/// Applies one batch on `tx` (the group's transaction or a savepoint in it), audit last.
fn apply_batch(tx: &mut Tx<'_>, batch: &Batch, signer: &AuditSigner) -> Result<()> {
    for w in &batch.writes {
        match w {
            Write::PutObject { meta, expect } => put_object(tx, meta, *expect)?,
            Write::PutVersion(v) => {
                let r = tx.execute(
                    SQL_INSERT_VERSION,
                    &[
                        &v.uid,
                        &(v.version as i64),
                        &v.created,
                        &v.created_by,
                        &v.sealed,
                    ],
                );
                if let Err(e) = &r
                    && is_unique(e).is_some()
                {
                    return Err(StoreError::Conflict(v.uid.clone()));
                }
                r.map_err(pg)?;
            }
            Write::DestroyMaterial { uid, below } => {
                tx.execute(
                    "UPDATE versions SET sealed=NULL WHERE uid=$1 AND version<$2",
                    &[uid, &(below.unwrap_or(u32::MAX) as i64)],
                )
                .map_err(pg)?;
            }
            Write::RewrapVersion {
                uid,
                version,
                from,
                to,
            } => {
                let n = tx
                    .execute(
                        "UPDATE versions SET sealed=$4 WHERE uid=$1 AND version=$2 AND sealed=$3",
                        &[uid, &(*version as i64), from, to],
                    )
                    .map_err(pg)?;
                if n == 0 {
                    return Err(StoreError::Conflict(uid.clone()));
                }
            }
            Write::SetMeta { key, value, expect } => {
                let now: Option<Vec<u8>> = tx
                    .query_opt("SELECT v FROM meta WHERE k=$1", &[key])
                    .map_err(pg)?
                    .map(|r| r.get(0));
                if now != *expect {
                    return Err(StoreError::Conflict(key.clone()));
                }
                tx.execute(
                    "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                    &[key, value],
                )
                .map_err(pg)?;
            }
            Write::MetaAbsentOr { key, value } => {
                let now: Option<Vec<u8>> = tx
                    .query_opt("SELECT v FROM meta WHERE k=$1", &[key])
                    .map_err(pg)?
                    .map(|r| r.get(0));
                if now.is_some_and(|v| v != *value) {
                    return Err(StoreError::KeyRotated);
                }
            }
            Write::AllSealedStartWith { prefix } => {
                let len = prefix.len() as i32;
                let other: i64 = tx
                    .query_opt(
                        "SELECT count(*) FROM versions WHERE sealed IS NOT NULL AND substring(sealed FROM 1 FOR $1) <> $2",
                        &[&len, prefix],
                    )
                    .map_err(pg)?
                    .map_or(0, |r| r.get(0));
                if other != 0 {
                    return Err(StoreError::Conflict(format!(
                        "{other} version(s) sealed under another key"
                    )));
                }
            }
            Write::DeleteObject { uid, expect } => {
                let n = tx
                    .execute(
                        "DELETE FROM objects WHERE uid=$1 AND rev=$2",
                        &[uid, &(*expect as i64)],
                    )
                    .map_err(pg)?;
                if n == 0 {
                    return Err(StoreError::Conflict(uid.clone()));
                }
            }
        }
    }
    append_audit(tx, &batch.audit, signer)
}

/// Appends `audit` to the chain inside `tx` (which holds the write lock).
pub(super) fn append_audit(
    tx: &mut Tx<'_>,
    audit: &[crate::AuditDraft],
    signer: &AuditSigner,
) -> Result<()> {
    if audit.is_empty() {
        return Ok(());
    }
    let last = tx
        .query_opt("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1", &[])
        .map_err(pg)?;
    let (mut seq, mut prev) = match last {
        Some(r) => (r.get::<_, i64>(0) as u64, r.get::<_, String>(1)),
        None => (0, GENESIS.to_owned()),
    };
    let ts = crate::model::now();
    for d in audit {
        seq += 1;
        let mac = signer.mac(seq, ts, d, &prev);
        tx.execute(
            SQL_INSERT_AUDIT,
            &[
                &(seq as i64),
                &ts,
                &d.actor,
                &d.action,
                &d.uid,
                &d.detail,
                &prev,
                &mac,
            ],
        )
        .map_err(pg)?;
        prev = mac;
    }
    Ok(())
}
