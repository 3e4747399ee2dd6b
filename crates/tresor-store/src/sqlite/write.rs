//! Writing to SQLite: a group of batches in one transaction (a failing batch taken out and
//! the rest applied again), each batch's objects, index rows and versions, and its audit
//! entries appended to the chain.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::audit::{AuditSigner, GENESIS};
use crate::backend::{Batch, Precondition, Write};
use crate::group::{Slot, fail_group};
use crate::model::ObjectMeta;
use crate::{Result, StoreError};

use super::SqliteBackend;

impl SqliteBackend {
    /// Applies a group of batches (see [`crate::group`]) in one `BEGIN IMMEDIATE`
    /// transaction and commits once.
    ///
    /// Optimistically, without a savepoint per batch: a savepoint makes SQLite copy every
    /// page a batch touches into its statement journal first (about 17 pages per KMIP
    /// Create, over the 64 KiB that stays in memory, so a temp file written per batch: 11 %
    /// of the server's CPU under 16 writers, `perf`). Batches almost never fail. When one
    /// does, the whole transaction is rolled back and the group applied again without it:
    /// the batches before it see what they saw, the ones after it see the store as if it
    /// had never been there, exactly what rolling back its savepoint would give. A group of
    /// `n` batches with `k` failures is applied at most `k + 1` times, and `k < n`.
    pub(super) fn apply_group(&self, group: &[Arc<Slot>]) -> Vec<Result<()>> {
        let fail_all = |e: StoreError| fail_group(e, group.len(), copy_err);
        let mut c = match self.take() {
            Ok(c) => c,
            Err(e) => return fail_all(e),
        };
        let mut failed: Vec<Option<StoreError>> = group.iter().map(|_| None).collect();
        let out = (|| -> std::result::Result<(), rusqlite::Error> {
            loop {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                // The first batch not yet taken out that fails, if any.
                let bad = group
                    .iter()
                    .zip(&failed)
                    .enumerate()
                    .filter(|(_, (_, f))| f.is_none())
                    .find_map(|(i, (slot, _))| {
                        apply_batch(&tx, &slot.batch, &slot.signer)
                            .err()
                            .map(|e| (i, e))
                    });
                let Some((i, e)) = bad else {
                    return tx.commit();
                };
                // Dropping `tx` rolls the whole group back; apply it again without `i`.
                drop(tx);
                failed[i] = Some(e);
                if failed.iter().all(Option::is_some) {
                    return Ok(());
                }
            }
        })();
        self.release(c);
        match out {
            Ok(()) => failed.into_iter().map(|f| f.map_or(Ok(()), Err)).collect(),
            Err(e) => fail_all(StoreError::Sqlite(e)),
        }
    }
}

pub(super) fn put_object(tx: &Connection, meta: &ObjectMeta, expect: Precondition) -> Result<()> {
    let names =
        serde_json::to_string(&meta.names).map_err(|e| StoreError::Decode(e.to_string()))?;
    let attrs =
        serde_json::to_string(&meta.attributes).map_err(|e| StoreError::Decode(e.to_string()))?;
    match expect {
        Precondition::Absent => {
            let r = tx.prepare_cached(
                "INSERT INTO objects (uid, object_type, state, owner, name, names, attrs, current_version, created, updated, rev, mac) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![meta.uid, meta.object_type.as_str(), meta.state.as_str(), meta.owner,
                meta.name(), names, attrs, meta.current_version, meta.created, meta.updated, meta.rev as i64,
                meta.mac.as_ref().map(|m| &m[..])]);
            if let Err(rusqlite::Error::SqliteFailure(f, _)) = &r
                && f.code == rusqlite::ErrorCode::ConstraintViolation
            {
                return Err(StoreError::Conflict(meta.uid.clone()));
            }
            r?;
        }
        Precondition::Rev(rev) => {
            let n = tx.prepare_cached(
                "UPDATE objects SET object_type=?2, state=?3, owner=?4, name=?5, names=?6, attrs=?7, \
                 current_version=?8, updated=?9, rev=?10, mac=?12 WHERE uid=?1 AND rev=?11",
            )?
            .execute(params![meta.uid, meta.object_type.as_str(), meta.state.as_str(), meta.owner,
                meta.name(), names, attrs, meta.current_version, meta.updated, meta.rev as i64, rev as i64,
                meta.mac.as_ref().map(|m| &m[..])])?;
            if n == 0 {
                return Err(StoreError::Conflict(meta.uid.clone()));
            }
            tx.prepare_cached("DELETE FROM names WHERE uid=?1")?
                .execute([&meta.uid])?;
            tx.prepare_cached("DELETE FROM attr_index WHERE uid=?1")?
                .execute([&meta.uid])?;
        }
    }
    for n in &meta.names {
        let r = tx
            .prepare_cached("INSERT INTO names (name, uid) VALUES (?1, ?2)")?
            .execute([n, &meta.uid]);
        if let Err(rusqlite::Error::SqliteFailure(f, _)) = &r
            && f.code == rusqlite::ErrorCode::ConstraintViolation
        {
            return Err(StoreError::NameTaken(n.clone()));
        }
        r?;
    }
    let rows = crate::query::indexed_rows(&meta.attributes);
    let mut ins =
        tx.prepare_cached("INSERT INTO attr_index (attr, value, uid) VALUES (?1, ?2, ?3)")?;
    for (a, v) in rows {
        ins.execute([&a, &v, &meta.uid])?;
    }
    Ok(())
}

