//! Object management: create, register, get, attributes, locate and the lifecycle.

use serde_json::{Value as Json, json};
use tresor_store::{AttrCond, NewObject, ObjectMeta, ObjectType, Query, State};

use super::attrs::{self, READ_ONLY};
use super::objects::{self, Incoming};
use super::{OpError, Session, crypto, effective_state, kmip_state, store_state};
use crate::attributes::{Attribute, AttributeName, AttributeSet, Container};
use crate::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, KeyFormatType, LinkType,
    ObjectType as KmipType, QueryFunction, RecommendedCurve, ResultReason, RevocationReasonCode,
};
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// Discover Versions: the supported versions the client also lists, newest first.
pub(crate) fn discover_versions(payload: &Ttlv) -> Vec<Ttlv> {
    let asked: Vec<ProtocolVersion> = payload
        .find_all(Tag::PROTOCOL_VERSION)
        .filter_map(|t| ProtocolVersion::from_ttlv(t).ok())
        .collect();
    ProtocolVersion::SUPPORTED
        .iter()
        .filter(|v| asked.is_empty() || asked.contains(v))
        .map(|v| v.to_ttlv())
        .collect()
}

/// Query: operations, object types and server information, truthfully.
pub(crate) fn query(s: &Session<'_>, payload: &Ttlv) -> Vec<Ttlv> {
    let mut out = Vec::new();
    let functions: Vec<u32> = payload
        .find_all(Tag::QUERY_FUNCTION)
        .filter_map(Ttlv::as_enumeration)
        .collect();
    if functions.contains(&QueryFunction::QUERY_OPERATIONS.0) {
        for op in super::OPERATIONS {
            out.push(Ttlv::enumeration(Tag::OPERATION, *op));
        }
    }
    if functions.contains(&QueryFunction::QUERY_OBJECTS.0) {
        for t in [
            KmipType::CERTIFICATE,
            KmipType::SYMMETRIC_KEY,
            KmipType::PUBLIC_KEY,
            KmipType::PRIVATE_KEY,
            KmipType::SECRET_DATA,
            KmipType::OPAQUE_OBJECT,
        ] {
            out.push(Ttlv::enumeration(Tag::OBJECT_TYPE, t));
        }
    }
    if functions.contains(&QueryFunction::QUERY_SERVER_INFORMATION.0) {
        out.push(Ttlv::text(Tag::VENDOR_IDENTIFICATION, "tresor"));
        out.push(Ttlv::structure(
            Tag::SERVER_INFORMATION,
            vec![Ttlv::text(
                Tag::SERVER_NAME,
                format!("tresor {} (KMIP {})", env!("CARGO_PKG_VERSION"), s.version),
            )],
        ));
    }
    out
}

/// Reads the attributes of a request (1.x TemplateAttribute or 2.x Attributes).
fn request_attributes(payload: &Ttlv, container: Container) -> Result<AttributeSet, OpError> {
    let mut set = AttributeSet::default();
    for item in payload.items() {
        if Container::from_tag(item.tag) == Some(container) {
            let got = AttributeSet::from_ttlv(item)
                .map_err(|e| OpError::new(ResultReason::INVALID_FIELD, e.to_string()))?;
            set.merge(&got);
        }
    }
    Ok(set)
}

fn json_number(v: &Value) -> Option<i64> {
    match v {
        Value::DateTime(d) | Value::LongInteger(d) => Some(*d),
        Value::Integer(i) => Some(i64::from(*i)),
        _ => None,
    }
}

/// Applies client attributes to a new object's attribute map; returns the requested state
/// and names.
fn apply_new_attributes(
    _s: &Session<'_>,
    set: &AttributeSet,
    attrs_map: &mut tresor_store::Attributes,
) -> Result<(), OpError> {
    for a in &set.attributes {
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
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
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
fn new_object(
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
            && let Some((app, env, key)) = vault_name(first)
        {
            a.insert("app".into(), json!(app));
            a.insert("env".into(), json!(env));
            a.insert("key".into(), json!(key));
            a.insert("tresor.role".into(), json!("secret"));
            a.insert("tresor.type".into(), json!("str"));
        }
    }
    new.owner = Some(s.identity.clone());
    new.material = Some(material);
    Ok(new)
}

/// `app:env:KEY` with three non-empty parts without spaces.
fn vault_name(n: &str) -> Option<(&str, &str, &str)> {
    let mut it = n.split(':');
    let (a, e, k) = (it.next()?, it.next()?, it.next()?);
    let ok = |p: &str| !p.is_empty() && !p.contains(char::is_whitespace);
    (it.next().is_none() && ok(a) && ok(e) && ok(k)).then_some((a, e, k))
}

/// Create: a symmetric key (AES, HMAC, ChaCha20) of the requested length.
pub(crate) fn create(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let ot = payload
        .find(Tag::OBJECT_TYPE)
        .and_then(Ttlv::as_enumeration)
        .map(KmipType)
        .ok_or_else(|| OpError::missing(Tag::OBJECT_TYPE, Tag::REQUEST_PAYLOAD))?;
    if ot != KmipType::SYMMETRIC_KEY {
        return Err(OpError::new(
            ResultReason::INVALID_FIELD,
            format!("create makes symmetric keys, not {ot}; use create key pair or register"),
        ));
    }
    let set = request_attributes(payload, Container::Template)?;
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
    Ok(vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ot),
        Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid),
    ])
}

