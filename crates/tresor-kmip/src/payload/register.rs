//! Register: a managed object the client supplies, with its attributes; and
//! [`SecretData`], the object the vault's secrets travel as. Every other object type is
//! built with [`super::object::ManagedObject`] ([`RegisterRequest::new`]).

use std::fmt;

use zeroize::Zeroize;

use super::object::ManagedObject;
use super::{Payload, PayloadError, Request, opt_enum, push_opt, req_enum};
use crate::attributes::{AttributeSet, Container};
use crate::enums::{KeyFormatType, ObjectType, Operation, SecretDataType};
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// A Secret Data object with plain key material (`SecretData` structure: Secret Data Type,
/// Key Block with Key Format Type and Key Value / Key Material).
///
/// `Debug` prints only the material's length, and the material is zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretData {
    /// What the secret is (Password, Seed).
    pub secret_data_type: SecretDataType,
    /// The key format (Opaque for tresor's secrets).
    pub key_format_type: KeyFormatType,
    /// The secret bytes.
    pub key_material: Vec<u8>,
}

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretData")
            .field("secret_data_type", &self.secret_data_type)
            .field("key_format_type", &self.key_format_type)
            .field(
                "key_material",
                &format_args!("[REDACTED; {} bytes]", self.key_material.len()),
            )
            .finish()
    }
}

impl Drop for SecretData {
    fn drop(&mut self) {
        self.key_material.zeroize();
    }
}

impl SecretData {
    /// Secret Data of type `secret_data_type` holding `key_material` in Opaque format.
    pub fn new(secret_data_type: SecretDataType, key_material: Vec<u8>) -> Self {
        SecretData {
            secret_data_type,
            key_format_type: KeyFormatType::OPAQUE,
            key_material,
        }
    }

    /// Reads a `SecretData` structure.
    ///
    /// # Errors
    /// [`PayloadError::Missing`] for a missing field; [`PayloadError::Invalid`] when `t` is
    /// not Secret Data or its key value is not plain bytes (wrapped material).
    pub fn from_ttlv(t: &Ttlv) -> Result<Self, PayloadError> {
        if t.tag != Tag::SECRET_DATA {
            return Err(PayloadError::Invalid(format!(
                "object {} is not {}",
                t.tag,
                Tag::SECRET_DATA
            )));
        }
        let secret_data_type = SecretDataType(req_enum(t, Tag::SECRET_DATA_TYPE)?);
        let block = t.find(Tag::KEY_BLOCK).ok_or(PayloadError::Missing {
            parent: t.tag,
            field: Tag::KEY_BLOCK,
        })?;
        let key_format_type = KeyFormatType(req_enum(block, Tag::KEY_FORMAT_TYPE)?);
        let value = block.find(Tag::KEY_VALUE).ok_or(PayloadError::Missing {
            parent: block.tag,
            field: Tag::KEY_VALUE,
        })?;
        let key_material = match &value.value {
            Value::Structure(_) => value
                .find(Tag::KEY_MATERIAL)
                .ok_or(PayloadError::Missing {
                    parent: value.tag,
                    field: Tag::KEY_MATERIAL,
                })?
                .as_bytes()
                .ok_or_else(|| {
                    PayloadError::Invalid(format!("{} is not a byte string", Tag::KEY_MATERIAL))
                })?
                .to_vec(),
            _ => {
                return Err(PayloadError::Invalid(format!(
                    "{} is wrapped, not plain key material",
                    Tag::KEY_VALUE
                )));
            }
        };
        Ok(SecretData {
            secret_data_type,
            key_format_type,
            key_material,
        })
    }

    /// The `SecretData` structure.
    pub fn to_ttlv(&self) -> Ttlv {
        Ttlv::structure(
            Tag::SECRET_DATA,
            vec![
                Ttlv::enumeration(Tag::SECRET_DATA_TYPE, self.secret_data_type),
                Ttlv::structure(
                    Tag::KEY_BLOCK,
                    vec![
                        Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, self.key_format_type),
                        Ttlv::structure(
                            Tag::KEY_VALUE,
                            vec![Ttlv::bytes(Tag::KEY_MATERIAL, self.key_material.clone())],
                        ),
                    ],
                ),
            ],
        )
    }
}

/// A Register request: the object's type, its attributes and the managed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRequest {
    /// The object's type (the server also accepts a request without it and takes the
    /// object's own).
    pub object_type: Option<ObjectType>,
    /// Its attributes (`TemplateAttribute` in KMIP 1.x, `Attributes` in 2.x).
    pub attributes: AttributeSet,
    /// The managed object structure (`SymmetricKey`, `SecretData`, ...: the payload's first
    /// field with a managed-object tag), kept as sent: the server reads Transparent and
    /// wrapped keys too. [`ManagedObject::from_ttlv`] types the plain ones.
    pub object: Ttlv,
}

