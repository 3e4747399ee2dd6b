//! One store, two doors: what the vault CLI stores, a KMIP client can Get (once granted), and
//! what a KMIP client creates shows in `tresor list`. Drives the real binary: a `tresor kmip
//! serve` child over mutual TLS, and `tresor kmip …` client commands.

#[path = "common/test_logs.rs"]
mod test_logs;

use std::path::Path;
use std::process::Stdio;

use assert_cmd::Command;
use tresor_testkit::{DEFAULT_START_TIMEOUT, TestServer, cli};

fn tresor(home: &Path) -> Command {
    Command::from_std(cli::command(assert_cmd::cargo::cargo_bin("tresor"), home))
}

fn serve(home: &Path, certs: &Path) -> (TestServer, String) {
    let mut cmd = cli::command(assert_cmd::cargo::cargo_bin("tresor"), home);
    cli::kmip_serve(&mut cmd, certs).stdout(Stdio::null());
    // The server's stderr is read to the end on a thread (never blocks on a full pipe).
    let server = TestServer::start_with(&mut cmd, DEFAULT_START_TIMEOUT, test_logs::tee);
    let addr = server.addr().to_owned();
    (server, addr)
}

fn conn(addr: &str, certs: &Path) -> Vec<String> {
    let mut args = vec!["--server".into(), addr.into()];
    args.extend(cli::tls_args(certs, "client"));
    args
}

fn list(home: &Path) -> Vec<serde_json::Value> {
    let out = tresor(home)
        .args(["list", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice::<serde_json::Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn vault_and_kmip_share_one_store() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let certs = h.join("certs");
    tresor(h)
        .args(["kmip", "certs", "init"])
        .arg(&certs)
        .assert()
        .success();
    tresor(h).args(["init"]).assert().success();
    let value = "door-secret-3b1f9a";
    test_logs::secret(value.as_bytes());
    tresor(h)
        .args([
            "add",
            "key",
            "API_TOKEN",
            value,
            "--app",
            "shop",
            "--env",
            "prod",
        ])
        .assert()
        .success();
    let (_server, addr) = serve(h, &certs);
    let c = conn(&addr, &certs);

    // A key created over KMIP shows in `tresor list`.
    tresor(h)
        .args(["kmip", "create", "--name", "door-key"])
        .args(&c)
        .assert()
        .success();
    let all = list(h);
    let key = all
        .iter()
        .find(|s| s["key"] == "door-key")
        .unwrap_or_else(|| panic!("KMIP key missing from list: {all:?}"));
    assert_eq!(key["object_type"], "SymmetricKey");
    assert_eq!(key["app"], "kmip");

    // The vault secret is a SecretData object; the KMIP identity 'client' does not own it…
    let secret = all
        .iter()
        .find(|s| s["name"] == "shop:prod:API_TOKEN")
        .expect("vault secret listed");
    let uid = secret["uid"].as_str().unwrap().to_owned();
    assert_eq!(secret["object_type"], "SecretData");
    tresor(h)
        .args(["kmip", "get", &uid])
        .args(&c)
        .assert()
        .failure();
    // …until it is granted; then a KMIP Get returns the vault's value.
    tresor(h)
        .args(["kmip", "grant", &uid, "client", "get,locate"])
        .assert()
        .success();
    let out = h.join("got.bin");
    tresor(h)
        .args(["kmip", "get", &uid, "--out"])
        .arg(&out)
        .args(&c)
        .assert()
        .success();
    assert_eq!(std::fs::read(&out).unwrap(), value.as_bytes());
    // Locate by the vault name finds it too.
    let found = tresor(h)
        .args(["kmip", "locate", "--name", "shop:prod:API_TOKEN", "--json"])
        .args(&c)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&found).contains(&uid));
    // The audit chain names both doors' identities and still verifies.
    let audit = tresor(h)
        .args(["audit", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let audit = String::from_utf8_lossy(&audit);
    assert!(
        audit.contains("\"client\""),
        "KMIP actions are audited under the client identity"
    );
    tresor(h).args(["audit", "--verify"]).assert().success();
}
