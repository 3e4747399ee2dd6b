//! Attacker A2 on a SQLite store: someone who can write the database file but holds no key
//! edits owner, grants, current version, state, name and index rows, and the MAC column with
//! `rusqlite`. Every read path that returns metadata must answer `Tampered`, never the forged
//! row; objects left alone still read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;
use serde_json::json;
use tresor_crypto::LocalKek;
use tresor_store::{AttrCond, NewObject, ObjectType, Query, SqliteBackend, Store, StoreError};

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    kek: Arc<LocalKek>,
    a: String,
    b: String,
    c: String,
}

fn secret(name: &str, value: &[u8]) -> NewObject {
    let mut n = NewObject::new(ObjectType::SecretData);
    n.names.push(name.into());
    n.material = Some(value.to_vec());
    n
}

/// A store with A (two versions, a grant), B and C (an indexed attribute), owned by alice.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = Store::open_sqlite(&path, kek.clone(), "alice").unwrap();
    let mut a = secret("app:dev:A", b"a1");
    a.attributes
        .insert("tresor.grants".into(), json!({"bob": ["get"]}));
    let a = s.create(a).unwrap().uid;
    s.write(|tx| tx.put_material(&a, b"a2")).unwrap();
    let b = s.create(secret("app:dev:B", b"b1")).unwrap().uid;
    let mut c = secret("app:dev:C", b"c1");
    c.attributes
        .insert("Cryptographic Algorithm".into(), json!("AES"));
    let c = s.create(c).unwrap().uid;
    Fixture {
        _dir: dir,
        path,
        kek,
        a,
        b,
        c,
    }
}

impl Fixture {
    /// The attacker: plain SQL on the file, no key.
    fn sql(&self, sql: &str) {
        let c = Connection::open(&self.path).unwrap();
        c.execute_batch(sql).unwrap();
    }

    /// A new process opening the store with the key.
    fn open(&self) -> Store {
        Store::open_sqlite(&self.path, self.kek.clone(), "alice").unwrap()
    }
}

fn is_tampered<T: std::fmt::Debug>(r: tresor_store::Result<T>, uid: &str, what: &str) {
    match r {
        Err(StoreError::Tampered { uid: u, detail }) => {
            assert_eq!(u, uid, "{what}: wrong object named ({detail})");
            let msg = StoreError::Tampered {
                uid: u,
                detail: detail.clone(),
            }
            .to_string();
            assert!(msg.contains("was tampered with"), "{msg}");
        }
        other => panic!("{what}: expected Tampered for {uid}, got {other:?}"),
    }
}

/// Every read path that returns the object's metadata refuses it.
fn every_read_refuses(s: &Store, uid: &str, name: &str) {
    is_tampered(s.get(uid), uid, "get");
    is_tampered(s.get_by_name(name), uid, "get_by_name");
    is_tampered(s.read_by_name(name), uid, "read_by_name");
    // Several objects may be tampered with: locate names the first it meets.
    assert!(
        matches!(
            s.locate(&Query::default()),
            Err(StoreError::Tampered { .. })
        ),
        "locate"
    );
    is_tampered(s.write(|tx| tx.get(uid).map(|_| ())), uid, "Txn::get");
    is_tampered(
        s.write(|tx| tx.get_by_name(name).map(|_| ())),
        uid,
        "Txn::get_by_name",
    );
    // A write that reads first is refused too, before anything is stored.
    is_tampered(
        s.write(|tx| tx.put_material(uid, b"new").map(|_| ())),
        uid,
        "Txn::put_material",
    );
}

/// The object C nobody touched still reads, by uid and by name.
fn untouched_reads(s: &Store, f: &Fixture) {
    let (m, v) = s.read_by_name("app:dev:C").unwrap().unwrap();
    assert_eq!(
        (m.uid.as_str(), v.expose().as_slice()),
        (f.c.as_str(), &b"c1"[..])
    );
    assert_eq!(s.get(&f.c).unwrap().unwrap().owner, "alice");
}

#[test]
fn tamper_sqlite_owner() {
    let f = fixture();
    f.sql(&format!(
        "UPDATE objects SET owner='mallory' WHERE uid='{}'",
        f.a
    ));
    let s = f.open();
    every_read_refuses(&s, &f.a, "app:dev:A");
    untouched_reads(&s, &f);
}