impl RegisterRequest {
    /// Registers `object` (its Object Type sent too) with `attributes`.
    pub fn new(object: &ManagedObject, attributes: AttributeSet) -> Self {
        RegisterRequest {
            object_type: Some(object.object_type()),
            attributes,
            object: object.to_ttlv(),
        }
    }

    /// Registers `data` with `attributes`.
    pub fn secret_data(data: &SecretData, attributes: AttributeSet) -> Self {
        RegisterRequest {
            object_type: Some(ObjectType::SECRET_DATA),
            attributes,
            object: data.to_ttlv(),
        }
    }
}

/// The attributes of every `container` structure of `payload`, merged in order (how the
/// server has always read a request's attributes).
///
/// # Errors
/// [`PayloadError::Invalid`] naming an attribute that cannot be read.
pub(crate) fn container_attributes(
    payload: &Ttlv,
    container: Container,
) -> Result<AttributeSet, PayloadError> {
    let mut set = AttributeSet::default();
    for item in payload.items() {
        if Container::from_tag(item.tag) == Some(container) {
            let got =
                AttributeSet::from_ttlv(item).map_err(|e| PayloadError::Invalid(e.to_string()))?;
            set.merge(&got);
        }
    }
    Ok(set)
}

impl Payload for RegisterRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    /// Reads what the server has always accepted: an optional Object Type, the attributes
    /// of every `TemplateAttribute` / `Attributes`, and the first managed object.
    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        let object_type = opt_enum(p, Tag::OBJECT_TYPE).map(ObjectType);
        let attributes = container_attributes(p, Container::Template)?;
        let object = p
            .items()
            .iter()
            .find(|i| MANAGED_OBJECTS.contains(&i.tag))
            .cloned()
            .ok_or(PayloadError::Missing {
                parent: p.tag,
                field: object_type
                    .and_then(super::object_tag)
                    .unwrap_or(Tag::SECRET_DATA),
            })?;
        Ok(RegisterRequest {
            object_type,
            attributes,
            object,
        })
    }

    fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = Vec::new();
        push_opt(
            &mut out,
            self.object_type
                .map(|t| Ttlv::enumeration(Tag::OBJECT_TYPE, t)),
        );
        out.push(self.attributes.to_ttlv(version, Container::Template));
        out.push(self.object.clone());
        out
    }
}

/// The tags of the managed objects a Register may carry.
const MANAGED_OBJECTS: [Tag; 7] = [
    Tag::SYMMETRIC_KEY,
    Tag::PUBLIC_KEY,
    Tag::PRIVATE_KEY,
    Tag::CERTIFICATE,
    Tag::OPAQUE_OBJECT,
    Tag::SECRET_DATA,
    Tag::SPLIT_KEY,
];

impl Request for RegisterRequest {
    const OPERATION: Operation = Operation::REGISTER;
    type Response = RegisterResponse;
}

