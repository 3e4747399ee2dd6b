//! Rust errors to Python exceptions.
//!
//! The classes live in `tresor/errors.py` (so each can subclass both `tresor.TresorError`
//! and the built-in the original library raised: `KeyError`, `ValueError`, `OSError`,
//! ...). Here we only pick the class by name and build the message: the error's text
//! followed by every `source()` in its chain that adds something, joined by `: `.

use std::error::Error;

use pyo3::prelude::*;
use tresor_keyring::KeyringError;

/// The Python class names in `tresor.errors`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    NotFound,
    InvalidArgument,
    AlreadyExists,
    PermissionDenied,
    QuotaExceeded,
    OutOfMemory,
    NotSupported,
    SystemCall,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Kind::NotFound => "NotFoundError",
            Kind::InvalidArgument => "InvalidArgumentError",
            Kind::AlreadyExists => "AlreadyExistsError",
            Kind::PermissionDenied => "PermissionDeniedError",
            Kind::QuotaExceeded => "QuotaExceededError",
            Kind::OutOfMemory => "OutOfMemoryError",
            Kind::NotSupported => "NotSupportedError",
            Kind::SystemCall => "SystemCallError",
        }
    }

    /// The kind for a bare `errno` (the kernel's answer with no more context).
    pub(crate) fn from_errno(errno: i32) -> Kind {
        match errno {
            libc::ENOKEY | libc::EKEYEXPIRED | libc::EKEYREVOKED | libc::ENOENT => Kind::NotFound,
            libc::EINVAL | libc::ENAMETOOLONG => Kind::InvalidArgument,
            libc::EEXIST => Kind::AlreadyExists,
            libc::EACCES | libc::EPERM => Kind::PermissionDenied,
            libc::EDQUOT => Kind::QuotaExceeded,
            libc::ENOMEM => Kind::OutOfMemory,
            libc::EOPNOTSUPP => Kind::NotSupported,
            _ => Kind::SystemCall,
        }
    }
}

/// The message of `e` with its whole cause chain: each `source()` whose text the
/// message does not already contain is appended after `: `.
pub(crate) fn chain(e: &(dyn Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !text.is_empty() && !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cur = s.source();
    }
    msg
}

/// Builds the `tresor.errors` exception of `kind` with `message` and `errno`.
pub(crate) fn raise(py: Python<'_>, kind: Kind, message: String, errno: Option<i32>) -> PyErr {
    raise_named(py, kind.class_name(), message, errno)
}

/// Builds the `tresor.errors` exception class `class_name` with `message` and `errno`.
pub(crate) fn raise_named(
    py: Python<'_>,
    class_name: &str,
    message: String,
    errno: Option<i32>,
) -> PyErr {
    let make = || -> PyResult<PyErr> {
        let module = py.import("tresor.errors")?;
        let exc = module
            .getattr("_make")?
            .call1((class_name, message.clone(), errno))?;
        Ok(PyErr::from_value(exc))
    };
    // Importing tresor.errors can only fail in a broken install: say so, keep the message.
    make().unwrap_or_else(|import_err| {
        pyo3::exceptions::PyRuntimeError::new_err(format!(
            "{message} (and tresor.errors could not be imported: {import_err})"
        ))
    })
}

/// The Python exception for a keyring error.
pub(crate) fn keyring_err(py: Python<'_>, e: &KeyringError) -> PyErr {
    let kind = match e {
        KeyringError::NotFound { .. }
        | KeyringError::RingNotFound { .. }
        | KeyringError::Expired { .. }
        | KeyringError::Revoked { .. } => Kind::NotFound,
        KeyringError::PermissionDenied { .. } => Kind::PermissionDenied,
        KeyringError::QuotaExceeded { .. } => Kind::QuotaExceeded,
        KeyringError::InvalidName { .. }
        | KeyringError::InvalidRing { .. }
        | KeyringError::EmptyPayload { .. }
        | KeyringError::PayloadTooLarge { .. }
        | KeyringError::InvalidTimeout { .. } => Kind::InvalidArgument,
        KeyringError::NotReadable { .. } => Kind::NotSupported,
        KeyringError::AlreadyExists { .. } => Kind::AlreadyExists,
        KeyringError::Os { errno, .. } => Kind::from_errno(*errno),
        _ => Kind::SystemCall,
    };
    let mut msg = chain(e);
    if let Some(hint) = e.hint() {
        msg.push_str(" (");
        msg.push_str(&hint);
        msg.push(')');
    }
    raise(py, kind, msg, e.errno())
}
