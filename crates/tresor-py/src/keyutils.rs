//! The `python_linux_keyutils` drop-in: same functions, signatures, enum and exception
//! types as the original (0.2.1), on `tresor-keyring`, without its 2,048-byte read
//! limit, and with the `errno` kept in every exception.

use linux_keyutils::{Key, KeyError, KeyRing, KeySerialId};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tresor_keyring::{Create, KeyKind, KeyringError, Ring};

use crate::errors::{Kind, keyring_err, raise};
use crate::keyring::{forget, open};

/// Which kernel keyring (`python_linux_keyutils.KeyRingIdentifier`): compares equal to
/// itself and to its integer value, `int()` gives that value, unordered, unhashable,
/// as in the original.
#[pyclass(eq, eq_int, module = "python_linux_keyutils", from_py_object)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyRingIdentifier {
    /// The calling thread's keyring (`@t`).
    Thread = 0,
    /// The calling process's keyring (`@p`).
    Process = 1,
    /// The session keyring (`@s`), the default.
    Session = 2,
    /// The user keyring (`@u`).
    User = 3,
    /// The user's default session keyring (`@us`).
    UserSession = 4,
    /// The group keyring (`@g`, not implemented by Linux).
    Group = 5,
    /// A request-key helper's authorisation key (`@a`).
    ReqKeyAuthKey = 6,
}

impl KeyRingIdentifier {
    fn ring(self) -> Ring {
        match self {
            KeyRingIdentifier::Thread => Ring::Thread,
            KeyRingIdentifier::Process => Ring::Process,
            KeyRingIdentifier::Session => Ring::Session,
            KeyRingIdentifier::User => Ring::User,
            KeyRingIdentifier::UserSession => Ring::UserSession,
            KeyRingIdentifier::Group => Ring::Group,
            KeyRingIdentifier::ReqKeyAuthKey => Ring::ReqKeyAuthKey,
        }
    }
}

fn errno_of(e: KeyError) -> i32 {
    match e {
        KeyError::AccessDenied | KeyError::PermissionDenied => libc::EACCES,
        KeyError::QuotaExceeded => libc::EDQUOT,
        KeyError::BadAddress => libc::EFAULT,
        KeyError::InvalidArguments | KeyError::InvalidDescription => libc::EINVAL,
        KeyError::KeyExpired => libc::EKEYEXPIRED,
        KeyError::KeyRevoked => libc::EKEYREVOKED,
        KeyError::KeyRejected => libc::EKEYREJECTED,
        KeyError::KeyringDoesNotExist | KeyError::KeyDoesNotExist => libc::ENOKEY,
        KeyError::OutOfMemory => libc::ENOMEM,
        KeyError::OperationNotSupported => libc::EOPNOTSUPP,
        KeyError::MissingFileOrDirectory => libc::ENOENT,
        KeyError::Unknown(n) => n,
        _ => libc::EIO,
    }
}

/// Checks that a special ring exists (`create=False`) or makes it (`create=True`), as
/// the original's `KeyRing::from_special_id(ring, create)` does. The session keyring
/// always exists (the user's default one when the process has none of its own), and is
/// never replaced here.
fn resolve(ring: KeyRingIdentifier, create: bool) -> Result<(), (i32, String)> {
    if ring == KeyRingIdentifier::Session {
        return Ok(());
    }
    let id = match ring {
        KeyRingIdentifier::Thread => linux_keyutils::KeyRingIdentifier::Thread,
        KeyRingIdentifier::Process => linux_keyutils::KeyRingIdentifier::Process,
        KeyRingIdentifier::Session => linux_keyutils::KeyRingIdentifier::Session,
        KeyRingIdentifier::User => linux_keyutils::KeyRingIdentifier::User,
        KeyRingIdentifier::UserSession => linux_keyutils::KeyRingIdentifier::UserSession,
        KeyRingIdentifier::Group => linux_keyutils::KeyRingIdentifier::Group,
        KeyRingIdentifier::ReqKeyAuthKey => linux_keyutils::KeyRingIdentifier::ReqKeyAuthKey,
    };
    KeyRing::from_special_id(id, create).map(drop).map_err(|e| {
        let errno = errno_of(e);
        let ring = ring.ring();
        let msg = if errno == libc::ENOKEY {
            format!("keyring '{ring}' does not exist: pass create=True to make it")
        } else {
            format!(
                "cannot open keyring '{ring}': {}",
                std::io::Error::from_raw_os_error(errno)
            )
        };
        (errno, msg)
    })
}

