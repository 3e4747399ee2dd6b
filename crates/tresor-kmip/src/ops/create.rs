//! Operations that make new objects: Create (symmetric keys), Create Key Pair, Register
//! (client-supplied objects) and Re-Key, and how a new object's attributes, dates, state
//! and names are built.

use serde_json::{Value as Json, json};
use tresor_store::secret_name::{self, SecretName};
use tresor_store::{NewObject, ObjectMeta, ObjectType, State};

use super::attrs;
use super::objects::{self, Incoming};
use super::{OpError, Session, crypto};
use crate::attributes::{AttributeName, AttributeSet};
use crate::enums::{
    CryptographicAlgorithm, KeyFormatType, LinkType, ObjectType as KmipType, RecommendedCurve,
    ResultReason,
};
use crate::message::ProtocolVersion;
use crate::payload::create::{
    CreateKeyPairRequest, CreateKeyPairResponse, CreateRequest, CreateResponse, ReKeyRequest,
    ReKeyResponse,
};
use crate::payload::register::{RegisterRequest, RegisterResponse};
use crate::payload::{Payload, PayloadError, UidRef};
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

fn json_number(v: &Value) -> Option<i64> {
    match v {
        Value::DateTime(d) | Value::LongInteger(d) => Some(*d),
        Value::Integer(i) => Some(i64::from(*i)),
        _ => None,
    }
}

/// Applies client attributes to a new object's attribute map, skipping the ones only the
/// server sets (identifier, type, state, dates, digest...) and the access grants.
fn apply_new_attributes(
    s: &Session<'_>,
    set: &AttributeSet,
    attrs_map: &mut tresor_store::Attributes,
) -> Result<(), OpError> {
    let first = set.names().into_iter().next().map(|(n, _)| n);
    let vault = first.as_deref().and_then(vault_name);
    let parts = vault.as_ref().map(|n| [n.app(), n.env(), n.key()]);
    super::reserved::check_request(set, parts)?;
    for a in &set.attributes {
        // A name under an app needs the app's permission (before anything else is decided).
        super::access::may_set_name(s, a)?;
        if let AttributeName::Standard(t) = a.name {
            if matches!(
                t,
                Tag::UNIQUE_IDENTIFIER
                    | Tag::OBJECT_TYPE
                    | Tag::STATE
                    | Tag::INITIAL_DATE
                    | Tag::LAST_CHANGE_DATE
                    | Tag::DIGEST
                    | Tag::DESTROY_DATE
                    | Tag::COMPROMISE_DATE
                    | Tag::KEY_FORMAT_TYPE
            ) {
                continue;
            }
        }
        let key = attrs::key_of(&a.name);
        if key == super::GRANTS_ATTR {
            continue;
        }
        let j = attrs::attr_to_json(a);
        if attrs::is_multi(&a.name) {
            match attrs_map.get_mut(&key) {
                Some(Json::Array(v)) => {
                    if !v.contains(&j) {
                        v.push(j)
                    }
                }
                _ => {
                    attrs_map.insert(key, json!([j]));
                }
            }
        } else {
            attrs_map.insert(key, j);
        }
    }
    Ok(())
}

fn digest_json(material: &[u8], format: KeyFormatType) -> Json {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, material);
    let hex = tresor_crypto::hash::hex(d.as_ref());
    json!([{
        "HashingAlgorithm": "SHA_256",
        "DigestValue": {"$t": "ByteString", "v": hex},
        "KeyFormatType": KeyFormatType::DEF.name_of(format.0).unwrap_or("Raw"),
    }])
}

/// The Random Number Generator attribute of keys generated here: aws-lc's CTR_DRBG with
/// AES-256.
fn rng_json() -> Json {
    json!({
        "RNGAlgorithm": "DRBG",
        "CryptographicAlgorithm": "AES",
        "CryptographicLength": 256,
        "DRBGAlgorithm": "CTR",
    })
}

