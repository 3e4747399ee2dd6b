//! `tresor.keyring`: secrets in any Linux kernel keyring, through `tresor-keyring`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tresor_keyring::{Create, Keyring, KeyringError, Ring, SetOptions};

use crate::errors::{Kind, keyring_err, raise};

/// Opened keyrings by ring, so a read is the key's system calls only (opening the
/// session ring asks the kernel which session keyring this process has).
fn rings() -> &'static Mutex<HashMap<Ring, Keyring>> {
    static RINGS: OnceLock<Mutex<HashMap<Ring, Keyring>>> = OnceLock::new();
    RINGS.get_or_init(Mutex::default)
}

/// The handle for `ring`, opened once per process (named rings are opened again
/// after an error, in case the ring was removed and made anew).
pub(crate) fn open(ring: &Ring, create: bool) -> Result<Keyring, KeyringError> {
    if let Some(k) = rings()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(ring)
    {
        return Ok(k.clone());
    }
    let k = if create {
        Keyring::open_or_create(ring.clone())?
    } else {
        Keyring::open(ring.clone())?
    };
    rings()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(ring.clone(), k.clone());
    Ok(k)
}

/// Forgets a cached named ring after an error (it may have been invalidated).
pub(crate) fn forget(ring: &Ring) {
    if matches!(ring, Ring::Named(_)) {
        rings()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(ring);
    }
}

fn parse_ring(py: Python<'_>, ring: &str) -> PyResult<Ring> {
    ring.parse::<Ring>().map_err(|e| keyring_err(py, &e))
}

fn create_mode(py: Python<'_>, mode: &str) -> PyResult<Create> {
    match mode {
        "always" => Ok(Create::Always),
        "if-missing" => Ok(Create::IfMissing),
        "never" => Ok(Create::Never),
        other => Err(raise(
            py,
            Kind::InvalidArgument,
            format!("invalid mode '{other}': expected 'always', 'if-missing' or 'never'"),
            None,
        )),
    }
}

/// Stores `value` as a `user` key `name` in `ring` and returns its serial number.
///
/// `ring`: `thread`, `process`, `session`, `user` (default), `user-session` or `@name`
/// (a named ring in the user keyring, created if missing). `mode`: `always` (create or
/// replace), `if-missing`, `never` (update only). `timeout`: seconds until the kernel
/// expires the key.
#[pyfunction]
#[pyo3(signature = (name, value, ring = "user", *, mode = "always", timeout = None))]
fn keyring_set(
    py: Python<'_>,
    name: &str,
    value: &[u8],
    ring: &str,
    mode: &str,
    timeout: Option<f64>,
) -> PyResult<i32> {
    let ring = parse_ring(py, ring)?;
    let create = create_mode(py, mode)?;
    let timeout = match timeout {
        None => None,
        Some(t) if t > 0.0 && Duration::try_from_secs_f64(t).is_ok() => {
            Some(Duration::from_secs_f64(t))
        }
        Some(t) => {
            return Err(raise(
                py,
                Kind::InvalidArgument,
                format!("invalid timeout {t}: expected a positive number of seconds"),
                None,
            ));
        }
    };
    let opts = SetOptions {
        create,
        timeout,
        ..SetOptions::default()
    };
    py.detach(|| open(&ring, true).and_then(|k| k.set_with(name, value, &opts)))
        .map_err(|e| {
            forget(&ring);
            keyring_err(py, &e)
        })
}

/// Reads the `user` key `name` linked directly in `ring` (whatever its size).
#[pyfunction]
#[pyo3(signature = (name, ring = "user"))]
fn keyring_get<'py>(py: Python<'py>, name: &str, ring: &str) -> PyResult<Bound<'py, PyBytes>> {
    let ring = parse_ring(py, ring)?;
    let value = py
        .detach(|| open(&ring, false).and_then(|k| k.get(name)))
        .map_err(|e| {
            forget(&ring);
            keyring_err(py, &e)
        })?;
    Ok(PyBytes::new(py, &value))
}

/// Invalidates (deletes) the key `name` linked directly in `ring`.
#[pyfunction]
#[pyo3(signature = (name, ring = "user"))]
fn keyring_invalidate(py: Python<'_>, name: &str, ring: &str) -> PyResult<()> {
    let ring = parse_ring(py, ring)?;
    py.detach(|| open(&ring, false).and_then(|k| k.invalidate(name)))
        .map_err(|e| {
            forget(&ring);
            keyring_err(py, &e)
        })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(keyring_set, m)?)?;
    m.add_function(wrap_pyfunction!(keyring_get, m)?)?;
    m.add_function(wrap_pyfunction!(keyring_invalidate, m)?)?;
    Ok(())
}
