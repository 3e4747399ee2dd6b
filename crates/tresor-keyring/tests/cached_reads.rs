//! `Keyring::get_recursive_cached` on the real kernel keyrings: what it remembers, and that
//! its answers follow what other processes do (python_linux_keyutils' `get_secret` uses it).
//!
//! Keys get names unique to the test and process, and are invalidated at the end.

use tresor_keyring::{Create, Keyring, Ring};

fn uniq(test: &str) -> String {
    format!("tresor-it-{test}-{}", std::process::id())
}

/// `get_recursive_cached` on a ring shared by the process (here `@u`): a key linked
/// directly there is read by serial number afterwards, and still follows updates and
/// invalidation by someone else.
#[test]
fn recursive_cached_get_follows_updates_and_invalidation() {
    use linux_keyutils::{Key, KeySerialId};
    let kr = Keyring::open(Ring::User).unwrap();
    let name = uniq("rcached");
    let id = kr.set(&name, b"one", Create::Always).unwrap();
    assert_eq!(&kr.get_recursive_cached(&name).unwrap()[..], b"one");
    Key::from_id(KeySerialId::new(id)).update(b"two").unwrap();
    assert_eq!(&kr.get_recursive_cached(&name).unwrap()[..], b"two");
    Key::from_id(KeySerialId::new(id)).invalidate().unwrap();
    assert!(kr.get_recursive_cached(&name).unwrap_err().is_not_found());
    kr.set(&name, b"three", Create::Always).unwrap();
    assert_eq!(&kr.get_recursive_cached(&name).unwrap()[..], b"three");
    kr.invalidate(&name).unwrap();
    assert!(kr.get_recursive_cached(&name).unwrap_err().is_not_found());
}

/// A key found in a nested ring is never remembered: a same-named key added directly in
/// the ring later wins, as the kernel's search has it.
#[test]
fn recursive_cached_get_does_not_remember_nested_keys() {
    use linux_keyutils::{KeyRing, KeyRingIdentifier};
    let thread = Keyring::open(Ring::Thread).unwrap();
    let name = uniq("rcached-nested");
    thread.set(&name, b"nested", Create::Always).unwrap();
    let user_ring = KeyRing::from_special_id(KeyRingIdentifier::User, false).unwrap();
    user_ring
        .link_keyring_id(KeyRingIdentifier::Thread)
        .unwrap();
    let kr = Keyring::open(Ring::User).unwrap();
    assert_eq!(&kr.get_recursive_cached(&name).unwrap()[..], b"nested");
    // Added by someone else (not through `kr`, whose own writes forget what it remembers).
    user_ring.add_key(&name, b"direct").unwrap();
    let got = kr.get_recursive_cached(&name);
    user_ring
        .unlink_keyring_id(KeyRingIdentifier::Thread)
        .unwrap();
    kr.invalidate(&name).unwrap();
    thread.invalidate(&name).unwrap();
    assert_eq!(&got.unwrap()[..], b"direct");
}

/// The remembered serial is really what is read: after the key is unlinked from `@u`
/// while it stays linked in the thread ring, `get_recursive_cached` still reads it (the
/// stale case its documentation names) where the uncached search no longer finds it.
/// The thread and process rings are never remembered.
#[test]
fn recursive_cached_get_reads_the_remembered_serial() {
    use linux_keyutils::{Key, KeyRing, KeyRingIdentifier, KeySerialId};
    let kr = Keyring::open(Ring::User).unwrap();
    let name = uniq("rcached-serial");
    let id = kr.set(&name, b"kept", Create::Always).unwrap();
    assert_eq!(&kr.get_recursive_cached(&name).unwrap()[..], b"kept");
    let thread_ring = KeyRing::from_special_id(KeyRingIdentifier::Thread, true).unwrap();
    let user_ring = KeyRing::from_special_id(KeyRingIdentifier::User, false).unwrap();
    let key = || Key::from_id(KeySerialId::new(id));
    thread_ring.link_key(key()).unwrap();
    user_ring.unlink_key(key()).unwrap();
    let cached = kr.get_recursive_cached(&name);
    let searched = kr.get_recursive(&name);
    key().invalidate().unwrap();
    assert_eq!(&cached.unwrap()[..], b"kept");
    assert!(searched.unwrap_err().is_not_found());
    assert!(kr.get_recursive_cached(&name).unwrap_err().is_not_found());

    // In the thread ring the same moves are seen at once: nothing is remembered there.
    let thread = Keyring::open(Ring::Thread).unwrap();
    let id = thread.set(&name, b"t", Create::Always).unwrap();
    assert_eq!(&thread.get_recursive_cached(&name).unwrap()[..], b"t");
    user_ring
        .link_key(Key::from_id(KeySerialId::new(id)))
        .unwrap();
    thread_ring
        .unlink_key(Key::from_id(KeySerialId::new(id)))
        .unwrap();
    let after = thread.get_recursive_cached(&name);
    Key::from_id(KeySerialId::new(id)).invalidate().unwrap();
    assert!(after.unwrap_err().is_not_found());
}
