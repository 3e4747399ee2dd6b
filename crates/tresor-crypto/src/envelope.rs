//! Envelope encryption: material sealed under a fresh [`DataKey`], the data key wrapped by a
//! [`KeyProvider`]. Both layers are bound to the same associated data.
//!
//! Wire form of a [`Sealed`] blob (all lengths bounded and checked):
//! `"TSE1" | u8 key_id_len | key_id | u16 wrapped_len | wrapped | ciphertext`.

use crate::{CryptoError, DataKey, KeyProvider, SecretBytes, WrappedKey};

const MAGIC: &[u8; 4] = b"TSE1";

/// Material sealed under a wrapped data key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The data key, wrapped by a provider.
    pub wrapped: WrappedKey,
    /// `nonce || ciphertext || tag` under the data key.
    pub ciphertext: Vec<u8>,
}

/// Seals `plaintext` with a fresh data key wrapped by `provider`, both bound to `aad`.
///
/// # Errors
/// A provider failure or [`CryptoError::Random`].
pub fn seal(
    provider: &dyn KeyProvider,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Sealed, CryptoError> {
    let dek = DataKey::generate()?;
    let ciphertext = dek.aead().seal(aad, plaintext)?;
    let wrapped = provider.wrap(&dek, aad)?;
    Ok(Sealed {
        wrapped,
        ciphertext,
    })
}

/// Opens a [`Sealed`] blob.
///
/// # Errors
/// [`CryptoError::NoProvider`] if `provider` does not own the wrapping key,
/// [`CryptoError::Decrypt`] if anything was altered or `aad` differs.
pub fn open(
    provider: &dyn KeyProvider,
    aad: &[u8],
    sealed: &Sealed,
) -> Result<SecretBytes, CryptoError> {
    let dek = provider
        .unwrap(&sealed.wrapped, aad)
        .ok_or_else(|| CryptoError::NoProvider(sealed.wrapped.key_id.clone()))??;
    dek.aead().open(aad, &sealed.ciphertext)
}

/// Unwraps the data key of `sealed` and re-wraps it with `to`, leaving the ciphertext alone.
///
/// # Errors
/// As [`open`] for the unwrap, and the new provider's wrap errors.
pub fn rewrap(
    from: &dyn KeyProvider,
    to: &dyn KeyProvider,
    aad: &[u8],
    sealed: &Sealed,
) -> Result<Sealed, CryptoError> {
    let dek = from
        .unwrap(&sealed.wrapped, aad)
        .ok_or_else(|| CryptoError::NoProvider(sealed.wrapped.key_id.clone()))??;
    Ok(Sealed {
        wrapped: to.wrap(&dek, aad)?,
        ciphertext: sealed.ciphertext.clone(),
    })
}

/// The first bytes of every sealed blob whose data key is wrapped by the key `key_id`: a
/// backend checks with it, in SQL, that no blob under another key is left after a rekey.
pub fn wrapped_prefix(key_id: &str) -> Vec<u8> {
    let id = key_id.as_bytes();
    let id = &id[..id.len().min(255)];
    let mut out = Vec::with_capacity(5 + id.len());
    out.extend_from_slice(MAGIC);
    out.push(id.len() as u8);
    out.extend_from_slice(id);
    out
}

impl Sealed {
    /// Encodes to the wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let id = self.wrapped.key_id.as_bytes();
        let id = &id[..id.len().min(255)];
        let w = &self.wrapped.bytes[..self.wrapped.bytes.len().min(u16::MAX as usize)];
        let mut out = Vec::with_capacity(7 + id.len() + w.len() + self.ciphertext.len());
        out.extend_from_slice(MAGIC);
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        out.extend_from_slice(&(w.len() as u16).to_be_bytes());
        out.extend_from_slice(w);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Decodes the wire form; never panics.
    ///
    /// # Errors
    /// [`CryptoError::Malformed`] naming what is wrong.
    pub fn from_bytes(b: &[u8]) -> Result<Self, CryptoError> {
        let bad = |why| CryptoError::Malformed {
            what: "sealed blob",
            why,
        };
        let rest = b.strip_prefix(MAGIC.as_slice()).ok_or(bad("bad magic"))?;
        let (&id_len, rest) = rest.split_first().ok_or(bad("truncated key id"))?;
        if rest.len() < id_len as usize + 2 {
            return Err(bad("truncated key id"));
        }
        let (id, rest) = rest.split_at(id_len as usize);
        let key_id = std::str::from_utf8(id)
            .map_err(|_| bad("key id not UTF-8"))?
            .to_owned();
        let (wl, rest) = rest.split_at(2);
        let wl = u16::from_be_bytes([wl[0], wl[1]]) as usize;
        if rest.len() < wl {
            return Err(bad("truncated wrapped key"));
        }
        let (w, ct) = rest.split_at(wl);
        if ct.len() < crate::aead::OVERHEAD {
            return Err(bad("truncated ciphertext"));
        }
        Ok(Sealed {
            wrapped: WrappedKey {
                key_id,
                bytes: w.to_vec(),
            },
            ciphertext: ct.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalKek;

    #[test]
    fn seal_open_rewrap() {
        let a = LocalKek::generate().unwrap();
        let b = LocalKek::generate().unwrap();
        let s = seal(&a, b"ad", b"secret").unwrap();
        let bytes = s.to_bytes();
        let s2 = Sealed::from_bytes(&bytes).unwrap();
        assert_eq!(s, s2);
        assert_eq!(open(&a, b"ad", &s2).unwrap().expose(), b"secret");
        assert!(matches!(
            open(&b, b"ad", &s2),
            Err(CryptoError::NoProvider(_))
        ));
        let r = rewrap(&a, &b, b"ad", &s2).unwrap();
        assert_eq!(open(&b, b"ad", &r).unwrap().expose(), b"secret");
        assert!(r.to_bytes().starts_with(&wrapped_prefix(b.key_id())));
        assert!(!r.to_bytes().starts_with(&wrapped_prefix(a.key_id())));
        assert_eq!(r.ciphertext, s2.ciphertext);
        assert!(open(&a, b"other", &s2).is_err());
        // Each seal draws a fresh data key.
        let t = seal(&a, b"ad", b"secret").unwrap();
        assert_ne!(s.wrapped.bytes, t.wrapped.bytes);
    }

    proptest::proptest! {
        #[test]
        fn from_bytes_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = Sealed::from_bytes(&data);
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&data);
            let _ = Sealed::from_bytes(&with_magic);
        }
    }
}
