//! Named recipients of sealed files: `recipients add FILE --name bob KEY`, an ssh key's
//! comment as its name, `--user NAME` (a vault user's age key), `recipients rm FILE bob`
//! (the data key rotated; bob cannot open the new file), an unknown name refused naming the
//! recipients that exist; `recipients list` shows names.

const REMOTE: bool = false;

#[path = "vault/macros.rs"]
#[allow(unused_macros)]
mod macros;
mod seal_common;
#[path = "vault/util.rs"]
#[allow(dead_code)]
mod util;

use std::path::Path;

use util::{TestVault, stderr};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn list(tv: &TestVault, id: &Path) -> serde_json::Value {
    json(
        &tv.cmd()
            .env("TRESOR_IDENTITY", id)
            .args(["recipients", "list", ".env", "--json"])
            .stdout(),
    )[0]
    .clone()
}

#[test]
fn recipients_by_name_add_list_rm() {
    let tv = TestVault::with_user("alice");
    let keys = tv.home().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let alice = keys.join("alice.txt");
    let alice_pub = seal_common::age_identity(&alice);
    let carol = keys.join("carol.txt");
    let carol_pub = seal_common::age_identity(&carol);
    let bob = keys.join("bob_ed25519");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "bob@example", "-f"])
        .arg(&bob)
        .status()
        .unwrap();
    assert!(st.success());
    let bob_pub = std::fs::read_to_string(bob.with_extension("pub")).unwrap();
    tv.write(".env", "A=1\nB=two\n");
    tv.run([
        "seal",
        ".env",
        "-r",
        &format!("{alice_pub} alice"),
        "-r",
        bob_pub.trim(),
    ]);
    let sealed = std::fs::read_to_string(tv.path(".env")).unwrap();
    assert!(
        sealed.contains(&format!("# tresor-recipient: {alice_pub} alice\n")),
        "{sealed}"
    );
    assert!(
        sealed.contains(" bob@example\n"),
        "the ssh comment is its name: {sealed}"
    );

    // add by name, positional recipient (FILE… RECIPIENT)
    tv.cmd()
        .env("TRESOR_IDENTITY", &alice)
        .args(["recipients", "add", ".env", "--name", "carol", &carol_pub])
        .stdout();
    let l = list(&tv, &alice);
    assert_eq!(
        l["names"],
        serde_json::json!(["alice", "bob@example", "carol"])
    );
    let key1 = l["data_key_id"].as_str().unwrap().to_owned();
    let text = tv
        .cmd()
        .env("TRESOR_IDENTITY", &alice)
        .args(["recipients", "list", ".env"])
        .stdout();
    util::contains_all(&text, &["alice", "bob@example", "carol", &carol_pub]);
    assert_eq!(
        tv.cmd()
            .env("TRESOR_IDENTITY", &carol)
            .args(["unseal", ".env"])
            .stdout(),
        "A=1\nB=two\n"
    );
    // a name used twice for different keys: refused
    let o = tv
        .cmd()
        .env("TRESOR_IDENTITY", &alice)
        .args([
            "recipients",
            "add",
            ".env",
            "-r",
            &format!("{} carol", seal_common::age_identity(&keys.join("x.txt"))),
        ])
        .code(2);
    assert!(
        stderr(&o).contains("'carol' is already used"),
        "{}",
        stderr(&o)
    );

    // rm an unknown name: refused, naming who is there; the file unchanged
    let before = std::fs::read_to_string(tv.path(".env")).unwrap();
    let o = tv
        .cmd()
        .env("TRESOR_IDENTITY", &alice)
        .args(["recipients", "rm", ".env", "dave"])
        .code(2);
    let e = stderr(&o);
    util::contains_all(
        &e,
        &[
            "'dave' is not a recipient",
            "alice (",
            "bob@example (",
            "carol (",
        ],
    );
    assert_eq!(before, std::fs::read_to_string(tv.path(".env")).unwrap());

    // rm carol by name: new data key, carol cannot open, the others can
    let o = tv
        .cmd()
        .env("TRESOR_IDENTITY", &alice)
        .args(["recipients", "rm", ".env", "carol", "--json"])
        .output();
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(j[0]["removed_names"], serde_json::json!(["carol"]));
    assert_eq!(j[0]["old_data_key_id"], key1.as_str());
    assert_ne!(j[0]["data_key_id"], key1.as_str());
    let o = tv
        .cmd()
        .env("TRESOR_IDENTITY", &carol)
        .args(["unseal", ".env"])
        .code(2);
    assert!(
        stderr(&o).contains("none of the identities"),
        "{}",
        stderr(&o)
    );
    // ssh comment name works for rm too; -r form with a key prefix
    tv.cmd()
        .env("TRESOR_IDENTITY", &alice)
        .args(["recipients", "rm", ".env", "-r", "bob@example"])
        .stdout();
    let l = list(&tv, &alice);
    assert_eq!(l["names"], serde_json::json!(["alice"]));
    assert_eq!(l["recipients"], serde_json::json!([alice_pub]));
    tv.cmd()
        .env("TRESOR_IDENTITY", &bob)
        .args(["unseal", ".env"])
        .code(2);

    // --user: the vault user's age key under their name
    tv.cmd()
        .env("TRESOR_IDENTITY", &alice)
        .args(["recipients", "add", ".env", "--user", "alice"])
        .code(2); // 'alice' already names another key in the file
    let owner = json(&tv.run(["public-key", "--json"]));
    let vault_age = owner["age"].as_str().unwrap().to_owned();
    tv.cmd()
        .env("TRESOR_IDENTITY", &alice)
        .args(["recipients", "rm", ".env", "alice", "-r", "x"])
        .code(2); // 'x' unknown: nothing removed
    tv.cmd()
        .env("TRESOR_IDENTITY", &alice)
        .args(["recipients", "add", ".env", "--name", "me", &alice_pub])
        .stdout();
    tv.cmd()
        .env("TRESOR_IDENTITY", &alice)
        .args(["recipients", "add", ".env", "--user", "alice"])
        .stdout();
    let l = list(&tv, &alice);
    assert_eq!(l["names"], serde_json::json!(["me", "alice"]));
    assert_eq!(l["recipients"][1], vault_age.as_str());
    let o = tv
        .cmd()
        .env("TRESOR_IDENTITY", &alice)
        .args(["recipients", "add", ".env", "--user", "nobody"])
        .code(2);
    assert!(stderr(&o).contains("nobody"), "{}", stderr(&o));
}
