//! Conformance: objects created, read, named, versioned, deleted and destroyed.

use std::sync::Arc;

use tresor_crypto::LocalKek;

use crate::{AttrCond, Backend, Query, StoreError};

use super::{secret, store};

pub(super) fn create_read(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b, &kek);
    let m = s.create(secret("a:dev:X", "v1", &[])).unwrap();
    assert_eq!(m.current_version, 1);
    assert_eq!(m.owner, "tester");
    assert_eq!(
        s.get(&m.uid).unwrap().unwrap().names,
        vec!["a:dev:X".to_string()]
    );
    assert_eq!(s.get_by_name("a:dev:X").unwrap().unwrap().uid, m.uid);
    let (_, v) = s.read_by_name("a:dev:X").unwrap().unwrap();
    assert_eq!(v.expose(), b"v1");
    assert!(s.read_by_name("nope").unwrap().is_none());
    assert_eq!(s.count().unwrap(), 1);
}

pub(super) fn names_unique(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b, &kek);
    s.create(secret("n", "1", &[])).unwrap();
    assert!(matches!(s.create(secret("n", "2", &[])), Err(StoreError::NameTaken(n)) if n == "n"));
    assert_eq!(s.read_by_name("n").unwrap().unwrap().1.expose(), b"1");
}

/// Names moved, freed and reused inside one transaction resolve to the right object (the
/// transaction keeps a name → uid hint map; a stale hint must not hide or invent a name).
pub(super) fn names_within_one_transaction(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b, &kek);
    let old = s.create(secret("kept", "0", &[])).unwrap();
    let (a, bb, c) = s
        .write(|tx| {
            let a = tx.create(secret("n1", "a", &[]))?;
            tx.update(&a, "rename", |m| {
                m.names = vec!["n2".into()];
                Ok(())
            })?;
            let bb = tx.create(secret("n1", "b", &[]))?;
            assert_eq!(tx.get_by_name("n1")?.map(|m| m.uid), Some(bb.clone()));
            assert_eq!(tx.get_by_name("n2")?.map(|m| m.uid), Some(a.clone()));
            assert!(matches!(
                tx.create(secret("n2", "x", &[])),
                Err(StoreError::NameTaken(_))
            ));
            assert!(matches!(
                tx.create(secret("kept", "x", &[])),
                Err(StoreError::NameTaken(_))
            ));
            tx.delete(&bb)?;
            assert!(tx.get_by_name("n1")?.is_none());
            let c = tx.create(secret("n1", "c", &[]))?;
            // Moving a committed object's name away frees it within the transaction.
            tx.update(&old.uid, "rename", |m| {
                m.names = vec!["moved".into()];
                Ok(())
            })?;
            assert!(tx.get_by_name("kept")?.is_none());
            assert_eq!(
                tx.get_by_name("moved")?.map(|m| m.uid),
                Some(old.uid.clone())
            );
            Ok((a, bb, c))
        })
        .unwrap();
    assert_eq!(s.get_by_name("n1").unwrap().unwrap().uid, c);
    assert_eq!(s.get_by_name("n2").unwrap().unwrap().uid, a);
    assert!(s.get(&bb).unwrap().is_none());
    assert!(s.get_by_name("kept").unwrap().is_none());
    assert_eq!(s.read_by_name("n1").unwrap().unwrap().1.expose(), b"c");
}

pub(super) fn versions_history(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b, &kek);
    let m = s.create(secret("h", "v1", &[])).unwrap();
    for i in 2..=4 {
        let v = s
            .write(|tx| tx.put_material(&m.uid, format!("v{i}").as_bytes()))
            .unwrap();
        assert_eq!(v, i);
    }
    let meta = s.get(&m.uid).unwrap().unwrap();
    assert_eq!(meta.current_version, 4);
    assert_eq!(s.versions(&m.uid).unwrap().len(), 4);
    for i in 1..=4u32 {
        assert_eq!(
            s.material(&meta, i).unwrap().expose(),
            format!("v{i}").as_bytes()
        );
    }
    assert_eq!(s.read_by_name("h").unwrap().unwrap().1.expose(), b"v4");
    assert!(matches!(
        s.material(&meta, 9),
        Err(StoreError::NoMaterial { version: 9, .. })
    ));
}

pub(super) fn delete_and_destroy(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b, &kek);
    let a = s.create(secret("del", "x", &[("app", "a")])).unwrap();
    s.write(|tx| tx.delete(&a.uid)).unwrap();
    assert!(s.get(&a.uid).unwrap().is_none());
    assert!(s.get_by_name("del").unwrap().is_none());
    assert!(
        s.locate(&Query {
            attrs: vec![AttrCond::Eq("app".into(), "a".into())],
            ..Default::default()
        })
        .unwrap()
        .is_empty()
    );
    // The name is free again.
    s.create(secret("del", "y", &[])).unwrap();
    let d = s.create(secret("destroy", "x", &[])).unwrap();
    s.write(|tx| {
        tx.put_material(&d.uid, b"x2")?;
        tx.destroy_material(&d.uid, Some(2))?;
        Ok(())
    })
    .unwrap();
    let meta = s.get(&d.uid).unwrap().unwrap();
    assert!(matches!(
        s.material(&meta, 1),
        Err(StoreError::NoMaterial { .. })
    ));
    assert_eq!(s.material(&meta, 2).unwrap().expose(), b"x2");
    s.write(|tx| tx.destroy_material(&d.uid, None)).unwrap();
    assert!(s.read_by_name("destroy").is_err());
    assert!(s.versions(&d.uid).unwrap().iter().all(|v| v.destroyed));
}
