//! Cryptographic use of managed keys: encrypt, decrypt, sign, verify, MAC and RNG.
//!
//! Every operation checks the key's state (protecting operations need Active; processing
//! operations also accept Deactivated and Compromised) and its Cryptographic Usage Mask.

use serde_json::Value as Json;
use tresor_store::{ObjectMeta, ObjectType, State};

use super::crypto::{self, Params};
use super::{OpError, Session};
use crate::enums::{
    BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, HashingAlgorithm,
    PaddingMethod, ResultReason, ValidityIndicator,
};
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// Loads the key for a cryptographic operation and checks state, type and usage mask.
pub(crate) fn key_for(
    s: &mut Session<'_>,
    payload: &Ttlv,
    bit: CryptographicUsageMask,
    protect: bool,
    types: &[ObjectType],
) -> Result<(String, ObjectMeta), OpError> {
    let uid = s.target_uid(payload)?;
    let meta = s.load(&uid, "use")?;
    if !types.contains(&meta.object_type) {
        return Err(OpError::new(
            ResultReason::INVALID_OBJECT_TYPE,
            format!(
                "object '{uid}' is a {}, which cannot be used here",
                meta.object_type
            ),
        ));
    }
    let ok_state = if protect {
        meta.state == State::Active
    } else {
        matches!(
            meta.state,
            State::Active | State::Deactivated | State::Compromised
        )
    };
    if !ok_state {
        return Err(OpError::new(
            ResultReason::WRONG_KEY_LIFECYCLE_STATE,
            format!("object '{uid}' is {}", meta.state),
        ));
    }
    // Protection ends at the Protect Stop Date, processing starts at the Process Start Date
    // (CS-BC-M-14: 2.x Wrong Key Lifecycle State, 1.x Permission Denied).
    let now = tresor_store::now();
    let date = |name: &str| meta.attributes.get(name).and_then(Json::as_i64);
    let window = if protect {
        date("Protect Stop Date")
            .filter(|&d| d <= now)
            .map(|_| "its protect stop date has passed")
    } else {
        date("Process Start Date")
            .filter(|&d| d > now)
            .map(|_| "its process start date has not come")
    };
    if let Some(why) = window {
        return Err(OpError::new(
            if s.version.is_v2() {
                ResultReason::WRONG_KEY_LIFECYCLE_STATE
            } else {
                ResultReason::PERMISSION_DENIED
            },
            format!("object '{uid}' cannot be used: {why}"),
        ));
    }
    if let Some(mask) = meta
        .attributes
        .get("Cryptographic Usage Mask")
        .and_then(Json::as_i64)
        && !CryptographicUsageMask(mask as u32).allows(bit)
    {
        return Err(OpError::new(
            if s.version.is_v2() {
                ResultReason::INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
            } else {
                ResultReason::PERMISSION_DENIED
            },
            format!(
                "object '{uid}': its usage mask does not allow {}",
                CryptographicUsageMask::DEF
                    .name_of(bit.0)
                    .unwrap_or("this operation")
            ),
        ));
    }
    Ok((uid, meta))
}

/// The object's stored Cryptographic Parameters (the first instance).
fn stored_params(meta: &ObjectMeta) -> Option<Ttlv> {
    let j = match meta.attributes.get("Cryptographic Parameters")? {
        Json::Array(a) => a.first()?.clone(),
        other => other.clone(),
    };
    match super::attrs::from_json(Some(Tag::CRYPTOGRAPHIC_PARAMETERS), &j)? {
        Value::Structure(items) => Some(Ttlv::structure(Tag::CRYPTOGRAPHIC_PARAMETERS, items)),
        _ => None,
    }
}

/// What the key allows for AES-GCM ([`crypto::GcmRule`]): from its stored parameters, never
/// from the request's.
fn gcm_rule(s: &Session<'_>, meta: &ObjectMeta) -> crypto::GcmRule {
    let privileged = meta.owner == s.identity || s.admins.iter().any(|a| a == &s.identity);
    crypto::GcmRule::of(stored_params(meta).as_ref(), privileged)
}

