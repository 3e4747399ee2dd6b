//! Making and finding objects: `create`, `create-key-pair`, `register`, `get`, `locate`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;

use super::Conn;
use crate::kmip::args::{AttrArgs, ConnArgs, algorithm as algorithm_value, enum_value};
use crate::kmip::output::first_text;
use crate::kmip::usage;
use tresor_kmip::KmipError;
use tresor_kmip::attributes::{Attribute, AttributeSet};
use tresor_kmip::enums::{self, KeyFormatType, NameType, ObjectType};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::payload::create::{CreateKeyPairRequest, CreateRequest};
use tresor_kmip::payload::get::GetRequest;
use tresor_kmip::payload::locate::LocateRequest;
use tresor_kmip::payload::object::{KeyBlock, ManagedObject};
use tresor_kmip::payload::register::RegisterRequest;
use tresor_kmip::tags::Tag;
use tresor_kmip::ttlv::{Ttlv, Value};

/// A Cryptographic Usage Mask attribute.
fn usage_mask(mask: enums::CryptographicUsageMask) -> Attribute {
    Attribute::standard(Tag::CRYPTOGRAPHIC_USAGE_MASK, Value::Integer(mask.0 as i32))
}

/// `create`: a symmetric key; the usage mask defaults to Encrypt|Decrypt (MAC Generate|MAC
/// Verify for HMAC algorithms).
pub(super) async fn create(
    c: &ConnArgs,
    algorithm: &str,
    length: i32,
    attrs: &AttrArgs,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let mut set = attrs.to_set()?;
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(algorithm_value(algorithm)?),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(length),
    ));
    if attrs.usage.is_none() {
        let mask = if algorithm.to_ascii_uppercase().starts_with("HMAC") {
            enums::CryptographicUsageMask::MAC_GENERATE | enums::CryptographicUsageMask::MAC_VERIFY
        } else {
            enums::CryptographicUsageMask::ENCRYPT | enums::CryptographicUsageMask::DECRYPT
        };
        set.push(usage_mask(mask));
    }
    conn.call_uid(&CreateRequest::new(ObjectType::SYMMETRIC_KEY, set))
        .await
}

