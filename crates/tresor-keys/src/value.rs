//! Key material: zeroized on drop, never printed in full.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::SourceError;

/// Key bytes: zeroized on drop; `Debug` shows at most `ab****gh` (the first and last two
/// characters of a printable key of 16 bytes or more), otherwise `****`.
#[derive(Clone)]
pub struct KeyBytes(Zeroizing<Vec<u8>>);

impl KeyBytes {
    /// Wraps `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        KeyBytes(Zeroizing::new(bytes))
    }

    /// Borrows the key bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns true if and only if the key has no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The censored form used by `Debug`: `ab****gh` at most.
    pub fn censored(&self) -> String {
        let b = &self.0;
        if b.len() >= 16 && b.iter().all(|c| c.is_ascii_graphic()) {
            let (h, t) = (&b[..2], &b[b.len() - 2..]);
            format!(
                "{}****{}",
                String::from_utf8_lossy(h),
                String::from_utf8_lossy(t)
            )
        } else {
            "****".to_owned()
        }
    }

    pub(crate) fn ct_eq(&self, other: &KeyBytes) -> bool {
        tresor_crypto::ct_eq(&self.0, &other.0)
    }
}

impl PartialEq for KeyBytes {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other)
    }
}

impl Eq for KeyBytes {}

impl PartialEq for KeyValue {
    /// Constant-time comparison of both halves.
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other)
    }
}

impl Eq for KeyValue {}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.censored())
    }
}

impl From<&str> for KeyBytes {
    fn from(s: &str) -> Self {
        KeyBytes::new(s.as_bytes().to_vec())
    }
}

impl From<&[u8]> for KeyBytes {
    fn from(s: &[u8]) -> Self {
        KeyBytes::new(s.to_vec())
    }
}

impl From<Vec<u8>> for KeyBytes {
    fn from(s: Vec<u8>) -> Self {
        KeyBytes::new(s)
    }
}

/// What a key source returns: one symmetric key, or an encrypt/decrypt pair (keys-management's
/// `SecretKeyPair`; a symmetric key is the pair of one value twice).
#[derive(Clone)]
pub enum KeyValue {
    /// One key for both paths.
    Symmetric(KeyBytes),
    /// A forward-path (encrypt) key and a back-path (decrypt) key.
    Pair {
        /// The forward-path key.
        encrypt: KeyBytes,
        /// The back-path key.
        decrypt: KeyBytes,
    },
}

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyValue::Symmetric(k) => f.debug_tuple("Symmetric").field(k).finish(),
            KeyValue::Pair { encrypt, decrypt } => f
                .debug_struct("Pair")
                .field("encrypt", encrypt)
                .field("decrypt", decrypt)
                .finish(),
        }
    }
}

const TAG_SYMMETRIC: u8 = 1;
const TAG_PAIR: u8 = 2;

impl KeyValue {
    /// A symmetric key.
    pub fn symmetric(k: impl Into<KeyBytes>) -> Self {
        KeyValue::Symmetric(k.into())
    }

    /// An encrypt/decrypt pair. A pair of two equal values is kept as a pair (keys-management
    /// accepts `("v", "v")` for a symmetric key; both paths then return `v`).
    pub fn pair(encrypt: impl Into<KeyBytes>, decrypt: impl Into<KeyBytes>) -> Self {
        KeyValue::Pair {
            encrypt: encrypt.into(),
            decrypt: decrypt.into(),
        }
    }

    /// The forward-path (encrypt) key.
    pub fn encrypt_key(&self) -> &KeyBytes {
        match self {
            KeyValue::Symmetric(k) => k,
            KeyValue::Pair { encrypt, .. } => encrypt,
        }
    }

    /// The back-path (decrypt) key.
    pub fn decrypt_key(&self) -> &KeyBytes {
        match self {
            KeyValue::Symmetric(k) => k,
            KeyValue::Pair { decrypt, .. } => decrypt,
        }
    }

