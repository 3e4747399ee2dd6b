//! The load and the checks shared by the group-commit kill tests (issue 19):
//! `kmip_group_commit.rs` (SQLite) and `kmip_group_commit_pg.rs` (PostgreSQL). 16 KMIP
//! connections each Create up to 500 keys against `tresor kmip serve` while it is killed;
//! after each kill every Create a client saw acknowledged is stored exactly once, no name is
//! stored twice, and `tresor audit --verify` passes.
//!
//! A test file using it declares `mod support;` and includes this file with `#[path]`.

#![allow(dead_code)] // each test binary uses part of it

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tresor_kmip::enums::{Operation, ResultStatus};
use tresor_testkit::{DEFAULT_START_TIMEOUT, TestServer, cli};

use crate::support::{self, Kc, create_payload, run_ok, tresor};
use crate::test_logs;

/// KMIP connections per trial.
pub const WRITERS: usize = 16;
/// Creates each connection sends per trial (fewer when the server dies first).
pub const PER_WRITER: usize = 500;

/// What a trial's writers saw.
#[derive(Default)]
pub struct Tally {
    /// Names whose Create was acknowledged.
    pub acked: Mutex<Vec<String>>,
    /// KMIP error answers (expected only while PostgreSQL is down).
    pub refused: AtomicUsize,
    /// Writers stopped by the kill before their 500th Create.
    pub interrupted: AtomicUsize,
    /// When the last Create was acknowledged.
    pub last_ok: Mutex<Option<Instant>>,
}

impl Tally {
    /// Whether a Create was acknowledged after `t`.
    pub fn ok_since(&self, t: Instant) -> bool {
        lock(&self.last_ok).is_some_and(|l| l > t)
    }

    /// How many Creates were acknowledged.
    pub fn acked(&self) -> usize {
        lock(&self.acked).len()
    }
}

/// `tresor [pre…] kmip serve` with the test certificates; its log is kept (and copied under
/// `target/test-logs/servers/`).
pub fn serve(home: &Path, pre: &[&str], certs: &Path) -> TestServer {
    let mut cmd = tresor(home);
    cmd.args(pre);
    cli::kmip_serve(&mut cmd, certs).stdout(Stdio::null());
    TestServer::start_with(&mut cmd, DEFAULT_START_TIMEOUT, test_logs::tee)
}

/// Starts [`WRITERS`] writers on `port`, their names prefixed `gc{trial}w{writer}-`. A KMIP
/// error answer while `refusals_ok` is false is a bug (the writer panics); while it is true
/// (PostgreSQL down) it is counted and the writer goes on with its next name. A transport
/// error ends the writer (the server is gone).
pub fn start_writers(
    certs: &Path,
    port: u16,
    trial: usize,
    refusals_ok: &Arc<AtomicBool>,
    tally: &Arc<Tally>,
) -> Vec<JoinHandle<()>> {
    (0..WRITERS)
        .map(|w| {
            let (certs, ok, t) = (certs.to_owned(), refusals_ok.clone(), tally.clone());
            std::thread::spawn(move || writer(&certs, port, &format!("gc{trial}w{w}"), &ok, &t))
        })
        .collect()
}

fn writer(certs: &Path, port: u16, prefix: &str, refusals_ok: &AtomicBool, t: &Tally) {
    let Ok(kc) = Kc::new(certs, "client", port, support::V, Duration::from_secs(20)) else {
        t.interrupted.fetch_add(1, Ordering::Relaxed);
        return;
    };
    for i in 0..PER_WRITER {
        let name = format!("{prefix}-{i}");
        match kc.call(Operation::CREATE, create_payload(&name)) {
            Ok(item) if item.result_status == ResultStatus::SUCCESS => {
                lock(&t.acked).push(name);
                *lock(&t.last_ok) = Some(Instant::now());
            }
            Ok(item) => {
                assert!(
                    refusals_ok.load(Ordering::Relaxed),
                    "Create {name} refused while the store was up: {:?} {:?}",
                    item.result_reason,
                    item.result_message
                );
                t.refused.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => {
                t.interrupted.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// Joins the writers (a writer's panic is the test's).
pub fn join(writers: Vec<JoinHandle<()>>) {
    for w in writers {
        if let Err(p) = w.join() {
            std::panic::resume_unwind(p);
        }
    }
}

/// The checks after a kill, on the vault at `pre`: every name of `acked` stored exactly
/// once, no name stored twice, the audit chain verifies. Returns how many objects the store
/// holds.
pub fn check(home: &Path, pre: &[&str], acked: &[String], trial: usize) -> usize {
    let stored: BTreeMap<String, Vec<String>> = support::stored(home, pre);
    for name in acked {
        assert_eq!(
            stored.get(name).map(Vec::len),
            Some(1),
            "trial {trial}: acknowledged Create '{name}' lost or doubled"
        );
    }
    if let Some((name, states)) = stored.iter().find(|(_, s)| s.len() > 1) {
        panic!("trial {trial}: '{name}' is stored {} times", states.len());
    }
    let mut audit = tresor(home);
    audit.args(pre).args(["audit", "--verify"]);
    run_ok(audit);
    stored.len()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
