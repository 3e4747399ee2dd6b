//! Offboarding through the real binary: a scripted scenario gives bob secrets by export, by
//! KMIP grants (current, and one revoked since) and by a read in a KMIP audit log;
//! `tresor access-report bob` lists exactly those, and `tresor users rm bob --rotate` removes
//! him, revokes his grants, rotates the one secret with a rotator and lists the rest.

const REMOTE: bool = false;

#[path = "vault/macros.rs"]
#[allow(unused_macros)]
mod macros;
#[path = "vault/util.rs"]
#[allow(dead_code)]
mod util;

use std::collections::BTreeMap;

use serde_json::Value;
use util::{TestVault, contains_all};

fn uid(tv: &TestVault, name: &str) -> String {
    let v: Value = serde_json::from_str(&tv.run(["list", name, "--json"])).unwrap();
    v[0]["uid"].as_str().unwrap().to_owned()
}

fn grant(tv: &TestVault, name: &str, who: &str, ops: &str) {
    let u = uid(tv, name);
    tv.run(["kmip", "grant", &u, who, ops]);
}

/// name -> access kinds, from `access-report --json`.
fn kinds(report: &Value) -> BTreeMap<String, Vec<String>> {
    report["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut k: Vec<String> = s["accesses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["kind"].as_str().unwrap().to_owned())
                .collect();
            k.sort();
            k.dedup();
            (s["name"].as_str().unwrap().to_owned(), k)
        })
        .collect()
}

fn scenario() -> TestVault {
    let alice = TestVault::with_user("alice");
    let bob = TestVault::with_user("bob");
    let carol = TestVault::with_user("carol");
    for (u, tv) in [("bob", &bob), ("carol", &carol)] {
        alice.run(["add", "user", "--username", u, "--pubkey", &tv.public_key()]);
    }
    for (app, env, key) in [
        ("app", "dev", "DB_PASS"),
        ("app", "dev", "DB_USER"),
        ("app", "prod", "DB_PASS"),
        ("app", "prod", "API_KEY"),
        ("app", "prod", "LOCATE_ONLY"),
        ("app", "prod", "WAS_GRANTED"),
        ("other", "x", "LOGGED"),
        ("other", "x", "UNTOUCHED"),
    ] {
        alice.add(app, env, key, &format!("{app}-{env}-{key}-value"));
    }
    // Exports: app:dev: to bob, app:prod: to carol (not bob).
    alice.run([
        "export",
        "--to",
        "bob",
        "-f",
        "app:dev:",
        "-o",
        "bob.tresor",
    ]);
    alice.run([
        "export",
        "--to",
        "carol",
        "-f",
        "app:prod:",
        "-o",
        "carol.tresor",
    ]);
    // The export really reaches bob.
    bob.run([
        "add",
        "user",
        "--username",
        "alice",
        "--pubkey",
        &alice.public_key(),
    ]);
    std::fs::copy(alice.path("bob.tresor"), bob.path("bob.tresor")).unwrap();
    bob.run(["load", "bob.tresor", "--from", "alice"]);
    // KMIP grants on the same store: a read grant, a locate-only grant (no read), and a read
    // grant revoked since (bob could read while it held).
    grant(&alice, "app:prod:API_KEY", "bob", "get,locate");
    grant(&alice, "app:prod:LOCATE_ONLY", "bob", "locate");
    grant(&alice, "app:prod:WAS_GRANTED", "bob", "get");
    grant(&alice, "app:prod:WAS_GRANTED", "bob", "none");
    grant(&alice, "other:x:UNTOUCHED", "carol", "all");
    // A KMIP server audit log (the format of `tresor kmip serve --audit-log`): bob read
    // other:x:LOGGED; a failed read and carol's read do not count.
    let logged = uid(&alice, "other:x:LOGGED");
    let untouched = uid(&alice, "other:x:UNTOUCHED");
    alice.write(
        "kmip-audit.jsonl",
        format!(
            concat!(
                "{{\"time\":\"2026-12-06T05:40:01Z\",\"identity\":\"bob\",\"op\":\"Get\",\"kind\":\"read\",\"uid\":\"{l}\",\"result\":\"success\"}}\n",
                "{{\"time\":\"2026-12-06T05:40:02Z\",\"identity\":\"bob\",\"op\":\"Get\",\"kind\":\"read\",\"uid\":\"{u}\",\"result\":\"failure\",\"reason\":\"PermissionDenied\"}}\n",
                "{{\"time\":\"2026-12-06T05:40:03Z\",\"identity\":\"carol\",\"op\":\"Get\",\"kind\":\"read\",\"uid\":\"{u}\",\"result\":\"success\"}}\n",
            ),
            l = logged,
            u = untouched
        ),
    );
    alice
}

