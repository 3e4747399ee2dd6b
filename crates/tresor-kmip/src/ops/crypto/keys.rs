//! Key material: random bytes, symmetric keys and their valid lengths, key pairs, and the
//! size of a stored asymmetric key.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::{rand, rsa, signature};
use tresor_store::ObjectType;
use zeroize::Zeroizing;

use super::{OpError, crypto_err};
use crate::der;
use crate::enums::{CryptographicAlgorithm as Alg, RecommendedCurve, ResultReason};

/// Random bytes.
pub(crate) fn random(n: usize) -> Result<Zeroizing<Vec<u8>>, OpError> {
    let mut v = Zeroizing::new(vec![0u8; n]);
    rand::fill(&mut v).map_err(|_| crypto_err("the random generator failed"))?;
    Ok(v)
}

/// A new symmetric key of `bits` for `alg`.
pub(crate) fn symmetric_key(alg: Alg, bits: i32) -> Result<Zeroizing<Vec<u8>>, OpError> {
    let ok = match alg {
        Alg::AES => matches!(bits, 128 | 192 | 256),
        Alg::HMAC_SHA1
        | Alg::HMAC_SHA224
        | Alg::HMAC_SHA256
        | Alg::HMAC_SHA384
        | Alg::HMAC_SHA512
        | Alg::HMAC_MD5 => (128..=4096).contains(&bits) && bits % 8 == 0,
        // The algorithms PyKMIP's server creates keys for, with the key sizes its
        // `cryptography` backend accepts: a key is random bytes of a valid length, no
        // cipher is needed to make one (see `symmetric_lengths`).
        _ => match symmetric_lengths(alg) {
            Some(valid) => valid.contains(&bits),
            None => {
                return Err(OpError::new(
                    ResultReason::INVALID_FIELD,
                    format!("cryptographic algorithm {alg} is not supported for symmetric keys"),
                ));
            }
        },
    };
    if !ok {
        return Err(OpError::new(
            ResultReason::INVALID_FIELD,
            format!("cryptographic length {bits} is not valid for {alg}"),
        ));
    }
    random(usize::try_from(bits / 8).unwrap_or(0))
}

/// The valid key lengths in bits of the block and stream ciphers tresor makes keys for
/// besides AES and HMAC: 3DES (64, 128, 192: one, two or three DES keys with parity bits),
/// DES 64, Blowfish 32–448, Camellia 128/192/256, CAST5 40–128, IDEA 128, RC4 40–2048 (the
/// sizes `cryptography` accepts), ChaCha20 and ChaCha20-Poly1305 256.
pub(crate) fn symmetric_lengths(alg: Alg) -> Option<Vec<i32>> {
    Some(match alg {
        Alg::DES3 => vec![64, 128, 192],
        Alg::DES => vec![64],
        Alg::BLOWFISH => (32..=448).step_by(8).collect(),
        Alg::CAMELLIA => vec![128, 192, 256],
        Alg::CAST5 => (40..=128).step_by(8).collect(),
        Alg::IDEA => vec![128],
        Alg::RC4 => vec![40, 56, 64, 80, 128, 160, 192, 256],
        Alg::CHA_CHA20 | Alg::CHA_CHA20_POLY1305 => vec![256],
        _ => return None,
    })
}

/// A generated key pair: PKCS#8 private key, SubjectPublicKeyInfo public key, bits.
pub(crate) struct KeyPair {
    pub(crate) private_pkcs8: Zeroizing<Vec<u8>>,
    pub(crate) public_spki: Vec<u8>,
    pub(crate) bits: i32,
    pub(crate) algorithm: Alg,
}

