//! The cryptography behind the operations, on aws-lc-rs (and RustCrypto `cbc` for
//! AES-CBC with PKCS#5 padding).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::{aead, hmac, rand, rsa, signature};
use zeroize::Zeroizing;

use crate::der;
use crate::enums::{
    BlockCipherMode, CryptographicAlgorithm as Alg, HashingAlgorithm, PaddingMethod,
    RecommendedCurve, ResultReason,
};
use tresor_store::ObjectType;

use super::OpError;

fn crypto_err(what: &str) -> OpError {
    OpError::new(ResultReason::CRYPTOGRAPHIC_FAILURE, what.to_owned())
}

fn bad_params(what: impl Into<String>) -> OpError {
    OpError::new(ResultReason::BAD_CRYPTOGRAPHIC_PARAMETERS, what.into())
}

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

/// Parameters of an Encrypt/Decrypt/Sign/MAC request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pub(crate) mode: Option<BlockCipherMode>,
    pub(crate) padding: Option<PaddingMethod>,
    pub(crate) hashing: Option<HashingAlgorithm>,
    pub(crate) algorithm: Option<Alg>,
    pub(crate) signature_algorithm: Option<u32>,
    pub(crate) tag_length: Option<i32>,
    /// What the key allows for AES-GCM (tag lengths, caller-chosen IVs).
    pub(crate) gcm: GcmRule,
}

/// What a key allows for AES-GCM, from its stored Cryptographic Parameters.
///
/// - Tag length: the key's stored Tag Length if it has one (any SP 800-38D length,
///   including the 4 and 8 bytes meant for special uses), else 12 to 16 bytes (SP 800-38D's
///   general-use lengths; the OASIS vectors CS-BC-M-GCM-1/2 use 12 to 15 on keys without
///   parameters). A shorter tag makes forgeries cheap: 4 bytes fall to 2^32 tries.
/// - IV: the caller may choose the IV/Counter/Nonce of an Encrypt only if the key's stored
///   Random IV is false, or it has none and the caller is the key's owner or an admin. A
///   key stored with Random IV = true, or used by a grantee, gets a fresh random IV from the
///   server (returned in the response): a caller who could repeat an IV another client used
///   would learn that client's key stream and the GHASH key, and so read and forge its
///   messages.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GcmRule {
    /// The key's stored Tag Length in bytes, if it has one.
    pub(crate) tag_length: Option<usize>,
    /// The server chooses the IV; a caller's IV is refused.
    pub(crate) server_iv: bool,
}

impl GcmRule {
    /// The rule for a key with stored Cryptographic Parameters `stored`, used by its owner
    /// or an admin (`privileged`) or by a grantee.
    pub(crate) fn of(stored: Option<&crate::ttlv::Ttlv>, privileged: bool) -> Self {
        use crate::tags::Tag;
        use crate::ttlv::{Ttlv, Value};
        let tag_length = stored
            .and_then(|p| p.find(Tag::TAG_LENGTH))
            .and_then(Ttlv::as_integer)
            .and_then(|n| usize::try_from(n).ok());
        let random_iv = stored
            .and_then(|p| p.find(Tag::RANDOM_IV))
            .and_then(|t| match t.value {
                Value::Boolean(b) => Some(b),
                _ => None,
            });
        GcmRule {
            tag_length,
            server_iv: random_iv.unwrap_or(!privileged),
        }
    }

    /// Checks a tag length (bytes) against the key's rule.
    ///
    /// # Errors
    /// Invalid Field naming the length.
    pub(crate) fn check_tag(&self, len: usize) -> Result<usize, OpError> {
        let ok = match self.tag_length {
            Some(t) => len == t,
            None => (12..=16).contains(&len),
        };
        if ok {
            return Ok(len);
        }
        Err(OpError::new(
            ResultReason::INVALID_FIELD,
            match self.tag_length {
                Some(t) => format!(
                    "gcm tag length {len} bytes is refused: this key's cryptographic \
                     parameters set {t} bytes"
                ),
                None => format!(
                    "gcm tag length {len} bytes is refused: 12 to 16 bytes, unless the key's \
                     cryptographic parameters set another tag length"
                ),
            },
        ))
    }

