//! The vault key file: a key-encryption key stored plain (protected by file permissions) or
//! sealed under an Argon2id-derived key from a passphrase.
//!
//! Text format, one line:
//! - `tresor-key v1 plain <base64 key>`
//! - `tresor-key v1 argon2id m=<KiB>,t=<iters>,p=<lanes> <base64 salt> <base64 sealed key>`

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::aead::AeadKey;
use crate::{CryptoError, LocalKek, Secret};

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            m_kib: 65536,
            t: 2,
            p: 1,
        }
    }
}

const AAD: &[u8] = b"tresor key file v1";

/// Whether a key file needs a passphrase.
pub fn needs_passphrase(text: &str) -> bool {
    text.split_whitespace().nth(2) == Some("argon2id")
}

/// Encodes a key file; with a passphrase the key is sealed under Argon2id(passphrase, salt).
///
/// # Errors
/// [`CryptoError::Kdf`] or [`CryptoError::Random`].
pub fn encode(
    kek: &LocalKek,
    passphrase: Option<&[u8]>,
    params: KdfParams,
) -> Result<String, CryptoError> {
    match passphrase {
        None => Ok(format!(
            "tresor-key v1 plain {}\n",
            B64.encode(kek.expose())
        )),
        Some(pw) => {
            let mut salt = [0u8; 16];
            crate::random_fill(&mut salt)?;
            let k = derive(pw, &salt, params)?;
            let sealed = AeadKey::new(k.expose()).seal(AAD, kek.expose())?;
            Ok(format!(
                "tresor-key v1 argon2id m={},t={},p={} {} {}\n",
                params.m_kib,
                params.t,
                params.p,
                B64.encode(salt),
                B64.encode(sealed)
            ))
        }
    }
}

/// Decodes a key file, asking `passphrase` only if the file needs one.
///
/// # Errors
/// [`CryptoError::Malformed`] for a damaged file, [`CryptoError::WrongPassphrase`].
pub fn decode<F>(text: &str, passphrase: F) -> Result<LocalKek, CryptoError>
where
    F: FnOnce() -> Result<Secret<Vec<u8>>, CryptoError>,
{
    let bad = |why| CryptoError::Malformed {
        what: "key file",
        why,
    };
    let parts: Vec<&str> = text.split_whitespace().collect();
    match parts.as_slice() {
        ["tresor-key", "v1", "plain", key] => {
            let raw = Secret::new(B64.decode(key).map_err(|_| bad("key is not base64"))?);
            let arr: [u8; 32] = raw
                .expose()
                .as_slice()
                .try_into()
                .map_err(|_| bad("key is not 32 bytes"))?;
            Ok(LocalKek::from_bytes(arr))
        }
        ["tresor-key", "v1", "argon2id", params, salt, sealed] => {
            let params = parse_params(params).ok_or(bad("bad argon2id parameters"))?;
            let salt = B64.decode(salt).map_err(|_| bad("salt is not base64"))?;
            let sealed = B64
                .decode(sealed)
                .map_err(|_| bad("sealed key is not base64"))?;
            let pw = passphrase()?;
            let k = derive(pw.expose(), &salt, params)?;
            let raw = AeadKey::new(k.expose())
                .open(AAD, &sealed)
                .map_err(|_| CryptoError::WrongPassphrase)?;
            let arr: [u8; 32] = raw
                .expose()
                .as_slice()
                .try_into()
                .map_err(|_| bad("key is not 32 bytes"))?;
            Ok(LocalKek::from_bytes(arr))
        }
        _ => Err(bad("unrecognised format (expected 'tresor-key v1 …')")),
    }
}

/// The Argon2id cost of a passphrase-protected key file, `None` for a plain one (or a file
/// this version cannot read), so a re-encoding can keep the owner's chosen cost.
pub fn params_of(text: &str) -> Option<KdfParams> {
    match text.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["tresor-key", "v1", "argon2id", params, ..] => parse_params(params),
        _ => None,
    }
}

/// Parses an Argon2id cost written `m=KiB,t=ITERATIONS,p=LANES` (the key-file notation),
/// within the bounds a key file accepts.
///
/// # Errors
/// [`CryptoError::Malformed`] naming the expected form.
pub fn parse_kdf(s: &str) -> Result<KdfParams, CryptoError> {
    parse_params(s).ok_or(CryptoError::Malformed {
        what: "argon2id cost",
        why: "expected m=KiB,t=ITERATIONS,p=LANES with m 8..4194304, t 1..100, p 1..64",
    })
}

fn parse_params(s: &str) -> Option<KdfParams> {
    let mut p = KdfParams {
        m_kib: 0,
        t: 0,
        p: 0,
    };
    for kv in s.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => p.m_kib = v,
            "t" => p.t = v,
            "p" => p.p = v,
            _ => return None,
        }
    }
    // Bounds: refuse absurd costs from a tampered file (max 4 GiB, 100 passes, 64 lanes).
    (8..=4 * 1024 * 1024).contains(&p.m_kib).then_some(())?;
    (1..=100).contains(&p.t).then_some(())?;
    (1..=64).contains(&p.p).then_some(())?;
    Some(p)
}

/// Derives a 256-bit key from a passphrase with Argon2id.
///
/// # Errors
/// [`CryptoError::Kdf`] if the parameters are rejected.
pub fn derive(
    passphrase: &[u8],
    salt: &[u8],
    p: KdfParams,
) -> Result<Secret<[u8; 32]>, CryptoError> {
    use argon2::{Algorithm, Argon2, Params, Version};
    let params =
        Params::new(p.m_kib, p.t, p.p, Some(32)).map_err(|e| CryptoError::Kdf(e.to_string()))?;
    let mut out = Secret::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, out.expose_mut())
        .map_err(|e| CryptoError::Kdf(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams {
        m_kib: 64,
        t: 1,
        p: 1,
    };

    #[test]
    fn plain_and_passphrase() {
        let kek = LocalKek::generate().unwrap();
        let plain = encode(&kek, None, FAST).unwrap();
        assert!(!needs_passphrase(&plain));
        let back = decode(&plain, || panic!("no passphrase needed")).unwrap();
        assert_eq!(back.expose(), kek.expose());

        let prot = encode(&kek, Some(b"pw"), FAST).unwrap();
        assert!(needs_passphrase(&prot));
        assert_eq!(params_of(&prot), Some(FAST));
        assert_eq!(params_of(&plain), None);
        assert_eq!(parse_kdf("m=64,t=1,p=1").unwrap(), FAST);
        assert!(parse_kdf("m=1,t=1,p=1").is_err());
        assert!(!prot.contains(&B64.encode(kek.expose())));
        let back = decode(&prot, || Ok(Secret::new(b"pw".to_vec()))).unwrap();
        assert_eq!(back.expose(), kek.expose());
        assert!(matches!(
            decode(&prot, || Ok(Secret::new(b"nope".to_vec()))),
            Err(CryptoError::WrongPassphrase)
        ));
    }

    #[test]
    fn malformed() {
        for t in [
            "",
            "tresor-key v1 plain",
            "tresor-key v1 plain !!!",
            "tresor-key v1 plain AAAA",
            "tresor-key v1 argon2id m=1,t=1,p=1 AAAA AAAA",
            "x y z",
        ] {
            assert!(
                matches!(
                    decode(t, || Ok(Secret::new(vec![]))),
                    Err(CryptoError::Malformed { .. })
                ),
                "{t}"
            );
        }
    }
}
