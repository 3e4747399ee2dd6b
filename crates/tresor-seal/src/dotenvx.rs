//! dotenvx interoperability: its `encrypted:` values are eciesjs' ECIES on secp256k1 —
//! an ephemeral key pair, HKDF-SHA256 (no salt, no info) of the uncompressed ephemeral public
//! key and the uncompressed shared point, AES-256-GCM with a 16-byte nonce; the value is
//! base64 of `ephemeral public key (65) ‖ nonce (16) ‖ tag (16) ‖ ciphertext`. The file names
//! its public key in `DOTENV_PUBLIC_KEY[_ENV]="02…"`; the private key comes from
//! `DOTENV_PRIVATE_KEY[_ENV]` (environment or `.env.keys`).

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{PublicKey, SecretKey};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::dotenv;
use crate::error::{Result, SealError, line_of};

/// Prefix of a dotenvx-encrypted value.
pub const PREFIX: &str = "encrypted:";

type Aes256Gcm16 = AesGcm<Aes256, U16>;

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn shared_key(
    eph_pub: &PublicKey,
    sk_scalar: &k256::NonZeroScalar,
    peer: &PublicKey,
) -> Zeroizing<[u8; 32]> {
    let shared = (peer.to_projective() * **sk_scalar).to_affine();
    let mut ikm = Zeroizing::new(Vec::with_capacity(130));
    ikm.extend_from_slice(eph_pub.to_encoded_point(false).as_bytes());
    ikm.extend_from_slice(shared.to_encoded_point(false).as_bytes());
    let mut k = Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<Sha256>::new(None, &ikm)
        .expand(&[], &mut k[..])
        .expect("32 bytes is a valid HKDF-SHA256 length");
    k
}

fn random_secret() -> Result<SecretKey> {
    loop {
        let mut b = Zeroizing::new([0u8; 32]);
        tresor_crypto::random_fill(&mut b[..]).map_err(|_| SealError::Crypto("random"))?;
        if let Ok(sk) = SecretKey::from_slice(&b[..]) {
            return Ok(sk);
        }
    }
}

/// A new key pair: (private key hex, compressed public key hex), as dotenvx makes them.
///
/// # Errors
/// [`SealError::Crypto`] if the system generator fails.
pub fn keypair() -> Result<(Zeroizing<String>, String)> {
    let sk = random_secret()?;
    let pk = tresor_crypto::hash::hex(sk.public_key().to_encoded_point(true).as_bytes());
    Ok((Zeroizing::new(tresor_crypto::hash::hex(&sk.to_bytes())), pk))
}

/// Encrypts `plain` to a dotenvx public key (hex): `encrypted:…`.
///
/// # Errors
/// [`SealError::Key`] for a malformed public key.
pub fn encrypt(public_hex: &str, plain: &str) -> Result<String> {
    let pk = hex_decode(public_hex)
        .and_then(|b| PublicKey::from_sec1_bytes(&b).ok())
        .ok_or_else(|| {
            SealError::Key("invalid dotenvx public key (expected secp256k1, hex)".into())
        })?;
    let eph = random_secret()?;
    let eph_pub = eph.public_key();
    let k = shared_key(&eph_pub, &eph.to_nonzero_scalar(), &pk);
    let mut nonce = [0u8; 16];
    tresor_crypto::random_fill(&mut nonce).map_err(|_| SealError::Crypto("random"))?;
    let ct = Aes256Gcm16::new_from_slice(&k[..])
        .expect("32-byte key")
        .encrypt(Nonce::<U16>::from_slice(&nonce), plain.as_bytes())
        .map_err(|_| SealError::Crypto("dotenvx encryption"))?;
    let (body, tag) = ct.split_at(ct.len() - 16);
    let mut out = eph_pub.to_encoded_point(false).as_bytes().to_vec();
    out.extend_from_slice(&nonce);
    out.extend_from_slice(tag);
    out.extend_from_slice(body);
    Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
}

