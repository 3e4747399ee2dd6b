//! A `get` row of PostgreSQL read with its current version, kept for the `version` call
//! that usually follows (see [`crate::prefetch`]).

use postgres::Row;

use super::PostgresBackend;
use super::sql::{row_meta, row_version};
use crate::Result;
use crate::model::ObjectMeta;

impl PostgresBackend {
    /// The object of a `get` row, keeping its current version (columns 10..) for `version`.
    pub(super) fn prefetch(&self, r: &Row) -> Result<ObjectMeta> {
        let m = row_meta(r)?;
        crate::prefetch::keep(
            self.id,
            &m.uid,
            m.current_version,
            row_version(&m.uid, r, 11),
        );
        Ok(m)
    }
}