uid_response!("Register", RegisterResponse);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::attributes::Attribute;
    use crate::enums::NameType;
    use crate::payload::testing;

    const VERSIONS: [ProtocolVersion; 3] = [
        ProtocolVersion::V1_0,
        ProtocolVersion::V1_4,
        ProtocolVersion::V2_1,
    ];

    fn secret() -> impl Strategy<Value = SecretData> {
        (
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(t, f, m)| SecretData {
                secret_data_type: SecretDataType(t),
                key_format_type: KeyFormatType(f),
                key_material: m,
            })
    }

    fn attributes(name: &str) -> AttributeSet {
        let mut set = AttributeSet::default();
        set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
        set.push(Attribute::standard(
            Tag::CRYPTOGRAPHIC_USAGE_MASK,
            Value::Integer(4),
        ));
        set
    }

    proptest! {
        #[test]
        fn secret_data_round_trips(d in secret()) {
            prop_assert_eq!(SecretData::from_ttlv(&d.to_ttlv())?, d);
        }

        #[test]
        fn register_round_trips(d in secret(), name in "[a-z:_]{1,16}") {
            let req = RegisterRequest::secret_data(&d, attributes(&name));
            for v in VERSIONS {
                prop_assert_eq!(RegisterRequest::from_ttlv(&req.to_ttlv(v))?, req.clone());
            }
        }

        #[test]
        fn register_of_any_object_round_trips(
            m in proptest::collection::vec(any::<u8>(), 0..32),
            name in "[a-z:_]{1,16}",
        ) {
            let objects = [
                ManagedObject::SymmetricKey(crate::payload::object::KeyBlock::new(
                    KeyFormatType::RAW,
                    m.clone(),
                )),
                ManagedObject::Certificate {
                    certificate_type: crate::enums::CertificateType::X_509,
                    certificate_value: m.clone(),
                },
                ManagedObject::OpaqueObject {
                    opaque_data_type: crate::enums::OpaqueDataType::NONE,
                    opaque_data_value: m,
                },
            ];
            for o in &objects {
                let req = RegisterRequest::new(o, attributes(&name));
                for v in VERSIONS {
                    let back = RegisterRequest::from_ttlv(&req.to_ttlv(v))?;
                    prop_assert_eq!(ManagedObject::from_ttlv(&back.object)?, o.clone());
                    prop_assert_eq!(back, req.clone());
                }
            }
        }

        #[test]
        fn response_round_trips(uid in ".{0,24}") {
            let resp = RegisterResponse { unique_identifier: uid };
            prop_assert_eq!(
                RegisterResponse::from_ttlv(&resp.to_ttlv(ProtocolVersion::V2_1))?,
                resp
            );
        }

        #[test]
        fn never_panics(p in testing::payload(), o in testing::tree()) {
            let _ = RegisterRequest::from_ttlv(&p);
            let _ = RegisterResponse::from_ttlv(&p);
            let _ = SecretData::from_ttlv(&o);
            if let Some(first) = p.items().first() {
                let _ = SecretData::from_ttlv(first);
            }
        }
    }

    /// The payload the vault's remote mode and the test kit built by hand, field for field.
    #[test]
    fn secret_data_is_the_hand_built_tree() {
        let d = SecretData::new(SecretDataType::PASSWORD, b"hunter2".to_vec());
        let by_hand = Ttlv::structure(
            Tag::SECRET_DATA,
            vec![
                Ttlv::enumeration(Tag::SECRET_DATA_TYPE, SecretDataType::PASSWORD),
                Ttlv::structure(
                    Tag::KEY_BLOCK,
                    vec![
                        Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, KeyFormatType::OPAQUE),
                        Ttlv::structure(
                            Tag::KEY_VALUE,
                            vec![Ttlv::bytes(Tag::KEY_MATERIAL, b"hunter2".to_vec())],
                        ),
                    ],
                ),
            ],
        );
        assert_eq!(d.to_ttlv(), by_hand);
        assert!(!format!("{d:?}").contains("104"), "{d:?}");
    }

    /// Object Type may be absent; the object is the first managed-object field.
    #[test]
    fn register_reads_what_the_server_accepts() {
        let d = SecretData::new(SecretDataType::SEED, vec![7; 8]);
        let mut req = RegisterRequest::secret_data(&d, AttributeSet::default());
        req.object_type = None;
        let tree = req.to_ttlv(ProtocolVersion::V2_1);
        assert_eq!(tree.items().len(), 2);
        assert_eq!(RegisterRequest::from_ttlv(&tree), Ok(req));
        let no_object = Ttlv::structure(
            Tag::REQUEST_PAYLOAD,
            vec![Ttlv::enumeration(
                Tag::OBJECT_TYPE,
                ObjectType::SYMMETRIC_KEY,
            )],
        );
        assert_eq!(
            RegisterRequest::from_ttlv(&no_object),
            Err(PayloadError::Missing {
                parent: Tag::REQUEST_PAYLOAD,
                field: Tag::SYMMETRIC_KEY
            })
        );
    }

    #[test]
    fn missing_and_wrapped_material_are_errors() {
        let no_block = Ttlv::structure(
            Tag::SECRET_DATA,
            vec![Ttlv::enumeration(Tag::SECRET_DATA_TYPE, 1u32)],
        );
        assert_eq!(
            SecretData::from_ttlv(&no_block),
            Err(PayloadError::Missing {
                parent: Tag::SECRET_DATA,
                field: Tag::KEY_BLOCK
            })
        );
        let wrapped = Ttlv::structure(
            Tag::SECRET_DATA,
            vec![
                Ttlv::enumeration(Tag::SECRET_DATA_TYPE, 1u32),
                Ttlv::structure(
                    Tag::KEY_BLOCK,
                    vec![
                        Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, KeyFormatType::OPAQUE),
                        Ttlv::bytes(Tag::KEY_VALUE, vec![1, 2, 3]),
                    ],
                ),
            ],
        );
        assert!(matches!(
            SecretData::from_ttlv(&wrapped),
            Err(PayloadError::Invalid(_))
        ));
    }
}
