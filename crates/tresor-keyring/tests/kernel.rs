//! Integration tests on the real kernel keyrings.
//!
//! Keys get names unique to the test and process, and are invalidated at the
//! end. The tests that run `tresor keyring` in a child process (another
//! session, another uid, exit codes) are tresor-cli's `tests/keyring_kernel.rs`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tresor_keyring::{
    Create, KeyKind, KeyPermissionsBuilder, Keyring, KeyringError, Permission, Ring, SetOptions,
    UnlockCache,
};

fn uniq(test: &str) -> String {
    format!("tresor-it-{test}-{}", std::process::id())
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
    assert!(matches!(err, KeyringError::Expired { .. }));
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
    assert!(matches!(e, KeyringError::PermissionDenied { .. }));
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
