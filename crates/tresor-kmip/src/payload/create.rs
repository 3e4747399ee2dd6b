//! Operations that make new objects on the server: Create (a symmetric key, or Secret Data
//! in KMIP 2.1), Create Key Pair, and Re-Key. Register is in [`super::register`], Derive
//! Key in [`super::derive`].
//!
//! Their attributes are an [`AttributeSet`] written as a [`Container`]: KMIP 1.x
//! `TemplateAttribute` (`Attribute` fields with name, index and value, and template `Name`
//! references), 2.x `Attributes`, chosen by the version given to [`Payload::to_items`].
//! Reading accepts both, and merges every container of the kind in order, as the server
//! always has.

use super::register::container_attributes;
use super::{Payload, PayloadError, Request, UidRef, push_opt, req_enum, req_text};
use crate::attributes::{AttributeSet, Container};
use crate::enums::{ObjectType, Operation};
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// Returns true if and only if `set` has anything to write (attributes, or 1.x template
/// names).
pub(crate) fn has_any(set: &AttributeSet) -> bool {
    !set.attributes.is_empty() || !set.template_names.is_empty()
}

/// Pushes `set` as `container` when it has anything to write.
pub(crate) fn push_set(
    out: &mut Vec<Ttlv>,
    set: &AttributeSet,
    version: ProtocolVersion,
    container: Container,
) {
    if has_any(set) {
        out.push(set.to_ttlv(version, container));
    }
}

/// A Create request: the type of object to make and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// The object's type (Symmetric Key; Secret Data in KMIP 2.1).
    pub object_type: ObjectType,
    /// Its attributes (Cryptographic Algorithm and Length, Usage Mask, Name...), written as
    /// a `TemplateAttribute` (1.x) or `Attributes` (2.x), always present as KMIP requires.
    pub attributes: AttributeSet,
}

impl CreateRequest {
    /// A Create of an object of type `object_type` with `attributes`.
    pub fn new(object_type: ObjectType, attributes: AttributeSet) -> Self {
        CreateRequest {
            object_type,
            attributes,
        }
    }
}

impl Payload for CreateRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    /// Reads the Object Type (required: [`PayloadError::Missing`] when absent or not an
    /// enumeration), then the attributes of every `TemplateAttribute` / `Attributes`.
    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        let object_type = ObjectType(req_enum(p, Tag::OBJECT_TYPE)?);
        Ok(CreateRequest {
            object_type,
            attributes: container_attributes(p, Container::Template)?,
        })
    }

    fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv> {
        vec![
            Ttlv::enumeration(Tag::OBJECT_TYPE, self.object_type),
            self.attributes.to_ttlv(version, Container::Template),
        ]
    }
}

impl Request for CreateRequest {
    const OPERATION: Operation = Operation::CREATE;
    type Response = CreateResponse;
}

/// A Create response: the new object's type and identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateResponse {
    /// The new object's type.
    pub object_type: ObjectType,
    /// The new object's identifier.
    pub unique_identifier: String,
}

impl Payload for CreateResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(CreateResponse {
            object_type: ObjectType(req_enum(p, Tag::OBJECT_TYPE)?),
            unique_identifier: req_text(p, Tag::UNIQUE_IDENTIFIER)?,
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        vec![
            Ttlv::enumeration(Tag::OBJECT_TYPE, self.object_type),
            Ttlv::text(Tag::UNIQUE_IDENTIFIER, self.unique_identifier.clone()),
        ]
    }
}

/// A Create Key Pair request: attributes for both halves, and for each half alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateKeyPairRequest {
    /// Attributes of both keys (`CommonTemplateAttribute` / `CommonAttributes`): the
    /// Cryptographic Algorithm and Length, or the curve, usually go here.
    pub common_attributes: AttributeSet,
    /// Attributes of the private key alone (`PrivateKeyTemplateAttribute` /
    /// `PrivateKeyAttributes`); they win over the common ones.
    pub private_key_attributes: AttributeSet,
    /// Attributes of the public key alone (`PublicKeyTemplateAttribute` /
    /// `PublicKeyAttributes`); they win over the common ones.
    pub public_key_attributes: AttributeSet,
}