/// `create-key-pair`: prints `private UID` and `public UID`.
pub(super) async fn create_key_pair(
    c: &ConnArgs,
    algorithm: &str,
    length: Option<i32>,
    public_name: Option<String>,
    attrs: &AttrArgs,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let alg = match algorithm.to_ascii_uppercase().as_str() {
        "EC" => enums::CryptographicAlgorithm::ECDSA.0,
        _ => algorithm_value(algorithm)?,
    };
    let mut common = AttributeSet::default();
    common.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(alg),
    ));
    if let Some(l) = length {
        common.push(Attribute::standard(
            Tag::CRYPTOGRAPHIC_LENGTH,
            Value::Integer(l),
        ));
    }
    let mut private = attrs.to_set()?;
    if attrs.usage.is_none() {
        private.push(usage_mask(enums::CryptographicUsageMask::SIGN));
    }
    let mut public = AttributeSet::default();
    if let Some(n) = public_name {
        public.push(Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING));
    }
    public.push(usage_mask(enums::CryptographicUsageMask::VERIFY));
    // Each set has attributes (the algorithm, a usage mask), so all three are sent.
    let req = CreateKeyPairRequest {
        common_attributes: common,
        private_key_attributes: private,
        public_key_attributes: public,
    };
    let item = conn.call(&req).await?;
    if c.json {
        conn.print(&item);
    } else {
        println!(
            "private {}",
            first_text(&item, Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER).unwrap_or_default()
        );
        println!(
            "public {}",
            first_text(&item, Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `register`: an object from `--file` or `--value` (PEM is decoded to DER).
#[allow(clippy::too_many_arguments)] // one per flag of the command
pub(super) async fn register(
    c: &ConnArgs,
    object_type: &str,
    file: Option<PathBuf>,
    value: Option<String>,
    format: Option<String>,
    algorithm: Option<String>,
    length: Option<i32>,
    attrs: &AttrArgs,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let ot = ObjectType(enum_value(&ObjectType::DEF, "object type", object_type)?);
    let bytes = match (file, value) {
        (Some(f), _) => {
            std::fs::read(&f).map_err(|e| KmipError::io(format!("reading '{}'", f.display()), e))?
        }
        (None, Some(v)) => v.into_bytes(),
        (None, None) => return Err(usage("register needs --file or --value")),
    };
    let bytes = pem_to_der(bytes);
    let alg = algorithm.as_deref().map(algorithm_value).transpose()?;
    let obj = register_object(ot, bytes, format.as_deref(), alg, length)?;
    let set = attrs.to_set()?;
    conn.call_uid(&RegisterRequest::new(&obj, set)).await
}

/// `get`: the material goes to `--out` (0600), else the payload is printed.
pub(super) async fn get(
    c: &ConnArgs,
    u: &str,
    format: Option<String>,
    out: Option<PathBuf>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let key_format_type = match format {
        Some(f) => Some(KeyFormatType(enum_value(
            &KeyFormatType::DEF,
            "key format",
            &f,
        )?)),
        None => None,
    };
    let item = conn
        .call(&GetRequest {
            key_format_type,
            ..GetRequest::new(u)
        })
        .await?;
    let material = material_of(&item);
    match (out, material) {
        (Some(path), Some(m)) => {
            write_private(&path, &m)?;
            eprintln!("wrote {} bytes to {}", m.len(), path.display());
        }
        _ => conn.print(&item),
    }
    Ok(ExitCode::SUCCESS)
}

/// `locate`: prints the uids found, one a line; exit code 1 if none.
#[allow(clippy::too_many_arguments)] // one per flag of the command
pub(super) async fn locate(
    c: &ConnArgs,
    object_type: Option<String>,
    state: Option<String>,
    algorithm: Option<String>,
    length: Option<i32>,
    max: Option<i32>,
    offset: Option<i32>,
    attrs: &AttrArgs,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let mut set = attrs.to_set()?;
    if let Some(t) = object_type {
        set.push(Attribute::standard(
            Tag::OBJECT_TYPE,
            Value::Enumeration(enum_value(&ObjectType::DEF, "object type", &t)?),
        ));
    }
    if let Some(s) = state {
        set.push(Attribute::standard(
            Tag::STATE,
            Value::Enumeration(enum_value(&enums::State::DEF, "state", &s)?),
        ));
    }
    if let Some(a) = algorithm {
        set.push(Attribute::standard(
            Tag::CRYPTOGRAPHIC_ALGORITHM,
            Value::Enumeration(algorithm_value(&a)?),
        ));
    }
    if let Some(l) = length {
        set.push(Attribute::standard(
            Tag::CRYPTOGRAPHIC_LENGTH,
            Value::Integer(l),
        ));
    }
    let item = conn
        .call(&LocateRequest {
            maximum_items: max,
            offset_items: offset,
            ..LocateRequest::new(set)
        })
        .await?;
    let uids: Vec<String> = item
        .payload_items()
        .iter()
        .filter(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
        .filter_map(|t| t.as_text().map(str::to_owned))
        .collect();
    if c.json {
        println!("{}", json!({"uids": uids}));
    } else {
        for u in &uids {
            println!("{u}");
        }
    }
    Ok(if uids.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Decodes a PEM file to DER; other bytes pass through.
fn pem_to_der(bytes: Vec<u8>) -> Vec<u8> {
    use rustls::pki_types::pem::{PemObject, SectionKind};
    if !bytes.starts_with(b"-----BEGIN") {
        return bytes;
    }
    match <(SectionKind, Vec<u8>)>::from_pem_slice(&bytes) {
        Ok((_, der)) => der,
        Err(_) => bytes,
    }
}

/// The object Register sends for `ot` holding `bytes`.
fn register_object(
    ot: ObjectType,
    bytes: Vec<u8>,
    format: Option<&str>,
    alg: Option<u32>,
    length: Option<i32>,
) -> Result<ManagedObject, KmipError> {
    match ot {
        ObjectType::CERTIFICATE => {
            return Ok(ManagedObject::Certificate {
                certificate_type: enums::CertificateType::X_509,
                certificate_value: bytes,
            });
        }
        ObjectType::OPAQUE_OBJECT => {
            return Ok(ManagedObject::OpaqueObject {
                opaque_data_type: enums::OpaqueDataType::NONE,
                opaque_data_value: bytes,
            });
        }
        ObjectType::SYMMETRIC_KEY
        | ObjectType::SECRET_DATA
        | ObjectType::PRIVATE_KEY
        | ObjectType::PUBLIC_KEY => {}
        other => return Err(usage(format!("cannot register a {other}"))),
    }
    let default = match ot {
        ObjectType::SECRET_DATA => "Opaque",
        ObjectType::PRIVATE_KEY => "PKCS_8",
        ObjectType::PUBLIC_KEY => "X_509",
        _ => "Raw",
    };
    let f = enum_value(&KeyFormatType::DEF, "key format", format.unwrap_or(default))?;
    let length =
        length.or_else(|| (ot == ObjectType::SYMMETRIC_KEY).then(|| (bytes.len() * 8) as i32));
    let block = KeyBlock {
        key_format_type: KeyFormatType(f),
        key_material: bytes,
        cryptographic_algorithm: alg.map(enums::CryptographicAlgorithm),
        cryptographic_length: length,
    };
    Ok(match ot {
        ObjectType::SECRET_DATA => ManagedObject::SecretData {
            secret_data_type: enums::SecretDataType::PASSWORD,
            key_block: block,
        },
        ObjectType::PRIVATE_KEY => ManagedObject::PrivateKey(block),
        ObjectType::PUBLIC_KEY => ManagedObject::PublicKey(block),
        _ => ManagedObject::SymmetricKey(block),
    })
}

/// The key material or value bytes of a Get response.
fn material_of(item: &ResponseBatchItem) -> Option<Vec<u8>> {
    fn walk(t: &Ttlv) -> Option<Vec<u8>> {
        match t.tag {
            Tag::KEY_MATERIAL | Tag::CERTIFICATE_VALUE | Tag::OPAQUE_DATA_VALUE | Tag::KEY => {
                if let Some(b) = t.as_bytes() {
                    return Some(b.to_vec());
                }
            }
            _ => {}
        }
        t.items().iter().find_map(walk)
    }
    item.payload_items().iter().find_map(walk)
}

/// Writes `bytes` to `path` atomically, readable by the owner only (0600), never through a
/// symlink ([`tresor_store::fsutil::write_private_atomic`]).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KmipError> {
    tresor_store::fsutil::write_private_atomic(path, bytes)
        .map_err(|(what, p, e)| KmipError::io(format!("{what} '{}'", p.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key object `register` built by hand before the typed objects.
    fn by_hand(tag: Tag, secret: bool, alg: Option<u32>, length: Option<i32>) -> Ttlv {
        let f = match tag {
            Tag::SECRET_DATA => KeyFormatType::OPAQUE,
            Tag::PRIVATE_KEY => KeyFormatType::PKCS_8,
            Tag::PUBLIC_KEY => KeyFormatType::X_509,
            _ => KeyFormatType::RAW,
        };
        let mut block = vec![
            Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, f),
            Ttlv::structure(
                Tag::KEY_VALUE,
                vec![Ttlv::bytes(Tag::KEY_MATERIAL, vec![7u8; 16])],
            ),
        ];
        if let Some(a) = alg {
            block.push(Ttlv::enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM, a));
        }
        if let Some(l) = length {
            block.push(Ttlv::integer(Tag::CRYPTOGRAPHIC_LENGTH, l));
        }
        let mut items = Vec::new();
        if secret {
            items.push(Ttlv::enumeration(
                Tag::SECRET_DATA_TYPE,
                enums::SecretDataType::PASSWORD,
            ));
        }
        items.push(Ttlv::structure(Tag::KEY_BLOCK, block));
        Ttlv::structure(tag, items)
    }

    #[test]
    fn register_objects_are_the_hand_built_ones() -> Result<(), KmipError> {
        let obj =
            |ot, alg, len| register_object(ot, vec![7u8; 16], None, alg, len).map(|o| o.to_ttlv());
        let aes = Some(enums::CryptographicAlgorithm::AES.0);
        assert_eq!(
            obj(ObjectType::SYMMETRIC_KEY, aes, None)?,
            by_hand(Tag::SYMMETRIC_KEY, false, aes, Some(128))
        );
        assert_eq!(
            obj(ObjectType::SECRET_DATA, None, None)?,
            by_hand(Tag::SECRET_DATA, true, None, None)
        );
        assert_eq!(
            obj(ObjectType::PRIVATE_KEY, None, Some(2048))?,
            by_hand(Tag::PRIVATE_KEY, false, None, Some(2048))
        );
        assert_eq!(
            obj(ObjectType::PUBLIC_KEY, None, None)?,
            by_hand(Tag::PUBLIC_KEY, false, None, None)
        );
        assert_eq!(
            obj(ObjectType::CERTIFICATE, None, None)?,
            Ttlv::structure(
                Tag::CERTIFICATE,
                vec![
                    Ttlv::enumeration(Tag::CERTIFICATE_TYPE, enums::CertificateType::X_509),
                    Ttlv::bytes(Tag::CERTIFICATE_VALUE, vec![7u8; 16]),
                ],
            )
        );
        assert_eq!(
            obj(ObjectType::OPAQUE_OBJECT, None, None)?,
            Ttlv::structure(
                Tag::OPAQUE_OBJECT,
                vec![
                    Ttlv::enumeration(Tag::OPAQUE_DATA_TYPE, enums::OpaqueDataType::NONE),
                    Ttlv::bytes(Tag::OPAQUE_DATA_VALUE, vec![7u8; 16]),
                ],
            )
        );
        assert!(obj(ObjectType::SPLIT_KEY, None, None).is_err());
        Ok(())
    }
}
