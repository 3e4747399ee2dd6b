//! Key rotation and passphrase changes against a crash at any instant and against someone who
//! holds the old key file (A4) or guesses a passphrase.
//!
//! `tresor rekey-vault` (≥ 100 trials) and `tresor passphrase` (≥ 30) are SIGKILLed at
//! instants drawn over the command's measured duration; after each kill the vault opens with
//! the old or the new key and every version of every secret is intact. The schedule uses a
//! fixed seed (`TRESOR_TEST_SEED=N` replays another).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tresor_crypto::{KeyProvider as _, LocalKek, SecretBytes, keyfile};
use tresor_vault::Vault;
use tresor_vault::filter::FilterSet;

use crate::util::TestVault;

const PW: &str = "correct horse battery";
/// A cheap Argon2id cost, so the trials stay fast.
const KDF: &str = "m=64,t=1,p=1";
const SECRETS: usize = 50;
const VERSIONS: usize = 3;

/// A xorshift generator with a fixed seed (`TRESOR_TEST_SEED` overrides it).
struct Rng(u64);

impl Rng {
    fn new(what: &str) -> Rng {
        let seed = std::env::var("TRESOR_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x7265_6b65_7976_u64);
        eprintln!("{what}: seed {seed} (set TRESOR_TEST_SEED to replay another)");
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// Runs `child` until it exits or `after` passes, then SIGKILLs it.
fn kill_after(mut child: Child, after: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + after;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if Instant::now() >= deadline {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return None;
        }
        std::thread::yield_now();
    }
}

/// name -> the value of each version, oldest first.
type Expected = BTreeMap<String, Vec<String>>;

/// A vault protected by `PW` (cheap cost) with `SECRETS` secrets of `VERSIONS` versions each.
fn vault_with_history() -> (TestVault, Expected) {
    let tv = TestVault::new();
    tv.cmd()
        .args(["passphrase", "--kdf", KDF])
        .env("TRESOR_NEW_PASSPHRASE", PW)
        .stdout();
    let mut want = Expected::new();
    for round in 1..=VERSIONS {
        let body: String = (0..SECRETS)
            .map(|i| format!("K{i}=r{round}-{i}-{}\n", "z".repeat(i % 7 * 9)))
            .collect();
        for i in 0..SECRETS {
            want.entry(format!("rk:e:K{i}"))
                .or_default()
                .push(format!("r{round}-{i}-{}", "z".repeat(i % 7 * 9)));
        }
        tv.write("in.env", body);
        let mut args = vec!["importenv", "in.env", "--app", "rk", "--env", "e"];
        if round > 1 {
            args.push("--update");
        }
        tv.cmd().args(args).env("TRESOR_PASSPHRASE", PW).stdout();
    }
    (tv, want)
}

fn pw(p: &str) -> impl FnMut() -> tresor_vault::Result<SecretBytes> + '_ {
    move || Ok(SecretBytes::from(p))
}

/// The key in `dir`'s key file.
fn key_in(dir: &Path, pass: &str) -> LocalKek {
    let text = std::fs::read_to_string(dir.join("vault.key")).unwrap();
    keyfile::decode(&text, || Ok(SecretBytes::from(pass))).unwrap()
}

/// Asserts the vault opens through the real binary (which finishes an interrupted rekey) and
/// that every version of every secret is intact; returns the id of the key it now uses.
fn check_intact(tv: &TestVault, pass: &str, want: &Expected, trial: &str) -> String {
    let o = tv
        .cmd()
        .args(["list", "rk:e:", "--json", "--reveal"])
        .env("TRESOR_PASSPHRASE", pass)
        .output();
    assert!(
        o.status.success(),
        "{trial}: the vault does not open: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let now: BTreeMap<String, String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(now.len(), want.len(), "{trial}: secrets lost");
    for (name, versions) in want {
        assert_eq!(now.get(name), versions.last(), "{trial}: {name}");
    }
    assert!(
        !tv.dir().join(tresor_vault::rekey::NEXT_KEY_FILE).exists(),
        "{trial}: the open left vault.key.next behind"
    );
    // Every version, in-process, with the key file as it now is.
    let vault = Vault::open(&tv.dir(), &mut pw(pass)).unwrap();
    let set = FilterSet::new(["rk:e:"]).unwrap();
    let list = vault.list(&set).unwrap();
    assert_eq!(list.len(), want.len());
    for s in &list {
        let versions = &want[&s.name];
        let history = vault.history(s).unwrap();
        assert_eq!(history.len(), versions.len(), "{trial}: {} history", s.name);
        for (h, value) in history.iter().zip(versions) {
            let got = vault.value_at(s, h.version).unwrap();
            assert_eq!(
                got.expose(),
                value.as_bytes(),
                "{trial}: {} v{}",
                s.name,
                h.version
            );
        }
    }
    vault.store().provider().key_id().to_owned()
}

fn spawn(tv: &TestVault, args: &[&str], envs: &[(&str, &str)]) -> Child {
    let mut c = tv.cmd();
    c.args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn rekey_vault_killed_at_random_instants_opens_with_the_old_or_the_new_key() {
    const TRIALS: usize = 100;
    let (tv, want) = vault_with_history();
    let mut rng = Rng::new("rekey-vault SIGKILL");
    // Measure one rekey (and check a finished one is final).
    let before = key_in(&tv.dir(), PW);
    let t = Instant::now();
    tv.cmd()
        .args(["rekey-vault"])
        .env("TRESOR_PASSPHRASE", PW)
        .stdout();
    let window = (t.elapsed().as_millis() as u64 * 3 / 2).max(20);
    let mut current = check_intact(&tv, PW, &want, "calibration");
    assert_ne!(current, before.key_id());
    let (mut rotated, mut kept, mut finished) = (0, 0, 0);
    for i in 0..TRIALS {
        let trial = format!("rekey trial {i}");
        let old = key_in(&tv.dir(), PW);
        assert_eq!(old.key_id(), current);
        let status = kill_after(
            spawn(&tv, &["rekey-vault"], &[("TRESOR_PASSPHRASE", PW)]),
            Duration::from_millis(rng.below(window + 1)),
        );
        if let Some(s) = status {
            assert!(
                s.success(),
                "{trial}: rekey-vault failed without a kill: {s}"
            );
            finished += 1;
        }
        let now = check_intact(&tv, PW, &want, &trial);
        if now == current {
            assert!(
                status.is_none(),
                "{trial}: rekey-vault succeeded, key unchanged"
            );
            kept += 1;
        } else {
            rotated += 1;
            // The old key file opens nothing any more (A4 holding a copy of it).
            assert!(
                Vault::open_with_key(&tv.dir(), old).is_err(),
                "{trial}: the old key still opens the vault"
            );
        }
        current = now;
    }
    eprintln!(
        "rekey-vault: {TRIALS} trials over {window} ms: {rotated} rotated ({finished} finished unkilled), {kept} kept the old key"
    );
    assert!(rotated > 0 && kept > 0, "kill instants did not spread");
    assert!(
        tv.cmd()
            .args(["audit", "--verify"])
            .env("TRESOR_PASSPHRASE", PW)
            .stdout()
            .contains("intact")
    );
}

#[test]
fn passphrase_change_killed_at_random_instants_keeps_one_passphrase_working() {
    const TRIALS: usize = 30;
    let (tv, want) = vault_with_history();
    let mut rng = Rng::new("passphrase SIGKILL");
    let t = Instant::now();
    tv.cmd()
        .args(["passphrase"])
        .env("TRESOR_PASSPHRASE", PW)
        .env("TRESOR_NEW_PASSPHRASE", "calibrated")
        .stdout();
    let window = (t.elapsed().as_millis() as u64 * 3 / 2).max(20);
    let mut cur = "calibrated".to_owned();
    let key = key_in(&tv.dir(), &cur).key_id().to_owned();
    let (mut changed, mut kept) = (0, 0);
    for i in 0..TRIALS {
        let trial = format!("passphrase trial {i}");
        let new = format!("pass-{i}");
        let status = kill_after(
            spawn(
                &tv,
                &["passphrase"],
                &[("TRESOR_PASSPHRASE", &cur), ("TRESOR_NEW_PASSPHRASE", &new)],
            ),
            Duration::from_millis(rng.below(window + 1)),
        );
        let text = std::fs::read_to_string(tv.dir().join("vault.key")).unwrap();
        let opens = |p: &str| keyfile::decode(&text, || Ok(SecretBytes::from(p))).is_ok();
        let (old_ok, new_ok) = (opens(&cur), opens(&new));
        assert!(
            old_ok ^ new_ok,
            "{trial}: old opens {old_ok}, new opens {new_ok}"
        );
        if let Some(s) = status {
            assert!(
                s.success(),
                "{trial}: passphrase failed without a kill: {s}"
            );
            assert!(new_ok, "{trial}: acknowledged change not in the key file");
        }
        if new_ok {
            cur = new;
            changed += 1;
        } else {
            kept += 1;
        }
        // Same key, every version intact.
        assert_eq!(check_intact(&tv, &cur, &want, &trial), key);
    }
    eprintln!("passphrase: {TRIALS} trials over {window} ms: {changed} changed, {kept} kept");
    assert!(changed > 0 && kept > 0, "kill instants did not spread");
}

/// The state a kill leaves between the commit and the rename (the store uses the new key,
/// `vault.key` still holds the old one, `vault.key.next` the new one), made exactly: the
/// next command finishes the switch.
#[test]
fn an_interrupted_switch_is_finished_by_the_next_command() {
    let tv = TestVault::new();
    tv.add("a", "e", "K", "v1");
    tv.run(["edit", "value", "a:e:K", "v2"]);
    let dir = tv.dir();
    let old_text = std::fs::read(dir.join("vault.key")).unwrap();
    tv.run(["rekey-vault"]);
    std::fs::rename(dir.join("vault.key"), dir.join("vault.key.next")).unwrap();
    std::fs::write(dir.join("vault.key"), &old_text).unwrap();
    assert_eq!(tv.get("a:e:K"), "v2");
    assert!(!dir.join("vault.key.next").exists());
    assert_ne!(std::fs::read(dir.join("vault.key")).unwrap(), old_text);
    assert_eq!(crate::util::mode(&dir.join("vault.key")), 0o600);
    assert!(tv.run(["history", "a:e:K", "--reveal"]).contains("v1"));
}

/// The state a kill leaves before the commit (a `vault.key.next` the store never switched
/// to): the vault opens with the old key and the leftover is removed.
#[test]
fn a_rekey_that_never_committed_leaves_the_old_key_in_use() {
    let tv = TestVault::new();
    tv.add("a", "e", "K", "v1");
    let dir = tv.dir();
    let old_text = std::fs::read(dir.join("vault.key")).unwrap();
    let other = LocalKek::generate().unwrap();
    std::fs::write(
        dir.join("vault.key.next"),
        keyfile::encode(&other, None, keyfile::KdfParams::default()).unwrap(),
    )
    .unwrap();
    assert_eq!(tv.get("a:e:K"), "v1");
    assert!(!dir.join("vault.key.next").exists());
    assert_eq!(std::fs::read(dir.join("vault.key")).unwrap(), old_text);
    // And the next rekey works.
    tv.run(["rekey-vault"]);
    assert_eq!(tv.get("a:e:K"), "v1");
}

#[test]
fn passphrase_change_refuses_the_old_one_and_a_wrong_one_changes_nothing() {
    let tv = TestVault::new();
    tv.cmd()
        .args(["passphrase", "--kdf", KDF, "--json"])
        .env("TRESOR_NEW_PASSPHRASE", "first")
        .stdout();
    tv.cmd()
        .args(["add", "key", "K", "v", "--app", "a", "--env", "e"])
        .env("TRESOR_PASSPHRASE", "first")
        .stdout();
    let key = tv.dir().join("vault.key");
    // A wrong old passphrase: a clear error, the key file untouched.
    let before = std::fs::read(&key).unwrap();
    let o = tv
        .cmd()
        .args(["passphrase"])
        .env("TRESOR_PASSPHRASE", "guess")
        .env("TRESOR_NEW_PASSPHRASE", "second")
        .code(2);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("wrong passphrase"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read(&key).unwrap(), before);
    // The change: the old passphrase is refused, the new one works, the key is the same.
    let id = key_in(&tv.dir(), "first").key_id().to_owned();
    let out = tv
        .cmd()
        .args(["passphrase", "--json"])
        .env("TRESOR_PASSPHRASE", "first")
        .env("TRESOR_NEW_PASSPHRASE", "second")
        .stdout();
    assert!(out.contains("\"changed\""), "{out}");
    let o = tv
        .cmd()
        .args(["get", "a:e:K"])
        .env("TRESOR_PASSPHRASE", "first")
        .code(2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("wrong passphrase"));
    assert_eq!(
        tv.cmd()
            .args(["get", "a:e:K"])
            .env("TRESOR_PASSPHRASE", "second")
            .stdout(),
        "v"
    );
    assert_eq!(key_in(&tv.dir(), "second").key_id(), id);
    assert_eq!(crate::util::mode(&key), 0o600);
    // Removing it needs the current one too.
    tv.cmd()
        .args(["passphrase", "--remove"])
        .env("TRESOR_PASSPHRASE", "first")
        .code(2);
    tv.cmd()
        .args(["passphrase", "--remove"])
        .env("TRESOR_PASSPHRASE", "second")
        .stdout();
    assert_eq!(tv.get("a:e:K"), "v");
}

/// A4 keeps a copy of the key file from before the rotation: it opens nothing afterwards,
/// not through the binary either.
#[test]
fn a_copy_of_the_old_key_file_opens_nothing_after_rekey() {
    let tv = TestVault::new();
    tv.add("a", "e", "K", "v1");
    let dir = tv.dir();
    let old_text = std::fs::read(dir.join("vault.key")).unwrap();
    let json = tv.run(["rekey-vault", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["versions"].as_u64().unwrap() >= 1);
    assert_ne!(v["old_key_id"], v["new_key_id"]);
    std::fs::write(dir.join("vault.key"), &old_text).unwrap();
    let o = tv.cmd().args(["get", "a:e:K"]).code(2);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("v1"));
}

/// `tresor unlock` cached the old key; a rekey must not leave it cached.
#[test]
fn rekey_clears_the_unlock_cache() {
    let tv = TestVault::new();
    tv.add("a", "e", "K", "v1");
    let o = tv.cmd().args(["unlock", "--for", "10m"]).output();
    if !o.status.success() {
        eprintln!(
            "notice: no kernel keyring here ({}); unlock-cache check skipped",
            String::from_utf8_lossy(&o.stderr)
        );
        return;
    }
    let canon = std::fs::canonicalize(tv.dir()).unwrap();
    let h = tresor_crypto::hash::sha256_parts(&[
        b"tresor vault id",
        canon.as_os_str().as_encoded_bytes(),
    ]);
    let id = tresor_crypto::hash::hex(&h[..12]);
    assert!(tresor_keyring::UnlockCache::load(&id).is_some());
    tv.run(["rekey-vault"]);
    assert!(
        tresor_keyring::UnlockCache::load(&id).is_none(),
        "the unlock cache still holds the old key"
    );
    assert_eq!(tv.get("a:e:K"), "v1");
}
