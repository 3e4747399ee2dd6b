//! AES-256-GCM (aws-lc-rs) with random 96-bit nonces.
//!
//! A sealed blob is `nonce (12) || ciphertext || tag (16)`. Every tresor key that seals with
//! this module is either fresh per sealed item (data keys) or wraps few items (key-encryption
//! keys), so random nonces stay far below the collision bound.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::{CryptoError, SecretBytes};

/// Bytes a sealed blob adds to its plaintext.
pub const OVERHEAD: usize = NONCE_LEN + 16;

/// An AES-256-GCM key ready to seal and open.
pub struct AeadKey(LessSafeKey);

impl std::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AeadKey([REDACTED])")
    }
}

impl AeadKey {
    /// Builds a key from 32 bytes.
    pub fn new(key: &[u8; 32]) -> Self {
        // A 32-byte key is always valid for AES-256-GCM.
        let unbound = match UnboundKey::new(&AES_256_GCM, key) {
            Ok(k) => k,
            Err(_) => unreachable!("AES-256-GCM accepts every 32-byte key"),
        };
        AeadKey(LessSafeKey::new(unbound))
    }

    /// Seals `plaintext` bound to `aad`.
    ///
    /// # Errors
    /// [`CryptoError::Random`] if no nonce could be drawn.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        crate::random_fill(&mut nonce)?;
        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(NONCE_LEN);
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut body,
            )
            .map_err(|_| CryptoError::Decrypt)?;
        out.extend_from_slice(&body);
        zeroize::Zeroize::zeroize(&mut body);
        Ok(out)
    }

    /// Opens a blob made by [`AeadKey::seal`] with the same `aad`.
    ///
    /// # Errors
    /// [`CryptoError::Decrypt`] if the key, blob or associated data differ.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<SecretBytes, CryptoError> {
        if sealed.len() < OVERHEAD {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Decrypt)?;
        let mut buf = SecretBytes::new(body.to_vec());
        let len = self
            .0
            .open_in_place(nonce, Aad::from(aad), buf.expose_mut())
            .map_err(|_| CryptoError::Decrypt)?
            .len();
        buf.expose_mut().truncate(len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let k = AeadKey::new(&[7u8; 32]);
        let s = k.seal(b"ad", b"hello").unwrap();
        assert_eq!(s.len(), 5 + OVERHEAD);
        assert_eq!(k.open(b"ad", &s).unwrap().expose(), b"hello");
        assert!(k.open(b"ad2", &s).is_err());
        for i in 0..s.len() {
            let mut t = s.clone();
            t[i] ^= 1;
            assert!(k.open(b"ad", &t).is_err(), "flip at {i} must fail");
        }
        assert!(k.open(b"ad", &s[..s.len() - 1]).is_err());
        assert!(k.open(b"ad", &[]).is_err());
        let other = AeadKey::new(&[8u8; 32]);
        assert!(other.open(b"ad", &s).is_err());
    }

    proptest::proptest! {
        #[test]
        fn open_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..100)) {
            let k = AeadKey::new(&[1u8; 32]);
            let _ = k.open(b"", &data);
        }
    }
}
