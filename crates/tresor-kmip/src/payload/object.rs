//! The managed objects a client registers, typed: keys with a plain [`KeyBlock`], Secret
//! Data, Certificates, Opaque Objects and Split Key parts ([`ManagedObject`]).
//!
//! The server reads a Register's object from its tree (`ops::objects`), which also takes
//! Transparent keys and wrapped key blocks; these types are what clients build.

use std::fmt;

use zeroize::Zeroize;

use super::{PayloadError, opt_enum, opt_integer, push_opt, req_enum};
use crate::enums::{
    CertificateType, CryptographicAlgorithm, KeyFormatType, ObjectType, OpaqueDataType,
    SecretDataType, SplitKeyMethod,
};
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// A `KeyBlock` with plain key material (a byte string in a `KeyValue` structure).
///
/// `Debug` prints only the material's length, and the material is zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBlock {
    /// The format of the material (Raw, Opaque, PKCS#1, PKCS#8, X.509...).
    pub key_format_type: KeyFormatType,
    /// The key bytes.
    pub key_material: Vec<u8>,
    /// The key's algorithm.
    pub cryptographic_algorithm: Option<CryptographicAlgorithm>,
    /// The key's length in bits.
    pub cryptographic_length: Option<i32>,
}

impl fmt::Debug for KeyBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyBlock")
            .field("key_format_type", &self.key_format_type)
            .field(
                "key_material",
                &format_args!("[REDACTED; {} bytes]", self.key_material.len()),
            )
            .field("cryptographic_algorithm", &self.cryptographic_algorithm)
            .field("cryptographic_length", &self.cryptographic_length)
            .finish()
    }
}

impl Drop for KeyBlock {
    fn drop(&mut self) {
        self.key_material.zeroize();
    }
}

/// The required `tag` field of `t`.
fn field(t: &Ttlv, tag: Tag) -> Result<&Ttlv, PayloadError> {
    t.find(tag).ok_or(PayloadError::Missing {
        parent: t.tag,
        field: tag,
    })
}

/// The required byte string `tag` of `t`.
fn req_bytes(t: &Ttlv, tag: Tag) -> Result<Vec<u8>, PayloadError> {
    field(t, tag)?
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| PayloadError::Invalid(format!("{tag} is not a byte string")))
}

/// The required integer `tag` of `t`.
fn req_integer(t: &Ttlv, tag: Tag) -> Result<i32, PayloadError> {
    field(t, tag)?
        .as_integer()
        .ok_or_else(|| PayloadError::Invalid(format!("{tag} is not an integer")))
}

impl KeyBlock {
    /// A key block of `key_material` in format `key_format_type`, without algorithm or
    /// length.
    pub fn new(key_format_type: KeyFormatType, key_material: Vec<u8>) -> Self {
        KeyBlock {
            key_format_type,
            key_material,
            cryptographic_algorithm: None,
            cryptographic_length: None,
        }
    }

    /// Reads a `KeyBlock` structure.
    ///
    /// # Errors
    /// [`PayloadError::Missing`] for a missing field; [`PayloadError::Invalid`] when the key
    /// value is not plain bytes (wrapped or Transparent material).
    pub fn from_ttlv(block: &Ttlv) -> Result<Self, PayloadError> {
        let key_format_type = KeyFormatType(req_enum(block, Tag::KEY_FORMAT_TYPE)?);
        let value = field(block, Tag::KEY_VALUE)?;
        if !matches!(value.value, Value::Structure(_)) {
            return Err(PayloadError::Invalid(format!(
                "{} is wrapped, not plain key material",
                Tag::KEY_VALUE
            )));
        }
        Ok(KeyBlock {
            key_format_type,
            key_material: req_bytes(value, Tag::KEY_MATERIAL)?,
            cryptographic_algorithm: opt_enum(block, Tag::CRYPTOGRAPHIC_ALGORITHM)
                .map(CryptographicAlgorithm),
            cryptographic_length: opt_integer(block, Tag::CRYPTOGRAPHIC_LENGTH),
        })
    }

    /// The `KeyBlock` structure.
    pub fn to_ttlv(&self) -> Ttlv {
        let mut items = vec![
            Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, self.key_format_type),
            Ttlv::structure(
                Tag::KEY_VALUE,
                vec![Ttlv::bytes(Tag::KEY_MATERIAL, self.key_material.clone())],
            ),
        ];
        push_opt(
            &mut items,
            self.cryptographic_algorithm
                .map(|a| Ttlv::enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM, a)),
        );
        push_opt(
            &mut items,
            self.cryptographic_length
                .map(|l| Ttlv::integer(Tag::CRYPTOGRAPHIC_LENGTH, l)),
        );
        Ttlv::structure(Tag::KEY_BLOCK, items)
    }
}

