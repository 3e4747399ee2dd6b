//! Fault campaign (issue 17), PostgreSQL: `tresor kmip serve` on a PostgreSQL store of the
//! test's own, reached through a TCP proxy, under Create load from 2 connections, while
//! PostgreSQL's backends are killed (`pg_terminate_backend`), the server restarts, and the
//! proxy stops forwarding for 5 s (a network stall). During each outage requests fail with a
//! KMIP error (or wait), never crash the server; after it they succeed again without a restart
//! of tresor; every acknowledged Create is in the store at the end and the audit verifies.
//!
//! Needs PostgreSQL server binaries (scripts/pg.sh; required under CI).

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Cluster, Kc, certs, create_payload, run_ok, serve_args, tresor};
use tresor_kmip::enums::{Operation, ResultStatus};

/// A TCP proxy that stops forwarding (both ways, connections kept open) while `stalled`.
struct StallProxy {
    port: u16,
    stalled: Arc<AtomicBool>,
}

fn pump(mut from: TcpStream, mut to: TcpStream, stalled: Arc<AtomicBool>) {
    from.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if stalled.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

impl StallProxy {
    fn start(upstream: u16) -> StallProxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let stalled = Arc::new(AtomicBool::new(false));
        let s = stalled.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(c) = c else { continue };
                let Ok(u) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (c2, u2) = (c.try_clone().unwrap(), u.try_clone().unwrap());
                let (s1, s2) = (s.clone(), s.clone());
                std::thread::spawn(move || pump(c, u, s1));
                std::thread::spawn(move || pump(u2, c2, s2));
            }
        });
        StallProxy { port, stalled }
    }
}

/// What the load saw, per outcome.
#[derive(Default)]
struct Tally {
    acked: Mutex<Vec<String>>,
    /// KMIP error responses (the clean failure).
    refused: AtomicUsize,
    /// Transport errors (connection lost, client timeout).
    transport: AtomicUsize,
    /// Slowest answer, ms.
    max_ms: AtomicUsize,
    /// Time of the last success.
    last_ok: Mutex<Option<Instant>>,
}

fn load(certs: std::path::PathBuf, port: u16, c: usize, stop: Arc<AtomicBool>, t: Arc<Tally>) {
    let mut kc = Kc::new(&certs, "client", port, support::V, Duration::from_secs(30)).unwrap();
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let name = format!("pg-c{c}-{i}");
        let t0 = Instant::now();
        let r = kc.call(Operation::CREATE, create_payload(&name));
        t.max_ms.fetch_max(
            usize::try_from(t0.elapsed().as_millis()).unwrap(),
            Ordering::Relaxed,
        );
        match r {
            Ok(item) if item.result_status == ResultStatus::SUCCESS => {
                t.acked.lock().unwrap().push(name);
                *t.last_ok.lock().unwrap() = Some(Instant::now());
            }
            Ok(_) => {
                t.refused.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(_) => {
                t.transport.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
                if let Ok(k) = Kc::new(&certs, "client", port, support::V, Duration::from_secs(30))
                {
                    kc = k;
                }
            }
        }
    }
}

/// Waits (up to 60 s) for a success after `since`; the time it took.
fn recovered(t: &Tally, since: Instant, what: &str) -> Duration {
    let ok = support::wait_until(60, || t.last_ok.lock().unwrap().is_some_and(|l| l > since));
    assert!(ok, "no Create succeeded within 60 s after {what}");
    t.last_ok.lock().unwrap().unwrap() - since
}

fn terminate_backends(url: &str) -> u64 {
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect to PostgreSQL");
    let rows = c
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
            &[],
        )
        .unwrap();
    rows.len() as u64
}

#[test]
fn postgres_restart_terminate_and_stall_under_load() {
    let Some(pg) = Cluster::start(false) else {
        return;
    };
    let pg_port = pg.port();
    let proxy = StallProxy::start(pg_port);
    let via_proxy = pg
        .url
        .replace(&format!(":{pg_port}/"), &format!(":{}/", proxy.port));
    assert_ne!(via_proxy, pg.url);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let certs = certs(h, "certs");
    let vault = h.join("vault").display().to_string();
    let pre = ["--vault", vault.as_str(), "--store", via_proxy.as_str()];
    let mut init = tresor(h);
    init.args(pre).args(["init", "--user", "server@test"]);
    run_ok(init);
    let mut server = support::spawn_server(h, &pre, &serve_args(&certs), &[]);
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..2)
        .map(|c| {
            let (certs, stop, t) = (certs.clone(), stop.clone(), tally.clone());
            let port = server.port();
            std::thread::spawn(move || load(certs, port, c, stop, t))
        })
        .collect();
    let base = recovered(&tally, Instant::now(), "start");
    eprintln!("first Create after {base:?}");

    // 1. Every client backend killed.
    let t = Instant::now();
    let killed = terminate_backends(&pg.url);
    let r1 = recovered(&tally, t, "pg_terminate_backend");
    eprintln!("pg_terminate_backend of {killed} backends: Creates succeed again after {r1:?}");

    // 2. PostgreSQL stopped for 3 s, then started again (same port).
    let t = Instant::now();
    pg.verb("stop-keep");
    std::thread::sleep(Duration::from_secs(3));
    let refused_during_stop = tally.refused.load(Ordering::Relaxed);
    pg.verb("start-existing");
    let up = Instant::now();
    let r2 = recovered(&tally, up, "the PostgreSQL restart");
    eprintln!(
        "PostgreSQL down {:?}: {refused_during_stop} Creates refused so far; succeed again {r2:?} after it is up",
        up - t
    );
    assert!(
        server.running(),
        "tresor died with PostgreSQL: {}",
        server.log()
    );

    // 3. The network stalls for 5 s (connections stay open, no byte passes).
    proxy.stalled.store(true, Ordering::Relaxed);
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    proxy.stalled.store(false, Ordering::Relaxed);
    let r3 = recovered(&tally, Instant::now(), "the network stall");
    eprintln!(
        "5 s stall: Creates succeed again {r3:?} after it ends ({:?} after it began)",
        t.elapsed()
    );

    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for th in threads {
        th.join().expect("load thread panicked");
    }
    assert!(server.running(), "tresor died: {}", server.log());
    let log = server.log();
    assert!(!log.contains("panicked"), "server panicked: {log}");
    drop(server);

    let acked = tally.acked.lock().unwrap().clone();
    let stored = support::stored(h, &pre);
    for a in &acked {
        assert_eq!(
            stored.get(a).map(Vec::len),
            Some(1),
            "acknowledged Create '{a}' lost or doubled"
        );
    }
    let mut audit = tresor(h);
    audit.args(pre).args(["audit", "--verify"]);
    run_ok(audit);
    eprintln!(
        "RESULT pg acked={} refused={} transport_errors={} max_latency_ms={} recover_terminate_ms={} recover_restart_ms={} recover_stall_ms={}",
        acked.len(),
        tally.refused.load(Ordering::Relaxed),
        tally.transport.load(Ordering::Relaxed),
        tally.max_ms.load(Ordering::Relaxed),
        r1.as_millis(),
        r2.as_millis(),
        r3.as_millis()
    );
    assert!(
        tally.refused.load(Ordering::Relaxed) > 0,
        "no Create failed while PostgreSQL was down: the outage was not seen"
    );
}