/// Builds a new object: attributes, dates, state from the Activation Date, names.
pub(crate) fn new_object(
    s: &Session<'_>,
    object_type: ObjectType,
    set: &AttributeSet,
    material: Vec<u8>,
    format: Option<KeyFormatType>,
    algorithm: Option<CryptographicAlgorithm>,
    length: Option<i32>,
) -> Result<NewObject, OpError> {
    let now = tresor_store::now();
    let mut new = NewObject::new(object_type);
    apply_new_attributes(s, set, &mut new.attributes)?;
    let a = &mut new.attributes;
    if let Some(alg) = algorithm {
        let name = CryptographicAlgorithm::DEF
            .name_of(alg.0)
            .map(|n| json!(n))
            .unwrap_or(json!(alg.0));
        a.insert("Cryptographic Algorithm".into(), name);
    }
    if let Some(l) = length {
        a.insert("Cryptographic Length".into(), json!(l));
    }
    if let Some(f) = format {
        a.insert(
            "Key Format Type".into(),
            json!(KeyFormatType::DEF.name_of(f.0).unwrap_or("Raw")),
        );
        a.insert("Digest".into(), digest_json(&material, f));
    }
    a.insert("Initial Date".into(), json!(now));
    a.insert("Last Change Date".into(), json!(now));
    a.entry("Original Creation Date".to_owned())
        .or_insert(json!(now));
    // Fresh (KMIP 1.1+): true until the object is first served by a Get (`get`); a client
    // may register an object as not fresh (Percona and MongoDB send the attribute).
    a.entry("Fresh".to_owned()).or_insert(json!(true));
    if matches!(
        object_type,
        ObjectType::SymmetricKey | ObjectType::PrivateKey | ObjectType::SecretData
    ) {
        a.entry("Sensitive".to_owned()).or_insert(json!(false));
        a.entry("Extractable".to_owned()).or_insert(json!(true));
    }
    // Always Sensitive / Never Extractable start as the first values (KMIP 1.4 3.49, 3.51)
    // and only the server changes them (`touch`).
    if let Some(v) = a.get("Sensitive").cloned() {
        a.insert("Always Sensitive".into(), v);
    }
    if let Some(Json::Bool(e)) = a.get("Extractable").cloned() {
        a.insert("Never Extractable".into(), json!(!e));
    }
    // The server keeps the remaining count of Usage Limits, starting from the total.
    if let Some(Json::Object(l)) = a.get_mut("Usage Limits")
        && !l.contains_key("UsageLimitsCount")
        && let Some(total) = l.get("UsageLimitsTotal").cloned()
    {
        l.insert("UsageLimitsCount".into(), total);
    }
    if object_type == ObjectType::Certificate {
        for (k, v) in super::certificate::derived_attributes(&material)? {
            a.insert(k, v);
        }
    }
    new.state = match set.get(Tag::ACTIVATION_DATE).and_then(json_number) {
        Some(d) if d <= now => State::Active,
        _ => State::PreActive,
    };
    // The first name also becomes the store name when free, so `tresor list` shows it.
    let names = set.names();
    if let Some((first, _)) = names.first()
        && s.txn.get_by_name(first)?.is_none()
    {
        new.names.push(first.clone());
        if object_type == ObjectType::SecretData
            && let Some(name) = vault_name(first)
        {
            a.extend(name.attributes(secret_name::DEFAULT_TYPE));
        }
    }
    new.owner = Some(s.identity.clone());
    new.material = Some(material);
    Ok(new)
}

/// The vault name `app:env:KEY` an object named `n` gets, if `n` is one.
fn vault_name(n: &str) -> Option<SecretName> {
    SecretName::parse(n).ok()
}

