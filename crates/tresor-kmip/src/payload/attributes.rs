//! Get Attributes: an object's attributes, all of them or the named ones.

use super::{Payload, PayloadError, Request, UidRef, push_opt, req_text};
use crate::attributes::{Attribute, AttributeName};
use crate::enums::Operation;
use crate::message::ProtocolVersion;
use crate::ops::attrs::{key_of, name_of_key};
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// A Get Attributes request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetAttributesRequest {
    /// The object (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
    /// The attributes wanted (none: all of them). KMIP 1.x names them with `Attribute Name`
    /// text, 2.x with `Attribute Reference` (an enumeration, or vendor and name).
    pub attribute_names: Vec<AttributeName>,
}

impl GetAttributesRequest {
    /// A Get Attributes of every attribute of object `uid`.
    pub fn new(uid: impl Into<String>) -> Self {
        GetAttributesRequest {
            unique_identifier: Some(UidRef::text(uid)),
            attribute_names: Vec::new(),
        }
    }
}

/// The `Attribute Reference` (2.x) or `Attribute Name` (1.x) item naming `name`.
pub(crate) fn reference(name: &AttributeName, version: ProtocolVersion) -> Ttlv {
    if !version.is_v2() {
        return Ttlv::text(Tag::ATTRIBUTE_NAME, key_of(name));
    }
    match name {
        AttributeName::Standard(t) => Ttlv::enumeration(Tag::ATTRIBUTE_REFERENCE, t.value()),
        AttributeName::Custom { vendor, name } => Ttlv::structure(
            Tag::ATTRIBUTE_REFERENCE,
            vec![
                Ttlv::text(
                    Tag::VENDOR_IDENTIFICATION,
                    vendor.clone().unwrap_or_default(),
                ),
                Ttlv::text(Tag::ATTRIBUTE_NAME, name.clone()),
            ],
        ),
    }
}

impl Payload for GetAttributesRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(GetAttributesRequest {
            unique_identifier: UidRef::of(p),
            attribute_names: referenced_names(p),
        })
    }

    fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = Vec::new();
        push_opt(
            &mut out,
            self.unique_identifier.as_ref().map(UidRef::to_ttlv),
        );
        out.extend(self.attribute_names.iter().map(|n| reference(n, version)));
        out
    }
}

impl Request for GetAttributesRequest {
    const OPERATION: Operation = Operation::GET_ATTRIBUTES;
    type Response = GetAttributesResponse;
}

/// A Get Attributes response: the object's identifier and attributes (KMIP 1.x: `Attribute`
/// fields, with their index; 2.x: one `Attributes` structure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAttributesResponse {
    /// The object's identifier.
    pub unique_identifier: String,
    /// The attributes, in order.
    pub attributes: Vec<Attribute>,
}

impl Payload for GetAttributesResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        let unique_identifier = req_text(p, Tag::UNIQUE_IDENTIFIER)?;
        let invalid = |e: crate::KmipError| PayloadError::Invalid(e.to_string());
        let mut attributes = Vec::new();
        for item in p.items() {
            match item.tag {
                Tag::ATTRIBUTE => attributes.push(Attribute::from_v1(item).map_err(invalid)?),
                Tag::ATTRIBUTES => {
                    for a in item.items() {
                        attributes.push(Attribute::from_v2(a).map_err(invalid)?);
                    }
                }
                _ => {}
            }
        }
        Ok(GetAttributesResponse {
            unique_identifier,
            attributes,
        })
    }

    fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = vec![Ttlv::text(
            Tag::UNIQUE_IDENTIFIER,
            self.unique_identifier.clone(),
        )];
        if version.is_v2() {
            out.push(Ttlv::structure(
                Tag::ATTRIBUTES,
                self.attributes.iter().map(Attribute::to_v2).collect(),
            ));
        } else {
            out.extend(self.attributes.iter().map(Attribute::to_v1));
        }
        out
    }
}

