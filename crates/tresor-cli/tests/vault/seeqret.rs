//! Interop with the real seeqret 1.0.5 (a python venv; `TRESOR_SEEQRET_PY`, made by
//! `tests/peers/setup.sh`). Without it these tests print a notice and pass, except under
//! `CI=true`, where they fail.
//!
//! `tests/peers/seeqret/make_fixture.py` builds a seeqret vault with secrets and a user whose
//! key is this tresor vault's `public-key --seeqret`, and seeqret's `json-crypt` and `command`
//! exports to that user.

use std::path::{Path, PathBuf};

use crate::util::{TestVault, contains_all, repo_root, seeqret_python};

struct Fixture {
    dir: PathBuf,
    expected: serde_json::Value,
}

/// Runs seeqret to build a vault and exports addressed to `to`'s seeqret key.
fn fixture(py: &Path, to: &TestVault, to_name: &str) -> Fixture {
    let key = to.run(["public-key", "--seeqret"]);
    let dir = to.path("seeqret-fixture");
    let o = std::process::Command::new(py)
        .arg(repo_root().join("tests/peers/seeqret/make_fixture.py"))
        .arg(&dir)
        .args(["--to-pubkey", key.trim(), "--to-username", to_name])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "make_fixture.py failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let expected =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    Fixture { dir, expected }
}

