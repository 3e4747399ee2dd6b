//! `tresor run --file SEALED -- CMD` masks the sealed file's values in the child's output as
//! `run --mask` does for vault secrets: whole, split across writes, base64 and URL-encoded;
//! on by default when stdout is not a terminal, `--no-mask` to disable; exit code passed.

mod seal_common;

use seal_common::{python, setup};

const PLAIN: &str = "# values with every troublesome byte for the encodings\nDB_PASSWORD=\"pw/+=?& 100%-sûr\"\nAPI_TOKEN=tok_9f8e7d6c5b4a39281706\nUSER_PASS='alice:s3cret!'\n";
const VALUES: [&str; 3] = [
    "pw/+=?& 100%-sûr",
    "tok_9f8e7d6c5b4a39281706",
    "alice:s3cret!",
];

/// Prints each value whole, 3 bytes at a time with pauses, base64 (both alphabets, with and
/// without padding, inside a longer text) and URL-encoded, on stdout and stderr.
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
        out.write("url=" + urllib.parse.quote(v, safe="") + " form=" + urllib.parse.quote_plus(v) + ";\n")
        out.flush()
print("identity=" + os.environ.get("TRESOR_IDENTITY", "unset"))
print("done")
sys.exit(3)
"#;

fn encodings(v: &str) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let b = v.as_bytes();
    let mut all = vec![v.to_owned()];
    for e in [STANDARD.encode(b), URL_SAFE.encode(b)] {
        all.push(e.trim_end_matches('=').to_owned());
        all.push(e);
    }
    let url: String = b
        .iter()
        .map(|c| {
            if c.is_ascii_alphanumeric() || b"-._~".contains(c) {
                (*c as char).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect();
    all.push(url);
    all
}

#[test]
fn run_file_masks_sealed_values_in_the_child_output() {
    let e = setup();
    e.write(".env", PLAIN);
    e.write("leak.py", SCRIPT);
    e.ok(None, &["seal", ".env", "-r", &e.alice_pub]);
    let alice = e.alice.clone();
    // Default: stdout is a pipe here, so masking is on.
    let o = e.run(
        Some(&alice),
        &["run", "--file", ".env", "--", &python(), "leak.py"],
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(out.contains("done"), "{out}");
    assert!(
        out.contains("identity=unset"),
        "TRESOR_IDENTITY leaked to the child: {out}"
    );
    for text in [&out, &err] {
        assert!(text.contains("<concealed by tresor>"), "{text}");
        for v in VALUES {
            for enc in encodings(v) {
                assert!(
                    !text.contains(&enc),
                    "{enc:?} (of a sealed value) shown:\n{text}"
                );
            }
        }
    }
    // --mask explicitly: same.
    let o = e.run(
        Some(&alice),
        &[
            "run",
            "--mask",
            "--file",
            ".env",
            "--",
            &python(),
            "leak.py",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains(VALUES[1]) && out.contains("<concealed by tresor>"));
    // --no-mask: the output is the child's own (the check above can fail).
    let o = e.run(
        Some(&alice),
        &[
            "run",
            "--no-mask",
            "--file",
            ".env",
            "--",
            &python(),
            "leak.py",
        ],
    );
    assert_eq!(o.status.code(), Some(3));
    let out = String::from_utf8_lossy(&o.stdout);
    for v in VALUES {
        assert!(out.contains(&format!("whole={v};")), "{out}");
    }
    assert!(!out.contains("<concealed by tresor>"));
}

#[test]
fn run_file_masked_passes_signals_and_exit_codes() {
    let e = setup();
    e.write(".env", PLAIN);
    e.ok(None, &["seal", ".env", "-r", &e.alice_pub]);
    let alice = e.alice.clone();
    let o = e.run(
        Some(&alice),
        &[
            "run",
            "--file",
            ".env",
            "--",
            "sh",
            "-c",
            "echo \"$API_TOKEN\"; kill -TERM $$",
        ],
    );
    assert_eq!(o.status.code(), Some(128 + 15));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.trim(), "<concealed by tresor>");
}
