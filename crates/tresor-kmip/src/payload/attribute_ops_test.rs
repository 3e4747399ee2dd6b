use proptest::prelude::*;

use super::*;
use crate::enums::NameType;
use crate::payload::testing;

const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V1_0,
    ProtocolVersion::V1_4,
    ProtocolVersion::V2_1,
];

fn uid() -> impl Strategy<Value = Option<UidRef>> {
    proptest::option::of(prop_oneof![
        ".{0,12}".prop_map(UidRef::Text),
        any::<u32>().prop_map(|e| UidRef::Placeholder(Value::Enumeration(e))),
    ])
}

/// An attribute both encodings carry unchanged (no index: 2.x drops it).
fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        any::<i32>()
            .prop_map(|n| Attribute::standard(Tag::CRYPTOGRAPHIC_LENGTH, Value::Integer(n))),
        "[a-z]{1,8}".prop_map(|n| Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING)),
        ("x-[a-z]{1,8}", ".{0,8}").prop_map(|(name, v)| Attribute {
            name: AttributeName::Custom { vendor: None, name },
            index: None,
            value: Value::TextString(v),
        }),
    ]
}

/// A name Get Attribute List writes and reads back the same in every version.
fn listed_name() -> impl Strategy<Value = AttributeName> {
    prop_oneof![
        Just(AttributeName::Standard(Tag::CRYPTOGRAPHIC_LENGTH)),
        Just(AttributeName::Standard(Tag::NAME)),
        Just(AttributeName::Standard(Tag::STATE)),
        "x-[a-z]{1,8}".prop_map(|name| AttributeName::Custom { vendor: None, name }),
    ]
}

proptest! {
    #[test]
    fn add_and_set_round_trip(u in uid(), a in attribute()) {
        for v in VERSIONS {
            let add = AddAttributeRequest { unique_identifier: u.clone(), attribute: a.clone() };
            prop_assert_eq!(AddAttributeRequest::from_ttlv(&add.to_ttlv(v))?, add);
            let set = SetAttributeRequest { unique_identifier: u.clone(), attribute: a.clone() };
            prop_assert_eq!(SetAttributeRequest::from_ttlv(&set.to_ttlv(v))?, set);
        }
    }

    #[test]
    fn modify_round_trips(u in uid(), cur in proptest::option::of(attribute()), new in attribute()) {
        let req = ModifyAttributeRequest {
            unique_identifier: u,
            current_attribute: cur,
            new_attribute: new,
        };
        prop_assert_eq!(
            ModifyAttributeRequest::from_ttlv(&req.to_ttlv(ProtocolVersion::V2_1))?,
            req.clone()
        );
        // 1.x has no Current Attribute; the index names the instance.
        let v1 = ModifyAttributeRequest {
            current_attribute: None,
            new_attribute: Attribute { index: Some(2), ..req.new_attribute },
            ..req
        };
        prop_assert_eq!(
            ModifyAttributeRequest::from_ttlv(&v1.to_ttlv(ProtocolVersion::V1_4))?,
            v1
        );
    }

    #[test]
    fn delete_round_trips(
        u in uid(),
        name in listed_name(),
        index in proptest::option::of(0i32..8),
        cur in attribute(),
    ) {
        let req = DeleteAttributeRequest {
            unique_identifier: u.clone(),
            target: DeleteTarget::Reference { name: name.clone(), index },
        };
        prop_assert_eq!(
            DeleteAttributeRequest::from_ttlv(&req.to_ttlv(ProtocolVersion::V1_4))?,
            req
        );
        // 2.x writes no index.
        let req = DeleteAttributeRequest {
            unique_identifier: u.clone(),
            target: DeleteTarget::Reference { name, index: None },
        };
        prop_assert_eq!(
            DeleteAttributeRequest::from_ttlv(&req.to_ttlv(ProtocolVersion::V2_1))?,
            req
        );
        let req = DeleteAttributeRequest { unique_identifier: u, target: DeleteTarget::Current(cur) };
        for v in VERSIONS {
            prop_assert_eq!(DeleteAttributeRequest::from_ttlv(&req.to_ttlv(v))?, req.clone());
        }
    }

    #[test]
    fn responses_round_trip(uid in ".{0,12}", a in attribute(), index in 0i32..4) {
        let v1 = ProtocolVersion::V1_4;
        let v2 = ProtocolVersion::V2_1;
        let echo = Some(Attribute { index: Some(index), ..a });
        let add = AddAttributeResponse { unique_identifier: uid.clone(), attribute: echo.clone() };
        prop_assert_eq!(AddAttributeResponse::from_ttlv(&add.to_ttlv(v1))?, add);
        let m = ModifyAttributeResponse { unique_identifier: uid.clone(), attribute: echo.clone() };
        prop_assert_eq!(ModifyAttributeResponse::from_ttlv(&m.to_ttlv(v1))?, m.clone());
        // 2.x answers with the identifier only.
        let bare = ModifyAttributeResponse { attribute: None, ..m.clone() };
        prop_assert_eq!(ModifyAttributeResponse::from_ttlv(&m.to_ttlv(v2))?, bare);
        let d = DeleteAttributeResponse { unique_identifier: uid.clone(), attribute: echo };
        prop_assert_eq!(DeleteAttributeResponse::from_ttlv(&d.to_ttlv(v1))?, d);
        let s = SetAttributeResponse { unique_identifier: uid };
        prop_assert_eq!(SetAttributeResponse::from_ttlv(&s.to_ttlv(v2))?, s);
    }

    #[test]
    fn attribute_list_round_trips(
        u in uid(),
        uid in ".{0,12}",
        names in proptest::collection::vec(listed_name(), 0..5),
    ) {
        let req = GetAttributeListRequest { unique_identifier: u };
        prop_assert_eq!(GetAttributeListRequest::from_ttlv(&req.to_ttlv(ProtocolVersion::V1_4))?, req);
        let resp = GetAttributeListResponse { unique_identifier: uid, attribute_names: names };
        for v in VERSIONS {
            prop_assert_eq!(GetAttributeListResponse::from_ttlv(&resp.to_ttlv(v))?, resp.clone());
        }
    }

    #[test]
    fn never_panics(p in testing::payload()) {
        let _ = AddAttributeRequest::from_ttlv(&p);
        let _ = AddAttributeResponse::from_ttlv(&p);
        let _ = SetAttributeRequest::from_ttlv(&p);
        let _ = SetAttributeResponse::from_ttlv(&p);
        let _ = ModifyAttributeRequest::from_ttlv(&p);
        let _ = ModifyAttributeResponse::from_ttlv(&p);
        let _ = DeleteAttributeRequest::from_ttlv(&p);
        let _ = DeleteAttributeResponse::from_ttlv(&p);
        let _ = GetAttributeListRequest::from_ttlv(&p);
        let _ = GetAttributeListResponse::from_ttlv(&p);
    }
}

