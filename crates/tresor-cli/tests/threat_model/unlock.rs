//! The unlock cache (issue 13, item 9): `tresor unlock` killed between any two of its keyring
//! system calls never leaves a reachable unlock key without its timeout or with wider
//! permissions than possessor-only (A1 would otherwise find a key that never expires).
//!
//! `strace -e inject=SYSCALL:signal=KILL:when=N` kills the real binary on entry to its N-th
//! `add_key` or `keyctl` call, for every N until it runs to the end; after each kill the
//! `tresor:unlock:<vault id>` key reachable from `@u`, if any, must have a timeout and
//! permissions `3f000000` (`keyctl search` and `/proc/keys`).

use std::path::Path;
use std::process::Command;

use crate::util::{BIN, TestVault};

/// The unlock-cache key name of the vault at `dir` (as `tresor unlock` derives it).
fn key_name(dir: &Path) -> String {
    let canon = std::fs::canonicalize(dir).unwrap();
    let h = tresor_crypto::hash::sha256_parts(&[
        b"tresor vault id",
        canon.as_os_str().as_encoded_bytes(),
    ]);
    format!("tresor:unlock:{}", tresor_crypto::hash::hex(&h[..12]))
}

/// `(timeout, permissions)` of the key named `name` reachable from the user keyring (what a
/// later `tresor` or another process of the user finds), if any. A half-made key in the
/// killed process's own thread keyring is unreachable, whether or not the kernel's garbage
/// collector has removed it from `/proc/keys` yet.
fn reachable_key(name: &str) -> Option<(String, String)> {
    let out = Command::new("keyctl")
        .args(["search", "@u", "user", name])
        .output()
        .expect("run keyctl (keyutils)");
    if !out.status.success() {
        return None;
    }
    let id: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    let text = std::fs::read_to_string("/proc/keys").expect("/proc/keys");
    // id flags usage timeout perm uid gid type description: summary
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (u32::from_str_radix(f.first()?, 16).ok()? == id)
            .then(|| (f[3].to_owned(), f[4].to_owned()))
    })
}

fn strace_available() -> bool {
    let ok = Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "strace is missing under CI: scripts/test.sh installs it"
        );
        eprintln!("SKIPPED: strace not installed; run scripts/test.sh");
    }
    ok
}

#[test]
fn unlock_killed_at_any_keyring_call_leaves_no_open_key() {
    if !strace_available() {
        return;
    }
    let tv = TestVault::empty();
    tv.cmd()
        .env("TRESOR_PASSPHRASE", "pw-unlock")
        .args(["init", "--user", "alice", "--passphrase"])
        .stdout();
    let name = key_name(&tv.dir());
    let check = |when: &str| {
        if let Some((timeout, perm)) = reachable_key(&name) {
            assert_ne!(
                timeout, "perm",
                "{when}: a reachable unlock key has no timeout"
            );
            assert_eq!(
                perm, "3f000000",
                "{when}: a reachable unlock key is not possessor-only"
            );
        }
    };
    let mut completed = 0;
    for syscall in ["add_key", "keyctl"] {
        for n in 1..=40 {
            tv.run(["lock"]);
            assert!(reachable_key(&name).is_none(), "lock left the key");
            let out = Command::new("strace")
                .args([
                    "-f",
                    "-qq",
                    "-o",
                    "/dev/null",
                    "-e",
                    "trace=add_key,keyctl",
                    "-e",
                ])
                .arg(format!("inject={syscall}:signal=KILL:when={n}"))
                .arg(BIN)
                .args(["unlock", "--for", "10m"])
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", tv.home())
                .env("TRESOR_PASSPHRASE", "pw-unlock")
                .current_dir(tv.home())
                .output()
                .expect("run strace");
            let when = format!("killed at {syscall} #{n}");
            check(&when);
            if out.status.success() {
                // Fewer than n such calls: it ran to the end and the key is cached properly.
                assert!(
                    reachable_key(&name).is_some(),
                    "{when}: unlock succeeded but no key"
                );
                completed += 1;
                break;
            }
            assert_eq!(
                out.status.code(),
                None,
                "{when}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert_eq!(completed, 2, "unlock never ran to the end under strace");
    tv.run(["lock"]);
}
