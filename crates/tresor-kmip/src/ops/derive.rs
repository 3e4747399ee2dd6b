//! Derive Key (KMIP 1.0+ §4.6, 2.0 §6.1.11): a new Symmetric Key or Secret Data from the
//! material of an existing key or secret.
//!
//! Methods, with the RustCrypto crates (`pbkdf2`, `hmac`, `hkdf`, `sha1`, `sha2`, `md-5`):
//! - **PBKDF2** (PKCS #5 v2.1): HMAC with the Cryptographic Parameters' Hashing Algorithm
//!   (SHA-1 when none is named, PKCS #5's default PRF), Salt and Iteration Count required.
//! - **HMAC**: KMIP 1.x names the method without fixing a construction; PyKMIP's server
//!   runs HKDF (RFC 5869: Salt, and the Derivation Data as `info`), and so does tresor, so
//!   that a key derived on either server is the same. **HKDF** (2.1) is the same function.
//! - **Hash**: the hash of the Derivation Data, or of the base material when no data is
//!   sent.
//! - **NIST800_108_C**: SP 800-108 KDF in counter mode with HMAC as PRF, a 32-bit big-endian
//!   counter from 1 before the fixed input data (the Derivation Data), no length field — the
//!   layout PyKMIP's server uses (`cryptography`'s `KBKDFHMAC`, `rlen=4`, `llen=None`,
//!   `BeforeFixed`). No maintained SP 800-108 crate is in the package lists this project
//!   uses, so the counter loop is written here over `hmac`, as the SP defines it.
//! - **Encrypt**: the Derivation Data encrypted with the base key and the request's
//!   Cryptographic Parameters (AES, 3DES, ChaCha20) and Initialization Vector.
//!
//! Access: the base object is used like a key in Encrypt (`use` permission, Active, its
//! usage mask must hold Derive Key); the derived object is owned by the caller. Its length
//! comes from the request's Cryptographic Length (bits, a multiple of 8).

use hmac::Mac;
use serde_json::json;
use sha2::Digest;
use tresor_store::ObjectType;
use zeroize::Zeroizing;

use super::crypto::Params;
use super::{OpError, Session, crypto};
use crate::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, DerivationMethod, HashingAlgorithm,
    KeyFormatType, ObjectType as KmipType, ResultReason,
};
use crate::payload::derive::{DeriveKeyRequest, DeriveKeyResponse};
use crate::payload::{Payload, UidRef};
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// The most a derivation may produce (bytes): 64 KiB, far beyond any key.
const MAX_LEN: usize = 64 * 1024;

/// PBKDF2 iteration counts above this are refused (a request must not tie the server up).
const MAX_ITERATIONS: u32 = 10_000_000;

fn invalid(msg: impl Into<String>) -> OpError {
    OpError::new(ResultReason::INVALID_FIELD, msg)
}

fn unsupported(msg: impl Into<String>) -> OpError {
    OpError::new(ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, msg)
}

/// The inputs of a derivation, from the request's Derivation Parameters.
#[derive(Default)]
pub(crate) struct Inputs<'a> {
    pub(crate) hashing: Option<HashingAlgorithm>,
    pub(crate) data: Option<&'a [u8]>,
    pub(crate) salt: Option<&'a [u8]>,
    pub(crate) iterations: Option<i32>,
    pub(crate) iv: Option<&'a [u8]>,
    pub(crate) params: Params,
}

/// The store type of the object a Derive Key makes (Symmetric Key or Secret Data).
fn derived_type(ot: KmipType) -> Result<ObjectType, OpError> {
    match ot {
        KmipType::SYMMETRIC_KEY => Ok(ObjectType::SymmetricKey),
        KmipType::SECRET_DATA => Ok(ObjectType::SecretData),
        other => Err(invalid(format!(
            "derive key makes a symmetric key or secret data, not {other}"
        ))),
    }
}

