//! Attacker A2 on a PostgreSQL store: someone with SQL access to the database but no vault
//! key edits owner, grants, current version, state, name and index rows and the MAC column.
//! Every read answers `Tampered`, never the forged row.
//!
//! Needs `TRESOR_TEST_PG_URL` (see `tests/postgres.rs`); skipped loudly without it, except
//! under `CI=true`.
#![cfg(feature = "postgres")]

use std::sync::Arc;

use serde_json::json;
use tresor_crypto::LocalKek;
use tresor_store::{
    AttrCond, Backend, NewObject, ObjectType, PostgresBackend, Query, Store, StoreError,
};

fn admin_url() -> Option<String> {
    match std::env::var("TRESOR_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "TRESOR_TEST_PG_URL is not set under CI: scripts/test.sh must start PostgreSQL"
            );
            eprintln!("SKIPPED: TRESOR_TEST_PG_URL not set");
            None
        }
    }
}

fn fresh(admin: &str, tag: &str) -> String {
    let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("connect admin");
    let db = format!("tresor_tamper_{tag}_{}", std::process::id());
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .expect("drop");
    c.batch_execute(&format!("CREATE DATABASE {db}"))
        .expect("create");
    let (base, _) = admin.rsplit_once('/').expect("url with a database");
    format!("{base}/{db}")
}

fn secret(name: &str, value: &[u8]) -> NewObject {
    let mut n = NewObject::new(ObjectType::SecretData);
    n.names.push(name.into());
    n.material = Some(value.to_vec());
    n
}

struct Fixture {
    url: String,
    kek: Arc<LocalKek>,
    a: String,
    b: String,
}

fn fixture(admin: &str, tag: &str) -> Fixture {
    let url = fresh(admin, tag);
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = open(&url, &kek);
    let mut a = secret("app:dev:A", b"a1");
    a.attributes
        .insert("tresor.grants".into(), json!({"bob": ["get"]}));
    let a = s.create(a).unwrap().uid;
    s.write(|tx| tx.put_material(&a, b"a2")).unwrap();
    let mut b = secret("app:dev:B", b"b1");
    b.attributes
        .insert("Cryptographic Algorithm".into(), json!("DES"));
    let b = s.create(b).unwrap().uid;
    let mut c = secret("app:dev:C", b"c1");
    c.attributes
        .insert("Cryptographic Algorithm".into(), json!("AES"));
    s.create(c).unwrap();
    Fixture { url, kek, a, b }
}

fn open(url: &str, kek: &Arc<LocalKek>) -> Store {
    let b = Arc::new(PostgresBackend::connect(url).expect("connect")) as Arc<dyn Backend>;
    Store::open(b, kek.clone(), "alice").unwrap()
}

impl Fixture {
    fn sql(&self, sql: &str) {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls).unwrap();
        c.batch_execute(sql).unwrap();
    }
}

fn is_tampered<T: std::fmt::Debug>(r: tresor_store::Result<T>, uid: &str, what: &str) {
    match r {
        Err(StoreError::Tampered { uid: u, .. }) if u == uid => {}
        other => panic!("{what}: expected Tampered for {uid}, got {other:?}"),
    }
}

fn every_read_refuses(s: &Store, uid: &str, name: &str) {
    is_tampered(s.get(uid), uid, "get");
    is_tampered(s.get_by_name(name), uid, "get_by_name");
    is_tampered(s.read_by_name(name), uid, "read_by_name");
    is_tampered(s.locate(&Query::default()), uid, "locate");
    is_tampered(s.write(|tx| tx.get(uid).map(|_| ())), uid, "Txn::get");
}

fn c_reads(s: &Store) {
    let (_, v) = s.read_by_name("app:dev:C").unwrap().unwrap();
    assert_eq!(v.expose(), b"c1");
}

/// Each edit an attacker with `psql` would make, on its own fresh database.
#[test]
fn tamper_postgres_metadata_edits_are_refused() {
    let Some(admin) = admin_url() else { return };
    let edits: &[(&str, &str)] = &[
        (
            "owner",
            "UPDATE objects SET owner='mallory' WHERE uid='{A}'",
        ),
        (
            "grants",
            "UPDATE objects SET attrs='{\"tresor.grants\":{\"mallory\":[\"get\"]}}' WHERE uid='{A}'",
        ),
        (
            "version",
            "UPDATE objects SET current_version=1 WHERE uid='{A}'",
        ),
        (
            "state",
            "UPDATE objects SET state='Deactivated' WHERE uid='{A}'",
        ),
        ("nomac", "UPDATE objects SET mac=NULL WHERE uid='{A}'"),
        (
            "swap",
            "UPDATE objects SET mac=(SELECT mac FROM objects WHERE uid='{B}') WHERE uid='{A}'",
        ),
    ];
    for (tag, sql) in edits {
        let f = fixture(&admin, tag);
        f.sql(&sql.replace("{A}", &f.a).replace("{B}", &f.b));
        let s = open(&f.url, &f.kek);
        every_read_refuses(&s, &f.a, "app:dev:A");
        c_reads(&s);
    }
}

#[test]
fn tamper_postgres_name_and_index_rows_are_refused() {
    let Some(admin) = admin_url() else { return };
    let f = fixture(&admin, "rows");
    f.sql(&format!(
        "UPDATE names SET uid='{}' WHERE name='app:dev:A'; \
         INSERT INTO attr_index (attr, value, uid) VALUES ('Cryptographic Algorithm', 'AES', '{}')",
        f.b, f.b
    ));
    let s = open(&f.url, &f.kek);
    is_tampered(s.read_by_name("app:dev:A"), &f.b, "read_by_name");
    is_tampered(s.get_by_name("app:dev:A"), &f.b, "get_by_name");
    let q = Query {
        attrs: vec![AttrCond::Eq("Cryptographic Algorithm".into(), "AES".into())],
        ..Query::default()
    };
    is_tampered(s.locate(&q), &f.b, "locate");
    assert_eq!(
        s.read_by_name("app:dev:B").unwrap().unwrap().1.expose(),
        b"b1"
    );
    c_reads(&s);
}

/// A PostgreSQL store from before metadata MACs (no `mac` column, schema 2) is brought
/// forward at its first open with the key, and verifies.
#[test]
fn tamper_postgres_old_schema_is_brought_forward() {
    let Some(admin) = admin_url() else { return };
    let url = fresh(&admin, "old");
    let kek = Arc::new(LocalKek::generate().unwrap());
    let uids = {
        let b = PostgresBackend::connect(&url).unwrap();
        tresor_store::testing::write_pre_mac_secrets(&b, kek.as_ref(), "alice", &[("a:e:X", b"x")])
            .unwrap()
    };
    {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute("ALTER TABLE objects DROP COLUMN mac; UPDATE tresor_schema SET version=2")
            .unwrap();
    }
    let s = open(&url, &kek);
    let (m, v) = s.read_by_name("a:e:X").unwrap().unwrap();
    assert_eq!(
        (m.uid.as_str(), v.expose().as_slice()),
        (uids[0].as_str(), &b"x"[..])
    );
    assert!(m.mac.is_some());
    assert_eq!(s.verify_audit().unwrap().first_bad, None);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute("UPDATE objects SET owner='mallory'")
        .unwrap();
    is_tampered(
        open(&url, &kek).get(&uids[0]),
        &uids[0],
        "get after migration",
    );
}
