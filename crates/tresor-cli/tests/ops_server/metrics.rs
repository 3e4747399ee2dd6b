//! `/metrics` counts the requests made; `/healthz` answers; `/readyz` follows PostgreSQL.

use std::time::{Duration, Instant};

use tresor_kmip::enums::{Operation, ResultStatus};

use super::support::*;

/// `/metrics` parses as Prometheus text and counts the requests made; `/healthz` answers;
/// `/readyz` turns unready when PostgreSQL stops and ready again when it is back.
#[test]
fn metrics_count_requests_and_readyz_follows_postgres() {
    let Some(pg) = Cluster::start(false) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let certs = certs(home.path(), "certs");
    let vault = home.path().join("vault");
    let mut init = tresor(home.path());
    init.arg("--vault")
        .arg(&vault)
        .args(["--store", &pg.url, "init", "--user", "server@test"]);
    run_ok(init);
    let mut args = serve_args(&certs);
    args.extend(["--metrics-listen".into(), "127.0.0.1:0".into()]);
    let server = Server::spawn(
        home.path(),
        &["--vault", vault.to_str().unwrap(), "--store", &pg.url],
        &args,
        &[],
    );
    let maddr = server.metrics.clone().expect("metrics address");
    let kc = kmip_client(&certs, "client", server.port, V);
    let mut uids = Vec::new();
    for i in 0..5 {
        uids.push(uid_of(
            &kc.ok(Operation::CREATE, create_payload(&format!("m{i}"))),
        ));
    }
    for u in &uids[..3] {
        kc.ok(Operation::GET_ATTRIBUTES, vec![uid(u)]);
    }
    // A failure: Get of an object that does not exist.
    let missing = kc
        .call(Operation::GET, vec![uid("no-such-object")])
        .unwrap();
    assert_eq!(missing.result_status, ResultStatus::OPERATION_FAILED);

    let (status, text) = http_get(&maddr, "/metrics");
    assert_eq!(status, 200, "{text}");
    let count = |op, result| {
        sample(
            &text,
            "tresor_kmip_requests_total",
            &[("operation", op), ("result", result)],
        )
    };
    assert_eq!(count("Create", "Success"), Some(5.0), "{text}");
    assert_eq!(count("GetAttributes", "Success"), Some(3.0), "{text}");
    assert_eq!(count("Get", "ItemNotFound"), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "tresor_kmip_open_connections", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "tresor_kmip_request_duration_seconds_count",
            &[("operation", "Create"), ("result", "Success")]
        ),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "tresor_store_commit_duration_seconds_count", &[]),
        Some(5.0),
        "{text}"
    );
    assert!(
        sample(&text, "tresor_audit_chain_length", &[]).unwrap() >= 5.0,
        "{text}"
    );
    assert_eq!(http_get(&maddr, "/healthz").0, 200);
    let (s, body) = http_get(&maddr, "/readyz");
    assert_eq!(s, 200, "{body}");

    // PostgreSQL stops: not ready (the process still lives); back: ready again.
    pg.verb("stop-keep");
    let t = Instant::now();
    loop {
        let (s, body) = http_get(&maddr, "/readyz");
        if s == 503 {
            assert!(body.contains("store"), "{body}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "still ready: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(http_get(&maddr, "/healthz").0, 200);
    pg.verb("start-existing");
    let t = Instant::now();
    loop {
        let (s, body) = http_get(&maddr, "/readyz");
        if s == 200 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "not ready again: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(server);
}