fn link(kind: LinkType, uid: &str) -> Json {
    json!({"LinkType": LinkType::DEF.name_of(kind.0).unwrap_or("PublicKeyLink"), "LinkedObjectIdentifier": uid})
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
    let common = request_attributes(payload, Container::Common)?;
    let mut private = request_attributes(payload, Container::PrivateKey)?;
    let mut public = request_attributes(payload, Container::PublicKey)?;
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
    Ok(vec![
        Ttlv::text(Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER, private_uid),
        Ttlv::text(Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER, public_uid),
    ])
}

/// Register: stores a client-supplied object.
pub(crate) fn register(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let ot = payload
        .find(Tag::OBJECT_TYPE)
        .and_then(Ttlv::as_enumeration)
        .map(KmipType);
    let set = request_attributes(payload, Container::Template)?;
    let obj = payload
        .items()
        .iter()
        .find(|i| {
            matches!(
                i.tag,
                Tag::SYMMETRIC_KEY
                    | Tag::PUBLIC_KEY
                    | Tag::PRIVATE_KEY
                    | Tag::CERTIFICATE
                    | Tag::OPAQUE_OBJECT
                    | Tag::SECRET_DATA
            )
        })
        .ok_or_else(|| {
            OpError::new(
                ResultReason::MISSING_DATA,
                "register needs a managed object (symmetric key, secret data...)",
            )
        })?;
    // A wrapped key block (Key Wrapping Data) is unwrapped with the key it names first.
    let obj = super::wrap::unwrap_object(s, obj)?;
    let inc: Incoming = objects::read_object(&obj)?;
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
    Ok(vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)])
}

/// Re-Key: a new symmetric key replacing an existing one, linked both ways.
pub(crate) fn rekey(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
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
    let set = request_attributes(payload, Container::Template)?;
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
        ) {
            continue;
        }
        new.attributes.insert(k.clone(), v.clone());
    }
    apply_new_attributes(s, &set, &mut new.attributes)?;
    new.attributes.insert("Initial Date".into(), json!(now));
    new.attributes.insert("Last Change Date".into(), json!(now));
    new.attributes
        .insert("Original Creation Date".into(), json!(now));
    new.attributes
        .insert("Digest".into(), digest_json(&key, KeyFormatType::RAW));
    let offset = payload.find(Tag::OFFSET).and_then(|t| match t.value {
        Value::Interval(i) => Some(i64::from(i)),
        _ => None,
    });
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
    Ok(vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, new_uid)])
}

/// Every KMIP attribute of an object, in a stable order (server attributes first).
pub(crate) fn object_attributes(s: &Session<'_>, meta: &ObjectMeta) -> Vec<Attribute> {
    let mut out = vec![
        Attribute::standard(Tag::UNIQUE_IDENTIFIER, Value::TextString(meta.uid.clone())),
        Attribute::standard(
            Tag::OBJECT_TYPE,
            Value::Enumeration(objects::kmip_type(meta.object_type).0),
        ),
        Attribute::standard(
            Tag::STATE,
            Value::Enumeration(kmip_state(effective_state(meta, tresor_store::now())).0),
        ),
    ];
    let mut names: Vec<Attribute> = meta
        .attributes
        .get("Name")
        .map(|j| attrs::attrs_from_json("Name", j))
        .unwrap_or_default();
    for n in &meta.names {
        let a = Attribute::name(n.clone(), crate::enums::NameType::UNINTERPRETED_TEXT_STRING);
        if !names.contains(&a) {
            names.push(a);
        }
    }
    out.extend(names);
    if !meta.attributes.contains_key("Initial Date") {
        out.push(Attribute::standard(
            Tag::INITIAL_DATE,
            Value::DateTime(meta.created),
        ));
    }
    for (k, v) in &meta.attributes {
        if k == "Name" || k == "Last Change Date" {
            continue;
        }
        out.extend(attrs::attrs_from_json(k, v));
    }
    out.push(Attribute::standard(
        Tag::LAST_CHANGE_DATE,
        Value::DateTime(meta.updated),
    ));
    if meta.object_type == ObjectType::SecretData
        && !meta.attributes.contains_key("Secret Data Type")
    {
        out.push(Attribute::standard(
            Tag::SECRET_DATA_TYPE,
            Value::Enumeration(crate::enums::SecretDataType::PASSWORD.0),
        ));
    }
    let _ = s;
    // 1.x has no 2.x-only attributes in responses; keep those a 1.x client can read.
    if !s.version.is_v2() {
        out.retain(|a| match a.name {
            AttributeName::Custom {
                vendor: Some(_), ..
            } => false,
            AttributeName::Standard(t) => !super::certificate::is_v2_only(t),
            AttributeName::Custom { .. } => true,
        });
    }
    out
}

