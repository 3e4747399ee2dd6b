//! The backend conformance suite on a real PostgreSQL server.
//!
//! Needs `TRESOR_TEST_PG_URL` (an admin URL such as `postgres://postgres@127.0.0.1:PORT/postgres`;
//! `scripts/test.sh` starts a throw-away server and sets it). Without it the test fails under
//! `CI=true` and is skipped, loudly, elsewhere.
#![cfg(feature = "postgres")]

use std::sync::Arc;

use tresor_store::{Backend, PostgresBackend};

fn admin_url() -> Option<String> {
    match std::env::var("TRESOR_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "TRESOR_TEST_PG_URL is not set under CI: scripts/test.sh must start PostgreSQL"
            );
            eprintln!(
                "SKIPPED: TRESOR_TEST_PG_URL not set; run scripts/test.sh to test the PostgreSQL backend"
            );
            None
        }
    }
}

/// A fresh database for one case: `<admin db>_<tag>_<n>`.
fn fresh(admin: &str, tag: &str, n: usize) -> String {
    let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("connect admin");
    let db = format!("tresor_{tag}_{}_{n}", std::process::id());
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .expect("drop");
    c.batch_execute(&format!("CREATE DATABASE {db}"))
        .expect("create");
    let (base, _) = admin.rsplit_once('/').expect("url with a database");
    format!("{base}/{db}")
}

#[test]
fn postgres_conformance() {
    let Some(admin) = admin_url() else { return };
    let n = std::sync::atomic::AtomicUsize::new(0);
    tresor_store::testing::conformance(&|| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Arc::new(PostgresBackend::connect(&fresh(&admin, "conf", i)).expect("connect"))
            as Arc<dyn Backend>
    });
}

#[test]
fn postgres_schema_newer_than_binary_is_refused() {
    let Some(admin) = admin_url() else { return };
    let url = fresh(&admin, "newer", 0);
    drop(PostgresBackend::connect(&url).expect("first connect migrates"));
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute("UPDATE tresor_schema SET version = 999")
        .unwrap();
    match PostgresBackend::connect(&url) {
        Err(tresor_store::StoreError::TooNew { found: 999, .. }) => {}
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[test]
fn postgres_unreachable_is_unavailable() {
    // A port nothing listens on: a clear "unavailable" error, no panic.
    match PostgresBackend::connect("postgres://nobody@127.0.0.1:1/none?connect_timeout=2") {
        Err(tresor_store::StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
