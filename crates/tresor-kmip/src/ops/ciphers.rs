//! Encrypt/Decrypt with the ciphers besides AES (RustCrypto): Triple DES (CBC and ECB, PKCS#5
//! or no padding; PyKMIP's server and KMIP 1.x clients use it), ChaCha20 and
//! ChaCha20-Poly1305 (KMIP 2.0 added both).
//!
//! IV/Counter/Nonce: 3DES-CBC 8 bytes; ChaCha20 either the 12-byte RFC 8439 nonce (block
//! counter from 0) or 16 bytes laid out as OpenSSL and `cryptography` take them (4-byte
//! little-endian block counter, then the 12-byte nonce); ChaCha20-Poly1305 a 12-byte nonce and
//! a 16-byte tag. Where no IV is sent for encryption the server draws one and returns it.
//! A caller may choose a ChaCha20/ChaCha20-Poly1305 nonce only where it may choose a GCM IV
//! (the key's [`crypto::GcmRule`]): a repeated nonce reveals the key stream.

use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use zeroize::Zeroizing;

use super::OpError;
use super::crypto::{self, Encrypted, Params};
use crate::enums::{BlockCipherMode, CryptographicAlgorithm as Alg, PaddingMethod, ResultReason};

fn bad_params(what: impl Into<String>) -> OpError {
    OpError::new(ResultReason::BAD_CRYPTOGRAPHIC_PARAMETERS, what.into())
}

fn crypto_err(what: &str) -> OpError {
    OpError::new(ResultReason::CRYPTOGRAPHIC_FAILURE, what.to_owned())
}

/// Returns true if and only if this module handles encryption with `alg`.
pub(crate) fn handles(alg: Option<Alg>) -> bool {
    matches!(
        alg,
        Some(Alg::DES3 | Alg::CHA_CHA20 | Alg::CHA_CHA20_POLY1305)
    )
}

/// Encrypts `data` with `key` for `alg` (one of [`handles`]).
///
/// # Errors
/// Bad Cryptographic Parameters for a wrong key, IV or mode; Cryptographic Failure.
pub(crate) fn encrypt(
    alg: Alg,
    key: &[u8],
    p: &Params,
    data: &[u8],
    iv: Option<&[u8]>,
    aad: &[u8],
) -> Result<Encrypted, OpError> {
    match alg {
        Alg::DES3 => {
            let mode = p.mode.unwrap_or(BlockCipherMode::CBC);
            let (iv, generated) = match (mode, iv) {
                (BlockCipherMode::ECB, _) => (Vec::new(), false),
                (_, Some(v)) => (v.to_vec(), false),
                (_, None) => (crypto::random(8)?.to_vec(), true),
            };
            let out = des3(key, mode, p.padding, &iv, data, true)?;
            Ok(Encrypted {
                data: out.to_vec(),
                iv: generated.then_some(iv),
                tag: None,
            })
        }
        Alg::CHA_CHA20 => {
            p.gcm.check_iv(iv)?;
            let (nonce, generated) = match iv {
                Some(v) => (v.to_vec(), false),
                None => (crypto::random(12)?.to_vec(), true),
            };
            let mut buf = data.to_vec();
            chacha20_apply(key, &nonce, &mut buf)?;
            Ok(Encrypted {
                data: buf,
                iv: generated.then_some(nonce),
                tag: None,
            })
        }
        Alg::CHA_CHA20_POLY1305 => {
            p.gcm.check_iv(iv)?;
            let (nonce, generated) = match iv {
                Some(v) => (v.to_vec(), false),
                None => (crypto::random(12)?.to_vec(), true),
            };
            check_tag_length(p)?;
            let c = aead_key(key)?;
            let n = aead_nonce(&nonce)?;
            let mut buf = data.to_vec();
            let tag = c
                .encrypt_in_place_detached(n, aad, &mut buf)
                .map_err(|_| crypto_err("encryption failed"))?;
            Ok(Encrypted {
                data: buf,
                iv: generated.then_some(nonce),
                tag: Some(tag.to_vec()),
            })
        }
        other => Err(unsupported(other)),
    }
}