/// Get: the object in its stored or the requested key format.
pub(crate) fn get(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let meta = s.load(&uid, "get")?;
    if meta.state.is_destroyed() {
        return Err(OpError::new(
            if s.version.is_v2() {
                ResultReason::OBJECT_DESTROYED
            } else {
                ResultReason::ITEM_NOT_FOUND
            },
            format!("object '{uid}' is destroyed; its material is gone"),
        ));
    }
    let wrap_spec = payload.find(Tag::KEY_WRAPPING_SPECIFICATION);
    if meta.attributes.get("Extractable") == Some(&json!(false)) {
        return Err(OpError::new(
            ResultReason::NOT_EXTRACTABLE,
            format!("object '{uid}' is not extractable"),
        ));
    }
    if meta.attributes.get("Sensitive") == Some(&json!(true)) && wrap_spec.is_none() {
        return Err(OpError::new(
            if s.version.is_v2() {
                ResultReason::SENSITIVE
            } else {
                ResultReason::PERMISSION_DENIED
            },
            format!("object '{uid}' is sensitive: its material is not returned in clear"),
        ));
    }
    let stored = meta
        .attr_str("Key Format Type")
        .and_then(KeyFormatType::from_name);
    let requested = payload
        .find(Tag::KEY_FORMAT_TYPE)
        .and_then(Ttlv::as_enumeration)
        .map(KeyFormatType);
    let format = requested.unwrap_or(objects::default_format(meta.object_type, stored));
    let material = s.txn.material(&uid, 0)?;
    let alg = meta
        .attr_str("Cryptographic Algorithm")
        .and_then(CryptographicAlgorithm::from_name);
    let len = meta
        .attributes
        .get("Cryptographic Length")
        .and_then(Json::as_i64)
        .and_then(|l| i32::try_from(l).ok());
    let subtype_key = match meta.object_type {
        ObjectType::Certificate => Some(("Certificate Type", &crate::enums::CertificateType::DEF)),
        ObjectType::OpaqueObject => Some(("Opaque Data Type", &crate::enums::OpaqueDataType::DEF)),
        ObjectType::SecretData => Some(("Secret Data Type", &crate::enums::SecretDataType::DEF)),
        _ => None,
    };
    let subtype = subtype_key.and_then(|(k, def)| match meta.attributes.get(k)? {
        Json::String(n) => def.value_of(n),
        Json::Number(n) => n.as_u64().and_then(|x| u32::try_from(x).ok()),
        _ => None,
    });
    let obj = objects::write_object(
        meta.object_type,
        material.expose(),
        format,
        if meta.object_type == ObjectType::SecretData {
            None
        } else {
            alg
        },
        if meta.object_type == ObjectType::SecretData {
            None
        } else {
            len
        },
        subtype,
    )?;
    let obj = match wrap_spec {
        Some(spec) => super::wrap::wrap_object(s, spec, obj)?,
        None => obj,
    };
    // Fresh: true until the object has been served to a client.
    if meta.attributes.get("Fresh") == Some(&json!(true)) {
        s.txn.update(&uid, "served", |m| {
            m.attributes.insert("Fresh".into(), json!(false));
            Ok(())
        })?;
    }
    s.placeholder = Some(uid.clone());
    Ok(vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, objects::kmip_type(meta.object_type)),
        Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid),
        obj,
    ])
}

/// The attribute names a Get Attributes / Delete Attribute request refers to.
fn referenced_names(payload: &Ttlv) -> Vec<AttributeName> {
    let mut out = Vec::new();
    for item in payload.items() {
        match item.tag {
            Tag::ATTRIBUTE_NAME => {
                if let Some(t) = item.as_text() {
                    out.push(attrs::name_of_key(t).unwrap_or(AttributeName::Custom {
                        vendor: None,
                        name: t.to_owned(),
                    }));
                }
            }
            Tag::ATTRIBUTE_REFERENCE => match &item.value {
                Value::Enumeration(e) => {
                    if let Some(t) = Tag::new(*e) {
                        out.push(AttributeName::Standard(t));
                    }
                }
                Value::Structure(_) => {
                    let v = item
                        .find(Tag::VENDOR_IDENTIFICATION)
                        .and_then(Ttlv::as_text);
                    let n = item.find(Tag::ATTRIBUTE_NAME).and_then(Ttlv::as_text);
                    if let (Some(v), Some(n)) = (v, n) {
                        out.push(match v {
                            // PyKMIP 2.0 names standard attributes with an empty vendor.
                            "" => attrs::name_of_key(n).unwrap_or(AttributeName::Custom {
                                vendor: None,
                                name: n.to_owned(),
                            }),
                            "x" | "y" => AttributeName::Custom {
                                vendor: None,
                                name: format!("{v}-{n}"),
                            },
                            _ => AttributeName::Custom {
                                vendor: Some(v.to_owned()),
                                name: n.to_owned(),
                            },
                        });
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    out
}

/// Get Attributes: all, or the named ones.
pub(crate) fn get_attributes(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let meta = s.load(&uid, "get")?;
    let wanted = referenced_names(payload);
    let mut all = object_attributes(s, &meta);
    if !wanted.is_empty() {
        all.retain(|a| wanted.contains(&a.name));
    }
    s.placeholder = Some(uid.clone());
    let mut out = vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)];
    if s.version.is_v2() {
        out.push(Ttlv::structure(
            Tag::ATTRIBUTES,
            all.iter().map(Attribute::to_v2).collect(),
        ));
    } else {
        // 1.x: multi-instance attributes carry their index when it is not 0 (an omitted
        // index means 0; the 1.4 vectors, e.g. SKLC-M-1-14's Digest, omit it).
        let mut counts: Vec<(AttributeName, i32)> = Vec::new();
        for mut a in all {
            if attrs::is_multi(&a.name) {
                let c = match counts.iter_mut().find(|(n, _)| *n == a.name) {
                    Some((_, c)) => {
                        *c += 1;
                        *c
                    }
                    None => {
                        counts.push((a.name.clone(), 0));
                        0
                    }
                };
                a.index = (c > 0).then_some(c);
            }
            out.push(a.to_v1());
        }
    }
    Ok(out)
}

/// Get Attribute List: the names of the object's attributes.
pub(crate) fn get_attribute_list(
    s: &mut Session<'_>,
    payload: &Ttlv,
) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let meta = s.load(&uid, "get")?;
    let mut names: Vec<AttributeName> = Vec::new();
    for a in object_attributes(s, &meta) {
        if !names.contains(&a.name) {
            names.push(a.name);
        }
    }
    s.placeholder = Some(uid.clone());
    let mut out = vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)];
    for n in names {
        if s.version.is_v2() {
            out.push(match &n {
                AttributeName::Standard(t) => {
                    Ttlv::enumeration(Tag::ATTRIBUTE_REFERENCE, t.value())
                }
                AttributeName::Custom { .. } => {
                    let a = Attribute {
                        name: n.clone(),
                        index: None,
                        value: Value::Integer(0),
                    }
                    .to_v2();
                    let mut items: Vec<Ttlv> = a
                        .items()
                        .iter()
                        .filter(|i| i.tag != Tag::ATTRIBUTE_VALUE)
                        .cloned()
                        .collect();
                    items.truncate(2);
                    Ttlv::structure(Tag::ATTRIBUTE_REFERENCE, items)
                }
            });
        } else {
            out.push(Ttlv::text(Tag::ATTRIBUTE_NAME, attrs::key_of(&n)));
        }
    }
    Ok(out)
}