/// Derive Key: a Symmetric Key or Secret Data derived from the first named object.
pub(crate) fn derive_key(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = match DeriveKeyRequest::from_ttlv(payload) {
        Ok(req) => req,
        Err(e) => {
            // A type Derive Key does not make is refused before the rest is read.
            if let Some(ot) = crate::payload::opt_enum(payload, Tag::OBJECT_TYPE) {
                derived_type(KmipType(ot))?;
            }
            return Err(e.into());
        }
    };
    let store_type = derived_type(req.object_type)?;
    let method = req.derivation_method;
    let dp = &req.derivation_parameters;
    let set = &req.attributes;
    let bits = set.cryptographic_length().ok_or_else(|| {
        invalid("derive key needs a cryptographic length attribute (bits) for the new object")
    })?;
    if bits <= 0 || bits % 8 != 0 {
        return Err(invalid(format!(
            "cryptographic length {bits} is not a whole number of bytes"
        )));
    }
    let len = usize::try_from(bits / 8).unwrap_or(usize::MAX);
    if len > MAX_LEN {
        return Err(invalid(format!(
            "cryptographic length {bits} is over the {} bits a derivation may produce",
            MAX_LEN * 8
        )));
    }
    let algorithm = set.cryptographic_algorithm();
    if store_type == ObjectType::SymmetricKey && algorithm.is_none() {
        return Err(invalid(
            "derive key needs a cryptographic algorithm attribute for a symmetric key",
        ));
    }
    // The base object: the first Unique Identifier (or the ID Placeholder), used like an
    // encryption key: `use` permission, Active, Derive Key in its usage mask (`key_for`
    // reads the identifier from the payload, as the cryptographic operations do).
    let (base_uid, _base) = super::usage::key_for(
        s,
        payload,
        CryptographicUsageMask::DERIVE_KEY,
        true,
        &[
            ObjectType::SymmetricKey,
            ObjectType::SecretData,
            ObjectType::PrivateKey,
            ObjectType::PublicKey,
        ],
    )?;
    let material = s.txn.material(&base_uid, 0)?;
    // Derivation Data may also come from a second object (Secret Data) named in the request.
    let mut extra_data: Option<Zeroizing<Vec<u8>>> = None;
    let uids: Vec<&str> = req
        .unique_identifiers
        .iter()
        .filter_map(|u| match u {
            UidRef::Text(t) => Some(t.as_str()),
            UidRef::Placeholder(_) => None,
        })
        .collect();
    if !derivation_data_sent(payload) {
        for &other in uids.iter().skip(1) {
            let m = s.load(other, "use")?;
            if m.object_type == ObjectType::SecretData {
                extra_data = Some(Zeroizing::new(s.txn.material(other, 0)?.expose().to_vec()));
                break;
            }
        }
    }
    let cp = dp.cryptographic_parameters.clone().unwrap_or_default();
    let inputs = Inputs {
        hashing: cp.hashing_algorithm,
        data: dp
            .derivation_data
            .as_deref()
            .or(extra_data.as_deref().map(Vec::as_slice)),
        salt: dp.salt.as_deref(),
        iterations: dp.iteration_count,
        iv: dp.initialization_vector.as_deref(),
        params: Params {
            mode: cp.block_cipher_mode,
            padding: cp.padding_method,
            algorithm: cp.cryptographic_algorithm,
            ..Params::default()
        },
    };
    let out = derive(method, material.expose(), &inputs, len)?;
    let mut new = super::create::new_object(
        s,
        store_type,
        set,
        out.to_vec(),
        Some(KeyFormatType::RAW),
        algorithm.filter(|_| store_type == ObjectType::SymmetricKey),
        (store_type == ObjectType::SymmetricKey).then_some(bits),
    )?;
    if store_type == ObjectType::SecretData {
        new.attributes
            .entry("Secret Data Type".to_owned())
            .or_insert(json!("Seed"));
    }
    // The derived object records where it came from (KMIP Link type Derivation Base Object).
    super::create::push_link(
        &mut new.attributes,
        crate::enums::LinkType::DERIVATION_BASE_OBJECT_LINK,
        &base_uid,
    );
    let uid = s.txn.create(new)?;
    s.txn.update(&base_uid, "derive key", |m| {
        super::create::push_link(
            &mut m.attributes,
            crate::enums::LinkType::DERIVED_KEY_LINK,
            &uid,
        );
        Ok(())
    })?;
    s.placeholder = Some(uid.clone());
    Ok(DeriveKeyResponse {
        unique_identifier: uid,
    }
    .to_items(s.version))
}

