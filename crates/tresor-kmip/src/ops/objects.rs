//! Managed objects on the wire (`SymmetricKey { KeyBlock }`, `Certificate`...) ⇄ the material
//! the store keeps, with key format conversion.
//!
//! Stored material: symmetric keys, secret data and opaque objects as their raw bytes,
//! certificates as X.509 DER, public keys as SubjectPublicKeyInfo DER, private keys as PKCS#8
//! DER. The format a key arrived in (or PKCS#1 for generated RSA keys) is kept in the
//! `Key Format Type` attribute and is what Get returns unless the client asks for another.

use crate::der;
use crate::enums::{
    CertificateType, CryptographicAlgorithm, KeyFormatType, ObjectType as KmipType, OpaqueDataType,
    SecretDataType,
};
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};
use tresor_store::ObjectType;

use super::OpError;

/// The KMIP object type of a store object type.
pub(crate) fn kmip_type(t: ObjectType) -> KmipType {
    match t {
        ObjectType::SymmetricKey => KmipType::SYMMETRIC_KEY,
        ObjectType::PublicKey => KmipType::PUBLIC_KEY,
        ObjectType::PrivateKey => KmipType::PRIVATE_KEY,
        ObjectType::Certificate => KmipType::CERTIFICATE,
        ObjectType::OpaqueObject => KmipType::OPAQUE_OBJECT,
        ObjectType::SplitKey => KmipType::SPLIT_KEY,
        _ => KmipType::SECRET_DATA,
    }
}

/// The store object type of a KMIP object type.
pub(crate) fn store_type(t: KmipType) -> Option<ObjectType> {
    Some(match t {
        KmipType::SYMMETRIC_KEY => ObjectType::SymmetricKey,
        KmipType::PUBLIC_KEY => ObjectType::PublicKey,
        KmipType::PRIVATE_KEY => ObjectType::PrivateKey,
        KmipType::CERTIFICATE => ObjectType::Certificate,
        KmipType::OPAQUE_OBJECT => ObjectType::OpaqueObject,
        KmipType::SECRET_DATA => ObjectType::SecretData,
        KmipType::SPLIT_KEY => ObjectType::SplitKey,
        _ => return None,
    })
}

/// The tag of the object structure for a type.
pub(crate) fn object_tag(t: ObjectType) -> Tag {
    match t {
        ObjectType::SymmetricKey => Tag::SYMMETRIC_KEY,
        ObjectType::PublicKey => Tag::PUBLIC_KEY,
        ObjectType::PrivateKey => Tag::PRIVATE_KEY,
        ObjectType::Certificate => Tag::CERTIFICATE,
        ObjectType::OpaqueObject => Tag::OPAQUE_OBJECT,
        ObjectType::SplitKey => Tag::SPLIT_KEY,
        _ => Tag::SECRET_DATA,
    }
}

/// A managed object received from a client, normalised for storage.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) object_type: ObjectType,
    pub(crate) material: Vec<u8>,
    pub(crate) format: Option<KeyFormatType>,
    pub(crate) algorithm: Option<CryptographicAlgorithm>,
    pub(crate) length: Option<i32>,
    /// `Secret Data Type`, `Opaque Data Type` or `Certificate Type`, by attribute name.
    pub(crate) subtype: Option<(&'static str, u32)>,
}

fn field(t: &Ttlv, tag: Tag) -> Result<&Ttlv, OpError> {
    t.find(tag).ok_or_else(|| OpError::missing(tag, t.tag))
}

