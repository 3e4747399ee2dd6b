//! Key types and the cryptography each one does.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair as _};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use tresor_crypto::SecretBytes;

use crate::error::KeysError;
use crate::value::KeyValue;

/// Bytes of an AEAD tag.
pub(crate) const TAG_LEN: usize = 16;

/// The length of `nonce || ciphertext || tag` for `pt_len` plaintext bytes.
pub(crate) const fn sealed_len(pt_len: usize) -> usize {
    NONCE_LEN + pt_len + TAG_LEN
}

/// What a key is and does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum KeyType {
    /// AES-256-GCM (aws-lc-rs), random 96-bit nonces: encrypt, decrypt, rewrap.
    #[serde(rename = "aes256-gcm")]
    Aes256Gcm,
    /// ChaCha20-Poly1305 (RustCrypto), random 96-bit nonces: encrypt, decrypt, rewrap.
    #[serde(rename = "chacha20-poly1305")]
    ChaCha20Poly1305,
    /// HMAC-SHA-256: sign, verify.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    /// Ed25519 (the material is the 32-byte seed): sign, verify.
    Ed25519,
    /// A defined key whose value comes from its source; encrypts with AES-256-GCM when it is a
    /// 32-byte symmetric key, otherwise it is only handed out.
    External,
}

impl KeyType {
    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Aes256Gcm => "aes256-gcm",
            KeyType::ChaCha20Poly1305 => "chacha20-poly1305",
            KeyType::HmacSha256 => "hmac-sha256",
            KeyType::Ed25519 => "ed25519",
            KeyType::External => "external",
        }
    }

    /// Returns true if and only if keys of this type encrypt and decrypt.
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            KeyType::Aes256Gcm | KeyType::ChaCha20Poly1305 | KeyType::External
        )
    }

    /// Returns true if and only if keys of this type sign and verify.
    pub fn is_signing(self) -> bool {
        matches!(self, KeyType::HmacSha256 | KeyType::Ed25519)
    }

    /// The store object type that holds keys of this type.
    pub(crate) fn object_type(self) -> tresor_store::ObjectType {
        match self {
            KeyType::Ed25519 => tresor_store::ObjectType::PrivateKey,
            KeyType::External => tresor_store::ObjectType::SecretData,
            _ => tresor_store::ObjectType::SymmetricKey,
        }
    }

    /// Fresh random material for a generated key.
    pub(crate) fn generate(self) -> Result<KeyValue, KeysError> {
        let mut k = vec![0u8; 32];
        tresor_crypto::random_fill(&mut k)?;
        Ok(KeyValue::symmetric(k))
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            KeyType::Aes256Gcm,
            KeyType::ChaCha20Poly1305,
            KeyType::HmacSha256,
            KeyType::Ed25519,
            KeyType::External,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| format!("unknown key type '{s}'"))
    }
}

/// The prepared cryptographic object of one key version.
pub(crate) enum Engine {
    Aes(LessSafeKey),
    ChaCha(Box<ChaCha20Poly1305>),
    Hmac(Box<hmac::Key>),
    Ed25519(Box<Ed25519KeyPair>),
    /// Material that is only handed out (pairs, odd lengths).
    Raw,
}

impl Engine {
    pub(crate) fn new(t: KeyType, v: &KeyValue) -> Engine {
        let k = v.encrypt_key().expose();
        match (t, v.is_symmetric(), k.len()) {
            (KeyType::Aes256Gcm | KeyType::External, true, 32) => {
                match UnboundKey::new(&AES_256_GCM, k) {
                    Ok(u) => Engine::Aes(LessSafeKey::new(u)),
                    Err(_) => Engine::Raw,
                }
            }
            (KeyType::ChaCha20Poly1305, true, 32) => match ChaCha20Poly1305::new_from_slice(k) {
                Ok(c) => Engine::ChaCha(Box::new(c)),
                Err(_) => Engine::Raw,
            },
            (KeyType::HmacSha256, true, _) => {
                Engine::Hmac(Box::new(hmac::Key::new(hmac::HMAC_SHA256, k)))
            }
            (KeyType::Ed25519, true, 32) => match Ed25519KeyPair::from_seed_unchecked(k) {
                Ok(p) => Engine::Ed25519(Box::new(p)),
                Err(_) => Engine::Raw,
            },
            _ => Engine::Raw,
        }
    }

