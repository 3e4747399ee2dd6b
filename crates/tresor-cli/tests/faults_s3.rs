//! Fault campaign (issue 17), S3: `tresor` on an `s3://` store reaches moto through
//! bench/faults/s3_fault_proxy.py, which injects one fault of each kind into chosen requests:
//! 500s (retried), a run of 503s (a clear error), a connection reset before the request
//! reaches S3 and one after S3 applied it, or a clean close in its place (the write is neither
//! lost nor doubled), a 2 s stall,
//! and 412 races (real ones: writers racing for one name, and for the audit chain's next
//! slot). After each: every name is stored once, the audit chain verifies
//! and holds one entry per acknowledged write.
//!
//! Needs `TRESOR_TEST_S3_ENDPOINT` (tests/peers/moto/start.sh; required under CI) and python3.
#![cfg(feature = "s3")]

mod support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::s3_proxy::{Proxy, User, err};
use support::skip_or_fail;

#[test]
fn s3_faults_of_each_kind() {
    let Some(moto) = std::env::var("TRESOR_TEST_S3_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        skip_or_fail("TRESOR_TEST_S3_ENDPOINT not set (tests/peers/moto/start.sh)");
        return;
    };
    let proxy = Proxy::start(&moto);
    let u = User::new(&moto, &proxy, "kinds");
    u.add_ok("K0", "v0");
    let mut entries = 1;

    // 500 once on the object PUT: object_store retries it.
    proxy.arm(serde_json::json!({"kind": "500", "method": "PUT", "path": "/objects/"}));
    u.add_ok("K500", "v-500");
    entries += 1;
    assert_eq!(proxy.injected("500"), 1);

    // 500 once on a GET: retried too.
    proxy.arm(serde_json::json!({"kind": "500", "method": "GET", "path": "/objects/"}));
    assert_eq!(u.get("K500"), "v-500");
    assert_eq!(proxy.injected("500"), 2);

    // Reset before the PUT reaches S3: not applied, retried once the GET shows nothing.
    proxy.arm(serde_json::json!({"kind": "reset", "method": "PUT", "path": "/objects/"}));
    u.add_ok("Kreset", "v-reset");
    entries += 1;
    // Reset after S3 applied it, on each kind of conditional PUT: the GET finds our own
    // body, so neither an error nor a second copy.
    for (k, path) in [
        ("Kafter-obj", "/objects/"),
        ("Kafter-name", "/names/"),
        ("Kafter-audit", "/audit/"),
    ] {
        proxy.arm(serde_json::json!({"kind": "reset-after", "method": "PUT", "path": path}));
        u.add_ok(k, k);
        entries += 1;
    }
    assert_eq!(proxy.injected("reset"), 1);
    assert_eq!(proxy.injected("reset-after"), 3);
    // The same cut off by a clean close: the HTTP client takes the unanswered request for one
    // never sent and sends it again, so S3's 412 answers our own applied write (a name was
    // once stored twice this way, by chance, when a reset read as a close).
    for (k, path) in [
        ("Kclose-obj", "/objects/"),
        ("Kclose-name", "/names/"),
        ("Kclose-audit", "/audit/"),
    ] {
        proxy.arm(serde_json::json!({"kind": "close-after", "method": "PUT", "path": path}));
        u.add_ok(k, k);
        entries += 1;
    }
    assert_eq!(proxy.injected("close-after"), 3);

    // A 2 s stall: waited for (the client's timeout is 60 s).
    proxy
        .arm(serde_json::json!({"kind": "stall", "method": "PUT", "path": "/objects/", "secs": 2}));
    let t = Instant::now();
    u.add_ok("Kstall", "v-stall");
    entries += 1;
    assert!(t.elapsed() >= Duration::from_secs(2));

    // A run of 503s outlasting the retries: a clear error naming S3, nothing written.
    proxy.arm(
        serde_json::json!({"kind": "503", "method": "PUT", "path": "/objects/", "count": 100}),
    );
    let t = Instant::now();
    let o = u.add("K503", "v");
    let e = err(&o);
    assert!(!o.status.success(), "added through a dead S3");
    assert!(
        e.contains("S3") && !e.contains("panicked"),
        "unclear error: {e}"
    );
    eprintln!(
        "503 × {} in {:.1} s: {}",
        proxy.injected("503"),
        t.elapsed().as_secs_f64(),
        e.trim()
    );
    proxy.disarm();

    let names = u.sound(entries);
    let want = [
        "K0",
        "K500",
        "Kafter-audit",
        "Kafter-name",
        "Kafter-obj",
        "Kclose-audit",
        "Kclose-name",
        "Kclose-obj",
        "Kreset",
        "Kstall",
    ];
    assert_eq!(names, want, "lost or extra names");
    for k in &want[2..8] {
        assert_eq!(&u.get(k), k);
    }
    // The refused name can be written now.
    u.add_ok("K503", "v");
    assert_eq!(u.sound(entries + 1).len(), want.len() + 1);
}

/// Real 412 races: 4 writers add the same name at once (exactly one wins, the others get a
/// clear error, the name is stored once), then 4 writers add 5 different names each at once
/// (their audit appends race for the chain's next slot: all acknowledged, chain linear).
#[test]
fn s3_writers_racing_for_one_name() {
    let Some(moto) = std::env::var("TRESOR_TEST_S3_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        skip_or_fail("TRESOR_TEST_S3_ENDPOINT not set (tests/peers/moto/start.sh)");
        return;
    };
    let proxy = Proxy::start(&moto);
    let u = User::new(&moto, &proxy, "race");
    u.add_ok("seed", "v");
    let children: Vec<_> = (0..4)
        .map(|i| {
            u.cmd(&[
                "add",
                "key",
                "--app",
                "app",
                "--env",
                "dev",
                "SAME",
                &format!("v{i}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let won = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(won, 1, "{:?}", outs.iter().map(err).collect::<Vec<_>>());
    for o in outs.iter().filter(|o| !o.status.success()) {
        let e = err(o);
        assert!(!e.contains("panicked"), "{e}");
        eprintln!("race loser: {}", e.trim());
    }
    assert_eq!(u.sound(2), ["SAME", "seed"]);

    let writers: Vec<_> = (0..4)
        .map(|i| {
            let args: Vec<Vec<String>> = (0..5)
                .map(|j| {
                    ["add", "key", "--app", "app", "--env", "dev"]
                        .iter()
                        .map(|s| (*s).to_owned())
                        .chain([format!("W{i}-{j}"), "v".to_owned()])
                        .collect()
                })
                .collect();
            let cmds: Vec<Command> = args
                .iter()
                .map(|a| {
                    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
                    u.cmd(&refs)
                })
                .collect();
            std::thread::spawn(move || {
                cmds.into_iter()
                    .map(|mut c| c.output().unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for w in writers {
        for o in w.join().unwrap() {
            assert!(o.status.success(), "{}", err(&o));
        }
    }
    assert_eq!(u.sound(22).len(), 22);
    let raced = proxy
        .log()
        .iter()
        .filter(|e| e["status"] == 412 && e["fault"].is_null())
        .count();
    eprintln!("S3 answered 412 to {raced} conditional PUTs of racing writers");
    assert!(raced > 0, "the writers never raced");
}
