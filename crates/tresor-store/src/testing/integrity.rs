//! Conformance: the audit chain, the store's key (a wrong one refused, the audit key
//! created once) and sealed material bound to its object and version.

use std::sync::Arc;

use tresor_crypto::LocalKek;

use crate::{Backend, Store, StoreError};

use super::{secret, store};

pub(super) fn audit_chain(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b, &kek);
    let m = s.create(secret("au", "x", &[])).unwrap();
    s.write(|tx| tx.put_material(&m.uid, b"y")).unwrap();
    s.write(|tx| tx.delete(&m.uid)).unwrap();
    let entries = s.audit(0, 100).unwrap();
    let actions: Vec<_> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["create", "new-version", "delete"]);
    assert!(entries.iter().all(|e| e.actor == "tester"));
    assert_eq!(
        s.verify_audit().unwrap(),
        crate::AuditReport {
            entries: 3,
            ..crate::AuditReport::default()
        }
    );
    // A store opened with another key cannot check, extend or verify the chain (its audit key
    // does not open).
    let other = Store::open(
        s.backend().clone(),
        Arc::new(LocalKek::generate().unwrap()),
        "x",
    )
    .unwrap();
    assert!(matches!(other.check_key(), Err(StoreError::Crypto(_))));
    assert!(matches!(other.verify_audit(), Err(StoreError::Crypto(_))));
}

pub(super) fn wrong_key_refused(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b.clone(), &kek);
    let m = s.create(secret("k", "x", &[])).unwrap();
    let before = b.dump().unwrap();
    // Opening reads nothing; the wrong key shows at the first read of material or write.
    let wrong = Store::open(b.clone(), Arc::new(LocalKek::generate().unwrap()), "t").unwrap();
    assert!(matches!(
        wrong.read_by_name("k"),
        Err(StoreError::Crypto(_))
    ));
    assert!(matches!(wrong.material(&m, 0), Err(StoreError::Crypto(_))));
    assert!(matches!(
        wrong.write(|tx| tx.put_material(&m.uid, b"y")),
        Err(StoreError::Crypto(_))
    ));
    assert!(matches!(
        wrong.create(secret("k2", "z", &[])),
        Err(StoreError::Crypto(_))
    ));
    assert!(matches!(wrong.check_key(), Err(StoreError::Crypto(_))));
    assert!(matches!(wrong.dump(), Err(StoreError::Crypto(_))));
    assert_eq!(before, b.dump().unwrap(), "a wrong key changed the store");
    // The right key still reads and writes.
    assert_eq!(s.read_by_name("k").unwrap().unwrap().1.expose(), b"x");
    s.write(|tx| tx.put_material(&m.uid, b"y")).unwrap();
    assert_eq!(s.verify_audit().unwrap().first_bad, None);
}

/// A new store gets its audit key on its first write, exactly once, even when several stores
/// on the same backend race to write first; opening and reading create nothing.
pub(super) fn audit_key_created_once(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b.clone(), &kek);
    assert_eq!(s.read_by_name("nothing").unwrap(), None);
    assert!(
        b.meta_get("audit-key").unwrap().is_none(),
        "a read created the audit key"
    );
    let stores: Vec<Store> = (0..4).map(|_| store(b.clone(), &kek)).collect();
    std::thread::scope(|sc| {
        for (i, s) in stores.iter().enumerate() {
            sc.spawn(move || s.create(secret(&format!("first{i}"), "x", &[])).unwrap());
        }
    });
    let key = b
        .meta_get("audit-key")
        .unwrap()
        .expect("the first write made the audit key");
    assert_eq!(s.verify_audit().unwrap().entries, 4);
    assert_eq!(s.verify_audit().unwrap().first_bad, None);
    assert_eq!(Some(key), b.meta_get("audit-key").unwrap());
}

pub(super) fn swapped_material_refused(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b.clone(), &kek);
    let a = s.create(secret("sa", "aaa", &[])).unwrap();
    let bm = s.create(secret("sb", "bbb", &[])).unwrap();
    // Copy a's sealed version 1 into b as version 2: associated data must refuse it.
    let mut v = b.version(&a.uid, 1).unwrap().unwrap();
    v.uid = bm.uid.clone();
    v.version = 2;
    let mut meta = bm.clone();
    meta.current_version = 2;
    meta.rev = bm.rev + 1;
    // A valid metadata MAC, so this tests the material's associated data alone.
    meta.mac = Some(s.meta_key().unwrap().compute(&meta));
    let batch = crate::Batch {
        writes: vec![
            crate::Write::PutObject {
                meta,
                expect: crate::Precondition::Rev(bm.rev),
            },
            crate::Write::PutVersion(v),
        ],
        audit: vec![],
    };
    b.commit(
        &batch,
        &crate::AuditSigner::new(tresor_crypto::Secret::new(vec![0; 32])),
    )
    .unwrap();
    assert!(matches!(s.read_by_name("sb"), Err(StoreError::Crypto(_))));
}