    /// Checks that the caller may supply `iv` for a GCM encryption.
    ///
    /// # Errors
    /// Invalid Field saying the server chooses this key's IVs.
    pub(crate) fn check_iv(&self, iv: Option<&[u8]>) -> Result<(), OpError> {
        if self.server_iv && iv.is_some() {
            return Err(OpError::new(
                ResultReason::INVALID_FIELD,
                "a caller-chosen gcm iv/counter/nonce is refused for this key (its \
                 cryptographic parameters set Random IV, or only its owner may choose IVs): \
                 send no IV and use the one returned",
            ));
        }
        Ok(())
    }
}

/// The result of an encryption.
pub(crate) struct Encrypted {
    pub(crate) data: Vec<u8>,
    pub(crate) iv: Option<Vec<u8>>,
    pub(crate) tag: Option<Vec<u8>>,
}

type Aes128Cbc = cbc::Encryptor<aes::Aes128>;
type Aes192Cbc = cbc::Encryptor<aes::Aes192>;
type Aes256Cbc = cbc::Encryptor<aes::Aes256>;

fn aead_alg(key: &[u8]) -> Result<&'static aead::Algorithm, OpError> {
    match key.len() {
        16 => Ok(&aead::AES_128_GCM),
        32 => Ok(&aead::AES_256_GCM),
        24 => Ok(&aead::AES_192_GCM),
        _ => Err(bad_params("aes key must be 128, 192 or 256 bits")),
    }
}

/// AES-GCM or AES-CBC-PKCS5 encryption with a symmetric key.
pub(crate) fn encrypt(
    key: &[u8],
    p: &Params,
    data: &[u8],
    iv: Option<&[u8]>,
    aad: &[u8],
) -> Result<Encrypted, OpError> {
    match p.mode.unwrap_or(BlockCipherMode::GCM) {
        BlockCipherMode::GCM => {
            let tag_len = p.gcm.check_tag(gcm_tag_len(p.tag_length)?)?;
            p.gcm.check_iv(iv)?;
            let (nonce, generated) = match iv {
                Some(n) => (n.to_vec(), false),
                None => (random(12)?.to_vec(), true),
            };
            if nonce.len() != 12 || tag_len != 16 {
                // Other IV lengths and truncated tags (CS-BC-M-GCM-1/2): SP 800-38D directly.
                let mut buf = data.to_vec();
                let tag = gcm_generic(key, &nonce, aad, &mut buf, true)?;
                return Ok(Encrypted {
                    data: buf,
                    iv: generated.then_some(nonce),
                    tag: Some(tag[..tag_len].to_vec()),
                });
            }
            let n = aead::Nonce::try_assume_unique_for_key(&nonce)
                .map_err(|_| bad_params("gcm nonce must be 12 bytes"))?;
            let k = aead::LessSafeKey::new(
                aead::UnboundKey::new(aead_alg(key)?, key)
                    .map_err(|_| bad_params("bad aes key"))?,
            );
            let mut buf = data.to_vec();
            let tag = k
                .seal_in_place_separate_tag(n, aead::Aad::from(aad), &mut buf)
                .map_err(|_| crypto_err("encryption failed"))?;
            Ok(Encrypted {
                data: buf,
                iv: generated.then_some(nonce),
                tag: Some(tag.as_ref().to_vec()),
            })
        }
        BlockCipherMode::CBC => {
            use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
            if !matches!(p.padding, None | Some(PaddingMethod::PKCS5)) {
                return Err(bad_params("aes-cbc supports pkcs5 padding only"));
            }
            let (iv, generated) = match iv {
                Some(n) => (n.to_vec(), false),
                None => (random(16)?.to_vec(), true),
            };
            let bad = |_| bad_params("aes-cbc needs a 16-byte iv and a 128/192/256-bit key");
            let out = match key.len() {
                16 => Aes128Cbc::new_from_slices(key, &iv)
                    .map_err(bad)?
                    .encrypt_padded_vec_mut::<Pkcs7>(data),
                24 => Aes192Cbc::new_from_slices(key, &iv)
                    .map_err(bad)?
                    .encrypt_padded_vec_mut::<Pkcs7>(data),
                32 => Aes256Cbc::new_from_slices(key, &iv)
                    .map_err(bad)?
                    .encrypt_padded_vec_mut::<Pkcs7>(data),
                _ => return Err(bad_params("aes key must be 128, 192 or 256 bits")),
            };
            Ok(Encrypted {
                data: out,
                iv: generated.then_some(iv),
                tag: None,
            })
        }
        BlockCipherMode::ECB => Ok(Encrypted {
            data: ecb(key, p.padding, data, true)?.to_vec(),
            iv: None,
            tag: None,
        }),
        m => Err(OpError::new(
            ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
            format!("block cipher mode {m} is not supported (GCM, CBC)"),
        )),
    }
}