fn expected_secrets(fx: &Fixture) -> Vec<(String, String)> {
    fx.expected["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let name = format!(
                "{}:{}:{}",
                s["app"].as_str().unwrap(),
                s["env"].as_str().unwrap(),
                s["key"].as_str().unwrap()
            );
            (name, s["value"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn assert_has_all(tv: &TestVault, fx: &Fixture) {
    let got = tv.secrets();
    for (name, value) in expected_secrets(fx) {
        assert_eq!(got.get(&name), Some(&value), "{name}");
    }
}

#[test]
fn seeqret_exports_load_into_tresor() {
    let Some(py) = seeqret_python("seeqret_exports_load_into_tresor") else {
        return;
    };
    let bob = TestVault::with_user("bob");
    let fx = fixture(&py, &bob, "bob");
    let owner = fx.expected["owner"]["username"]
        .as_str()
        .unwrap()
        .to_owned();
    let owner_key = fx.expected["owner"]["pubkey"].as_str().unwrap().to_owned();
    let export_cmd = fx.dir.join("export.cmd");
    let export_json = fx.dir.join("export.json");

    // Before the sender is known: refused, nothing loaded.
    let o = bob.cmd().arg("load").arg(&export_json).code(2);
    assert!(crate::util::stderr(&o).contains("unknown user"));
    let o = bob
        .cmd()
        .arg("load")
        .arg(&export_cmd)
        .arg("--from")
        .arg(&owner)
        .code(2);
    assert!(crate::util::stderr(&o).contains(&format!("unknown user '{owner}'")));
    assert!(bob.secrets().is_empty());

    bob.run([
        "add",
        "user",
        "--username",
        &owner,
        "--email",
        "owner@example.org",
        "--pubkey",
        &owner_key,
    ]);
    // The command form, then the json-crypt form of the same secrets.
    let r = bob
        .cmd()
        .arg("load")
        .arg(&export_cmd)
        .args(["--from", &owner, "--json"])
        .stdout();
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert_eq!(
        r["added"].as_array().unwrap().len(),
        expected_secrets(&fx).len(),
        "{r}"
    );
    assert_has_all(&bob, &fx);
    let r = bob
        .cmd()
        .arg("load")
        .arg(&export_json)
        .args(["-u", &owner, "--json"])
        .stdout();
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert_eq!(
        r["unchanged"].as_array().unwrap().len(),
        expected_secrets(&fx).len(),
        "{r}"
    );
    // The seeqret owner's own values survive quoting: spot-check one through `get`.
    crate::eqnice!("p@ss w\"rd $HOME #x", bob.get("myapp:dev:DB_PASS"));
}

#[test]
fn tampered_seeqret_export_is_rejected() {
    let Some(py) = seeqret_python("tampered_seeqret_export_is_rejected") else {
        return;
    };
    let bob = TestVault::with_user("bob");
    let fx = fixture(&py, &bob, "bob");
    let owner = fx.expected["owner"]["username"]
        .as_str()
        .unwrap()
        .to_owned();
    let owner_key = fx.expected["owner"]["pubkey"].as_str().unwrap().to_owned();
    bob.run(["add", "user", "--username", &owner, "--pubkey", &owner_key]);
    let before = bob.snapshot();
    let text = std::fs::read_to_string(fx.dir.join("export.json")).unwrap();
    // Flip one character inside every long base64 run (values, nonces, checksums).
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut flipped = 0;
    flip_strings(&mut v, &mut flipped);
    assert!(flipped > 0);
    bob.write("bad.json", v.to_string());
    let e = bob.fail(2, ["load", "bad.json", "--from", &owner]);
    assert!(e.contains("seeqret"), "{e}");
    // Truncated.
    bob.write("cut.json", &text[..text.len() / 2]);
    let e = bob.fail(2, ["load", "cut.json", "--from", &owner]);
    assert!(e.contains("rejected import"), "{e}");
    assert_eq!(
        before,
        bob.snapshot(),
        "a rejected seeqret load changed the vault"
    );
    // From someone else's key: a tresor user whose seeqret key is not the sender's.
    let other = TestVault::new();
    bob.run([
        "add",
        "user",
        "--username",
        "eve",
        "--pubkey",
        other.run(["public-key", "--seeqret"]).trim(),
    ]);
    let before2 = bob.snapshot();
    let e = bob
        .cmd()
        .arg("load")
        .arg(fx.dir.join("export.json"))
        .args(["--from", "eve"])
        .code(2);
    assert!(!crate::util::stderr(&e).is_empty());
    assert_eq!(before2, bob.snapshot());
}

fn flip_strings(v: &mut serde_json::Value, n: &mut usize) {
    match v {
        serde_json::Value::String(s) if s.len() >= 40 => {
            let mut b = s.clone().into_bytes();
            let i = b.len() / 2;
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            *s = String::from_utf8(b).unwrap();
            *n += 1;
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| flip_strings(x, n)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| flip_strings(x, n)),
        _ => {}
    }
}

#[test]
fn import_seeqret_vault_folder() {
    let Some(py) = seeqret_python("import_seeqret_vault_folder") else {
        return;
    };
    let bob = TestVault::with_user("bob");
    let fx = fixture(&py, &bob, "bob");
    let alice = TestVault::new();
    let r = alice
        .cmd()
        .arg("import-seeqret")
        .arg(fx.dir.join("seeqret"))
        .arg("--json")
        .stdout();
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert_eq!(
        r["added"].as_array().unwrap().len(),
        expected_secrets(&fx).len(),
        "{r}"
    );
    assert_has_all(&alice, &fx);
    // Its users come along, with their seeqret keys.
    let users: serde_json::Value = serde_json::from_str(&alice.run(["users", "--json"])).unwrap();
    let owner = fx.expected["owner"]["username"].as_str().unwrap();
    for want in fx.expected["users"].as_array().unwrap() {
        let name = want["username"].as_str().unwrap();
        let u = users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap_or_else(|| panic!("user {name} not imported: {users}"));
        assert_eq!(u["seeqret"], want["pubkey"], "{name}");
    }
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == owner)
    );
    // A second import changes nothing; a folder that is not a seeqret vault is refused.
    let r = alice
        .cmd()
        .arg("import-seeqret")
        .arg(fx.dir.join("seeqret"))
        .arg("--json")
        .stdout();
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert!(r["added"].as_array().unwrap().is_empty());
    let e = alice.cmd().arg("import-seeqret").arg(alice.home()).code(2);
    contains_all(&crate::util::stderr(&e), &["is not a seeqret vault"]);
}
