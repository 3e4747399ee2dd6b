//! Group commit under SIGKILL (issue 19), SQLite: 16 KMIP connections × 500 Creates while
//! `tresor kmip serve` is killed at a random instant. After each kill: every Create a client
//! saw acknowledged is in the store, no name is there twice, and the audit chain verifies
//! (the checks of `common/group_kill.rs`). The PostgreSQL form is `kmip_group_commit_pg.rs`.
//!
//! Trials: `TRESOR_GC_KILL_TRIALS` (default 6 in the test command); the full form,
//! `bench/faults/group_kill.sh`, runs 200 (results in RELIABILITY.md). A new vault every
//! `TRESOR_GC_KILL_FRESH_EVERY` trials (default: never), so the checks stay linear in a long
//! run; until then each check covers every trial since. `TRESOR_FAULTS_SEED` replays the
//! printed seed of the kill instants.

#[path = "common/group_kill.rs"]
mod group_kill;
mod support;
#[path = "common/test_logs.rs"]
mod test_logs;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use group_kill::{PER_WRITER, Tally, WRITERS};
use support::{Rng, env_num, run_ok, tresor};

#[test]
fn acknowledged_creates_survive_sigkill_of_a_grouping_server() {
    let trials = env_num("TRESOR_GC_KILL_TRIALS", 6) as usize;
    let fresh_every = env_num("TRESOR_GC_KILL_FRESH_EVERY", 0) as usize;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let certs = support::certs(h, "certs");
    let mut rng = Rng::new();
    let started = Instant::now();
    let no_refusals = Arc::new(AtomicBool::new(false));
    let (mut total_acked, mut interrupted, mut all_acked) = (0, 0, Vec::new());
    let mut vault = String::new();
    for trial in 0..trials {
        if trial == 0 || (fresh_every > 0 && trial % fresh_every == 0) {
            vault = h.join(format!("vault-{trial}")).display().to_string();
            let mut init = tresor(h);
            init.args(["--vault", &vault, "init"]);
            run_ok(init);
            all_acked.clear();
        }
        let pre = ["--vault", vault.as_str()];
        let mut server = group_kill::serve(h, &pre, &certs);
        let tally = Arc::new(Tally::default());
        let writers = group_kill::start_writers(&certs, server.port(), trial, &no_refusals, &tally);
        // A kill between 100 and 900 ms into the load.
        std::thread::sleep(Duration::from_millis(rng.range(100, 900)));
        server.kill();
        group_kill::join(writers);
        let acked = std::mem::take(&mut *tally.acked.lock().unwrap());
        interrupted += tally.interrupted.load(Ordering::Relaxed);
        total_acked += acked.len();
        eprintln!(
            "trial {trial}: {} Creates acknowledged before the kill",
            acked.len()
        );
        all_acked.extend(acked);
        // Every acknowledged Create of every trial since the vault was made is there, once.
        group_kill::check(h, &pre, &all_acked, trial);
    }
    eprintln!(
        "RESULT sqlite trials={trials} writers={WRITERS}x{PER_WRITER} acked={total_acked} lost=0 doubled=0 audit=verified writers_interrupted={interrupted} secs={}",
        started.elapsed().as_secs()
    );
    assert!(
        trials == 0 || interrupted > 0,
        "no writer was interrupted: the kills all came after the load ended"
    );
}