#[test]
fn tamper_sqlite_grants_attribute() {
    let f = fixture();
    f.sql(&format!(
        "UPDATE objects SET attrs=json_set(attrs, '$.\"tresor.grants\"', json('{{\"mallory\":[\"get\",\"modify\"]}}')) WHERE uid='{}'",
        f.a
    ));
    let s = f.open();
    every_read_refuses(&s, &f.a, "app:dev:A");
    untouched_reads(&s, &f);
}

#[test]
fn tamper_sqlite_current_version_rollback() {
    let f = fixture();
    f.sql(&format!(
        "UPDATE objects SET current_version=1 WHERE uid='{}'",
        f.a
    ));
    let s = f.open();
    every_read_refuses(&s, &f.a, "app:dev:A");
    untouched_reads(&s, &f);
}

#[test]
fn tamper_sqlite_rollback_by_deleting_the_newest_version() {
    let f = fixture();
    f.sql(&format!(
        "DELETE FROM versions WHERE uid='{0}' AND version=2; UPDATE objects SET current_version=1 WHERE uid='{0}'",
        f.a
    ));
    let s = f.open();
    every_read_refuses(&s, &f.a, "app:dev:A");
}

#[test]
fn tamper_sqlite_state() {
    let f = fixture();
    f.sql(&format!(
        "UPDATE objects SET state='Deactivated' WHERE uid='{}'",
        f.a
    ));
    let s = f.open();
    every_read_refuses(&s, &f.a, "app:dev:A");
    untouched_reads(&s, &f);
}

/// The name row of A now points at B: the name must not lead to B's value.
#[test]
fn tamper_sqlite_name_row_points_at_another_object() {
    let f = fixture();
    f.sql(&format!(
        "UPDATE names SET uid='{}' WHERE name='app:dev:A'",
        f.b
    ));
    let s = f.open();
    is_tampered(s.get_by_name("app:dev:A"), &f.b, "get_by_name");
    is_tampered(s.read_by_name("app:dev:A"), &f.b, "read_by_name");
    is_tampered(
        s.write(|tx| tx.get_by_name("app:dev:A").map(|_| ())),
        &f.b,
        "Txn::get_by_name",
    );
    // B itself is fine under its own name.
    let (m, v) = s.read_by_name("app:dev:B").unwrap().unwrap();
    assert_eq!(
        (m.uid.as_str(), v.expose().as_slice()),
        (f.b.as_str(), &b"b1"[..])
    );
    untouched_reads(&s, &f);
}

/// A forged attribute index row makes B answer a search it does not match.
#[test]
fn tamper_sqlite_attribute_index_row() {
    let f = fixture();
    let q = Query {
        attrs: vec![AttrCond::Eq("Cryptographic Algorithm".into(), "AES".into())],
        ..Query::default()
    };
    assert_eq!(f.open().locate(&q).unwrap().len(), 1);
    f.sql(&format!(
        "INSERT INTO attr_index (attr, value, uid) VALUES ('Cryptographic Algorithm', 'AES', '{}')",
        f.b
    ));
    let s = f.open();
    is_tampered(s.locate(&q), &f.b, "locate");
    untouched_reads(&s, &f);
}

/// A forged owner column answers an owner search (the SQL filters on the column).
#[test]
fn tamper_sqlite_owner_search() {
    let f = fixture();
    f.sql(&format!(
        "UPDATE objects SET owner='mallory' WHERE uid='{}'",
        f.b
    ));
    let q = Query {
        owner: Some("mallory".into()),
        ..Query::default()
    };
    is_tampered(f.open().locate(&q), &f.b, "locate by owner");
}

#[test]
fn tamper_sqlite_swapped_macs() {
    let f = fixture();
    f.sql(&format!(
        "CREATE TEMP TABLE m AS SELECT uid, mac FROM objects; \
         UPDATE objects SET mac=(SELECT m.mac FROM m WHERE m.uid = CASE objects.uid WHEN '{0}' THEN '{1}' ELSE '{0}' END) WHERE uid IN ('{0}', '{1}')",
        f.a, f.b
    ));
    let s = f.open();
    every_read_refuses(&s, &f.a, "app:dev:A");
    every_read_refuses(&s, &f.b, "app:dev:B");
    untouched_reads(&s, &f);
}