/// Reads Cryptographic Parameters from the request, else from the object.
fn params(payload: &Ttlv, meta: &ObjectMeta) -> Params {
    let from_request = payload.find(Tag::CRYPTOGRAPHIC_PARAMETERS).cloned();
    let Some(cp) = from_request.or_else(|| stored_params(meta)) else {
        return Params {
            algorithm: meta
                .attr_str("Cryptographic Algorithm")
                .and_then(CryptographicAlgorithm::from_name),
            ..Params::default()
        };
    };
    let e = |t: Tag| cp.find(t).and_then(Ttlv::as_enumeration);
    Params {
        mode: e(Tag::BLOCK_CIPHER_MODE).map(BlockCipherMode),
        padding: e(Tag::PADDING_METHOD).map(PaddingMethod),
        hashing: e(Tag::HASHING_ALGORITHM).map(HashingAlgorithm),
        algorithm: e(Tag::CRYPTOGRAPHIC_ALGORITHM)
            .map(CryptographicAlgorithm)
            .or_else(|| {
                meta.attr_str("Cryptographic Algorithm")
                    .and_then(CryptographicAlgorithm::from_name)
            }),
        signature_algorithm: e(Tag::DIGITAL_SIGNATURE_ALGORITHM),
        tag_length: cp.find(Tag::TAG_LENGTH).and_then(Ttlv::as_integer),
        ..Params::default()
    }
}

fn bytes(payload: &Ttlv, tag: Tag) -> Option<&[u8]> {
    payload.find(tag).and_then(Ttlv::as_bytes)
}

fn data(payload: &Ttlv) -> Result<&[u8], OpError> {
    bytes(payload, Tag::DATA).ok_or_else(|| OpError::missing(Tag::DATA, Tag::REQUEST_PAYLOAD))
}

/// The non-AES cipher of `super::ciphers` an Encrypt/Decrypt uses: the key's own algorithm
/// when it is one, else the one the request's parameters name.
fn other_cipher(p: &Params, meta: &ObjectMeta) -> Option<CryptographicAlgorithm> {
    let key_alg = meta
        .attr_str("Cryptographic Algorithm")
        .and_then(CryptographicAlgorithm::from_name);
    key_alg
        .filter(|a| super::ciphers::handles(Some(*a)))
        .or(p.algorithm.filter(|a| super::ciphers::handles(Some(*a))))
}

fn check_aes(p: &Params, uid: &str) -> Result<(), OpError> {
    match p.algorithm {
        None | Some(CryptographicAlgorithm::AES) => Ok(()),
        Some(a) => Err(OpError::new(
            ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
            format!("object '{uid}': encryption with {a} is not supported (AES-GCM, AES-CBC)"),
        )),
    }
}

/// Reads a whole-number attribute field stored as a number or as `{"$t": "LongInteger"}`.
fn json_i64(j: Option<&Json>) -> Option<i64> {
    match j? {
        Json::Number(n) => n.as_i64(),
        Json::Object(m) => m.get("v").and_then(Json::as_i64),
        _ => None,
    }
}

/// Counts `bytes` (Usage Limits Unit Byte) or one object (Unit Object) against the key's
/// Usage Limits, refusing with Permission Denied once they are exhausted (CS-BC-M-7). The
/// remaining count is the attribute's Usage Limits Count, written in the request's store
/// transaction, so it persists and concurrent requests cannot both spend the last bytes.
fn spend_usage(
    s: &mut Session<'_>,
    uid: &str,
    meta: &ObjectMeta,
    bytes: usize,
) -> Result<(), OpError> {
    let Some(Json::Object(limits)) = meta.attributes.get("Usage Limits") else {
        return Ok(());
    };
    let byte_unit = limits.get("UsageLimitsUnit").and_then(Json::as_str) == Some("Byte");
    let want = if byte_unit {
        i64::try_from(bytes).unwrap_or(i64::MAX)
    } else {
        1
    };
    let left = json_i64(limits.get("UsageLimitsCount"))
        .or_else(|| json_i64(limits.get("UsageLimitsTotal")))
        .unwrap_or(0);
    if want > left {
        return Err(OpError::new(
            ResultReason::PERMISSION_DENIED,
            format!(
                "object '{uid}': its usage limits allow {left} more {}, this request needs {want}",
                if byte_unit { "bytes" } else { "objects" }
            ),
        ));
    }
    s.txn.update(uid, "usage limits count", |m| {
        if let Some(Json::Object(l)) = m.attributes.get_mut("Usage Limits") {
            l.insert(
                "UsageLimitsCount".into(),
                serde_json::json!({"$t": "LongInteger", "v": left - want}),
            );
        }
        Ok(())
    })?;
    Ok(())
}

