//! The backend conformance suite on a real PostgreSQL server.
//!
//! Needs `TRESOR_TEST_PG_URL` (an admin URL such as `postgres://postgres@127.0.0.1:PORT/postgres`;
//! `scripts/test.sh` starts a throw-away server and sets it). Without it the test fails under
//! `CI=true` and is skipped, loudly, elsewhere.
#![cfg(feature = "postgres")]

use std::sync::Arc;

use tresor_store::{Backend, PostgresBackend};

mod cases {
    pub mod prefetch;
}

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

/// A PostgreSQL of this test's own with `ssl=on` and `hostnossl … reject` (scripts/pg.sh
/// start --ssl), stopped and removed on drop.
struct TlsCluster {
    dir: String,
    port: u16,
    ca: String,
}

impl TlsCluster {
    fn start() -> Option<TlsCluster> {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .args(["start", "--ssl"])
            .output()
            .expect("run scripts/pg.sh");
        if !out.status.success() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "scripts/pg.sh start --ssl failed under CI: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!(
                "SKIPPED: scripts/pg.sh start --ssl failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        let text = String::from_utf8(out.stdout).unwrap();
        let var = |k: &str| {
            text.split([';', '\n'])
                .filter_map(|p| p.trim().strip_prefix("export "))
                .find_map(|p| p.strip_prefix(&format!("{k}=")).map(str::to_owned))
                .unwrap_or_else(|| panic!("pg.sh printed no {k}: {text}"))
        };
        let dir = var("TRESOR_PG_DIR");
        let port = std::fs::read_to_string(format!("{dir}/port"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Some(TlsCluster {
            ca: var("TRESOR_PG_CA"),
            dir,
            port,
        })
    }

    /// An admin connection over the Unix socket (`local … trust`).
    fn admin(&self) -> postgres::Client {
        postgres::Client::connect(
            &format!(
                "host={} port={} user=postgres dbname=postgres",
                self.dir, self.port
            ),
            postgres::NoTls,
        )
        .expect("admin over the Unix socket")
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh");
        let _ = std::process::Command::new("bash")
            .arg(script)
            .args(["stop", &self.dir])
            .status();
    }
}

fn unavailable_message(r: tresor_store::Result<PostgresBackend>) -> String {
    match r {
        Err(tresor_store::StoreError::Unavailable(m)) => m,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn postgres_tls_require_verify_full_and_plaintext_refused() {
    let Some(pg) = TlsCluster::start() else {
        return;
    };
    let mut admin = pg.admin();
    admin
        .batch_execute("CREATE ROLE tresor LOGIN PASSWORD 'tls-test-pw'")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE tresor_tls OWNER tresor")
        .unwrap();
    let p = pg.port;
    let ca = &pg.ca;

    // sslmode=require: encrypted (the server accepts nothing else on TCP).
    let b = PostgresBackend::connect(&format!(
        "postgres://tresor:tls-test-pw@127.0.0.1:{p}/tresor_tls?sslmode=require"
    ))
    .expect("sslmode=require");
    assert_eq!(b.count().unwrap(), 0);
    let ssl_sessions: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
             WHERE a.usename = 'tresor' AND s.ssl",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        ssl_sessions >= 1,
        "the backend's pooled connection uses TLS"
    );
    drop(b);

    // verify-full: the chain to the CA and the name (IP SAN 127.0.0.1, DNS SAN localhost).
    for host in ["127.0.0.1", "localhost"] {
        let b = PostgresBackend::connect(&format!(
            "postgres://tresor:tls-test-pw@{host}:{p}/tresor_tls?sslmode=verify-full&sslrootcert={ca}"
        ))
        .unwrap_or_else(|e| panic!("verify-full to {host}: {e}"));
        assert_eq!(b.count().unwrap(), 0);
    }

    // verify-full against another CA is refused, naming the certificate problem.
    let other = tempfile::tempdir().unwrap();
    let other_ca = other.path().join("other-ca.crt");
    let st = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-days", "1", "-subj", "/CN=not the server's CA", "-keyout"])
        .arg(other.path().join("other-ca.key"))
        .arg("-out")
        .arg(&other_ca)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success());
    let m = unavailable_message(PostgresBackend::connect(&format!(
        "postgres://tresor:tls-test-pw@127.0.0.1:{p}/tresor_tls?sslmode=verify-full&sslrootcert={}",
        other_ca.display()
    )));
    assert!(m.to_lowercase().contains("certificate"), "{m}");

    // A wrong password is refused by the server, over TLS.
    let m = unavailable_message(PostgresBackend::connect(&format!(
        "postgres://tresor:wrong@127.0.0.1:{p}/tresor_tls?sslmode=verify-full&sslrootcert={ca}"
    )));
    assert!(m.contains("password authentication failed"), "{m}");

    // Plaintext is refused when the server demands hostssl.
    let m = unavailable_message(PostgresBackend::connect(&format!(
        "postgres://tresor:tls-test-pw@127.0.0.1:{p}/tresor_tls?sslmode=disable"
    )));
    assert!(m.contains("no encryption"), "{m}");

    // A bad sslmode is named.
    let m = unavailable_message(PostgresBackend::connect(&format!(
        "postgres://tresor@127.0.0.1:{p}/tresor_tls?sslmode=always"
    )));
    assert!(m.contains("sslmode 'always'"), "{m}");
}

/// See `cases/prefetch.rs`.
#[test]
fn postgres_prefetched_version_never_outlives_its_read() {
    let Some(admin) = admin_url() else { return };
    let url = fresh(&admin, "prefetch", 0);
    let a: Arc<dyn Backend> = Arc::new(PostgresBackend::connect(&url).unwrap());
    let b: Arc<dyn Backend> = Arc::new(PostgresBackend::connect(&url).unwrap());
    cases::prefetch::prefetched_version_never_outlives_its_read(a, b);
}

/// Statements are prepared once per pooled connection; after the tables are dropped and made
/// again (PostgreSQL invalidates the cached plans), the same backend keeps working, and a
/// connection PostgreSQL closed is replaced with an empty cache.
#[test]
fn postgres_statement_cache_survives_schema_and_connection_changes() {
    let Some(admin) = admin_url() else { return };
    let url = fresh(&admin, "stmts", 0);
    let kek = Arc::new(tresor_crypto::LocalKek::generate().unwrap());
    let b = Arc::new(PostgresBackend::connect(&url).unwrap());
    let s = tresor_store::Store::open(b.clone(), kek.clone(), "t").unwrap();
    let mut n = tresor_store::NewObject::new(tresor_store::ObjectType::SecretData);
    n.names.push("one".into());
    n.material = Some(b"v1".to_vec());
    s.create(n).unwrap();
    assert_eq!(s.read_by_name("one").unwrap().unwrap().1.expose(), b"v1");

    // Every tresor table dropped and made again by a second backend (a migration from
    // scratch): the first backend's cached statements name the old tables.
    b.drop_all().unwrap();
    let b2 = Arc::new(PostgresBackend::connect(&url).unwrap());
    let s2 = tresor_store::Store::open(b2, kek.clone(), "t").unwrap();
    let mut n = tresor_store::NewObject::new(tresor_store::ObjectType::SecretData);
    n.names.push("two".into());
    n.material = Some(b"v2".to_vec());
    s2.create(n).unwrap();
    // A new store on the first backend (the recreated database has a new audit key, hence a
    // new metadata MAC key, which a running `Store` does not re-read).
    let s = tresor_store::Store::open(b.clone(), kek.clone(), "t").unwrap();
    assert_eq!(s.read_by_name("two").unwrap().unwrap().1.expose(), b"v2");
    assert!(s.read_by_name("one").unwrap().is_none());

    // Every connection of this database closed by the server: the next call reconnects.
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    let db = url.rsplit_once('/').unwrap().1;
    c.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        &[&db],
    )
    .unwrap();
    assert_eq!(s.read_by_name("two").unwrap().unwrap().1.expose(), b"v2");
}

/// A server answering on its tokio worker (the KMIP server reads in place) may call the
/// backend there: the blocking client steps aside (`block_in_place`) instead of panicking
/// with "Cannot start a runtime from within a runtime", and the connections it opened are
/// closed cleanly when the backend is dropped on a worker too.
#[test]
fn postgres_called_on_a_tokio_worker() {
    let Some(admin) = admin_url() else { return };
    let url = fresh(&admin, "worker", 0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let kek = Arc::new(tresor_crypto::LocalKek::generate().unwrap());
    let seen = rt.block_on(async move {
        tokio::spawn(async move {
            let b: Arc<dyn Backend> = Arc::new(PostgresBackend::connect(&url).unwrap());
            let s = tresor_store::Store::open(b, kek, "w").unwrap();
            let mut n = tresor_store::NewObject::new(tresor_store::ObjectType::SecretData);
            n.names.push("on-worker".into());
            n.material = Some(b"w".to_vec());
            let uid = s.create(n).unwrap().uid;
            let m = s.get(&uid).unwrap().unwrap();
            let v = s.material(&m, 0).unwrap().expose().to_vec();
            drop(s);
            v
        })
        .await
        .unwrap()
    });
    assert_eq!(seen, b"w");
}
