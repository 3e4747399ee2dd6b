//! The [`Backend`] implementation of [`SqliteBackend`]: reads by uid, name and query,
//! commits through the group commit, the audit chain, dump, restore and MAC backfill.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::audit::{AuditEntry, AuditSigner};
use crate::backend::{Backend, Batch, Dump, Precondition};
use crate::model::{ObjectMeta, SealedVersion};
use crate::query::Query;
use crate::{Result, StoreError};

use super::rows::{OBJ_COLS, obj_cols, row_meta, row_version, with_version};
use super::write::{append_audit, put_object};
use super::{SqliteBackend, half_maced};

impl Backend for SqliteBackend {
    fn group_sizes(&self) -> Vec<(usize, u64)> {
        self.group.group_sizes()
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn get(&self, uid: &str) -> Result<Option<ObjectMeta>> {
        // With its current version, kept for the `version` call that usually follows (a
        // KMIP Get): one statement, so one read transaction instead of two.
        let found = self.with(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                obj_cols!(),
                ", v.version, v.created, v.created_by, v.sealed FROM objects o \
                 LEFT JOIN versions v ON v.uid=o.uid AND v.version=o.current_version WHERE o.uid=?1"
            ))?
            .query_row([uid], with_version)
            .optional()
        })?;
        Ok(crate::prefetch::keep_current(self.id, found))
    }

    fn get_by_name(&self, name: &str) -> Result<Option<ObjectMeta>> {
        let found = self.get_current_by_name(name)?;
        Ok(crate::prefetch::keep_current(self.id, found))
    }

    fn get_current_by_name(
        &self,
        name: &str,
    ) -> Result<Option<(ObjectMeta, Option<SealedVersion>)>> {
        self.with(|c| {
            c.prepare_cached(concat!(
                "SELECT ",
                obj_cols!(),
                ", v.version, v.created, v.created_by, v.sealed FROM names n \
                 JOIN objects o ON o.uid=n.uid \
                 LEFT JOIN versions v ON v.uid=o.uid AND v.version=o.current_version WHERE n.name=?1"
            ))?
            .query_row([name], with_version)
            .optional()
        })
    }

    fn get_many_by_name(
        &self,
        wanted: &[(&str, u32)],
    ) -> Result<Vec<Option<crate::backend::Found>>> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // One statement for every name: the list goes in as one JSON parameter
        // (`[[name, version], …]`), read back by `json_each`, each row joined to its name
        // and object by primary key and to the version asked for (0: the current one).
        let list = serde_json::to_string(wanted).map_err(|e| StoreError::Decode(e.to_string()))?;
        let rows = self.with(|c| {
            let mut st = c.prepare_cached(concat!(
                "WITH w(i, name, ver) AS (SELECT CAST(key AS INTEGER), json_extract(value, '$[0]'), \
                 json_extract(value, '$[1]') FROM json_each(?1)) SELECT ",
                obj_cols!(),
                ", v.version, v.created, v.created_by, v.sealed, w.i FROM w \
                 JOIN names n ON n.name=w.name JOIN objects o ON o.uid=n.uid \
                 LEFT JOIN versions v ON v.uid=o.uid AND v.version=\
                 (CASE WHEN w.ver=0 THEN o.current_version ELSE w.ver END)"
            ))?;
            let rows = st.query_map([&list], |r| Ok((r.get::<_, i64>(15)?, with_version(r)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let mut out: Vec<Option<crate::backend::Found>> = vec![None; wanted.len()];
        for (i, found) in rows {
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) {
                *slot = Some(found);
            }
        }
        Ok(out)
    }

    fn version(&self, uid: &str, version: u32) -> Result<Option<SealedVersion>> {
        if let Some(row) = crate::prefetch::take(self.id, uid, version) {
            return Ok(row);
        }
        self.with(|c| {
            c.prepare_cached("SELECT version, created, created_by, sealed FROM versions WHERE uid=?1 AND version=?2")?
                .query_row(params![uid, version], |r| row_version(uid, r, 0))
                .optional()
                .map(Option::flatten)
        })
    }

    fn versions(&self, uid: &str) -> Result<Vec<SealedVersion>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT version, created, created_by, sealed FROM versions WHERE uid=?1 ORDER BY version",
            )?;
            let rows = st.query_map([uid], |r| row_version(uid, r, 0))?;
            let mut out = Vec::new();
            for r in rows {
                if let Some(v) = r? {
                    out.push(v);
                }
            }
            Ok(out)
        })
    }

    fn locate(&self, q: &Query) -> Result<Vec<ObjectMeta>> {
        let dialect = crate::query::Dialect {
            placeholder: |n| format!("?{n}"),
            collate: "",
        };
        let (sql, args) = q.to_sql(OBJ_COLS, &dialect);
        self.with(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(rusqlite::params_from_iter(args.iter()), row_meta)?;
            rows.collect()
        })
    }

    fn commit(&self, batch: &Batch, signer: &AuditSigner) -> Result<()> {
        // Group commit may run this batch on another writer's thread: forget here, on the
        // caller's, what its last read kept (the batch may destroy that very material).
        crate::prefetch::forget();
        self.group
            .commit(batch, signer, |group| self.apply_group(group))
            .map_err(|e| match e {
                StoreError::Sqlite(e) => self.corrupt(e),
                e => e,
            })
    }

    fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT seq, ts, actor, action, uid, detail, prev, mac FROM audit WHERE seq>?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = st.query_map(params![after as i64, limit as i64], |r| {
                Ok(AuditEntry {
                    seq: r.get::<_, i64>(0)? as u64,
                    ts: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    uid: r.get(4)?,
                    detail: r.get(5)?,
                    prev: r.get(6)?,
                    mac: r.get(7)?,
                })
            })?;
            rows.collect()
        })
    }

    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.with(|c| {
            c.prepare_cached("SELECT v FROM meta WHERE k=?1")?
                .query_row([key], |r| r.get(0))
                .optional()
        })
    }

    fn meta_init(&self, key: &str, value: &[u8]) -> Result<Vec<u8>> {
        self.with(|c| {
            c.prepare_cached("INSERT OR IGNORE INTO meta (k, v) VALUES (?1, ?2)")?
                .execute(params![key, value])?;
            c.prepare_cached("SELECT v FROM meta WHERE k=?1")?
                .query_row([key], |r| r.get(0))
        })
    }

    fn count(&self) -> Result<u64> {
        self.with(|c| {
            c.query_row("SELECT count(*) FROM objects", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
    }

    fn dump(&self) -> Result<Dump> {
        let mut c = self.take()?;
        let r = (|| -> rusqlite::Result<Dump> {
            // A read transaction gives one consistent snapshot under WAL.
            let tx = c.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let mut d = Dump::default();
            {
                let mut st = tx.prepare("SELECT k, v FROM meta ORDER BY k")?;
                d.meta = st
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                let mut st =
                    tx.prepare(&format!("SELECT {OBJ_COLS} FROM objects o ORDER BY o.uid"))?;
                d.objects = st
                    .query_map([], row_meta)?
                    .collect::<rusqlite::Result<_>>()?;
                let mut st = tx.prepare("SELECT uid, version, created, created_by, sealed FROM versions ORDER BY uid, version")?;
                d.versions = st
                    .query_map([], |r| {
                        Ok(SealedVersion {
                            uid: r.get(0)?,
                            version: r.get(1)?,
                            created: r.get(2)?,
                            created_by: r.get(3)?,
                            sealed: r.get(4)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                let mut st = tx.prepare(
                    "SELECT seq, ts, actor, action, uid, detail, prev, mac FROM audit ORDER BY seq",
                )?;
                d.audit = st
                    .query_map([], |r| {
                        Ok(AuditEntry {
                            seq: r.get::<_, i64>(0)? as u64,
                            ts: r.get(1)?,
                            actor: r.get(2)?,
                            action: r.get(3)?,
                            uid: r.get(4)?,
                            detail: r.get(5)?,
                            prev: r.get(6)?,
                            mac: r.get(7)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
            }
            tx.commit()?;
            Ok(d)
        })();
        self.release(c);
        r.map_err(|e| self.corrupt(e))
    }

    fn backfill_macs(
        &self,
        mac: &dyn Fn(&ObjectMeta) -> [u8; 32],
        marker: &str,
        note: &crate::AuditDraft,
        signer: &AuditSigner,
    ) -> Result<u64> {
        let mut c = self.take()?;
        let r = (|| -> Result<u64> {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Another process may have brought it forward since the caller looked.
            let done: Option<i64> = tx
                .query_row("SELECT 1 FROM meta WHERE k=?1", [marker], |r| r.get(0))
                .optional()?;
            if done.is_some() {
                return Ok(0);
            }
            let todo: Vec<ObjectMeta> = {
                let mut st = tx.prepare(concat!(
                    "SELECT ",
                    obj_cols!(),
                    " FROM objects o WHERE o.mac IS NULL"
                ))?;
                st.query_map([], row_meta)?
                    .collect::<rusqlite::Result<_>>()?
            };
            let maced: i64 = tx.query_row(
                "SELECT count(*) FROM objects WHERE mac IS NOT NULL",
                [],
                |r| r.get(0),
            )?;
            if maced > 0 {
                return Err(half_maced(marker));
            }
            {
                let mut up = tx.prepare("UPDATE objects SET mac=?2 WHERE uid=?1")?;
                for m in &todo {
                    up.execute(params![m.uid, &mac(m)[..]])?;
                }
            }
            tx.execute(
                "INSERT OR IGNORE INTO meta (k, v) VALUES (?1, x'31')",
                [marker],
            )?;
            if !todo.is_empty() {
                let mut note = note.clone();
                note.detail = format!("{} ({} objects)", note.detail, todo.len());
                append_audit(&tx, std::slice::from_ref(&note), signer)?;
            }
            tx.commit()?;
            Ok(todo.len() as u64)
        })();
        self.release(c);
        r.map_err(|e| match e {
            StoreError::Sqlite(e) => self.corrupt(e),
            e => e,
        })
    }

    fn replace_all(&self, dump: &Dump) -> Result<()> {
        let mut c = self.take()?;
        let r = (|| -> Result<()> {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch("DELETE FROM attr_index; DELETE FROM names; DELETE FROM versions; DELETE FROM objects; DELETE FROM audit; DELETE FROM meta;")?;
            for (k, v) in &dump.meta {
                tx.execute("INSERT INTO meta (k, v) VALUES (?1, ?2)", params![k, v])?;
            }
            for o in &dump.objects {
                put_object(&tx, o, Precondition::Absent)?;
            }
            for v in &dump.versions {
                tx.prepare_cached("INSERT INTO versions (uid, version, created, created_by, sealed) VALUES (?1, ?2, ?3, ?4, ?5)")?
                    .execute(params![v.uid, v.version, v.created, v.created_by, v.sealed])?;
            }
            for e in &dump.audit {
                tx.prepare_cached("INSERT INTO audit (seq, ts, actor, action, uid, detail, prev, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?
                    .execute(params![e.seq as i64, e.ts, e.actor, e.action, e.uid, e.detail, e.prev, e.mac])?;
            }
            tx.commit()?;
            Ok(())
        })();
        self.release(c);
        r.map_err(|e| match e {
            StoreError::Sqlite(e) => self.corrupt(e),
            e => e,
        })
    }
}
