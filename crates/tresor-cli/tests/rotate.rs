//! `tresor rotate` with the exec rotator, schedules with an injected clock, the hook, and
//! `tresor run --watch` — all through the real binary.

mod rotate_common;

#[path = "common/test_logs.rs"]
mod test_logs;

use std::io::BufRead as _;
use std::time::{Duration, Instant};

use rotate_common::{BIN, Home, now};

const STEPS_SCRIPT: &str = r#"#!/bin/sh
# Records each step and the value it was given; fails the step named by $FAIL.
echo "$1" >> "$HOME/steps"
case "$1" in
  apply) cat > "$HOME/applied"; "$BIN" get app:dev:TOKEN > "$HOME/get-during-apply" ;;
  verify) cat > "$HOME/verified" ;;
  retire) cat > "$HOME/retired" ;;
esac
if [ "$1" = "$FAIL" ]; then echo "failing $1 on purpose" >&2; exit 7; fi
exit 0
"#;

fn read(h: &Home, f: &str) -> String {
    std::fs::read_to_string(h.path().join(f)).unwrap_or_default()
}

#[test]
fn exec_rotation_stores_pending_then_makes_it_current() {
    let h = Home::new();
    h.add("app:dev:TOKEN", "old-token-value");
    let s = h.script("rot.sh", STEPS_SCRIPT);
    h.ok(&[
        "rotator",
        "set",
        "app:dev:TOKEN",
        "exec",
        "--command",
        s.to_str().unwrap(),
        "--length",
        "40",
        "--alphabet",
        "hex",
    ]);
    let out = h.ok_env(&["rotate", "app:dev:TOKEN", "--json"], &[("BIN", BIN)]);
    let o: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (o["from_version"].as_u64(), o["to_version"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        o["retired"].as_u64(),
        Some(1),
        "grace 0: the old value is retired at once"
    );
    let new = h.get("app:dev:TOKEN");
    assert_eq!(new.len(), 40);
    assert!(new.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(read(&h, "steps"), "generate\napply\nverify\nretire\n");
    assert_eq!(read(&h, "applied"), new);
    assert_eq!(read(&h, "verified"), new);
    assert_eq!(read(&h, "retired"), "old-token-value");
    // While the service was being given the new value, the vault still answered the old one:
    // the pending version is not current.
    assert_eq!(read(&h, "get-during-apply"), "old-token-value");
    // The previous version stays readable.
    let hist = h.ok(&["history", "app:dev:TOKEN", "--json", "--reveal"]);
    assert!(hist.contains("old-token-value"));
    // The companion object is not a vault secret.
    let list = h.ok(&["list", "--json"]);
    assert!(!list.contains("tresor:rotator"), "{list}");
    // The audit names the rotator, the outcome and the versions.
    let audit = h.ok(&["audit", "--json"]);
    assert!(
        audit.contains("app:dev:TOKEN rotator=exec outcome=ok versions=v1->v2"),
        "{audit}"
    );
    assert!(audit.contains("rotator=exec retired=v1"), "{audit}");
}

#[test]
fn exec_failing_at_each_step_keeps_the_old_value_and_names_the_step() {
    for step in ["generate", "apply", "verify"] {
        let h = Home::new();
        h.add("app:dev:TOKEN", "old-token-value");
        let s = h.script("rot.sh", STEPS_SCRIPT);
        h.ok(&[
            "rotator",
            "set",
            "app:dev:TOKEN",
            "exec",
            "--command",
            s.to_str().unwrap(),
        ]);
        let o = h.run(
            &["rotate", "app:dev:TOKEN"],
            &[("FAIL", step), ("BIN", BIN)],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{step}: {err}");
        assert!(
            err.contains(&format!("failed at step '{step}'")),
            "{step}: {err}"
        );
        assert!(
            err.contains("version 1 (the old value) is still current"),
            "{err}"
        );
        assert!(err.contains("hint: "), "{err}");
        assert_eq!(h.get("app:dev:TOKEN"), "old-token-value", "{step}");
        let audit = h.ok(&["audit", "--json"]);
        assert!(
            audit.contains(&format!("outcome=failed step={step} versions=v1")),
            "{audit}"
        );
        // The journal says where it stopped; rotate --resume retries that step and finishes.
        let list: serde_json::Value =
            serde_json::from_str(&h.ok(&["rotator", "list", "--json"])).unwrap();
        assert_eq!(list[0]["journal"]["phase"], "failed");
        assert_eq!(list[0]["journal"]["failed_step"], step);
        let steps_before = read(&h, "steps").lines().count();
        h.ok_env(&["rotate", "--resume"], &[("BIN", BIN)]);
        let new = h.get("app:dev:TOKEN");
        assert_ne!(new, "old-token-value");
        assert_eq!(read(&h, "verified"), new);
        let resumed: Vec<String> = read(&h, "steps")
            .lines()
            .skip(steps_before)
            .map(str::to_owned)
            .collect();
        assert_eq!(
            resumed.first().map(String::as_str),
            Some(step),
            "{resumed:?}"
        );
    }
    // Retire runs after the new value is current: that failure keeps the new value and says
    // the old one is not retired yet.
    let h = Home::new();
    h.add("app:dev:TOKEN", "old-token-value");
    let s = h.script("rot.sh", STEPS_SCRIPT);
    h.ok(&[
        "rotator",
        "set",
        "app:dev:TOKEN",
        "exec",
        "--command",
        s.to_str().unwrap(),
    ]);
    let o = h.run(
        &["rotate", "app:dev:TOKEN"],
        &[("FAIL", "retire"), ("BIN", BIN)],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("failed at step 'retire'"), "{err}");
    assert!(
        err.contains("version 2 (the new value) is current"),
        "{err}"
    );
    let new = h.get("app:dev:TOKEN");
    assert_eq!(read(&h, "verified"), new);
    h.ok_env(&["rotate", "--resume"], &[("BIN", BIN)]);
    assert_eq!(read(&h, "steps").matches("retire").count(), 2);
}

#[test]
fn due_with_the_clock_set_forward_rotates_exactly_the_due_secrets() {
    let h = Home::new();
    let s = h.script("rot.sh", "#!/bin/sh\ncat >/dev/null\nexit 0\n");
    let cmd = s.to_str().unwrap();
    for (name, every) in [
        ("app:prod:DAILY", Some("1d")),
        ("app:prod:MONTHLY", Some("30d")),
        ("app:prod:MANUAL", None),
    ] {
        h.add(name, "v1-value");
        let mut args = vec!["rotator", "set", name, "exec", "--command", cmd];
        if let Some(e) = every {
            args.extend(["--every", e]);
        }
        h.ok(&args);
    }
    h.add("app:prod:PLAIN", "no rotator");
    let version = |name: &str| -> u64 {
        let v: serde_json::Value = serde_json::from_str(&h.ok(&["list", name, "--json"])).unwrap();
        v[0]["version"].as_u64().unwrap()
    };
    // Nothing is due yet.
    assert_eq!(h.ok(&["list", "--due", "--json"]).trim(), "[]");
    h.ok(&["rotate", "--due"]);
    for n in [
        "app:prod:DAILY",
        "app:prod:MONTHLY",
        "app:prod:MANUAL",
        "app:prod:PLAIN",
    ] {
        assert_eq!(version(n), 1, "{n}");
    }
    // Two days later only the daily one is due.
    let t2 = (now() + 2 * 86_400).to_string();
    let clock = [("TRESOR_ROTATE_CLOCK", t2.as_str())];
    let due: serde_json::Value =
        serde_json::from_str(&h.ok_env(&["list", "--due", "--json"], &clock)).unwrap();
    let names: Vec<&str> = due
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app:prod:DAILY"]);
    let out = h.ok_env(&["rotate", "--due", "--json"], &clock);
    assert!(out.contains("app:prod:DAILY"), "{out}");
    assert_eq!(version("app:prod:DAILY"), 2);
    assert_eq!(version("app:prod:MONTHLY"), 1);
    assert_eq!(version("app:prod:MANUAL"), 1);
    assert_eq!(version("app:prod:PLAIN"), 1);
    // Run again at the same instant: nothing more is due.
    h.ok_env(&["rotate", "--due"], &clock);
    assert_eq!(version("app:prod:DAILY"), 2);
    // 31 days on: both scheduled ones, the manual one never.
    let t31 = (now() + 31 * 86_400).to_string();
    let clock = [("TRESOR_ROTATE_CLOCK", t31.as_str())];
    h.ok_env(&["rotate", "--due"], &clock);
    assert_eq!(version("app:prod:DAILY"), 3);
    assert_eq!(version("app:prod:MONTHLY"), 2);
    assert_eq!(version("app:prod:MANUAL"), 1);
    assert_eq!(version("app:prod:PLAIN"), 1);
    let list = h.ok_env(&["rotator", "list"], &clock);
    assert!(list.contains("app:prod:MANUAL  exec"), "{list}");
    assert!(list.contains("no schedule"), "{list}");
}

#[test]
fn the_hook_gets_the_name_and_never_the_value() {
    let h = Home::new();
    h.add("app:dev:TOKEN", "old-token-value");
    let s = h.script("rot.sh", "#!/bin/sh\ncat >/dev/null\nexit 0\n");
    let hook = format!("env > '{}/hook-env'", h.path().display());
    h.ok(&[
        "rotator",
        "set",
        "app:dev:TOKEN",
        "exec",
        "--command",
        s.to_str().unwrap(),
        "--hook",
        &hook,
    ]);
    let out = h.ok_env(
        &["rotate", "app:dev:TOKEN"],
        &[("TRESOR_PASSPHRASE", "not-for-hooks")],
    );
    assert!(out.contains("hook ran"), "{out}");
    let new = h.get("app:dev:TOKEN");
    let env = read(&h, "hook-env");
    assert!(env.contains("TRESOR_SECRET_NAME=app:dev:TOKEN\n"), "{env}");
    assert!(env.contains("TRESOR_SECRET_VERSION=2\n"), "{env}");
    assert!(env.contains("TRESOR_ROTATOR=exec\n"), "{env}");
    assert!(!env.contains(&new), "the hook saw the new value");
    assert!(
        !env.contains("old-token-value"),
        "the hook saw the old value"
    );
    assert!(
        !env.contains("not-for-hooks"),
        "the hook got tresor's passphrase"
    );
    // A failing hook names the step; the rotation itself stands, and --resume runs it again.
    h.ok(&[
        "rotator",
        "set",
        "app:dev:TOKEN",
        "exec",
        "--command",
        s.to_str().unwrap(),
        "--hook",
        "exit 3",
    ]);
    let o = h.run(&["rotate", "app:dev:TOKEN"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("failed at step 'hook'"), "{err}");
    let rotated = h.get("app:dev:TOKEN");
    assert_ne!(rotated, new, "the rotation stands");
    // Fixed, --resume runs the hook of that rotation (and rotates nothing).
    h.ok(&[
        "rotator",
        "set",
        "app:dev:TOKEN",
        "exec",
        "--command",
        s.to_str().unwrap(),
        "--hook",
        &hook,
    ]);
    let out = h.ok(&["rotate", "--resume"]);
    assert!(out.contains("nothing to rotate, hook ran"), "{out}");
    assert_eq!(h.get("app:dev:TOKEN"), rotated);
    assert!(read(&h, "hook-env").contains("TRESOR_SECRET_VERSION=3\n"));
}

#[test]
fn rotator_commands_refuse_bad_input() {
    let h = Home::new();
    h.add("app:dev:TOKEN", "v");
    let s = h.script("rot.sh", "#!/bin/sh\nexit 0\n");
    let cmd = s.to_str().unwrap();
    for (args, code, msg) in [
        (
            vec!["rotator", "set", "app:dev:NOPE", "exec", "--command", cmd],
            1,
            "secret 'app:dev:NOPE' not found",
        ),
        (
            vec![
                "rotator",
                "set",
                "app:dev:TOKEN",
                "exec",
                "--command",
                cmd,
                "--every",
                "soon",
            ],
            2,
            "invalid duration 'soon'",
        ),
        (
            vec![
                "rotator",
                "set",
                "app:dev:TOKEN",
                "exec",
                "--command",
                "/no/such/cmd",
            ],
            2,
            "--command /no/such/cmd",
        ),
        (
            vec![
                "rotator",
                "set",
                "app:dev:TOKEN",
                "exec",
                "--command",
                cmd,
                "--length",
                "4",
            ],
            2,
            "value length 4",
        ),
        (
            vec![
                "rotator",
                "set",
                "app:dev:TOKEN",
                "postgres",
                "--dsn-secret",
                "app:dev:ADMIN",
                "--role",
                "r",
            ],
            1,
            "secret 'app:dev:ADMIN' not found",
        ),
        (
            vec!["rotate", "app:dev:TOKEN"],
            1,
            "secret 'app:dev:TOKEN' has no rotator",
        ),
        (vec!["rotator", "rm", "app:dev:TOKEN"], 1, "has no rotator"),
        (
            vec!["rotator", "set", "app:dev:TOKEN", "aws-iam", "--user", "u"],
            2,
            "not an access key in the credential_process format",
        ),
        (
            vec![
                "rotator",
                "set",
                "app:dev:TOKEN",
                "postgres",
                "--dsn-secret",
                "app:dev:TOKEN",
                "--role",
                "r",
            ],
            2,
            "--dsn-secret must be another secret",
        ),
    ] {
        let o = h.run(&args, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    // Nothing was attached by the refused commands.
    assert_eq!(h.ok(&["rotator", "list", "--json"]).trim(), "[]");
    // --help carries examples.
    for c in [
        &["rotate", "--help"][..],
        &["rotator", "set", "--help"],
        &["rotator", "set", "x", "postgres", "--help"],
    ] {
        let out = h.ok(c);
        assert!(out.contains("Examples:"), "{c:?}");
    }
}

/// Waits until `path` has at least `n` lines; returns them.
fn wait_lines(path: &std::path::Path, n: usize, limit: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let lines: Vec<String> = std::fs::File::open(path)
            .map(|f| {
                std::io::BufReader::new(f)
                    .lines()
                    .map_while(Result::ok)
                    .collect()
            })
            .unwrap_or_default();
        if lines.len() >= n || start.elapsed() > limit {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn run_watch_restarts_the_child_when_a_secret_changes() {
    let h = Home::new();
    h.add("app:dev:TOKEN", "first-value");
    h.add("app:dev:OTHER", "unchanged");
    let out = h.path().join("starts");
    let script = format!("echo \"$TOKEN\" >> '{}'; exec sleep 1000", out.display());
    let mut child = h
        .cmd(&[
            "run", "--watch", "-f", "app:dev:", "--", "sh", "-c", &script,
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(
        wait_lines(&out, 1, Duration::from_secs(30)),
        ["first-value"]
    );
    // Another process changes the secret.
    let mut edit = h.cmd(&["edit", "value", "app:dev:TOKEN", "second-value"]);
    assert!(edit.status().unwrap().success());
    let changed = Instant::now();
    let lines = wait_lines(&out, 2, Duration::from_secs(30));
    let took = changed.elapsed();
    eprintln!("run --watch restarted the child {took:?} after the change");
    assert_eq!(lines, ["first-value", "second-value"]);
    assert!(took < Duration::from_secs(2), "restart took {took:?}");
    // A rotation restarts it too.
    let s = h.script("rot.sh", "#!/bin/sh\ncat >/dev/null\nexit 0\n");
    h.ok(&[
        "rotator",
        "set",
        "app:dev:TOKEN",
        "exec",
        "--command",
        s.to_str().unwrap(),
    ]);
    h.ok(&["rotate", "app:dev:TOKEN"]);
    let rotated = h.get("app:dev:TOKEN");
    let lines = wait_lines(&out, 3, Duration::from_secs(30));
    assert_eq!(lines.last(), Some(&rotated));
    // SIGTERM to tresor stops the child and ends tresor.
    send(child.id(), "TERM");
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(143));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("a secret changed; restarting 'sh'"), "{err}");
    assert!(
        !err.contains("second-value") && !err.contains(&rotated),
        "{err}"
    );
}

#[test]
fn run_watch_kills_a_child_that_ignores_sigterm_after_the_grace_period() {
    let h = Home::new();
    h.add("app:dev:TOKEN", "first-value");
    let out = h.path().join("starts");
    let script = format!(
        "trap '' TERM; echo \"$TOKEN\" >> '{}'; while :; do sleep 0.05; done",
        out.display()
    );
    let mut child = h
        .cmd(&[
            "run",
            "--watch",
            "--watch-grace",
            "1s",
            "-f",
            "app:dev:",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .spawn()
        .unwrap();
    assert_eq!(
        wait_lines(&out, 1, Duration::from_secs(30)),
        ["first-value"]
    );
    h.ok(&["edit", "value", "app:dev:TOKEN", "second-value"]);
    let lines = wait_lines(&out, 2, Duration::from_secs(30));
    assert_eq!(lines, ["first-value", "second-value"]);
    // SIGTERM to tresor: the child ignores it too, and is killed after the grace period.
    send(child.id(), "TERM");
    assert_eq!(child.wait().unwrap().code(), Some(143));
}

fn send(pid: u32, sig: &str) {
    assert!(
        std::process::Command::new("kill")
            .args([format!("-{sig}"), pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// A2 (writes the database): the rotator's command, hook and journal are attributes of the
/// companion object, covered by the metadata MAC. Pointing the command at another program,
/// or moving the journal forward, with SQL is refused as tampered; nothing runs.
#[test]
fn rotator_config_and_journal_edited_in_the_database_are_refused() {
    let h = Home::new();
    h.add("app:dev:TOKEN", "old-token-value");
    let ok = h.script("ok.sh", "#!/bin/sh\ncat >/dev/null\nexit 0\n");
    let evil = h.script(
        "evil.sh",
        &format!(
            "#!/bin/sh\ntouch '{}/evil-ran'\nexit 0\n",
            h.path().display()
        ),
    );
    h.ok(&[
        "rotator",
        "set",
        "app:dev:TOKEN",
        "exec",
        "--command",
        ok.to_str().unwrap(),
    ]);
    let db = h.path().join(".local/share/tresor/tresor.db");
    let sql = |q: &str| {
        let c = rusqlite::Connection::open(&db).unwrap();
        let n = c.execute(q, []).unwrap();
        assert_eq!(n, 1, "{q}");
    };
    let original: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT attrs FROM objects WHERE name = 'tresor:rotator:app:dev:TOKEN'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    for (what, edit) in [
        ("command", original.replace("ok.sh", "evil.sh")),
        (
            "hook",
            original.replacen(
                "\"kind\":\"exec\"",
                &format!("\"kind\":\"exec\",\"hook\":\"{}\"", evil.display()),
                1,
            ),
        ),
        (
            "journal",
            original.replace(
                "\"phase\":\"idle\"",
                "\"phase\":\"verified\",\"pending_version\":1",
            ),
        ),
    ] {
        assert_ne!(edit, original, "{what}: the edit changed nothing");
        sql(&format!(
            "UPDATE objects SET attrs = '{}' WHERE name = 'tresor:rotator:app:dev:TOKEN'",
            edit.replace('\'', "''")
        ));
        for args in [
            &["rotate", "app:dev:TOKEN"][..],
            &["rotate", "--resume"],
            &["rotate", "--due"],
        ] {
            let o = h.run(args, &[]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{what} {args:?}: {err}");
            assert!(err.contains("tamper"), "{what} {args:?}: {err}");
        }
        assert!(
            !h.path().join("evil-ran").exists(),
            "{what}: the edited command ran"
        );
        assert_eq!(h.get("app:dev:TOKEN"), "old-token-value", "{what}");
        sql(&format!(
            "UPDATE objects SET attrs = '{}' WHERE name = 'tresor:rotator:app:dev:TOKEN'",
            original.replace('\'', "''")
        ));
    }
    // Put back, it works again.
    h.ok(&["rotate", "app:dev:TOKEN"]);
    assert_ne!(h.get("app:dev:TOKEN"), "old-token-value");
}

/// `tresor kmip serve --rotate-due-every 1s`: the server rotates due secrets itself.
#[test]
fn kmip_serve_rotates_due_secrets_itself() {
    use std::process::Stdio;
    let h = Home::new();
    let certs = h.path().join("certs");
    h.ok(&["kmip", "certs", "init", certs.to_str().unwrap()]);
    h.add("app:dev:TOKEN", "old-token-value");
    h.add("app:dev:LATER", "not-due");
    let s = h.script("rot.sh", "#!/bin/sh\ncat >/dev/null\nexit 0\n");
    let cmd = s.to_str().unwrap();
    h.ok(&[
        "rotator",
        "set",
        "app:dev:TOKEN",
        "exec",
        "--command",
        cmd,
        "--every",
        "1d",
    ]);
    h.ok(&[
        "rotator",
        "set",
        "app:dev:LATER",
        "exec",
        "--command",
        cmd,
        "--every",
        "30d",
    ]);
    let later = (now() + 2 * 86_400).to_string();
    let mut server = h
        .cmd(&[
            "kmip",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rotate-due-every",
            "1s",
        ])
        .arg("--cert")
        .arg(certs.join("server.crt"))
        .arg("--key")
        .arg(certs.join("server.key"))
        .arg("--ca")
        .arg(certs.join("ca.crt"))
        .env("TRESOR_ROTATE_CLOCK", &later)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(test_logs::tee(server.stderr.take().unwrap())).lines();
    let start = Instant::now();
    let mut rotated = None;
    while start.elapsed() < Duration::from_secs(60) {
        let Some(Ok(line)) = lines.next() else { break };
        if line.starts_with("rotate: ") {
            rotated = Some(line);
            break;
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        rotated.as_deref(),
        Some("rotate: app:dev:TOKEN (exec): v1 -> v2"),
        "the server did not rotate the due secret"
    );
    assert_ne!(h.get("app:dev:TOKEN"), "old-token-value");
    assert_eq!(h.get("app:dev:LATER"), "not-due");
}

/// A rotator whose secret was removed does not stop the others; re-adding the secret needs
/// a new `rotator set` (the old rotator pointed at the removed object).
#[test]
fn a_removed_secret_does_not_block_the_other_rotations() {
    let h = Home::new();
    let s = h.script("rot.sh", "#!/bin/sh\ncat >/dev/null\nexit 0\n");
    let cmd = s.to_str().unwrap();
    for n in ["app:dev:GONE", "app:dev:KEPT"] {
        h.add(n, "v1-value");
        h.ok(&[
            "rotator",
            "set",
            n,
            "exec",
            "--command",
            cmd,
            "--every",
            "1d",
        ]);
    }
    h.ok(&["rm", "key", "app:dev:GONE", "--yes"]);
    let later = (now() + 2 * 86_400).to_string();
    let clock = [("TRESOR_ROTATE_CLOCK", later.as_str())];
    let out = h.ok_env(&["rotate", "--due"], &clock);
    assert!(
        out.contains("rotated app:dev:KEPT (exec): v1 -> v2"),
        "{out}"
    );
    h.add("app:dev:GONE", "again");
    let o = h.run(&["rotate", "app:dev:GONE"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("removed and re-added since"), "{err}");
    h.ok(&["rotator", "set", "app:dev:GONE", "exec", "--command", cmd]);
    h.ok(&["rotate", "app:dev:GONE"]);
    assert_ne!(h.get("app:dev:GONE"), "again");
}