/// Reads the object structure of a Register request.
pub(crate) fn read_object(t: &Ttlv) -> Result<Incoming, OpError> {
    let object_type = match t.tag {
        Tag::SYMMETRIC_KEY => ObjectType::SymmetricKey,
        Tag::PUBLIC_KEY => ObjectType::PublicKey,
        Tag::PRIVATE_KEY => ObjectType::PrivateKey,
        Tag::CERTIFICATE => ObjectType::Certificate,
        Tag::OPAQUE_OBJECT => ObjectType::OpaqueObject,
        Tag::SECRET_DATA => ObjectType::SecretData,
        other => {
            return Err(OpError::invalid_field(format!(
                "object {other} is not a supported managed object"
            )));
        }
    };
    match object_type {
        ObjectType::Certificate => {
            let ty = field(t, Tag::CERTIFICATE_TYPE)?
                .as_enumeration()
                .unwrap_or(CertificateType::X_509.0);
            let value = field(t, Tag::CERTIFICATE_VALUE)?
                .as_bytes()
                .ok_or_else(|| OpError::invalid_field("certificate value is not bytes"))?;
            Ok(Incoming {
                object_type,
                material: value.to_vec(),
                format: None,
                algorithm: None,
                length: None,
                subtype: Some(("Certificate Type", ty)),
            })
        }
        ObjectType::OpaqueObject => {
            let ty = field(t, Tag::OPAQUE_DATA_TYPE)?
                .as_enumeration()
                .unwrap_or(OpaqueDataType::NONE.0);
            let value = field(t, Tag::OPAQUE_DATA_VALUE)?
                .as_bytes()
                .ok_or_else(|| OpError::invalid_field("opaque data value is not bytes"))?;
            Ok(Incoming {
                object_type,
                material: value.to_vec(),
                format: None,
                algorithm: None,
                length: None,
                subtype: Some(("Opaque Data Type", ty)),
            })
        }
        _ => {
            let subtype = if object_type == ObjectType::SecretData {
                let ty = t
                    .find(Tag::SECRET_DATA_TYPE)
                    .and_then(Ttlv::as_enumeration)
                    .unwrap_or(SecretDataType::PASSWORD.0);
                Some(("Secret Data Type", ty))
            } else {
                None
            };
            let block = field(t, Tag::KEY_BLOCK)?;
            let mut inc = read_key_block(object_type, block)?;
            inc.subtype = subtype;
            Ok(inc)
        }
    }
}