#[test]
fn access_report_lists_exactly_what_bob_was_given() {
    let alice = scenario();
    let r: Value = serde_json::from_str(&alice.run([
        "access-report",
        "bob",
        "--audit-log",
        "kmip-audit.jsonl",
        "--json",
    ]))
    .unwrap();
    let got = kinds(&r);
    let want: BTreeMap<String, Vec<String>> = [
        ("app:dev:DB_PASS", vec!["export"]),
        ("app:dev:DB_USER", vec!["export"]),
        ("app:prod:API_KEY", vec!["grant", "past-grant"]),
        ("app:prod:WAS_GRANTED", vec!["past-grant"]),
        ("other:x:LOGGED", vec!["read"]),
    ]
    .into_iter()
    .map(|(n, k)| (n.to_owned(), k.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(got, want, "{r:#}");
    assert_eq!(r["unknown_exports"], serde_json::json!([]));
    // Carol's report is hers: the prod export and the grant.
    let c: Value = serde_json::from_str(&alice.run(["access-report", "carol", "--json"])).unwrap();
    let names: Vec<String> = kinds(&c).into_keys().collect();
    assert_eq!(
        names,
        [
            "app:prod:API_KEY",
            "app:prod:DB_PASS",
            "app:prod:LOCATE_ONLY",
            "app:prod:WAS_GRANTED",
            "other:x:UNTOUCHED"
        ]
    );
    // The table form; nobody else: exit 1.
    let t = alice.run(["access-report", "bob"]);
    contains_all(
        &t,
        &["SECRET", "app:dev:DB_PASS", "export", "app:prod:API_KEY"],
    );
    assert!(!t.contains("value"), "{t}");
    alice.fail(1, ["access-report", "dave"]);
}

#[test]
fn users_rm_rotate_removes_revokes_and_rotates() {
    let alice = scenario();
    // One of bob's secrets has a rotator (exec: tresor makes the value, the script applies it).
    let s = alice.write("rot.sh", "#!/bin/sh\ncat >/dev/null\nexit 0\n");
    std::fs::set_permissions(&s, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    alice.run([
        "rotator",
        "set",
        "app:dev:DB_PASS",
        "exec",
        "--command",
        s.to_str().unwrap(),
    ]);
    let before = alice.get("app:dev:DB_PASS");
    let r: Value =
        serde_json::from_str(&alice.run(["users", "rm", "bob", "--rotate", "--yes", "--json"]))
            .unwrap();
    assert_eq!(r["removed"], true, "{r:#}");
    assert_eq!(r["revoked_grants"], serde_json::json!(["app:prod:API_KEY"]));
    let status: BTreeMap<String, String> = r["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(status["app:dev:DB_PASS"], "rotated v1 -> v2", "{r:#}");
    for n in [
        "app:dev:DB_USER",
        "app:prod:API_KEY",
        "app:prod:WAS_GRANTED",
    ] {
        assert!(status[n].starts_with("rotate by hand"), "{n}: {r:#}");
    }
    assert_eq!(status.len(), 4);
    assert_ne!(alice.get("app:dev:DB_PASS"), before);
    // bob is gone, and his grant with him.
    assert!(!alice.run(["users"]).contains("bob"));
    let after: Value =
        serde_json::from_str(&alice.run(["access-report", "bob", "--json"])).unwrap();
    assert_eq!(
        kinds(&after)["app:prod:API_KEY"],
        ["past-grant"],
        "{after:#}"
    );
    // The vault owner cannot be removed; an unknown user is an error.
    alice.fail(2, ["users", "rm", "alice", "--yes"]);
    alice.fail(2, ["users", "rm", "dave", "--yes"]);
}
