//! [`Keyring`]: set, get, invalidate, search and list keys in one keyring.

use std::collections::HashMap;
use std::ffi::CStr;
use std::sync::{Arc, Mutex};

use crate::error::NameProblem;
use crate::{KeyringError, Ring, SessionStatus, ffi};

mod info;
mod kernel;
mod options;
mod read;
mod write;

pub use info::KeyInfo;
pub(crate) use kernel::{check_name, errno_of};
pub use options::{Create, KeyKind, SetOptions};

use kernel::{proc_keys_line, read_links, shown};

/// The longest key name (description) the kernel accepts, in bytes.
pub const MAX_NAME_LEN: usize = 4095;

/// The largest payload of a `user` or `logon` key, in bytes (the kernel's
/// `user_preparse` limit; `add_key(2)` itself stops at 1 MiB - 1, which only
/// the `big_key` type reaches).
pub const MAX_PAYLOAD_LEN: usize = 32767;

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

    fn find_any(&self, name: &str) -> Result<i32, KeyringError> {
        let cname = check_name(name).map_err(|p| Self::name_error(name, p))?;
        match self.find(&cname, name, c"user", false) {
            Err(e) if e.is_not_found() && name.get(1..).is_some_and(|r| r.contains(':')) => {
                self.find(&cname, name, c"logon", false)
            }
            r => r,
        }
    }
}