fn read_key_block(object_type: ObjectType, block: &Ttlv) -> Result<Incoming, OpError> {
    let format = KeyFormatType(
        field(block, Tag::KEY_FORMAT_TYPE)?
            .as_enumeration()
            .ok_or_else(|| OpError::invalid_field("key format type is not an enumeration"))?,
    );
    if block.find(Tag::KEY_WRAPPING_DATA).is_some() {
        return Err(OpError::new(
            crate::enums::ResultReason::KEY_WRAP_TYPE_NOT_SUPPORTED,
            "wrapped key blocks are not supported",
        ));
    }
    let algorithm = block
        .find(Tag::CRYPTOGRAPHIC_ALGORITHM)
        .and_then(Ttlv::as_enumeration)
        .map(CryptographicAlgorithm);
    let mut length = block
        .find(Tag::CRYPTOGRAPHIC_LENGTH)
        .and_then(Ttlv::as_integer);
    let value = field(block, Tag::KEY_VALUE)?;
    let km = match &value.value {
        Value::ByteString(b) => b.clone(),
        Value::Structure(_) => {
            let m = field(value, Tag::KEY_MATERIAL)?;
            match &m.value {
                Value::ByteString(b) => b.clone(),
                Value::Structure(_) if format == KeyFormatType::TRANSPARENT_SYMMETRIC_KEY => m
                    .find(Tag::KEY)
                    .and_then(Ttlv::as_bytes)
                    .ok_or_else(|| OpError::missing(Tag::KEY, Tag::KEY_MATERIAL))?
                    .to_vec(),
                Value::Structure(_) if format == KeyFormatType::TRANSPARENT_RSA_PUBLIC_KEY => {
                    rsa_fields_to_pkcs1(m, RSA_PUBLIC_FIELDS, false)?
                }
                Value::Structure(_) if format == KeyFormatType::TRANSPARENT_RSA_PRIVATE_KEY => {
                    rsa_fields_to_pkcs1(m, RSA_PRIVATE_FIELDS, true)?
                }
                Value::Structure(_) if format == KeyFormatType::TRANSPARENT_DSA_PUBLIC_KEY => {
                    der::dsa_spki(&dsa_fields(m, Tag::Y)?)
                }
                Value::Structure(_) if format == KeyFormatType::TRANSPARENT_DSA_PRIVATE_KEY => {
                    der::dsa_pkcs8(&dsa_fields(m, Tag::X)?)
                }
                _ => {
                    return Err(OpError::new(
                        crate::enums::ResultReason::KEY_FORMAT_TYPE_NOT_SUPPORTED,
                        format!("key format {format} is not supported for registration"),
                    ));
                }
            }
        }
        _ => return Err(OpError::invalid_field("key value has the wrong type")),
    };
    let unsupported = || {
        OpError::new(
            crate::enums::ResultReason::KEY_FORMAT_TYPE_NOT_SUPPORTED,
            format!("key format {format} is not supported for a {object_type}"),
        )
    };
    let material = match object_type {
        ObjectType::SymmetricKey | ObjectType::SecretData => match format {
            KeyFormatType::RAW
            | KeyFormatType::OPAQUE
            | KeyFormatType::TRANSPARENT_SYMMETRIC_KEY => km,
            _ => return Err(unsupported()),
        },
        ObjectType::PrivateKey => match format {
            KeyFormatType::PKCS_1 | KeyFormatType::TRANSPARENT_RSA_PRIVATE_KEY => {
                der::rsa_pkcs1_to_pkcs8(&km)
            }
            KeyFormatType::PKCS_8
            | KeyFormatType::RAW
            | KeyFormatType::TRANSPARENT_DSA_PRIVATE_KEY => km,
            KeyFormatType::EC_PRIVATE_KEY => ec_sec1_to_pkcs8(&km)?,
            _ => return Err(unsupported()),
        },
        ObjectType::PublicKey => match format {
            KeyFormatType::PKCS_1 | KeyFormatType::TRANSPARENT_RSA_PUBLIC_KEY => {
                der::rsa_pkcs1_to_spki(&km)
            }
            KeyFormatType::X_509
            | KeyFormatType::RAW
            | KeyFormatType::TRANSPARENT_DSA_PUBLIC_KEY => km,
            _ => return Err(unsupported()),
        },
        _ => return Err(unsupported()),
    };
    if length.is_none() && matches!(object_type, ObjectType::SymmetricKey) {
        length = i32::try_from(material.len() * 8).ok();
    }
    if length.is_none() && matches!(object_type, ObjectType::PrivateKey | ObjectType::PublicKey) {
        length = super::crypto::key_bits(object_type, &material);
    }
    Ok(Incoming {
        object_type,
        material,
        format: Some(format),
        algorithm,
        length,
        subtype: None,
    })
}

fn ec_sec1_to_pkcs8(sec1: &[u8]) -> Result<Vec<u8>, OpError> {
    for alg in [
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
    ] {
        if let Ok(k) = aws_lc_rs::signature::EcdsaKeyPair::from_private_key_der(alg, sec1)
            && let Ok(doc) = k.to_pkcs8v1()
        {
            return Ok(doc.as_ref().to_vec());
        }
    }
    Err(OpError::invalid_field(
        "ec private key is not a P-256 or P-384 key",
    ))
}

/// The default format Get returns for a stored object.
pub(crate) fn default_format(
    object_type: ObjectType,
    stored: Option<KeyFormatType>,
) -> KeyFormatType {
    match (object_type, stored) {
        (ObjectType::PrivateKey, Some(KeyFormatType::RAW) | None) => KeyFormatType::PKCS_8,
        (ObjectType::PublicKey, Some(KeyFormatType::RAW) | None) => KeyFormatType::X_509,
        (_, Some(f)) => f,
        // Vault secrets carry no Key Format Type: they are opaque bytes.
        (ObjectType::SecretData, None) => KeyFormatType::OPAQUE,
        _ => KeyFormatType::RAW,
    }
}

