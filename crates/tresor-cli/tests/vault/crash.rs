//! Crashes and concurrency: `tresor add` / `tresor importenv` killed with SIGKILL at random
//! instants, and four processes writing at once.
//!
//! Kill instants are drawn from 0 ms to a little past how long the command takes (measured
//! first), so kills land before, during and after the write. The schedule's seed is printed;
//! `TRESOR_TEST_SEED=N` replays it.

use std::collections::BTreeMap;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Rng, TestVault};

/// Runs `child` until it exits or `after` passes, then SIGKILLs it. `Some(status)` if it
/// exited by itself (a polling wait, not a sleep: it returns as soon as the child exits).
fn kill_after(mut child: Child, after: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + after;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if Instant::now() >= deadline {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return None;
        }
        std::thread::yield_now();
    }
}

/// `list FILTER --json --reveal` as name -> value; asserts the vault opens.
fn secrets(tv: &TestVault, filter: &str) -> BTreeMap<String, String> {
    let o = tv
        .cmd()
        .args(["list", filter, "--json", "--reveal"])
        .output();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "the vault does not open after a kill: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    if o.status.code() == Some(1) {
        return BTreeMap::new();
    }
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// How long one run of `args` takes here, in ms (at least 30).
fn calibrate(tv: &TestVault, args: &[&str]) -> u64 {
    let t = Instant::now();
    tv.run(args);
    (t.elapsed().as_millis() as u64 * 3 / 2).max(30)
}

fn spawn(tv: &TestVault, args: &[String]) -> Child {
    let mut c = tv.cmd();
    c.args(args);
    c.command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_during_add_loses_no_acknowledged_write() {
    let tv = TestVault::new();
    let mut rng = Rng::new("sigkill_during_add");
    let window = calibrate(
        &tv,
        &["add", "key", "WARMUP", "w", "--app", "c", "--env", "e"],
    );
    let mut acked: BTreeMap<String, String> = BTreeMap::new();
    let (mut killed, trials) = (0, 60);
    for i in 0..trials {
        let (key, value) = (
            format!("K{i}"),
            format!("value-{i}-{}", "x".repeat(i * 37 % 500)),
        );
        let args: Vec<String> = ["add", "key", &key, &value, "--app", "c", "--env", "e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        match kill_after(
            spawn(&tv, &args),
            Duration::from_millis(rng.below(window + 1)),
        ) {
            Some(s) => {
                assert!(s.success(), "trial {i}: add failed without a kill: {s}");
                acked.insert(format!("c:e:{key}"), value.clone());
            }
            None => killed += 1,
        }
        let now = secrets(&tv, "c:e:K*");
        for (name, v) in &acked {
            assert_eq!(
                now.get(name),
                Some(v),
                "trial {i}: acknowledged {name} lost or torn"
            );
        }
        // A killed add is there whole or not at all.
        if let Some(v) = now.get(&format!("c:e:{key}")) {
            assert_eq!(v, &value, "trial {i}: torn value");
        }
    }
    eprintln!(
        "add: {trials} trials, {killed} killed, {} acknowledged",
        acked.len()
    );
    assert!(tv.run(["audit", "--verify"]).contains("intact"));
}

#[test]
fn sigkill_during_importenv_is_all_or_nothing() {
    const N: usize = 25;
    let tv = TestVault::new();
    let mut rng = Rng::new("sigkill_during_importenv");
    let body: String = (0..N)
        .map(|k| format!("KEY_{k}=v{k}-{}\n", "y".repeat(k * 20)))
        .collect();
    tv.write("in.env", &body);
    let window = calibrate(&tv, &["importenv", "in.env", "--app", "warm", "--env", "e"]);
    let (mut killed, mut done, trials) = (0, 0, 50);
    for i in 0..trials {
        let app = format!("imp{i}");
        let args: Vec<String> = ["importenv", "in.env", "--app", &app, "--env", "e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let status = kill_after(
            spawn(&tv, &args),
            Duration::from_millis(rng.below(window + 1)),
        );
        let got = secrets(&tv, &format!("{app}:e:"));
        match status {
            Some(s) => {
                assert!(
                    s.success(),
                    "trial {i}: importenv failed without a kill: {s}"
                );
                assert_eq!(got.len(), N, "trial {i}: acknowledged import incomplete");
                done += 1;
            }
            None => {
                killed += 1;
                assert!(
                    got.is_empty() || got.len() == N,
                    "trial {i}: half an import: {} of {N} keys",
                    got.len()
                );
            }
        }
        for (k, v) in &got {
            let n: usize = k.rsplit('_').next().unwrap().parse().unwrap();
            assert_eq!(v, &format!("v{n}-{}", "y".repeat(n * 20)), "trial {i}: {k}");
        }
    }
    eprintln!("importenv: {trials} trials, {killed} killed, {done} completed");
    assert!(tv.run(["audit", "--verify"]).contains("intact"));
}

#[test]
fn four_processes_adding_at_once_lose_nothing() {
    let tv = TestVault::new();
    std::thread::scope(|s| {
        for p in 0..4 {
            let tv = &tv;
            s.spawn(move || {
                for i in 0..25 {
                    let o = tv
                        .cmd()
                        .args(["add", "key", &format!("K{i}"), &format!("p{p}-{i}")])
                        .args(["--app", &format!("p{p}"), "--env", "e"])
                        .output();
                    assert!(
                        o.status.success(),
                        "process {p} add {i}: {}",
                        String::from_utf8_lossy(&o.stderr)
                    );
                }
            });
        }
    });
    let all = secrets(&tv, ":e:");
    assert_eq!(all.len(), 100);
    for p in 0..4 {
        for i in 0..25 {
            assert_eq!(all[&format!("p{p}:e:K{i}")], format!("p{p}-{i}"));
        }
    }
    assert!(tv.run(["audit", "--verify"]).contains("intact"));
    let audit: serde_json::Value = serde_json::from_str(&tv.run(["audit", "--json"])).unwrap();
    let creates = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "create" && e["detail"].as_str().unwrap().contains(":e:K"))
        .count();
    assert_eq!(creates, 100, "every add is in the audit log once");
}

#[test]
fn concurrent_force_updates_keep_every_version() {
    let tv = TestVault::new();
    tv.add("a", "e", "K", "start");
    std::thread::scope(|s| {
        for p in 0..4 {
            let tv = &tv;
            s.spawn(move || {
                for i in 0..10 {
                    tv.run([
                        "add",
                        "key",
                        "K",
                        &format!("p{p}-{i}"),
                        "--app",
                        "a",
                        "--env",
                        "e",
                        "--force",
                    ]);
                }
            });
        }
    });
    let h: serde_json::Value =
        serde_json::from_str(&tv.run(["history", "a:e:K", "--json", "--reveal"])).unwrap();
    let versions = h["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 41, "a concurrent update lost a version");
    let mut vals: Vec<&str> = versions
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    vals.sort();
    vals.dedup();
    assert_eq!(vals.len(), 41);
}
