//! Reading SQLite rows: the object columns every object query selects, and an object or a
//! version decoded from a row.

use crate::model::{ObjectMeta, SealedVersion};

/// The object columns every object query selects, as a macro so hot statements are
/// `concat!`ed at compile time (no `format!` per call).
macro_rules! obj_cols {
    () => {
        "o.uid, o.object_type, o.state, o.owner, o.names, o.attrs, o.current_version, o.created, o.updated, o.rev, o.mac"
    };
}
pub(super) const OBJ_COLS: &str = obj_cols!();

pub(super) use obj_cols;

pub(super) fn row_meta(r: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectMeta> {
    let bad = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    // Borrowed text: no String per column on the hot read path.
    let text = |i: usize| -> rusqlite::Result<&str> {
        r.get_ref(i)?.as_str().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    };
    Ok(ObjectMeta {
        uid: r.get(0)?,
        object_type: text(1)?.parse().map_err(|e| bad(1, e))?,
        state: text(2)?.parse().map_err(|e| bad(2, e))?,
        owner: r.get(3)?,
        names: serde_json::from_str(text(4)?).map_err(|e| bad(4, e.to_string()))?,
        attributes: serde_json::from_str(text(5)?).map_err(|e| bad(5, e.to_string()))?,
        current_version: r.get(6)?,
        created: r.get(7)?,
        updated: r.get(8)?,
        rev: r.get::<_, i64>(9)? as u64,
        mac: mac_of(r.get_ref(10)?),
    })
}

/// The MAC column: `None` when NULL or not 32 bytes (both read as "no MAC", i.e. tampered).
fn mac_of(v: rusqlite::types::ValueRef<'_>) -> Option<[u8; 32]> {
    match v {
        rusqlite::types::ValueRef::Blob(b) => b.try_into().ok(),
        _ => None,
    }
}

/// An object row (columns 0..11, [`OBJ_COLS`]) with a version read along with it (11..).
pub(super) fn with_version(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(ObjectMeta, Option<SealedVersion>)> {
    let m = row_meta(r)?;
    let v = row_version(&m.uid, r, 11)?;
    Ok((m, v))
}

pub(super) fn row_version(
    uid: &str,
    r: &rusqlite::Row<'_>,
    at: usize,
) -> rusqlite::Result<Option<SealedVersion>> {
    let version: Option<u32> = r.get(at)?;
    Ok(match version {
        None => None,
        Some(version) => Some(SealedVersion {
            uid: uid.to_owned(),
            version,
            created: r.get(at + 1)?,
            created_by: r.get(at + 2)?,
            sealed: r.get(at + 3)?,
        }),
    })
}