/// Decrypts an `encrypted:…` value with a private key (hex).
///
/// # Errors
/// [`SealError::Key`] for a malformed key; `Err(&str)` kinds are folded into
/// [`SealError::Key`] with no detail on authentication failure.
pub fn decrypt(private_hex: &str, value: &str) -> Result<Zeroizing<String>> {
    let sk = hex_decode(private_hex)
        .map(Zeroizing::new)
        .and_then(|b| SecretKey::from_slice(&b).ok())
        .ok_or_else(|| {
            SealError::Key("invalid dotenvx private key (expected 64 hex digits)".into())
        })?;
    let raw = value
        .strip_prefix(PREFIX)
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .ok_or_else(|| SealError::Key("malformed dotenvx encrypted value".into()))?;
    if raw.len() < 65 + 16 + 16 {
        return Err(SealError::Key(
            "malformed dotenvx encrypted value (too short)".into(),
        ));
    }
    let eph_pub = PublicKey::from_sec1_bytes(&raw[..65])
        .map_err(|_| SealError::Key("malformed dotenvx encrypted value (bad point)".into()))?;
    let k = shared_key(&eph_pub, &sk.to_nonzero_scalar(), &eph_pub);
    let nonce = &raw[65..81];
    let tag = &raw[81..97];
    let mut ct = raw[97..].to_vec();
    ct.extend_from_slice(tag);
    let pt = Aes256Gcm16::new_from_slice(&k[..])
        .expect("32-byte key")
        .decrypt(Nonce::<U16>::from_slice(nonce), &ct[..])
        .map_err(|_| {
            SealError::Key("wrong dotenvx private key, or the value was changed".into())
        })?;
    let pt = Zeroizing::new(pt);
    Ok(Zeroizing::new(
        std::str::from_utf8(&pt)
            .map_err(|_| SealError::Key("dotenvx value is not UTF-8".into()))?
            .to_owned(),
    ))
}

/// The public key (compressed, hex) of a private key (hex).
///
/// # Errors
/// [`SealError::Key`] for a malformed key.
pub fn public_of(private_hex: &str) -> Result<String> {
    let sk = hex_decode(private_hex)
        .map(Zeroizing::new)
        .and_then(|b| SecretKey::from_slice(&b).ok())
        .ok_or_else(|| {
            SealError::Key("invalid dotenvx private key (expected 64 hex digits)".into())
        })?;
    Ok(tresor_crypto::hash::hex(
        sk.public_key().to_encoded_point(true).as_bytes(),
    ))
}

/// dotenvx's key names for a file name: `.env` → `DOTENV_PUBLIC_KEY`/`DOTENV_PRIVATE_KEY`,
/// `.env.production` → `…_PRODUCTION`.
pub fn key_names(file_name: &str) -> (String, String) {
    match file_name.strip_prefix(".env.") {
        Some(env) if !env.is_empty() => {
            let e = env.to_uppercase().replace(['.', '-'], "_");
            (
                format!("DOTENV_PUBLIC_KEY_{e}"),
                format!("DOTENV_PRIVATE_KEY_{e}"),
            )
        }
        _ => ("DOTENV_PUBLIC_KEY".into(), "DOTENV_PRIVATE_KEY".into()),
    }
}

/// The name of the `DOTENV_PUBLIC_KEY*` a dotenvx file carries, and its value.
///
/// # Errors
/// Syntax errors of the file.
pub fn public_key_in(text: &str) -> Result<Option<(String, String)>> {
    for l in dotenv::scan(text)? {
        let name = &l.path.0[0];
        if name.starts_with("DOTENV_PUBLIC_KEY") {
            return Ok(Some((name.clone(), dotenv::unquote(&text[l.span]))));
        }
    }
    Ok(None)
}

const BANNER: &[&str] = &[
    "#/-------------------[DOTENV_PUBLIC_KEY]--------------------/",
    "#/            public-key encryption for .env files          /",
    "#/       [how it works](https://dotenvx.com/encryption)     /",
    "#/----------------------------------------------------------/",
];