/// Generates a key pair: RSA 2048/3072/4096, ECDSA/EC P-256/P-384, Ed25519.
pub(crate) fn key_pair(
    alg: Alg,
    bits: Option<i32>,
    curve: Option<RecommendedCurve>,
) -> Result<KeyPair, OpError> {
    let fail = |_| crypto_err("key generation failed");
    match alg {
        Alg::RSA => {
            let bits = bits.unwrap_or(2048);
            let size = match bits {
                2048 => rsa::KeySize::Rsa2048,
                3072 => rsa::KeySize::Rsa3072,
                4096 => rsa::KeySize::Rsa4096,
                _ => {
                    return Err(OpError::new(
                        ResultReason::INVALID_FIELD,
                        format!("rsa length {bits} is not supported (2048, 3072 or 4096)"),
                    ));
                }
            };
            let kp = rsa::KeyPair::generate(size).map_err(fail)?;
            let private = kp.as_der().map_err(fail)?;
            let public = signature::KeyPair::public_key(&kp).as_der().map_err(fail)?;
            Ok(KeyPair {
                private_pkcs8: Zeroizing::new(private.as_ref().to_vec()),
                public_spki: public.as_ref().to_vec(),
                bits,
                algorithm: Alg::RSA,
            })
        }
        Alg::ECDSA | Alg::EC | Alg::ECDH => {
            let (sign_alg, bits) = match (curve, bits) {
                (Some(RecommendedCurve::P_384), _) | (None, Some(384)) => {
                    (&signature::ECDSA_P384_SHA384_ASN1_SIGNING, 384)
                }
                (Some(RecommendedCurve::P_256), _) | (None, Some(256) | None) => {
                    (&signature::ECDSA_P256_SHA256_ASN1_SIGNING, 256)
                }
                (Some(c), _) => {
                    return Err(OpError::new(
                        ResultReason::INVALID_FIELD,
                        format!("curve {c} is not supported (P-256, P-384)"),
                    ));
                }
                (None, Some(b)) => {
                    return Err(OpError::new(
                        ResultReason::INVALID_FIELD,
                        format!("ec length {b} is not supported (256, 384)"),
                    ));
                }
            };
            let kp = signature::EcdsaKeyPair::generate(sign_alg).map_err(fail)?;
            let private = kp.to_pkcs8v1().map_err(fail)?;
            let public = signature::KeyPair::public_key(&kp).as_der().map_err(fail)?;
            Ok(KeyPair {
                private_pkcs8: Zeroizing::new(private.as_ref().to_vec()),
                public_spki: public.as_ref().to_vec(),
                bits,
                algorithm: alg,
            })
        }
        Alg::ED25519 => {
            let kp = signature::Ed25519KeyPair::generate().map_err(fail)?;
            let private = kp.to_pkcs8v1().map_err(fail)?;
            let public = signature::KeyPair::public_key(&kp).as_der().map_err(fail)?;
            Ok(KeyPair {
                private_pkcs8: Zeroizing::new(private.as_ref().to_vec()),
                public_spki: public.as_ref().to_vec(),
                bits: 256,
                algorithm: Alg::ED25519,
            })
        }
        _ => Err(OpError::new(
            ResultReason::INVALID_FIELD,
            format!("cryptographic algorithm {alg} is not supported for key pairs"),
        )),
    }
}

/// The size in bits of a stored asymmetric key, if recognised.
pub(crate) fn key_bits(t: ObjectType, material: &[u8]) -> Option<i32> {
    let bits = match t {
        ObjectType::PrivateKey => {
            if let Ok(k) = rsa::KeyPair::from_pkcs8(material) {
                k.public_modulus_len() * 8
            } else if signature::EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                material,
            )
            .is_ok()
            {
                384
            } else if signature::EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                material,
            )
            .is_ok()
                || signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(material).is_ok()
            {
                256
            } else {
                return None;
            }
        }
        ObjectType::PublicKey => {
            let (oid, key) = der::spki_parts(material)?;
            if der::is_rsa_oid(oid) {
                rsa::PublicKey::from_der(key).ok()?.modulus_len() * 8
            } else {
                match key.len() {
                    65 | 32 => 256,
                    97 => 384,
                    _ => return None,
                }
            }
        }
        _ => return None,
    };
    i32::try_from(bits).ok()
}