/// Refuses an object type Create does not make: it makes symmetric keys, and Secret Data in
/// KMIP 2.1.
fn check_create_type(s: &Session<'_>, ot: KmipType) -> Result<(), OpError> {
    if ot == KmipType::SYMMETRIC_KEY
        || (ot == KmipType::SECRET_DATA && s.version >= ProtocolVersion::V2_1)
    {
        return Ok(());
    }
    Err(OpError::new(
        ResultReason::INVALID_FIELD,
        format!("create makes symmetric keys, not {ot}; use create key pair or register"),
    ))
}

/// Create: a symmetric key (AES, HMAC, ChaCha20) of the requested length.
pub(crate) fn create(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = match CreateRequest::from_ttlv(payload) {
        Ok(req) => req,
        Err(e) => {
            // A type Create does not make is refused before its attributes are read.
            if let Some(ot) = crate::payload::opt_enum(payload, Tag::OBJECT_TYPE) {
                check_create_type(s, KmipType(ot))?;
            }
            return Err(e.into());
        }
    };
    check_create_type(s, req.object_type)?;
    if req.object_type == KmipType::SECRET_DATA {
        return create_secret_data(s, &req.attributes);
    }
    let set = req.attributes;
    let alg = set.cryptographic_algorithm().ok_or_else(|| {
        OpError::new(
            ResultReason::MISSING_DATA,
            "create needs a cryptographic algorithm attribute",
        )
    })?;
    let len = set.cryptographic_length().ok_or_else(|| {
        OpError::new(
            ResultReason::MISSING_DATA,
            "create needs a cryptographic length attribute",
        )
    })?;
    let key = crypto::symmetric_key(alg, len)?;
    let mut new = new_object(
        s,
        ObjectType::SymmetricKey,
        &set,
        key.to_vec(),
        Some(KeyFormatType::RAW),
        Some(alg),
        Some(len),
    )?;
    new.attributes
        .insert("Random Number Generator".into(), rng_json());
    let uid = s.txn.create(new)?;
    s.placeholder = Some(uid.clone());
    Ok(CreateResponse {
        object_type: KmipType::SYMMETRIC_KEY,
        unique_identifier: uid,
    }
    .to_items(s.version))
}

/// The most random Secret Data one Create makes: 64 KiB.
const MAX_SECRET_DATA_BITS: i32 = 65_536 * 8;

/// Create of Secret Data (KMIP 2.1, 6.1.9: "generate a new symmetric key or generate Secret
/// Data"): random bytes, `Cryptographic Length` bits of them (256 when not given), stored as
/// a Secret Data of type Seed, as Cosmian's `ckms secret-data create` asks. Earlier versions
/// create symmetric keys only and keep refusing it.
fn create_secret_data(s: &mut Session<'_>, set: &AttributeSet) -> Result<Vec<Ttlv>, OpError> {
    let bits = set.cryptographic_length().unwrap_or(256);
    if bits <= 0 || bits % 8 != 0 || bits > MAX_SECRET_DATA_BITS {
        return Err(OpError::new(
            ResultReason::INVALID_FIELD,
            format!(
                "secret data of {bits} bits: the length must be a positive multiple of 8, at \
                 most {MAX_SECRET_DATA_BITS}"
            ),
        ));
    }
    let mut material = zeroize::Zeroizing::new(vec![0u8; (bits / 8) as usize]);
    tresor_crypto::random_fill(&mut material)
        .map_err(|e| OpError::new(ResultReason::GENERAL_FAILURE, e.to_string()))?;
    let mut new = new_object(
        s,
        ObjectType::SecretData,
        set,
        material.to_vec(),
        Some(KeyFormatType::OPAQUE),
        None,
        None,
    )?;
    new.attributes.insert(
        "Secret Data Type".into(),
        json!(
            crate::enums::SecretDataType::DEF
                .name_of(crate::enums::SecretDataType::SEED.0)
                .unwrap_or("Seed")
        ),
    );
    new.attributes
        .insert("Random Number Generator".into(), rng_json());
    let uid = s.txn.create(new)?;
    s.placeholder = Some(uid.clone());
    Ok(CreateResponse {
        object_type: KmipType::SECRET_DATA,
        unique_identifier: uid,
    }
    .to_items(s.version))
}

