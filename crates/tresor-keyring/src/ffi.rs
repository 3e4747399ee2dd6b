//! The few kernel key calls that `linux-keyutils` 0.2 does not offer.
//!
//! This is the only module of the crate that contains `unsafe` code. Each
//! function makes one `add_key(2)` or `keyctl(2)` system call through
//! `libc::syscall`, and exists for one reason:
//!
//! * [`add_key`]: `linux_keyutils::KeyRing::add_key` always creates keys of
//!   type `user`. tresor also creates `logon` keys and named `keyring`s, and it
//!   must pass the special keyring ids (`KEY_SPEC_USER_KEYRING` = -4, ...)
//!   straight to the kernel: a special id carries *possession*, a resolved
//!   numeric id does not when the ring is not reachable from the session.
//! * [`search`]: `linux_keyutils::KeyRing::search` only searches `user` keys
//!   and only from a resolved numeric ring id (same possession problem).
//! * [`get_keyring_id`]: `linux_keyutils::KeyRing::from_special_id` resolves
//!   a special keyring but does not expose its serial number, which
//!   [`session_status`](crate::session_status) compares and reports.
//! * [`unlink`]: `linux_keyutils::KeyRing::unlink_key` needs a `KeyRing`,
//!   which the crate only builds from special ids, not from a named ring's
//!   serial number.
//! * [`describe`]: `linux_keyutils::Metadata` reads the description into a
//!   fixed 512-byte buffer and panics (slice out of range) on the longer
//!   descriptions the kernel allows (up to 4095 bytes). This version probes
//!   the size first.
//!
//! Every function returns the raw `errno` on failure so the caller can keep it.
#![allow(unsafe_code)]

use std::ffi::CStr;

/// `KEYCTL_GET_KEYRING_ID` from `<linux/keyctl.h>`.
const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
/// `KEYCTL_UNLINK` from `<linux/keyctl.h>`.
const KEYCTL_UNLINK: libc::c_long = 9;
/// `KEYCTL_DESCRIBE` from `<linux/keyctl.h>`.
const KEYCTL_DESCRIBE: libc::c_long = 6;
/// `KEYCTL_SEARCH` from `<linux/keyctl.h>`.
const KEYCTL_SEARCH: libc::c_long = 10;

/// Reads `errno` after a failed system call.
fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Converts a system call result into a key serial number or `errno`.
fn to_serial(res: libc::c_long) -> Result<i32, i32> {
    if res < 0 {
        return Err(last_errno());
    }
    i32::try_from(res).map_err(|_| libc::ERANGE)
}

/// `add_key(type, description, payload, plen, ring)`.
///
/// `payload` is `None` for a keyring. Returns the new (or updated) key's
/// serial number.
pub(crate) fn add_key(
    key_type: &CStr,
    description: &CStr,
    payload: Option<&[u8]>,
    ring: i32,
) -> Result<i32, i32> {
    let (ptr, len) = match payload {
        Some(p) => (p.as_ptr(), p.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: `key_type` and `description` are valid NUL-terminated strings
    // that outlive the call; `ptr`/`len` describe a live, readable slice (or
    // are null/0, which the kernel accepts for keyrings). The kernel only
    // reads from these pointers.
    let res = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            key_type.as_ptr(),
            description.as_ptr(),
            ptr,
            len as libc::size_t,
            ring as libc::c_long,
        )
    };
    to_serial(res)
}

/// `keyctl(KEYCTL_SEARCH, ring, type, description, 0)`.
///
/// The kernel search is recursive (breadth first, keys directly in `ring`
/// first); callers that want only `ring` itself check the result.
pub(crate) fn search(ring: i32, key_type: &CStr, description: &CStr) -> Result<i32, i32> {
    // SAFETY: both strings are valid, NUL-terminated and outlive the call; the
    // destination keyring argument 0 means "link nowhere". The kernel only
    // reads from the pointers.
    let res = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_SEARCH,
            ring as libc::c_long,
            key_type.as_ptr(),
            description.as_ptr(),
            0 as libc::c_long,
        )
    };
    to_serial(res)
}

/// `keyctl(KEYCTL_GET_KEYRING_ID, special, 0)`: the serial number of a
/// special keyring, never creating it.
pub(crate) fn get_keyring_id(special: i32) -> Result<i32, i32> {
    // SAFETY: no pointers are passed; all arguments are plain integers.
    let res = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_KEYRING_ID,
            special as libc::c_long,
            0 as libc::c_long,
        )
    };
    to_serial(res)
}

/// `keyctl(KEYCTL_UNLINK, key, ring)`: removes the link from `ring` to `key`.
pub(crate) fn unlink(key: i32, ring: i32) -> Result<(), i32> {
    // SAFETY: no pointers are passed; all arguments are plain integers.
    let res = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_UNLINK,
            key as libc::c_long,
            ring as libc::c_long,
        )
    };
    to_serial(res).map(drop)
}

/// `keyctl(KEYCTL_DESCRIBE, id, buf, len)` into `buf`; returns the full
/// length the kernel wants to write (including the trailing NUL), which may
/// exceed `buf.len()`, in which case `buf` holds a truncated prefix.
fn describe_into(id: i32, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: `buf` is a live, writable slice of exactly `buf.len()` bytes;
    // the kernel writes at most that many bytes into it.
    let res = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            id as libc::c_long,
            buf.as_mut_ptr(),
            buf.len() as libc::size_t,
        )
    };
    if res < 0 {
        return Err(last_errno());
    }
    usize::try_from(res).map_err(|_| libc::ERANGE)
}

/// Describes key `id` as the kernel's `"type;uid;gid;perm;description"`
/// string, however long the description is.
pub(crate) fn describe(id: i32) -> Result<String, i32> {
    let mut buf = vec![0u8; 256];
    loop {
        let want = describe_into(id, &mut buf)?;
        if want <= buf.len() {
            buf.truncate(want);
            // Drop the trailing NUL the kernel writes.
            if buf.last() == Some(&0) {
                buf.pop();
            }
            return String::from_utf8(buf).map_err(|_| libc::EILSEQ);
        }
        // The description grew (or the first buffer was small): retry with
        // the size the kernel asked for.
        buf = vec![0u8; want];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_of_user_keyring_names_its_type() {
        // -4 is KEY_SPEC_USER_KEYRING: always present for a process.
        let d = describe(-4).expect("describe @u");
        assert!(d.starts_with("keyring;"), "{d}");
        assert!(d.contains("_uid."), "{d}");
    }

    #[test]
    fn search_missing_key_returns_enokey() {
        let err = search(-4, c"user", c"tresor-ffi-test-definitely-missing").unwrap_err();
        assert_eq!(err, libc::ENOKEY);
    }
}