/// A managed object, as a Register request carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagedObject {
    /// `SymmetricKey`: a key block.
    SymmetricKey(KeyBlock),
    /// `PublicKey`: a key block (X.509 SubjectPublicKeyInfo, PKCS#1...).
    PublicKey(KeyBlock),
    /// `PrivateKey`: a key block (PKCS#8, PKCS#1...).
    PrivateKey(KeyBlock),
    /// `SecretData`: what the secret is, and a key block.
    SecretData {
        /// Password, Seed.
        secret_data_type: SecretDataType,
        /// The secret.
        key_block: KeyBlock,
    },
    /// `Certificate`: its type and encoded value.
    Certificate {
        /// X.509, PGP.
        certificate_type: CertificateType,
        /// The certificate (DER for X.509).
        certificate_value: Vec<u8>,
    },
    /// `OpaqueObject`: bytes the server does not interpret.
    OpaqueObject {
        /// The data's type (vendor-defined; None in most clients).
        opaque_data_type: OpaqueDataType,
        /// The bytes.
        opaque_data_value: Vec<u8>,
    },
    /// `SplitKey`: one part of a key split among several holders.
    SplitKey {
        /// How many parts the key was split into.
        split_key_parts: i32,
        /// Which part this is (1 to the number of parts).
        key_part_identifier: i32,
        /// How many parts rebuild the key.
        split_key_threshold: i32,
        /// How the key was split (XOR, polynomial sharing...).
        split_key_method: SplitKeyMethod,
        /// The prime field's size, big-endian (polynomial sharing over a prime field).
        prime_field_size: Option<Vec<u8>>,
        /// The part's material.
        key_block: KeyBlock,
    },
}

impl ManagedObject {
    /// The object's KMIP type.
    pub fn object_type(&self) -> ObjectType {
        match self {
            ManagedObject::SymmetricKey(_) => ObjectType::SYMMETRIC_KEY,
            ManagedObject::PublicKey(_) => ObjectType::PUBLIC_KEY,
            ManagedObject::PrivateKey(_) => ObjectType::PRIVATE_KEY,
            ManagedObject::SecretData { .. } => ObjectType::SECRET_DATA,
            ManagedObject::Certificate { .. } => ObjectType::CERTIFICATE,
            ManagedObject::OpaqueObject { .. } => ObjectType::OPAQUE_OBJECT,
            ManagedObject::SplitKey { .. } => ObjectType::SPLIT_KEY,
        }
    }

    /// Reads a managed-object structure (its tag names the type).
    ///
    /// # Errors
    /// [`PayloadError::Missing`] for a missing field; [`PayloadError::Invalid`] for another
    /// structure, a field of the wrong item type, or key material that is not plain bytes.
    pub fn from_ttlv(t: &Ttlv) -> Result<Self, PayloadError> {
        let block = || KeyBlock::from_ttlv(field(t, Tag::KEY_BLOCK)?);
        Ok(match t.tag {
            Tag::SYMMETRIC_KEY => ManagedObject::SymmetricKey(block()?),
            Tag::PUBLIC_KEY => ManagedObject::PublicKey(block()?),
            Tag::PRIVATE_KEY => ManagedObject::PrivateKey(block()?),
            Tag::SECRET_DATA => ManagedObject::SecretData {
                secret_data_type: SecretDataType(req_enum(t, Tag::SECRET_DATA_TYPE)?),
                key_block: block()?,
            },
            Tag::CERTIFICATE => ManagedObject::Certificate {
                certificate_type: CertificateType(req_enum(t, Tag::CERTIFICATE_TYPE)?),
                certificate_value: req_bytes(t, Tag::CERTIFICATE_VALUE)?,
            },
            Tag::OPAQUE_OBJECT => ManagedObject::OpaqueObject {
                opaque_data_type: OpaqueDataType(req_enum(t, Tag::OPAQUE_DATA_TYPE)?),
                opaque_data_value: req_bytes(t, Tag::OPAQUE_DATA_VALUE)?,
            },
            Tag::SPLIT_KEY => ManagedObject::SplitKey {
                split_key_parts: req_integer(t, Tag::SPLIT_KEY_PARTS)?,
                key_part_identifier: req_integer(t, Tag::KEY_PART_IDENTIFIER)?,
                split_key_threshold: req_integer(t, Tag::SPLIT_KEY_THRESHOLD)?,
                split_key_method: SplitKeyMethod(req_enum(t, Tag::SPLIT_KEY_METHOD)?),
                prime_field_size: t.find(Tag::PRIME_FIELD_SIZE).and_then(|p| match &p.value {
                    Value::BigInteger(b) => Some(b.clone()),
                    _ => None,
                }),
                key_block: block()?,
            },
            other => {
                return Err(PayloadError::Invalid(format!(
                    "{other} is not a managed object"
                )));
            }
        })
    }

