//! `tresor keyring` on the real kernel keyrings, in a child process (another session,
//! another uid, exit codes and messages): moved from tresor-keyring's `tests/kernel.rs`
//! with the command itself (that crate keeps the library's own tests).
//!
//! Keys get names unique to the test and process, and are invalidated at the end.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use tresor_keyring::{Keyring, Quota, Ring};

fn uniq(test: &str) -> String {
    format!("tresor-it-{test}-{}", std::process::id())
}

/// The `tresor` binary, which `cargo test` builds for this crate's tests.
fn cli_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tresor"))
}

fn keyctl_available() -> bool {
    let ok = Command::new("keyctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: keyctl not found; install the Debian package `keyutils` to run the keyctl tests"
        );
    }
    ok
}

/// `tresor keyring ARGS` with `stdin`.
fn run_cli(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(cli_bin())
        .arg("keyring")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tresor keyring");
    // The child may exit before reading all (or any) of its input.
    if let Err(e) = child.stdin.take().expect("stdin").write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    child.wait_with_output().expect("wait tresor keyring")
}

#[test]
fn session_in_a_fresh_anonymous_session() {
    if !keyctl_available() {
        return;
    }
    let name = uniq("fresh-session");
    let bin = cli_bin();
    let script = format!(
        "printf 'in-session' | {b} keyring set {n} --ring session >/dev/null && {b} keyring get {n} --ring session && {b} keyring --json session",
        b = bin.display(),
        n = name
    );
    let out = Command::new("keyctl")
        .args(["session", "-", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("in-session{\"id\":"), "{stdout}");
    assert!(stdout.contains("\"session\":\"own\""), "{stdout}");
    // The key lived in the child's session keyring, not in ours.
    let ours = Keyring::open(Ring::Session).unwrap();
    assert!(ours.get(&name).unwrap_err().is_not_found());
}

#[test]
fn session_set_does_not_start_a_new_session() {
    // A child process in our session stores a key in `session`; it must land
    // in the session keyring we share, not in a new private one that dies
    // with the child.
    let name = uniq("shared-session");
    let out = run_cli(&["set", &name, "--ring", "session"], b"shared");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = tresor_keyring::session_status().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if st.is_user_session_default() {
        assert!(stderr.contains(tresor_keyring::NO_SESSION_HINT), "{stderr}");
    }
    let ours = Keyring::open(Ring::Session).unwrap();
    assert_eq!(&ours.get(&name).unwrap()[..], b"shared");
    ours.invalidate(&name).unwrap();
}

#[test]
fn quota_exceeded() {
    // As root the quota is root_maxkeys/root_maxbytes (huge); run the CLI as
    // `nobody`, whose quota is maxkeys/maxbytes (200 keys, 20,000 bytes by
    // default), and store more bytes than that in one key.
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    let maxbytes: usize = std::fs::read_to_string("/proc/sys/kernel/keys/maxbytes")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if maxbytes >= 32767 {
        eprintln!("SKIPPED: maxbytes {maxbytes} is not below the largest payload");
        return;
    }
    let name = "tresor-it-quota";
    let mut cmd = Command::new(cli_bin());
    cmd.args(["keyring", "set", name, "--ring", "process"]);
    if root {
        use std::os::unix::process::CommandExt;
        cmd.uid(65534).gid(65534);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&vec![b'q'; 32767])
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let maxkeys = std::fs::read_to_string("/proc/sys/kernel/keys/maxkeys").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "error: quota exceeded storing key '{name}' in keyring 'process' (EDQUOT): the kernel limits each user to {} keys and {maxbytes} bytes of key descriptions and payloads (see /proc/sys/kernel/keys/maxkeys and maxbytes)\n",
        maxkeys.trim()
    );
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert!(
        stderr.contains("hint: invalidate keys you no longer need"),
        "{stderr}"
    );
    // The root message names root's files.
    if root {
        let q = Quota::current();
        assert_eq!(
            q.files,
            "see /proc/sys/kernel/keys/root_maxkeys and root_maxbytes"
        );
    }
}

/// keyctl padd -> `tresor keyring get`: raw bytes, and base64 in JSON (the CLI half of
/// tresor-keyring's `keyctl_interop`).
#[test]
fn keyctl_interop_cli() {
    if !keyctl_available() {
        return;
    }
    let kr = Keyring::open(Ring::User).unwrap();
    let name = uniq("interop-cli");
    let mut child = Command::new("keyctl")
        .args(["padd", "user", &name, "@u"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from keyctl\n\x00\xff")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());

    // The CLI too: get prints raw bytes.
    let out = run_cli(&["get", &name], b"");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"from keyctl\n\x00\xff");
    let out = run_cli(&["--json", "get", &name], b"");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["encoding"], "base64");
    assert_eq!(v["value"], "ZnJvbSBrZXljdGwKAP8=");
    kr.invalidate(&name).unwrap();
}

#[test]
fn cli_process_exit_codes() {
    let name = uniq("cli-exit");
    let out = run_cli(&["get", &name], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: key '{name}' not found in keyring 'user'\n")
    );
    let out = run_cli(&["set", &name, "--ring", "bogus"], b"x");
    assert_eq!(out.status.code(), Some(2));
    let out = run_cli(&["set", &name, "--timeout", "soon"], b"x");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: invalid timeout 'soon': expected a number with an optional unit s, m, h or d (e.g. 10m)\n"
    );
    let out = run_cli(&["set", &name, "--ring", "thread"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = run_cli(&["set", &name, "--ring", "process"], &vec![0u8; 40_000]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("payload of 32768 bytes is over"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