/// Returns true if and only if the request's Derivation Parameters hold a Derivation Data
/// field of any item type: only then is no second object's material used as the data
/// ([`crate::payload::derive::DerivationParameters`] reads a field of the wrong type as
/// absent, and such a request has always been answered without the second object).
fn derivation_data_sent(payload: &Ttlv) -> bool {
    payload
        .find(Tag::DERIVATION_PARAMETERS)
        .is_some_and(|dp| dp.find(Tag::DERIVATION_DATA).is_some())
}

/// Runs derivation `method` over `key` and returns exactly `len` bytes.
///
/// # Errors
/// Invalid Field for missing inputs; Unsupported Cryptographic Parameters for a method or
/// hash tresor does not implement; Cryptographic Failure when the method yields fewer bytes.
pub(crate) fn derive(
    method: DerivationMethod,
    key: &[u8],
    i: &Inputs<'_>,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, OpError> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    match method {
        DerivationMethod::PBKDF2 => {
            let salt = i
                .salt
                .ok_or_else(|| invalid("pbkdf2 derivation needs a salt"))?;
            let n = i
                .iterations
                .ok_or_else(|| invalid("pbkdf2 derivation needs an iteration count"))?;
            let n = u32::try_from(n)
                .ok()
                .filter(|n| (1..=MAX_ITERATIONS).contains(n))
                .ok_or_else(|| {
                    invalid(format!(
                        "pbkdf2 iteration count {n} is not between 1 and {MAX_ITERATIONS}"
                    ))
                })?;
            match i.hashing.unwrap_or(HashingAlgorithm::SHA_1) {
                HashingAlgorithm::SHA_1 => {
                    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(key, salt, n, &mut out)
                }
                HashingAlgorithm::SHA_224 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha224>(key, salt, n, &mut out)
                }
                HashingAlgorithm::SHA_256 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(key, salt, n, &mut out)
                }
                HashingAlgorithm::SHA_384 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha384>(key, salt, n, &mut out)
                }
                HashingAlgorithm::SHA_512 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(key, salt, n, &mut out)
                }
                HashingAlgorithm::MD5 => pbkdf2::pbkdf2_hmac::<md5::Md5>(key, salt, n, &mut out),
                h => return Err(unsupported(format!("pbkdf2 with {h} is not supported"))),
            }
        }
        DerivationMethod::HMAC | DerivationMethod::HKDF => {
            let h = need_hash(i, "hmac")?;
            let info = i.data.unwrap_or_default();
            let r = match h {
                HashingAlgorithm::SHA_1 => {
                    hkdf::Hkdf::<sha1::Sha1>::new(i.salt, key).expand(info, &mut out)
                }
                HashingAlgorithm::SHA_224 => {
                    hkdf::Hkdf::<sha2::Sha224>::new(i.salt, key).expand(info, &mut out)
                }
                HashingAlgorithm::SHA_256 => {
                    hkdf::Hkdf::<sha2::Sha256>::new(i.salt, key).expand(info, &mut out)
                }
                HashingAlgorithm::SHA_384 => {
                    hkdf::Hkdf::<sha2::Sha384>::new(i.salt, key).expand(info, &mut out)
                }
                HashingAlgorithm::SHA_512 => {
                    hkdf::Hkdf::<sha2::Sha512>::new(i.salt, key).expand(info, &mut out)
                }
                HashingAlgorithm::MD5 => {
                    hkdf::Hkdf::<md5::Md5>::new(i.salt, key).expand(info, &mut out)
                }
                h => {
                    return Err(unsupported(format!(
                        "hmac derivation with {h} is not supported"
                    )));
                }
            };
            r.map_err(|_| {
                OpError::new(
                    ResultReason::CRYPTOGRAPHIC_FAILURE,
                    format!("hmac (hkdf) derivation cannot produce {len} bytes with {h}"),
                )
            })?;
        }
        DerivationMethod::HASH => {
            let h = need_hash(i, "hash")?;
            let input = i.data.unwrap_or(key);
            let d: Vec<u8> = match h {
                HashingAlgorithm::SHA_1 => sha1::Sha1::digest(input).to_vec(),
                HashingAlgorithm::SHA_224 => sha2::Sha224::digest(input).to_vec(),
                HashingAlgorithm::SHA_256 => sha2::Sha256::digest(input).to_vec(),
                HashingAlgorithm::SHA_384 => sha2::Sha384::digest(input).to_vec(),
                HashingAlgorithm::SHA_512 => sha2::Sha512::digest(input).to_vec(),
                HashingAlgorithm::MD5 => md5::Md5::digest(input).to_vec(),
                h => {
                    return Err(unsupported(format!(
                        "hash derivation with {h} is not supported"
                    )));
                }
            };
            take(&mut out, &d, "hash")?;
        }
        DerivationMethod::NIST800_108_C => {
            let h = need_hash(i, "nist 800-108 counter mode")?;
            let fixed = i.data.unwrap_or_default();
            match h {
                HashingAlgorithm::SHA_1 => {
                    kdf_counter::<hmac::Hmac<sha1::Sha1>>(key, fixed, &mut out)
                }
                HashingAlgorithm::SHA_224 => {
                    kdf_counter::<hmac::Hmac<sha2::Sha224>>(key, fixed, &mut out)
                }
                HashingAlgorithm::SHA_256 => {
                    kdf_counter::<hmac::Hmac<sha2::Sha256>>(key, fixed, &mut out)
                }
                HashingAlgorithm::SHA_384 => {
                    kdf_counter::<hmac::Hmac<sha2::Sha384>>(key, fixed, &mut out)
                }
                HashingAlgorithm::SHA_512 => {
                    kdf_counter::<hmac::Hmac<sha2::Sha512>>(key, fixed, &mut out)
                }
                HashingAlgorithm::MD5 => kdf_counter::<hmac::Hmac<md5::Md5>>(key, fixed, &mut out),
                h => {
                    return Err(unsupported(format!(
                        "nist 800-108 derivation with {h} is not supported"
                    )));
                }
            }
        }
        DerivationMethod::ENCRYPT => {
            let data = i
                .data
                .ok_or_else(|| invalid("encryption derivation needs derivation data"))?;
            let alg = i.params.algorithm.unwrap_or(CryptographicAlgorithm::AES);
            let enc = if super::ciphers::handles(Some(alg)) {
                super::ciphers::encrypt(alg, key, &i.params, data, i.iv, b"")?
            } else if alg == CryptographicAlgorithm::AES {
                let mut p = i.params.clone();
                // An IV is part of the request here, as the derivation must be repeatable.
                p.gcm = crypto::GcmRule {
                    tag_length: None,
                    server_iv: false,
                };
                crypto::encrypt(key, &p, data, i.iv, b"")?
            } else {
                return Err(unsupported(format!(
                    "encryption derivation with {alg} is not supported"
                )));
            };
            take(&mut out, &enc.data, "encryption")?;
        }
        m => {
            return Err(unsupported(format!(
                "derivation method {m} is not supported (PBKDF2, HMAC, HKDF, Hash, \
                 NIST800_108_C, Encrypt)"
            )));
        }
    }
    Ok(out)
}