/// Encodes the stored material of an object as its KMIP object structure in `format`.
pub(crate) fn write_object(
    object_type: ObjectType,
    material: &[u8],
    format: KeyFormatType,
    algorithm: Option<CryptographicAlgorithm>,
    length: Option<i32>,
    subtype: Option<u32>,
) -> Result<Ttlv, OpError> {
    let tag = object_tag(object_type);
    match object_type {
        ObjectType::Certificate => {
            return Ok(Ttlv::structure(
                tag,
                vec![
                    Ttlv::enumeration(
                        Tag::CERTIFICATE_TYPE,
                        subtype.unwrap_or(CertificateType::X_509.0),
                    ),
                    Ttlv::bytes(Tag::CERTIFICATE_VALUE, material.to_vec()),
                ],
            ));
        }
        ObjectType::OpaqueObject => {
            return Ok(Ttlv::structure(
                tag,
                vec![
                    Ttlv::enumeration(
                        Tag::OPAQUE_DATA_TYPE,
                        subtype.unwrap_or(OpaqueDataType::NONE.0),
                    ),
                    Ttlv::bytes(Tag::OPAQUE_DATA_VALUE, material.to_vec()),
                ],
            ));
        }
        _ => {}
    }
    let unsupported = || {
        OpError::new(
            crate::enums::ResultReason::KEY_FORMAT_TYPE_NOT_SUPPORTED,
            format!("key format {format} is not available for a {object_type}"),
        )
    };
    let km = match object_type {
        ObjectType::SymmetricKey | ObjectType::SecretData => match format {
            KeyFormatType::RAW | KeyFormatType::OPAQUE => {
                Ttlv::bytes(Tag::KEY_MATERIAL, material.to_vec())
            }
            KeyFormatType::TRANSPARENT_SYMMETRIC_KEY if object_type == ObjectType::SymmetricKey => {
                Ttlv::structure(
                    Tag::KEY_MATERIAL,
                    vec![Ttlv::bytes(Tag::KEY, material.to_vec())],
                )
            }
            _ => return Err(unsupported()),
        },
        ObjectType::PrivateKey => {
            let bytes = match format {
                KeyFormatType::PKCS_8 => material.to_vec(),
                KeyFormatType::PKCS_1 => match der::pkcs8_parts(material) {
                    Some((oid, inner)) if der::is_rsa_oid(oid) => inner.to_vec(),
                    _ => return Err(unsupported()),
                },
                KeyFormatType::EC_PRIVATE_KEY => match der::pkcs8_parts(material) {
                    Some((oid, inner)) if !der::is_rsa_oid(oid) => inner.to_vec(),
                    _ => return Err(unsupported()),
                },
                KeyFormatType::TRANSPARENT_RSA_PRIVATE_KEY => match der::pkcs8_parts(material) {
                    Some((oid, inner)) if der::is_rsa_oid(oid) => {
                        return finish_block(
                            object_type,
                            format,
                            pkcs1_to_rsa_fields(inner, RSA_PRIVATE_FIELDS, true)
                                .ok_or_else(unsupported)?,
                            algorithm,
                            length,
                            subtype,
                        );
                    }
                    _ => return Err(unsupported()),
                },
                KeyFormatType::TRANSPARENT_DSA_PRIVATE_KEY => {
                    let d = der::dsa_pkcs8_parts(material).ok_or_else(unsupported)?;
                    return finish_block(
                        object_type,
                        format,
                        dsa_material(&d, Tag::X),
                        algorithm,
                        length,
                        subtype,
                    );
                }
                _ => return Err(unsupported()),
            };
            Ttlv::bytes(Tag::KEY_MATERIAL, bytes)
        }
        ObjectType::PublicKey => {
            let bytes = match format {
                KeyFormatType::X_509 => material.to_vec(),
                KeyFormatType::PKCS_1 => match der::spki_parts(material) {
                    Some((oid, inner)) if der::is_rsa_oid(oid) => inner.to_vec(),
                    _ => return Err(unsupported()),
                },
                KeyFormatType::TRANSPARENT_RSA_PUBLIC_KEY => match der::spki_parts(material) {
                    Some((oid, inner)) if der::is_rsa_oid(oid) => {
                        return finish_block(
                            object_type,
                            format,
                            pkcs1_to_rsa_fields(inner, RSA_PUBLIC_FIELDS, false)
                                .ok_or_else(unsupported)?,
                            algorithm,
                            length,
                            subtype,
                        );
                    }
                    _ => return Err(unsupported()),
                },
                KeyFormatType::TRANSPARENT_DSA_PUBLIC_KEY => {
                    let d = der::dsa_spki_parts(material).ok_or_else(unsupported)?;
                    return finish_block(
                        object_type,
                        format,
                        dsa_material(&d, Tag::Y),
                        algorithm,
                        length,
                        subtype,
                    );
                }
                _ => return Err(unsupported()),
            };
            Ttlv::bytes(Tag::KEY_MATERIAL, bytes)
        }
        _ => return Err(unsupported()),
    };
    finish_block(object_type, format, km, algorithm, length, subtype)
}

