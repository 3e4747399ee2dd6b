//! Fault campaign (issue 17), SIGKILL: `tresor kmip serve` is killed at a random instant while
//! 4 connections run Create/Destroy load. After each kill the store opens (`tresor list`),
//! the audit chain verifies (`tresor audit --verify`), every Create a client saw acknowledged
//! is there exactly once, and every acknowledged Destroy stays destroyed.
//!
//! Reduced form in the test command: `TRESOR_FAULT_KILL_TRIALS` (default 50) trials, each
//! killed 30..`TRESOR_FAULT_KILL_MAX_MS` (default 400) ms into its load. The full campaign is
//! `bench/faults/kill.sh` (≥ 1,000 trials on a release build, `TRESOR_FAULTS_BIN`), a fresh
//! store every `TRESOR_FAULT_KILL_FRESH_EVERY` trials (default: never) so the audit check
//! stays linear. Results: RELIABILITY.md.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::{Kc, Rng, certs, create_payload, env_num, run_ok, serve_args, tresor, uid, uid_of};
use tresor_kmip::enums::{Operation, ResultStatus};

const CONNECTIONS: usize = 4;

/// What one connection saw acknowledged.
#[derive(Default)]
struct Seen {
    /// Creates acknowledged: name → uid.
    created: Vec<(String, String)>,
    /// Names whose Destroy was sent (acknowledged or not).
    destroy_sent: Vec<String>,
    /// Names whose Destroy was acknowledged.
    destroyed: Vec<String>,
    /// Requests refused by a running server (must stay 0).
    refused: Vec<String>,
}

/// One connection: Create, and every other Create also Destroy the key created before,
/// until the server goes away or `stop`.
fn load(certs: &Path, port: u16, prefix: &str, stop: &AtomicBool) -> Seen {
    let mut seen = Seen::default();
    let Ok(kc) = Kc::new(certs, "client", port, support::V, Duration::from_secs(20)) else {
        return seen;
    };
    let mut pending: Option<(String, String)> = None;
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let name = format!("{prefix}-{i}");
        match kc.call(Operation::CREATE, create_payload(&name)) {
            Ok(item) if item.result_status == ResultStatus::SUCCESS => {
                let u = uid_of(&item);
                seen.created.push((name.clone(), u.clone()));
                if i % 2 == 1 {
                    pending = Some((name, u));
                }
            }
            Ok(item) => {
                seen.refused.push(format!(
                    "Create {name}: {:?} {:?}",
                    item.result_reason, item.result_message
                ));
                break;
            }
            Err(_) => break,
        }
        if let Some((name, u)) = pending.take() {
            seen.destroy_sent.push(name.clone());
            match kc.call(Operation::DESTROY, vec![uid(&u)]) {
                Ok(item) if item.result_status == ResultStatus::SUCCESS => {
                    seen.destroyed.push(name)
                }
                Ok(item) => {
                    seen.refused.push(format!(
                        "Destroy {name}: {:?} {:?}",
                        item.result_reason, item.result_message
                    ));
                    break;
                }
                Err(_) => break,
            }
        }
    }
    seen
}

fn is_live(state: &str) -> bool {
    !state.to_ascii_lowercase().contains("destroyed")
}

struct Store {
    _dir: tempfile::TempDir,
    home: PathBuf,
    certs: PathBuf,
    /// name → (acknowledged Create, Destroy sent, Destroy acknowledged).
    names: BTreeMap<String, (bool, bool, bool)>,
}

impl Store {
    fn new() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_owned();
        let certs = certs(&home, "certs");
        let mut c = tresor(&home);
        c.args(["init"]);
        run_ok(c);
        Store {
            _dir: dir,
            home,
            certs,
            names: BTreeMap::new(),
        }
    }
}

#[test]
fn acknowledged_creates_and_destroys_survive_sigkill_under_load() {
    let trials = env_num("TRESOR_FAULT_KILL_TRIALS", 50);
    let max_ms = env_num("TRESOR_FAULT_KILL_MAX_MS", 400).max(31);
    let fresh_every = env_num("TRESOR_FAULT_KILL_FRESH_EVERY", 0);
    let mut rng = Rng::new();
    let mut store = Store::new();
    let (mut acked_creates, mut acked_destroys, mut interrupted) = (0usize, 0usize, 0usize);
    let (mut check_time, mut trial_time) = (Duration::ZERO, Duration::ZERO);
    let started = Instant::now();
    for trial in 0..trials {
        if fresh_every > 0 && trial > 0 && trial % fresh_every == 0 {
            store = Store::new();
        }
        let t0 = Instant::now();
        let mut server = support::spawn_server(&store.home, &[], &serve_args(&store.certs), &[]);
        let port = server.port();
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                let certs = store.certs.clone();
                let stop = stop.clone();
                std::thread::spawn(move || load(&certs, port, &format!("k{trial}c{c}"), &stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.range(30, max_ms)));
        assert!(
            server.running(),
            "trial {trial}: server exited on its own: {}",
            server.log()
        );
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            let seen = t.join().expect("load thread panicked");
            assert!(
                seen.refused.is_empty(),
                "trial {trial}: a running server refused: {:?}",
                seen.refused
            );
            interrupted += 1;
            acked_creates += seen.created.len();
            acked_destroys += seen.destroyed.len();
            for (n, _) in seen.created {
                store.names.entry(n).or_default().0 = true;
            }
            for n in seen.destroy_sent {
                store.names.entry(n).or_default().1 = true;
            }
            for n in seen.destroyed {
                store.names.entry(n).or_default().2 = true;
            }
        }
        trial_time += t0.elapsed();
        let t1 = Instant::now();
        // The store opens, and holds what was acknowledged.
        let stored = support::stored(&store.home, &[]);
        for (name, (created, destroy_sent, destroyed)) in &store.names {
            let states = stored.get(name).map(Vec::as_slice).unwrap_or(&[]);
            assert!(
                states.len() <= 1,
                "trial {trial}: '{name}' stored {} times",
                states.len()
            );
            if *destroyed {
                assert!(
                    states.iter().all(|s| !is_live(s)),
                    "trial {trial}: acknowledged Destroy of '{name}' undone: {states:?}"
                );
            } else if *created && !destroy_sent {
                assert!(
                    states.iter().any(|s| is_live(s)),
                    "trial {trial}: acknowledged Create '{name}' lost: {states:?}"
                );
            }
        }
        let mut audit = tresor(&store.home);
        audit.args(["audit", "--verify"]);
        run_ok(audit);
        check_time += t1.elapsed();
    }
    eprintln!(
        "{trials} kills in {:.1} s: {acked_creates} Creates and {acked_destroys} Destroys \
         acknowledged, {interrupted} connections cut, none lost; load+kill {:.1} s, checks {:.1} s",
        started.elapsed().as_secs_f64(),
        trial_time.as_secs_f64(),
        check_time.as_secs_f64()
    );
    println!(
        "RESULT kill trials={trials} acked_creates={acked_creates} acked_destroys={acked_destroys} lost=0"
    );
    assert!(
        acked_creates > 0,
        "no Create acknowledged in any trial: the kills came before the load"
    );
}
