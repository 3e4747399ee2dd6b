//! Locate: the identifiers of the objects matching a set of attributes, paged with
//! Maximum Items and Offset Items.

use super::register::container_attributes;
use super::{Payload, PayloadError, Request, opt_integer, push_opt};
use crate::attributes::{Attribute, AttributeSet, Container};
use crate::enums::Operation;
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// A Locate request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocateRequest {
    /// The most identifiers to return.
    pub maximum_items: Option<i32>,
    /// How many matches to skip.
    pub offset_items: Option<i32>,
    /// Storage Status Mask: On-line 1, Archival 2, Destroyed 4 (2.x).
    pub storage_status_mask: Option<i32>,
    /// The attributes every match has (KMIP 1.x: `Attribute` fields of the payload; 2.x: an
    /// `Attributes` structure).
    pub attributes: AttributeSet,
}

impl LocateRequest {
    /// A Locate of the objects having every attribute of `attributes`.
    pub fn new(attributes: AttributeSet) -> Self {
        LocateRequest {
            attributes,
            ..LocateRequest::default()
        }
    }
}

impl Payload for LocateRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    /// Reads both encodings, as the server always has: the attributes of `TemplateAttribute`
    /// / `Attributes` structures, then the `Attribute` fields of the payload.
    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        let mut attributes = container_attributes(p, Container::Template)?;
        for a in p.find_all(Tag::ATTRIBUTE) {
            attributes
                .push(Attribute::from_v1(a).map_err(|e| PayloadError::Invalid(e.to_string()))?);
        }
        Ok(LocateRequest {
            maximum_items: opt_integer(p, Tag::MAXIMUM_ITEMS),
            offset_items: opt_integer(p, Tag::OFFSET_ITEMS),
            storage_status_mask: opt_integer(p, Tag::STORAGE_STATUS_MASK),
            attributes,
        })
    }

    fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = Vec::new();
        let int = |tag, v: Option<i32>| v.map(|v| Ttlv::integer(tag, v));
        push_opt(&mut out, int(Tag::MAXIMUM_ITEMS, self.maximum_items));
        push_opt(&mut out, int(Tag::OFFSET_ITEMS, self.offset_items));
        push_opt(
            &mut out,
            int(Tag::STORAGE_STATUS_MASK, self.storage_status_mask),
        );
        if version.is_v2() {
            out.push(self.attributes.to_ttlv(version, Container::Template));
        } else {
            out.extend(self.attributes.attributes.iter().map(Attribute::to_v1));
        }
        out
    }
}

impl Request for LocateRequest {
    const OPERATION: Operation = Operation::LOCATE;
    type Response = LocateResponse;
}

/// A Locate response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocateResponse {
    /// How many objects matched in all (KMIP 1.3 and later), whatever the paging.
    pub located_items: Option<i32>,
    /// The identifiers of this page of matches.
    pub unique_identifiers: Vec<String>,
}

impl Payload for LocateResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(LocateResponse {
            located_items: opt_integer(p, Tag::LOCATED_ITEMS),
            unique_identifiers: p
                .find_all(Tag::UNIQUE_IDENTIFIER)
                .filter_map(Ttlv::as_text)
                .map(str::to_owned)
                .collect(),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = Vec::new();
        push_opt(
            &mut out,
            self.located_items
                .map(|n| Ttlv::integer(Tag::LOCATED_ITEMS, n)),
        );
        out.extend(
            self.unique_identifiers
                .iter()
                .map(|u| Ttlv::text(Tag::UNIQUE_IDENTIFIER, u.clone())),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::enums::{NameType, ObjectType};
    use crate::payload::testing;
    use crate::ttlv::Value;

    const VERSIONS: [ProtocolVersion; 3] = [
        ProtocolVersion::V1_0,
        ProtocolVersion::V1_4,
        ProtocolVersion::V2_1,
    ];

    fn attributes() -> impl Strategy<Value = AttributeSet> {
        (
            proptest::option::of("[a-z:_]{1,12}"),
            proptest::option::of(any::<u32>()),
        )
            .prop_map(|(name, t)| {
                let mut set = AttributeSet::default();
                if let Some(t) = t {
                    set.push(Attribute::standard(Tag::OBJECT_TYPE, Value::Enumeration(t)));
                }
                if let Some(n) = name {
                    set.push(Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING));
                }
                set
            })
    }

    proptest! {
        #[test]
        fn request_round_trips(
            max in proptest::option::of(any::<i32>()),
            offset in proptest::option::of(any::<i32>()),
            mask in proptest::option::of(0i32..8),
            attributes in attributes(),
        ) {
            let req = LocateRequest {
                maximum_items: max,
                offset_items: offset,
                storage_status_mask: mask,
                attributes,
            };
            for v in VERSIONS {
                prop_assert_eq!(LocateRequest::from_ttlv(&req.to_ttlv(v))?, req.clone());
            }
        }

        #[test]
        fn response_round_trips(
            n in proptest::option::of(any::<i32>()),
            uids in proptest::collection::vec(".{0,12}", 0..8),
        ) {
            let resp = LocateResponse { located_items: n, unique_identifiers: uids };
            prop_assert_eq!(
                LocateResponse::from_ttlv(&resp.to_ttlv(ProtocolVersion::V1_4))?,
                resp
            );
        }

        #[test]
        fn never_panics(p in testing::payload()) {
            let _ = LocateRequest::from_ttlv(&p);
            let _ = LocateResponse::from_ttlv(&p);
        }
    }

    /// KMIP 1.x puts the attributes straight in the payload, 2.x in `Attributes`.
    #[test]
    fn attributes_are_placed_by_version() {
        let mut set = AttributeSet::default();
        set.push(Attribute::standard(
            Tag::OBJECT_TYPE,
            Value::Enumeration(ObjectType::SECRET_DATA.0),
        ));
        let req = LocateRequest::new(set);
        let v1 = req.to_ttlv(ProtocolVersion::V1_4);
        assert_eq!(v1.items().len(), 1);
        assert_eq!(v1.items()[0].tag, Tag::ATTRIBUTE);
        let v2 = req.to_ttlv(ProtocolVersion::V2_1);
        assert_eq!(v2.items()[0].tag, Tag::ATTRIBUTES);
    }
}