/// Wraps key material in a key block and the object structure.
fn finish_block(
    object_type: ObjectType,
    format: KeyFormatType,
    km: Ttlv,
    algorithm: Option<CryptographicAlgorithm>,
    length: Option<i32>,
    subtype: Option<u32>,
) -> Result<Ttlv, OpError> {
    let tag = object_tag(object_type);
    let mut block = vec![
        Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, format),
        Ttlv::structure(Tag::KEY_VALUE, vec![km]),
    ];
    if let Some(a) = algorithm {
        block.push(Ttlv::enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM, a));
    }
    if let Some(l) = length {
        block.push(Ttlv::integer(Tag::CRYPTOGRAPHIC_LENGTH, l));
    }
    let mut items = Vec::new();
    if object_type == ObjectType::SecretData {
        items.push(Ttlv::enumeration(
            Tag::SECRET_DATA_TYPE,
            subtype.unwrap_or(SecretDataType::PASSWORD.0),
        ));
    }
    items.push(Ttlv::structure(Tag::KEY_BLOCK, block));
    Ok(Ttlv::structure(tag, items))
}

/// Transparent RSA public key fields, in PKCS#1 `RSAPublicKey` order.
const RSA_PUBLIC_FIELDS: &[Tag] = &[Tag::MODULUS, Tag::PUBLIC_EXPONENT];
/// Transparent RSA private key fields, in PKCS#1 `RSAPrivateKey` order (after the version).
const RSA_PRIVATE_FIELDS: &[Tag] = &[
    Tag::MODULUS,
    Tag::PUBLIC_EXPONENT,
    Tag::PRIVATE_EXPONENT,
    Tag::P,
    Tag::Q,
    Tag::PRIME_EXPONENT_P,
    Tag::PRIME_EXPONENT_Q,
    Tag::CRT_COEFFICIENT,
];

/// A DER INTEGER body from a KMIP Big Integer (two's complement, big-endian, padded).
fn der_integer(b: &[u8]) -> Vec<u8> {
    let skip = b.iter().take_while(|&&x| x == 0).count();
    let mut v: Vec<u8> = b.get(skip..).unwrap_or_default().to_vec();
    if v.first().is_none_or(|&x| x & 0x80 != 0) {
        v.insert(0, 0);
    }
    der::tlv(der::INTEGER, &v)
}

/// A KMIP Big Integer (length a multiple of 8) from a DER INTEGER body.
fn big_integer(body: &[u8]) -> Vec<u8> {
    let skip = body.iter().take_while(|&&x| x == 0).count();
    let v = body.get(skip..).unwrap_or_default();
    // Two's complement: a positive value whose top bit is set needs a zero sign byte.
    let sign = usize::from(v.first().is_some_and(|&b| b & 0x80 != 0));
    let len = (v.len() + sign).div_ceil(8).max(1) * 8;
    let mut out = vec![0u8; len - v.len()];
    out.extend_from_slice(v);
    out
}

