//! The read-ahead of a backend's `get` (see `tresor_store`'s `prefetch` module), attacked
//! the same way on each backend that has one (SQLite, PostgreSQL).

use std::sync::Arc;

use tresor_store::Backend;

/// `get` reads the current version along with the object for the `version` call that follows
/// (one statement per KMIP Get instead of two). That read-ahead answers only the very next
/// call of the same backend on the same thread, for that object and version: another call
/// first, another thread or another backend reads the table again, and sees a change made
/// meanwhile. `a` and `b` are two backends on one database.
pub fn prefetched_version_never_outlives_its_read(a: Arc<dyn Backend>, b: Arc<dyn Backend>) {
    let kek = Arc::new(tresor_crypto::LocalKek::generate().unwrap());
    let sa = tresor_store::Store::open(a.clone(), kek.clone(), "a").unwrap();
    let sb = tresor_store::Store::open(b.clone(), kek.clone(), "b").unwrap();
    let mut n = tresor_store::NewObject::new(tresor_store::ObjectType::SecretData);
    n.names.push("k".into());
    n.material = Some(b"first".to_vec());
    let uid = sa.create(n).unwrap().uid;
    // Another server's writes, from another thread (a call of any backend on this thread
    // would itself make this thread forget its read-ahead).
    let destroy = |s: &tresor_store::Store| {
        std::thread::scope(|t| {
            t.spawn(|| s.write(|t| t.destroy_material(&uid, None)).unwrap());
        })
    };
    let restore = |s: &tresor_store::Store| {
        std::thread::scope(|t| {
            t.spawn(|| {
                s.write(|t| t.put_material(&uid, b"again").map(|_| ()))
                    .unwrap()
            });
        })
    };

    // Right after get: the version from the same read (one snapshot), even if another server
    // destroyed the material in between.
    let m = a.get(&uid).unwrap().unwrap();
    destroy(&sb);
    let v = a.version(&uid, m.current_version).unwrap().unwrap();
    assert!(v.sealed.is_some(), "the read-ahead is the get's snapshot");
    // Asked again (the read-ahead is used once): the table, now destroyed.
    let v = a.version(&uid, m.current_version).unwrap().unwrap();
    assert!(v.sealed.is_none(), "a second version call reads the table");

    // Another call in between forgets it.
    restore(&sb);
    let m = a.get(&uid).unwrap().unwrap();
    destroy(&sb);
    a.count().unwrap();
    let v = a.version(&uid, m.current_version).unwrap().unwrap();
    assert!(
        v.sealed.is_none(),
        "another call came first: read the table"
    );

    // Another backend, or another thread, never sees this backend's read-ahead.
    restore(&sb);
    let m = a.get(&uid).unwrap().unwrap();
    destroy(&sb);
    let v = b.version(&uid, m.current_version).unwrap().unwrap();
    assert!(v.sealed.is_none(), "another backend reads the table");
    restore(&sb);
    let m = a.get(&uid).unwrap().unwrap();
    destroy(&sb);
    let a2 = a.clone();
    let (u2, cv) = (uid.clone(), m.current_version);
    let v = std::thread::spawn(move || a2.version(&u2, cv).unwrap().unwrap())
        .join()
        .unwrap();
    assert!(v.sealed.is_none(), "another thread reads the table");
    // Another object or version: the table.
    restore(&sb);
    let m = a.get(&uid).unwrap().unwrap();
    let v = a.version(&uid, 1).unwrap().unwrap();
    assert_eq!(v.version, 1);
    assert_ne!(m.current_version, 1);
    assert!(
        v.sealed.is_none(),
        "version 1 was destroyed: read from the table"
    );

    // The material still opens through the store (the hot path of a KMIP Get).
    let m = sa.get(&uid).unwrap().unwrap();
    assert_eq!(sa.material(&m, 0).unwrap().expose(), b"again");
}