/// The store setting says "no MACs yet" but some objects carry one: in a SQL store, where
/// bringing forward is one transaction, only an edit of the database does that.
pub(crate) fn half_maced(marker: &str) -> StoreError {
    StoreError::Tampered {
        uid: "(store)".into(),
        detail: format!(
            "some objects carry a metadata MAC but the store's '{marker}' setting is missing"
        ),
    }
}

/// Appends `audit` to the chain inside `tx`.
pub(super) fn append_audit(
    tx: &Connection,
    audit: &[crate::AuditDraft],
    signer: &AuditSigner,
) -> Result<()> {
    if audit.is_empty() {
        return Ok(());
    }
    let (mut seq, mut prev): (u64, String) = tx
        .prepare_cached("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .optional()?
        .unwrap_or((0, GENESIS.to_owned()));
    let ts = crate::model::now();
    let mut ins = tx.prepare_cached(
        "INSERT INTO audit (seq, ts, actor, action, uid, detail, prev, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for d in audit {
        seq += 1;
        let mac = signer.mac(seq, ts, d, &prev);
        ins.execute(params![
            seq as i64, ts, d.actor, d.action, d.uid, d.detail, prev, mac
        ])?;
        prev = mac;
    }
    Ok(())
}

/// Applies one batch on `tx` (the group's transaction), audit entries last.
fn apply_batch(tx: &Connection, batch: &Batch, signer: &AuditSigner) -> Result<()> {
    for w in &batch.writes {
        match w {
            Write::PutObject { meta, expect } => put_object(tx, meta, *expect)?,
            Write::PutVersion(v) => {
                tx.prepare_cached(
                    "INSERT INTO versions (uid, version, created, created_by, sealed) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![v.uid, v.version, v.created, v.created_by, v.sealed])
                .map_err(|e| match &e {
                    rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                        StoreError::Conflict(v.uid.clone())
                    }
                    _ => StoreError::Sqlite(e),
                })?;
            }
            Write::DestroyMaterial { uid, below } => {
                tx.prepare_cached("UPDATE versions SET sealed=NULL WHERE uid=?1 AND version<?2")?
                    .execute(params![uid, below.unwrap_or(u32::MAX)])?;
            }
            Write::RewrapVersion {
                uid,
                version,
                from,
                to,
            } => {
                let n = tx
                    .prepare_cached(
                        "UPDATE versions SET sealed=?4 WHERE uid=?1 AND version=?2 AND sealed=?3",
                    )?
                    .execute(params![uid, version, from, to])?;
                if n == 0 {
                    return Err(StoreError::Conflict(uid.clone()));
                }
            }
            Write::SetMeta { key, value, expect } => {
                let now: Option<Vec<u8>> = tx
                    .prepare_cached("SELECT v FROM meta WHERE k=?1")?
                    .query_row([key], |r| r.get(0))
                    .optional()?;
                if now != *expect {
                    return Err(StoreError::Conflict(key.clone()));
                }
                tx.prepare_cached("INSERT OR REPLACE INTO meta (k, v) VALUES (?1, ?2)")?
                    .execute(params![key, value])?;
            }
            Write::MetaAbsentOr { key, value } => {
                let now: Option<Vec<u8>> = tx
                    .prepare_cached("SELECT v FROM meta WHERE k=?1")?
                    .query_row([key], |r| r.get(0))
                    .optional()?;
                if now.is_some_and(|v| v != *value) {
                    return Err(StoreError::KeyRotated);
                }
            }
            Write::AllSealedStartWith { prefix } => {
                let other: i64 = tx
                    .prepare_cached(
                        "SELECT count(*) FROM versions WHERE sealed IS NOT NULL AND substr(sealed, 1, ?1) != ?2",
                    )?
                    .query_row(params![prefix.len() as i64, prefix], |r| r.get(0))?;
                if other != 0 {
                    return Err(StoreError::Conflict(format!(
                        "{other} version(s) sealed under another key"
                    )));
                }
            }
            Write::DeleteObject { uid, expect } => {
                let n = tx
                    .prepare_cached("DELETE FROM objects WHERE uid=?1 AND rev=?2")?
                    .execute(params![uid, *expect as i64])?;
                if n == 0 {
                    return Err(StoreError::Conflict(uid.clone()));
                }
            }
        }
    }
    append_audit(tx, &batch.audit, signer)
}

/// A copy of `e` for another batch of a failed group.
fn copy_err(e: &StoreError) -> StoreError {
    match e {
        StoreError::Sqlite(e) => StoreError::Sqlite(dup_err(e)),
        e => StoreError::Unavailable(e.to_string()),
    }
}

/// A copy of a database error, for each batch of a group whose transaction failed.
fn dup_err(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(f, m) => rusqlite::Error::SqliteFailure(*f, m.clone()),
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;
    use crate::{NewObject, ObjectType, Store};
    use std::sync::Arc;

    /// Only indexed attribute rows reach `attr_index` (flags, dates and structure fields that
    /// never narrow a search cost a b-tree leaf per commit and are left out).
    #[test]
    fn unindexed_attributes_write_no_index_rows() {
        let dir = tempfile::tempdir().unwrap();
        let b = Arc::new(SqliteBackend::open(&dir.path().join("i.db")).unwrap());
        let kek = Arc::new(tresor_crypto::LocalKek::generate().unwrap());
        let s = Store::open(b.clone(), kek, "t").unwrap();
        let mut k = NewObject::new(ObjectType::SymmetricKey);
        k.attributes
            .insert("Sensitive".into(), serde_json::json!(false));
        k.attributes
            .insert("Initial Date".into(), serde_json::json!(1700000000));
        k.attributes
            .insert("Cryptographic Algorithm".into(), serde_json::json!("AES"));
        k.attributes.insert(
            "Digest".into(),
            serde_json::json!([{"HashingAlgorithm": "SHA_256", "DigestValue": "ab12"}]),
        );
        s.create(k).unwrap();
        let mut rows: Vec<String> = b
            .with(|c| {
                let mut st = c.prepare("SELECT attr FROM attr_index")?;
                st.query_map([], |r| r.get(0))?.collect()
            })
            .unwrap();
        rows.sort();
        assert_eq!(rows, ["Cryptographic Algorithm", "Digest.DigestValue"]);
    }
}

#[cfg(test)]
mod group_tests {
    use super::*;
    use crate::backend::Backend;
    use crate::group::Slot;
    use crate::model::{ObjectType, State};
    use crate::{AuditDraft, StoreError};

    /// A batch creating object `uid` named `name`, with one audit entry.
    fn create(uid: &str, name: &str) -> Batch {
        let meta = ObjectMeta {
            uid: uid.into(),
            object_type: ObjectType::SecretData,
            state: State::Active,
            owner: "t".into(),
            names: vec![name.into()],
            attributes: Default::default(),
            current_version: 0,
            created: 1,
            updated: 1,
            rev: 1,
            mac: None,
        };
        Batch {
            writes: vec![Write::PutObject {
                meta,
                expect: Precondition::Absent,
            }],
            audit: vec![AuditDraft {
                actor: "t".into(),
                action: "create".into(),
                uid: Some(uid.into()),
                detail: name.into(),
            }],
        }
    }

    /// One group of five batches where the 2nd and 4th take names the 1st and 3rd took: the
    /// two fail alone (the group is applied again without each), the other three commit in
    /// one transaction, and the audit chain holds their three entries, linked in order.
    #[test]
    fn a_failing_batch_is_taken_out_and_the_rest_applied_again() {
        let dir = tempfile::tempdir().unwrap();
        let b = SqliteBackend::open(&dir.path().join("g.db")).unwrap();
        let signer = AuditSigner::new(tresor_crypto::Secret::new(vec![7u8; 32]));
        let plan = [
            ("u1", "a"),
            ("u2", "a"),
            ("u3", "b"),
            ("u4", "b"),
            ("u5", "c"),
        ];
        let group: Vec<Arc<Slot>> = plan
            .iter()
            .map(|(u, n)| Slot::new(create(u, n), signer.for_commit()))
            .collect();
        let out = b.apply_group(&group);
        assert!(
            out[0].is_ok() && out[2].is_ok() && out[4].is_ok(),
            "{out:?}"
        );
        assert!(
            matches!(&out[1], Err(StoreError::NameTaken(n)) if n == "a"),
            "{out:?}"
        );
        assert!(
            matches!(&out[3], Err(StoreError::NameTaken(n)) if n == "b"),
            "{out:?}"
        );
        for (u, n) in plan {
            let got = b.get(u).unwrap();
            assert_eq!(got.is_some(), ["u1", "u3", "u5"].contains(&u), "{u}");
            if let Some(m) = got {
                assert_eq!(m.names, vec![n.to_owned()]);
            }
        }
        let entries = b.audit(0, 100).unwrap();
        let uids: Vec<_> = entries.iter().filter_map(|e| e.uid.clone()).collect();
        assert_eq!(uids, ["u1", "u3", "u5"]);
        assert_eq!(signer.verify(&entries), Ok(3));
        // A group where every batch fails commits nothing and answers each.
        let all_bad: Vec<Arc<Slot>> = (0..3)
            .map(|i| Slot::new(create(&format!("x{i}"), "a"), signer.for_commit()))
            .collect();
        let out = b.apply_group(&all_bad);
        assert!(
            out.iter()
                .all(|r| matches!(r, Err(StoreError::NameTaken(_)))),
            "{out:?}"
        );
        assert_eq!(b.audit(0, 100).unwrap().len(), 3);
    }
}
