//! Reading payloads: from this ring or by the kernel's search, and with the handle's cache
//! of serial numbers.

use std::sync::PoisonError;

use zeroize::Zeroizing;

use crate::{KeyringError, Ring};

use super::Keyring;
use super::kernel::{check_name, read_links, read_payload};

impl Keyring {
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

    pub(super) fn forget(&self, name: &str) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }
}
