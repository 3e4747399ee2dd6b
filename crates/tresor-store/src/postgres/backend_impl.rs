//! The store's [`Backend`] trait on [`PostgresBackend`]: reads (with the prefetched current
//! version), `commit` through group commit, the audit log, settings, dump and restore, the
//! MAC backfill.

use super::errors::pg;
use super::sql::{
    OBJ_COLS, SQL_GET, SQL_GET_BY_NAME, SQL_GET_MANY_BY_NAME, SQL_INSERT_AUDIT, SQL_INSERT_VERSION,
    SQL_LOCK, SQL_VERSION, SQL_VERSIONS, audit_row, obj_cols, row_meta, row_version,
};
use super::write::{append_audit, put_object};
use super::{LOCK_WRITE, PostgresBackend};
use crate::Result;
use crate::audit::{AuditEntry, AuditSigner};
use crate::backend::{Backend, Batch, Dump, Precondition};
use crate::model::{ObjectMeta, SealedVersion};
use crate::query::Query;

impl Backend for PostgresBackend {
    fn group_sizes(&self) -> Vec<(usize, u64)> {
        self.group.group_sizes()
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn get(&self, uid: &str) -> Result<Option<ObjectMeta>> {
        // With its current version (columns 11..), kept for the `version` call that usually
        // follows (see `crate::prefetch`).
        let r = self.with(|c| c.query_opt(SQL_GET, &[&uid]))?;
        let found = r.as_ref().map(with_current_version).transpose()?;
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
        let r = self.with(|c| c.query_opt(SQL_GET_BY_NAME, &[&name]))?;
        r.as_ref().map(with_current_version).transpose()
    }

    fn get_many_by_name(
        &self,
        wanted: &[(&str, u32)],
    ) -> Result<Vec<Option<crate::backend::Found>>> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // One statement for every name: two arrays unnested side by side, each row joined
        // to its name and object by primary key and to the version asked for (0: current).
        let names: Vec<&str> = wanted.iter().map(|(n, _)| *n).collect();
        let versions: Vec<i64> = wanted.iter().map(|(_, v)| i64::from(*v)).collect();
        let rows = self.with(|c| c.query(SQL_GET_MANY_BY_NAME, &[&names, &versions]))?;
        let mut out: Vec<Option<crate::backend::Found>> = vec![None; wanted.len()];
        for r in &rows {
            let found = with_current_version(r)?;
            let i: i64 = r.get(15);
            if let Some(slot) = usize::try_from(i - 1).ok().and_then(|i| out.get_mut(i)) {
                *slot = Some(found);
            }
        }
        Ok(out)
    }

    fn version(&self, uid: &str, version: u32) -> Result<Option<SealedVersion>> {
        if let Some(row) = crate::prefetch::take(self.id, uid, version) {
            return Ok(row);
        }
        let r = self.with(|c| c.query_opt(SQL_VERSION, &[&uid, &(version as i64)]))?;
        Ok(r.and_then(|r| row_version(uid, &r, 0)))
    }

    fn versions(&self, uid: &str) -> Result<Vec<SealedVersion>> {
        let rows = self.with(|c| c.query(SQL_VERSIONS, &[&uid]))?;
        Ok(rows.iter().filter_map(|r| row_version(uid, r, 0)).collect())
    }

