//! Signatures: signing with a PKCS#8 private key and verifying with a SubjectPublicKeyInfo
//! public key (RSA-PSS, RSA PKCS#1 v1.5, ECDSA, Ed25519).

use std::sync::OnceLock;

use aws_lc_rs::{rand, rsa, signature};

use super::{OpError, Params, crypto_err};
use crate::der;
use crate::enums::{HashingAlgorithm, PaddingMethod, ResultReason};

/// The RSA signature schemes offered: PSS or PKCS#1 v1.5, each with SHA-256, -384 or -512.
const RSA_SCHEMES: [(&dyn signature::RsaEncoding, &signature::RsaParameters); 6] = [
    (
        &signature::RSA_PSS_SHA256,
        &signature::RSA_PSS_2048_8192_SHA256,
    ),
    (
        &signature::RSA_PSS_SHA384,
        &signature::RSA_PSS_2048_8192_SHA384,
    ),
    (
        &signature::RSA_PSS_SHA512,
        &signature::RSA_PSS_2048_8192_SHA512,
    ),
    (
        &signature::RSA_PKCS1_SHA256,
        &signature::RSA_PKCS1_2048_8192_SHA256,
    ),
    (
        &signature::RSA_PKCS1_SHA384,
        &signature::RSA_PKCS1_2048_8192_SHA384,
    ),
    (
        &signature::RSA_PKCS1_SHA512,
        &signature::RSA_PKCS1_2048_8192_SHA512,
    ),
];

/// The RSA scheme `p` names: its index in [`RSA_SCHEMES`].
fn rsa_scheme(p: &Params) -> Result<usize, OpError> {
    use crate::enums::DigitalSignatureAlgorithm as D;
    let pss = match (p.padding, p.signature_algorithm) {
        (Some(PaddingMethod::PSS), _) | (_, Some(D::RSASSA_PSS)) => true,
        (Some(PaddingMethod::PKCS1V1_5), _) => false,
        (
            _,
            Some(
                D::SHA256_WITH_RSA_ENCRYPTION
                | D::SHA384_WITH_RSA_ENCRYPTION
                | D::SHA512_WITH_RSA_ENCRYPTION,
            ),
        ) => false,
        _ => true,
    };
    let hash = match (p.hashing, p.signature_algorithm) {
        (Some(h), _) => h,
        (None, Some(D::SHA384_WITH_RSA_ENCRYPTION)) => HashingAlgorithm::SHA_384,
        (None, Some(D::SHA512_WITH_RSA_ENCRYPTION)) => HashingAlgorithm::SHA_512,
        _ => HashingAlgorithm::SHA_256,
    };
    let by_hash = match hash {
        HashingAlgorithm::SHA_256 => 0,
        HashingAlgorithm::SHA_384 => 1,
        HashingAlgorithm::SHA_512 => 2,
        h => {
            return Err(OpError::new(
                ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
                format!("hashing algorithm {h} is not supported for rsa signatures"),
            ));
        }
    };
    Ok(if pss { by_hash } else { 3 + by_hash })
}

/// The encoding and parameters of the RSA scheme `p` names.
fn rsa_scheme_of(
    p: &Params,
) -> Result<
    (
        &'static dyn signature::RsaEncoding,
        &'static signature::RsaParameters,
    ),
    OpError,
> {
    let i = rsa_scheme(p)?;
    RSA_SCHEMES
        .get(i)
        .copied()
        .ok_or_else(|| crypto_err("no such rsa scheme"))
}

/// A PKCS#8 private key parsed for signing (RSA, ECDSA P-256 / P-384, Ed25519). The parse
/// checks the key (an EC or Ed25519 key's public half is derived or checked, about the cost
/// of one signature), so the server keeps it with the cached key (`ops/key_cache.rs`).
pub(crate) enum Signer {
    /// RSA-PSS or RSA PKCS#1 v1.5, the scheme chosen per request.
    Rsa(rsa::KeyPair),
    /// ECDSA with the curve's hash (SHA-256 for P-256, SHA-384 for P-384), ASN.1 signatures.
    Ecdsa(signature::EcdsaKeyPair),
    /// Ed25519.
    Ed25519(signature::Ed25519KeyPair),
}

impl Signer {
    /// Parses a PKCS#8 private key: RSA, then ECDSA P-256 and P-384, then Ed25519.
    ///
    /// # Errors
    /// Cryptographic Failure if it is none of them.
    pub(crate) fn parse(pkcs8: &[u8]) -> Result<Self, OpError> {
        if let Ok(k) = rsa::KeyPair::from_pkcs8(pkcs8) {
            return Ok(Signer::Rsa(k));
        }
        for alg in [
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        ] {
            if let Ok(k) = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8) {
                return Ok(Signer::Ecdsa(k));
            }
        }
        if let Ok(k) = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8) {
            return Ok(Signer::Ed25519(k));
        }
        Err(crypto_err(
            "the private key is not a supported rsa, ec or ed25519 key",
        ))
    }

    /// Signs `data` (RSA with the scheme `p` names).
    ///
    /// # Errors
    /// Unsupported Cryptographic Parameters for an RSA scheme not offered, Cryptographic
    /// Failure if signing fails.
    pub(crate) fn sign(&self, p: &Params, data: &[u8]) -> Result<Vec<u8>, OpError> {
        let rng = rand::SystemRandom::new();
        match self {
            Signer::Rsa(k) => {
                let (enc, _) = rsa_scheme_of(p)?;
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(enc, &rng, data, &mut sig)
                    .map_err(|_| crypto_err("signing failed"))?;
                Ok(sig)
            }
            Signer::Ecdsa(k) => Ok(k
                .sign(&rng, data)
                .map_err(|_| crypto_err("signing failed"))?
                .as_ref()
                .to_vec()),
            Signer::Ed25519(k) => Ok(k.sign(data).as_ref().to_vec()),
        }
    }
}

