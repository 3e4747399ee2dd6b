//! The KMIP items remote mode writes (payload fields) and reads (an object's description
//! and material from a response).

use tresor_crypto::SecretBytes;
use tresor_kmip::attributes::Attribute;
use tresor_kmip::enums::{NameType, ResultReason, SecretDataType};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::{Tag, Ttlv, Value};
use tresor_store::VersionInfo;
use tresor_store::secret_name::SecretName;
use tresor_vault::SecretInfo;

/// What the server says about one object (vendor Versions).
pub(super) struct Described {
    pub(super) uid: String,
    pub(super) name: Option<String>,
    pub(super) kind: Option<String>,
    pub(super) owner: Option<String>,
    pub(super) caller: Option<String>,
    pub(super) object_type: String,
    pub(super) state: String,
    pub(super) updated: i64,
    pub(super) version: u32,
    pub(super) versions: Vec<VersionInfo>,
    pub(super) value: Option<SecretBytes>,
}

pub(super) fn uid_item(uid: &str) -> Ttlv {
    Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid.to_owned())
}

pub(super) fn secret_data(value: &[u8]) -> Ttlv {
    Ttlv::structure(
        Tag::SECRET_DATA,
        vec![
            Ttlv::enumeration(Tag::SECRET_DATA_TYPE, SecretDataType::PASSWORD),
            Ttlv::structure(
                Tag::KEY_BLOCK,
                vec![
                    Ttlv::enumeration(
                        Tag::KEY_FORMAT_TYPE,
                        tresor_kmip::enums::KeyFormatType::OPAQUE,
                    ),
                    Ttlv::structure(
                        Tag::KEY_VALUE,
                        vec![Ttlv::bytes(Tag::KEY_MATERIAL, value.to_vec())],
                    ),
                ],
            ),
        ],
    )
}

pub(super) fn name_attr(name: &str) -> Ttlv {
    Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING).to_v1()
}

pub(super) fn text_attr(attr: &str, value: &str) -> Ttlv {
    Attribute {
        name: tresor_kmip::AttributeName::Custom {
            vendor: None,
            name: attr.to_owned(),
        },
        index: None,
        value: Value::TextString(value.to_owned()),
    }
    .to_v1()
}

/// The key material (or vendor value) bytes of a response.
pub(super) fn material_of(item: &ResponseBatchItem) -> Option<SecretBytes> {
    fn walk(t: &Ttlv) -> Option<&[u8]> {
        if t.tag == Tag::KEY_MATERIAL
            && let Some(b) = t.as_bytes()
        {
            return Some(b);
        }
        t.items().iter().find_map(walk)
    }
    item.payload_items()
        .iter()
        .find_map(walk)
        .map(|b| SecretBytes::new(b.to_vec()))
}

/// Hides tresor's own objects; names every other object as the local vault does
/// ([`SecretName::view`] of its name, without attributes).
pub(super) fn view(d: &Described) -> Option<(String, String, String)> {
    SecretName::view(
        None,
        |_| None,
        d.name.as_deref(),
        &d.uid,
        || d.object_type.to_ascii_lowercase(),
    )
    .map(SecretName::into_parts)
}

/// Returns true if and only if a Read Names refusal means "no such secret or version" (an
/// object the identity may not see answers exactly as an absent one).
pub(super) fn missing_reason(r: ResultReason) -> bool {
    r == ResultReason::ITEM_NOT_FOUND
        || r == ResultReason::OBJECT_NOT_FOUND
        || r == ResultReason::KEY_VALUE_NOT_PRESENT
        || r == ResultReason::OBJECT_DESTROYED
}

/// A Read Names refusal in words.
pub(super) fn refusal(r: ResultReason) -> String {
    let why = match r {
        ResultReason::PERMISSION_DENIED => "this identity may not read it (no get grant)",
        ResultReason::NOT_EXTRACTABLE => "it is not extractable",
        ResultReason::SENSITIVE => "it is sensitive (never sent in clear)",
        _ => "",
    };
    let name = r.name().unwrap_or("error");
    if why.is_empty() {
        name.to_owned()
    } else {
        format!("{why} ({name})")
    }
}

pub(super) fn info(d: &Described, app: String, env: String, key: String) -> SecretInfo {
    SecretInfo {
        uid: d.uid.clone(),
        name: d.name.clone().unwrap_or_else(|| d.uid.clone()),
        app,
        env,
        key,
        kind: d.kind.clone().unwrap_or_else(|| {
            if d.object_type == "SecretData" {
                "str".into()
            } else {
                "key".into()
            }
        }),
        object_type: d.object_type.clone(),
        state: d.state.clone(),
        version: d.version,
        updated: d.updated,
    }
}