/// AES-GCM or AES-CBC-PKCS5 decryption.
pub(crate) fn decrypt(
    key: &[u8],
    p: &Params,
    data: &[u8],
    iv: Option<&[u8]>,
    aad: &[u8],
    tag: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>, OpError> {
    let mode = p.mode.unwrap_or(BlockCipherMode::GCM);
    if mode == BlockCipherMode::ECB {
        return ecb(key, p.padding, data, false);
    }
    // CS-BC-M-11/12/13 (1.4 and 2.1) expect Invalid Message for a missing IV.
    let iv = iv.ok_or_else(|| {
        OpError::new(
            ResultReason::INVALID_MESSAGE,
            "decryption needs an iv/counter/nonce",
        )
    })?;
    match mode {
        BlockCipherMode::GCM => {
            let tag = tag.ok_or_else(|| {
                bad_params("gcm decryption needs the authenticated encryption tag")
            })?;
            p.gcm
                .check_tag(gcm_tag_len(i32::try_from(tag.len()).ok())?)?;
            if iv.len() != 12 || tag.len() != 16 {
                let mut buf = Zeroizing::new(data.to_vec());
                let want = gcm_generic(key, iv, aad, &mut buf, false)?;
                aws_lc_rs::constant_time::verify_slices_are_equal(&want[..tag.len()], tag)
                    .map_err(|_| crypto_err("decryption failed: authentication tag mismatch"))?;
                return Ok(buf);
            }
            let n = aead::Nonce::try_assume_unique_for_key(iv)
                .map_err(|_| bad_params("gcm nonce must be 12 bytes"))?;
            let k = aead::LessSafeKey::new(
                aead::UnboundKey::new(aead_alg(key)?, key)
                    .map_err(|_| bad_params("bad aes key"))?,
            );
            let mut buf = Zeroizing::new(data.to_vec());
            buf.extend_from_slice(tag);
            let plain = k
                .open_in_place(n, aead::Aad::from(aad), &mut buf)
                .map_err(|_| crypto_err("decryption failed: authentication tag mismatch"))?
                .len();
            buf.truncate(plain);
            Ok(buf)
        }
        BlockCipherMode::CBC => {
            use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
            let bad = |_| bad_params("aes-cbc needs a 16-byte iv and a 128/192/256-bit key");
            let pad = |_| crypto_err("decryption failed: bad padding");
            let out = match key.len() {
                16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
                    .map_err(bad)?
                    .decrypt_padded_vec_mut::<Pkcs7>(data)
                    .map_err(pad)?,
                24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
                    .map_err(bad)?
                    .decrypt_padded_vec_mut::<Pkcs7>(data)
                    .map_err(pad)?,
                32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
                    .map_err(bad)?
                    .decrypt_padded_vec_mut::<Pkcs7>(data)
                    .map_err(pad)?,
                _ => return Err(bad_params("aes key must be 128, 192 or 256 bits")),
            };
            Ok(Zeroizing::new(out))
        }
        m => Err(OpError::new(
            ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
            format!("block cipher mode {m} is not supported (GCM, CBC)"),
        )),
    }
}

/// The GCM tag length in bytes: 16 by default; SP 800-38D allows 16..=12, 8 and 4.
fn gcm_tag_len(asked: Option<i32>) -> Result<usize, OpError> {
    match asked.unwrap_or(16) {
        n @ (4 | 8 | 12..=16) => Ok(n as usize),
        // The reason CS-BC-M-GCM-1 (1.4 and 2.1) expects for an invalid tag length.
        n => Err(OpError::new(
            ResultReason::GENERAL_FAILURE,
            format!("gcm tag length {n} is not 4, 8 or 12 to 16 bytes"),
        )),
    }
}

/// GF(2^128) multiplication of GCM (SP 800-38D algorithm 1), without key-dependent branches.
fn gf_mul(x: u128, y: u128) -> u128 {
    const R: u128 = 0xE1 << 120;
    let (mut z, mut v) = (0u128, y);
    for i in 0..128 {
        z ^= v & 0u128.wrapping_sub((x >> (127 - i)) & 1);
        v = (v >> 1) ^ (R & 0u128.wrapping_sub(v & 1));
    }
    z
}

/// GHASH over `data` zero-padded to whole blocks, continuing from `y`.
fn ghash(h: u128, mut y: u128, data: &[u8]) -> u128 {
    for chunk in data.chunks(16) {
        let mut b = [0u8; 16];
        b[..chunk.len()].copy_from_slice(chunk);
        y = gf_mul(y ^ u128::from_be_bytes(b), h);
    }
    y
}

/// An AES key schedule of any of the three sizes.
enum AnyAes {
    A128(aes::Aes128),
    A192(aes::Aes192),
    A256(aes::Aes256),
}

impl AnyAes {
    fn new(key: &[u8]) -> Result<Self, OpError> {
        use aes::cipher::KeyInit;
        let bad = |_| bad_params("bad aes key");
        Ok(match key.len() {
            16 => AnyAes::A128(aes::Aes128::new_from_slice(key).map_err(bad)?),
            24 => AnyAes::A192(aes::Aes192::new_from_slice(key).map_err(bad)?),
            32 => AnyAes::A256(aes::Aes256::new_from_slice(key).map_err(bad)?),
            _ => return Err(bad_params("aes key must be 128, 192 or 256 bits")),
        })
    }

    fn block(&self, x: u128) -> u128 {
        use aes::cipher::{BlockEncrypt, generic_array::GenericArray};
        let mut b = GenericArray::from(x.to_be_bytes());
        match self {
            AnyAes::A128(k) => k.encrypt_block(&mut b),
            AnyAes::A192(k) => k.encrypt_block(&mut b),
            AnyAes::A256(k) => k.encrypt_block(&mut b),
        }
        u128::from_be_bytes(b.into())
    }
}

/// AES-GCM (SP 800-38D) over data given in parts: the state of one streaming Encrypt or
/// Decrypt (KMIP Init Indicator ... Final Indicator), or of a one-shot call with an IV that
/// aws-lc does not take (any length but 12 bytes) or a truncated tag.
///
/// The state holds no key: every part is processed with the key loaded for that request,
/// so the key's state, usage mask and usage limits are checked on every part. It holds the
/// pre-counter block, the running GHASH value (zeroized on drop), up to 15 bytes of cipher
/// text not yet hashed and the byte counts.
pub(crate) struct GcmStream {
    j0: u128,
    ghash: u128,
    pending: Vec<u8>,
    done: u64,
    aad_len: u64,
    encrypt: bool,
}

impl Drop for GcmStream {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.ghash.zeroize();
        self.j0.zeroize();
    }
}