    fn locate(&self, q: &Query) -> Result<Vec<ObjectMeta>> {
        let dialect = crate::query::Dialect {
            placeholder: |n| format!("${n}"),
            collate: " COLLATE \"C\"",
        };
        let (sql, args) = q.to_sql(OBJ_COLS, &dialect);
        // PostgreSQL has no LIMIT -1: "LIMIT ALL" means the same.
        // Same order as SQLite: objects without a name first.
        let sql = sql.replace(" LIMIT -1", " LIMIT ALL").replace(
            " ORDER BY o.name COLLATE \"C\",",
            " ORDER BY o.name COLLATE \"C\" NULLS FIRST,",
        );
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> = args
            .iter()
            .map(|a| a as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let rows = self.with(|c| c.query(&sql, &params))?;
        rows.iter().map(row_meta).collect()
    }

    fn commit(&self, batch: &Batch, signer: &AuditSigner) -> Result<()> {
        // Group commit may run this batch on another writer's thread: forget here, on the
        // caller's, what its last read kept (the batch may destroy that very material).
        crate::prefetch::forget();
        self.group
            .commit(batch, signer, |group| self.apply_group(group))
    }

    fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows = self.with(|c| {
            c.query(
                "SELECT seq, ts, actor, action, uid, detail, prev, mac FROM audit WHERE seq>$1 ORDER BY seq LIMIT $2",
                &[&(after as i64), &limit],
            )
        })?;
        Ok(rows.iter().map(audit_row).collect())
    }

    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let r = self.with(|c| c.query_opt("SELECT v FROM meta WHERE k=$1", &[&key]))?;
        Ok(r.map(|r| r.get(0)))
    }

    fn meta_init(&self, key: &str, value: &[u8]) -> Result<Vec<u8>> {
        let r = self.with(|c| {
            c.execute(
                "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING",
                &[&key, &value],
            )?;
            c.query_one("SELECT v FROM meta WHERE k=$1", &[&key])
        })?;
        Ok(r.get(0))
    }

    fn count(&self) -> Result<u64> {
        let r = self.with(|c| c.query_one("SELECT count(*) FROM objects", &[]))?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    fn dump(&self) -> Result<Dump> {
        self.with_tx(|c, _| {
            let mut tx = c.snapshot().map_err(pg)?;
            let meta = tx
                .query("SELECT k, v FROM meta ORDER BY k", &[])
                .map_err(pg)?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let objects = tx
                .query(
                    concat!("SELECT ", obj_cols!(), " FROM objects o ORDER BY o.uid"),
                    &[],
                )
                .map_err(pg)?
                .iter()
                .map(row_meta)
                .collect::<Result<_>>()?;
            let versions = tx
                .query("SELECT uid, version, created, created_by, sealed FROM versions ORDER BY uid, version", &[])
                .map_err(pg)?
                .iter()
                .map(|r| SealedVersion { uid: r.get(0), version: r.get::<_, i64>(1) as u32, created: r.get(2), created_by: r.get(3), sealed: r.get(4) })
                .collect();
            let audit = tx
                .query(
                    "SELECT seq, ts, actor, action, uid, detail, prev, mac FROM audit ORDER BY seq",
                    &[],
                )
                .map_err(pg)?
                .iter()
                .map(audit_row)
                .collect();
            tx.commit().map_err(pg)?;
            Ok(Dump {
                meta,
                objects,
                versions,
                audit,
            })
        })
    }

    fn backfill_macs(
        &self,
        mac: &dyn Fn(&ObjectMeta) -> [u8; 32],
        marker: &str,
        note: &crate::AuditDraft,
        signer: &AuditSigner,
    ) -> Result<u64> {
        self.with_tx(|c, sent| {
            let mut tx = c.transaction().map_err(pg)?;
            tx.execute(SQL_LOCK, &[&LOCK_WRITE]).map_err(pg)?;
            // Another server may have brought it forward since the caller looked.
            if tx
                .query_opt("SELECT 1 FROM meta WHERE k=$1", &[&marker])
                .map_err(pg)?
                .is_some()
            {
                return Ok(0);
            }
            let todo = tx
                .query(
                    concat!(
                        "SELECT ",
                        obj_cols!(),
                        " FROM objects o WHERE o.mac IS NULL"
                    ),
                    &[],
                )
                .map_err(pg)?
                .iter()
                .map(row_meta)
                .collect::<Result<Vec<_>>>()?;
            let maced: i64 = tx
                .query_opt("SELECT count(*) FROM objects WHERE mac IS NOT NULL", &[])
                .map_err(pg)?
                .map(|r| r.get(0))
                .unwrap_or(0);
            if maced > 0 {
                return Err(crate::sqlite::half_maced(marker));
            }
            for m in &todo {
                tx.execute(
                    "UPDATE objects SET mac=$2 WHERE uid=$1",
                    &[&m.uid, &&mac(m)[..]],
                )
                .map_err(pg)?;
            }
            tx.execute(
                "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING",
                &[&marker, &&b"1"[..]],
            )
            .map_err(pg)?;
            if !todo.is_empty() {
                let mut note = note.clone();
                note.detail = format!("{} ({} objects)", note.detail, todo.len());
                append_audit(&mut tx, std::slice::from_ref(&note), signer)?;
            }
            *sent = true;
            tx.commit().map_err(pg)?;
            Ok(todo.len() as u64)
        })
    }

    fn replace_all(&self, dump: &Dump) -> Result<()> {
        self.with_tx(|c, sent| {
            let mut tx = c.transaction().map_err(pg)?;
            tx.execute(SQL_LOCK, &[&LOCK_WRITE]).map_err(pg)?;
            tx.batch_execute("DELETE FROM attr_index; DELETE FROM names; DELETE FROM versions; DELETE FROM objects; DELETE FROM audit; DELETE FROM meta;")
                .map_err(pg)?;
            for (k, v) in &dump.meta {
                tx.execute("INSERT INTO meta (k, v) VALUES ($1, $2)", &[k, v])
                    .map_err(pg)?;
            }
            for o in &dump.objects {
                put_object(&mut tx, o, Precondition::Absent)?;
            }
            for v in &dump.versions {
                tx.execute(
                    SQL_INSERT_VERSION,
                    &[&v.uid, &(v.version as i64), &v.created, &v.created_by, &v.sealed],
                )
                .map_err(pg)?;
            }
            for e in &dump.audit {
                tx.execute(
                    SQL_INSERT_AUDIT,
                    &[&(e.seq as i64), &e.ts, &e.actor, &e.action, &e.uid, &e.detail, &e.prev, &e.mac],
                )
                .map_err(pg)?;
            }
            *sent = true;
            tx.commit().map_err(pg)
        })
    }
}

/// An object row (columns 0..11) with the version read along with it (11..), as `SQL_GET`,
/// `SQL_GET_BY_NAME` and `SQL_GET_MANY_BY_NAME` give them.
fn with_current_version(r: &postgres::Row) -> Result<(ObjectMeta, Option<SealedVersion>)> {
    let m = row_meta(r)?;
    let v = row_version(&m.uid, r, 11);
    Ok((m, v))
}