fn read_only_error(s: &Session<'_>, name: &AttributeName) -> OpError {
    OpError::new(
        if s.version.is_v2() {
            ResultReason::ATTRIBUTE_READ_ONLY
        } else {
            ResultReason::PERMISSION_DENIED
        },
        format!("attribute '{name}' is read-only"),
    )
}

fn check_writable(s: &Session<'_>, a: &AttributeName) -> Result<(), OpError> {
    match a {
        AttributeName::Standard(t) if READ_ONLY.contains(t) => Err(read_only_error(s, a)),
        AttributeName::Custom { name, .. } if name == super::GRANTS_ATTR => {
            Err(read_only_error(s, a))
        }
        _ => Ok(()),
    }
}

/// The attribute carried by an Add/Set/Modify request (1.x `Attribute`, 2.x `NewAttribute`).
fn carried_attribute(payload: &Ttlv, tag_v2: Tag) -> Result<Attribute, OpError> {
    let bad = |e: crate::KmipError| OpError::new(ResultReason::INVALID_FIELD, e.to_string());
    if let Some(a) = payload.find(tag_v2) {
        let inner = a
            .items()
            .first()
            .ok_or_else(|| OpError::missing(Tag::ATTRIBUTE, tag_v2))?;
        return Attribute::from_v2(inner).map_err(bad);
    }
    let a = payload
        .find(Tag::ATTRIBUTE)
        .ok_or_else(|| OpError::missing(Tag::ATTRIBUTE, Tag::REQUEST_PAYLOAD))?;
    Attribute::from_v1(a).map_err(bad)
}

fn attribute_echo(s: &Session<'_>, uid: &str, a: &Attribute, with_attr: bool) -> Vec<Ttlv> {
    let mut out = vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid.to_owned())];
    if with_attr && !s.version.is_v2() {
        out.push(a.to_v1());
    }
    out
}

fn touch(m: &mut ObjectMeta) {
    m.attributes
        .insert("Last Change Date".into(), json!(tresor_store::now()));
    // Once sensitive is cleared (or extractable set) the object never was always sensitive
    // (never extractable).
    if m.attributes.get("Sensitive") == Some(&json!(false))
        && m.attributes.contains_key("Always Sensitive")
    {
        m.attributes.insert("Always Sensitive".into(), json!(false));
    }
    if m.attributes.get("Extractable") == Some(&json!(true))
        && m.attributes.contains_key("Never Extractable")
    {
        m.attributes
            .insert("Never Extractable".into(), json!(false));
    }
    // Store names follow the Name attribute (when the object has one), so Locate by an old
    // name no longer finds it.
    if let Some(j) = m.attributes.get("Name") {
        let current: Vec<String> = match j {
            Json::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            Json::String(x) => vec![x.clone()],
            _ => Vec::new(),
        };
        m.names.retain(|n| current.contains(n));
    }
}

/// Refuses a Name the object already has, or another object has (Non Unique Name
/// Attribute; BL-M-8-21 adds the name an object was registered with a second time).
fn check_name_free(
    s: &Session<'_>,
    uid: &str,
    meta: &ObjectMeta,
    name: &str,
) -> Result<(), OpError> {
    let taken_here = object_names(meta).iter().any(|x| x == name);
    let taken_elsewhere = || -> Result<bool, OpError> {
        if s.txn.get_by_name(name)?.is_some_and(|m| m.uid != uid) {
            return Ok(true);
        }
        let q = Query {
            attrs: vec![AttrCond::Eq("Name".into(), name.to_owned())],
            limit: Some(2),
            ..Query::default()
        };
        Ok(s.store.locate(&q)?.iter().any(|m| m.uid != uid))
    };
    if taken_here || taken_elsewhere()? {
        return Err(OpError::new(
            ResultReason::NON_UNIQUE_NAME_ATTRIBUTE,
            format!("the name '{name}' is already in use"),
        ));
    }
    Ok(())
}