impl std::fmt::Debug for GcmStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcmStream")
            .field("done", &self.done)
            .field("encrypt", &self.encrypt)
            .finish_non_exhaustive()
    }
}

/// The most data one GCM invocation may process (SP 800-38D: 2^39 - 256 bits).
const GCM_MAX_BYTES: u64 = (1 << 36) - 32;

impl GcmStream {
    /// Starts an encryption (`encrypt`) or decryption with `iv` (any non-empty length) and
    /// the additional authenticated data.
    pub(crate) fn start(key: &[u8], iv: &[u8], aad: &[u8], encrypt: bool) -> Result<Self, OpError> {
        let c = AnyAes::new(key)?;
        if iv.is_empty() {
            return Err(bad_params("gcm needs a non-empty iv"));
        }
        let h = c.block(0);
        let j0 = if iv.len() == 12 {
            let mut b = [0u8; 16];
            b[..12].copy_from_slice(iv);
            b[15] = 1;
            u128::from_be_bytes(b)
        } else {
            let bits = (iv.len() as u128) * 8;
            gf_mul(ghash(h, 0, iv) ^ bits, h)
        };
        Ok(GcmStream {
            j0,
            ghash: ghash(h, 0, aad),
            pending: Vec::with_capacity(16),
            done: 0,
            aad_len: aad.len() as u64,
            encrypt,
        })
    }

    /// Returns true if and only if this stream encrypts.
    pub(crate) fn is_encrypt(&self) -> bool {
        self.encrypt
    }

