//! What the kernel says about keys: one key described, a key searched for and described,
//! and the keys listed in a ring.

use crate::{KeyringError, Ring, ffi};

use super::kernel::{check_name, read_links};
use super::{KeyKind, Keyring};

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
    pub(super) fn parse(id: i32, s: &str) -> Option<KeyInfo> {
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

impl Keyring {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_info_parses_descriptions_with_semicolons() {
        let i = KeyInfo::parse(7, "user;0;0;3f010000;a;b").unwrap();
        assert_eq!(i.key_type, "user");
        assert_eq!(i.perm, 0x3f01_0000);
        assert_eq!(i.name, "a;b");
        assert!(KeyInfo::parse(7, "user;x").is_none());
    }
}
