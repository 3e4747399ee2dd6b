//! PyKMIP 0.11's `ProxyKmipClient` against the tresor KMIP server, for KMIP 1.0, 1.1, 1.2,
//! 1.3, 1.4 and 2.0: `tests/peers/pykmip/drive_tresor.py` performs every check (create,
//! get, get_attributes, get_attribute_list, locate with filters, check, activate, revoke,
//! destroy, register of symmetric key / secret data / opaque object / certificate / RSA key
//! pair, create_key_pair, sign/verify, encrypt/decrypt, mac, rekey, modify/set/delete
//! attribute, query, discover_versions) and prints one JSON line per check; this test
//! starts `tresor kmip serve` on an ephemeral port and requires every check to pass.
//!
//! Needs `TRESOR_PYKMIP_PY` (`eval $(tests/peers/pykmip/setup.sh)`) and a built server
//! (`cargo build -p tresor-cli`, or `TRESOR_KMIP_CMD`).
//! `cargo test -p tresor-kmip --test pykmip_client`

mod pykmip_common;

use std::path::PathBuf;
use std::process::Command;

use pykmip_common::*;

fn driver() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers/pykmip/drive_tresor.py")
}

#[test]
fn pykmip_proxy_client_against_tresor_server() {
    let Some(python) = pykmip_python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path().join("certs");
    tresor_kmip::certs::init(&certs).expect("certificates");
    let store = dir.path().join("store");
    pykmip_common::allow_all_apps(&store);
    let server = TresorServer::start(&certs, &store, &[]);

    let mut failures = Vec::new();
    let mut passed = 0;
    for version in ["1.0", "1.1", "1.2", "1.3", "1.4", "2.0"] {
        let out = Command::new(&python)
            .arg(driver())
            .args(["--host", "127.0.0.1", "--port", &server.port().to_string()])
            .arg("--certs")
            .arg(&certs)
            .args(["--version", version])
            .output()
            .expect("running drive_tresor.py");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut seen = 0;
        for line in stdout.lines().filter(|l| l.starts_with('{')) {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad JSON line from the driver ({e}): {line}"));
            seen += 1;
            if v["ok"] == serde_json::Value::Bool(true) {
                passed += 1;
            } else {
                failures.push(format!(
                    "KMIP {version} {}: {}",
                    v["name"].as_str().unwrap_or("?"),
                    v["detail"].as_str().unwrap_or("?")
                ));
            }
        }
        if seen == 0 || !out.status.success() && failures.is_empty() {
            failures.push(format!(
                "KMIP {version}: driver exited {} after {seen} checks; stderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} PyKMIP checks passed, {} failed:\n{}\n--- server log (tail) ---\n{}",
        passed,
        failures.len(),
        failures.join("\n"),
        tail(&server.log(), 60)
    );
    assert!(passed >= 160, "only {passed} checks ran");
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