fn flag(payload: &Ttlv, tag: Tag) -> bool {
    matches!(
        payload.find(tag).map(|t| &t.value),
        Some(Value::Boolean(true))
    )
}

/// One part of a streaming Encrypt or Decrypt (Init Indicator, Correlation Value, Final
/// Indicator): AES-GCM only. Returns the response fields after the Unique Identifier.
fn stream_part(
    s: &mut Session<'_>,
    payload: &Ttlv,
    uid: &str,
    meta: &ObjectMeta,
    encrypt: bool,
) -> Result<Vec<Ttlv>, OpError> {
    use super::stream::Stream;
    let streams = s.streams.ok_or_else(|| {
        OpError::new(
            ResultReason::OPERATION_NOT_SUPPORTED,
            "streaming encrypt/decrypt is not available here",
        )
    })?;
    let final_part = flag(payload, Tag::FINAL_INDICATOR);
    let key = s.txn.material(uid, 0)?;
    let mut buf = zeroize::Zeroizing::new(bytes(payload, Tag::DATA).unwrap_or_default().to_vec());
    let mut out = Vec::new();
    let (mut stream, correlation) = match bytes(payload, Tag::CORRELATION_VALUE) {
        Some(c) => (streams.take(c, &s.identity, uid, encrypt)?, c.to_vec()),
        None => {
            let p = params(payload, meta);
            check_aes(&p, uid)?;
            if p.mode.unwrap_or(BlockCipherMode::GCM) != BlockCipherMode::GCM {
                return Err(OpError::new(
                    ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
                    format!("object '{uid}': streaming encrypt/decrypt supports AES-GCM only"),
                ));
            }
            let rule = gcm_rule(s, meta);
            let tag_len = rule.check_tag(crypto::gcm_tag_length(p.tag_length)?)?;
            let iv = match bytes(payload, Tag::IV_COUNTER_NONCE) {
                Some(iv) => {
                    if encrypt {
                        rule.check_iv(Some(iv))?;
                    }
                    iv.to_vec()
                }
                None if encrypt => {
                    let iv = crypto::random(12)?.to_vec();
                    out.push(Ttlv::bytes(Tag::IV_COUNTER_NONCE, iv.clone()));
                    iv
                }
                None => {
                    return Err(OpError::new(
                        ResultReason::INVALID_MESSAGE,
                        "decryption needs an iv/counter/nonce",
                    ));
                }
            };
            let aad =
                bytes(payload, Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA).unwrap_or_default();
            let gcm = crypto::GcmStream::start(key.expose(), &iv, aad, encrypt)?;
            (Stream::new(&s.identity, uid, tag_len, gcm), Vec::new())
        }
    };
    stream.gcm.update(key.expose(), &mut buf)?;
    out.insert(0, Ttlv::bytes(Tag::DATA, buf.to_vec()));
    if final_part {
        let tag_len = stream.tag_len;
        let tag = stream.gcm.finish(key.expose())?;
        let tag = tag.get(..tag_len).unwrap_or(&tag);
        if encrypt {
            out.push(Ttlv::bytes(Tag::AUTHENTICATED_ENCRYPTION_TAG, tag.to_vec()));
        } else {
            let got = bytes(payload, Tag::AUTHENTICATED_ENCRYPTION_TAG).ok_or_else(|| {
                OpError::new(
                    ResultReason::BAD_CRYPTOGRAPHIC_PARAMETERS,
                    "the final part of a gcm decryption needs the authenticated encryption tag",
                )
            })?;
            aws_lc_rs::constant_time::verify_slices_are_equal(tag, got).map_err(|_| {
                OpError::new(
                    ResultReason::CRYPTOGRAPHIC_FAILURE,
                    "decryption failed: authentication tag mismatch",
                )
            })?;
        }
    } else if correlation.is_empty() {
        out.push(Ttlv::bytes(Tag::CORRELATION_VALUE, streams.open(stream)?));
    } else {
        streams.put_back(&correlation, stream);
        out.push(Ttlv::bytes(Tag::CORRELATION_VALUE, correlation));
    }
    Ok(out)
}

