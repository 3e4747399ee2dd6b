//! Crash safety: rotations with a re-encrypting callback run in a child process (this test
//! binary re-executed) that is killed with SIGKILL at random instants. After every kill, the
//! store opens cleanly, its audit chain verifies, and every ciphertext the child had written
//! decrypts. `TRESOR_KEYS_CRASH_TRIALS` sets the number of trials (default 200; the soak
//! script `bench/keys/soak.sh` runs more).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tresor_keys::{KeyConfig, KeyManager, KeyType, KeysError};
use tresor_store::Store;

const DIR_VAR: &str = "TRESOR_KEYS_CRASH_DIR";
const KEY: &str = "crash";

fn open(dir: &Path) -> Arc<Store> {
    let kek = std::fs::read(dir.join("kek")).expect("kek file");
    let kek: [u8; 32] = kek.try_into().expect("32-byte kek");
    let kek = Arc::new(tresor_crypto::LocalKek::from_bytes(kek));
    Arc::new(Store::open_sqlite(&dir.join("t.db"), kek, "crash-test").expect("store opens cleanly"))
}

/// Writes `lines` to `data.txt` atomically (temp file, fsync, rename).
fn write_data(dir: &Path, lines: &[String]) -> std::io::Result<()> {
    let tmp = dir.join("data.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    for l in lines {
        writeln!(f, "{l}")?;
    }
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join("data.txt"))
}

fn read_data(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("data.txt"))
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The child's work: resume, then forever append an item, rotate (the callback rewraps every
/// item to the new primary), retire and trim the old versions. With `rounds`, stop after
/// that many rounds (the in-process run).
fn work(dir: &Path, rounds: Option<u32>, ready: &mut dyn Write) -> Result<(), KeysError> {
    let km = KeyManager::open(open(dir))?;
    if !km.exists(KEY)? {
        km.create(KEY, KeyType::Aes256Gcm)?;
    }
    let d = dir.to_owned();
    km.on_change(KEY, "rewrap-data", move |c| {
        let mut lines = read_data(&d);
        for l in &mut lines {
            let (item, ct) = l.split_once(' ').ok_or("bad line")?;
            *l = format!("{item} {}", c.manager.rewrap(ct, item.as_bytes())?);
        }
        write_data(&d, &lines)?;
        Ok(())
    })?;
    for r in km.resume()? {
        r?;
    }
    let _ = writeln!(ready, "ready");
    let mut n = read_data(dir).len();
    let mut round = 0;
    while rounds.is_none_or(|r| round < r) {
        let item = format!("item-{n}");
        let ct = km.encrypt(
            KEY,
            format!("payload of {item}").as_bytes(),
            item.as_bytes(),
        )?;
        let mut lines = read_data(dir);
        lines.push(format!("{item} {ct}"));
        write_data(dir, &lines).map_err(|e| KeysError::Io {
            what: "writing data",
            source: e,
        })?;
        n += 1;
        let rep = km.rotate(KEY)?;
        km.configure(
            KEY,
            KeyConfig {
                min_decryption_version: Some(rep.new_version),
                ..KeyConfig::default()
            },
        )?;
        km.trim(KEY)?;
        round += 1;
    }
    Ok(())
}

/// Checks that every written ciphertext decrypts and the store is sound; returns
/// (items, pending journal entries).
fn check(dir: &Path) -> (usize, usize) {
    let store = open(dir);
    let audit = store.verify_audit().expect("audit readable");
    assert_eq!(audit.first_bad, None, "audit chain broken");
    let km = KeyManager::open(store).expect("manager");
    let lines = read_data(dir);
    for l in &lines {
        let (item, ct) = l.split_once(' ').expect("well-formed line");
        let pt = km
            .decrypt(ct, item.as_bytes())
            .unwrap_or_else(|e| panic!("{item} ({ct}) does not decrypt: {e}"));
        assert_eq!(pt.expose(), format!("payload of {item}").as_bytes());
    }
    if !km.exists(KEY).unwrap() {
        return (lines.len(), 0);
    }
    let pending = km.pending(KEY).unwrap().len();
    if pending > 0 {
        // The journal re-runs exactly the interrupted callbacks: afterwards every item is
        // under the primary version and nothing is pending.
        let d = dir.to_owned();
        km.on_change(KEY, "rewrap-data", move |c| {
            let mut lines = read_data(&d);
            for l in &mut lines {
                let (item, ct) = l.split_once(' ').ok_or("bad line")?;
                *l = format!("{item} {}", c.manager.rewrap(ct, item.as_bytes())?);
            }
            write_data(&d, &lines)?;
            Ok(())
        })
        .unwrap();
        for r in km.resume().unwrap() {
            r.unwrap();
        }
        assert!(km.pending(KEY).unwrap().is_empty());
        let primary = km.show(KEY).unwrap().primary_version;
        for l in read_data(dir) {
            let ct = l.split_once(' ').unwrap().1;
            assert_eq!(
                tresor_keys::ciphertext::inspect(ct).unwrap().version,
                primary,
                "{l}"
            );
        }
    }
    (lines.len(), pending)
}

fn fresh_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut kek = [0u8; 32];
    tresor_crypto::random_fill(&mut kek).unwrap();
    std::fs::write(dir.path().join("kek"), kek).unwrap();
    dir
}

/// The child entry point when re-executed; in a normal run, the same work in-process for a
/// few rounds, then the same checks.
#[test]
fn crash_child() {
    if let Some(dir) = std::env::var_os(DIR_VAR) {
        let mut out = std::io::stdout();
        if let Err(e) = work(&PathBuf::from(dir), None, &mut out) {
            eprintln!("child error: {e}");
            std::process::exit(3);
        }
        return;
    }
    let dir = fresh_dir();
    work(dir.path(), Some(5), &mut std::io::sink()).unwrap();
    let (items, pending) = check(dir.path());
    assert_eq!((items, pending), (5, 0));
    let km = KeyManager::open(open(dir.path())).unwrap();
    let info = km.show(KEY).unwrap();
    assert_eq!((info.primary_version, info.min_decryption_version), (6, 6));
}

fn rand_below(n: u32) -> u32 {
    let mut b = [0u8; 4];
    tresor_crypto::random_fill(&mut b).unwrap();
    u32::from_le_bytes(b) % n
}

#[test]
fn sigkill_at_random_instants_never_loses_a_decrypt_key() {
    let trials: u32 = std::env::var("TRESOR_KEYS_CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let exe = std::env::current_exe().unwrap();
    let dir = fresh_dir();
    let (mut max_items, mut with_pending, mut before_ready) = (0, 0, 0);
    for t in 0..trials {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child",
                "--test-threads=1",
                "--nocapture",
                "-q",
            ])
            .env(DIR_VAR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // One trial in four kills at a random instant of start-up and resume; the others
        // wait until the child runs its loop, then kill it 0-8 ms later.
        if t % 4 != 0 {
            let mut r = BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim() != "ready" {
                line.clear();
            }
        } else {
            before_ready += 1;
        }
        std::thread::sleep(Duration::from_micros(u64::from(rand_below(8_000))));
        child.kill().unwrap();
        let st = child.wait().unwrap();
        assert!(
            st.code().is_none_or(|c| c != 3),
            "child failed by itself in trial {t}"
        );
        let (items, pending) = check(dir.path());
        max_items = max_items.max(items);
        with_pending += usize::from(pending > 0);
    }
    println!(
        "{trials} kills ({before_ready} during start-up), {max_items} items, {with_pending} left a pending rotation"
    );
    assert!(max_items > 0, "the child never got to write");
}