impl Payload for CreateKeyPairRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    /// Reads the common, private and public containers, in that order (an unreadable
    /// attribute is [`PayloadError::Invalid`]); each one is optional.
    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(CreateKeyPairRequest {
            common_attributes: container_attributes(p, Container::Common)?,
            private_key_attributes: container_attributes(p, Container::PrivateKey)?,
            public_key_attributes: container_attributes(p, Container::PublicKey)?,
        })
    }

    /// Writes the containers that have attributes (all three are optional in KMIP).
    fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = Vec::new();
        push_set(
            &mut out,
            &self.common_attributes,
            version,
            Container::Common,
        );
        push_set(
            &mut out,
            &self.private_key_attributes,
            version,
            Container::PrivateKey,
        );
        push_set(
            &mut out,
            &self.public_key_attributes,
            version,
            Container::PublicKey,
        );
        out
    }
}

impl Request for CreateKeyPairRequest {
    const OPERATION: Operation = Operation::CREATE_KEY_PAIR;
    type Response = CreateKeyPairResponse;
}

/// A Create Key Pair response: the identifiers of the two new keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKeyPairResponse {
    /// The private key's identifier.
    pub private_key_unique_identifier: String,
    /// The public key's identifier.
    pub public_key_unique_identifier: String,
}

impl Payload for CreateKeyPairResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(CreateKeyPairResponse {
            private_key_unique_identifier: req_text(p, Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER)?,
            public_key_unique_identifier: req_text(p, Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER)?,
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        vec![
            Ttlv::text(
                Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER,
                self.private_key_unique_identifier.clone(),
            ),
            Ttlv::text(
                Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER,
                self.public_key_unique_identifier.clone(),
            ),
        ]
    }
}

/// A Re-Key request: a new symmetric key replacing an existing one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReKeyRequest {
    /// The key to replace (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
    /// Seconds from now to the replacement's Activation Date (an Interval).
    pub offset: Option<u32>,
    /// Attributes of the replacement on top of the old key's (written only when there are
    /// some: the container is optional).
    pub attributes: AttributeSet,
}

impl ReKeyRequest {
    /// A Re-Key of key `uid`.
    pub fn new(uid: impl Into<String>) -> Self {
        ReKeyRequest {
            unique_identifier: Some(UidRef::text(uid)),
            ..ReKeyRequest::default()
        }
    }
}

impl Payload for ReKeyRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    /// Reads the identifier, an Offset (absent when not an Interval) and the attributes of
    /// every `TemplateAttribute` / `Attributes`.
    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(ReKeyRequest {
            unique_identifier: UidRef::of(p),
            offset: p.find(Tag::OFFSET).and_then(|t| match t.value {
                Value::Interval(i) => Some(i),
                _ => None,
            }),
            attributes: container_attributes(p, Container::Template)?,
        })
    }

    fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = Vec::new();
        push_opt(
            &mut out,
            self.unique_identifier.as_ref().map(UidRef::to_ttlv),
        );
        push_opt(
            &mut out,
            self.offset
                .map(|o| Ttlv::new(Tag::OFFSET, Value::Interval(o))),
        );
        push_set(&mut out, &self.attributes, version, Container::Template);
        out
    }
}

impl Request for ReKeyRequest {
    const OPERATION: Operation = Operation::RE_KEY;
    type Response = ReKeyResponse;
}

