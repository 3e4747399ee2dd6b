//! Key providers wrap the per-version data keys. One module per provider; the local
//! (key-file) provider lives here because every other part of tresor needs it.

use crate::aead::AeadKey;
use crate::{CryptoError, Secret};

/// A fresh 256-bit key that seals exactly one version of one object.
pub struct DataKey(Secret<[u8; 32]>);

impl DataKey {
    /// Draws a new random data key.
    ///
    /// # Errors
    /// [`CryptoError::Random`] if the system generator fails.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut k = [0u8; 32];
        crate::random_fill(&mut k)?;
        let dk = DataKey(Secret::new(k));
        zeroize::Zeroize::zeroize(&mut k);
        Ok(dk)
    }

    /// Builds a data key from bytes (e.g. returned by a KMS).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DataKey(Secret::new(bytes))
    }

    /// Borrows the key bytes.
    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose()
    }

    pub(crate) fn aead(&self) -> AeadKey {
        AeadKey::new(self.0.expose())
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

/// A data key wrapped by a [`KeyProvider`], tagged with the provider's key id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    /// The id of the key that wrapped it (e.g. `local:3f9a…`, a KMS key ARN).
    pub key_id: String,
    /// The provider's opaque wrapped bytes.
    pub bytes: Vec<u8>,
}

/// Wraps and unwraps data keys; shaped like age's `Recipient`/`Identity` pair.
pub trait KeyProvider: Send + Sync {
    /// The id of the key-encryption key, recorded beside each wrapped key.
    fn key_id(&self) -> &str;

    /// Wraps `dek`, binding it to `aad`.
    ///
    /// # Errors
    /// Whatever the provider's backing service reports.
    fn wrap(&self, dek: &DataKey, aad: &[u8]) -> Result<WrappedKey, CryptoError>;

    /// Unwraps `w`; `None` means "not mine, try the next provider".
    fn unwrap(&self, w: &WrappedKey, aad: &[u8]) -> Option<Result<DataKey, CryptoError>>;
}

/// A local 256-bit key-encryption key, as kept in a vault's key file.
pub struct LocalKek {
    raw: Secret<[u8; 32]>,
    aead: AeadKey,
    id: String,
}

impl std::fmt::Debug for LocalKek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalKek({})", self.id)
    }
}

impl LocalKek {
    /// Builds the provider from raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let digest = crate::hash::sha256_parts(&[b"tresor kek id v1", &bytes]);
        let mut id = String::from("local:");
        for b in &digest[..8] {
            id.push_str(&format!("{b:02x}"));
        }
        LocalKek {
            aead: AeadKey::new(&bytes),
            raw: Secret::new(bytes),
            id,
        }
    }

    /// Generates a new random key-encryption key.
    ///
    /// # Errors
    /// [`CryptoError::Random`] if the system generator fails.
    pub fn generate() -> Result<Self, CryptoError> {
        let dk = DataKey::generate()?;
        Ok(Self::from_bytes(*dk.expose()))
    }

    /// Borrows the raw key (to write a key file or fill an unlock cache).
    pub fn expose(&self) -> &[u8; 32] {
        self.raw.expose()
    }
}

impl KeyProvider for LocalKek {
    fn key_id(&self) -> &str {
        &self.id
    }

    fn wrap(&self, dek: &DataKey, aad: &[u8]) -> Result<WrappedKey, CryptoError> {
        Ok(WrappedKey {
            key_id: self.id.clone(),
            bytes: self.aead.seal(aad, dek.expose())?,
        })
    }

    fn unwrap(&self, w: &WrappedKey, aad: &[u8]) -> Option<Result<DataKey, CryptoError>> {
        if w.key_id != self.id {
            return None;
        }
        Some(self.aead.open(aad, &w.bytes).and_then(|pt| {
            let arr: [u8; 32] = pt
                .expose()
                .as_slice()
                .try_into()
                .map_err(|_| CryptoError::Decrypt)?;
            Ok(DataKey::from_bytes(arr))
        }))
    }
}
