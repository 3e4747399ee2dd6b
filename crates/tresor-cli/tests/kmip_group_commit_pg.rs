//! Group commit under SIGKILL (issue 19), PostgreSQL: `tresor kmip serve --store
//! postgres://…` on a PostgreSQL cluster of the test's own, 16 KMIP connections × 500
//! Creates, SIGKILL of the server at a random instant; in every other trial PostgreSQL
//! crashes too (`pg_ctl stop -m immediate`: no checkpoint, crash recovery at the next
//! start), alternately
//! - while tresor is still up, under the load: Creates are refused while it is down, and
//!   succeed again after it is back without a restart of tresor (checked), then tresor is
//!   killed;
//! - while tresor is down, after its kill.
//!
//! After each trial: every Create a client saw acknowledged is stored exactly once, no name
//! twice, `tresor audit --verify` passes (`common/group_kill.rs`).
//!
//! Trials: `TRESOR_GC_PG_KILL_TRIALS` (default 4 in the test command: one of each kind and
//! one more plain kill); the full form, `bench/faults/group_kill.sh`, runs 200 (results in
//! RELIABILITY.md). A new database every `TRESOR_GC_KILL_FRESH_EVERY` trials (default: never).
//! `TRESOR_FAULTS_SEED` replays the printed seed. Needs PostgreSQL server binaries
//! (scripts/pg.sh; required under CI).

#[path = "common/group_kill.rs"]
mod group_kill;
mod support;
#[path = "common/test_logs.rs"]
mod test_logs;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use group_kill::{PER_WRITER, Tally, WRITERS};
use support::{Cluster, Rng, env_num, run_ok, tresor, wait_until};

/// What happens to PostgreSQL in a trial (by `trial % 4`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Pg {
    /// Nothing: only tresor is killed.
    Untouched,
    /// Crashes and restarts under the load, tresor up.
    CrashWhileServing,
    /// Crashes and restarts after tresor's kill, before the next start.
    CrashWhileDown,
}

impl Pg {
    fn of(trial: usize) -> Pg {
        match trial % 4 {
            1 => Pg::CrashWhileServing,
            3 => Pg::CrashWhileDown,
            _ => Pg::Untouched,
        }
    }
}

/// `pg.sh crash` (immediate shutdown) then `pg.sh start-existing` (crash recovery); how
/// long PostgreSQL was down.
fn crash_and_restart(pg: &Cluster, down_ms: u64) -> Duration {
    let t = Instant::now();
    pg.verb("crash");
    std::thread::sleep(Duration::from_millis(down_ms));
    pg.verb("start-existing");
    t.elapsed()
}

/// A new database on the cluster; its URL.
fn database(pg: &Cluster, name: &str) -> String {
    let mut c = postgres::Client::connect(&pg.url, postgres::NoTls).expect("connect");
    c.batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("CREATE DATABASE");
    let (base, _) = pg.url.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{name}")
}

#[test]
fn acknowledged_creates_survive_sigkill_and_postgres_crashes() {
    let Some(pg) = Cluster::start(false) else {
        return;
    };
    let trials = env_num("TRESOR_GC_PG_KILL_TRIALS", 4) as usize;
    let fresh_every = env_num("TRESOR_GC_KILL_FRESH_EVERY", 0) as usize;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let certs = support::certs(h, "certs");
    let mut rng = Rng::new();
    let started = Instant::now();
    let (mut total_acked, mut interrupted, mut all_acked) = (0, 0, Vec::new());
    let (mut crashes, mut refused, mut recover_ms_max) = (0, 0, 0);
    let (mut vault, mut url) = (String::new(), String::new());
    for trial in 0..trials {
        if trial == 0 || (fresh_every > 0 && trial % fresh_every == 0) {
            vault = h.join(format!("vault-{trial}")).display().to_string();
            url = database(&pg, &format!("gc_{trial}"));
            let mut init = tresor(h);
            init.args(["--vault", &vault, "--store", &url])
                .args(["init", "--user", "server@test"]);
            run_ok(init);
            all_acked.clear();
        }
        let pre = ["--vault", vault.as_str(), "--store", url.as_str()];
        let what = Pg::of(trial);
        let mut server = group_kill::serve(h, &pre, &certs);
        let tally = Arc::new(Tally::default());
        let refusals_ok = Arc::new(AtomicBool::new(false));
        let writers = group_kill::start_writers(&certs, server.port(), trial, &refusals_ok, &tally);
        std::thread::sleep(Duration::from_millis(rng.range(100, 900)));
        if what == Pg::CrashWhileServing {
            refusals_ok.store(true, Ordering::Relaxed);
            let down = crash_and_restart(&pg, rng.range(0, 500));
            let up = Instant::now();
            assert!(
                wait_until(30, || tally.ok_since(up)),
                "trial {trial}: no Create succeeded within 30 s of PostgreSQL's restart ({} acknowledged, {} refused); server log:\n{}",
                tally.acked(),
                tally.refused.load(Ordering::Relaxed),
                server.log()
            );
            let back = up.elapsed();
            assert!(server.running(), "tresor died with PostgreSQL");
            recover_ms_max = recover_ms_max.max(back.as_millis());
            eprintln!(
                "trial {trial}: PostgreSQL down {down:?}, Creates acknowledged again {back:?} after it was up"
            );
            crashes += 1;
            // The kill comes a little later, under the load again.
            std::thread::sleep(Duration::from_millis(rng.range(0, 300)));
        }
        server.kill();
        group_kill::join(writers);
        if what == Pg::CrashWhileDown {
            crash_and_restart(&pg, rng.range(0, 500));
            crashes += 1;
        }
        let acked = std::mem::take(&mut *tally.acked.lock().unwrap());
        interrupted += tally.interrupted.load(Ordering::Relaxed);
        refused += tally.refused.load(Ordering::Relaxed);
        total_acked += acked.len();
        eprintln!(
            "trial {trial} ({what:?}): {} Creates acknowledged, {} refused",
            acked.len(),
            tally.refused.load(Ordering::Relaxed)
        );
        all_acked.extend(acked);
        group_kill::check(h, &pre, &all_acked, trial);
    }
    eprintln!(
        "RESULT postgres trials={trials} pg_crashes={crashes} writers={WRITERS}x{PER_WRITER} acked={total_acked} lost=0 doubled=0 audit=verified refused_while_pg_down={refused} recover_ms_max={recover_ms_max} writers_interrupted={interrupted} secs={}",
        started.elapsed().as_secs()
    );
    assert!(
        trials == 0 || interrupted > 0,
        "no writer was interrupted: the kills all came after the load ended"
    );
}
