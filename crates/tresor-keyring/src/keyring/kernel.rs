//! Helpers around the key system calls: name checks, `errno` mapping, payload and link
//! reads, `/proc/keys` lines and timeouts.

use std::ffi::CString;
use std::time::Duration;

use linux_keyutils::{Key, KeyError, KeySerialId};
use zeroize::Zeroizing;

use crate::error::NameProblem;

use super::MAX_NAME_LEN;

/// Initial read buffer; larger payloads take a second read of exactly the
/// size the kernel reported.
const FIRST_READ: usize = 512;

/// Checks a key name against the kernel's rules and converts it for the
/// system call.
pub(crate) fn check_name(name: &str) -> Result<CString, NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameProblem::TooLong { len: name.len() });
    }
    CString::new(name).map_err(|_| NameProblem::Nul)
}

/// Shortens and escapes a name for an error message.
pub(super) fn shown(name: &str) -> String {
    let mut s: String = name
        .chars()
        .take(64)
        .flat_map(char::escape_default)
        .collect();
    if name.chars().count() > 64 {
        s.push_str("...");
    }
    s
}

/// Maps a `linux-keyutils` error back to the `errno` it came from.
pub(crate) fn errno_of(e: KeyError) -> i32 {
    match e {
        KeyError::AccessDenied => libc::EACCES,
        KeyError::QuotaExceeded => libc::EDQUOT,
        KeyError::BadAddress => libc::EFAULT,
        KeyError::InvalidArguments => libc::EINVAL,
        KeyError::KeyExpired => libc::EKEYEXPIRED,
        KeyError::KeyRevoked => libc::EKEYREVOKED,
        KeyError::KeyRejected => libc::EKEYREJECTED,
        KeyError::KeyringDoesNotExist | KeyError::KeyDoesNotExist => libc::ENOKEY,
        KeyError::OutOfMemory => libc::ENOMEM,
        KeyError::OperationNotSupported => libc::EOPNOTSUPP,
        KeyError::PermissionDenied => libc::EPERM,
        KeyError::MissingFileOrDirectory => libc::ENOENT,
        KeyError::Unknown(x) => x,
        // Raised by the crate itself, not the kernel.
        KeyError::InvalidDescription | KeyError::InvalidIdentifier => libc::EINVAL,
        KeyError::WriteError => libc::EIO,
    }
}

/// Reads a key's payload, probing its size: one read into a small buffer,
/// and if the kernel reports more, one read into a buffer of exactly that
/// size (repeated if the key grows in between). Never truncates.
pub(crate) fn read_payload(id: i32) -> Result<Zeroizing<Vec<u8>>, i32> {
    let key = Key::from_id(KeySerialId::new(id));
    let mut buf = Zeroizing::new(vec![0u8; FIRST_READ]);
    loop {
        let n = key.read(&mut *buf).map_err(errno_of)?;
        if n <= buf.len() {
            buf.truncate(n);
            return Ok(buf);
        }
        buf = Zeroizing::new(vec![0u8; n]);
    }
}

/// Reads the serial numbers linked in keyring `ring` (special or numeric id).
pub(super) fn read_links(ring: i32) -> Result<Vec<i32>, i32> {
    let key = Key::from_id(KeySerialId::new(ring));
    let mut small = [0u8; 256];
    let n = key.read(&mut small).map_err(errno_of)?;
    let ids = |b: &[u8]| {
        b.chunks_exact(4)
            .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect::<Vec<_>>()
    };
    if n <= small.len() {
        return Ok(ids(&small[..n]));
    }
    let mut big = vec![0u8; n];
    loop {
        let m = key.read(&mut big).map_err(errno_of)?;
        if m <= big.len() {
            return Ok(ids(&big[..m]));
        }
        big = vec![0u8; m];
    }
}

/// One line of `/proc/keys`.
pub(super) struct ProcKey<'a> {
    pub(super) id: i32,
    pub(super) flags: &'a str,
    pub(super) key_type: &'a str,
    /// The type's description text: `name` or `name: payload-length`.
    pub(super) desc: &'a str,
}

/// Parses `id flags usage timeout perm uid gid type desc` from `/proc/keys`.
pub(super) fn proc_keys_line(line: &str) -> Option<ProcKey<'_>> {
    let mut rest = line;
    let mut cols = [""; 8];
    for c in cols.iter_mut() {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace)?;
        *c = &rest[..end];
        rest = &rest[end..];
    }
    Some(ProcKey {
        id: i32::try_from(u32::from_str_radix(cols[0], 16).ok()?).ok()?,
        flags: cols[1],
        key_type: cols[7],
        desc: rest.trim_start(),
    })
}

/// Seconds for `KEYCTL_SET_TIMEOUT`: rounded up, capped at `u32::MAX`.
pub(super) fn timeout_secs(t: Duration) -> usize {
    let secs = t.as_secs() + u64::from(t.subsec_nanos() > 0);
    secs.min(u64::from(u32::MAX)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        assert_eq!(check_name(""), Err(NameProblem::Empty));
        assert_eq!(
            check_name(&"a".repeat(4096)),
            Err(NameProblem::TooLong { len: 4096 })
        );
        assert!(check_name(&"a".repeat(4095)).is_ok());
        assert_eq!(check_name("a\0b"), Err(NameProblem::Nul));
    }

    #[test]
    fn shown_escapes_and_truncates() {
        assert_eq!(shown("a\0b"), "a\\u{0}b");
        assert_eq!(shown(&"x".repeat(70)), format!("{}...", "x".repeat(64)));
    }

    #[test]
    fn proc_keys_lines_parse() {
        let l = proc_keys_line(
            "01befa2e I--QR--     1 expd 3f000000     0     0 user      tresor:unlock:v: 32",
        )
        .unwrap();
        assert_eq!(l.id, 0x01be_fa2e);
        assert_eq!(l.flags, "I--QR--");
        assert_eq!(l.key_type, "user");
        assert_eq!(l.desc, "tresor:unlock:v: 32");
        assert!(proc_keys_line("garbage").is_none());
        assert!(proc_keys_line("").is_none());
    }

    #[test]
    fn timeout_rounds_up() {
        assert_eq!(timeout_secs(Duration::from_millis(1500)), 2);
        assert_eq!(timeout_secs(Duration::ZERO), 0);
        assert_eq!(
            timeout_secs(Duration::from_secs(u64::MAX)),
            u32::MAX as usize
        );
    }

    #[test]
    fn errno_mapping_round_trips_kernel_errors() {
        assert_eq!(errno_of(KeyError::KeyDoesNotExist), libc::ENOKEY);
        assert_eq!(errno_of(KeyError::AccessDenied), libc::EACCES);
        assert_eq!(errno_of(KeyError::Unknown(libc::ENOMEM)), libc::ENOMEM);
    }
}