/// Add Attribute: a new instance of a multi-instance attribute, or a first value.
pub(crate) fn add_attribute(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let a = carried_attribute(payload, Tag::NEW_ATTRIBUTE)?;
    check_writable(s, &a.name)?;
    let meta = s.load(&uid, "modify")?;
    let key = attrs::key_of(&a.name);
    let j = attrs::attr_to_json(&a);
    if a.name == AttributeName::Standard(Tag::NAME)
        && let Some(n) = j.as_str()
    {
        check_name_free(s, &uid, &meta, n)?;
    }
    let multi = attrs::is_multi(&a.name);
    let mut index = 0;
    if !multi && meta.attributes.contains_key(&key) {
        return Err(OpError::new(
            if s.version.is_v2() {
                ResultReason::ATTRIBUTE_SINGLE_VALUED
            } else {
                ResultReason::ILLEGAL_OPERATION
            },
            format!(
                "object '{uid}' already has the single-valued attribute '{}'",
                a.name
            ),
        ));
    }
    s.txn.update(&uid, &format!("add attribute {key}"), |m| {
        if multi {
            match m.attributes.get_mut(&key) {
                Some(Json::Array(v)) => {
                    index = v.len() as i32;
                    v.push(j.clone());
                }
                _ => {
                    m.attributes.insert(key.clone(), json!([j.clone()]));
                }
            }
        } else {
            m.attributes.insert(key.clone(), j.clone());
        }
        touch(m);
        Ok(())
    })?;
    s.placeholder = Some(uid.clone());
    let mut echo = a.clone();
    if multi {
        echo.index = Some(index);
    }
    Ok(attribute_echo(s, &uid, &echo, true))
}

/// Set Attribute (2.x): sets a single-valued attribute.
pub(crate) fn set_attribute(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let a = carried_attribute(payload, Tag::NEW_ATTRIBUTE)?;
    check_writable(s, &a.name)?;
    s.load(&uid, "modify")?;
    if attrs::is_multi(&a.name) && matches!(a.name, AttributeName::Standard(_)) {
        return Err(OpError::new(
            ResultReason::MULTI_VALUED_ATTRIBUTE,
            format!("attribute '{}' is multi-valued; use add attribute", a.name),
        ));
    }
    let key = attrs::key_of(&a.name);
    let j = attrs::attr_to_json(&a);
    let multi = attrs::is_multi(&a.name);
    s.txn.update(&uid, &format!("set attribute {key}"), |m| {
        m.attributes
            .insert(key.clone(), if multi { json!([j]) } else { j });
        touch(m);
        Ok(())
    })?;
    s.placeholder = Some(uid.clone());
    Ok(vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)])
}

/// Modify Attribute: replaces one instance (1.x by index, 2.x by current value).
pub(crate) fn modify_attribute(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let new = carried_attribute(payload, Tag::NEW_ATTRIBUTE)?;
    check_writable(s, &new.name)?;
    let current = match payload.find(Tag::CURRENT_ATTRIBUTE) {
        Some(c) => Some(
            c.items()
                .first()
                .map(Attribute::from_v2)
                .transpose()
                .map_err(|e| OpError::new(ResultReason::INVALID_FIELD, e.to_string()))?
                .ok_or_else(|| OpError::missing(Tag::ATTRIBUTE, Tag::CURRENT_ATTRIBUTE))?,
        ),
        None => None,
    };
    let meta = s.load(&uid, "modify")?;
    // The Activation Date may change only while the object is Pre-Active (SKLC-M-3 and
    // AKLC-M-3: 2.x Wrong Key Lifecycle State, 1.x Permission Denied).
    if new.name == AttributeName::Standard(Tag::ACTIVATION_DATE) && meta.state != State::PreActive {
        return Err(OpError::new(
            if s.version.is_v2() {
                ResultReason::WRONG_KEY_LIFECYCLE_STATE
            } else {
                ResultReason::PERMISSION_DENIED
            },
            format!(
                "object '{uid}' is {}; its activation date can change only while pre-active",
                meta.state
            ),
        ));
    }
    let key = attrs::key_of(&new.name);
    let existing = meta.attributes.get(&key).cloned().ok_or_else(|| {
        OpError::new(
            if s.version.is_v2() {
                ResultReason::ATTRIBUTE_NOT_FOUND
            } else {
                ResultReason::ITEM_NOT_FOUND
            },
            format!("object '{uid}' has no attribute '{}'", new.name),
        )
    })?;
    let j = attrs::attr_to_json(&new);
    let updated = match existing {
        Json::Array(mut v) => {
            let pos = match &current {
                Some(c) => {
                    let cj = attrs::attr_to_json(c);
                    v.iter().position(|x| *x == cj)
                }
                None => usize::try_from(new.index.unwrap_or(0))
                    .ok()
                    .filter(|&i| i < v.len()),
            };
            let pos = pos.ok_or_else(|| {
                OpError::new(
                    if s.version.is_v2() {
                        ResultReason::ATTRIBUTE_INSTANCE_NOT_FOUND
                    } else {
                        ResultReason::ITEM_NOT_FOUND
                    },
                    format!("object '{uid}' has no such instance of '{}'", new.name),
                )
            })?;
            if let Some(slot) = v.get_mut(pos) {
                *slot = j;
            }
            Json::Array(v)
        }
        _ => j,
    };
    s.txn
        .update(&uid, &format!("modify attribute {key}"), |m| {
            m.attributes.insert(key.clone(), updated);
            touch(m);
            Ok(())
        })?;
    s.placeholder = Some(uid.clone());
    Ok(attribute_echo(s, &uid, &new, true))
}