/// A MAC deleted (or cut short) after the store has MACs is tampering, in this process and in
/// the next one (opening with the key must not MAC the row again).
#[test]
fn tamper_sqlite_missing_mac() {
    let f = fixture();
    f.sql(&format!(
        "UPDATE objects SET mac=NULL, owner='mallory' WHERE uid='{}'; UPDATE objects SET mac=x'00' WHERE uid='{}'",
        f.a, f.b
    ));
    let s = f.open();
    s.check_key().unwrap();
    every_read_refuses(&s, &f.a, "app:dev:A");
    every_read_refuses(&s, &f.b, "app:dev:B");
    untouched_reads(&s, &f);
}

/// Removing the "store has MACs" setting as well does not make tresor MAC the forged row:
/// the audit chain shows the store had them.
#[test]
fn tamper_sqlite_marker_removed_and_mac_deleted() {
    let f = fixture();
    f.sql(&format!(
        "DELETE FROM meta WHERE k='metadata-mac'; UPDATE objects SET mac=NULL, owner='mallory' WHERE uid='{}'",
        f.a
    ));
    let s = f.open();
    match s.read_by_name("app:dev:C") {
        Err(StoreError::Tampered { detail, .. }) => assert!(detail.contains("metadata-mac")),
        other => panic!("expected Tampered, got {other:?}"),
    }
    // Nothing was MACed behind the attacker.
    let c = Connection::open(&f.path).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM objects WHERE mac IS NULL", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 1);
}

/// Material cannot be moved between objects or versions: the AEAD's associated data binds
/// uid, version and type.
#[test]
fn tamper_sqlite_material_swapped_between_versions_and_objects() {
    let f = fixture();
    // A's v1 material put in place of A's v2 (current).
    f.sql(&format!(
        "UPDATE versions SET sealed=(SELECT sealed FROM versions WHERE uid='{0}' AND version=1) WHERE uid='{0}' AND version=2",
        f.a
    ));
    // A's v1 material put in place of B's v1.
    f.sql(&format!(
        "UPDATE versions SET sealed=(SELECT sealed FROM versions WHERE uid='{0}' AND version=1) WHERE uid='{1}' AND version=1",
        f.a, f.b
    ));
    let s = f.open();
    for name in ["app:dev:A", "app:dev:B"] {
        match s.read_by_name(name) {
            Err(StoreError::Crypto(_)) => {}
            other => panic!("{name}: expected a decryption failure, got {other:?}"),
        }
    }
    untouched_reads(&s, &f);
}

/// An untouched store reads, writes and verifies as before, across processes.
#[test]
fn tamper_sqlite_untouched_store_is_fine() {
    let f = fixture();
    let s = f.open();
    assert_eq!(s.locate(&Query::default()).unwrap().len(), 3);
    s.write(|tx| {
        tx.update(&f.b, "owner", |m| {
            m.owner = "bob".into();
            Ok(())
        })
        .map(|_| ())
    })
    .unwrap();
    let s = f.open();
    assert_eq!(s.get(&f.b).unwrap().unwrap().owner, "bob");
    let (_, v) = s.read_by_name("app:dev:A").unwrap().unwrap();
    assert_eq!(v.expose(), b"a2");
    assert_eq!(s.verify_audit().unwrap().first_bad, None);
}

/// Puts a database written by the pre-MAC code into the old schema (no `mac` column,
/// schema version 2).
fn make_old_schema(path: &Path) {
    let c = Connection::open(path).unwrap();
    c.execute_batch("ALTER TABLE objects DROP COLUMN mac; PRAGMA user_version=2;")
        .unwrap();
}

