//! Where a vault's objects live: the folder's SQLite file, or the store a URL names
//! (`postgres://…`, `s3://…`; parsed and opened by [`tresor_store::store_url`], where the
//! composition root has installed the backends that live in door crates).

use std::path::Path;
use std::sync::Arc;

use tresor_crypto::LocalKek;
use tresor_store::Store;
use tresor_store::store_url::StoreUrl;

use crate::Result;

use super::DB_FILE;

/// Opens the store a vault keeps its objects in: the one `location` names, or the SQLite file
/// `tresor.db` in `dir`. A SQLite store gets the audit head kept beside the key file.
///
/// # Errors
/// [`tresor_store::StoreError::Unsupported`] for an unsupported location, store errors.
pub fn open_store(dir: &Path, location: Option<&str>, kek: LocalKek, actor: &str) -> Result<Store> {
    let url = match location {
        None => StoreUrl::Sqlite(dir.join(DB_FILE)),
        Some(url) => StoreUrl::parse(url)?,
    };
    let store = match &url {
        StoreUrl::Sqlite(path) if location.is_none() => {
            Store::open_sqlite(path, Arc::new(kek), actor)?
        }
        _ => Store::open(url.open()?, Arc::new(kek), actor)?,
    };
    // A SQLite vault keeps its audit head beside its key file, out of reach of whoever
    // rolls the database file back (an older copy put back, the last audit rows deleted).
    let store = if url.is_local() {
        store.with_audit_head(Arc::new(tresor_store::FileHead::new(
            dir.join(tresor_store::HEAD_FILE),
        )))
    } else {
        store
    };
    // `Store::open` no longer reads the audit key, so a key file from another vault would only
    // show at the first value read. Where the check is a local lookup (SQLite, PostgreSQL),
    // make it now, as before; on S3 it would cost a round trip per command, and the first
    // read or write refuses the wrong key anyway.
    if !url.is_s3() {
        store.check_key()?;
    }
    Ok(store)
}