/// Delete Attribute: removes one instance (by index or value) or all of them.
pub(crate) fn delete_attribute(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let (name, index, value) = if let Some(c) = payload.find(Tag::CURRENT_ATTRIBUTE) {
        let a = c
            .items()
            .first()
            .map(Attribute::from_v2)
            .transpose()
            .map_err(|e| OpError::new(ResultReason::INVALID_FIELD, e.to_string()))?
            .ok_or_else(|| OpError::missing(Tag::ATTRIBUTE, Tag::CURRENT_ATTRIBUTE))?;
        (a.name.clone(), None, Some(attrs::attr_to_json(&a)))
    } else {
        let n = referenced_names(payload)
            .into_iter()
            .next()
            .ok_or_else(|| OpError::missing(Tag::ATTRIBUTE_NAME, Tag::REQUEST_PAYLOAD))?;
        let idx = payload
            .find(Tag::ATTRIBUTE_INDEX)
            .and_then(Ttlv::as_integer);
        (n, idx, None)
    };
    check_writable(s, &name)?;
    let meta = s.load(&uid, "modify")?;
    let key = attrs::key_of(&name);
    let not_found = || {
        OpError::new(
            if s.version.is_v2() {
                ResultReason::ATTRIBUTE_NOT_FOUND
            } else {
                ResultReason::ITEM_NOT_FOUND
            },
            format!("object '{uid}' has no attribute '{name}'"),
        )
    };
    let existing = meta.attributes.get(&key).cloned().ok_or_else(not_found)?;
    let deleted = attrs::attrs_from_json(&key, &existing);
    let remaining = match existing {
        Json::Array(mut v) => {
            let pos = match (&value, index) {
                (Some(val), _) => v.iter().position(|x| x == val),
                (None, Some(i)) => usize::try_from(i).ok().filter(|&i| i < v.len()),
                (None, None) => None,
            };
            match (pos, &value, index) {
                (Some(p), _, _) => {
                    v.remove(p);
                    (!v.is_empty()).then_some(Json::Array(v))
                }
                (None, None, None) => None,
                _ => return Err(not_found()),
            }
        }
        _ => None,
    };
    s.txn
        .update(&uid, &format!("delete attribute {key}"), |m| {
            match &remaining {
                Some(r) => {
                    m.attributes.insert(key.clone(), r.clone());
                }
                None => {
                    m.attributes.remove(&key);
                }
            }
            if key == "Name" && remaining.is_none() {
                m.names.clear();
            }
            touch(m);
            Ok(())
        })?;
    s.placeholder = Some(uid.clone());
    let mut out = vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)];
    if !s.version.is_v2()
        && let Some(a) = deleted
            .into_iter()
            .nth(usize::try_from(index.unwrap_or(0)).unwrap_or(0))
    {
        out.push(Attribute { index, ..a }.to_v1());
    }
    Ok(out)
}

/// Activate: Pre-Active → Active.
pub(crate) fn activate(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let meta = s.load(&uid, "modify")?;
    if meta.state != State::PreActive {
        return Err(OpError::new(
            ResultReason::WRONG_KEY_LIFECYCLE_STATE,
            format!(
                "object '{uid}' is {}, only a pre-active object can be activated",
                meta.state
            ),
        ));
    }
    let now = tresor_store::now();
    s.txn.update(&uid, "activate", |m| {
        m.state = State::Active;
        m.attributes.insert("Activation Date".into(), json!(now));
        touch(m);
        Ok(())
    })?;
    s.placeholder = Some(uid.clone());
    Ok(vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)])
}

/// Revoke: to Deactivated, or to Compromised for a key or CA compromise.
pub(crate) fn revoke(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let reason = payload
        .find(Tag::REVOCATION_REASON)
        .ok_or_else(|| OpError::missing(Tag::REVOCATION_REASON, Tag::REQUEST_PAYLOAD))?;
    let code = reason
        .find(Tag::REVOCATION_REASON_CODE)
        .and_then(Ttlv::as_enumeration)
        .map(RevocationReasonCode)
        .ok_or_else(|| OpError::missing(Tag::REVOCATION_REASON_CODE, Tag::REVOCATION_REASON))?;
    let occurred = payload
        .find(Tag::COMPROMISE_OCCURRENCE_DATE)
        .and_then(Ttlv::as_date_time);
    let meta = s.load(&uid, "modify")?;
    let compromise = matches!(
        code,
        RevocationReasonCode::KEY_COMPROMISE | RevocationReasonCode::CA_COMPROMISE
    );
    let now = tresor_store::now();
    let to = if compromise {
        match meta.state {
            State::PreActive | State::Active | State::Deactivated => State::Compromised,
            State::Destroyed => State::DestroyedCompromised,
            s => s,
        }
    } else {
        match meta.state {
            State::Active => State::Deactivated,
            st => {
                return Err(OpError::new(
                    ResultReason::WRONG_KEY_LIFECYCLE_STATE,
                    format!(
                        "object '{uid}' is {st}; only an active object can be revoked for reason {code}"
                    ),
                ));
            }
        }
    };
    if to != meta.state {
        tresor_store::check_transition(&uid, meta.state, to)?;
    }
    let reason_json = attrs::to_json(Some(Tag::REVOCATION_REASON), &reason.value);
    s.txn.update(&uid, &format!("revoke {code}"), |m| {
        m.state = to;
        m.attributes
            .insert("Revocation Reason".into(), reason_json.clone());
        if compromise {
            m.attributes.insert("Compromise Date".into(), json!(now));
            m.attributes.insert(
                "Compromise Occurrence Date".into(),
                json!(occurred.unwrap_or(now)),
            );
        } else {
            m.attributes.insert("Deactivation Date".into(), json!(now));
        }
        touch(m);
        Ok(())
    })?;
    s.placeholder = Some(uid.clone());
    Ok(vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)])
}

