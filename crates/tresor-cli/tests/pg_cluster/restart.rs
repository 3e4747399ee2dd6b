//! A PostgreSQL restart under load: requests fail cleanly while it is down and succeed again
//! once it is back, without restarting the server.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tresor_kmip::Tag;
use tresor_kmip::enums::{Operation, ResultReason};

use super::support::*;

#[test]
fn postgres_restart_under_load() {
    let Some(pg) = Cluster::start(false) else {
        return;
    };
    let url = fresh_db(&pg.url, "restart");
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let certs = certs(h);
    let (va, _) = two_vaults(h, &url);
    let mut server = spawn_server(h, &va, &url, &certs);
    let (pid, port) = (server.pid(), server.port());

    /// One request's outcome.
    #[derive(Debug)]
    enum Outcome {
        Ok,
        Kmip(Option<ResultReason>, String),
        Transport(#[allow(dead_code)] String),
    }
    let log: Mutex<Vec<(Instant, Duration, Outcome)>> = Mutex::new(Vec::new());
    let acked: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let count = |f: &dyn Fn(&Outcome) -> bool, since: Instant| {
        log.lock()
            .unwrap()
            .iter()
            .filter(|(t, _, o)| *t >= since && f(o))
            .count()
    };
    let wait_for = |what: &str, n: usize, since: Instant, f: &dyn Fn(&Outcome) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(90);
        while count(f, since) < n {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                log.lock().unwrap().iter().rev().take(5).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let begin = Instant::now();
    std::thread::scope(|s| {
        for t in 0..2 {
            let (certs, log, acked, stop) = (&certs, &log, &acked, &stop);
            s.spawn(move || {
                let kc = kmip_client(certs, port);
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let name = format!("r{t}-{i}");
                    i += 1;
                    let start = Instant::now();
                    let outcome = match kc.call(Operation::CREATE, create_payload(&name)) {
                        Ok(item) if succeeded(&item) => {
                            let u = text_of(&item, Tag::UNIQUE_IDENTIFIER);
                            acked.lock().unwrap().push(u.clone());
                            match kc.call(Operation::GET, vec![uid(&u)]) {
                                Ok(g) if succeeded(&g) => Outcome::Ok,
                                Ok(g) => Outcome::Kmip(
                                    g.result_reason,
                                    g.result_message.unwrap_or_default(),
                                ),
                                Err(e) => Outcome::Transport(e.to_string()),
                            }
                        }
                        Ok(item) => Outcome::Kmip(
                            item.result_reason,
                            item.result_message.unwrap_or_default(),
                        ),
                        Err(e) => Outcome::Transport(e.to_string()),
                    };
                    log.lock().unwrap().push((start, start.elapsed(), outcome));
                    if !matches!(log.lock().unwrap().last(), Some((_, _, Outcome::Ok))) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            });
        }
        wait_for("successes before the outage", 40, begin, &|o| {
            matches!(o, Outcome::Ok)
        });
        let down = Instant::now();
        pg.verb("stop-keep");
        wait_for("errors during the outage", 10, down, &|o| {
            matches!(o, Outcome::Kmip(..))
        });
        let up = Instant::now();
        pg.verb("start-existing");
        wait_for("successes after PostgreSQL returned", 40, up, &|o| {
            matches!(o, Outcome::Ok)
        });
        stop.store(true, Ordering::SeqCst);
    });
    let log = log.into_inner().unwrap();
    let kinds = |f: &dyn Fn(&Outcome) -> bool| log.iter().filter(|(_, _, o)| f(o)).count();
    eprintln!(
        "restart: {} requests answered, {} with a KMIP error during the outage, {} transport errors",
        log.len(),
        kinds(&|o| matches!(o, Outcome::Kmip(..))),
        kinds(&|o| matches!(o, Outcome::Transport(_)))
    );
    for (_, took, o) in &log {
        assert!(
            !matches!(o, Outcome::Transport(_)),
            "a request got no KMIP response: {o:?}"
        );
        assert!(
            *took < Duration::from_secs(12),
            "a request took {took:?}: {o:?}"
        );
        if let Outcome::Kmip(reason, msg) = o {
            assert_eq!(
                *reason,
                Some(ResultReason::PROTECTION_STORAGE_UNAVAILABLE),
                "{msg}"
            );
            assert!(msg.contains("unavailable"), "{msg}");
        }
    }
    assert!(server.running(), "tresor exited: {}", server.log());
    assert_eq!(server.pid(), pid);
    // Everything acknowledged survived the restart.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for u in acked.into_inner().unwrap() {
        let n: i64 = c
            .query_one("SELECT count(*) FROM objects WHERE uid=$1", &[&u])
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "{u} lost");
    }
}
