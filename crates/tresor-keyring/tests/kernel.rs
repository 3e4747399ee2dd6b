//! Integration tests on the real kernel keyrings.
//!
//! Keys get names unique to the test and process, and are invalidated at the
//! end. Tests that need another session or another uid run the crate's
//! `keyring_cli` example in a child process, so this process's keyrings are
//! never changed.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tresor_keyring::cli::{Io, KeyringCommand, run_with};
use tresor_keyring::{
    Create, KeyKind, KeyPermissionsBuilder, Keyring, KeyringError, Permission, Quota, Ring,
    SetOptions, UnlockCache,
};

fn uniq(test: &str) -> String {
    format!("tresor-it-{test}-{}", std::process::id())
}

/// The `keyring_cli` example, which `cargo test` builds next to the tests.
fn cli_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("examples").join("keyring_cli");
    assert!(
        bin.exists(),
        "{} missing: run the tests with `cargo test -p tresor-keyring` (which builds examples)",
        bin.display()
    );
    bin
}

fn keyctl_available() -> bool {
    let ok = Command::new("keyctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: keyctl not found; install the Debian package `keyutils` to run the keyctl tests"
        );
    }
    ok
}

fn run_cli(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(cli_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keyring_cli");
    // The child may exit before reading all (or any) of its input.
    if let Err(e) = child.stdin.take().expect("stdin").write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    child.wait_with_output().expect("wait keyring_cli")
}

fn round_trip(ring: Ring, test: &str) {
    let kr = Keyring::open(ring.clone()).unwrap();
    let name = uniq(test);
    kr.set(&name, b"value-1", Create::Always).unwrap();
    assert_eq!(&kr.get(&name).unwrap()[..], b"value-1");
    kr.set(&name, b"value-2", Create::Always).unwrap();
    assert_eq!(&kr.get(&name).unwrap()[..], b"value-2");
    assert!(kr.list().unwrap().iter().any(|i| i.name == name));
    kr.invalidate(&name).unwrap();
    assert_eq!(
        kr.get(&name).unwrap_err().to_string(),
        format!("key '{name}' not found in keyring '{ring}'")
    );
}

#[test]
fn round_trip_thread() {
    round_trip(Ring::Thread, "thread");
}

#[test]
fn round_trip_process() {
    round_trip(Ring::Process, "process");
}

#[test]
fn round_trip_user() {
    round_trip(Ring::User, "user");
}

#[test]
fn round_trip_named_ring() {
    let ring = Ring::Named(uniq("named-ring"));
    assert_eq!(
        Keyring::open(ring.clone()).unwrap_err().to_string(),
        format!("keyring '{ring}' not found")
    );
    let kr = Keyring::open_or_create(ring.clone()).unwrap();
    round_trip(ring.clone(), "named");
    // Same name in @u is a different key.
    let name = uniq("named-vs-user");
    kr.set(&name, b"in-named", Create::Always).unwrap();
    assert!(
        Keyring::open(Ring::User)
            .unwrap()
            .get(&name)
            .unwrap_err()
            .is_not_found()
    );
    kr.invalidate_ring().unwrap();
    assert!(Keyring::open(ring).unwrap_err().is_not_found());
}

#[test]
fn group_ring_reports_kernel_error() {
    let kr = Keyring::open(Ring::Group).unwrap();
    let e = kr.set("x", b"v", Create::Always).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
    assert!(
        e.to_string()
            .starts_with("cannot write key 'x' in keyring 'group': Invalid argument"),
        "{e}"
    );
}

#[test]
fn payload_sizes() {
    let kr = Keyring::open(Ring::Thread).unwrap();
    let name = uniq("payload");
    let e = kr.set(&name, b"", Create::Always).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "refusing to store key '{name}' in keyring 'thread': the kernel rejects empty payloads"
        )
    );
    assert_eq!(e.errno(), Some(libc::EINVAL));

    for len in [1, 511, 512, 513, 2049, 4096, 32767] {
        let v: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        kr.set(&name, &v, Create::Always).unwrap();
        let back = kr.get(&name).unwrap();
        assert_eq!(back.len(), len);
        assert_eq!(&back[..], &v[..], "len {len}");
    }

    for len in [32768, 1 << 20] {
        let e = kr.set(&name, &vec![1u8; len], Create::Always).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "refusing to store key '{name}' in keyring 'thread': payload of {len} bytes is over the 32767-byte limit of user keys"
            )
        );
        assert_eq!(e.errno(), Some(libc::EINVAL));
    }
    kr.invalidate(&name).unwrap();
}

