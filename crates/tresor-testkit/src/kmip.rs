//! KMIP request payloads and response readers that several test targets send and read
//! (KMIP 1.4 attribute templates, as tresor's own tests use them).

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, KeyFormatType, NameType, ObjectType,
};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

/// The protocol version of the templates built here.
pub const V: ProtocolVersion = ProtocolVersion::V1_4;

/// A Unique Identifier field.
pub fn uid(u: &str) -> Ttlv {
    Ttlv::text(Tag::UNIQUE_IDENTIFIER, u)
}

/// The Unique Identifier of a response (panics if it has none).
pub fn uid_of(item: &ResponseBatchItem) -> String {
    item.payload
        .as_ref()
        .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
        .and_then(Ttlv::as_text)
        .expect("unique identifier")
        .to_owned()
}

/// Create payload: an AES-256 key (Encrypt|Decrypt) named `name` (pre-active, so Destroy
/// needs no Revoke).
pub fn create_payload(name: &str) -> Vec<Ttlv> {
    let mut set = AttributeSet::default();
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::AES.0),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(256),
    ));
    let mask = CryptographicUsageMask::ENCRYPT | CryptographicUsageMask::DECRYPT;
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_USAGE_MASK,
        Value::Integer(i32::try_from(mask.0).unwrap()),
    ));
    set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
        set.to_ttlv(V, Container::Template),
    ]
}

/// Register payload: Secret Data (type Password, opaque key material `secret`) named `name`.
pub fn register_secret_payload(name: &str, secret: &[u8]) -> Vec<Ttlv> {
    let obj = Ttlv::structure(
        Tag::SECRET_DATA,
        vec![
            Ttlv::enumeration(Tag::SECRET_DATA_TYPE, 1u32),
            Ttlv::structure(
                Tag::KEY_BLOCK,
                vec![
                    Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, KeyFormatType::OPAQUE),
                    Ttlv::structure(
                        Tag::KEY_VALUE,
                        vec![Ttlv::bytes(Tag::KEY_MATERIAL, secret.to_vec())],
                    ),
                ],
            ),
        ],
    );
    let mut set = AttributeSet::default();
    set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SECRET_DATA),
        set.to_ttlv(V, Container::Template),
        obj,
    ]
}

/// Appends every byte string under `t` to `out` (key material wherever the key format puts
/// it).
pub fn byte_strings(t: &Ttlv, out: &mut Vec<Vec<u8>>) {
    match &t.value {
        Value::ByteString(b) => out.push(b.clone()),
        Value::Structure(items) => items.iter().for_each(|i| byte_strings(i, out)),
        _ => {}
    }
}
