//! The vault unlock cache in the kernel user keyring (`tresor unlock` / `tresor lock`).
//! Drives the real binary on the real kernel.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;

fn tresor(home: &Path, vault: &Path) -> Command {
    let mut c = Command::cargo_bin("tresor").expect("binary");
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .arg("--vault")
        .arg(vault);
    c
}

fn get(home: &Path, vault: &Path) -> Output {
    tresor(home, vault)
        .args(["get", "app:dev:K"])
        .write_stdin("")
        .output()
        .expect("run")
}

#[test]
fn unlock_for_a_while_then_lock() {
    let home = tempfile::tempdir().unwrap();
    let vault = home.path().join("v");
    tresor(home.path(), &vault)
        .env("TRESOR_PASSPHRASE", "correct horse")
        .args(["init", "--passphrase"])
        .assert()
        .success();
    tresor(home.path(), &vault)
        .env("TRESOR_PASSPHRASE", "correct horse")
        .args(["add", "key", "K", "v-1", "--app", "app", "--env", "dev"])
        .assert()
        .success();

    // Locked: no passphrase source means a clear refusal.
    let o = get(home.path(), &vault);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("protected by a passphrase"),
        "{o:?}"
    );

    // A wrong passphrase does not unlock.
    tresor(home.path(), &vault)
        .env("TRESOR_PASSPHRASE", "wrong")
        .args(["unlock", "--for", "2s"])
        .assert()
        .code(2);
    assert_eq!(get(home.path(), &vault).status.code(), Some(2));

    // Unlocked for 2 s: no passphrase needed.
    tresor(home.path(), &vault)
        .env("TRESOR_PASSPHRASE", "correct horse")
        .args(["unlock", "--for", "2s"])
        .assert()
        .success();
    let o = get(home.path(), &vault);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(o.stdout, b"v-1");

    // After the timeout it is needed again (the kernel expires the key; poll, bounded).
    let start = Instant::now();
    loop {
        let o = get(home.path(), &vault);
        if o.status.code() == Some(2) {
            assert!(String::from_utf8_lossy(&o.stderr).contains("passphrase"));
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "cached key never expired"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // `lock` forgets it at once.
    tresor(home.path(), &vault)
        .env("TRESOR_PASSPHRASE", "correct horse")
        .args(["unlock", "--for", "10m"])
        .assert()
        .success();
    assert_eq!(get(home.path(), &vault).status.code(), Some(0));
    tresor(home.path(), &vault).arg("lock").assert().success();
    assert_eq!(get(home.path(), &vault).status.code(), Some(2));
}