uid_response!("Re-Key", ReKeyResponse);

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::attributes::Attribute;
    use crate::enums::NameType;
    use crate::payload::testing;

    pub(crate) const VERSIONS: [ProtocolVersion; 3] = [
        ProtocolVersion::V1_0,
        ProtocolVersion::V1_4,
        ProtocolVersion::V2_1,
    ];

    /// Arbitrary attribute sets: a few standard attributes and a name, any of them absent.
    pub(crate) fn attributes() -> impl Strategy<Value = AttributeSet> {
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<i32>()),
            proptest::option::of("[a-z:_]{1,12}"),
        )
            .prop_map(|(alg, len, name)| {
                let mut set = AttributeSet::default();
                if let Some(a) = alg {
                    set.push(Attribute::standard(
                        Tag::CRYPTOGRAPHIC_ALGORITHM,
                        Value::Enumeration(a),
                    ));
                }
                if let Some(l) = len {
                    set.push(Attribute::standard(
                        Tag::CRYPTOGRAPHIC_LENGTH,
                        Value::Integer(l),
                    ));
                }
                if let Some(n) = name {
                    set.push(Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING));
                }
                set
            })
    }

    fn uid() -> impl Strategy<Value = Option<UidRef>> {
        proptest::option::of(prop_oneof![
            ".{0,16}".prop_map(UidRef::Text),
            any::<u32>().prop_map(|e| UidRef::Placeholder(Value::Enumeration(e))),
        ])
    }

    proptest! {
        #[test]
        fn create_round_trips(t in any::<u32>(), attributes in attributes()) {
            let req = CreateRequest::new(ObjectType(t), attributes);
            for v in VERSIONS {
                prop_assert_eq!(CreateRequest::from_ttlv(&req.to_ttlv(v))?, req.clone());
            }
        }

        #[test]
        fn create_key_pair_round_trips(
            c in attributes(),
            private in attributes(),
            public in attributes(),
        ) {
            let req = CreateKeyPairRequest {
                common_attributes: c,
                private_key_attributes: private,
                public_key_attributes: public,
            };
            for v in VERSIONS {
                prop_assert_eq!(CreateKeyPairRequest::from_ttlv(&req.to_ttlv(v))?, req.clone());
            }
        }

        #[test]
        fn rekey_round_trips(
            u in uid(),
            offset in proptest::option::of(any::<u32>()),
            attributes in attributes(),
        ) {
            let req = ReKeyRequest { unique_identifier: u, offset, attributes };
            for v in VERSIONS {
                prop_assert_eq!(ReKeyRequest::from_ttlv(&req.to_ttlv(v))?, req.clone());
            }
        }

        #[test]
        fn responses_round_trip(t in any::<u32>(), a in ".{0,16}", b in ".{0,16}") {
            let v = ProtocolVersion::V1_4;
            let c = CreateResponse { object_type: ObjectType(t), unique_identifier: a.clone() };
            prop_assert_eq!(CreateResponse::from_ttlv(&c.to_ttlv(v))?, c);
            let kp = CreateKeyPairResponse {
                private_key_unique_identifier: a.clone(),
                public_key_unique_identifier: b,
            };
            prop_assert_eq!(CreateKeyPairResponse::from_ttlv(&kp.to_ttlv(v))?, kp);
            let r = ReKeyResponse { unique_identifier: a };
            prop_assert_eq!(ReKeyResponse::from_ttlv(&r.to_ttlv(v))?, r);
        }

        #[test]
        fn never_panics(p in testing::payload()) {
            let _ = CreateRequest::from_ttlv(&p);
            let _ = CreateResponse::from_ttlv(&p);
            let _ = CreateKeyPairRequest::from_ttlv(&p);
            let _ = CreateKeyPairResponse::from_ttlv(&p);
            let _ = ReKeyRequest::from_ttlv(&p);
            let _ = ReKeyResponse::from_ttlv(&p);
        }
    }

    #[test]
    fn create_needs_its_object_type() {
        let empty = Ttlv::structure(Tag::REQUEST_PAYLOAD, vec![]);
        assert_eq!(
            CreateRequest::from_ttlv(&empty),
            Err(PayloadError::Missing {
                parent: Tag::REQUEST_PAYLOAD,
                field: Tag::OBJECT_TYPE
            })
        );
    }

    /// The containers are named by version; empty optional ones are left out.
    #[test]
    fn containers_follow_the_version() {
        let mut set = AttributeSet::default();
        set.push(Attribute::standard(
            Tag::CRYPTOGRAPHIC_LENGTH,
            Value::Integer(256),
        ));
        let kp = CreateKeyPairRequest {
            common_attributes: set.clone(),
            ..CreateKeyPairRequest::default()
        };
        let tags = |v| -> Vec<Tag> { kp.to_items(v).iter().map(|t| t.tag).collect() };
        assert_eq!(
            tags(ProtocolVersion::V1_4),
            vec![Tag::COMMON_TEMPLATE_ATTRIBUTE]
        );
        assert_eq!(tags(ProtocolVersion::V2_1), vec![Tag::COMMON_ATTRIBUTES]);
        assert!(
            ReKeyRequest::new("k")
                .to_items(ProtocolVersion::V1_4)
                .iter()
                .all(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
        );
        let create = CreateRequest::new(ObjectType::SYMMETRIC_KEY, AttributeSet::default());
        assert_eq!(
            create.to_items(ProtocolVersion::V1_4)[1].tag,
            Tag::TEMPLATE_ATTRIBUTE
        );
    }
}