/// Decrypts every `encrypted:` value of a dotenvx file with the first of `private_keys` that
/// opens it; returns a plain `.env` text without the public key line and its banner.
///
/// # Errors
/// [`SealError::Value`] naming the key and line of a value no key opens.
pub fn to_plain(text: &str, private_keys: &[Zeroizing<String>]) -> Result<Zeroizing<String>> {
    let leaves = dotenv::scan(text)?;
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut last = 0;
    for l in &leaves {
        let name = &l.path.0[0];
        if name.starts_with("DOTENV_PUBLIC_KEY") {
            // the whole line goes (the public key means nothing to a plain file)
            let ls = text[..l.span.start].rfind('\n').map_or(0, |i| i + 1);
            let le = text[l.span.end..]
                .find('\n')
                .map_or(text.len(), |i| l.span.end + i + 1);
            out.push_str(&text[last..ls.max(last)]);
            last = le;
            continue;
        }
        let v = Zeroizing::new(dotenv::unquote(&text[l.span.clone()]));
        if !v.starts_with(PREFIX) {
            continue;
        }
        let plain = private_keys
            .iter()
            .find_map(|k| decrypt(k, &v).ok())
            .ok_or_else(|| SealError::Value {
                key: name.clone(),
                line: line_of(text, l.span.start),
                what: "does not decrypt with the DOTENV_PRIVATE_KEY given (wrong key or changed value)",
            })?;
        out.push_str(&text[last..l.span.start]);
        out.push_str(&dotenv::quote(&plain));
        last = l.span.end;
    }
    out.push_str(&text[last..]);
    // dotenvx's banner lines go too; leading blank lines after them.
    let kept: String = out
        .split_inclusive('\n')
        .filter(|l| !BANNER.contains(&l.trim_end()))
        .collect();
    Ok(Zeroizing::new(kept.trim_start_matches('\n').to_owned()))
}

/// Encrypts every value of a plain `.env` text for dotenvx: `KEY="encrypted:…"`, with the
/// public key line `public_name="public_hex"` and dotenvx's banner first. Values already
/// `encrypted:` are kept.
///
/// # Errors
/// Syntax errors naming the line; [`SealError::Key`] for a bad public key.
pub fn from_plain(
    text: &str,
    public_name: &str,
    public_hex: &str,
    file_name: &str,
) -> Result<String> {
    let leaves = dotenv::scan(text)?;
    let mut out = String::with_capacity(text.len() * 3);
    for b in BANNER {
        out.push_str(b);
        out.push('\n');
    }
    out.push_str(&format!(
        "{public_name}=\"{public_hex}\"\n\n# {file_name}\n"
    ));
    let mut last = 0;
    for l in &leaves {
        let name = &l.path.0[0];
        let v = Zeroizing::new(dotenv::unquote(&text[l.span.clone()]));
        if name.starts_with("DOTENV_PUBLIC_KEY") {
            return Err(SealError::Syntax {
                line: line_of(text, l.span.start),
                what: "the file already has a dotenvx public key: it is a dotenvx file".into(),
            });
        }
        out.push_str(&text[last..l.span.start]);
        if v.starts_with(PREFIX) {
            out.push_str(&text[l.span.clone()]);
        } else {
            out.push('"');
            out.push_str(&encrypt(public_hex, &v)?);
            out.push('"');
        }
        last = l.span.end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_key() {
        let (sk, pk) = keypair().unwrap();
        let c = encrypt(&pk, "hello wörld").unwrap();
        assert_eq!(decrypt(&sk, &c).unwrap().as_str(), "hello wörld");
        let (sk2, _) = keypair().unwrap();
        assert!(decrypt(&sk2, &c).is_err());
        assert_eq!(public_of(&sk).unwrap(), pk);
        let f = from_plain(
            "# c\nA=1\nB=\"two words\"\n",
            "DOTENV_PUBLIC_KEY",
            &pk,
            ".env",
        )
        .unwrap();
        assert!(!f.contains("two words"));
        let p = to_plain(&f, &[sk]).unwrap();
        assert_eq!(p.as_str(), "# .env\n# c\nA=1\nB=\"two words\"\n");
        assert_eq!(
            key_names(".env.production").1,
            "DOTENV_PRIVATE_KEY_PRODUCTION"
        );
    }
}