/// A store written before metadata MACs is brought forward at its first open with the key:
/// every object gets its MAC in one transaction, the chain records it and still verifies,
/// and from then on edits are caught.
#[test]
fn tamper_sqlite_old_schema_is_brought_forward() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let kek = Arc::new(LocalKek::generate().unwrap());
    let uids = {
        let b = SqliteBackend::open(&path).unwrap();
        tresor_store::testing::write_pre_mac_secrets(
            &b,
            kek.as_ref(),
            "alice",
            &[("app:dev:X", b"x1"), ("app:dev:Y", b"y1")],
        )
        .unwrap()
    };
    make_old_schema(&path);
    let c = Connection::open(&path).unwrap();
    // The old schema, faithfully: no mac column, version 2.
    let v: u32 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 2);
    drop(c);

    // Opening without the key (the backend alone) adds the column but MACs nothing.
    let b = SqliteBackend::open(&path).unwrap();
    assert_eq!(b.schema_version().unwrap(), tresor_store::SCHEMA_VERSION);
    drop(b);
    let c = Connection::open(&path).unwrap();
    let unmaced: i64 = c
        .query_row("SELECT count(*) FROM objects WHERE mac IS NULL", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(unmaced, 2);
    drop(c);

    // The wrong key cannot bring it forward.
    let wrong = Arc::new(LocalKek::generate().unwrap());
    let s = Store::open_sqlite(&path, wrong, "alice").unwrap();
    assert!(matches!(s.get(&uids[0]), Err(StoreError::Crypto(_))));

    let s = Store::open_sqlite(&path, kek.clone(), "alice").unwrap();
    let (m, v) = s.read_by_name("app:dev:X").unwrap().unwrap();
    assert_eq!(
        (m.uid.as_str(), v.expose().as_slice()),
        (uids[0].as_str(), &b"x1"[..])
    );
    assert!(m.mac.is_some());
    let report = s.verify_audit().unwrap();
    assert_eq!((report.entries, report.first_bad), (3, None));
    let last = s.audit(0, 10).unwrap().pop().unwrap();
    assert_eq!(last.action, "metadata-mac");
    assert!(last.detail.contains("2 objects"), "{}", last.detail);

    // From now on an edit is caught, in this process and the next.
    let c = Connection::open(&path).unwrap();
    c.execute(
        "UPDATE objects SET owner='mallory' WHERE uid=?1",
        [&uids[1]],
    )
    .unwrap();
    is_tampered(s.get(&uids[1]), &uids[1], "get after migration");
    let s = Store::open_sqlite(&path, kek, "alice").unwrap();
    is_tampered(
        s.read_by_name("app:dev:Y"),
        &uids[1],
        "read_by_name after migration",
    );
    assert!(s.read_by_name("app:dev:X").unwrap().is_some());
}

/// A backup (dump) keeps its MACs through restore; a dump whose object was edited is refused;
/// a dump from before MACs is given them.
#[test]
fn tamper_sqlite_dump_and_restore_carry_macs() {
    let f = fixture();
    let s = f.open();
    let dump = s.dump().unwrap();
    assert!(dump.objects.iter().all(|o| o.mac.is_some()));

    let dir = tempfile::tempdir().unwrap();
    let t = Store::open_sqlite(&dir.path().join("r.db"), f.kek.clone(), "alice").unwrap();
    t.restore(&dump).unwrap();
    assert_eq!(
        t.read_by_name("app:dev:A").unwrap().unwrap().1.expose(),
        b"a2"
    );

    let mut forged = dump.clone();
    forged.objects[0].owner = "mallory".into();
    let uid = forged.objects[0].uid.clone();
    is_tampered(t.restore(&forged), &uid, "restore of an edited dump");

    // A dump made by a tresor before MACs (no MACs, no marker) is given them.
    let dir2 = tempfile::tempdir().unwrap();
    let pre = SqliteBackend::open(&dir2.path().join("pre.db")).unwrap();
    let uids = tresor_store::testing::write_pre_mac_secrets(
        &pre,
        f.kek.as_ref(),
        "alice",
        &[("app:dev:P", b"p1")],
    )
    .unwrap();
    let old = tresor_store::Backend::dump(&pre).unwrap();
    assert!(old.objects.iter().all(|o| o.mac.is_none()));
    let u = Store::open_sqlite(&dir2.path().join("o.db"), f.kek.clone(), "alice").unwrap();
    u.restore(&old).unwrap();
    let u = Store::open_sqlite(&dir2.path().join("o.db"), f.kek.clone(), "alice").unwrap();
    assert!(u.get(&uids[0]).unwrap().unwrap().mac.is_some());
    assert_eq!(
        u.read_by_name("app:dev:P").unwrap().unwrap().1.expose(),
        b"p1"
    );

    // A MAC-era dump with the marker removed and one object's MAC stripped (to get a forged
    // row MACed) is refused.
    let mut stripped = dump.clone();
    stripped.meta.retain(|(k, _)| k != "metadata-mac");
    stripped.objects[0].mac = None;
    stripped.objects[0].owner = "mallory".into();
    match t.restore(&stripped) {
        Err(StoreError::Tampered { .. }) => {}
        other => panic!("expected Tampered, got {other:?}"),
    }
}
