//! HMAC (on aws-lc-rs, and RustCrypto for HMAC-MD5): computing and checking a MAC.

use aws_lc_rs::hmac;

use super::OpError;
use crate::enums::{CryptographicAlgorithm as Alg, HashingAlgorithm, ResultReason};

fn hmac_alg(
    alg: Option<Alg>,
    hashing: Option<HashingAlgorithm>,
) -> Result<hmac::Algorithm, OpError> {
    Ok(match (alg, hashing) {
        (Some(Alg::HMAC_SHA1), _) | (_, Some(HashingAlgorithm::SHA_1)) => {
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY
        }
        (Some(Alg::HMAC_SHA224), _) | (_, Some(HashingAlgorithm::SHA_224)) => hmac::HMAC_SHA224,
        (Some(Alg::HMAC_SHA384), _) | (_, Some(HashingAlgorithm::SHA_384)) => hmac::HMAC_SHA384,
        (Some(Alg::HMAC_SHA512), _) | (_, Some(HashingAlgorithm::SHA_512)) => hmac::HMAC_SHA512,
        (Some(Alg::HMAC_SHA256), _) | (_, Some(HashingAlgorithm::SHA_256)) | (None, None) => {
            hmac::HMAC_SHA256
        }
        (Some(a), _) => {
            return Err(OpError::new(
                ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
                format!("mac algorithm {a} is not supported (HMAC-SHA2)"),
            ));
        }
        (None, Some(h)) => {
            return Err(OpError::new(
                ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
                format!("hashing algorithm {h} is not supported for mac"),
            ));
        }
    })
}

/// HMAC-MD5 (RFC 2104): a KMIP 1.0 algorithm PyKMIP's server offers; aws-lc has no MD5
/// HMAC, RustCrypto's `hmac` and `md-5` compute it.
fn is_md5(alg: Option<Alg>, hashing: Option<HashingAlgorithm>) -> bool {
    alg == Some(Alg::HMAC_MD5) || (alg.is_none() && hashing == Some(HashingAlgorithm::MD5))
}

fn hmac_md5(key: &[u8], data: &[u8]) -> Vec<u8> {
    use ::hmac::Mac;
    let mut m = <::hmac::Hmac<md5::Md5> as ::hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("hmac takes keys of any length"));
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// HMAC of `data`.
pub(crate) fn mac(
    key: &[u8],
    alg: Option<Alg>,
    hashing: Option<HashingAlgorithm>,
    data: &[u8],
) -> Result<Vec<u8>, OpError> {
    if is_md5(alg, hashing) {
        return Ok(hmac_md5(key, data));
    }
    let k = hmac::Key::new(hmac_alg(alg, hashing)?, key);
    Ok(hmac::sign(&k, data).as_ref().to_vec())
}

/// Checks an HMAC in constant time.
pub(crate) fn mac_verify(
    key: &[u8],
    alg: Option<Alg>,
    hashing: Option<HashingAlgorithm>,
    data: &[u8],
    tag: &[u8],
) -> Result<bool, OpError> {
    if is_md5(alg, hashing) {
        let want = hmac_md5(key, data);
        return Ok(aws_lc_rs::constant_time::verify_slices_are_equal(&want, tag).is_ok());
    }
    let k = hmac::Key::new(hmac_alg(alg, hashing)?, key);
    Ok(hmac::verify(&k, data, tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::crypto::symmetric_key;

    #[test]
    fn hmac_round_trip() {
        let key = symmetric_key(Alg::HMAC_SHA256, 256).unwrap();
        let t = mac(&key, Some(Alg::HMAC_SHA256), None, b"d").unwrap();
        assert_eq!(t.len(), 32);
        assert!(mac_verify(&key, Some(Alg::HMAC_SHA256), None, b"d", &t).unwrap());
        assert!(!mac_verify(&key, Some(Alg::HMAC_SHA256), None, b"e", &t).unwrap());
    }
}