fn link(kind: LinkType, uid: &str) -> Json {
    json!({"LinkType": LinkType::DEF.name_of(kind.0).unwrap_or("PublicKeyLink"), "LinkedObjectIdentifier": uid})
}

/// Adds a Link of `kind` to `uid` to an attribute map.
pub(crate) fn push_link(a: &mut tresor_store::Attributes, kind: LinkType, uid: &str) {
    push_multi(a, "Link", link(kind, uid));
}

fn push_multi(a: &mut tresor_store::Attributes, key: &str, v: Json) {
    match a.get_mut(key) {
        Some(Json::Array(arr)) => arr.push(v),
        _ => {
            a.insert(key.to_owned(), json!([v]));
        }
    }
}

/// Create Key Pair: RSA, EC (P-256/P-384) or Ed25519, linked to each other.
pub(crate) fn create_key_pair(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = CreateKeyPairRequest::from_ttlv(payload)?;
    let common = req.common_attributes;
    let mut private = req.private_key_attributes;
    let mut public = req.public_key_attributes;
    let pick = |f: &dyn Fn(&AttributeSet) -> Option<i64>| {
        f(&private).or_else(|| f(&public)).or_else(|| f(&common))
    };
    let alg = pick(&|a| a.cryptographic_algorithm().map(|x| i64::from(x.0)))
        .map(|x| CryptographicAlgorithm(x as u32))
        .ok_or_else(|| {
            OpError::new(
                ResultReason::MISSING_DATA,
                "create key pair needs a cryptographic algorithm attribute",
            )
        })?;
    let bits = pick(&|a| a.cryptographic_length().map(i64::from)).map(|x| x as i32);
    let curve = pick(&|a| {
        a.get(Tag::CRYPTOGRAPHIC_DOMAIN_PARAMETERS)
            .and_then(|v| match v {
                Value::Structure(items) => items
                    .iter()
                    .find(|i| i.tag == Tag::RECOMMENDED_CURVE)
                    .and_then(Ttlv::as_enumeration),
                _ => None,
            })
            .or_else(|| match a.get(Tag::RECOMMENDED_CURVE) {
                Some(Value::Enumeration(e)) => Some(*e),
                _ => None,
            })
            .map(i64::from)
    })
    .map(|x| RecommendedCurve(x as u32));
    let kp = crypto::key_pair(alg, bits, curve)?;
    // Common attributes apply to both halves; specific ones win.
    let mut p = common.clone();
    p.merge(&private);
    private = p;
    let mut q = common.clone();
    q.merge(&public);
    public = q;
    let rsa = alg == CryptographicAlgorithm::RSA;
    let private_format = if rsa {
        KeyFormatType::PKCS_1
    } else {
        KeyFormatType::PKCS_8
    };
    let public_format = if rsa {
        KeyFormatType::PKCS_1
    } else {
        KeyFormatType::X_509
    };
    let mut new_private = new_object(
        s,
        ObjectType::PrivateKey,
        &private,
        kp.private_pkcs8.to_vec(),
        Some(private_format),
        Some(kp.algorithm),
        Some(kp.bits),
    )?;
    let mut new_public = new_object(
        s,
        ObjectType::PublicKey,
        &public,
        kp.public_spki.clone(),
        Some(public_format),
        Some(kp.algorithm),
        Some(kp.bits),
    )?;
    // Generated here: name the generator (AKLC-M-1/2/3 ask for it).
    for n in [&mut new_private, &mut new_public] {
        n.attributes
            .insert("Random Number Generator".into(), rng_json());
    }
    if new_public
        .names
        .iter()
        .any(|n| new_private.names.contains(n))
    {
        new_public.names.clear();
    }
    let private_uid = tresor_store::new_uid()?;
    let public_uid = tresor_store::new_uid()?;
    push_multi(
        &mut new_private.attributes,
        "Link",
        link(LinkType::PUBLIC_KEY_LINK, &public_uid),
    );
    push_multi(
        &mut new_public.attributes,
        "Link",
        link(LinkType::PRIVATE_KEY_LINK, &private_uid),
    );
    new_private.uid = Some(private_uid.clone());
    new_public.uid = Some(public_uid.clone());
    s.txn.create(new_private)?;
    s.txn.create(new_public)?;
    s.placeholder = Some(private_uid.clone());
    Ok(CreateKeyPairResponse {
        private_key_unique_identifier: private_uid,
        public_key_unique_identifier: public_uid,
    }
    .to_items(s.version))
}