    pub(crate) fn is_aead(&self) -> bool {
        matches!(self, Engine::Aes(_) | Engine::ChaCha(_))
    }

    /// Writes `nonce || ciphertext || tag` of `pt` into the last [`sealed_len`]`(pt.len())`
    /// bytes of `out`, authenticating `out[..head_len] || aad` (the ciphertext header, then
    /// the caller's associated data).
    pub(crate) fn seal_after(
        &self,
        out: &mut [u8],
        head_len: usize,
        aad: &[u8],
        pt: &[u8],
    ) -> Result<(), KeysError> {
        let start = out
            .len()
            .checked_sub(sealed_len(pt.len()))
            .filter(|s| *s >= head_len)
            .ok_or(KeysError::Decrypt)?;
        let mut nonce = [0u8; NONCE_LEN];
        tresor_crypto::random_fill(&mut nonce)?;
        let (head, rest) = out.split_at_mut(start);
        let (nonce_out, rest) = rest.split_at_mut(NONCE_LEN);
        let (body, tag_out) = rest.split_at_mut(pt.len());
        nonce_out.copy_from_slice(&nonce);
        body.copy_from_slice(pt);
        let joined;
        let full_aad: &[u8] = if aad.is_empty() {
            &head[..head_len]
        } else {
            joined = [&head[..head_len], aad].concat();
            &joined
        };
        let tag: [u8; TAG_LEN] = match self {
            Engine::Aes(k) => {
                let t = k
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(full_aad),
                        body,
                    )
                    .map_err(|_| KeysError::Decrypt)?;
                t.as_ref().try_into().map_err(|_| KeysError::Decrypt)?
            }
            Engine::ChaCha(c) => {
                let t = c
                    .encrypt_in_place_detached(&nonce.into(), full_aad, body)
                    .map_err(|_| KeysError::Decrypt)?;
                t.into()
            }
            _ => return Err(KeysError::Decrypt),
        };
        tag_out.copy_from_slice(&tag);
        Ok(())
    }

    /// Opens `nonce || ciphertext || tag`, authenticating `head || aad`, into a zeroizing
    /// buffer.
    pub(crate) fn open(
        &self,
        head: &[u8],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<SecretBytes, KeysError> {
        let mut buf = SecretBytes::new(Vec::with_capacity(sealed.len()));
        self.open_into(head, aad, sealed, buf.expose_mut())?;
        Ok(buf)
    }

    /// Opens `nonce || ciphertext || tag`, appending the plaintext to `out` (unchanged on
    /// error).
    pub(crate) fn open_into(
        &self,
        head: &[u8],
        aad: &[u8],
        sealed: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), KeysError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(KeysError::Malformed {
                what: "ciphertext",
                why: "too short",
            });
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| KeysError::Decrypt)?;
        let joined;
        let full_aad: &[u8] = if aad.is_empty() {
            head
        } else {
            joined = [head, aad].concat();
            &joined
        };
        let start = out.len();
        let res = match self {
            Engine::Aes(k) => {
                out.extend_from_slice(rest);
                k.open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(full_aad),
                    &mut out[start..],
                )
                .map(|p| p.len())
                .map_err(|_| KeysError::Decrypt)
            }
            Engine::ChaCha(c) => {
                let split = rest.len() - TAG_LEN;
                let tag: [u8; TAG_LEN] =
                    rest[split..].try_into().map_err(|_| KeysError::Decrypt)?;
                out.extend_from_slice(&rest[..split]);
                c.decrypt_in_place_detached(&nonce.into(), full_aad, &mut out[start..], &tag.into())
                    .map(|_| split)
                    .map_err(|_| KeysError::Decrypt)
            }
            _ => Err(KeysError::Decrypt),
        };
        match res {
            Ok(n) => {
                out.truncate(start + n);
                Ok(())
            }
            Err(e) => {
                zeroize::Zeroize::zeroize(&mut out[start..]);
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// Signs `msg` (HMAC tag or Ed25519 signature); `None` if this key does not sign.
    pub(crate) fn sign(&self, msg: &[u8]) -> Option<Vec<u8>> {
        match self {
            Engine::Hmac(k) => Some(hmac::sign(k, msg).as_ref().to_vec()),
            Engine::Ed25519(k) => Some(k.sign(msg).as_ref().to_vec()),
            _ => None,
        }
    }

    /// Returns true if and only if `sig` is a valid signature of `msg`; `None` if this key
    /// does not sign.
    pub(crate) fn verify(&self, msg: &[u8], sig: &[u8]) -> Option<bool> {
        match self {
            Engine::Hmac(k) => Some(hmac::verify(k, msg, sig).is_ok()),
            Engine::Ed25519(k) => {
                let pk =
                    signature::UnparsedPublicKey::new(&signature::ED25519, k.public_key().as_ref());
                Some(pk.verify(msg, sig).is_ok())
            }
            _ => None,
        }
    }

    /// The public key of an Ed25519 key.
    pub(crate) fn public_key(&self) -> Option<Vec<u8>> {
        match self {
            Engine::Ed25519(k) => Some(k.public_key().as_ref().to_vec()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aead_engines_round_trip_and_reject_tamper() {
        for t in [KeyType::Aes256Gcm, KeyType::ChaCha20Poly1305] {
            let v = t.generate().unwrap();
            let e = Engine::new(t, &v);
            assert!(e.is_aead());
            let mut out = b"HEAD".to_vec();
            out.resize(4 + sealed_len(5), 0);
            e.seal_after(&mut out, 4, b"ad", b"hello").unwrap();
            // A buffer of another length is refused, not cut or overrun.
            for len in [4 + sealed_len(5) - 1, 3] {
                let mut short = vec![0u8; len];
                assert!(e.seal_after(&mut short, 4, b"ad", b"hello").is_err());
            }
            assert_eq!(
                e.open(b"HEAD", b"ad", &out[4..]).unwrap().expose(),
                b"hello"
            );
            assert!(matches!(
                e.open(b"HEAx", b"ad", &out[4..]),
                Err(KeysError::Decrypt)
            ));
            assert!(matches!(
                e.open(b"HEAD", b"", &out[4..]),
                Err(KeysError::Decrypt)
            ));
            for i in 4..out.len() {
                let mut t = out.clone();
                t[i] ^= 1;
                assert!(e.open(b"HEAD", b"ad", &t[4..]).is_err());
            }
            assert!(e.open(b"HEAD", b"ad", &out[4..10]).is_err());
        }
    }

    #[test]
    fn signing_engines() {
        for t in [KeyType::HmacSha256, KeyType::Ed25519] {
            let e = Engine::new(t, &t.generate().unwrap());
            let s = e.sign(b"msg").unwrap();
            assert_eq!(e.verify(b"msg", &s), Some(true));
            assert_eq!(e.verify(b"msh", &s), Some(false));
            assert!(e.seal_after(&mut [0u8; 29], 0, b"", b"x").is_err());
        }
        assert!(
            Engine::new(KeyType::Ed25519, &KeyType::Ed25519.generate().unwrap())
                .public_key()
                .is_some_and(|p| p.len() == 32)
        );
        assert!(matches!(
            Engine::new(KeyType::External, &KeyValue::pair("a", "b")),
            Engine::Raw
        ));
        assert_eq!("aes256-gcm".parse::<KeyType>(), Ok(KeyType::Aes256Gcm));
        assert!("rsa".parse::<KeyType>().is_err());
    }
}