/// Destroy: erases the material (metadata kept); refused for an active object.
pub(crate) fn destroy(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let meta = s.load(&uid, "destroy")?;
    let to = match meta.state {
        State::PreActive | State::Deactivated => State::Destroyed,
        State::Compromised => State::DestroyedCompromised,
        State::Active => {
            // The 2.1 vectors (SKLC-M-2-21, AKLC-M-2-21) expect Wrong Key Lifecycle State,
            // the 1.4 ones (SKLC-M-2-14) Permission Denied.
            return Err(OpError::new(
                if s.version.is_v2() {
                    ResultReason::WRONG_KEY_LIFECYCLE_STATE
                } else {
                    ResultReason::PERMISSION_DENIED
                },
                format!("object '{uid}' is active and cannot be destroyed; revoke it first"),
            ));
        }
        st => {
            return Err(OpError::new(
                if s.version.is_v2() {
                    ResultReason::OBJECT_DESTROYED
                } else {
                    ResultReason::WRONG_KEY_LIFECYCLE_STATE
                },
                format!("object '{uid}' is already {st}"),
            ));
        }
    };
    let now = tresor_store::now();
    s.txn.destroy_material(&uid, None)?;
    s.txn.update(&uid, "destroy", |m| {
        m.state = to;
        m.attributes.insert("Destroy Date".into(), json!(now));
        touch(m);
        Ok(())
    })?;
    s.placeholder = Some(uid.clone());
    Ok(vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)])
}

/// Check: whether the object could be used with the given usage mask.
pub(crate) fn check(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let meta = s.load(&uid, "get")?;
    if let Some(mask) = payload
        .find(Tag::CRYPTOGRAPHIC_USAGE_MASK)
        .and_then(Ttlv::as_integer)
    {
        let have = meta
            .attributes
            .get("Cryptographic Usage Mask")
            .and_then(Json::as_i64)
            .unwrap_or(0) as u32;
        if !CryptographicUsageMask(have).contains(CryptographicUsageMask(mask as u32)) {
            return Err(OpError::new(
                if s.version.is_v2() {
                    ResultReason::INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
                } else {
                    ResultReason::ILLEGAL_OPERATION
                },
                format!("object '{uid}' does not allow usage mask {mask}"),
            ));
        }
    }
    s.placeholder = Some(uid.clone());
    // The usage mask, usage limits count and lease time come back only when the server
    // rejects them, which is reported as a failure above (BL-M-3-21 expects just the id).
    Ok(vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)])
}

