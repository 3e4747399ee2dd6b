//! Where a defined key's value comes from.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use tresor_crypto::outside::NamedKeys;
use tresor_store::{ObjectType, Store};

use crate::error::{BoxError, SourceError};
use crate::value::KeyValue;

/// A closure that returns a key (keys-management's `KeysStore`).
pub type SourceFn = Arc<dyn Fn() -> Result<KeyValue, BoxError> + Send + Sync>;

/// Where a defined key's value comes from. Each call to the source reads it afresh.
///
/// Text values (environment variables, files, vault secrets) may carry an encoding prefix:
/// `base64:...` or `hex:...` are decoded; anything else is taken as its bytes. Files lose one
/// trailing newline.
#[derive(Clone)]
#[non_exhaustive]
pub enum KeySource {
    /// A Rust closure.
    Fn(SourceFn),
    /// A tresor vault secret: a SecretData object named `app:env:KEY` in the manager's store.
    VaultSecret(String),
    /// A KMIP managed object (SymmetricKey, SecretData or OpaqueObject) in the manager's store,
    /// by uid or by name; its current version.
    KmipObject(String),
    /// An environment variable.
    Env(String),
    /// A file.
    File(PathBuf),
    /// A key in a Linux kernel keyring (`user`, `session`, `@name`, ...), read through
    /// `keys` (`tresor_keyring::KernelKeys`, injected by whoever composes the manager, so
    /// this crate does not depend on the keyring door).
    Keyring {
        /// The keyring, as `tresor keyring` names it.
        ring: String,
        /// The key's name (description).
        name: String,
        /// Reads the key.
        keys: Arc<dyn NamedKeys>,
    },
    /// Two sources: the first gives the encrypt (forward-path) key, the second the decrypt
    /// (back-path) key. Each must give a symmetric value.
    Pair(Box<KeySource>, Box<KeySource>),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Fn(_) => f.write_str("Fn(..)"),
            KeySource::VaultSecret(n) => f.debug_tuple("VaultSecret").field(n).finish(),
            KeySource::KmipObject(n) => f.debug_tuple("KmipObject").field(n).finish(),
            KeySource::Env(n) => f.debug_tuple("Env").field(n).finish(),
            KeySource::File(p) => f.debug_tuple("File").field(p).finish(),
            KeySource::Keyring { ring, name, .. } => f
                .debug_struct("Keyring")
                .field("ring", ring)
                .field("name", name)
                .finish(),
            KeySource::Pair(a, b) => f.debug_tuple("Pair").field(a).field(b).finish(),
        }
    }
}

impl KeySource {
    /// A source from a closure.
    pub fn from_fn(f: impl Fn() -> Result<KeyValue, BoxError> + Send + Sync + 'static) -> Self {
        KeySource::Fn(Arc::new(f))
    }