#[test]
fn cached_get_follows_updates_and_invalidation() {
    let kr = Keyring::open(Ring::Thread).unwrap();
    let name = uniq("cached");
    let id = kr.set(&name, b"one", Create::Always).unwrap();
    assert_eq!(&kr.get_cached(&name).unwrap()[..], b"one");
    // Updated in place by someone else: same serial, new payload.
    linux_keyutils::Key::from_id(linux_keyutils::KeySerialId::new(id))
        .update(b"two")
        .unwrap();
    assert_eq!(&kr.get_cached(&name).unwrap()[..], b"two");
    // Invalidated by someone else: the cached serial fails, lookup again.
    linux_keyutils::Key::from_id(linux_keyutils::KeySerialId::new(id))
        .invalidate()
        .unwrap();
    assert!(kr.get_cached(&name).unwrap_err().is_not_found());
    kr.set(&name, b"three", Create::Always).unwrap();
    assert_eq!(&kr.get_cached(&name).unwrap()[..], b"three");
    kr.invalidate(&name).unwrap();
    assert!(kr.get_cached(&name).unwrap_err().is_not_found());
}

#[test]
fn revoked_key() {
    let kr = Keyring::open(Ring::Thread).unwrap();
    let name = uniq("revoked");
    let id = kr.set(&name, b"v", Create::Always).unwrap();
    linux_keyutils::Key::from_id(linux_keyutils::KeySerialId::new(id))
        .revoke()
        .unwrap();
    let e = kr.get(&name).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("key '{name}' in keyring 'thread' has been revoked")
    );
    assert_eq!(e.errno(), Some(libc::EKEYREVOKED));
}

#[test]
fn invalid_names() {
    let kr = Keyring::open(Ring::Thread).unwrap();
    let cases: [(String, &str); 3] = [
        (String::new(), "invalid key name '': name is empty"),
        (
            "a".repeat(4096),
            "name is 4096 bytes, over the kernel's limit of 4095 bytes",
        ),
        (
            "a\0b".to_owned(),
            "invalid key name 'a\\u{0}b': name contains a NUL byte",
        ),
    ];
    for (name, msg) in &cases {
        for e in [
            kr.set(name, b"v", Create::Always).unwrap_err(),
            kr.get(name).unwrap_err(),
            kr.invalidate(name).unwrap_err(),
        ] {
            assert!(e.to_string().ends_with(msg), "{e}");
            assert!(matches!(e, KeyringError::InvalidName { .. }));
            assert_eq!(e.errno(), Some(libc::EINVAL));
        }
    }
    // The longest legal name works.
    let long = "n".repeat(4095);
    kr.set(&long, b"v", Create::Always).unwrap();
    assert_eq!(&kr.get(&long).unwrap()[..], b"v");
    assert_eq!(kr.search(&long, KeyKind::User, false).unwrap().name, long);
    kr.invalidate(&long).unwrap();

    let e = kr
        .set_with(
            "nocolon",
            b"v",
            &SetOptions {
                kind: KeyKind::Logon,
                ..SetOptions::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid key name 'nocolon': logon key names need a 'service:' prefix (e.g. 'tresor:name')"
    );
}

#[test]
fn create_modes() {
    let kr = Keyring::open(Ring::Thread).unwrap();
    let name = uniq("create");
    let e = kr.set(&name, b"x", Create::Never).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("key '{name}' not found in keyring 'thread'")
    );
    let id = kr.set(&name, b"first", Create::IfMissing).unwrap();
    let e = kr.set(&name, b"second", Create::IfMissing).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("key '{name}' already exists in keyring 'thread'")
    );
    assert_eq!(&kr.get(&name).unwrap()[..], b"first");
    assert_eq!(kr.set(&name, b"third", Create::Never).unwrap(), id);
    assert_eq!(&kr.get(&name).unwrap()[..], b"third");
    kr.invalidate(&name).unwrap();
}