/// The refusals the server has always answered, field for field.
#[test]
fn missing_fields_name_what_the_server_named() {
    let empty = Ttlv::structure(Tag::REQUEST_PAYLOAD, vec![]);
    assert_eq!(
        AddAttributeRequest::from_ttlv(&empty),
        Err(PayloadError::Missing {
            parent: Tag::REQUEST_PAYLOAD,
            field: Tag::ATTRIBUTE
        })
    );
    assert_eq!(
        DeleteAttributeRequest::from_ttlv(&empty),
        Err(PayloadError::Missing {
            parent: Tag::REQUEST_PAYLOAD,
            field: Tag::ATTRIBUTE_NAME
        })
    );
    let hollow = Ttlv::structure(
        Tag::REQUEST_PAYLOAD,
        vec![Ttlv::structure(Tag::NEW_ATTRIBUTE, vec![])],
    );
    assert_eq!(
        ModifyAttributeRequest::from_ttlv(&hollow),
        Err(PayloadError::Missing {
            parent: Tag::NEW_ATTRIBUTE,
            field: Tag::ATTRIBUTE
        })
    );
}

/// 1.x names the attribute by text and index, 2.x by reference without an index.
#[test]
fn delete_is_written_by_version() {
    let req = DeleteAttributeRequest::new("k", AttributeName::Standard(Tag::NAME), Some(1));
    let v1 = req.to_ttlv(ProtocolVersion::V1_4);
    assert_eq!(
        v1.items().get(1),
        Some(&Ttlv::text(Tag::ATTRIBUTE_NAME, "Name"))
    );
    assert_eq!(
        v1.items().get(2),
        Some(&Ttlv::integer(Tag::ATTRIBUTE_INDEX, 1))
    );
    let v2 = req.to_ttlv(ProtocolVersion::V2_1);
    assert_eq!(v2.items().len(), 2);
    assert_eq!(
        v2.items().get(1),
        Some(&Ttlv::enumeration(
            Tag::ATTRIBUTE_REFERENCE,
            Tag::NAME.value()
        ))
    );
}
