//! Cryptographic use of managed keys: encrypt, decrypt, sign, verify, MAC and RNG.
//!
//! Every operation checks the key's state (protecting operations need Active; processing
//! operations also accept Deactivated and Compromised) and its Cryptographic Usage Mask.

use std::sync::Arc;

use serde_json::Value as Json;
use tresor_store::{ObjectMeta, ObjectType, State};

use super::crypto::{self, Params};
use super::key_cache::UnsealedKey;
use super::{OpError, Session};
use crate::enums::{
    BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, HashingAlgorithm,
    ResultReason, ValidityIndicator,
};
use crate::payload::crypto::{
    CorrelationValue, CryptographicParameters, DecryptRequest, DecryptResponse, EncryptRequest,
    EncryptResponse, HashRequest, HashResponse, MacRequest, MacResponse, MacVerifyRequest,
    MacVerifyResponse, RngRetrieveRequest, RngRetrieveResponse, SignRequest, SignResponse,
    SignatureVerifyRequest, SignatureVerifyResponse,
};
use crate::payload::{Payload, UidRef};
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
    key_for_uid(s, UidRef::of(payload).as_ref(), bit, protect, types)
}

/// [`key_for`] the key a typed request names (`uid`; absent: the ID Placeholder).
fn key_for_uid(
    s: &mut Session<'_>,
    uid: Option<&UidRef>,
    bit: CryptographicUsageMask,
    protect: bool,
    types: &[ObjectType],
) -> Result<(String, ObjectMeta), OpError> {
    let uid = s.resolve_uid(uid)?;
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

/// The material of the current version of the key `meta` (just read and checked by
/// [`key_for`]): the server's cached copy when it was unsealed from the same stored state
/// ([`super::key_cache`]) and this request's transaction has written nothing (so `meta` is
/// the committed object, not one this batch changed), else unsealed from the store.
fn key_material(s: &Session<'_>, meta: &ObjectMeta) -> Result<Arc<UnsealedKey>, OpError> {
    let unseal = || s.txn.material(&meta.uid, 0);
    Ok(match s.key_cache {
        Some(cache) if s.txn.pending() == 0 => cache.get_or_open(meta, unseal)?,
        _ => Arc::new(UnsealedKey::new(unseal()?)),
    })
}

/// The object's stored Cryptographic Parameters (the first instance).
fn stored_params(meta: &ObjectMeta) -> Option<CryptographicParameters> {
    let j = match meta.attributes.get("Cryptographic Parameters")? {
        Json::Array(a) => a.first()?.clone(),
        other => other.clone(),
    };
    match super::attrs::from_json(Some(Tag::CRYPTOGRAPHIC_PARAMETERS), &j)? {
        Value::Structure(items) => Some(CryptographicParameters::from_ttlv(&Ttlv::structure(
            Tag::CRYPTOGRAPHIC_PARAMETERS,
            items,
        ))),
        _ => None,
    }
}

/// What the key allows for AES-GCM ([`crypto::GcmRule`]): from its stored parameters, never
/// from the request's.
fn gcm_rule(s: &Session<'_>, meta: &ObjectMeta) -> crypto::GcmRule {
    let privileged = meta.owner == s.identity || s.admins.iter().any(|a| a == &s.identity);
    crypto::GcmRule::of(stored_params(meta).as_ref(), privileged)
}

/// The request's Cryptographic Parameters (`from_request`), else the object's.
fn params(from_request: Option<&CryptographicParameters>, meta: &ObjectMeta) -> Params {
    let key_algorithm = || {
        meta.attr_str("Cryptographic Algorithm")
            .and_then(CryptographicAlgorithm::from_name)
    };
    match from_request.cloned().or_else(|| stored_params(meta)) {
        Some(cp) => Params::of(&cp, key_algorithm),
        None => Params {
            algorithm: key_algorithm(),
            ..Params::default()
        },
    }
}

/// The request's Data, which the operation needs.
fn data(data: Option<&Vec<u8>>) -> Result<&[u8], OpError> {
    data.map(Vec::as_slice)
        .ok_or_else(|| OpError::missing(Tag::DATA, Tag::REQUEST_PAYLOAD))
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

/// The fields of one part of a streaming Encrypt or Decrypt.
struct Part<'r> {
    cryptographic_parameters: Option<&'r CryptographicParameters>,
    data: Option<&'r Vec<u8>>,
    iv_counter_nonce: Option<&'r Vec<u8>>,
    correlation_value: Option<&'r CorrelationValue>,
    final_indicator: Option<bool>,
    aad: Option<&'r Vec<u8>>,
    tag: Option<&'r Vec<u8>>,
}

/// What one part answers after the Unique Identifier.
struct PartOut {
    data: Vec<u8>,
    iv_counter_nonce: Option<Vec<u8>>,
    correlation_value: Option<Vec<u8>>,
    tag: Option<Vec<u8>>,
}

/// One part of a streaming Encrypt or Decrypt (Init Indicator, Correlation Value, Final
/// Indicator): AES-GCM only.
fn stream_part(
    s: &mut Session<'_>,
    part: &Part<'_>,
    uid: &str,
    meta: &ObjectMeta,
    encrypt: bool,
) -> Result<PartOut, OpError> {
    use super::stream::Stream;
    let streams = s.streams.ok_or_else(|| {
        OpError::new(
            ResultReason::OPERATION_NOT_SUPPORTED,
            "streaming encrypt/decrypt is not available here",
        )
    })?;
    let final_part = part.final_indicator == Some(true);
    let key = key_material(s, meta)?;
    let mut buf = zeroize::Zeroizing::new(part.data.cloned().unwrap_or_default());
    let mut generated_iv = None;
    let (mut stream, correlation) = match part.correlation_value.and_then(CorrelationValue::bytes) {
        Some(c) => (streams.take(c, &s.identity, uid, encrypt)?, c.to_vec()),
        None => {
            let p = params(part.cryptographic_parameters, meta);
            check_aes(&p, uid)?;
            if p.mode.unwrap_or(BlockCipherMode::GCM) != BlockCipherMode::GCM {
                return Err(OpError::new(
                    ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
                    format!("object '{uid}': streaming encrypt/decrypt supports AES-GCM only"),
                ));
            }
            let rule = gcm_rule(s, meta);
            let tag_len = rule.check_tag(crypto::gcm_tag_length(p.tag_length)?)?;
            let iv = match part.iv_counter_nonce {
                Some(iv) => {
                    if encrypt {
                        rule.check_iv(Some(iv.as_slice()))?;
                    }
                    iv.clone()
                }
                None if encrypt => {
                    let iv = crypto::random(12)?.to_vec();
                    generated_iv = Some(iv.clone());
                    iv
                }
                None => {
                    return Err(OpError::new(
                        ResultReason::INVALID_MESSAGE,
                        "decryption needs an iv/counter/nonce",
                    ));
                }
            };
            let aad = part.aad.map(Vec::as_slice).unwrap_or_default();
            let gcm = crypto::GcmStream::start(key.expose(), &iv, aad, encrypt)?;
            (Stream::new(&s.identity, uid, tag_len, gcm), Vec::new())
        }
    };
    stream.gcm.update(key.expose(), &mut buf)?;
    let mut out = PartOut {
        data: buf.to_vec(),
        iv_counter_nonce: generated_iv,
        correlation_value: None,
        tag: None,
    };
    if final_part {
        let tag_len = stream.tag_len;
        let tag = stream.gcm.finish(key.expose())?;
        let tag = tag.get(..tag_len).unwrap_or(&tag);
        if encrypt {
            out.tag = Some(tag.to_vec());
        } else {
            let got = part.tag.ok_or_else(|| {
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
        out.correlation_value = Some(streams.open(stream)?);
    } else {
        streams.put_back(&correlation, stream);
        out.correlation_value = Some(correlation);
    }
    Ok(out)
}

/// Returns true if and only if the request is a part of a streaming operation: it starts a
/// stream, or carries a Correlation Value (of any item type).
fn is_stream(init_indicator: Option<bool>, correlation: Option<&CorrelationValue>) -> bool {
    init_indicator == Some(true) || correlation.is_some()
}

/// Encrypt with a symmetric key (AES-GCM, AES-CBC-PKCS5, AES-ECB), in one request or as a
/// stream of parts.
pub(crate) fn encrypt(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = EncryptRequest::from_ttlv(payload)?;
    let (uid, meta) = key_for_uid(
        s,
        req.unique_identifier.as_ref(),
        CryptographicUsageMask::ENCRYPT,
        true,
        &[ObjectType::SymmetricKey],
    )?;
    let input_len = req.data.as_ref().map_or(0, Vec::len);
    spend_usage(s, &uid, &meta, input_len)?;
    let aad = req.authenticated_encryption_additional_data.as_ref();
    if is_stream(req.init_indicator, req.correlation_value.as_ref()) {
        let part = Part {
            cryptographic_parameters: req.cryptographic_parameters.as_ref(),
            data: req.data.as_ref(),
            iv_counter_nonce: req.iv_counter_nonce.as_ref(),
            correlation_value: req.correlation_value.as_ref(),
            final_indicator: req.final_indicator,
            aad,
            tag: None,
        };
        let out = stream_part(s, &part, &uid, &meta, true)?;
        s.placeholder = Some(uid.clone());
        return Ok(EncryptResponse {
            unique_identifier: uid,
            data: Some(out.data),
            iv_counter_nonce: out.iv_counter_nonce,
            correlation_value: out.correlation_value,
            authenticated_encryption_tag: out.tag,
        }
        .to_items(s.version));
    }
    let mut p = params(req.cryptographic_parameters.as_ref(), &meta);
    p.gcm = gcm_rule(s, &meta);
    let other = other_cipher(&p, &meta);
    if other.is_none() {
        check_aes(&p, &uid)?;
    }
    let key = key_material(s, &meta)?;
    let iv = req.iv_counter_nonce.as_deref();
    let aad = aad.map(Vec::as_slice).unwrap_or_default();
    let plain = data(req.data.as_ref());
    let e = match other {
        Some(alg) => super::ciphers::encrypt(alg, key.expose(), &p, plain?, iv, aad)?,
        None => crypto::encrypt(key.expose(), &p, plain?, iv, aad)?,
    };
    s.placeholder = Some(uid.clone());
    Ok(EncryptResponse {
        unique_identifier: uid,
        data: Some(e.data),
        iv_counter_nonce: e.iv,
        correlation_value: None,
        authenticated_encryption_tag: e.tag,
    }
    .to_items(s.version))
}

/// Decrypt with a symmetric key, in one request or as a stream of parts.
pub(crate) fn decrypt(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = DecryptRequest::from_ttlv(payload)?;
    let (uid, meta) = key_for_uid(
        s,
        req.unique_identifier.as_ref(),
        CryptographicUsageMask::DECRYPT,
        false,
        &[ObjectType::SymmetricKey],
    )?;
    let aad = req.authenticated_encryption_additional_data.as_ref();
    if is_stream(req.init_indicator, req.correlation_value.as_ref()) {
        let part = Part {
            cryptographic_parameters: req.cryptographic_parameters.as_ref(),
            data: req.data.as_ref(),
            iv_counter_nonce: req.iv_counter_nonce.as_ref(),
            correlation_value: req.correlation_value.as_ref(),
            final_indicator: req.final_indicator,
            aad,
            tag: req.authenticated_encryption_tag.as_ref(),
        };
        // A decryption part returns no IV and no tag: only the data and, until the final
        // part, the Correlation Value.
        let out = stream_part(s, &part, &uid, &meta, false)?;
        s.placeholder = Some(uid.clone());
        return Ok(DecryptResponse {
            unique_identifier: uid,
            data: Some(out.data),
            correlation_value: out.correlation_value,
        }
        .to_items(s.version));
    }
    let mut p = params(req.cryptographic_parameters.as_ref(), &meta);
    p.gcm = gcm_rule(s, &meta);
    let other = other_cipher(&p, &meta);
    if other.is_none() {
        check_aes(&p, &uid)?;
    }
    let key = key_material(s, &meta)?;
    let iv = req.iv_counter_nonce.as_deref();
    let aad = aad.map(Vec::as_slice).unwrap_or_default();
    let tag = req.authenticated_encryption_tag.as_deref();
    let cipher_text = data(req.data.as_ref());
    let plain = match other {
        Some(alg) => super::ciphers::decrypt(alg, key.expose(), &p, cipher_text?, iv, aad, tag)?,
        None => crypto::decrypt(key.expose(), &p, cipher_text?, iv, aad, tag)?,
    };
    s.placeholder = Some(uid.clone());
    Ok(DecryptResponse {
        unique_identifier: uid,
        data: Some(plain.to_vec()),
        correlation_value: None,
    }
    .to_items(s.version))
}

/// The key a one-shot Sign / Signature Verify / MAC / MAC Verify uses, found and checked by
/// [`key_for`] (type, state, usage mask), with the request's cryptographic parameters and
/// its material. An operation that `produces` (Sign, MAC) needs an Active key and counts
/// against its usage limits; a verification accepts the states [`key_for`] allows for
/// processing and counts nothing.
struct KeyUse {
    uid: String,
    params: Params,
    material: Arc<UnsealedKey>,
}

/// What [`key_use`] reads from the request: the key, its parameters and the Data.
struct UseOf<'r> {
    uid: Option<&'r UidRef>,
    params: Option<&'r CryptographicParameters>,
    data: Option<&'r Vec<u8>>,
}

fn key_use(
    s: &mut Session<'_>,
    req: &UseOf<'_>,
    mask: CryptographicUsageMask,
    produces: bool,
    types: &[ObjectType],
) -> Result<KeyUse, OpError> {
    let (uid, meta) = key_for_uid(s, req.uid, mask, produces, types)?;
    if produces {
        spend_usage(s, &uid, &meta, data(req.data)?.len())?;
    }
    let params = params(req.params, &meta);
    let material = key_material(s, &meta)?;
    Ok(KeyUse {
        uid,
        params,
        material,
    })
}

/// The key's Unique Identifier becomes the batch's ID Placeholder; returns it.
fn answer_for(s: &mut Session<'_>, uid: String) -> String {
    s.placeholder = Some(uid.clone());
    uid
}

fn validity(ok: bool) -> Option<ValidityIndicator> {
    Some(if ok {
        ValidityIndicator::VALID
    } else {
        ValidityIndicator::INVALID
    })
}

/// Sign with a private key (RSA-PSS, RSA PKCS#1 v1.5, ECDSA, Ed25519).
pub(crate) fn sign(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = SignRequest::from_ttlv(payload)?;
    let use_of = UseOf {
        uid: req.unique_identifier.as_ref(),
        params: req.cryptographic_parameters.as_ref(),
        data: req.data.as_ref(),
    };
    let k = key_use(
        s,
        &use_of,
        CryptographicUsageMask::SIGN,
        true,
        &[ObjectType::PrivateKey],
    )?;
    let message = data(req.data.as_ref())?;
    let sig = k.material.signer()?.sign(&k.params, message)?;
    Ok(SignResponse {
        unique_identifier: answer_for(s, k.uid),
        signature_data: Some(sig),
        correlation_value: None,
    }
    .to_items(s.version))
}

/// Signature Verify with a public key.
pub(crate) fn verify(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = SignatureVerifyRequest::from_ttlv(payload)?;
    let use_of = UseOf {
        uid: req.unique_identifier.as_ref(),
        params: req.cryptographic_parameters.as_ref(),
        data: req.data.as_ref(),
    };
    let k = key_use(
        s,
        &use_of,
        CryptographicUsageMask::VERIFY,
        false,
        &[ObjectType::PublicKey],
    )?;
    let sig = req
        .signature_data
        .as_deref()
        .ok_or_else(|| OpError::missing(Tag::SIGNATURE_DATA, Tag::REQUEST_PAYLOAD))?;
    let message = data(req.data.as_ref())?;
    let ok = k.material.verifier()?.verify(&k.params, message, sig)?;
    Ok(SignatureVerifyResponse {
        unique_identifier: answer_for(s, k.uid),
        validity_indicator: validity(ok),
        correlation_value: None,
    }
    .to_items(s.version))
}

/// MAC with an HMAC key.
pub(crate) fn mac(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = MacRequest::from_ttlv(payload)?;
    let use_of = UseOf {
        uid: req.unique_identifier.as_ref(),
        params: req.cryptographic_parameters.as_ref(),
        data: req.data.as_ref(),
    };
    let k = key_use(
        s,
        &use_of,
        CryptographicUsageMask::MAC_GENERATE,
        true,
        &[ObjectType::SymmetricKey],
    )?;
    let p = &k.params;
    let tag = crypto::mac(
        k.material.expose(),
        p.algorithm,
        p.hashing,
        data(req.data.as_ref())?,
    )?;
    Ok(MacResponse {
        unique_identifier: answer_for(s, k.uid),
        mac_data: Some(tag),
        correlation_value: None,
    }
    .to_items(s.version))
}

/// MAC Verify.
pub(crate) fn mac_verify(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = MacVerifyRequest::from_ttlv(payload)?;
    let use_of = UseOf {
        uid: req.unique_identifier.as_ref(),
        params: req.cryptographic_parameters.as_ref(),
        data: req.data.as_ref(),
    };
    let k = key_use(
        s,
        &use_of,
        CryptographicUsageMask::MAC_VERIFY,
        false,
        &[ObjectType::SymmetricKey],
    )?;
    let tag = req
        .mac_data
        .as_deref()
        .ok_or_else(|| OpError::missing(Tag::MAC_DATA, Tag::REQUEST_PAYLOAD))?;
    let p = &k.params;
    let ok = crypto::mac_verify(
        k.material.expose(),
        p.algorithm,
        p.hashing,
        data(req.data.as_ref())?,
        tag,
    )?;
    Ok(MacVerifyResponse {
        unique_identifier: answer_for(s, k.uid),
        validity_indicator: validity(ok),
        correlation_value: None,
    }
    .to_items(s.version))
}

/// RNG Retrieve: up to 64 KiB of random bytes.
pub(crate) fn rng_retrieve(payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = RngRetrieveRequest::from_ttlv(payload)?;
    let n = req
        .data_length
        .ok_or_else(|| OpError::missing(Tag::DATA_LENGTH, Tag::REQUEST_PAYLOAD))?;
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n > 0 && n <= 65536)
        .ok_or_else(|| OpError::new(ResultReason::INVALID_FIELD, "data length must be 1..65536"))?;
    let r = crypto::random(n)?;
    // The payload is the same in every version (no Session here to name one).
    Ok(RngRetrieveResponse { data: r.to_vec() }.to_items(crate::ProtocolVersion::V1_4))
}

/// Hash (KMIP 1.2): the digest of Data under the Hashing Algorithm of the request's
/// Cryptographic Parameters, in one request (a stream opened by an Init Indicator or continued
/// by a Correlation Value is refused, naming what to send instead). No object is read.
pub(crate) fn hash(payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    use aws_lc_rs::digest;
    let req = HashRequest::from_ttlv(payload)?;
    // One request is the whole data: no Correlation Value, and no Init Indicator that opens a
    // stream (Init without Final). Cosmian's client sends both indicators false for one part.
    let flag = |f: Option<bool>| f.unwrap_or(false);
    if req.correlation_value.is_some() || (flag(req.init_indicator) && !flag(req.final_indicator)) {
        return Err(OpError::new(
            ResultReason::INVALID_FIELD,
            "Hash in parts (Init Indicator without Final, Correlation Value) is not supported; \
             send all the data in one Hash request",
        ));
    }
    let alg = req
        .cryptographic_parameters
        .as_ref()
        .ok_or_else(|| OpError::missing(Tag::CRYPTOGRAPHIC_PARAMETERS, Tag::REQUEST_PAYLOAD))?
        .hashing_algorithm
        .ok_or_else(|| OpError::missing(Tag::HASHING_ALGORITHM, Tag::CRYPTOGRAPHIC_PARAMETERS))?;
    let d = match alg {
        HashingAlgorithm::SHA_1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        HashingAlgorithm::SHA_224 => &digest::SHA224,
        HashingAlgorithm::SHA_256 => &digest::SHA256,
        HashingAlgorithm::SHA_384 => &digest::SHA384,
        HashingAlgorithm::SHA_512 => &digest::SHA512,
        HashingAlgorithm::SHA_512_256 => &digest::SHA512_256,
        HashingAlgorithm::SHA3_256 => &digest::SHA3_256,
        HashingAlgorithm::SHA3_384 => &digest::SHA3_384,
        HashingAlgorithm::SHA3_512 => &digest::SHA3_512,
        HashingAlgorithm(alg) => {
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
    let data = data(req.data.as_ref())?;
    // The payload is the same in every version, like RNG Retrieve's.
    Ok(HashResponse {
        data: Some(digest::digest(d, data).as_ref().to_vec()),
        correlation_value: None,
    }
    .to_items(crate::ProtocolVersion::V1_4))
}
