//! [`Keyring`]: set, get, invalidate, search and list keys in one keyring.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use linux_keyutils::{Key, KeyError, KeyPermissions, KeySerialId};
use zeroize::Zeroizing;

use crate::error::NameProblem;
use crate::{KeyringError, Ring, SessionStatus, ffi};

/// The longest key name (description) the kernel accepts, in bytes.
pub const MAX_NAME_LEN: usize = 4095;

/// The largest payload of a `user` or `logon` key, in bytes (the kernel's
/// `user_preparse` limit; `add_key(2)` itself stops at 1 MiB - 1, which only
/// the `big_key` type reaches).
pub const MAX_PAYLOAD_LEN: usize = 32767;

/// Initial read buffer; larger payloads take a second read of exactly the
/// size the kernel reported.
const FIRST_READ: usize = 512;

/// The kernel key type of a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyKind {
    /// `user`: readable by whoever has read permission (or possesses it and
    /// may search it).
    #[default]
    User,
    /// `logon`: like `user` but never readable from userspace; the name needs
    /// a `service:` prefix. Only kernel services (dm-crypt, fscrypt, cifs,
    /// ...) use the payload.
    Logon,
}

impl KeyKind {
    /// The kernel's type name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::User => "user",
            KeyKind::Logon => "logon",
        }
    }

    fn as_cstr(self) -> &'static CStr {
        match self {
            KeyKind::User => c"user",
            KeyKind::Logon => c"logon",
        }
    }
}

/// What [`Keyring::set_with`] does when a key of that name exists or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Create {
    /// Create the key, or replace the payload of the existing one.
    #[default]
    Always,
    /// Create the key only if the ring has none of that name; otherwise fail
    /// with [`KeyringError::AlreadyExists`] and leave it alone.
    IfMissing,
    /// Only update an existing key; fail with [`KeyringError::NotFound`] if
    /// there is none.
    Never,
}

/// Options for [`Keyring::set_with`].
#[derive(Debug, Clone, Default)]
pub struct SetOptions {
    /// Key type (default `user`).
    pub kind: KeyKind,
    /// Create/update policy (default [`Create::Always`]).
    pub create: Create,
    /// Expire the key after this long (whole seconds, rounded up).
    pub timeout: Option<Duration>,
    /// Permissions to set right after creating the key (default: the
    /// kernel's, possessor all and user view).
    pub permissions: Option<KeyPermissions>,
}

/// What the kernel says about one key or keyring (`keyctl describe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Serial number.
    pub id: i32,
    /// Type name: `user`, `logon`, `keyring`, ...
    pub key_type: String,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Permission mask (`0x3f010000` style: possessor, user, group, other).
    pub perm: u32,
    /// The description, i.e. the key's name.
    pub name: String,
}

