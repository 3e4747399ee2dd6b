//! Get: one object's material, in its stored or a requested key format, optionally
//! wrapped.

use super::register::SecretData;
use super::{Payload, PayloadError, Request, UidRef, opt_enum, push_opt, req_enum, req_text};
use crate::enums::{KeyFormatType, ObjectType, Operation};
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// A Get request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetRequest {
    /// The object (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
    /// The key format to answer in (absent: the stored one).
    pub key_format_type: Option<KeyFormatType>,
    /// How to wrap the object, as sent (`KeyWrappingSpecification` structure).
    pub key_wrapping_specification: Option<Ttlv>,
}

impl GetRequest {
    /// A Get of object `uid` in its stored format.
    pub fn new(uid: impl Into<String>) -> Self {
        GetRequest {
            unique_identifier: Some(UidRef::text(uid)),
            ..GetRequest::default()
        }
    }
}

impl Payload for GetRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(GetRequest {
            unique_identifier: UidRef::of(p),
            key_format_type: opt_enum(p, Tag::KEY_FORMAT_TYPE).map(KeyFormatType),
            key_wrapping_specification: p.find(Tag::KEY_WRAPPING_SPECIFICATION).cloned(),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = Vec::new();
        push_opt(
            &mut out,
            self.unique_identifier.as_ref().map(UidRef::to_ttlv),
        );
        push_opt(
            &mut out,
            self.key_format_type
                .map(|f| Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, f)),
        );
        push_opt(&mut out, self.key_wrapping_specification.clone());
        out
    }
}

impl Request for GetRequest {
    const OPERATION: Operation = Operation::GET;
    type Response = GetResponse;
}

/// A Get response: the object's type, identifier and managed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetResponse {
    /// The object's type.
    pub object_type: ObjectType,
    /// The object's identifier.
    pub unique_identifier: String,
    /// The managed object (`SymmetricKey`, `SecretData`, ... structure).
    pub object: Ttlv,
}

impl GetResponse {
    /// The object as Secret Data.
    ///
    /// # Errors
    /// [`PayloadError`] when it is not a Secret Data object with plain key material.
    pub fn secret_data(&self) -> Result<SecretData, PayloadError> {
        SecretData::from_ttlv(&self.object)
    }
}

impl Payload for GetResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        let object_type = ObjectType(req_enum(p, Tag::OBJECT_TYPE)?);
        let unique_identifier = req_text(p, Tag::UNIQUE_IDENTIFIER)?;
        // The managed object is the payload's one structure.
        let object = p
            .items()
            .iter()
            .find(|t| matches!(t.value, Value::Structure(_)))
            .cloned()
            .ok_or_else(|| match super::object_tag(object_type) {
                Some(field) => PayloadError::Missing {
                    parent: p.tag,
                    field,
                },
                None => PayloadError::Invalid(format!(
                    "{} holds no managed object of type {object_type}",
                    p.tag
                )),
            })?;
        Ok(GetResponse {
            object_type,
            unique_identifier,
            object,
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        vec![
            Ttlv::enumeration(Tag::OBJECT_TYPE, self.object_type),
            Ttlv::text(Tag::UNIQUE_IDENTIFIER, self.unique_identifier.clone()),
            self.object.clone(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::enums::SecretDataType;
    use crate::payload::testing;

    const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V1_4, ProtocolVersion::V2_1];

    fn request() -> impl Strategy<Value = GetRequest> {
        (
            proptest::option::of(prop_oneof![
                ".{0,16}".prop_map(UidRef::Text),
                any::<u32>().prop_map(|e| UidRef::Placeholder(Value::Enumeration(e))),
                any::<i32>().prop_map(|i| UidRef::Placeholder(Value::Integer(i))),
            ]),
            proptest::option::of(any::<u32>().prop_map(KeyFormatType)),
            proptest::option::of(testing::tree().prop_map(|t| {
                Ttlv::structure(Tag::KEY_WRAPPING_SPECIFICATION, t.items().to_vec())
            })),
        )
            .prop_map(|(u, f, w)| GetRequest {
                unique_identifier: u,
                key_format_type: f,
                key_wrapping_specification: w,
            })
    }

    proptest! {
        #[test]
        fn request_round_trips(req in request()) {
            for v in VERSIONS {
                prop_assert_eq!(GetRequest::from_ttlv(&req.to_ttlv(v))?, req.clone());
            }
        }

        #[test]
        fn response_round_trips(uid in ".{0,16}", t in any::<u32>(), body in testing::tree()) {
            let resp = GetResponse {
                object_type: ObjectType(t),
                unique_identifier: uid,
                object: Ttlv::structure(Tag::SECRET_DATA, vec![body]),
            };
            for v in VERSIONS {
                prop_assert_eq!(GetResponse::from_ttlv(&resp.to_ttlv(v))?, resp.clone());
            }
        }

        #[test]
        fn never_panics(p in testing::payload()) {
            let _ = GetRequest::from_ttlv(&p);
            let _ = GetResponse::from_ttlv(&p);
        }
    }

    #[test]
    fn secret_data_comes_out_of_a_response() {
        let data = SecretData::new(SecretDataType::PASSWORD, b"pw".to_vec());
        let resp = GetResponse {
            object_type: ObjectType::SECRET_DATA,
            unique_identifier: "u".into(),
            object: data.to_ttlv(),
        };
        assert_eq!(resp.secret_data(), Ok(data));
        let bare = Ttlv::structure(
            Tag::RESPONSE_PAYLOAD,
            vec![Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SECRET_DATA)],
        );
        assert_eq!(
            GetResponse::from_ttlv(&bare),
            Err(PayloadError::Missing {
                parent: Tag::RESPONSE_PAYLOAD,
                field: Tag::UNIQUE_IDENTIFIER
            })
        );
    }
}
