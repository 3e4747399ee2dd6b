//! `tresor run --mask` through the real binary: a child printing each secret whole, split
//! across writes with pauses, base64-encoded (both alphabets, padded or not, inside a longer
//! base64 text) and URL-encoded never shows it in the captured stdout or stderr; exit codes
//! and signals pass through; masking is on by default when stdout is not a terminal.

const REMOTE: bool = false;

#[path = "vault/macros.rs"]
#[allow(unused_macros)]
mod macros;
#[path = "vault/util.rs"]
#[allow(dead_code)]
mod util;

use std::time::Duration;

use util::{TestVault, stderr};

/// Secrets chosen to have every troublesome byte for the encodings: '/', '+', '=' in base64,
/// spaces, '%', '&', unicode in URL encoding.
const SECRETS: [(&str, &str); 3] = [
    ("DB_PASSWORD", "pw/+=?& 100%-sûr"),
    ("API_TOKEN", "tok_9f8e7d6c5b4a39281706"),
    ("USER_PASS", "alice:s3cret!"),
];

fn vault() -> TestVault {
    let tv = TestVault::with_user("alice");
    for (k, v) in SECRETS {
        tv.add("app", "dev", k, v);
    }
    tv
}

/// A child that prints every secret in every way on stdout and stderr: whole, a byte at a
/// time with pauses, base64 (standard, URL-safe, with and without padding, inside a longer
/// text), URL-encoded (RFC 3986, form encoding with '+'), in the middle of other text.
const SCRIPT: &str = r#"
import base64, os, sys, time, urllib.parse
for k in ["DB_PASSWORD", "API_TOKEN", "USER_PASS"]:
    v = os.environ[k]
    b = v.encode()
    for out in (sys.stdout, sys.stderr):
        out.write("whole=" + v + ";\n"); out.flush()
        out.write("split=")
        for i in range(0, len(v), 3):
            out.write(v[i:i+3]); out.flush(); time.sleep(0.02)
        out.write(";\n")
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            e = enc(b).decode()
            out.write("b64=" + e + " nopad=" + e.rstrip("=") + ";\n")
        out.write("basic=" + base64.b64encode(b"Authorization: " + b + b"\n").decode() + ";\n")
        out.write("url=" + urllib.parse.quote(v, safe="") + " form=" + urllib.parse.quote_plus(v) + " js=" + urllib.parse.quote(v, safe="!'()*") + ";\n")
        out.flush()
print("done")
sys.exit(3)
"#;

/// The system Python (the tests clear the environment, so a pyenv shim would not work).
fn python() -> String {
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("python3")
        .to_owned()
}

#[test]
fn masked_output_never_shows_a_secret() {
    let tv = vault();
    tv.write("leak.py", SCRIPT);
    // Default: stdout is a pipe here, so masking is on.
    let o = tv
        .cmd()
        .args(["run", "-f", "app:dev:", "--", &python(), "leak.py"])
        .output();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = stderr(&o);
    for text in [&out, &err] {
        for (k, v) in SECRETS {
            let b = v.as_bytes();
            use base64::Engine as _;
            let e = base64::engine::general_purpose::STANDARD.encode(b);
            let u = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
            for needle in [v, e.as_str(), u.as_str(), &e[..e.len() - 2]] {
                assert!(
                    !text.contains(needle),
                    "{k} shown as {needle:?} in:\n{text}"
                );
            }
            // Fragments long enough to matter never appear either.
            assert!(!text.contains(&v[..v.len() - 1]), "{k} prefix in:\n{text}");
        }
        assert!(text.contains("whole=<concealed by tresor>;"), "{text}");
        assert!(text.contains("split=<concealed by tresor>;"), "{text}");
        assert!(
            text.matches("<concealed by tresor>").count() >= 3 * 9,
            "{text}"
        );
    }
    assert!(out.ends_with("done\n"), "{out}");
    // --no-mask: the child's output is untouched.
    let o = tv
        .cmd()
        .args([
            "run",
            "--no-mask",
            "-f",
            "app:dev:",
            "--",
            &python(),
            "leak.py",
        ])
        .output();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stdout).contains("whole=pw/+=?& 100%-sûr;"));
}

#[test]
fn exit_codes_and_signals_pass_through() {
    let tv = vault();
    for code in [0, 1, 7, 255] {
        let o = tv
            .cmd()
            .args(["run", "--mask", "-f", "app:dev:", "--", "sh", "-c"])
            .arg(format!("echo \"$API_TOKEN\"; exit {code}"))
            .output();
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "<concealed by tresor>\n"
        );
    }
    // A child killed by a signal: tresor exits 128+N, as a shell reports it.
    let o = tv
        .cmd()
        .args([
            "run",
            "--mask",
            "-f",
            "app:dev:",
            "--",
            "sh",
            "-c",
            "kill -KILL $$",
        ])
        .output();
    assert_eq!(o.status.code(), Some(128 + 9), "{}", stderr(&o));
    // SIGTERM to tresor reaches the child, whose own exit tresor passes on.
    let mut child = tv
        .cmd()
        .args(["run", "--mask", "-f", "app:dev:", "--", "sh", "-c"])
        .arg("trap 'echo got TERM $API_TOKEN; exit 42' TERM; echo ready; while :; do sleep 0.05; done")
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    assert_eq!(&first, b"ready\n");
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let st = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(st.code(), Some(42));
    assert_eq!(rest, "got TERM <concealed by tresor>\n");
    // A child killed by SIGTERM (no trap) gives 143.
    let mut child = tv
        .cmd()
        .args([
            "run",
            "--mask",
            "-f",
            "app:dev:",
            "--",
            "sh",
            "-c",
            "echo ready; exec sleep 100",
        ])
        .command()
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(143));
}

#[test]
fn references_in_the_environment_are_masked_too() {
    let tv = vault();
    let out = tv
        .cmd()
        .env("PW", "tresor://app/dev/DB_PASSWORD")
        .args([
            "run",
            "--",
            "sh",
            "-c",
            "printf 'pw=%s\\n' \"$PW\"; printf '%s' \"$PW\" | base64",
        ])
        .stdout();
    assert_eq!(out, "pw=<concealed by tresor>\n<concealed by tresor>\n");
}