/// The attribute names a Get Attributes / Delete Attribute request refers to.
pub(crate) fn referenced_names(payload: &Ttlv) -> Vec<AttributeName> {
    let mut out = Vec::new();
    for item in payload.items() {
        match item.tag {
            Tag::ATTRIBUTE_NAME => {
                if let Some(t) = item.as_text() {
                    out.push(name_of_key(t).unwrap_or(AttributeName::Custom {
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
                            "" => name_of_key(n).unwrap_or(AttributeName::Custom {
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::enums::NameType;
    use crate::payload::testing;

    const VERSIONS: [ProtocolVersion; 3] = [
        ProtocolVersion::V1_0,
        ProtocolVersion::V1_4,
        ProtocolVersion::V2_1,
    ];

    fn name() -> impl Strategy<Value = AttributeName> {
        prop_oneof![
            Just(AttributeName::Standard(Tag::CRYPTOGRAPHIC_LENGTH)),
            Just(AttributeName::Standard(Tag::NAME)),
            Just(AttributeName::Standard(Tag::STATE)),
            "x-[a-z]{1,8}".prop_map(|n| AttributeName::Custom {
                vendor: None,
                name: n
            }),
            ("[a-z]{2,6}", "[a-z]{1,8}").prop_map(|(v, n)| AttributeName::Custom {
                vendor: Some(v),
                name: n,
            }),
        ]
    }

    proptest! {
        #[test]
        fn request_round_trips(
            uid in proptest::option::of(".{0,12}".prop_map(UidRef::Text)),
            names in proptest::collection::vec(name(), 0..5),
        ) {
            let req = GetAttributesRequest { unique_identifier: uid, attribute_names: names };
            for v in VERSIONS {
                prop_assert_eq!(GetAttributesRequest::from_ttlv(&req.to_ttlv(v))?, req.clone());
            }
        }

        #[test]
        fn response_round_trips(
            uid in ".{0,12}",
            len in any::<i32>(),
            index in proptest::option::of(1i32..4),
            label in "[a-z]{1,8}",
        ) {
            let mut name = Attribute::name(label, NameType::UNINTERPRETED_TEXT_STRING);
            let attributes = vec![
                Attribute::standard(Tag::CRYPTOGRAPHIC_LENGTH, Value::Integer(len)),
                name.clone(),
            ];
            let resp = GetAttributesResponse { unique_identifier: uid.clone(), attributes };
            prop_assert_eq!(
                GetAttributesResponse::from_ttlv(&resp.to_ttlv(ProtocolVersion::V2_1))?,
                resp.clone()
            );
            // 1.x carries an instance's index.
            name.index = index;
            let resp = GetAttributesResponse { unique_identifier: uid, attributes: vec![name] };
            prop_assert_eq!(
                GetAttributesResponse::from_ttlv(&resp.to_ttlv(ProtocolVersion::V1_4))?,
                resp
            );
        }

        #[test]
        fn never_panics(p in testing::payload()) {
            let _ = GetAttributesRequest::from_ttlv(&p);
            let _ = GetAttributesResponse::from_ttlv(&p);
        }
    }

    /// PyKMIP 2.0 names standard attributes by name with an empty vendor; `x`/`y` vendors
    /// are the 1.x `x-`/`y-` custom names.
    #[test]
    fn references_read_every_spelling() {
        let p = Ttlv::structure(
            Tag::REQUEST_PAYLOAD,
            vec![
                Ttlv::text(Tag::ATTRIBUTE_NAME, "Cryptographic Algorithm"),
                Ttlv::structure(
                    Tag::ATTRIBUTE_REFERENCE,
                    vec![
                        Ttlv::text(Tag::VENDOR_IDENTIFICATION, ""),
                        Ttlv::text(Tag::ATTRIBUTE_NAME, "State"),
                    ],
                ),
                Ttlv::structure(
                    Tag::ATTRIBUTE_REFERENCE,
                    vec![
                        Ttlv::text(Tag::VENDOR_IDENTIFICATION, "x"),
                        Ttlv::text(Tag::ATTRIBUTE_NAME, "owner"),
                    ],
                ),
            ],
        );
        assert_eq!(
            GetAttributesRequest::from_ttlv(&p).map(|r| r.attribute_names),
            Ok(vec![
                AttributeName::Standard(Tag::CRYPTOGRAPHIC_ALGORITHM),
                AttributeName::Standard(Tag::STATE),
                AttributeName::Custom {
                    vendor: None,
                    name: "x-owner".into()
                },
            ])
        );
    }
}