/// Signs with a PKCS#8 private key (RSA-PSS / RSA PKCS#1 v1.5, ECDSA, Ed25519).
#[cfg(test)]
pub(crate) fn sign(pkcs8: &[u8], p: &Params, data: &[u8]) -> Result<Vec<u8>, OpError> {
    Signer::parse(pkcs8)?.sign(p, data)
}

/// A SubjectPublicKeyInfo public key parsed for Signature Verify, kept with the cached key
/// (`ops/key_cache.rs`) as [`Signer`] is: an EC key's parse decodes its point and checks it
/// on the curve. An EC or Ed25519 key verifies under one algorithm, so it is parsed once; an
/// RSA key's scheme (PSS or PKCS#1 v1.5, the hash) comes with each request, so it is parsed
/// once per scheme asked for. A key aws-lc rejects verifies no signature (as when it was
/// parsed per request: the verify failed, the answer was Invalid).
pub(crate) enum Verifier {
    /// ECDSA P-256 / P-384 or Ed25519 (`None`: a key aws-lc rejects).
    Fixed(Option<signature::ParsedPublicKey>),
    /// RSA: the key (PKCS#1 `RSAPublicKey`) and its parse for each of [`RSA_SCHEMES`].
    Rsa {
        key: Vec<u8>,
        schemes: Box<[OnceLock<Option<signature::ParsedPublicKey>>; RSA_SCHEMES.len()]>,
    },
}

impl Verifier {
    /// Parses a SubjectPublicKeyInfo: RSA, ECDSA P-256 or P-384, Ed25519 (told apart by the
    /// key's OID and length).
    ///
    /// # Errors
    /// Cryptographic Failure for a malformed SubjectPublicKeyInfo or another kind of key.
    pub(crate) fn parse(spki: &[u8]) -> Result<Self, OpError> {
        let (oid, key) =
            der::spki_parts(spki).ok_or_else(|| crypto_err("the public key is malformed"))?;
        if der::is_rsa_oid(oid) {
            return Ok(Verifier::Rsa {
                key: key.to_vec(),
                schemes: Default::default(),
            });
        }
        let alg: &'static dyn signature::VerificationAlgorithm = match key.len() {
            65 => &signature::ECDSA_P256_SHA256_ASN1,
            97 => &signature::ECDSA_P384_SHA384_ASN1,
            32 => &signature::ED25519,
            _ => {
                return Err(crypto_err(
                    "the public key is not a supported rsa, ec or ed25519 key",
                ));
            }
        };
        Ok(Verifier::Fixed(
            signature::ParsedPublicKey::new(alg, key).ok(),
        ))
    }

    /// Whether `sig` is a signature of `data` (an RSA key with the scheme `p` names).
    ///
    /// # Errors
    /// Unsupported Cryptographic Parameters for an RSA scheme not offered.
    pub(crate) fn verify(&self, p: &Params, data: &[u8], sig: &[u8]) -> Result<bool, OpError> {
        let parsed = match self {
            Verifier::Fixed(k) => k.as_ref(),
            Verifier::Rsa { key, schemes } => {
                let i = rsa_scheme(p)?;
                let (slot, (_, params)) = schemes
                    .get(i)
                    .zip(RSA_SCHEMES.get(i).copied())
                    .ok_or_else(|| crypto_err("no such rsa scheme"))?;
                slot.get_or_init(|| signature::ParsedPublicKey::new(params, key).ok())
                    .as_ref()
            }
        };
        Ok(parsed.is_some_and(|k| k.verify_sig(data, sig).is_ok()))
    }
}

/// Verifies a signature with a SubjectPublicKeyInfo public key.
#[cfg(test)]
pub(crate) fn verify(spki: &[u8], p: &Params, data: &[u8], sig: &[u8]) -> Result<bool, OpError> {
    Verifier::parse(spki)?.verify(p, data, sig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::CryptographicAlgorithm as Alg;
    use crate::ops::crypto::{key_bits, key_pair};
    use tresor_store::ObjectType;

    #[test]
    fn sign_verify_each_algorithm() {
        for (alg, bits) in [
            (Alg::RSA, Some(2048)),
            (Alg::ECDSA, Some(256)),
            (Alg::ECDSA, Some(384)),
            (Alg::ED25519, None),
        ] {
            let kp = key_pair(alg, bits, None).unwrap();
            let p = Params::default();
            let sig = sign(&kp.private_pkcs8, &p, b"msg").unwrap();
            assert!(verify(&kp.public_spki, &p, b"msg", &sig).unwrap(), "{alg}");
            assert!(
                !verify(&kp.public_spki, &p, b"other", &sig).unwrap(),
                "{alg}"
            );
            assert_eq!(
                key_bits(ObjectType::PublicKey, &kp.public_spki),
                Some(kp.bits)
            );
            assert_eq!(
                key_bits(ObjectType::PrivateKey, &kp.private_pkcs8),
                Some(kp.bits)
            );
        }
    }
}
