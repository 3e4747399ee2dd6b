//! Conformance: concurrent writers (optimistic concurrency, racing creates and
//! read-modify-write increments).

use std::sync::Arc;

use tresor_crypto::LocalKek;

use crate::{Backend, State, StoreError};

use super::{secret, store};

pub(super) fn optimistic_conflict(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b, &kek);
    let m = s.create(secret("c", "v1", &[])).unwrap();
    let mut t1 = s.begin();
    let mut t2 = s.begin();
    t1.update(&m.uid, "t1", |o| {
        o.state = State::Deactivated;
        Ok(())
    })
    .unwrap();
    t2.update(&m.uid, "t2", |o| {
        o.state = State::Compromised;
        Ok(())
    })
    .unwrap();
    t1.commit().unwrap();
    assert!(matches!(t2.commit(), Err(StoreError::Conflict(_))));
    assert_eq!(s.get(&m.uid).unwrap().unwrap().state, State::Deactivated);
    // A failed batch leaves nothing behind: create + name clash in one transaction.
    let before = s.count().unwrap();
    let mut t = s.begin();
    t.create(secret("fresh", "x", &[])).unwrap();
    let r = t.create(secret("c", "dup", &[]));
    assert!(matches!(r, Err(StoreError::NameTaken(_))));
    drop(t);
    assert_eq!(s.count().unwrap(), before);
}

pub(super) fn concurrent_creates(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = Arc::new(store(b, &kek));
    std::thread::scope(|sc| {
        for t in 0..4 {
            let s = s.clone();
            sc.spawn(move || {
                for i in 0..25 {
                    s.create(secret(&format!("t{t}-{i}"), "x", &[])).unwrap();
                }
            });
        }
    });
    assert_eq!(s.count().unwrap(), 100);
    assert_eq!(s.verify_audit().unwrap().first_bad, None);
}

pub(super) fn concurrent_increments(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = Arc::new(store(b, &kek));
    let m = s.create(secret("counter", "0", &[])).unwrap();
    std::thread::scope(|sc| {
        for _ in 0..4 {
            let s = s.clone();
            let uid = m.uid.clone();
            sc.spawn(move || {
                for _ in 0..20 {
                    loop {
                        let r = s.write(|tx| {
                            let n: u64 = tx
                                .material(&uid, 0)?
                                .as_str()
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(0);
                            tx.put_material(&uid, (n + 1).to_string().as_bytes())
                        });
                        match r {
                            Ok(_) => break,
                            Err(StoreError::Conflict(_)) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
    });
    assert_eq!(
        s.read_by_name("counter").unwrap().unwrap().1.expose(),
        b"80"
    );
    assert_eq!(s.versions(&m.uid).unwrap().len(), 81);
}