    /// Encrypts or decrypts the next part in place.
    pub(crate) fn update(&mut self, key: &[u8], buf: &mut [u8]) -> Result<(), OpError> {
        let c = AnyAes::new(key)?;
        let h = c.block(0);
        if self.done.saturating_add(buf.len() as u64) > GCM_MAX_BYTES {
            return Err(bad_params(
                "gcm data exceeds the 64 GiB limit of one invocation",
            ));
        }
        if !self.encrypt {
            self.hash(h, buf);
        }
        let inc32 =
            |x: u128, n: u64| (x & !0xFFFF_FFFFu128) | ((x as u32).wrapping_add(n as u32) as u128);
        let mut i = 0;
        while i < buf.len() {
            let block = self.done / 16;
            let off = (self.done % 16) as usize;
            let ks = c.block(inc32(self.j0, block + 1)).to_be_bytes();
            let n = (16 - off).min(buf.len() - i);
            for (b, k) in buf[i..i + n].iter_mut().zip(&ks[off..off + n]) {
                *b ^= k;
            }
            i += n;
            self.done += n as u64;
        }
        if self.encrypt {
            self.hash(h, buf);
        }
        Ok(())
    }

    /// Adds cipher text to GHASH, keeping a partial block for the next part.
    fn hash(&mut self, h: u128, mut ct: &[u8]) {
        if !self.pending.is_empty() {
            let take = (16 - self.pending.len()).min(ct.len());
            self.pending.extend_from_slice(&ct[..take]);
            ct = &ct[take..];
            if self.pending.len() < 16 {
                return;
            }
            self.ghash = ghash(h, self.ghash, &self.pending);
            self.pending.clear();
        }
        let whole = ct.len() - ct.len() % 16;
        self.ghash = ghash(h, self.ghash, &ct[..whole]);
        self.pending.extend_from_slice(&ct[whole..]);
    }

    /// Ends the stream: the full 16-byte tag (the caller truncates or compares it).
    pub(crate) fn finish(mut self, key: &[u8]) -> Result<[u8; 16], OpError> {
        let c = AnyAes::new(key)?;
        let h = c.block(0);
        let mut s = ghash(h, self.ghash, &self.pending);
        let lens = ((u128::from(self.aad_len) * 8) << 64) | (u128::from(self.done) * 8);
        s = gf_mul(s ^ lens, h);
        let tag = (c.block(self.j0) ^ s).to_be_bytes();
        self.pending.clear();
        Ok(tag)
    }
}

/// AES-GCM (SP 800-38D) for any IV length: encrypts or decrypts `buf` in place and returns
/// the full 16-byte tag over the cipher text (the caller truncates or compares it).
fn gcm_generic(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    encrypt: bool,
) -> Result<[u8; 16], OpError> {
    let mut g = GcmStream::start(key, iv, aad, encrypt)?;
    g.update(key, buf)?;
    g.finish(key)
}

/// The GCM tag length in bytes a request asks for (16 by default).
pub(crate) fn gcm_tag_length(asked: Option<i32>) -> Result<usize, OpError> {
    gcm_tag_len(asked)
}

/// AES-ECB over whole blocks, with no padding or PKCS#5 padding (CS-BC-M vectors).
fn ecb(
    key: &[u8],
    padding: Option<PaddingMethod>,
    data: &[u8],
    encrypt: bool,
) -> Result<Zeroizing<Vec<u8>>, OpError> {
    use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit, generic_array::GenericArray};
    let pkcs5 = match padding {
        None | Some(PaddingMethod::NONE) => false,
        Some(PaddingMethod::PKCS5) => true,
        Some(other) => {
            return Err(bad_params(format!(
                "aes-ecb supports no padding or pkcs5, not {other}"
            )));
        }
    };
    let mut buf = Zeroizing::new(data.to_vec());
    if encrypt && pkcs5 {
        let n = 16 - buf.len() % 16;
        buf.extend(std::iter::repeat_n(n as u8, n));
    }
    if buf.len() % 16 != 0 {
        return Err(bad_params(format!(
            "aes-ecb data of {} bytes is not a multiple of the 16-byte block",
            data.len()
        )));
    }
    fn run<C: BlockEncrypt + BlockDecrypt + KeyInit>(
        key: &[u8],
        buf: &mut [u8],
        encrypt: bool,
    ) -> Result<(), OpError> {
        let c = C::new_from_slice(key).map_err(|_| bad_params("bad aes key"))?;
        for block in buf.chunks_exact_mut(16) {
            let b = GenericArray::from_mut_slice(block);
            if encrypt {
                c.encrypt_block(b);
            } else {
                c.decrypt_block(b);
            }
        }
        Ok(())
    }
    match key.len() {
        16 => run::<aes::Aes128>(key, &mut buf, encrypt)?,
        24 => run::<aes::Aes192>(key, &mut buf, encrypt)?,
        32 => run::<aes::Aes256>(key, &mut buf, encrypt)?,
        _ => return Err(bad_params("aes key must be 128, 192 or 256 bits")),
    }
    if !encrypt && pkcs5 {
        strip_pkcs5(&mut buf, 16)?;
    }
    Ok(buf)
}

