//! `backup` → `restore`: exact round trip (secrets, history, users, audit), into the same
//! vault and into a fresh folder with `--key-file`; damaged or foreign backups are refused.

use crate::util::{TestVault, contains_all};

/// A vault with history, two users and a few audit entries.
fn busy_vault() -> TestVault {
    let tv = TestVault::new();
    let bob = TestVault::with_user("bob");
    tv.run([
        "add",
        "user",
        "--username",
        "bob",
        "--pubkey",
        &bob.public_key(),
    ]);
    tv.add("app", "dev", "DB_PASS", "one");
    tv.run(["edit", "value", "app:dev:DB_PASS", "two"]);
    tv.run_stdin(
        ["add", "text", "CERT", "--app", "app", "--env", "dev"],
        "a\nb\n",
    );
    tv.add("other", "prod", "K", "k");
    tv.run(["rm", "key", "other:prod:K", "--yes"]);
    tv.add("other", "prod", "K", "k2");
    tv
}

/// Everything a backup must carry, as text (histories with values included).
fn full_state(tv: &TestVault, vault: Option<&std::path::Path>) -> String {
    let run = |args: &[&str]| {
        let mut c = tv.cmd();
        if let Some(v) = vault {
            c.arg("--vault").arg(v);
        }
        c.args(args).stdout()
    };
    let mut s = String::new();
    let list: serde_json::Value =
        serde_json::from_str(&run(&["list", "--json", "--reveal"])).unwrap();
    s.push_str(&list.to_string());
    for item in list.as_array().unwrap() {
        s.push_str(&run(&[
            "history",
            item["name"].as_str().unwrap(),
            "--json",
            "--reveal",
        ]));
    }
    s.push_str(&run(&["users", "--json"]));
    s.push_str(&run(&["audit", "--json"]));
    s.push_str(&run(&["whoami"]));
    s
}

#[test]
fn backup_restore_round_trip_is_exact() {
    let tv = busy_vault();
    let state = full_state(&tv, None);
    let bak = tv.path("vault.backup");
    let err = tv.cmd().arg("backup").arg("-o").arg(&bak).code(0);
    assert!(crate::util::stderr(&err).contains("backed up"));
    assert_eq!(crate::util::mode(&bak), 0o600);

    // Change everything, then restore.
    tv.add("new", "e", "X", "x");
    tv.run(["edit", "value", "app:dev:DB_PASS", "three"]);
    tv.run(["rm", "user", "bob", "--yes"]);
    // Restore asks: no terminal, no --yes, nothing happens.
    let e = tv.cmd().arg("restore").arg(&bak).code(2);
    assert!(crate::util::stderr(&e).contains("--yes"));
    crate::eqnice!("three", tv.get("app:dev:DB_PASS"));
    tv.cmd().arg("restore").arg(&bak).arg("--yes").code(0);
    crate::eqnice!(state, full_state(&tv, None));
    assert!(tv.run(["audit", "--verify"]).contains("intact"));
}

#[test]
fn restore_into_a_fresh_folder_with_the_key_file() {
    let tv = busy_vault();
    let state = full_state(&tv, None);
    let bak = tv.path("vault.backup");
    tv.cmd().arg("backup").arg("-o").arg(&bak).stdout();
    let fresh = tv.path("restored/vault");
    tv.cmd()
        .arg("--vault")
        .arg(&fresh)
        .arg("restore")
        .arg(&bak)
        .arg("--key-file")
        .arg(tv.dir().join("vault.key"))
        .stdout();
    crate::eqnice!(state, full_state(&tv, Some(&fresh)));
    assert_eq!(crate::util::mode(&fresh.join("vault.key")), 0o600);
    // The restored vault is a working vault.
    tv.cmd()
        .arg("--vault")
        .arg(&fresh)
        .args(["add", "key", "NEW", "n"])
        .stdout();
    // Not over an existing vault.
    let e = tv
        .cmd()
        .arg("--vault")
        .arg(&fresh)
        .arg("restore")
        .arg(&bak)
        .arg("--key-file")
        .arg(tv.dir().join("vault.key"))
        .code(2);
    assert!(crate::util::stderr(&e).contains("already exists"));
}

#[test]
fn passphrase_vault_backup_restores_with_key_file_and_passphrase() {
    let tv = TestVault::empty();
    tv.cmd()
        .env("TRESOR_PASSPHRASE", "pw")
        .args(["init", "--passphrase"])
        .stdout();
    tv.cmd()
        .env("TRESOR_PASSPHRASE", "pw")
        .args(["add", "key", "K", "v"])
        .stdout();
    let bak = tv.path("b");
    tv.cmd()
        .env("TRESOR_PASSPHRASE", "pw")
        .arg("backup")
        .arg("-o")
        .arg(&bak)
        .stdout();
    let fresh = tv.path("fresh");
    let restore = |pw: &str, code: i32| {
        tv.cmd()
            .env("TRESOR_PASSPHRASE", pw)
            .arg("--vault")
            .arg(&fresh)
            .arg("restore")
            .arg(&bak)
            .arg("--key-file")
            .arg(tv.dir().join("vault.key"))
            .code(code)
    };
    let e = restore("wrong", 2);
    assert!(crate::util::stderr(&e).contains("wrong passphrase"));
    assert!(
        !fresh.join("tresor.db").exists(),
        "a failed restore left a database"
    );
    restore("pw", 0);
    let got = tv
        .cmd()
        .env("TRESOR_PASSPHRASE", "pw")
        .arg("--vault")
        .arg(&fresh)
        .args(["get", "K"])
        .stdout();
    crate::eqnice!("v", got);
}

#[test]
fn damaged_or_foreign_backups_are_refused() {
    let tv = busy_vault();
    let bak = tv.path("b");
    tv.cmd().arg("backup").arg("-o").arg(&bak).stdout();
    let good = std::fs::read(&bak).unwrap();
    let before = tv.snapshot();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x20;
    for (what, bytes) in [
        ("flipped", flipped),
        ("truncated", good[..good.len() - 7].to_vec()),
        ("header only", b"TRESOR-BACKUP/1\n".to_vec()),
        ("not a backup", b"hello".to_vec()),
    ] {
        std::fs::write(&bak, &bytes).unwrap();
        let e = tv.cmd().arg("restore").arg(&bak).arg("--yes").code(2);
        let e = crate::util::stderr(&e);
        assert!(e.contains("rejected backup"), "{what}: {e}");
    }
    assert_eq!(before, tv.snapshot());
    // Another vault's backup.
    std::fs::write(&bak, &good).unwrap();
    let other = TestVault::new();
    let e = other.cmd().arg("restore").arg(&bak).arg("--yes").code(2);
    contains_all(
        &crate::util::stderr(&e),
        &["rejected backup", "another vault key"],
    );
}