/// Register: stores a client-supplied object.
pub(crate) fn register(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = RegisterRequest::from_ttlv(payload).map_err(|e| match e {
        PayloadError::Missing { .. } => OpError::new(
            ResultReason::MISSING_DATA,
            "register needs a managed object (symmetric key, secret data...)",
        ),
        e => e.into(),
    })?;
    let ot = req.object_type;
    let set = req.attributes;
    let obj = &req.object;
    // A Split Key part is stored as its key block plus its split parameters.
    let (split, obj) = if obj.tag == Tag::SPLIT_KEY {
        let (sym, params) = super::split_key::read(obj)?;
        (Some(params), sym)
    } else {
        (None, obj.clone())
    };
    // A wrapped key block (Key Wrapping Data) is unwrapped with the key it names first.
    let (obj, kek) = super::wrap::unwrap_object(s, &obj)?;
    let mut inc: Incoming = objects::read_object(&obj)?;
    if split.is_some() {
        inc.object_type = ObjectType::SplitKey;
    }
    if let Some(ot) = ot
        && objects::store_type(ot) != Some(inc.object_type)
    {
        return Err(OpError::invalid_field(format!(
            "object type {ot} does not match the {} sent",
            inc.object_type
        )));
    }
    let alg = inc.algorithm.or(set.cryptographic_algorithm());
    let len = inc.length.or(set.cryptographic_length());
    let mut new = new_object(s, inc.object_type, &set, inc.material, inc.format, alg, len)?;
    if let Some(p) = split {
        new.attributes
            .insert(super::split_key::SPLIT_ATTR.into(), p);
    }
    if let Some(kek) = &kek {
        let asked_clear = matches!(set.get(Tag::SENSITIVE), Some(Value::Boolean(false)));
        super::release::keep_sensitive(kek, asked_clear, &mut new.attributes)?;
    }
    if let Some((name, v)) = inc.subtype {
        let def = match name {
            "Certificate Type" => &crate::enums::CertificateType::DEF,
            "Opaque Data Type" => &crate::enums::OpaqueDataType::DEF,
            _ => &crate::enums::SecretDataType::DEF,
        };
        new.attributes.insert(
            name.to_owned(),
            def.name_of(v).map(|n| json!(n)).unwrap_or(json!(v)),
        );
    }
    let uid = s.txn.create(new)?;
    s.placeholder = Some(uid.clone());
    Ok(RegisterResponse {
        unique_identifier: uid,
    }
    .to_items(s.version))
}

/// The key a Re-Key replaces: loaded for `modify`, a symmetric key, not destroyed.
fn rekey_target(
    s: &mut Session<'_>,
    uid: Option<&UidRef>,
) -> Result<(String, ObjectMeta), OpError> {
    let uid = s.resolve_uid(uid)?;
    let old = s.load(&uid, "modify")?;
    if old.object_type != ObjectType::SymmetricKey {
        return Err(OpError::new(
            ResultReason::ILLEGAL_OPERATION,
            format!(
                "object '{uid}' is a {}, re-key needs a symmetric key",
                old.object_type
            ),
        ));
    }
    if old.state.is_destroyed() {
        return Err(OpError::new(
            ResultReason::WRONG_KEY_LIFECYCLE_STATE,
            format!("object '{uid}' is destroyed"),
        ));
    }
    Ok((uid, old))
}

