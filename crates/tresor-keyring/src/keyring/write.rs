//! Writing keys: storing a payload (with its type, timeout and permissions), invalidating
//! a key, changing its timeout or permissions, and invalidating a named keyring.

use std::time::Duration;

use linux_keyutils::{Key, KeyPermissions, KeySerialId};

use crate::error::NameProblem;
use crate::{KeyringError, ffi};

use super::kernel::{check_name, errno_of, timeout_secs};
use super::{Create, KeyKind, Keyring, MAX_PAYLOAD_LEN, SetOptions};

impl Keyring {
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
}