/// Stores `secret` (bytes, 1 to 32,767 of them) under `name` in `key_ring` (default:
/// the session keyring), replacing any key of that name there. With `create=False` a
/// thread or process keyring that does not exist yet raises `KeyError`.
#[pyfunction]
#[pyo3(signature = (name, secret, /, key_ring = None, create = false))]
fn set_secret(
    py: Python<'_>,
    name: &str,
    secret: &Bound<'_, PyBytes>,
    key_ring: Option<KeyRingIdentifier>,
    create: bool,
) -> PyResult<()> {
    let ident = key_ring.unwrap_or(KeyRingIdentifier::Session);
    let ring = ident.ring();
    let secret = secret.as_bytes();
    py.detach(|| {
        resolve(ident, create).map_err(Err)?;
        open(&ring, false)
            .and_then(|k| k.set(name, secret, Create::Always))
            .map_err(Ok)
    })
    .map(drop)
    .map_err(|e| match e {
        Ok(e) => {
            forget(&ring);
            keyring_err(py, &e)
        }
        Err((errno, msg)) => raise(py, Kind::from_errno(errno), msg, Some(errno)),
    })
}

/// Returns the bytes stored under `name` in `key_ring` (default: the session keyring) or
/// in a keyring linked from it (the kernel's search, as the original), whatever their
/// size. Raises `KeyError` when there is no such key (or it expired).
///
/// A key found linked directly in the session, user or a named keyring is then read by
/// its serial number (one system call instead of the search and the read; updates and
/// invalidation are still seen): see `tresor_keyring::Keyring::get_recursive_cached` for
/// the one case where that answer differs from a new search.
#[pyfunction]
#[pyo3(signature = (name, /, key_ring = None))]
fn get_secret<'py>(
    py: Python<'py>,
    name: &str,
    key_ring: Option<KeyRingIdentifier>,
) -> PyResult<Bound<'py, PyBytes>> {
    let ring = key_ring.unwrap_or(KeyRingIdentifier::Session).ring();
    let value = py
        .detach(|| open(&ring, false).and_then(|k| k.get_recursive_cached(name)))
        .map_err(|e| keyring_err(py, &e))?;
    Ok(PyBytes::new(py, &value))
}

/// Invalidates (deletes) the key `name` in `key_ring` (default: the session keyring) or,
/// failing that, the one the kernel's search finds in a keyring linked from it. Raises
/// `KeyError` when there is no such key.
#[pyfunction]
#[pyo3(signature = (name, /, key_ring = None))]
fn invalidate_secret(
    py: Python<'_>,
    name: &str,
    key_ring: Option<KeyRingIdentifier>,
) -> PyResult<()> {
    let ring = key_ring.unwrap_or(KeyRingIdentifier::Session).ring();
    py.detach(|| {
        let k = open(&ring, false)?;
        match k.invalidate(name) {
            // Not linked directly: the kernel's search may find it in a keyring linked
            // from this one, as the original's `search(name)?.invalidate()` does.
            Err(e) if e.is_not_found() => {
                let found = k.search(name, KeyKind::User, true).map_err(|_| e)?;
                Key::from_id(KeySerialId::new(found.id))
                    .invalidate()
                    .map_err(|err| KeyringError::Os {
                        op: "invalidate",
                        ring: ring.to_string(),
                        name: name.to_owned(),
                        errno: errno_of(err),
                    })
            }
            r => r,
        }
    })
    .map_err(|e| keyring_err(py, &e))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<KeyRingIdentifier>()?;
    m.add_function(wrap_pyfunction!(set_secret, m)?)?;
    m.add_function(wrap_pyfunction!(get_secret, m)?)?;
    m.add_function(wrap_pyfunction!(invalidate_secret, m)?)?;
    Ok(())
}
