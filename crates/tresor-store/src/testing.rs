//! The backend conformance suite: every [`Backend`] must pass [`conformance`] unchanged.
//!
//! `make` must return a fresh, empty backend each call.

use std::sync::Arc;

use tresor_crypto::LocalKek;

use crate::{Backend, NewObject, ObjectType, Store};

mod concurrency;
mod integrity;
mod locate;
mod many;
mod objects;
mod pre_mac;

pub use pre_mac::write_pre_mac_secrets;

use concurrency::{concurrent_creates, concurrent_increments, optimistic_conflict};
use integrity::{audit_chain, audit_key_created_once, swapped_material_refused, wrong_key_refused};
use locate::{locate_by_index, locate_unindexed};
use many::many_by_name;
use objects::{
    create_read, delete_and_destroy, names_unique, names_within_one_transaction, versions_history,
};

fn store(b: Arc<dyn Backend>, kek: &Arc<LocalKek>) -> Store {
    Store::open(b, kek.clone(), "tester").expect("open store")
}

fn secret(name: &str, value: &str, attrs: &[(&str, &str)]) -> NewObject {
    let mut n = NewObject::new(ObjectType::SecretData);
    n.names.push(name.into());
    n.material = Some(value.as_bytes().to_vec());
    for (k, v) in attrs {
        n.attributes
            .insert((*k).into(), serde_json::Value::String((*v).into()));
    }
    n
}

/// Runs every conformance case against backends made by `make`.
pub fn conformance(make: &dyn Fn() -> Arc<dyn Backend>) {
    create_read(make());
    names_unique(make());
    names_within_one_transaction(make());
    versions_history(make());
    optimistic_conflict(make());
    locate_by_index(make());
    locate_unindexed(make());
    delete_and_destroy(make());
    audit_chain(make());
    wrong_key_refused(make());
    audit_key_created_once(make());
    swapped_material_refused(make());
    concurrent_creates(make());
    concurrent_increments(make());
    many_by_name(make());
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_conformance() {
        let dir = tempfile::tempdir().unwrap();
        let n = std::sync::atomic::AtomicUsize::new(0);
        super::conformance(&|| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::sync::Arc::new(
                crate::SqliteBackend::open(&dir.path().join(format!("c{i}.db"))).unwrap(),
            )
        });
    }
}
