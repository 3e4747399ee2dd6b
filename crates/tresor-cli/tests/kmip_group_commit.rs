//! Group commit under SIGKILL: 16 KMIP connections create keys while `tresor kmip serve` is
//! killed at a random instant. After each kill: every Create a client saw acknowledged is in
//! the store, no name is there twice, and the audit chain verifies.
//!
//! Trials: `TRESOR_GC_KILL_TRIALS` (default 6 in the test command; the full campaign in
//! BENCHMARKS.md ran 200).

#[path = "common/test_logs.rs"]
mod test_logs;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assert_cmd::Command;
use tresor_kmip::ProtocolVersion;
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{Operation, ResultStatus};
use tresor_testkit::kmip::create_payload;
use tresor_testkit::{DEFAULT_START_TIMEOUT, TestServer, cli};

const WRITERS: usize = 16;
const PER_WRITER: usize = 500;
const V: ProtocolVersion = ProtocolVersion::V1_4;

fn tresor(home: &Path) -> Command {
    Command::from_std(cli::command(assert_cmd::cargo::cargo_bin("tresor"), home))
}

fn serve(home: &Path, certs: &Path) -> TestServer {
    let mut cmd = cli::command(assert_cmd::cargo::cargo_bin("tresor"), home);
    cli::kmip_serve(&mut cmd, certs).stdout(Stdio::null());
    TestServer::start_with(&mut cmd, DEFAULT_START_TIMEOUT, test_logs::tee)
}

/// One writer: Creates until the server goes away; returns the names acknowledged.
fn writer(certs: &Path, port: u16, prefix: String, stop: Arc<AtomicBool>) -> Vec<String> {
    let mut cfg = ClientConfig::new(
        "127.0.0.1",
        certs.join("client.crt"),
        certs.join("client.key"),
        certs.join("ca.crt"),
    );
    cfg.port = port;
    cfg.protocol_version = V;
    cfg.connect_timeout = Duration::from_secs(5);
    cfg.request_timeout = Duration::from_secs(20);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Ok(client) = KmipClient::new(cfg) else {
        return Vec::new();
    };
    let mut acked = Vec::new();
    for i in 0..PER_WRITER {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let name = format!("{prefix}-{i}");
        match rt.block_on(client.call(Operation::CREATE, create_payload(&name))) {
            Ok(item) if item.result_status == ResultStatus::SUCCESS => acked.push(name),
            // A refusal while the server is up is a bug, not a kill.
            Ok(item) => panic!(
                "Create {name} refused: {:?} {:?}",
                item.result_reason, item.result_message
            ),
            Err(_) => break,
        }
    }
    acked
}

/// Names in the store (`tresor list --json`, keys created over KMIP show under app `kmip`),
/// with how many objects carry each.
fn stored_names(home: &Path) -> HashMap<String, usize> {
    let out = tresor(home)
        .args(["list", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    let mut n = HashMap::new();
    for s in all {
        if let Some(k) = s["key"].as_str() {
            *n.entry(k.to_owned()).or_insert(0) += 1;
        }
    }
    n
}

#[test]
fn acknowledged_creates_survive_sigkill_of_a_grouping_server() {
    let trials: usize = std::env::var("TRESOR_GC_KILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let certs = h.join("certs");
    tresor(h)
        .args(["kmip", "certs", "init"])
        .arg(&certs)
        .assert()
        .success();
    tresor(h).args(["init"]).assert().success();
    // A seed from the clock: each run kills at other instants; printed to replay a failure.
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    eprintln!("kill-instant seed {seed}");
    let all_acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut killed_mid_load = 0;
    for trial in 0..trials {
        let mut server = serve(h, &certs);
        let port = server.port();
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..WRITERS)
            .map(|w| {
                let certs = certs.clone();
                let stop = stop.clone();
                let prefix = format!("gc{trial}w{w}");
                std::thread::spawn(move || writer(&certs, port, prefix, stop))
            })
            .collect();
        // xorshift: a kill between 100 and 900 ms into the load.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(100 + seed % 800));
        server.child_mut().kill().expect("SIGKILL the server");
        server.wait();
        stop.store(true, Ordering::Relaxed);
        let mut acked_now = 0;
        for t in threads {
            let acked = t.join().expect("writer panicked");
            if acked.len() < PER_WRITER {
                killed_mid_load += 1;
            }
            acked_now += acked.len();
            all_acked.lock().unwrap().extend(acked);
        }
        eprintln!("trial {trial}: {acked_now} Creates acknowledged before the kill");
        // Every acknowledged Create of every trial so far is there, once.
        let stored = stored_names(h);
        for name in all_acked.lock().unwrap().iter() {
            assert_eq!(
                stored.get(name),
                Some(&1),
                "trial {trial}: acknowledged Create '{name}' lost or doubled"
            );
        }
        assert!(
            stored.values().all(|n| *n == 1),
            "trial {trial}: a name is stored twice"
        );
        tresor(h).args(["audit", "--verify"]).assert().success();
    }
    assert!(
        killed_mid_load > 0,
        "no writer was interrupted: the kills all came after the load ended"
    );
}