/// Returns true if and only if the request is a part of a streaming operation.
fn is_stream(payload: &Ttlv) -> bool {
    flag(payload, Tag::INIT_INDICATOR) || payload.find(Tag::CORRELATION_VALUE).is_some()
}

/// Encrypt with a symmetric key (AES-GCM, AES-CBC-PKCS5, AES-ECB), in one request or as a
/// stream of parts.
pub(crate) fn encrypt(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let (uid, meta) = key_for(
        s,
        payload,
        CryptographicUsageMask::ENCRYPT,
        true,
        &[ObjectType::SymmetricKey],
    )?;
    let input_len = bytes(payload, Tag::DATA).map_or(0, <[u8]>::len);
    spend_usage(s, &uid, &meta, input_len)?;
    if is_stream(payload) {
        let rest = stream_part(s, payload, &uid, &meta, true)?;
        s.placeholder = Some(uid.clone());
        let mut out = vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)];
        out.extend(rest);
        return Ok(out);
    }
    let mut p = params(payload, &meta);
    p.gcm = gcm_rule(s, &meta);
    let other = other_cipher(&p, &meta);
    if other.is_none() {
        check_aes(&p, &uid)?;
    }
    let key = s.txn.material(&uid, 0)?;
    let iv = bytes(payload, Tag::IV_COUNTER_NONCE);
    let aad = bytes(payload, Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA).unwrap_or_default();
    let e = match other {
        Some(alg) => super::ciphers::encrypt(alg, key.expose(), &p, data(payload)?, iv, aad)?,
        None => crypto::encrypt(key.expose(), &p, data(payload)?, iv, aad)?,
    };
    s.placeholder = Some(uid.clone());
    let mut out = vec![
        Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid),
        Ttlv::bytes(Tag::DATA, e.data),
    ];
    if let Some(iv) = e.iv {
        out.push(Ttlv::bytes(Tag::IV_COUNTER_NONCE, iv));
    }
    if let Some(t) = e.tag {
        out.push(Ttlv::bytes(Tag::AUTHENTICATED_ENCRYPTION_TAG, t));
    }
    Ok(out)
}

/// Decrypt with a symmetric key, in one request or as a stream of parts.
pub(crate) fn decrypt(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let (uid, meta) = key_for(
        s,
        payload,
        CryptographicUsageMask::DECRYPT,
        false,
        &[ObjectType::SymmetricKey],
    )?;
    if is_stream(payload) {
        let rest = stream_part(s, payload, &uid, &meta, false)?;
        s.placeholder = Some(uid.clone());
        let mut out = vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)];
        out.extend(rest);
        return Ok(out);
    }
    let mut p = params(payload, &meta);
    p.gcm = gcm_rule(s, &meta);
    let other = other_cipher(&p, &meta);
    if other.is_none() {
        check_aes(&p, &uid)?;
    }
    let key = s.txn.material(&uid, 0)?;
    let iv = bytes(payload, Tag::IV_COUNTER_NONCE);
    let aad = bytes(payload, Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA).unwrap_or_default();
    let tag = bytes(payload, Tag::AUTHENTICATED_ENCRYPTION_TAG);
    let plain = match other {
        Some(alg) => super::ciphers::decrypt(alg, key.expose(), &p, data(payload)?, iv, aad, tag)?,
        None => crypto::decrypt(key.expose(), &p, data(payload)?, iv, aad, tag)?,
    };
    s.placeholder = Some(uid.clone());
    Ok(vec![
        Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid),
        Ttlv::bytes(Tag::DATA, plain.to_vec()),
    ])
}

