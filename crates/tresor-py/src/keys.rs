//! `tresor.keys`: tresor's versioned keys and transit-style encrypt / decrypt / rewrap /
//! sign / verify, on the store of a tresor vault (tresor-keys' `KeyManager`).

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tresor_keys::{KeyManager, KeyType, KeysError};
use tresor_store::Store;

use crate::errors::{chain, raise_named};
use crate::vault::Vault;

/// The Python exception for a key-management error.
pub(crate) fn keys_err(py: Python<'_>, e: &KeysError) -> PyErr {
    let class = match e {
        KeysError::Undefined(_) => "NotFoundError",
        KeysError::UnknownVersion { .. } => "NotFoundError",
        KeysError::AlreadyDefined(_) | KeysError::Exists(_) => "AlreadyExistsError",
        KeysError::InvalidName { .. } | KeysError::Malformed { .. } => "InvalidArgumentError",
        KeysError::Decrypt => "DecryptionError",
        KeysError::VersionRetired { .. } | KeysError::Refused { .. } => "PermissionDeniedError",
        KeysError::Unsupported { .. } => "NotSupportedError",
        KeysError::Io { .. } => "SystemCallError",
        _ => "VaultError",
    };
    raise_named(py, class, chain(e), None)
}

/// Versioned keys in a vault's store: `create`, `rotate`, `encrypt` (ciphertexts
/// `tresor:NAME:vN:BASE64` naming key and version), `decrypt`, `rewrap`, `sign`, `verify`.
#[pyclass(module = "tresor.keys", frozen)]
pub(crate) struct Keys {
    km: KeyManager,
}

#[pymethods]
impl Keys {
    /// Opens the key manager on `vault`'s store.
    #[new]
    fn new(py: Python<'_>, vault: &Vault) -> PyResult<Keys> {
        let store = vault.inner().store();
        py.detach(|| {
            let s = Store::open(
                store.backend().clone(),
                store.provider().clone(),
                store.actor(),
            )
            .map_err(KeysError::from)?;
            KeyManager::open(Arc::new(s))
        })
        .map(|km| Keys { km })
        .map_err(|e| keys_err(py, &e))
    }

    /// Creates key `name` with its first version; `key_type`: `aes256-gcm` (default),
    /// `chacha20-poly1305`, `hmac-sha256`, `ed25519`. Returns the primary version.
    #[pyo3(signature = (name, key_type = "aes256-gcm"))]
    fn create(&self, py: Python<'_>, name: &str, key_type: &str) -> PyResult<u32> {
        let kt: KeyType = key_type
            .parse()
            .map_err(|why: String| raise_named(py, "InvalidArgumentError", why, None))?;
        py.detach(|| self.km.create(name, kt))
            .map(|info| info.primary_version)
            .map_err(|e| keys_err(py, &e))
    }

    /// Adds a new primary version of `name` (older versions keep decrypting); returns it.
    fn rotate(&self, py: Python<'_>, name: &str) -> PyResult<u32> {
        py.detach(|| {
            self.km.rotate(name)?;
            self.km.show(name)
        })
        .map(|info| info.primary_version)
        .map_err(|e| keys_err(py, &e))
    }

    /// Encrypts `plaintext` under the primary version of `name`, binding `aad`.
    #[pyo3(signature = (name, plaintext, aad = b"".as_slice()))]
    fn encrypt(
        &self,
        py: Python<'_>,
        name: &str,
        plaintext: &[u8],
        aad: &[u8],
    ) -> PyResult<String> {
        // The text form is the binary form's payload in base64 behind `tresor:NAME:vN:`
        // (what tresor-keys' `encrypt` returns), built here with a SIMD base64 encoder:
        // base64 was most of the text form's cost over the binary form's.
        // A cached key is pure computation: done with the GIL held (releasing and taking it
        // back cost more than the work); the GIL is released only when the store or a key
        // source is needed.
        let b = match self.km.encrypt_bytes_cached(name, plaintext, aad) {
            Some(r) => r,
            None => py.detach(|| self.km.encrypt_bytes(name, plaintext, aad)),
        }
        .map_err(|e| keys_err(py, &e))?;
        let (mut text, payload) =
            tresor_keys::ciphertext::text_head(&b).map_err(|e| keys_err(py, &e))?;
        base64_simd::STANDARD.encode_append(payload, &mut text);
        Ok(text)
    }

    /// Decrypts a ciphertext from `encrypt` (whatever version made it, if not retired).
    #[pyo3(signature = (ciphertext, aad = b"".as_slice()))]
    fn decrypt<'py>(
        &self,
        py: Python<'py>,
        ciphertext: &str,
        aad: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let pt = py
            .detach(|| self.km.decrypt(ciphertext, aad))
            .map_err(|e| keys_err(py, &e))?;
        Ok(PyBytes::new(py, pt.expose()))
    }

    /// Like `encrypt`, in the binary form (bytes naming key and version, no base64).
    #[pyo3(signature = (name, plaintext, aad = b"".as_slice()))]
    fn encrypt_bytes<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        plaintext: &[u8],
        aad: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        // As in `encrypt`: the GIL is released only when the store or a key source is needed.
        // A cached key seals straight into the new `bytes` object (no second copy).
        let len = KeyManager::encrypted_len(name, plaintext.len());
        let mut cached = true;
        let fast = PyBytes::new_with(py, len, |out| {
            match self.km.encrypt_bytes_cached_into(name, plaintext, aad, out) {
                Some(r) => r.map_err(|e| keys_err(py, &e)),
                None => {
                    cached = false;
                    Err(pyo3::exceptions::PyRuntimeError::new_err("not cached"))
                }
            }
        });
        if cached {
            return fast;
        }
        let ct = py
            .detach(|| self.km.encrypt_bytes(name, plaintext, aad))
            .map_err(|e| keys_err(py, &e))?;
        Ok(PyBytes::new(py, &ct))
    }

    /// Decrypts a ciphertext from `encrypt_bytes`.
    #[pyo3(signature = (ciphertext, aad = b"".as_slice()))]
    fn decrypt_bytes<'py>(
        &self,
        py: Python<'py>,
        ciphertext: &[u8],
        aad: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let pt = match self.km.decrypt_bytes_cached(ciphertext, aad) {
            Some(r) => r,
            None => py.detach(|| self.km.decrypt_bytes(ciphertext, aad)),
        }
        .map_err(|e| keys_err(py, &e))?;
        Ok(PyBytes::new(py, pt.expose()))
    }

    /// Re-encrypts a ciphertext under the key's current primary version.
    #[pyo3(signature = (ciphertext, aad = b"".as_slice()))]
    fn rewrap(&self, py: Python<'_>, ciphertext: &str, aad: &[u8]) -> PyResult<String> {
        py.detach(|| self.km.rewrap(ciphertext, aad))
            .map_err(|e| keys_err(py, &e))
    }

    /// Signs `message` with key `name` (ed25519 or hmac-sha256).
    fn sign(&self, py: Python<'_>, name: &str, message: &[u8]) -> PyResult<String> {
        py.detach(|| self.km.sign(name, message))
            .map_err(|e| keys_err(py, &e))
    }

    /// True if `signature` (from `sign`) is valid for `message`.
    fn verify(&self, py: Python<'_>, signature: &str, message: &[u8]) -> PyResult<bool> {
        py.detach(|| self.km.verify(signature, message))
            .map_err(|e| keys_err(py, &e))
    }

    /// The names of every key in the store.
    fn list(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        py.detach(|| self.km.list()).map_err(|e| keys_err(py, &e))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Keys>()
}