/// Decrypts `data` with `key` for `alg` (one of [`handles`]).
///
/// # Errors
/// Invalid Message without an IV where the mode needs one; Bad Cryptographic Parameters;
/// Cryptographic Failure for a bad padding or tag.
pub(crate) fn decrypt(
    alg: Alg,
    key: &[u8],
    p: &Params,
    data: &[u8],
    iv: Option<&[u8]>,
    aad: &[u8],
    tag: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>, OpError> {
    let need_iv = || {
        iv.ok_or_else(|| {
            OpError::new(
                ResultReason::INVALID_MESSAGE,
                "decryption needs an iv/counter/nonce",
            )
        })
    };
    match alg {
        Alg::DES3 => {
            let mode = p.mode.unwrap_or(BlockCipherMode::CBC);
            let iv = if mode == BlockCipherMode::ECB {
                &[][..]
            } else {
                need_iv()?
            };
            des3(key, mode, p.padding, iv, data, false)
        }
        Alg::CHA_CHA20 => {
            let mut buf = Zeroizing::new(data.to_vec());
            chacha20_apply(key, need_iv()?, &mut buf)?;
            Ok(buf)
        }
        Alg::CHA_CHA20_POLY1305 => {
            let n = aead_nonce(need_iv()?)?;
            let tag = tag.ok_or_else(|| {
                bad_params("chacha20-poly1305 decryption needs the authenticated encryption tag")
            })?;
            if tag.len() != 16 {
                return Err(bad_params("a chacha20-poly1305 tag is 16 bytes"));
            }
            let c = aead_key(key)?;
            let mut buf = Zeroizing::new(data.to_vec());
            c.decrypt_in_place_detached(n, aad, &mut buf, tag.into())
                .map_err(|_| crypto_err("decryption failed: authentication tag mismatch"))?;
            Ok(buf)
        }
        other => Err(unsupported(other)),
    }
}

fn unsupported(alg: Alg) -> OpError {
    OpError::new(
        ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
        format!("encryption with {alg} is not supported"),
    )
}

fn check_tag_length(p: &Params) -> Result<(), OpError> {
    match p.tag_length {
        None | Some(16) => Ok(()),
        Some(n) => Err(bad_params(format!(
            "a chacha20-poly1305 tag is 16 bytes, not {n}"
        ))),
    }
}

fn aead_key(key: &[u8]) -> Result<chacha20poly1305::ChaCha20Poly1305, OpError> {
    chacha20poly1305::ChaCha20Poly1305::new_from_slice(key)
        .map_err(|_| bad_params("a chacha20-poly1305 key is 256 bits"))
}

fn aead_nonce(n: &[u8]) -> Result<&chacha20poly1305::Nonce, OpError> {
    if n.len() != 12 {
        return Err(bad_params(format!(
            "a chacha20-poly1305 nonce is 12 bytes, not {}",
            n.len()
        )));
    }
    Ok(chacha20poly1305::Nonce::from_slice(n))
}

/// ChaCha20 (RFC 8439) over `buf` in place: a 12-byte nonce (counter 0) or OpenSSL's
/// 16 bytes (little-endian 32-bit counter, then the nonce).
fn chacha20_apply(key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<(), OpError> {
    if key.len() != 32 {
        return Err(bad_params("a chacha20 key is 256 bits"));
    }
    let (counter, nonce) = match iv.len() {
        12 => (0u32, iv),
        16 => {
            let mut c = [0u8; 4];
            c.copy_from_slice(&iv[..4]);
            (u32::from_le_bytes(c), &iv[4..])
        }
        n => {
            return Err(bad_params(format!(
                "a chacha20 iv is a 12-byte nonce or 16 bytes of counter and nonce, not {n}"
            )));
        }
    };
    let mut c = chacha20::ChaCha20::new_from_slices(key, nonce)
        .map_err(|_| bad_params("bad chacha20 key or nonce"))?;
    c.try_seek(u64::from(counter) * 64)
        .map_err(|_| bad_params("chacha20 counter out of range"))?;
    c.try_apply_keystream(buf)
        .map_err(|_| bad_params("chacha20 data too long for the counter"))?;
    Ok(())
}

/// Triple DES in CBC or ECB: 24-byte keys are three keys, 16 bytes two (K3 = K1), 8 bytes one
/// (single DES, as `cryptography` treats a 64-bit TripleDES key).
fn des3(
    key: &[u8],
    mode: BlockCipherMode,
    padding: Option<PaddingMethod>,
    iv: &[u8],
    data: &[u8],
    encrypt: bool,
) -> Result<Zeroizing<Vec<u8>>, OpError> {
    use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit as _, generic_array::GenericArray};
    let pkcs5 = match padding {
        Some(PaddingMethod::PKCS5) => true,
        None | Some(PaddingMethod::NONE) => mode == BlockCipherMode::CBC && padding.is_none(),
        Some(other) => {
            return Err(bad_params(format!(
                "3des supports pkcs5 or no padding, not {other}"
            )));
        }
    };
    if !matches!(mode, BlockCipherMode::CBC | BlockCipherMode::ECB) {
        return Err(OpError::new(
            ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
            format!("3des supports CBC and ECB, not {mode}"),
        ));
    }
    if mode == BlockCipherMode::CBC && iv.len() != 8 {
        return Err(bad_params(format!(
            "3des-cbc needs an 8-byte iv, not {}",
            iv.len()
        )));
    }
    enum K {
        One(des::Des),
        Two(des::TdesEde2),
        Three(des::TdesEde3),
    }
    let bad = |_| bad_params("bad 3des key");
    let k = match key.len() {
        8 => K::One(des::Des::new_from_slice(key).map_err(bad)?),
        16 => K::Two(des::TdesEde2::new_from_slice(key).map_err(bad)?),
        24 => K::Three(des::TdesEde3::new_from_slice(key).map_err(bad)?),
        n => {
            return Err(bad_params(format!(
                "a 3des key is 64, 128 or 192 bits, not {}",
                n * 8
            )));
        }
    };
    let block = |b: &mut [u8], enc: bool| {
        let b = GenericArray::from_mut_slice(b);
        match (&k, enc) {
            (K::One(c), true) => c.encrypt_block(b),
            (K::One(c), false) => c.decrypt_block(b),
            (K::Two(c), true) => c.encrypt_block(b),
            (K::Two(c), false) => c.decrypt_block(b),
            (K::Three(c), true) => c.encrypt_block(b),
            (K::Three(c), false) => c.decrypt_block(b),
        }
    };
    let mut buf = Zeroizing::new(data.to_vec());
    if encrypt && pkcs5 {
        let n = 8 - buf.len() % 8;
        buf.extend(std::iter::repeat_n(n as u8, n));
    }
    if buf.len() % 8 != 0 {
        return Err(bad_params(format!(
            "3des data of {} bytes is not a multiple of the 8-byte block",
            data.len()
        )));
    }
    let mut prev = [0u8; 8];
    prev.copy_from_slice(iv.get(..8).unwrap_or(&[0u8; 8]));
    for chunk in buf.chunks_exact_mut(8) {
        if mode == BlockCipherMode::ECB {
            block(chunk, encrypt);
            continue;
        }
        if encrypt {
            for (c, p) in chunk.iter_mut().zip(prev.iter()) {
                *c ^= p;
            }
            block(chunk, true);
            prev.copy_from_slice(chunk);
        } else {
            let mut this = [0u8; 8];
            this.copy_from_slice(chunk);
            block(chunk, false);
            for (c, p) in chunk.iter_mut().zip(prev.iter()) {
                *c ^= p;
            }
            prev = this;
        }
    }
    if !encrypt && pkcs5 {
        crypto::strip_pkcs5(&mut buf, 8)?;
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn chacha20_matches_rfc8439_section_2_4_2() {
        // RFC 8439 2.4.2: key 00..1f, nonce 000000000000004a00000000, counter 1.
        let key: Vec<u8> = (0u8..32).collect();
        let mut iv = 1u32.to_le_bytes().to_vec();
        iv.extend(hex("000000000000004a00000000"));
        let plain = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let p = Params::default();
        let e = encrypt(Alg::CHA_CHA20, &key, &p, plain, Some(&iv), b"").unwrap();
        assert_eq!(
            e.data[..16],
            hex("6e2e359a2568f98041ba0728dd0d6981")[..],
            "first block of the RFC's ciphertext"
        );
        let d = decrypt(Alg::CHA_CHA20, &key, &p, &e.data, Some(&iv), b"", None).unwrap();
        assert_eq!(&d[..], &plain[..]);
    }

    #[test]
    fn chacha20_poly1305_matches_rfc8439_section_2_8_2() {
        let key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        let nonce = hex("070000004041424344454647");
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let plain = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let p = Params::default();
        let e = encrypt(Alg::CHA_CHA20_POLY1305, &key, &p, plain, Some(&nonce), &aad).unwrap();
        assert_eq!(e.tag.unwrap(), hex("1ae10b594f09e26a7e902ecbd0600691"));
        assert_eq!(e.data[..8], hex("d31a8d34648e60db")[..]);
    }

    #[test]
    fn chacha20_poly1305_refuses_a_forged_tag() {
        let key = [7u8; 32];
        let nonce = [1u8; 12];
        let p = Params::default();
        let e = encrypt(Alg::CHA_CHA20_POLY1305, &key, &p, b"x", Some(&nonce), b"").unwrap();
        let mut tag = e.tag.unwrap();
        tag[0] ^= 1;
        let err = decrypt(
            Alg::CHA_CHA20_POLY1305,
            &key,
            &p,
            &e.data,
            Some(&nonce),
            b"",
            Some(&tag),
        )
        .unwrap_err();
        assert_eq!(err.reason, ResultReason::CRYPTOGRAPHIC_FAILURE);
    }

    #[test]
    fn a_caller_nonce_is_refused_where_the_server_chooses_ivs() {
        // A grantee (or a key with Random IV) may not pick the nonce: a repeated ChaCha20
        // nonce reveals the key stream, as a repeated GCM IV does.
        let p = Params {
            gcm: crypto::GcmRule {
                tag_length: None,
                server_iv: true,
            },
            ..Params::default()
        };
        for alg in [Alg::CHA_CHA20, Alg::CHA_CHA20_POLY1305] {
            let Err(e) = encrypt(alg, &[1u8; 32], &p, b"x", Some(&[0u8; 12]), b"") else {
                panic!("{alg}: a caller-chosen nonce was accepted");
            };
            assert_eq!(e.reason, ResultReason::INVALID_FIELD);
            let ok = encrypt(alg, &[1u8; 32], &p, b"x", None, b"").unwrap();
            assert_eq!(
                ok.iv.map(|v| v.len()),
                Some(12),
                "the server's nonce is returned"
            );
        }
    }

    #[test]
    fn triple_des_matches_sp800_67_example() {
        // NIST SP 800-67 Rev. 2 / SP 800-20 style known answer: TDEA ECB with three keys,
        // from NIST's TDES example (K1 0123456789ABCDEF, K2 23456789ABCDEF01,
        // K3 456789ABCDEF0123; "The qufck brown fox jump" -> A826FD8CE53B855F...).
        let key = hex("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123");
        let p = Params {
            mode: Some(BlockCipherMode::ECB),
            padding: Some(PaddingMethod::NONE),
            ..Params::default()
        };
        let e = encrypt(Alg::DES3, &key, &p, b"The qufck brown fox jump", None, b"").unwrap();
        assert_eq!(
            e.data,
            hex("A826FD8CE53B855FCCE21C8112256FE668D5C05DD9B6B900")
        );
    }

    #[test]
    fn triple_des_cbc_round_trips_with_padding() {
        let key = [3u8; 24];
        let p = Params {
            mode: Some(BlockCipherMode::CBC),
            padding: Some(PaddingMethod::PKCS5),
            ..Params::default()
        };
        let e = encrypt(Alg::DES3, &key, &p, b"seventeen bytes!!", None, b"").unwrap();
        assert_eq!(e.data.len(), 24);
        let iv = e.iv.unwrap();
        let d = decrypt(Alg::DES3, &key, &p, &e.data, Some(&iv), b"", None).unwrap();
        assert_eq!(&d[..], b"seventeen bytes!!");
    }
}