/// Removes PKCS#5/#7 padding for a cipher of `block` bytes, refusing padding that is not
/// 1..=`block` bytes all equal to their count.
pub(super) fn strip_pkcs5(buf: &mut Vec<u8>, block: usize) -> Result<(), OpError> {
    let n = usize::from(buf.last().copied().unwrap_or(0));
    let ok = (1..=block).contains(&n)
        && n <= buf.len()
        && buf[buf.len() - n..].iter().all(|&b| usize::from(b) == n);
    if !ok {
        return Err(crypto_err("decryption failed: bad padding"));
    }
    let keep = buf.len() - n;
    buf.truncate(keep);
    Ok(())
}

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

fn rsa_scheme(
    p: &Params,
) -> Result<
    (
        &'static dyn signature::RsaEncoding,
        &'static signature::RsaParameters,
    ),
    OpError,
> {
    use crate::enums::DigitalSignatureAlgorithm as D;
    let pss = match (p.padding, p.signature_algorithm.map(D)) {
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
    let hash = match (p.hashing, p.signature_algorithm.map(D)) {
        (Some(h), _) => h,
        (None, Some(D::SHA384_WITH_RSA_ENCRYPTION)) => HashingAlgorithm::SHA_384,
        (None, Some(D::SHA512_WITH_RSA_ENCRYPTION)) => HashingAlgorithm::SHA_512,
        _ => HashingAlgorithm::SHA_256,
    };
    Ok(match (pss, hash) {
        (true, HashingAlgorithm::SHA_256) => (
            &signature::RSA_PSS_SHA256,
            &signature::RSA_PSS_2048_8192_SHA256,
        ),
        (true, HashingAlgorithm::SHA_384) => (
            &signature::RSA_PSS_SHA384,
            &signature::RSA_PSS_2048_8192_SHA384,
        ),
        (true, HashingAlgorithm::SHA_512) => (
            &signature::RSA_PSS_SHA512,
            &signature::RSA_PSS_2048_8192_SHA512,
        ),
        (false, HashingAlgorithm::SHA_256) => (
            &signature::RSA_PKCS1_SHA256,
            &signature::RSA_PKCS1_2048_8192_SHA256,
        ),
        (false, HashingAlgorithm::SHA_384) => (
            &signature::RSA_PKCS1_SHA384,
            &signature::RSA_PKCS1_2048_8192_SHA384,
        ),
        (false, HashingAlgorithm::SHA_512) => (
            &signature::RSA_PKCS1_SHA512,
            &signature::RSA_PKCS1_2048_8192_SHA512,
        ),
        (_, h) => {
            return Err(OpError::new(
                ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
                format!("hashing algorithm {h} is not supported for rsa signatures"),
            ));
        }
    })
}

/// Signs with a PKCS#8 private key (RSA-PSS / RSA PKCS#1 v1.5, ECDSA, Ed25519).
pub(crate) fn sign(pkcs8: &[u8], p: &Params, data: &[u8]) -> Result<Vec<u8>, OpError> {
    let rng = rand::SystemRandom::new();
    if let Ok(k) = rsa::KeyPair::from_pkcs8(pkcs8) {
        let (enc, _) = rsa_scheme(p)?;
        let mut sig = vec![0u8; k.public_modulus_len()];
        k.sign(enc, &rng, data, &mut sig)
            .map_err(|_| crypto_err("signing failed"))?;
        return Ok(sig);
    }
    for alg in [
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
    ] {
        if let Ok(k) = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8) {
            let s = k
                .sign(&rng, data)
                .map_err(|_| crypto_err("signing failed"))?;
            return Ok(s.as_ref().to_vec());
        }
    }
    if let Ok(k) = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8) {
        return Ok(k.sign(data).as_ref().to_vec());
    }
    Err(crypto_err(
        "the private key is not a supported rsa, ec or ed25519 key",
    ))
}