/// The key a one-shot Sign / Signature Verify / MAC / MAC Verify uses, found and checked by
/// [`key_for`] (type, state, usage mask), with the request's cryptographic parameters and
/// its material. An operation that `produces` (Sign, MAC) needs an Active key and counts
/// against its usage limits; a verification accepts the states [`key_for`] allows for
/// processing and counts nothing.
struct KeyUse {
    uid: String,
    params: Params,
    material: tresor_crypto::SecretBytes,
}

fn key_use(
    s: &mut Session<'_>,
    payload: &Ttlv,
    mask: CryptographicUsageMask,
    produces: bool,
    types: &[ObjectType],
) -> Result<KeyUse, OpError> {
    let (uid, meta) = key_for(s, payload, mask, produces, types)?;
    if produces {
        spend_usage(s, &uid, &meta, data(payload)?.len())?;
    }
    let params = params(payload, &meta);
    let material = s.txn.material(&uid, 0)?;
    Ok(KeyUse {
        uid,
        params,
        material,
    })
}

/// The response payload: the key's Unique Identifier (also the batch's ID Placeholder from
/// now on), then `item`.
fn answer(s: &mut Session<'_>, uid: String, item: Ttlv) -> Vec<Ttlv> {
    s.placeholder = Some(uid.clone());
    vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid), item]
}

fn validity(ok: bool) -> Ttlv {
    Ttlv::enumeration(
        Tag::VALIDITY_INDICATOR,
        if ok {
            ValidityIndicator::VALID
        } else {
            ValidityIndicator::INVALID
        },
    )
}

/// Sign with a private key (RSA-PSS, RSA PKCS#1 v1.5, ECDSA, Ed25519).
pub(crate) fn sign(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let k = key_use(
        s,
        payload,
        CryptographicUsageMask::SIGN,
        true,
        &[ObjectType::PrivateKey],
    )?;
    let sig = crypto::sign(k.material.expose(), &k.params, data(payload)?)?;
    Ok(answer(s, k.uid, Ttlv::bytes(Tag::SIGNATURE_DATA, sig)))
}

/// Signature Verify with a public key.
pub(crate) fn verify(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let k = key_use(
        s,
        payload,
        CryptographicUsageMask::VERIFY,
        false,
        &[ObjectType::PublicKey],
    )?;
    let sig = bytes(payload, Tag::SIGNATURE_DATA)
        .ok_or_else(|| OpError::missing(Tag::SIGNATURE_DATA, Tag::REQUEST_PAYLOAD))?;
    let ok = crypto::verify(k.material.expose(), &k.params, data(payload)?, sig)?;
    Ok(answer(s, k.uid, validity(ok)))
}

/// MAC with an HMAC key.
pub(crate) fn mac(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let k = key_use(
        s,
        payload,
        CryptographicUsageMask::MAC_GENERATE,
        true,
        &[ObjectType::SymmetricKey],
    )?;
    let p = &k.params;
    let tag = crypto::mac(k.material.expose(), p.algorithm, p.hashing, data(payload)?)?;
    Ok(answer(s, k.uid, Ttlv::bytes(Tag::MAC_DATA, tag)))
}

/// MAC Verify.
pub(crate) fn mac_verify(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let k = key_use(
        s,
        payload,
        CryptographicUsageMask::MAC_VERIFY,
        false,
        &[ObjectType::SymmetricKey],
    )?;
    let tag = bytes(payload, Tag::MAC_DATA)
        .ok_or_else(|| OpError::missing(Tag::MAC_DATA, Tag::REQUEST_PAYLOAD))?;
    let p = &k.params;
    let ok = crypto::mac_verify(
        k.material.expose(),
        p.algorithm,
        p.hashing,
        data(payload)?,
        tag,
    )?;
    Ok(answer(s, k.uid, validity(ok)))
}

