//! The per-file data key and what is derived from it: the value cipher (AES-256-GCM-SIV with
//! a synthetic nonce), the nonce key and the document MAC key (HKDF-SHA256, one label each).

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::KeyPath;
use crate::error::{Result, SealError};

/// Prefix of every sealed value.
pub const TOKEN_PREFIX: &str = "tresor:v1:";

/// A file's 256-bit data key. Never printed; zeroed on drop.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

impl DataKey {
    /// A fresh random key.
    ///
    /// # Errors
    /// [`SealError::Crypto`] if the system generator fails.
    pub fn generate() -> Result<Self> {
        let mut k = Zeroizing::new([0u8; 32]);
        tresor_crypto::random_fill(&mut k[..]).map_err(|_| SealError::Crypto("random"))?;
        Ok(Self(k))
    }

    pub(crate) fn from_bytes(b: &[u8]) -> Result<Self> {
        let a: [u8; 32] = b
            .try_into()
            .map_err(|_| SealError::Crypto("data key of the wrong length"))?;
        Ok(Self(Zeroizing::new(a)))
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn derive(&self, label: &str) -> Zeroizing<[u8; 32]> {
        let hk = hkdf::Hkdf::<Sha256>::new(None, &self.0[..]);
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand(label.as_bytes(), &mut out[..])
            .expect("32 bytes is a valid HKDF-SHA256 length");
        out
    }

    /// A public fingerprint of the key (16 hex digits): tells two data keys apart without
    /// revealing either.
    pub fn id(&self) -> String {
        let k = self.derive("tresor-seal v1 key id");
        tresor_crypto::hash::hex(&k[..8])
    }

    /// Seals one value: deterministic per (key, path, plaintext), so an unchanged value keeps
    /// its ciphertext byte for byte.
    pub(crate) fn seal_value(&self, path: &KeyPath, plain: &[u8]) -> Result<String> {
        let aad = value_aad(path);
        let nk = self.derive("tresor-seal v1 nonce");
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&nk[..]).expect("any key length");
        m.update(&(aad.len() as u64).to_be_bytes());
        m.update(&aad);
        m.update(plain);
        let tag = m.finalize().into_bytes();
        let nonce = &tag[..12];
        let ek = self.derive("tresor-seal v1 value");
        let c = Aes256GcmSiv::new_from_slice(&ek[..]).expect("32-byte key");
        let ct = c
            .encrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Crypto("value encryption"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens one value; `Err` with what is wrong (no detail on authentication failure).
    pub(crate) fn open_value(
        &self,
        path: &KeyPath,
        token: &str,
    ) -> std::result::Result<Zeroizing<String>, &'static str> {
        let b64 = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or("is not a tresor sealed value (edited in clear? use 'tresor edit')")?;
        let raw = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| "is damaged (not base64url)")?;
        if raw.len() < 12 + 16 {
            return Err("is damaged (too short)");
        }
        let aad = value_aad(path);
        let ek = self.derive("tresor-seal v1 value");
        let c = Aes256GcmSiv::new_from_slice(&ek[..]).expect("32-byte key");
        let pt = c
            .decrypt(
                Nonce::from_slice(&raw[..12]),
                Payload {
                    msg: &raw[12..],
                    aad: &aad,
                },
            )
            .map_err(|_| "does not decrypt: changed, damaged or moved from another key")?;
        let pt = Zeroizing::new(pt);
        let s = std::str::from_utf8(&pt).map_err(|_| "is not UTF-8 text")?;
        Ok(Zeroizing::new(s.to_owned()))
    }

    /// The document MAC over `text` (the whole sealed file with an empty MAC field).
    pub(crate) fn mac(&self, format: &str, text: &str) -> String {
        let mk = self.derive("tresor-seal v1 document mac");
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&mk[..]).expect("any key length");
        m.update(b"tresor-seal v1\0");
        m.update(format.as_bytes());
        m.update(b"\0");
        m.update(text.as_bytes());
        URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    }
}

fn value_aad(path: &KeyPath) -> Vec<u8> {
    let mut a = b"tresor-seal v1 value\0".to_vec();
    a.extend_from_slice(&path.aad());
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_bound_to_path() {
        let k = DataKey::generate().unwrap();
        let p = KeyPath(vec!["A".into()]);
        let q = KeyPath(vec!["B".into()]);
        let t = k.seal_value(&p, b"v").unwrap();
        assert_eq!(t, k.seal_value(&p, b"v").unwrap());
        assert_ne!(t, k.seal_value(&q, b"v").unwrap());
        assert_ne!(t, k.seal_value(&p, b"w").unwrap());
        assert_eq!(k.open_value(&p, &t).unwrap().as_str(), "v");
        assert!(k.open_value(&q, &t).is_err());
        let k2 = DataKey::generate().unwrap();
        assert!(k2.open_value(&p, &t).is_err());
        assert_ne!(k.id(), k2.id());
    }
}