#[test]
fn timeout_expires() {
    let kr = Keyring::open(Ring::Thread).unwrap();
    let name = uniq("timeout");
    kr.set_with(
        &name,
        b"short-lived",
        &SetOptions {
            timeout: Some(Duration::from_secs(1)),
            ..SetOptions::default()
        },
    )
    .unwrap();
    assert_eq!(&kr.get(&name).unwrap()[..], b"short-lived");
    let deadline = Instant::now() + Duration::from_secs(15);
    let err = loop {
        match kr.get(&name) {
            Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(_) => panic!("key '{name}' did not expire within 15 s"),
            Err(e) => break e,
        }
    };
    assert_eq!(
        err.to_string(),
        format!("key '{name}' in keyring 'thread' has expired")
    );
    assert_eq!(err.errno(), Some(libc::EKEYEXPIRED));
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn set_timeout_after_the_fact() {
    let kr = Keyring::open(Ring::Thread).unwrap();
    let name = uniq("set-timeout");
    kr.set(&name, b"v", Create::Always).unwrap();
    kr.set_timeout(&name, Duration::from_secs(1)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while kr.get(&name).is_ok() {
        assert!(Instant::now() < deadline, "no expiry within 15 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(matches!(
        kr.get(&name).unwrap_err(),
        KeyringError::Expired { .. }
    ));
}

#[test]
fn permission_denied() {
    let kr = Keyring::open(Ring::Thread).unwrap();
    let name = uniq("perm");
    kr.set(&name, b"v", Create::Always).unwrap();
    // View and setattr only: no search, no read, for anyone.
    let perms = KeyPermissionsBuilder::builder()
        .posessor(Permission::VIEW | Permission::SETATTR)
        .build();
    kr.set_permissions(&name, perms).unwrap();
    let e = kr.get(&name).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("permission denied to search key '{name}' in keyring 'thread' (EACCES)")
    );
    assert_eq!(e.errno(), Some(libc::EACCES));
    assert_eq!(e.exit_code(), 4);
    // The thread keyring (and the key with it) goes away with this test's
    // thread.
}

#[test]
fn search_does_not_recurse_unless_asked() {
    // A key in the thread keyring, which we link into the process keyring.
    let thread = Keyring::open(Ring::Thread).unwrap();
    let name = uniq("nested");
    let id = thread.set(&name, b"nested", Create::Always).unwrap();
    let process =
        linux_keyutils::KeyRing::from_special_id(linux_keyutils::KeyRingIdentifier::Process, true)
            .unwrap();
    process
        .link_keyring_id(linux_keyutils::KeyRingIdentifier::Thread)
        .unwrap();

    let kr = Keyring::open(Ring::Process).unwrap();
    let e = kr.get(&name).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("key '{name}' not found in keyring 'process'")
    );
    assert!(
        kr.search(&name, KeyKind::User, false)
            .unwrap_err()
            .is_not_found()
    );
    let found = kr.search(&name, KeyKind::User, true).unwrap();
    assert_eq!(found.id, id);
    assert_eq!(found.key_type, "user");

    // A key of the same name directly in the process ring wins.
    kr.set(&name, b"direct", Create::Always).unwrap();
    assert_eq!(&kr.get(&name).unwrap()[..], b"direct");

    process
        .unlink_keyring_id(linux_keyutils::KeyRingIdentifier::Thread)
        .unwrap();
    kr.invalidate(&name).unwrap();
    thread.invalidate(&name).unwrap();
}

#[test]
fn logon_keys_are_write_only() {
    let kr = Keyring::open(Ring::Thread).unwrap();
    let name = format!("tresor:{}", uniq("logon"));
    let opts = SetOptions {
        kind: KeyKind::Logon,
        ..SetOptions::default()
    };
    kr.set_with(&name, b"kernel-only", &opts).unwrap();
    let info = kr.search(&name, KeyKind::Logon, false).unwrap();
    assert_eq!(info.key_type, "logon");
    let e = kr.get(&name).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "key '{name}' in keyring 'thread' cannot be read from userspace (logon keys are write-only)"
        )
    );
    assert_eq!(e.errno(), Some(libc::EOPNOTSUPP));
    kr.invalidate(&name).unwrap();
    assert!(
        kr.search(&name, KeyKind::Logon, false)
            .unwrap_err()
            .is_not_found()
    );
}