impl KeyInfo {
    fn parse(id: i32, s: &str) -> Option<KeyInfo> {
        let mut it = s.splitn(5, ';');
        Some(KeyInfo {
            id,
            key_type: it.next()?.to_owned(),
            uid: it.next()?.parse().ok()?,
            gid: it.next()?.parse().ok()?,
            perm: u32::from_str_radix(it.next()?, 16).ok()?,
            name: it.next()?.to_owned(),
        })
    }
}

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
fn shown(name: &str) -> String {
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
fn read_links(ring: i32) -> Result<Vec<i32>, i32> {
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

/// One keyring, ready for operations on its keys.
///
/// Special keyrings are addressed by their special id (`KEY_SPEC_*`), so the
/// kernel treats them as possessed by the caller; named keyrings by their
/// serial number.
///
/// # Examples
///
/// ```
/// use tresor_keyring::{Create, Keyring, Ring};
///
/// let ring = Keyring::open(Ring::Process)?;
/// ring.set("doc-example", b"s3cret", Create::Always)?;
/// assert_eq!(&ring.get("doc-example")?[..], b"s3cret");
/// ring.invalidate("doc-example")?;
/// assert!(ring.get("doc-example").unwrap_err().is_not_found());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Keyring {
    ring: Ring,
    label: String,
    target: i32,
    /// Serial numbers found by [`Keyring::get_cached`], by name.
    cache: Arc<Mutex<HashMap<String, i32>>>,
}

impl Keyring {
    /// Opens a keyring. Special keyrings always open (thread and process
    /// keyrings are created by the kernel on first write); a named keyring
    /// must already be linked in the user keyring.
    ///
    /// For [`Ring::Session`] in a process without a session of its own, the
    /// handle targets the per-user default session keyring by serial number:
    /// a plain `add_key` to `@s` there (as `keyctl add ... @s` does) would
    /// silently join a new, process-private session keyring that is lost
    /// when the process exits.
    ///
    /// # Errors
    ///
    /// [`KeyringError::RingNotFound`] for a missing named ring; the kernel's
    /// error when the session keyring cannot be resolved.
    pub fn open(ring: Ring) -> Result<Keyring, KeyringError> {
        Self::open_inner(ring, false)
    }

    /// Like [`Keyring::open`], but creates a missing named keyring and links
    /// it into the user keyring.
    ///
    /// # Errors
    ///
    /// The kernel's error when the ring cannot be created.
    pub fn open_or_create(ring: Ring) -> Result<Keyring, KeyringError> {
        Self::open_inner(ring, true)
    }

    fn open_inner(ring: Ring, create: bool) -> Result<Keyring, KeyringError> {
        let label = ring.to_string();
        let target = match &ring {
            Ring::Named(name) => {
                let cname = check_name(name).map_err(|_| KeyringError::InvalidRing {
                    input: label.clone(),
                })?;
                let user = Keyring {
                    ring: Ring::User,
                    label: "user".to_owned(),
                    target: -4,
                    cache: Arc::default(),
                };
                match user.find(&cname, name, c"keyring", false) {
                    Ok(id) => id,
                    Err(e) if e.is_not_found() && create => {
                        ffi::add_key(c"keyring", &cname, None, -4).map_err(|errno| {
                            KeyringError::from_errno(errno, "create", "user", &label)
                        })?
                    }
                    Err(e) if e.is_not_found() => {
                        return Err(KeyringError::RingNotFound { ring: label });
                    }
                    Err(e) => return Err(e),
                }
            }
            Ring::Session => match crate::session_status()? {
                // `add_key` to `@s` from a process whose session keyring is
                // the user-session default makes the kernel join a brand-new
                // session keyring (KEY_LOOKUP_CREATE), private to the process
                // and lost at exit. Use the default ring's serial number
                // instead: the ring is still possessed (it is the process's
                // session keyring) and no session is joined or replaced.
                SessionStatus::UserSessionDefault { id } => id,
                SessionStatus::Own { .. } => -3,
            },
            other => other.special_id().unwrap_or(-4),
        };
        Ok(Keyring {
            ring,
            label,
            target,
            cache: Arc::default(),
        })
    }

    /// The keyring this handle operates on.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// The id the handle passes to the kernel: a negative special id, or a
    /// named ring's serial number.
    pub fn target_id(&self) -> i32 {
        self.target
    }

    fn name_error(name: &str, problem: NameProblem) -> KeyringError {
        KeyringError::InvalidName {
            shown: shown(name),
            problem,
        }
    }

    fn err(&self, errno: i32, op: &'static str, name: &str) -> KeyringError {
        KeyringError::from_errno(errno, op, &self.label, name)
    }

    /// Finds the key `name` of type `ktype`; with `recurse` false, only a
    /// key linked directly in this ring counts.
    fn find(
        &self,
        cname: &CStr,
        name: &str,
        ktype: &CStr,
        recurse: bool,
    ) -> Result<i32, KeyringError> {
        let id = match ffi::search(self.target, ktype, cname) {
            Ok(id) => id,
            Err(libc::EKEYREVOKED) => return Err(self.revoked_or_gone(name, ktype)),
            Err(e) => return Err(self.err(e, "search", name)),
        };
        if recurse {
            return Ok(id);
        }
        let links = read_links(self.target).map_err(|e| self.err(e, "search", name))?;
        if links.contains(&id) {
            return Ok(id);
        }
        // The kernel found a same-named key in a nested ring. Look for one
        // directly here that the search skipped (e.g. not searchable).
        let want_type = ktype.to_str().unwrap_or("");
        links
            .into_iter()
            .find(|&l| {
                ffi::describe(l)
                    .ok()
                    .and_then(|d| KeyInfo::parse(l, &d))
                    .is_some_and(|i| i.key_type == want_type && i.name == name)
            })
            .ok_or_else(|| KeyringError::NotFound {
                ring: self.label.clone(),
                name: name.to_owned(),
            })
    }

    /// The kernel's search answers `EKEYREVOKED` both for a revoked key and
    /// for an invalidated one the garbage collector has not unlinked yet
    /// (e.g. `keyctl invalidate` by another process). Tell them apart with
    /// the flags in `/proc/keys`: an invalidated key is reported as not
    /// found, as `keyrings(7)` says it should be.
    fn revoked_or_gone(&self, name: &str, ktype: &CStr) -> KeyringError {
        let revoked = KeyringError::Revoked {
            ring: self.label.clone(),
            name: name.to_owned(),
        };
        let Ok(links) = read_links(self.target) else {
            return revoked;
        };
        let Ok(proc_keys) = std::fs::read_to_string("/proc/keys") else {
            return revoked;
        };
        let want_type = ktype.to_str().unwrap_or("");
        let direct_revoked = proc_keys.lines().filter_map(proc_keys_line).any(|l| {
            links.contains(&l.id)
                && l.key_type == want_type
                && (l.desc == name || l.desc.starts_with(&format!("{name}: ")))
                && l.flags.contains('R')
        });
        if direct_revoked {
            revoked
        } else {
            KeyringError::NotFound {
                ring: self.label.clone(),
                name: name.to_owned(),
            }
        }
    }

    /// Stores `value` as a `user` key named `name`.
    ///
    /// # Errors
    ///
    /// See [`Keyring::set_with`].
    pub fn set(&self, name: &str, value: &[u8], create: Create) -> Result<i32, KeyringError> {
        self.set_with(
            name,
            value,
            &SetOptions {
                create,
                ..SetOptions::default()
            },
        )
    }

    /// Stores `value` under `name` and returns the key's serial number.
    ///
    /// With a timeout or permissions in `opts`, they are applied right after
    /// the write; if that fails the key is invalidated (fail closed) and the
    /// error returned.
    ///
    /// # Errors
    ///
    /// [`KeyringError::InvalidName`], [`KeyringError::EmptyPayload`],
    /// [`KeyringError::PayloadTooLarge`] before any system call;
    /// [`KeyringError::AlreadyExists`] / [`KeyringError::NotFound`] per
    /// [`Create`]; [`KeyringError::QuotaExceeded`],
    /// [`KeyringError::PermissionDenied`] and others from the kernel.
    pub fn set_with(
        &self,
        name: &str,
        value: &[u8],
        opts: &SetOptions,
    ) -> Result<i32, KeyringError> {
        self.forget(name);
        let cname = check_name(name).map_err(|p| Self::name_error(name, p))?;
        if opts.kind == KeyKind::Logon && !name.get(1..).is_some_and(|rest| rest.contains(':')) {
            return Err(Self::name_error(name, NameProblem::LogonWithoutPrefix));
        }
        if value.is_empty() {
            return Err(KeyringError::EmptyPayload {
                ring: self.label.clone(),
                name: name.to_owned(),
            });
        }
        if value.len() > MAX_PAYLOAD_LEN {
            return Err(KeyringError::PayloadTooLarge {
                ring: self.label.clone(),
                name: name.to_owned(),
                len: value.len(),
                max: MAX_PAYLOAD_LEN,
                key_type: opts.kind.as_str(),
            });
        }
        let ktype = opts.kind.as_cstr();
        let id = match opts.create {
            Create::Always => ffi::add_key(ktype, &cname, Some(value), self.target)
                .map_err(|e| self.err(e, "write", name))?,
            Create::IfMissing => match self.find(&cname, name, ktype, false) {
                Ok(_) => {
                    return Err(KeyringError::AlreadyExists {
                        ring: self.label.clone(),
                        name: name.to_owned(),
                    });
                }
                Err(e) if e.is_not_found() => ffi::add_key(ktype, &cname, Some(value), self.target)
                    .map_err(|e| self.err(e, "write", name))?,
                Err(e) => return Err(e),
            },
            Create::Never => {
                let id = self.find(&cname, name, ktype, false)?;
                Key::from_id(KeySerialId::new(id))
                    .update(&value)
                    .map_err(|e| self.err(errno_of(e), "update", name))?;
                id
            }
        };
        let key = Key::from_id(KeySerialId::new(id));
        let finish = || -> Result<(), KeyringError> {
            if let Some(p) = opts.permissions {
                key.set_perms(p)
                    .map_err(|e| self.err(errno_of(e), "set permissions of", name))?;
            }
            if let Some(t) = opts.timeout {
                key.set_timeout(timeout_secs(t))
                    .map_err(|e| self.err(errno_of(e), "set timeout of", name))?;
            }
            Ok(())
        };
        if let Err(e) = finish() {
            let _ = key.invalidate();
            return Err(e);
        }
        Ok(id)
    }

    /// Reads the payload of the `user` key `name` linked directly in this
    /// ring, whatever its size.
    ///
    /// # Errors
    ///
    /// [`KeyringError::NotReadable`] when the name belongs to a `logon` key,
    /// [`KeyringError::NotFound`], [`KeyringError::PermissionDenied`],
    /// [`KeyringError::Expired`], [`KeyringError::Revoked`],
    /// [`KeyringError::InvalidName`], ...
    pub fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        let id = self.find_any(name)?;
        read_payload(id).map_err(|e| self.err(e, "read", name))
    }

    /// Reads the payload of the `user` key `name` found by the kernel's search from
    /// this ring, **including keyrings linked from it** (breadth-first), as
    /// `keyctl search` and python-linux-keyutils' `get_secret` do: one search and one
    /// read (two for payloads over 512 bytes). [`Keyring::get`] accepts only a key
    /// linked directly in the ring.
    ///
    /// # Errors
    ///
    /// As [`Keyring::get`].
    pub fn get_recursive(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        let cname = check_name(name).map_err(|p| Self::name_error(name, p))?;
        let id = self.find(&cname, name, c"user", true)?;
        read_payload(id).map_err(|e| self.err(e, "read", name))
    }

    /// [`Keyring::get_recursive`] that remembers, as [`Keyring::get_cached`] does, the
    /// serial number of a key found **linked directly in this ring** and afterwards reads
    /// it by serial number: one system call instead of two, the same answer (the kernel's
    /// search looks at the ring's own links before any nested ring, so while the key stays
    /// linked here the search finds it). Not remembered, so searched for on every call:
    /// a key found only in a nested ring (a same-named key added here later must win) and
    /// any key of the thread or process keyring (each thread, and a forked child, has its
    /// own). Goes stale only as [`Keyring::get_cached`] says: when the key is unlinked from
    /// this ring or displaced by another of the same name while it stays linked elsewhere.
    ///
    /// # Errors
    ///
    /// As [`Keyring::get`].
    pub fn get_recursive_cached(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        let shared = !matches!(self.ring, Ring::Thread | Ring::Process);
        if shared && let Some(v) = self.read_remembered(name) {
            return Ok(v);
        }
        let cname = check_name(name).map_err(|p| Self::name_error(name, p))?;
        let id = self.find(&cname, name, c"user", true)?;
        let v = read_payload(id).map_err(|e| self.err(e, "read", name))?;
        if shared && read_links(self.target).is_ok_and(|links| links.contains(&id)) {
            self.remember(name, id);
        }
        Ok(v)
    }

    /// Like [`Keyring::get`], but remembers the key's serial number in this
    /// handle (and its clones) and afterwards reads by serial number: one
    /// system call instead of three.
    ///
    /// The cached serial stays right when the key is updated in place
    /// (`set`, `keyctl padd`/`update` of the same name: the kernel keeps the
    /// serial), and is dropped and looked up again when the key is
    /// invalidated, revoked, expired or destroyed (the read fails). It goes
    /// **stale** only when the key is unlinked from this ring or displaced by
    /// another key of the same name *while it stays linked somewhere else*:
    /// then this returns the old key's payload. Use [`Keyring::get`] where
    /// that matters.
    ///
    /// # Errors
    ///
    /// As [`Keyring::get`].
    pub fn get_cached(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        if let Some(v) = self.read_remembered(name) {
            return Ok(v);
        }
        let id = self.find_any(name)?;
        let v = read_payload(id).map_err(|e| self.err(e, "read", name))?;
        self.remember(name, id);
        Ok(v)
    }

    /// The payload of the key remembered for `name`, if there is one and it reads; a serial
    /// that no longer reads (invalidated, revoked, expired, gone) is forgotten.
    fn read_remembered(&self, name: &str) -> Option<Zeroizing<Vec<u8>>> {
        let id = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .copied()?;
        let v = read_payload(id).ok();
        if v.is_none() {
            self.forget(name);
        }
        v
    }

    fn remember(&self, name: &str, id: i32) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), id);
    }

    fn forget(&self, name: &str) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }

    /// Looks up key `name` of type `kind` and describes it. With `recurse`
    /// false only this ring is searched; with true also the keyrings linked
    /// from it (the kernel's breadth-first search).
    ///
    /// # Errors
    ///
    /// [`KeyringError::NotFound`] and the kernel's errors.
    pub fn search(
        &self,
        name: &str,
        kind: KeyKind,
        recurse: bool,
    ) -> Result<KeyInfo, KeyringError> {
        let cname = check_name(name).map_err(|p| Self::name_error(name, p))?;
        let id = self.find(&cname, name, kind.as_cstr(), recurse)?;
        self.describe_id(id, name)
    }

    fn describe_id(&self, id: i32, name: &str) -> Result<KeyInfo, KeyringError> {
        let d = ffi::describe(id).map_err(|e| self.err(e, "describe", name))?;
        KeyInfo::parse(id, &d).ok_or_else(|| self.err(libc::EINVAL, "describe", name))
    }

    fn find_any(&self, name: &str) -> Result<i32, KeyringError> {
        let cname = check_name(name).map_err(|p| Self::name_error(name, p))?;
        match self.find(&cname, name, c"user", false) {
            Err(e) if e.is_not_found() && name.get(1..).is_some_and(|r| r.contains(':')) => {
                self.find(&cname, name, c"logon", false)
            }
            r => r,
        }
    }

    /// Invalidates (deletes at once, from every ring) the `user` or `logon`
    /// key `name` linked in this ring.
    ///
    /// # Errors
    ///
    /// [`KeyringError::NotFound`] and the kernel's errors.
    pub fn invalidate(&self, name: &str) -> Result<(), KeyringError> {
        self.forget(name);
        let id = self.find_any(name)?;
        Key::from_id(KeySerialId::new(id))
            .invalidate()
            .map_err(|e| self.err(errno_of(e), "invalidate", name))?;
        // An invalidated key stays linked (searches answer EKEYREVOKED) until
        // the kernel's garbage collector runs; unlink it from this ring now
        // so the name is free at once. Failure here changes nothing: the key
        // is already dead.
        let _ = ffi::unlink(id, self.target);
        Ok(())
    }

    /// Sets the key to expire `timeout` from now (whole seconds, rounded up;
    /// zero clears the timeout).
    ///
    /// # Errors
    ///
    /// [`KeyringError::NotFound`] and the kernel's errors.
    pub fn set_timeout(&self, name: &str, timeout: Duration) -> Result<(), KeyringError> {
        let id = self.find_any(name)?;
        Key::from_id(KeySerialId::new(id))
            .set_timeout(timeout_secs(timeout))
            .map_err(|e| self.err(errno_of(e), "set timeout of", name))
    }

    /// Replaces the key's permission mask.
    ///
    /// # Errors
    ///
    /// [`KeyringError::NotFound`] and the kernel's errors.
    pub fn set_permissions(&self, name: &str, perms: KeyPermissions) -> Result<(), KeyringError> {
        let id = self.find_any(name)?;
        Key::from_id(KeySerialId::new(id))
            .set_perms(perms)
            .map_err(|e| self.err(errno_of(e), "set permissions of", name))
    }

    /// Invalidates a named keyring (and so unlinks every key in it that has
    /// no other link). Special keyrings are left alone.
    ///
    /// # Errors
    ///
    /// [`KeyringError::InvalidRing`] for a special keyring; the kernel's
    /// errors.
    pub fn invalidate_ring(self) -> Result<(), KeyringError> {
        if self.ring.special_id().is_some() {
            return Err(KeyringError::InvalidRing { input: self.label });
        }
        Key::from_id(KeySerialId::new(self.target))
            .invalidate()
            .map_err(|e| {
                KeyringError::from_errno(errno_of(e), "invalidate", "user", &self.label)
            })?;
        // Free the name in @u at once (see `invalidate`).
        let _ = ffi::unlink(self.target, -4);
        Ok(())
    }

    /// Lists the keys and keyrings linked directly in this ring. Links this
    /// process may not view (or that expired) are left out.
    ///
    /// # Errors
    ///
    /// The kernel's error if the ring cannot be read.
    pub fn list(&self) -> Result<Vec<KeyInfo>, KeyringError> {
        let links = match read_links(self.target) {
            Ok(l) => l,
            // A thread/process keyring that was never created is empty.
            Err(libc::ENOKEY) if matches!(self.ring, Ring::Thread | Ring::Process) => Vec::new(),
            Err(e) => return Err(self.err(e, "list", "")),
        };
        Ok(links
            .into_iter()
            .filter_map(|id| ffi::describe(id).ok().and_then(|d| KeyInfo::parse(id, &d)))
            .collect())
    }
}

/// One line of `/proc/keys`.
struct ProcKey<'a> {
    id: i32,
    flags: &'a str,
    key_type: &'a str,
    /// The type's description text: `name` or `name: payload-length`.
    desc: &'a str,
}

/// Parses `id flags usage timeout perm uid gid type desc` from `/proc/keys`.
fn proc_keys_line(line: &str) -> Option<ProcKey<'_>> {
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
fn timeout_secs(t: Duration) -> usize {
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
    fn key_info_parses_descriptions_with_semicolons() {
        let i = KeyInfo::parse(7, "user;0;0;3f010000;a;b").unwrap();
        assert_eq!(i.key_type, "user");
        assert_eq!(i.perm, 0x3f01_0000);
        assert_eq!(i.name, "a;b");
        assert!(KeyInfo::parse(7, "user;x").is_none());
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
