//! `restore` (issue 13, item 10 and item 4): `--key-file F` decodes F itself, a failed
//! restore leaves nothing behind and never touches an existing vault, and a backup of another
//! vault that happens to open with this key (A4) does not replace this vault's identity unless
//! asked for explicitly.

use std::path::Path;

use crate::util::{TestVault, contains_all, stderr};

fn backup(tv: &TestVault, name: &str) -> std::path::PathBuf {
    let bak = tv.path(name);
    tv.cmd().arg("backup").arg("-o").arg(&bak).stdout();
    bak
}

fn restore_new(tv: &TestVault, into: &Path, bak: &Path, key: &Path) -> std::process::Output {
    tv.cmd()
        .arg("--vault")
        .arg(into)
        .arg("restore")
        .arg(bak)
        .arg("--key-file")
        .arg(key)
        .output()
}

#[test]
fn key_file_elsewhere_under_another_name_is_the_one_decoded() {
    let tv = TestVault::new();
    tv.add("shop", "dev", "K", "v-1");
    let bak = backup(&tv, "b.backup");
    // The key is kept apart from the vault under its own name; the vault folder is gone.
    let key = tv.path("keys/shop-vault.key");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::copy(tv.dir().join("vault.key"), &key).unwrap();
    std::fs::rename(tv.dir(), tv.path("lost")).unwrap();
    let fresh = tv.path("fresh");
    let o = restore_new(&tv, &fresh, &bak, &key);
    assert!(
        o.status.success(),
        "restore --key-file failed: {}",
        stderr(&o)
    );
    let got = tv
        .cmd()
        .arg("--vault")
        .arg(&fresh)
        .args(["get", "shop:dev:K"])
        .stdout();
    assert_eq!(got, "v-1");
    assert_eq!(crate::util::mode(&fresh.join("vault.key")), 0o600);
}

#[test]
fn failed_restore_leaves_nothing_behind() {
    let tv = TestVault::new();
    tv.add("shop", "dev", "K", "v-1");
    let bak = backup(&tv, "b.backup");
    // Another vault's key file, named vault.key in its own folder (what the old code read).
    let other = TestVault::with_user("mallory");
    let wrong_key = other.dir().join("vault.key");
    for (name, backup_file, key) in [
        ("wrong key", bak.clone(), wrong_key.clone()),
        (
            "damaged backup",
            tv.write("junk.backup", "TRESOR-BACKUP/1\nxx"),
            tv.dir().join("vault.key"),
        ),
    ] {
        let fresh = tv.path(&format!("fresh-{}", name.replace(' ', "-")));
        let o = restore_new(&tv, &fresh, &backup_file, &key);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        contains_all(&stderr(&o), &["rejected backup"]);
        assert!(
            !fresh.join("tresor.db").exists(),
            "{name}: a failed restore left tresor.db"
        );
        assert!(
            !fresh.exists(),
            "{name}: a failed restore left the folder it made"
        );
        // Into an existing, empty folder: it stays empty.
        std::fs::create_dir_all(&fresh).unwrap();
        let o = restore_new(&tv, &fresh, &backup_file, &key);
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert_eq!(
            std::fs::read_dir(&fresh).unwrap().count(),
            0,
            "{name}: files left"
        );
    }
    // An existing vault is never touched, even by a restore that would succeed.
    let before = (other.files(), other.snapshot());
    let o = restore_new(&tv, &other.dir(), &bak, &tv.dir().join("vault.key"));
    assert_eq!(o.status.code(), Some(2));
    contains_all(&stderr(&o), &["already exists"]);
    assert_eq!(before, (other.files(), other.snapshot()));
}

#[test]
fn backup_of_another_vault_with_the_same_key_needs_force() {
    let tv = TestVault::new();
    tv.add("shop", "dev", "K", "alice's");
    let bak = backup(&tv, "a.backup");
    // A second vault sharing the key (rebuilt from the backup), then given its own identity:
    // another owner and creation time in its settings.
    let b = tv.path("b-vault");
    let o = restore_new(&tv, &b, &bak, &tv.dir().join("vault.key"));
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg_path = b.join("vault.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["user"] = "bob".into();
    cfg["created"] = 12345.into();
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let in_b = |args: &[&str]| {
        let mut c = tv.cmd();
        c.arg("--vault").arg(&b).args(args);
        c.output()
    };
    assert!(
        in_b(&["add", "key", "B_ONLY", "b", "--app", "b", "--env", "e"])
            .status
            .success()
    );
    let before = String::from_utf8(in_b(&["list", "--json", "--reveal"]).stdout).unwrap();
    let o = in_b(&["restore", bak.to_str().unwrap(), "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    contains_all(
        &stderr(&o),
        &["another vault", "alice", "--force-other-vault"],
    );
    let after = String::from_utf8(in_b(&["list", "--json", "--reveal"]).stdout).unwrap();
    assert_eq!(before, after, "a refused restore changed the vault");
    // Asked for explicitly, it is done.
    let o = in_b(&[
        "restore",
        bak.to_str().unwrap(),
        "--yes",
        "--force-other-vault",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The same vault's own backup needs no flag.
    let o = tv.cmd().arg("restore").arg(&bak).arg("--yes").output();
    assert!(o.status.success(), "{}", stderr(&o));
}