#[test]
fn unlock_cache() {
    let vault = uniq("vault");
    let key = [0x5au8; 32];
    assert!(UnlockCache::load(&vault).is_none());
    UnlockCache::store(&vault, &key, Duration::from_secs(300)).unwrap();
    assert_eq!(UnlockCache::load(&vault).as_deref(), Some(&key));
    let info = Keyring::open(Ring::User)
        .unwrap()
        .search(&UnlockCache::key_name(&vault), KeyKind::User, false)
        .unwrap();
    assert_eq!(info.perm, 0x3f00_0000, "possessor-only permissions");
    UnlockCache::clear(&vault).unwrap();
    assert!(UnlockCache::load(&vault).is_none());
    UnlockCache::clear(&vault).unwrap();

    // Expiry: a 1 s ttl disappears.
    UnlockCache::store(&vault, &key, Duration::from_secs(1)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while UnlockCache::load(&vault).is_some() {
        assert!(Instant::now() < deadline, "unlock key did not expire");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(UnlockCache::try_load(&vault).unwrap().is_none());
    UnlockCache::clear(&vault).unwrap();
}

#[test]
fn unlock_cache_is_unreadable_by_serial_from_a_private_session() {
    if !keyctl_available() {
        return;
    }
    let vault = uniq("vault-private");
    UnlockCache::store(&vault, &[1u8; 32], Duration::from_secs(60)).unwrap();
    let id = Keyring::open(Ring::User)
        .unwrap()
        .search(&UnlockCache::key_name(&vault), KeyKind::User, false)
        .unwrap()
        .id;
    let out = Command::new("keyctl")
        .args(["session", "-", "keyctl", "pipe", &id.to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    UnlockCache::clear(&vault).unwrap();
}

#[test]
fn session_in_a_fresh_anonymous_session() {
    if !keyctl_available() {
        return;
    }
    let name = uniq("fresh-session");
    let bin = cli_bin();
    let script = format!(
        "printf 'in-session' | {b} set {n} --ring session >/dev/null && {b} get {n} --ring session && {b} --json session",
        b = bin.display(),
        n = name
    );
    let out = Command::new("keyctl")
        .args(["session", "-", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("in-session{\"id\":"), "{stdout}");
    assert!(stdout.contains("\"session\":\"own\""), "{stdout}");
    // The key lived in the child's session keyring, not in ours.
    let ours = Keyring::open(Ring::Session).unwrap();
    assert!(ours.get(&name).unwrap_err().is_not_found());
}

#[test]
fn session_set_does_not_start_a_new_session() {
    // A child process in our session stores a key in `session`; it must land
    // in the session keyring we share, not in a new private one that dies
    // with the child.
    let name = uniq("shared-session");
    let out = run_cli(&["set", &name, "--ring", "session"], b"shared");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = tresor_keyring::session_status().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if st.is_user_session_default() {
        assert!(stderr.contains(tresor_keyring::NO_SESSION_HINT), "{stderr}");
    }
    let ours = Keyring::open(Ring::Session).unwrap();
    assert_eq!(&ours.get(&name).unwrap()[..], b"shared");
    ours.invalidate(&name).unwrap();
}

#[test]
fn quota_exceeded() {
    // As root the quota is root_maxkeys/root_maxbytes (huge); run the CLI as
    // `nobody`, whose quota is maxkeys/maxbytes (200 keys, 20,000 bytes by
    // default), and store more bytes than that in one key.
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    let maxbytes: usize = std::fs::read_to_string("/proc/sys/kernel/keys/maxbytes")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if maxbytes >= 32767 {
        eprintln!("SKIPPED: maxbytes {maxbytes} is not below the largest payload");
        return;
    }
    let name = "tresor-it-quota";
    let mut cmd = Command::new(cli_bin());
    cmd.args(["set", name, "--ring", "process"]);
    if root {
        use std::os::unix::process::CommandExt;
        cmd.uid(65534).gid(65534);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&vec![b'q'; 32767])
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let maxkeys = std::fs::read_to_string("/proc/sys/kernel/keys/maxkeys").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "error: quota exceeded storing key '{name}' in keyring 'process' (EDQUOT): the kernel limits each user to {} keys and {maxbytes} bytes of key descriptions and payloads (see /proc/sys/kernel/keys/maxkeys and maxbytes)\n",
        maxkeys.trim()
    );
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert!(
        stderr.contains("hint: invalidate keys you no longer need"),
        "{stderr}"
    );
    // The root message names root's files.
    if root {
        let q = Quota::current();
        assert_eq!(
            q.files,
            "see /proc/sys/kernel/keys/root_maxkeys and root_maxbytes"
        );
    }
}

#[test]
fn keyctl_interop() {
    if !keyctl_available() {
        return;
    }
    let kr = Keyring::open(Ring::User).unwrap();
    // tresor -> keyctl pipe, with a payload above python-linux-keyutils'
    // 2,048-byte buffer.
    let name = uniq("interop-a");
    let v: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let id = kr.set(&name, &v, Create::Always).unwrap();
    let out = Command::new("keyctl")
        .args(["pipe", &id.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, v);
    let out = Command::new("keyctl")
        .args(["search", "@u", "user", &name])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id.to_string());
    kr.invalidate(&name).unwrap();

    // keyctl padd -> tresor get.
    let name = uniq("interop-b");
    let mut child = Command::new("keyctl")
        .args(["padd", "user", &name, "@u"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from keyctl\n\x00\xff")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(&kr.get(&name).unwrap()[..], b"from keyctl\n\x00\xff");

    // The CLI too: get prints raw bytes.
    let out = run_cli(&["get", &name], b"");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"from keyctl\n\x00\xff");
    let out = run_cli(&["--json", "get", &name], b"");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["encoding"], "base64");
    assert_eq!(v["value"], "ZnJvbSBrZXljdGwKAP8=");

    // keyctl invalidate, then tresor sees nothing.
    let st = Command::new("keyctl")
        .args(["invalidate", &format!("%user:{name}")])
        .status()
        .unwrap();
    assert!(st.success());
    assert!(kr.get(&name).unwrap_err().is_not_found());

    // Named rings: keyctl newring makes one tresor can use.
    let ring = uniq("interop-ring");
    let out = Command::new("keyctl")
        .args(["newring", &ring, "@u"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let named = Keyring::open(Ring::Named(ring.clone())).unwrap();
    let k = uniq("interop-in-ring");
    named.set(&k, b"in-ring", Create::Always).unwrap();
    let out = Command::new("keyctl")
        .args(["pipe", &format!("%user:{k}")])
        .output()
        .unwrap();
    // %user:k searches the process keyrings recursively, @u included.
    assert_eq!(out.stdout, b"in-ring");
    named.invalidate_ring().unwrap();
}

fn cli(cmd: KeyringCommand, json: bool, stdin: &[u8]) -> (Result<u8, KeyringError>, Vec<u8>) {
    let mut input = stdin;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut io = Io {
        stdin: &mut input,
        stdin_is_tty: false,
        stdout: &mut stdout,
        stderr: &mut stderr,
    };
    let r = run_with(cmd, json, &mut io).map(|c| {
        if c == std::process::ExitCode::SUCCESS {
            0
        } else {
            2
        }
    });
    (r, stdout)
}

#[test]
fn cli_commands_in_process() {
    let name = uniq("cli");
    let ring = Ring::Process;
    let (r, out) = cli(
        KeyringCommand::Set {
            name: name.clone(),
            ring: ring.clone(),
            timeout: Some("10m".into()),
            logon: false,
            create: tresor_keyring::cli::CreateArg::Always,
        },
        false,
        b"from-stdin",
    );
    assert_eq!(r.unwrap(), 0);
    let id: i32 = String::from_utf8(out).unwrap().trim().parse().unwrap();

    let (r, out) = cli(
        KeyringCommand::Get {
            name: name.clone(),
            ring: ring.clone(),
        },
        false,
        b"",
    );
    assert_eq!(r.unwrap(), 0);
    assert_eq!(out, b"from-stdin");

    let (r, out) = cli(
        KeyringCommand::Search {
            name: name.clone(),
            ring: ring.clone(),
            recurse: false,
            logon: false,
        },
        true,
        b"",
    );
    assert_eq!(r.unwrap(), 0);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["id"], id);
    assert_eq!(v["type"], "user");

    let (r, out) = cli(KeyringCommand::List { ring: ring.clone() }, true, b"");
    assert_eq!(r.unwrap(), 0);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == name.as_str())
    );

    let (r, _) = cli(
        KeyringCommand::Invalidate {
            name: name.clone(),
            ring: ring.clone(),
        },
        false,
        b"",
    );
    assert_eq!(r.unwrap(), 0);
    let (r, out) = cli(
        KeyringCommand::Get {
            name: name.clone(),
            ring,
        },
        false,
        b"",
    );
    let e = r.unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(out.is_empty());
}

#[test]
fn cli_process_exit_codes() {
    let name = uniq("cli-exit");
    let out = run_cli(&["get", &name], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: key '{name}' not found in keyring 'user'\n")
    );
    let out = run_cli(&["set", &name, "--ring", "bogus"], b"x");
    assert_eq!(out.status.code(), Some(2));
    let out = run_cli(&["set", &name, "--timeout", "soon"], b"x");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: invalid timeout 'soon': expected a number with an optional unit s, m, h or d (e.g. 10m)\n"
    );
    let out = run_cli(&["set", &name, "--ring", "thread"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = run_cli(&["set", &name, "--ring", "process"], &vec![0u8; 40_000]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("payload of 32768 bytes is over"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