    /// Reads the key now.
    pub(crate) fn fetch(&self, store: &Store) -> Result<KeyValue, SourceError> {
        let v = match self {
            KeySource::Fn(f) => f().map_err(SourceError::Failed)?,
            KeySource::VaultSecret(name) => {
                let (meta, value) = store
                    .read_by_name(name)
                    .map_err(boxed)?
                    .ok_or_else(|| SourceError::Missing(format!("vault secret '{name}'")))?;
                if meta.object_type != ObjectType::SecretData {
                    return Err(SourceError::WrongType {
                        expected: "a SecretData object",
                        found: meta.object_type.to_string(),
                    });
                }
                KeyValue::symmetric(decode_text(value.expose())?)
            }
            KeySource::KmipObject(id) => {
                let meta = match store.get(id).map_err(boxed)? {
                    Some(m) => m,
                    None => store
                        .get_by_name(id)
                        .map_err(boxed)?
                        .ok_or_else(|| SourceError::Missing(format!("object '{id}'")))?,
                };
                if !matches!(
                    meta.object_type,
                    ObjectType::SymmetricKey | ObjectType::SecretData | ObjectType::OpaqueObject
                ) {
                    return Err(SourceError::WrongType {
                        expected: "a SymmetricKey, SecretData or OpaqueObject",
                        found: meta.object_type.to_string(),
                    });
                }
                if meta.state.is_destroyed() {
                    return Err(SourceError::Missing(format!("material of object '{id}'")));
                }
                let m = store.material(&meta, 0).map_err(boxed)?;
                KeyValue::symmetric(m.expose().as_slice())
            }
            KeySource::Env(var) => {
                let v = std::env::var_os(var)
                    .ok_or_else(|| SourceError::Missing(format!("environment variable '{var}'")))?;
                let v = v.into_string().map_err(|_| SourceError::WrongType {
                    expected: "UTF-8 text",
                    found: "non-UTF-8 bytes".into(),
                })?;
                let v = zeroize::Zeroizing::new(v);
                KeyValue::symmetric(decode_text(v.as_bytes())?)
            }
            KeySource::File(path) => {
                let b = zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        SourceError::Missing(format!("file '{}'", path.display()))
                    } else {
                        SourceError::Failed(Box::new(e))
                    }
                })?);
                let t = b.strip_suffix(b"\n").unwrap_or(&b);
                let t = t.strip_suffix(b"\r").unwrap_or(t);
                KeyValue::symmetric(decode_text(t)?)
            }
            KeySource::Keyring { ring, name, keys } => {
                let v = keys
                    .read(ring, name)
                    .map_err(SourceError::Failed)?
                    .ok_or_else(|| SourceError::Missing(format!("keyring key '{name}'")))?;
                KeyValue::symmetric(decode_text(&v)?)
            }
            KeySource::Pair(a, b) => {
                let (a, b) = (a.fetch(store)?, b.fetch(store)?);
                match (a, b) {
                    (KeyValue::Symmetric(e), KeyValue::Symmetric(d)) => KeyValue::Pair {
                        encrypt: e,
                        decrypt: d,
                    },
                    _ => {
                        return Err(SourceError::WrongType {
                            expected: "two symmetric halves",
                            found: "a pair inside a pair".into(),
                        });
                    }
                }
            }
        };
        v.check()?;
        Ok(v)
    }
}

fn boxed(e: impl std::error::Error + Send + Sync + 'static) -> SourceError {
    SourceError::Failed(Box::new(e))
}

/// Decodes a `base64:` or `hex:` prefixed text value; other values are their bytes.
pub(crate) fn decode_text(b: &[u8]) -> Result<Vec<u8>, SourceError> {
    if let Some(rest) = b.strip_prefix(b"base64:") {
        return base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| SourceError::WrongType {
                expected: "base64 after 'base64:'",
                found: "invalid base64".into(),
            });
    }
    if let Some(rest) = b.strip_prefix(b"hex:") {
        return hex(rest).ok_or_else(|| SourceError::WrongType {
            expected: "hex after 'hex:'",
            found: "invalid hex".into(),
        });
    }
    Ok(b.to_vec())
}

fn hex(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks(2)
        .map(|p| {
            let d = |c: u8| (c as char).to_digit(16);
            Some((d(p[0])? * 16 + d(p[1])?) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_prefixes() {
        assert_eq!(decode_text(b"plain").unwrap(), b"plain");
        assert_eq!(decode_text(b"hex:00ff10").unwrap(), vec![0, 255, 16]);
        assert_eq!(decode_text(b"base64:aGk=").unwrap(), b"hi");
        assert!(matches!(
            decode_text(b"hex:0"),
            Err(SourceError::WrongType { .. })
        ));
        assert!(matches!(
            decode_text(b"hex:zz"),
            Err(SourceError::WrongType { .. })
        ));
        assert!(matches!(
            decode_text(b"base64:%%"),
            Err(SourceError::WrongType { .. })
        ));
    }
}