/// Re-Key: a new symmetric key replacing an existing one, linked both ways.
pub(crate) fn rekey(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = match ReKeyRequest::from_ttlv(payload) {
        Ok(req) => req,
        Err(e) => {
            // Unreadable attributes are reported after the checks of the key replaced.
            rekey_target(s, UidRef::of(payload).as_ref())?;
            return Err(e.into());
        }
    };
    let (uid, old) = rekey_target(s, req.unique_identifier.as_ref())?;
    let alg = old
        .attr_str("Cryptographic Algorithm")
        .and_then(CryptographicAlgorithm::from_name)
        .unwrap_or(CryptographicAlgorithm::AES);
    let len = old
        .attributes
        .get("Cryptographic Length")
        .and_then(Json::as_i64)
        .and_then(|l| i32::try_from(l).ok())
        .unwrap_or(256);
    let set = req.attributes;
    let key = crypto::symmetric_key(alg, len)?;
    let now = tresor_store::now();
    let mut new = NewObject::new(ObjectType::SymmetricKey);
    // Copy the old key's attributes except the ones tied to its identity and lifecycle.
    for (k, v) in &old.attributes {
        if matches!(
            k.as_str(),
            "Link"
                | "Name"
                | "Initial Date"
                | "Last Change Date"
                | "Activation Date"
                | "Deactivation Date"
                | "Destroy Date"
                | "Compromise Date"
                | "Compromise Occurrence Date"
                | "Revocation Reason"
                | "Digest"
                | "Original Creation Date"
                | "Fresh"
        ) {
            continue;
        }
        new.attributes.insert(k.clone(), v.clone());
    }
    apply_new_attributes(s, &set, &mut new.attributes)?;
    super::release::check_replacement(&uid, &old.attributes, &new.attributes)?;
    new.attributes.insert("Initial Date".into(), json!(now));
    new.attributes.insert("Last Change Date".into(), json!(now));
    new.attributes
        .insert("Original Creation Date".into(), json!(now));
    new.attributes.insert("Fresh".into(), json!(true));
    new.attributes
        .insert("Digest".into(), digest_json(&key, KeyFormatType::RAW));
    let offset = req.offset.map(i64::from);
    let activation = match (
        offset,
        old.attributes.get("Activation Date").and_then(Json::as_i64),
    ) {
        (Some(o), _) => Some(now + o),
        (None, Some(_)) => Some(now),
        _ => None,
    };
    if let Some(a) = activation {
        new.attributes.insert("Activation Date".into(), json!(a));
    }
    new.state = match activation {
        Some(a) if a <= now => State::Active,
        _ if old.state == State::Active && offset.is_none() => State::Active,
        _ => State::PreActive,
    };
    // Names move to the replacement.
    if let Some(n) = old.attributes.get("Name") {
        new.attributes.insert("Name".into(), n.clone());
    }
    let new_uid = tresor_store::new_uid()?;
    push_multi(
        &mut new.attributes,
        "Link",
        link(LinkType::REPLACED_OBJECT_LINK, &uid),
    );
    new.uid = Some(new_uid.clone());
    new.owner = Some(old.owner.clone());
    new.material = Some(key.to_vec());
    let moved_names = old.names.clone();
    s.txn.update(&uid, "re-key", |m| {
        m.names.clear();
        m.attributes.remove("Name");
        push_multi(
            &mut m.attributes,
            "Link",
            link(LinkType::REPLACEMENT_OBJECT_LINK, &new_uid),
        );
        m.attributes.insert("Last Change Date".into(), json!(now));
        Ok(())
    })?;
    new.names = moved_names;
    s.txn.create(new)?;
    s.placeholder = Some(new_uid.clone());
    Ok(ReKeyResponse {
        unique_identifier: new_uid,
    }
    .to_items(s.version))
}
