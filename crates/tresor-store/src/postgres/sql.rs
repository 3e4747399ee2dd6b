//! SQL text the backend sends often (object and version columns, reads by uid and name, the
//! writers' lock, inserts), and how a row reads back as an object, a version, an audit entry.

use postgres::Row;

use crate::audit::AuditEntry;
use crate::model::{ObjectMeta, SealedVersion};
use crate::{Result, StoreError};

/// The object columns every object query selects, in [`row_meta`]'s order.
macro_rules! obj_cols {
    () => {
        "o.uid, o.object_type, o.state, o.owner, o.names, o.attrs, o.current_version, o.created, o.updated, o.rev, o.mac"
    };
}
pub(super) use obj_cols;
pub(super) const OBJ_COLS: &str = obj_cols!();
/// The version columns [`row_version`] reads.
macro_rules! version_cols {
    () => {
        "v.version, v.created, v.created_by, v.sealed"
    };
}

// `get` and `get_by_name` bring the current version along (see [`Prefetched`]).
pub(super) const SQL_GET: &str = concat!(
    "SELECT ",
    obj_cols!(),
    ", ",
    version_cols!(),
    " FROM objects o LEFT JOIN versions v ON v.uid=o.uid AND v.version=o.current_version WHERE o.uid=$1"
);
pub(super) const SQL_GET_BY_NAME: &str = concat!(
    "SELECT ",
    obj_cols!(),
    ", ",
    version_cols!(),
    " FROM names n JOIN objects o ON o.uid=n.uid \
     LEFT JOIN versions v ON v.uid=o.uid AND v.version=o.current_version WHERE n.name=$1"
);
pub(super) const SQL_GET_MANY_BY_NAME: &str = concat!(
    "SELECT ",
    obj_cols!(),
    ", ",
    version_cols!(),
    ", w.i FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS w(name, ver, i) \
     JOIN names n ON n.name=w.name JOIN objects o ON o.uid=n.uid \
     LEFT JOIN versions v ON v.uid=o.uid AND v.version=\
     (CASE WHEN w.ver=0 THEN o.current_version ELSE w.ver END)"
);
pub(super) const SQL_VERSION: &str = concat!(
    "SELECT ",
    version_cols!(),
    " FROM versions v WHERE v.uid=$1 AND v.version=$2"
);
pub(super) const SQL_VERSIONS: &str = concat!(
    "SELECT ",
    version_cols!(),
    " FROM versions v WHERE v.uid=$1 ORDER BY v.version"
);
pub(super) const SQL_LOCK: &str = "SELECT pg_advisory_xact_lock($1)";
pub(super) const SQL_INSERT_VERSION: &str =
    "INSERT INTO versions (uid, version, created, created_by, sealed) VALUES ($1, $2, $3, $4, $5)";
pub(super) const SQL_INSERT_AUDIT: &str = "INSERT INTO audit (seq, ts, actor, action, uid, detail, prev, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

pub(super) fn row_meta(r: &Row) -> Result<ObjectMeta> {
    let t: String = r.get(1);
    let s: String = r.get(2);
    let names: String = r.get(4);
    let attrs: String = r.get(5);
    Ok(ObjectMeta {
        uid: r.get(0),
        object_type: t.parse().map_err(StoreError::Decode)?,
        state: s.parse().map_err(StoreError::Decode)?,
        owner: r.get(3),
        names: serde_json::from_str(&names).map_err(|e| StoreError::Decode(e.to_string()))?,
        attributes: serde_json::from_str(&attrs).map_err(|e| StoreError::Decode(e.to_string()))?,
        current_version: r.get::<_, i64>(6) as u32,
        created: r.get(7),
        updated: r.get(8),
        rev: r.get::<_, i64>(9) as u64,
        // NULL or not 32 bytes: no MAC (the read is refused as tampered).
        mac: r
            .get::<_, Option<&[u8]>>(10)
            .and_then(|b| <[u8; 32]>::try_from(b).ok()),
    })
}

pub(super) fn row_version(uid: &str, r: &Row, at: usize) -> Option<SealedVersion> {
    let version: Option<i64> = r.get(at);
    version.map(|v| SealedVersion {
        uid: uid.to_owned(),
        version: v as u32,
        created: r.get(at + 1),
        created_by: r.get(at + 2),
        sealed: r.get(at + 3),
    })
}

pub(super) fn audit_row(r: &Row) -> AuditEntry {
    AuditEntry {
        seq: r.get::<_, i64>(0) as u64,
        ts: r.get(1),
        actor: r.get(2),
        action: r.get(3),
        uid: r.get(4),
        detail: r.get(5),
        prev: r.get(6),
        mac: r.get(7),
    }
}
