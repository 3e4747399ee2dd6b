//! Signals: SIGHUP reloads certificates and limits without dropping connections; SIGTERM
//! drains an in-flight batch, and sd_notify is told READY=1 and STOPPING=1.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::enums::{CryptographicAlgorithm, Operation, ResultStatus};
use tresor_kmip::message::RequestBatchItem;
use tresor_kmip::{Tag, Value};

use super::support::*;

/// SIGHUP with new certificate files: a new connection gets the new certificate (and CA),
/// an open connection keeps working, the new limits apply; a bad new file is logged and the
/// old configuration kept.
#[test]
fn sighup_reloads_certificates_and_limits_without_dropping_connections() {
    let home = tempfile::tempdir().unwrap();
    let a = certs(home.path(), "certs-a");
    let b = certs(home.path(), "certs-b");
    let live = home.path().join("live");
    std::fs::create_dir(&live).unwrap();
    let copy = |from: &Path| {
        for f in ["server.crt", "server.key", "ca.crt"] {
            std::fs::copy(from.join(f), live.join(f)).unwrap();
        }
    };
    copy(&a);
    let conf = live.join("tresor.toml");
    let write_conf = |max: u32| {
        std::fs::write(
            &conf,
            format!(
                "[server]\ncert = \"server.crt\"\nkey = \"server.key\"\nca = \"ca.crt\"\n\
                 [limits]\nmax_batch_items = {max}\n"
            ),
        )
        .unwrap();
    };
    write_conf(64);
    let vault = home.path().join("vault");
    let server = Server::spawn(
        home.path(),
        &["--vault", vault.to_str().unwrap()],
        &["--config".into(), conf.display().to_string()],
        &[],
    );
    let old = kmip_client(&a, "client", server.port, V2);
    let q = || RequestBatchItem::new(Operation::QUERY, vec![]);
    assert!(
        old.batch(vec![q(), q(), q()], V2)
            .iter()
            .all(|i| i.result_status == ResultStatus::SUCCESS)
    );
    // Before the reload, CA B's client is a stranger.
    assert!(
        kmip_client(&b, "client", server.port, V2)
            .call(Operation::QUERY, vec![])
            .is_err()
    );

    copy(&b);
    write_conf(2);
    server.signal("-HUP");
    server.wait_for("reloaded the certificates and CRL");
    // The open connection goes on (a reconnect would fail: its CA is no longer the server's)
    // and the new limit applies to it.
    old.ok(Operation::QUERY, vec![]);
    let r = old.batch(vec![q(), q(), q()], V2);
    assert!(
        r.iter().all(|i| i.result_status != ResultStatus::SUCCESS),
        "the new max_batch_items = 2 applies: {r:?}"
    );
    old.ok(Operation::QUERY, vec![]);
    // A new connection gets the new certificate: CA B's client is served, CA A's is not.
    kmip_client(&b, "client", server.port, V2).ok(Operation::QUERY, vec![]);
    assert!(
        kmip_client(&a, "client", server.port, V2)
            .call(Operation::QUERY, vec![])
            .is_err()
    );

    // A bad new file: logged, the old (B) configuration kept.
    std::fs::write(live.join("server.crt"), "not a certificate\n").unwrap();
    server.signal("-HUP");
    server.wait_for("reload failed");
    kmip_client(&b, "client", server.port, V2).ok(Operation::QUERY, vec![]);
    old.ok(Operation::QUERY, vec![]);
}

fn key_pair(bits: i32) -> RequestBatchItem {
    let mut set = AttributeSet::default();
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::RSA.0),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(bits),
    ));
    RequestBatchItem::new(
        Operation::CREATE_KEY_PAIR,
        vec![set.to_ttlv(V2, Container::Common)],
    )
}

/// NOTIFY_SOCKET receives READY=1 once the server listens; SIGTERM during a long batch: no
/// new connection is taken, the batch finishes and is answered, STOPPING=1 is sent and the
/// process exits 0.
#[test]
fn sigterm_drains_an_in_flight_batch_and_sd_notify_is_told() {
    let home = tempfile::tempdir().unwrap();
    let certs = certs(home.path(), "certs");
    let sock_path = home.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut args = serve_args(&certs);
    args.extend([
        "--max-key-pairs".into(),
        "16".into(),
        "--drain-timeout".into(),
        "120".into(),
    ]);
    let vault = home.path().join("vault");
    let mut server = Server::spawn(
        home.path(),
        &["--vault", vault.to_str().unwrap()],
        &args,
        &[("NOTIFY_SOCKET", sock_path.display().to_string())],
    );
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("a notification");
    let first = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(first.lines().any(|l| l == "READY=1"), "{first}");

    let port = server.port;
    let dir = certs.clone();
    let batch = std::thread::spawn(move || {
        let kc = kmip_client(&dir, "client", port, V2);
        kc.ok(Operation::QUERY, vec![]);
        let sent = Instant::now();
        let items = kc.batch((0..12).map(|_| key_pair(4096)).collect(), V2);
        (sent, Instant::now(), items)
    });
    // Let the batch reach the server, then ask the server to stop.
    std::thread::sleep(Duration::from_millis(700));
    let term = Instant::now();
    server.signal("-TERM");
    server.wait_for("draining");
    // No new connection is taken while it drains.
    let refused = kmip_client(&certs, "client", port, V2).call(Operation::QUERY, vec![]);
    assert!(
        refused.is_err(),
        "a new connection was served while draining"
    );
    let (sent, answered, items) = batch.join().unwrap();
    assert!(sent < term, "the batch was sent before SIGTERM");
    assert!(
        answered > term,
        "the batch was answered before SIGTERM: make it longer"
    );
    assert_eq!(items.len(), 12);
    for i in &items {
        assert_eq!(i.result_status, ResultStatus::SUCCESS, "{i:?}");
    }
    let st = server.wait_exit(120);
    assert!(st.success(), "{st:?}: {}", server.log());
    let mut stopping = false;
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    while let Ok(n) = sock.recv(&mut buf) {
        if String::from_utf8_lossy(&buf[..n])
            .lines()
            .any(|l| l == "STOPPING=1")
        {
            stopping = true;
            break;
        }
    }
    assert!(stopping, "no STOPPING=1");
}