    /// The managed-object structure.
    pub fn to_ttlv(&self) -> Ttlv {
        match self {
            ManagedObject::SymmetricKey(b) => {
                Ttlv::structure(Tag::SYMMETRIC_KEY, vec![b.to_ttlv()])
            }
            ManagedObject::PublicKey(b) => Ttlv::structure(Tag::PUBLIC_KEY, vec![b.to_ttlv()]),
            ManagedObject::PrivateKey(b) => Ttlv::structure(Tag::PRIVATE_KEY, vec![b.to_ttlv()]),
            ManagedObject::SecretData {
                secret_data_type,
                key_block,
            } => Ttlv::structure(
                Tag::SECRET_DATA,
                vec![
                    Ttlv::enumeration(Tag::SECRET_DATA_TYPE, *secret_data_type),
                    key_block.to_ttlv(),
                ],
            ),
            ManagedObject::Certificate {
                certificate_type,
                certificate_value,
            } => Ttlv::structure(
                Tag::CERTIFICATE,
                vec![
                    Ttlv::enumeration(Tag::CERTIFICATE_TYPE, *certificate_type),
                    Ttlv::bytes(Tag::CERTIFICATE_VALUE, certificate_value.clone()),
                ],
            ),
            ManagedObject::OpaqueObject {
                opaque_data_type,
                opaque_data_value,
            } => Ttlv::structure(
                Tag::OPAQUE_OBJECT,
                vec![
                    Ttlv::enumeration(Tag::OPAQUE_DATA_TYPE, *opaque_data_type),
                    Ttlv::bytes(Tag::OPAQUE_DATA_VALUE, opaque_data_value.clone()),
                ],
            ),
            ManagedObject::SplitKey {
                split_key_parts,
                key_part_identifier,
                split_key_threshold,
                split_key_method,
                prime_field_size,
                key_block,
            } => {
                let mut items = vec![
                    Ttlv::integer(Tag::SPLIT_KEY_PARTS, *split_key_parts),
                    Ttlv::integer(Tag::KEY_PART_IDENTIFIER, *key_part_identifier),
                    Ttlv::integer(Tag::SPLIT_KEY_THRESHOLD, *split_key_threshold),
                    Ttlv::enumeration(Tag::SPLIT_KEY_METHOD, *split_key_method),
                ];
                push_opt(
                    &mut items,
                    prime_field_size
                        .as_ref()
                        .map(|p| Ttlv::new(Tag::PRIME_FIELD_SIZE, Value::BigInteger(p.clone()))),
                );
                items.push(key_block.to_ttlv());
                Ttlv::structure(Tag::SPLIT_KEY, items)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::payload::testing;

    fn block() -> impl Strategy<Value = KeyBlock> {
        (
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..48),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<i32>()),
        )
            .prop_map(|(f, m, a, l)| KeyBlock {
                key_format_type: KeyFormatType(f),
                key_material: m,
                cryptographic_algorithm: a.map(CryptographicAlgorithm),
                cryptographic_length: l,
            })
    }

    fn object() -> impl Strategy<Value = ManagedObject> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..32);
        prop_oneof![
            block().prop_map(ManagedObject::SymmetricKey),
            block().prop_map(ManagedObject::PublicKey),
            block().prop_map(ManagedObject::PrivateKey),
            (any::<u32>(), block()).prop_map(|(t, b)| ManagedObject::SecretData {
                secret_data_type: SecretDataType(t),
                key_block: b,
            }),
            (any::<u32>(), bytes()).prop_map(|(t, v)| ManagedObject::Certificate {
                certificate_type: CertificateType(t),
                certificate_value: v,
            }),
            (any::<u32>(), bytes()).prop_map(|(t, v)| ManagedObject::OpaqueObject {
                opaque_data_type: OpaqueDataType(t),
                opaque_data_value: v,
            }),
            (
                any::<(i32, i32, i32, u32)>(),
                proptest::option::of(bytes()),
                block()
            )
                .prop_map(|((n, id, k, m), p, b)| ManagedObject::SplitKey {
                    split_key_parts: n,
                    key_part_identifier: id,
                    split_key_threshold: k,
                    split_key_method: SplitKeyMethod(m),
                    prime_field_size: p,
                    key_block: b,
                }),
        ]
    }

    proptest! {
        #[test]
        fn objects_round_trip(o in object()) {
            let t = o.to_ttlv();
            prop_assert_eq!(crate::payload::object_tag(o.object_type()), Some(t.tag));
            prop_assert_eq!(ManagedObject::from_ttlv(&t)?, o);
        }

        #[test]
        fn never_panics(t in testing::tree()) {
            let _ = ManagedObject::from_ttlv(&t);
            let _ = KeyBlock::from_ttlv(&t);
            for i in t.items() {
                let _ = ManagedObject::from_ttlv(i);
            }
        }
    }

    #[test]
    fn wrapped_material_and_other_structures_are_invalid() {
        let wrapped = Ttlv::structure(
            Tag::KEY_BLOCK,
            vec![
                Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, KeyFormatType::RAW),
                Ttlv::bytes(Tag::KEY_VALUE, vec![1, 2, 3]),
            ],
        );
        assert!(matches!(
            KeyBlock::from_ttlv(&wrapped),
            Err(PayloadError::Invalid(_))
        ));
        let other = Ttlv::structure(Tag::TEMPLATE_ATTRIBUTE, vec![]);
        assert!(matches!(
            ManagedObject::from_ttlv(&other),
            Err(PayloadError::Invalid(_))
        ));
        let b = KeyBlock::new(KeyFormatType::RAW, vec![0xAB; 3]);
        assert!(!format!("{b:?}").contains("171"), "{b:?}");
    }
}