    /// Returns true if and only if this is a symmetric key.
    pub fn is_symmetric(&self) -> bool {
        matches!(self, KeyValue::Symmetric(_))
    }

    /// Checks that no half is empty.
    pub(crate) fn check(&self) -> Result<(), SourceError> {
        if self.encrypt_key().is_empty() || self.decrypt_key().is_empty() {
            return Err(SourceError::Empty);
        }
        Ok(())
    }

    /// Constant-time equality of both halves.
    pub(crate) fn ct_eq(&self, other: &KeyValue) -> bool {
        self.is_symmetric() == other.is_symmetric()
            && self.encrypt_key().ct_eq(other.encrypt_key())
            && self.decrypt_key().ct_eq(other.decrypt_key())
    }

    /// The stored form: `1 || key` or `2 || len(encrypt) u32 BE || encrypt || decrypt`.
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        match self {
            KeyValue::Symmetric(k) => {
                out.push(TAG_SYMMETRIC);
                out.extend_from_slice(k.expose());
            }
            KeyValue::Pair { encrypt, decrypt } => {
                out.push(TAG_PAIR);
                out.extend_from_slice(&(encrypt.len() as u32).to_be_bytes());
                out.extend_from_slice(encrypt.expose());
                out.extend_from_slice(decrypt.expose());
            }
        }
        out
    }

    /// Reads the stored form.
    pub(crate) fn decode(b: &[u8]) -> Option<KeyValue> {
        let (&tag, rest) = b.split_first()?;
        match tag {
            TAG_SYMMETRIC => Some(KeyValue::symmetric(rest)),
            TAG_PAIR => {
                let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
                let enc = rest.get(4..4usize.checked_add(len)?)?;
                let dec = rest.get(4 + len..)?;
                Some(KeyValue::pair(enc, dec))
            }
            _ => None,
        }
    }
}

/// A key handed out by [`crate::KeyManager::encrypt_key`] / [`crate::KeyManager::decrypt_key`]:
/// the bytes of one path of one version.
#[derive(Clone)]
pub struct Key {
    pub(crate) name: String,
    pub(crate) version: u32,
    pub(crate) bytes: KeyBytes,
}

impl Key {
    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version (0 for a key that keeps no versions: stateless and not cached).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8] {
        self.bytes.expose()
    }

    /// The key bytes as a [`KeyBytes`].
    pub fn bytes(&self) -> &KeyBytes {
        &self.bytes
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("bytes", &self.bytes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_censored() {
        let k = KeyBytes::from("abcdefghijklmnopqrstuvwxyzgh");
        assert_eq!(format!("{k:?}"), "ab****gh");
        assert_eq!(format!("{:?}", KeyBytes::from("short")), "****");
        assert_eq!(format!("{:?}", KeyBytes::new(vec![0u8; 32])), "****");
        let v = KeyValue::pair("forward-key-0123456789", "back-key-0123456789ab");
        let d = format!("{v:?}");
        assert!(!d.contains("forward-key"), "{d}");
        assert_eq!(d, "Pair { encrypt: fo****89, decrypt: ba****ab }");
    }

    #[test]
    fn encode_round_trip_and_garbage() {
        for v in [
            KeyValue::symmetric("k"),
            KeyValue::pair("enc", "decrypt"),
            KeyValue::pair("", "x"),
        ] {
            let e = v.encode();
            assert!(KeyValue::decode(&e).is_some_and(|d| d.ct_eq(&v)));
        }
        assert!(KeyValue::decode(&[]).is_none());
        assert!(KeyValue::decode(&[2, 0, 0, 0, 9, 1]).is_none());
        assert!(KeyValue::decode(&[2, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(KeyValue::decode(&[7]).is_none());
        assert!(!KeyValue::symmetric("a").ct_eq(&KeyValue::pair("a", "a")));
    }
}