fn need_hash(i: &Inputs<'_>, what: &str) -> Result<HashingAlgorithm, OpError> {
    i.hashing.ok_or_else(|| {
        invalid(format!(
            "{what} derivation needs a hashing algorithm in its cryptographic parameters"
        ))
    })
}

/// Fills `out` from the start of `src`, refusing when `src` is too short.
fn take(out: &mut [u8], src: &[u8], what: &str) -> Result<(), OpError> {
    let part = src.get(..out.len()).ok_or_else(|| {
        OpError::new(
            ResultReason::CRYPTOGRAPHIC_FAILURE,
            format!(
                "{what} derivation yields {} bytes, fewer than the {} asked for",
                src.len(),
                out.len()
            ),
        )
    })?;
    out.copy_from_slice(part);
    Ok(())
}

/// NIST SP 800-108 §4.1 KDF in counter mode: K(i) = PRF(K_I, [i]_32 || fixed), i from 1,
/// concatenated and truncated to the output length (the fixed input data carries no L
/// field here: PyKMIP's layout, see the module documentation).
fn kdf_counter<M: Mac + hmac::digest::KeyInit>(key: &[u8], fixed: &[u8], out: &mut [u8]) {
    let mut counter: u32 = 1;
    for chunk in out.chunks_mut(<M as hmac::digest::OutputSizeUser>::output_size()) {
        let Ok(mut m) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
            return;
        };
        m.update(&counter.to_be_bytes());
        m.update(fixed);
        let block = m.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
        counter = counter.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::{BlockCipherMode, PaddingMethod};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn pbkdf2_sha1_matches_rfc6070() {
        // RFC 6070 test 2: "password" / "salt", 2 iterations, 20 bytes.
        let i = Inputs {
            salt: Some(b"salt"),
            iterations: Some(2),
            hashing: Some(HashingAlgorithm::SHA_1),
            ..Inputs::default()
        };
        let out = derive(DerivationMethod::PBKDF2, b"password", &i, 20).unwrap();
        assert_eq!(
            &out[..],
            &hex("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957")[..]
        );
    }

    #[test]
    fn hmac_method_is_hkdf_as_rfc5869_case_1() {
        let ikm = hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
        let salt = hex("000102030405060708090a0b0c");
        let info = hex("f0f1f2f3f4f5f6f7f8f9");
        let i = Inputs {
            salt: Some(&salt),
            data: Some(&info),
            hashing: Some(HashingAlgorithm::SHA_256),
            ..Inputs::default()
        };
        let out = derive(DerivationMethod::HMAC, &ikm, &i, 42).unwrap();
        assert_eq!(
            &out[..],
            &hex(
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
            )[..]
        );
    }

    #[test]
    fn hash_method_hashes_the_data() {
        let i = Inputs {
            data: Some(b"abc"),
            hashing: Some(HashingAlgorithm::MD5),
            ..Inputs::default()
        };
        let out = derive(DerivationMethod::HASH, b"", &i, 16).unwrap();
        assert_eq!(&out[..], &hex("900150983cd24fb0d6963f7d28e17f72")[..]);
        assert!(derive(DerivationMethod::HASH, b"", &i, 17).is_err());
    }

    #[test]
    fn sp800_108_counter_mode_is_hmac_of_counter_then_fixed_data() {
        let key = [9u8; 32];
        let fixed = b"label\0context";
        let i = Inputs {
            data: Some(fixed),
            hashing: Some(HashingAlgorithm::SHA_256),
            ..Inputs::default()
        };
        let out = derive(DerivationMethod::NIST800_108_C, &key, &i, 40).unwrap();
        let block = |n: u32| {
            let mut m =
                <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(&key).unwrap();
            m.update(&n.to_be_bytes());
            m.update(fixed);
            m.finalize().into_bytes().to_vec()
        };
        let mut want = block(1);
        want.extend(block(2));
        assert_eq!(&out[..], &want[..40]);
    }

    #[test]
    fn pbkdf2_needs_salt_and_bounded_iterations() {
        let i = Inputs {
            iterations: Some(1),
            ..Inputs::default()
        };
        let e = derive(DerivationMethod::PBKDF2, b"k", &i, 16).unwrap_err();
        assert_eq!(e.reason, ResultReason::INVALID_FIELD);
        let i = Inputs {
            salt: Some(b"s"),
            iterations: Some(i32::MAX),
            ..Inputs::default()
        };
        assert!(derive(DerivationMethod::PBKDF2, b"k", &i, 16).is_err());
    }

    #[test]
    fn encrypt_method_encrypts_the_data_with_the_base_key() {
        let key = [1u8; 16];
        let i = Inputs {
            data: Some(&[0u8; 16]),
            params: Params {
                algorithm: Some(CryptographicAlgorithm::AES),
                mode: Some(BlockCipherMode::ECB),
                padding: Some(PaddingMethod::NONE),
                ..Params::default()
            },
            ..Inputs::default()
        };
        let out = derive(DerivationMethod::ENCRYPT, &key, &i, 16).unwrap();
        assert_ne!(&out[..], &[0u8; 16][..]);
    }
}