/// RNG Retrieve: up to 64 KiB of random bytes.
pub(crate) fn rng_retrieve(payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let n = payload
        .find(Tag::DATA_LENGTH)
        .and_then(Ttlv::as_integer)
        .ok_or_else(|| OpError::missing(Tag::DATA_LENGTH, Tag::REQUEST_PAYLOAD))?;
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n > 0 && n <= 65536)
        .ok_or_else(|| OpError::new(ResultReason::INVALID_FIELD, "data length must be 1..65536"))?;
    let r = crypto::random(n)?;
    Ok(vec![Ttlv::bytes(Tag::DATA, r.to_vec())])
}

/// Hash (KMIP 1.2): the digest of Data under the Hashing Algorithm of the request's
/// Cryptographic Parameters, in one request (a stream opened by an Init Indicator or continued
/// by a Correlation Value is refused, naming what to send instead). No object is read.
pub(crate) fn hash(payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    use aws_lc_rs::digest;
    // One request is the whole data: no Correlation Value, and no Init Indicator that opens a
    // stream (Init without Final). Cosmian's client sends both indicators false for one part.
    let flag = |t: Tag| payload.find(t).and_then(Ttlv::as_bool).unwrap_or(false);
    if payload.find(Tag::CORRELATION_VALUE).is_some()
        || (flag(Tag::INIT_INDICATOR) && !flag(Tag::FINAL_INDICATOR))
    {
        return Err(OpError::new(
            ResultReason::INVALID_FIELD,
            "Hash in parts (Init Indicator without Final, Correlation Value) is not supported; \
             send all the data in one Hash request",
        ));
    }
    let alg = payload
        .find(Tag::CRYPTOGRAPHIC_PARAMETERS)
        .ok_or_else(|| OpError::missing(Tag::CRYPTOGRAPHIC_PARAMETERS, Tag::REQUEST_PAYLOAD))?
        .find(Tag::HASHING_ALGORITHM)
        .and_then(Ttlv::as_enumeration)
        .ok_or_else(|| OpError::missing(Tag::HASHING_ALGORITHM, Tag::CRYPTOGRAPHIC_PARAMETERS))?;
    let d = match HashingAlgorithm(alg) {
        HashingAlgorithm::SHA_1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        HashingAlgorithm::SHA_224 => &digest::SHA224,
        HashingAlgorithm::SHA_256 => &digest::SHA256,
        HashingAlgorithm::SHA_384 => &digest::SHA384,
        HashingAlgorithm::SHA_512 => &digest::SHA512,
        HashingAlgorithm::SHA_512_256 => &digest::SHA512_256,
        HashingAlgorithm::SHA3_256 => &digest::SHA3_256,
        HashingAlgorithm::SHA3_384 => &digest::SHA3_384,
        HashingAlgorithm::SHA3_512 => &digest::SHA3_512,
        _ => {
            let name = crate::enums::for_tag(Tag::HASHING_ALGORITHM)
                .and_then(|d| d.name_of(alg))
                .map_or_else(|| format!("{alg:#010x}"), str::to_owned);
            return Err(OpError::new(
                ResultReason::INVALID_FIELD,
                format!(
                    "hashing algorithm {name} is not offered; use SHA-1, SHA-224, SHA-256, \
                     SHA-384, SHA-512, SHA-512/256 or SHA3-256/384/512"
                ),
            ));
        }
    };
    let data = payload
        .find(Tag::DATA)
        .and_then(Ttlv::as_bytes)
        .ok_or_else(|| OpError::missing(Tag::DATA, Tag::REQUEST_PAYLOAD))?;
    Ok(vec![Ttlv::bytes(
        Tag::DATA,
        digest::digest(d, data).as_ref().to_vec(),
    )])
}