/// Locate: objects matching every given attribute, from the store's indexes.
pub(crate) fn locate(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let max = payload
        .find(Tag::MAXIMUM_ITEMS)
        .and_then(Ttlv::as_integer)
        .map(|m| usize::try_from(m.max(0)).unwrap_or(0));
    let offset = payload
        .find(Tag::OFFSET_ITEMS)
        .and_then(Ttlv::as_integer)
        .map(|m| usize::try_from(m.max(0)).unwrap_or(0))
        .unwrap_or(0);
    // Storage Status Mask: On-line 1, Archival 2, Destroyed 4 (2.x). tresor archives nothing;
    // a destroyed object keeps its metadata on-line, which 2.x calls Destroyed Storage.
    let storage = payload
        .find(Tag::STORAGE_STATUS_MASK)
        .and_then(Ttlv::as_integer);
    let stored_as_asked = |m: &ObjectMeta| match storage {
        None => true,
        Some(mask) if s.version.is_v2() && m.state.is_destroyed() => mask & 4 != 0,
        Some(mask) => mask & 1 != 0,
    };
    let mut set = request_attributes(payload, Container::Template)?;
    // KMIP 1.x puts Locate's attributes directly in the payload.
    for a in payload.find_all(Tag::ATTRIBUTE) {
        set.push(
            Attribute::from_v1(a)
                .map_err(|e| OpError::new(ResultReason::INVALID_FIELD, e.to_string()))?,
        );
    }
    let mut q = Query::default();
    let mut names = Vec::new();
    let mut dates: Vec<(String, i64)> = Vec::new();
    for a in &set.attributes {
        match &a.name {
            AttributeName::Standard(Tag::OBJECT_TYPE) => {
                let t = match &a.value {
                    Value::Enumeration(e) => objects::store_type(KmipType(*e)),
                    _ => None,
                };
                match t {
                    Some(t) => q.object_type = Some(t),
                    None => return Ok(located(s, Vec::new())),
                }
            }
            AttributeName::Standard(Tag::STATE) => {
                let st = match &a.value {
                    Value::Enumeration(e) => store_state(crate::enums::State(*e)),
                    _ => None,
                };
                match st {
                    Some(st) => q.state = Some(st),
                    None => return Ok(located(s, Vec::new())),
                }
            }
            AttributeName::Standard(Tag::NAME) => {
                if let Some((n, _)) = (AttributeSet {
                    attributes: vec![a.clone()],
                    template_names: vec![],
                })
                .names()
                .into_iter()
                .next()
                {
                    names.push(n);
                }
            }
            AttributeName::Standard(Tag::UNIQUE_IDENTIFIER) => {
                if let Value::TextString(u) = &a.value {
                    q.attrs.push(AttrCond::Exists(format!("\u{0}uid:{u}")));
                }
            }
            name => {
                let key = attrs::key_of(name);
                let j = attrs::attr_to_json(a);
                if let (Some(n), true) = (j.as_i64(), key.contains("Date")) {
                    dates.push((key, n));
                    continue;
                }
                for (k, v) in attrs::index_pairs(&key, &j) {
                    q.attrs.push(AttrCond::Eq(k, v));
                }
            }
        }
    }
    // A Unique Identifier filter is checked directly, not through the index.
    let uid_filter: Vec<String> = q
        .attrs
        .iter()
        .filter_map(|c| match c {
            AttrCond::Exists(x) => x.strip_prefix("\u{0}uid:").map(str::to_owned),
            _ => None,
        })
        .collect();
    q.attrs
        .retain(|c| !matches!(c, AttrCond::Exists(x) if x.starts_with('\u{0}')));
    let want = max.map(|m| m + offset);
    let mut found: Vec<ObjectMeta> = Vec::new();
    let name = names.first().cloned();
    let post_filter = dates.is_empty() && uid_filter.is_empty() && names.len() <= 1;
    let limit = if post_filter { want } else { None };
    let mut variants: Vec<Query> = Vec::new();
    for access in [true, false] {
        let mut base = q.clone();
        if access {
            base.owner = Some(s.identity.clone());
        } else if s.admins.iter().any(|a| a == &s.identity) {
            // Admins see everything: one query without owner.
        } else {
            base.attrs.push(AttrCond::Exists(format!(
                "{}.{}",
                super::GRANTS_ATTR,
                s.identity
            )));
        }
        if !access && s.admins.iter().any(|a| a == &s.identity) {
            variants.clear();
        }
        match &name {
            Some(n) => {
                let mut by_store_name = base.clone();
                by_store_name.name = Some(n.clone());
                by_store_name.limit = limit;
                variants.push(by_store_name);
                let mut by_attr = base;
                by_attr.attrs.push(AttrCond::Eq("Name".into(), n.clone()));
                by_attr.limit = limit;
                variants.push(by_attr);
            }
            None => {
                base.limit = limit;
                variants.push(base);
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    match &name {
        // By name: the name alone goes to the store (the names primary key, then the Name
        // attribute index), and the other conditions are checked on the few objects found.
        // Sending them too lets SQLite drive the query from a broad index instead (e.g. every
        // object of the owner: a scan of 100k rows for one name).
        Some(n) => {
            let by_name = [
                Query {
                    name: Some(n.clone()),
                    ..Query::default()
                },
                Query {
                    attrs: vec![AttrCond::Eq("Name".into(), n.clone())],
                    ..Query::default()
                },
            ];
            for v in &by_name {
                for m in s.store.locate(v)? {
                    if variants.iter().any(|q| q.matches(&m)) && seen.insert(m.uid.clone()) {
                        found.push(m);
                    }
                }
            }
        }
        None => {
            for v in &variants {
                for m in s.store.locate(v)? {
                    if seen.insert(m.uid.clone()) {
                        found.push(m);
                    }
                }
            }
        }
    }
    // Objects earlier items of this batch wrote are not in the store's indexes yet (or are
    // there as they were before): judge them from the transaction's own view.
    if !s.written.is_empty() {
        found.retain(|m| !s.written.contains(&m.uid));
        for uid in s.written.clone() {
            if let Some(m) = s.txn.get(&uid)?
                && variants.iter().any(|v| v.matches(&m))
            {
                found.push(m);
            }
        }
    }
    found.retain(|m| s.may(m, "locate") && stored_as_asked(m));
    let now = tresor_store::now();
    found.retain(|m| {
        let all_names: Vec<String> = object_names(m);
        names.iter().all(|n| all_names.contains(n))
            && (uid_filter.is_empty() || uid_filter.contains(&m.uid))
            && date_match(m, &dates)
            && q.state
                .is_none_or(|st| effective_state(m, now) == st || m.state == st)
    });
    found.sort_by(|a, b| (a.name(), &a.uid).cmp(&(b.name(), &b.uid)));
    let total = found.len();
    let items: Vec<String> = found
        .into_iter()
        .skip(offset)
        .take(max.unwrap_or(usize::MAX))
        .map(|m| m.uid)
        .collect();
    let mut out = located(s, items);
    if s.version >= ProtocolVersion::V1_3 {
        out.insert(
            0,
            Ttlv::integer(Tag::LOCATED_ITEMS, i32::try_from(total).unwrap_or(i32::MAX)),
        );
    }
    Ok(out)
}

fn located(s: &mut Session<'_>, uids: Vec<String>) -> Vec<Ttlv> {
    if let Some(first) = uids.first() {
        s.placeholder = Some(first.clone());
    }
    uids.into_iter()
        .map(|u| Ttlv::text(Tag::UNIQUE_IDENTIFIER, u))
        .collect()
}

fn object_names(m: &ObjectMeta) -> Vec<String> {
    let mut v = m.names.clone();
    if let Some(Json::Array(a)) = m.attributes.get("Name") {
        v.extend(a.iter().filter_map(|x| x.as_str().map(str::to_owned)));
    }
    v
}

/// One date value means equality; two values of the same attribute mean a range.
fn date_match(m: &ObjectMeta, dates: &[(String, i64)]) -> bool {
    let mut keys: Vec<&String> = dates.iter().map(|(k, _)| k).collect();
    keys.dedup();
    keys.into_iter().all(|k| {
        let vals: Vec<i64> = dates
            .iter()
            .filter(|(x, _)| x == k)
            .map(|(_, v)| *v)
            .collect();
        let have = match k.as_str() {
            "Initial Date" => m
                .attributes
                .get(k)
                .and_then(Json::as_i64)
                .or(Some(m.created)),
            "Last Change Date" => Some(m.updated),
            _ => m.attributes.get(k).and_then(Json::as_i64),
        };
        let Some(h) = have else { return false };
        match vals.as_slice() {
            [one] => h == *one,
            [a, b, ..] => h >= *a.min(b) && h <= *a.max(b),
            [] => true,
        }
    })
}
