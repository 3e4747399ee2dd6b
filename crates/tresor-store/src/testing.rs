//! The backend conformance suite: every [`Backend`] must pass [`conformance`] unchanged.
//!
//! `make` must return a fresh, empty backend each call.

use std::sync::Arc;

use tresor_crypto::LocalKek;

use crate::{AttrCond, Backend, NewObject, ObjectType, Query, State, Store, StoreError};

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

/// A backend counting the calls that read objects or versions (a real backend inside).
struct Counting {
    inner: Arc<dyn Backend>,
    reads: std::sync::atomic::AtomicU64,
}

impl Counting {
    fn count(&self) {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn reads(&self) -> u64 {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Backend for Counting {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn get(&self, uid: &str) -> crate::Result<Option<crate::ObjectMeta>> {
        self.count();
        self.inner.get(uid)
    }
    fn get_by_name(&self, name: &str) -> crate::Result<Option<crate::ObjectMeta>> {
        self.count();
        self.inner.get_by_name(name)
    }
    fn get_current_by_name(&self, name: &str) -> crate::Result<Option<crate::Found>> {
        self.count();
        self.inner.get_current_by_name(name)
    }
    fn get_many_by_name(&self, wanted: &[(&str, u32)]) -> crate::Result<Vec<Option<crate::Found>>> {
        self.count();
        self.inner.get_many_by_name(wanted)
    }
    fn version(&self, uid: &str, version: u32) -> crate::Result<Option<crate::SealedVersion>> {
        self.count();
        self.inner.version(uid, version)
    }
    fn versions(&self, uid: &str) -> crate::Result<Vec<crate::SealedVersion>> {
        self.count();
        self.inner.versions(uid)
    }
    fn locate(&self, q: &Query) -> crate::Result<Vec<crate::ObjectMeta>> {
        self.count();
        self.inner.locate(q)
    }
    fn commit(
        &self,
        batch: &crate::Batch,
        signer: &crate::audit::AuditSigner,
    ) -> crate::Result<()> {
        self.inner.commit(batch, signer)
    }
    fn audit(&self, after: u64, limit: usize) -> crate::Result<Vec<crate::AuditEntry>> {
        self.inner.audit(after, limit)
    }
    fn meta_get(&self, key: &str) -> crate::Result<Option<Vec<u8>>> {
        self.inner.meta_get(key)
    }
    fn meta_init(&self, key: &str, value: &[u8]) -> crate::Result<Vec<u8>> {
        self.inner.meta_init(key, value)
    }
    fn count(&self) -> crate::Result<u64> {
        self.inner.count()
    }
    fn dump(&self) -> crate::Result<crate::Dump> {
        self.inner.dump()
    }
    fn replace_all(&self, dump: &crate::Dump) -> crate::Result<()> {
        self.inner.replace_all(dump)
    }
    fn backfill_macs(
        &self,
        mac: &dyn Fn(&crate::ObjectMeta) -> [u8; 32],
        marker: &str,
        note: &crate::audit::AuditDraft,
        signer: &crate::audit::AuditSigner,
    ) -> crate::Result<u64> {
        self.inner.backfill_macs(mac, marker, note, signer)
    }
}

/// `get_many_by_name` answers names, versions (0: current), misses and destroyed material
/// in order; on SQLite and PostgreSQL with one backend read for 1,000 names, through the
/// store and through a transaction (which sees its own writes first).
fn many_by_name(b: Arc<dyn Backend>) {
    let sql = matches!(b.kind(), "sqlite" | "postgres");
    let n: usize = if sql { 1000 } else { 20 };
    let counting = Arc::new(Counting {
        inner: b,
        reads: std::sync::atomic::AtomicU64::new(0),
    });
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(counting.clone(), &kek);
    s.write(|tx| {
        for i in 0..n {
            tx.create(secret(&format!("m:dev:K{i:04}"), &format!("v-{i}"), &[]))?;
        }
        Ok(())
    })
    .unwrap();
    let two = s.get_by_name("m:dev:K0001").unwrap().unwrap();
    s.write(|tx| tx.put_material(&two.uid, b"v-1-second"))
        .unwrap();
    let names: Vec<String> = (0..n).map(|i| format!("m:dev:K{i:04}")).collect();
    let mut wanted: Vec<(&str, u32)> = names.iter().map(|n| (n.as_str(), 0)).collect();
    wanted.push(("m:dev:K0001", 1));
    wanted.push(("m:dev:K0001", 3));
    wanted.push(("m:dev:MISSING", 0));
    wanted.push(("m:dev:K0002", 1));
    wanted.push(("m:dev:K0000", 0));
    let before = counting.reads();
    let got = s.read_many_by_name(&wanted).unwrap();
    let reads = counting.reads() - before;
    if sql {
        assert_eq!(reads, 1, "{n} names took {reads} backend reads");
    }
    let value = |i: usize| {
        got[i]
            .as_ref()
            .and_then(|(_, v)| v.as_ref())
            .map(|v| String::from_utf8(v.expose().to_vec()).unwrap())
    };
    assert_eq!(value(0).as_deref(), Some("v-0"));
    assert_eq!(value(1).as_deref(), Some("v-1-second"));
    assert_eq!(value(n - 1), Some(format!("v-{}", n - 1)));
    assert_eq!(value(n).as_deref(), Some("v-1"));
    assert!(
        got[n + 1]
            .as_ref()
            .is_some_and(|(m, v)| m.uid == two.uid && v.is_none())
    );
    assert!(got[n + 2].is_none());
    assert_eq!(value(n + 3).as_deref(), Some("v-2"));
    assert_eq!(value(n + 4).as_deref(), Some("v-0"));
    // A transaction: its own writes first, the rest in one read.
    let mut tx = s.begin();
    tx.put_material(&two.uid, b"v-1-third").unwrap();
    let before = counting.reads();
    let got = tx.get_many_by_name(&wanted).unwrap();
    let reads = counting.reads() - before;
    if sql {
        // One read for the untouched names, one for the version of the touched object
        // the transaction did not write (K0001 v1).
        assert!(reads <= 3, "{reads} backend reads");
    }
    let open = |i: usize| {
        got[i].as_ref().and_then(|(m, v)| {
            v.as_ref()
                .map(|v| String::from_utf8(s.open_sealed(m, v).unwrap().expose().to_vec()).unwrap())
        })
    };
    assert_eq!(open(0).as_deref(), Some("v-0"));
    assert_eq!(open(1).as_deref(), Some("v-1-third"));
    assert_eq!(open(n).as_deref(), Some("v-1"));
    assert!(got[n + 2].is_none());
    // A name asked twice is answered twice.
    assert_eq!(open(n + 4).as_deref(), Some("v-0"));
    drop(tx);
    // Destroyed material reads as no material.
    s.write(|tx| tx.destroy_material(&two.uid, None)).unwrap();
    let got = s.read_many_by_name(&[("m:dev:K0001", 0)]).unwrap();
    assert!(got[0].as_ref().is_some_and(|(_, v)| v.is_none()));
}

fn create_read(b: Arc<dyn Backend>) {
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

fn names_unique(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b, &kek);
    s.create(secret("n", "1", &[])).unwrap();
    assert!(matches!(s.create(secret("n", "2", &[])), Err(StoreError::NameTaken(n)) if n == "n"));
    assert_eq!(s.read_by_name("n").unwrap().unwrap().1.expose(), b"1");
}

/// Names moved, freed and reused inside one transaction resolve to the right object (the
/// transaction keeps a name → uid hint map; a stale hint must not hide or invent a name).
fn names_within_one_transaction(b: Arc<dyn Backend>) {
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

fn versions_history(b: Arc<dyn Backend>) {
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

fn optimistic_conflict(b: Arc<dyn Backend>) {
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

/// Conditions on attributes the store keeps no index rows for (`query::is_indexed`) give the
/// same answers, with limit and offset applied after them.
fn locate_unindexed(b: Arc<dyn Backend>) {
    use serde_json::json;
    assert!(!crate::query::is_indexed("Sensitive") && !crate::query::is_indexed("Activation Date"));
    assert!(crate::query::is_indexed("app") && crate::query::is_indexed("Digest.DigestValue"));
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b, &kek);
    s.write(|tx| {
        for i in 0..6 {
            let mut k = NewObject::new(ObjectType::SymmetricKey);
            k.names = vec![format!("k{i}")];
            k.attributes.insert("Sensitive".into(), json!(i % 2 == 0));
            k.attributes
                .insert("Activation Date".into(), json!(1000 + i));
            k.attributes
                .insert("app".into(), json!(if i < 4 { "web" } else { "api" }));
            tx.create(k)?;
        }
        Ok(())
    })
    .unwrap();
    let names = |q: Query| -> Vec<String> {
        s.locate(&q)
            .unwrap()
            .iter()
            .map(|m| m.name().unwrap_or_default().to_owned())
            .collect()
    };
    let sensitive = AttrCond::Eq("Sensitive".into(), "true".into());
    assert_eq!(
        names(Query {
            attrs: vec![sensitive.clone()],
            ..Default::default()
        }),
        ["k0", "k2", "k4"]
    );
    assert_eq!(
        names(Query {
            attrs: vec![sensitive.clone(), AttrCond::Eq("app".into(), "web".into())],
            ..Default::default()
        }),
        ["k0", "k2"]
    );
    assert_eq!(
        names(Query {
            attrs: vec![sensitive],
            limit: Some(1),
            offset: 1,
            ..Default::default()
        }),
        ["k2"],
        "limit and offset apply after the unindexed condition"
    );
    assert_eq!(
        names(Query {
            attrs: vec![AttrCond::In(
                "Activation Date".into(),
                vec!["1001".into(), "1005".into()]
            )],
            ..Default::default()
        }),
        ["k1", "k5"]
    );
    assert_eq!(
        names(Query {
            attrs: vec![AttrCond::Exists("Activation Date".into())],
            name_prefix: Some("k".into()),
            limit: Some(2),
            ..Default::default()
        }),
        ["k0", "k1"]
    );
}

fn locate_by_index(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b, &kek);
    s.write(|tx| {
        for app in ["web", "api"] {
            for key in ["DB_PASS", "DB_USER", "TOKEN"] {
                tx.create(secret(
                    &format!("{app}:dev:{key}"),
                    "x",
                    &[("app", app), ("env", "dev"), ("key", key)],
                ))?;
            }
        }
        let mut k = NewObject::new(ObjectType::SymmetricKey);
        k.state = State::PreActive;
        k.attributes
            .insert("group".into(), serde_json::json!(["g1", "g2"]));
        tx.create(k)?;
        Ok(())
    })
    .unwrap();
    let q = |attrs: Vec<AttrCond>| Query {
        attrs,
        ..Default::default()
    };
    assert_eq!(
        s.locate(&q(vec![AttrCond::Eq("app".into(), "web".into())]))
            .unwrap()
            .len(),
        3
    );
    let r = s
        .locate(&q(vec![AttrCond::Prefix("key".into(), "DB_".into())]))
        .unwrap();
    assert_eq!(r.len(), 4);
    assert!(
        r.windows(2).all(|w| w[0].name() <= w[1].name()),
        "ordered by name"
    );
    assert_eq!(
        s.locate(&q(vec![
            AttrCond::In("app".into(), vec!["web".into(), "api".into()]),
            AttrCond::Eq("key".into(), "TOKEN".into())
        ]))
        .unwrap()
        .len(),
        2
    );
    assert_eq!(
        s.locate(&q(vec![AttrCond::Eq("group".into(), "g2".into())]))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.locate(&q(vec![AttrCond::Exists("group".into())]))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.locate(&Query {
            object_type: Some(ObjectType::SymmetricKey),
            ..Default::default()
        })
        .unwrap()
        .len(),
        1
    );
    assert_eq!(
        s.locate(&Query {
            state: Some(State::Active),
            ..Default::default()
        })
        .unwrap()
        .len(),
        6
    );
    assert_eq!(
        s.locate(&Query {
            name: Some("api:dev:TOKEN".into()),
            ..Default::default()
        })
        .unwrap()
        .len(),
        1
    );
    let page = s
        .locate(&Query {
            limit: Some(2),
            offset: 1,
            state: Some(State::Active),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].name(), Some("api:dev:DB_USER"));
    // Updating attributes re-indexes.
    let uid = s.get_by_name("web:dev:TOKEN").unwrap().unwrap().uid;
    s.write(|tx| {
        tx.update(&uid, "", |m| {
            m.attributes.insert("app".into(), "mobile".into());
            Ok(())
        })
        .map(|_| ())
    })
    .unwrap();
    assert_eq!(
        s.locate(&q(vec![AttrCond::Eq("app".into(), "web".into())]))
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        s.locate(&q(vec![AttrCond::Eq("app".into(), "mobile".into())]))
            .unwrap()
            .len(),
        1
    );
}

fn delete_and_destroy(b: Arc<dyn Backend>) {
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

fn audit_chain(b: Arc<dyn Backend>) {
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

fn wrong_key_refused(b: Arc<dyn Backend>) {
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
fn audit_key_created_once(b: Arc<dyn Backend>) {
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

fn swapped_material_refused(b: Arc<dyn Backend>) {
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

fn concurrent_creates(b: Arc<dyn Backend>) {
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

fn concurrent_increments(b: Arc<dyn Backend>) {
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

/// Writes secrets `(name, value)` the way a tresor from before metadata MACs did: rows without
/// a MAC, no `metadata-mac` setting, the audit key and chain as usual. The caller then puts
/// the schema back (drops the `mac` column, resets the schema version) for a SQL backend.
/// Returns the uids. For migration tests only.
///
/// # Errors
/// Backend or key-provider errors.
pub fn write_pre_mac_secrets(
    backend: &dyn Backend,
    provider: &dyn tresor_crypto::KeyProvider,
    actor: &str,
    secrets: &[(&str, &[u8])],
) -> crate::Result<Vec<String>> {
    use tresor_crypto::envelope;
    let sealed = match backend.meta_get(crate::store::AUDIT_KEY)? {
        Some(s) => s,
        None => {
            let mut k = [0u8; 32];
            tresor_crypto::random_fill(&mut k)?;
            let s = envelope::seal(provider, crate::store::AUDIT_KEY_AAD, &k)?;
            backend.meta_init(crate::store::AUDIT_KEY, &s.to_bytes())?
        }
    };
    let key = envelope::open(
        provider,
        crate::store::AUDIT_KEY_AAD,
        &envelope::Sealed::from_bytes(&sealed)?,
    )?;
    let signer = crate::AuditSigner::new(key);
    let mut batch = crate::Batch::default();
    let mut uids = Vec::new();
    let t = crate::now();
    for (name, value) in secrets {
        let uid = crate::new_uid()?;
        let meta = crate::ObjectMeta {
            uid: uid.clone(),
            object_type: ObjectType::SecretData,
            state: State::Active,
            owner: actor.to_owned(),
            names: vec![(*name).to_owned()],
            attributes: crate::Attributes::new(),
            current_version: 1,
            created: t,
            updated: t,
            rev: 1,
            mac: None,
        };
        let aad = crate::model::material_aad(&uid, 1, ObjectType::SecretData);
        batch.writes.push(crate::Write::PutObject {
            meta,
            expect: crate::Precondition::Absent,
        });
        batch
            .writes
            .push(crate::Write::PutVersion(crate::SealedVersion {
                uid: uid.clone(),
                version: 1,
                created: t,
                created_by: actor.to_owned(),
                sealed: Some(envelope::seal(provider, &aad, value)?.to_bytes()),
            }));
        batch.audit.push(crate::AuditDraft {
            actor: actor.to_owned(),
            action: "create".into(),
            uid: Some(uid.clone()),
            detail: format!("SecretData {name}"),
        });
        uids.push(uid);
    }
    backend.commit(&batch, &signer)?;
    Ok(uids)
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