/// Transparent RSA key material → PKCS#1 DER.
fn rsa_fields_to_pkcs1(m: &Ttlv, fields: &[Tag], private: bool) -> Result<Vec<u8>, OpError> {
    let mut body = Vec::new();
    if private {
        body.extend(der::tlv(der::INTEGER, &[0]));
    }
    for &f in fields {
        let v = match m.find(f).map(|t| &t.value) {
            Some(Value::BigInteger(b)) => b.clone(),
            Some(Value::Integer(i)) => i.to_be_bytes().to_vec(),
            Some(Value::LongInteger(i)) => i.to_be_bytes().to_vec(),
            _ => return Err(OpError::missing(f, Tag::KEY_MATERIAL)),
        };
        body.extend(der_integer(&v));
    }
    Ok(der::tlv(der::SEQUENCE, &body))
}

/// The DER INTEGER body of a Big Integer (or Integer) field of transparent key material.
fn integer_field(m: &Ttlv, f: Tag) -> Result<Vec<u8>, OpError> {
    let v = match m.find(f).map(|t| &t.value) {
        Some(Value::BigInteger(b)) => b.clone(),
        Some(Value::Integer(i)) => i.to_be_bytes().to_vec(),
        Some(Value::LongInteger(i)) => i.to_be_bytes().to_vec(),
        _ => return Err(OpError::missing(f, Tag::KEY_MATERIAL)),
    };
    // `der_integer` returns the whole TLV: keep its body.
    let tlv = der_integer(&v);
    let mut r = der::Reader::new(&tlv);
    Ok(r.expect(der::INTEGER)
        .map(|e| e.body.to_vec())
        .unwrap_or_default())
}

/// Transparent DSA key material (P, Q, G and `key`: Y or X) → DER parts.
fn dsa_fields(m: &Ttlv, key: Tag) -> Result<der::DsaParts, OpError> {
    Ok(der::DsaParts {
        p: integer_field(m, Tag::P)?,
        q: integer_field(m, Tag::Q)?,
        g: integer_field(m, Tag::G)?,
        key: integer_field(m, key)?,
    })
}

/// DER parts → transparent DSA key material.
fn dsa_material(d: &der::DsaParts, key: Tag) -> Ttlv {
    Ttlv::structure(
        Tag::KEY_MATERIAL,
        vec![
            Ttlv::new(Tag::P, Value::BigInteger(big_integer(&d.p))),
            Ttlv::new(Tag::Q, Value::BigInteger(big_integer(&d.q))),
            Ttlv::new(Tag::G, Value::BigInteger(big_integer(&d.g))),
            Ttlv::new(key, Value::BigInteger(big_integer(&d.key))),
        ],
    )
}

/// PKCS#1 DER → transparent RSA key material.
fn pkcs1_to_rsa_fields(pkcs1: &[u8], fields: &[Tag], private: bool) -> Option<Ttlv> {
    let seq = der::Reader::new(pkcs1).expect(der::SEQUENCE)?;
    let mut r = der::Reader::new(seq.body);
    if private {
        r.expect(der::INTEGER)?;
    }
    let mut items = Vec::new();
    for &f in fields {
        let i = r.expect(der::INTEGER)?;
        items.push(Ttlv::new(f, Value::BigInteger(big_integer(i.body))));
    }
    Some(Ttlv::structure(Tag::KEY_MATERIAL, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transparent_rsa_round_trips() {
        let kp =
            super::super::crypto::key_pair(CryptographicAlgorithm::RSA, Some(2048), None).unwrap();
        for (t, material, format) in [
            (
                ObjectType::PrivateKey,
                kp.private_pkcs8.to_vec(),
                KeyFormatType::TRANSPARENT_RSA_PRIVATE_KEY,
            ),
            (
                ObjectType::PublicKey,
                kp.public_spki.clone(),
                KeyFormatType::TRANSPARENT_RSA_PUBLIC_KEY,
            ),
        ] {
            let obj = write_object(t, &material, format, None, None, None).unwrap();
            let back = read_object(&obj).unwrap();
            assert_eq!(back.material, material, "{t}");
            assert_eq!(back.length, Some(2048));
        }
    }
}