/// Verifies a signature with a SubjectPublicKeyInfo public key.
pub(crate) fn verify(spki: &[u8], p: &Params, data: &[u8], sig: &[u8]) -> Result<bool, OpError> {
    let (oid, key) =
        der::spki_parts(spki).ok_or_else(|| crypto_err("the public key is malformed"))?;
    let alg: &dyn signature::VerificationAlgorithm = if der::is_rsa_oid(oid) {
        rsa_scheme(p)?.1
    } else {
        match key.len() {
            65 => &signature::ECDSA_P256_SHA256_ASN1,
            97 => &signature::ECDSA_P384_SHA384_ASN1,
            32 => &signature::ED25519,
            _ => {
                return Err(crypto_err(
                    "the public key is not a supported rsa, ec or ed25519 key",
                ));
            }
        }
    };
    Ok(signature::UnparsedPublicKey::new(alg, key)
        .verify(data, sig)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcm_in_parts_equals_one_shot() {
        let key = [3u8; 32];
        let plain: Vec<u8> = (0..100u8).collect();
        for iv in [&[1u8; 12][..], &[2u8; 8][..], &[5u8; 60][..]] {
            let mut whole = plain.clone();
            let want = gcm_generic(&key, iv, b"ad", &mut whole, true).unwrap();
            for split in [
                &[0usize, 100][..],
                &[1, 15, 16, 17, 51][..],
                &[16, 32, 48][..],
            ] {
                let mut g = GcmStream::start(&key, iv, b"ad", true).unwrap();
                let mut out = Vec::new();
                let mut at = 0;
                for &end in split.iter().chain([&100]) {
                    let mut part = plain[at..end.max(at)].to_vec();
                    g.update(&key, &mut part).unwrap();
                    out.extend(part);
                    at = end.max(at);
                }
                assert_eq!(out, whole, "iv {} split {split:?}", iv.len());
                assert_eq!(g.finish(&key).unwrap(), want);
                // Decrypting in parts gives the plain text and the same tag.
                let mut d = GcmStream::start(&key, iv, b"ad", false).unwrap();
                let (mut a, mut b) = (whole[..7].to_vec(), whole[7..].to_vec());
                d.update(&key, &mut a).unwrap();
                d.update(&key, &mut b).unwrap();
                a.extend(b);
                assert_eq!(a, plain);
                assert_eq!(d.finish(&key).unwrap(), want);
            }
        }
    }

    #[test]
    fn gcm_and_cbc_round_trip() {
        let key = symmetric_key(Alg::AES, 256).unwrap();
        for mode in [BlockCipherMode::GCM, BlockCipherMode::CBC] {
            let p = Params {
                mode: Some(mode),
                ..Params::default()
            };
            let e = encrypt(&key, &p, b"hello world", None, b"ad").unwrap();
            assert_ne!(e.data, b"hello world");
            let d = decrypt(&key, &p, &e.data, e.iv.as_deref(), b"ad", e.tag.as_deref()).unwrap();
            assert_eq!(&d[..], b"hello world");
        }
        let p = Params::default();
        let e = encrypt(&key, &p, b"x", None, b"").unwrap();
        let mut tag = e.tag.unwrap();
        tag[0] ^= 1;
        assert!(decrypt(&key, &p, &e.data, e.iv.as_deref(), b"", Some(&tag)).is_err());
    }

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

    #[test]
    fn hmac_round_trip() {
        let key = symmetric_key(Alg::HMAC_SHA256, 256).unwrap();
        let t = mac(&key, Some(Alg::HMAC_SHA256), None, b"d").unwrap();
        assert_eq!(t.len(), 32);
        assert!(mac_verify(&key, Some(Alg::HMAC_SHA256), None, b"d", &t).unwrap());
        assert!(!mac_verify(&key, Some(Alg::HMAC_SHA256), None, b"e", &t).unwrap());
    }
}
