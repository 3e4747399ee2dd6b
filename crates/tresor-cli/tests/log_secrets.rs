//! No secret in any server log of the test run (issue 17): every `tresor kmip serve` the
//! integration tests start copies its stderr to `target/test-logs/servers/` and the tests
//! register the secrets they send in `target/test-logs/secrets/` (`tests/common/test_logs.rs`).
//! `scripts/test.sh` runs the ignored check below after the whole suite:
//!
//! ```text
//! cargo test --workspace --all-features --test log_secrets -- --ignored
//! ```

#[path = "common/test_logs.rs"]
mod test_logs;

use std::path::{Path, PathBuf};

use base64::Engine as _;

/// Values no log may contain whatever test wrote them: the sentinel marker of
/// tests/ops_server.rs's secrets.
const MARKERS: [&str; 1] = ["-SENTINEL-"];

/// The spellings of a secret a log could carry: as is, hex (both cases), base64.
fn spellings(s: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let hex: String = s.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        ("raw", s.to_vec()),
        ("hex", hex.clone().into_bytes()),
        ("HEX", hex.to_uppercase().into_bytes()),
        (
            "base64",
            base64::engine::general_purpose::STANDARD
                .encode(s)
                .into_bytes(),
        ),
    ]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Each (log, secret spelling) found: `LOG: SPELLING of a N-byte secret starting XX`.
fn leaks(logs: &[(PathBuf, Vec<u8>)], secrets: &[Vec<u8>]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in logs {
        for m in MARKERS {
            if contains(text, m.as_bytes()) {
                found.push(format!("{}: the marker {m}", path.display()));
            }
        }
        for s in secrets {
            for (how, sp) in spellings(s) {
                if contains(text, &sp) {
                    found.push(format!(
                        "{}: {how} spelling of a {}-byte registered secret starting {:?}",
                        path.display(),
                        s.len(),
                        String::from_utf8_lossy(&s[..3.min(s.len())])
                    ));
                }
            }
        }
    }
    found
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn unhex(line: &str) -> Option<Vec<u8>> {
    (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(line.get(i..i + 2)?, 16).ok())
        .collect()
}

#[test]
#[ignore = "run by scripts/test.sh after the whole suite: it reads the logs the suite left"]
fn no_secret_in_any_server_log_of_the_run() {
    let dir = test_logs::dir();
    let logs: Vec<(PathBuf, Vec<u8>)> = files(&dir.join("servers"), "log")
        .into_iter()
        .map(|p| {
            let t = std::fs::read(&p).unwrap();
            (p, t)
        })
        .collect();
    assert!(
        !logs.is_empty(),
        "no server log under {}: run the test suite first (scripts/test.sh does)",
        dir.display()
    );
    let mut secrets = Vec::new();
    for f in files(&dir.join("secrets"), "hex") {
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            secrets.push(unhex(line.trim()).unwrap_or_else(|| panic!("{}: bad line", f.display())));
        }
    }
    // A partial run may register none (ops_server and the remote-vault tests do); the markers
    // are checked all the same.
    secrets.sort();
    secrets.dedup();
    let found = leaks(&logs, &secrets);
    assert!(
        found.is_empty(),
        "secrets in server logs ({} logs, {} secrets checked):\n{}",
        logs.len(),
        secrets.len(),
        found.join("\n")
    );
    eprintln!(
        "checked {} server logs for {} secrets and {} markers: none found",
        logs.len(),
        secrets.len(),
        MARKERS.len()
    );
}

/// The check finds a planted secret in each spelling, and the marker.
#[test]
fn the_check_finds_planted_secrets() {
    let s = b"planted-secret-value-42".to_vec();
    let clean = (
        PathBuf::from("clean.log"),
        b"kmip: connection peer=127.0.0.1:1\n".to_vec(),
    );
    assert!(leaks(std::slice::from_ref(&clean), std::slice::from_ref(&s)).is_empty());
    for (how, sp) in spellings(&s) {
        let mut t = b"kmip: request uid=abc value=".to_vec();
        t.extend_from_slice(&sp);
        let found = leaks(
            &[clean.clone(), (PathBuf::from("leak.log"), t)],
            std::slice::from_ref(&s),
        );
        assert_eq!(found.len(), 1, "{how}: {found:?}");
        assert!(found[0].starts_with("leak.log"), "{found:?}");
    }
    let marked = (PathBuf::from("m.log"), b"x pass-SENTINEL-abc y".to_vec());
    assert_eq!(leaks(&[marked], &[]).len(), 1);
    assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
}
