//! Get: an object's material in its stored or the requested key format, optionally
//! wrapped. Whether it may leave at all is `release`'s rule.

use serde_json::{Value as Json, json};
use tresor_store::ObjectType;

use super::objects;
use super::release::{self, Export};
use super::{OpError, Session};
use crate::enums::{CryptographicAlgorithm, KeyFormatType};
use crate::payload::Payload;
use crate::payload::get::{GetRequest, GetResponse};
use crate::ttlv::Ttlv;

/// Get: the object in its stored or the requested key format.
pub(crate) fn get(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = GetRequest::from_ttlv(payload)?;
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
    let wrap_spec = req.key_wrapping_specification.as_ref();
    let export = match wrap_spec {
        Some(spec) => Export::Wrapped(spec),
        None => Export::Clear,
    };
    let (meta, material) = release::material(s, &uid, 0, export)?;
    let stored = meta
        .attr_str("Key Format Type")
        .and_then(KeyFormatType::from_name);
    let format = req
        .key_format_type
        .unwrap_or(objects::default_format(meta.object_type, stored));
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
    let split = meta.object_type == ObjectType::SplitKey;
    let obj = objects::write_object(
        if split {
            ObjectType::SymmetricKey
        } else {
            meta.object_type
        },
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
    let obj = if split {
        super::split_key::write(obj, meta.attributes.get(super::split_key::SPLIT_ATTR))?
    } else {
        obj
    };
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
    Ok(GetResponse {
        object_type: objects::kmip_type(meta.object_type),
        unique_identifier: uid,
        object: obj,
    }
    .to_items(s.version))
}
