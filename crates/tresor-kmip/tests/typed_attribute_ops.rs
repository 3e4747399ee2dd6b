//! The attribute operations, Query, Interop and the vendor operations through their typed
//! payloads against the in-process server: `KmipClient::perform` round trips, and the
//! refusals the server answered before it parsed these requests once at the top (same
//! reason, same message, same order of checks).

use tresor_kmip::attributes::{Attribute, AttributeName};
use tresor_kmip::client::KmipClient;
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, NameType, ObjectType, Operation, QueryFunction,
    ResultReason,
};
use tresor_kmip::payload::attribute_ops::{
    AddAttributeRequest, DeleteAttributeRequest, GetAttributeListRequest, ModifyAttributeRequest,
};
use tresor_kmip::payload::query::{DiscoverVersionsRequest, QueryRequest};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

mod common;

use common::*;

fn custom(name: &str) -> AttributeName {
    AttributeName::Custom {
        vendor: None,
        name: name.to_owned(),
    }
}

fn owner(value: &str) -> Attribute {
    Attribute {
        name: custom("x-owner"),
        index: None,
        value: Value::TextString(value.to_owned()),
    }
}

async fn create(c: &KmipClient, v: ProtocolVersion, name: &str) -> String {
    let mut set = tresor_kmip::attributes::AttributeSet::default();
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::AES.0),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(256),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_USAGE_MASK,
        Value::Integer(CryptographicUsageMask::ENCRYPT.0 as i32),
    ));
    set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
    let item = c
        .call(
            Operation::CREATE,
            vec![
                Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
                set.to_ttlv(v, tresor_kmip::attributes::Container::Template),
            ],
        )
        .await
        .expect("create");
    ok(&item);
    text(&item, Tag::UNIQUE_IDENTIFIER)
}

/// 1.x answers Add, Modify and Delete Attribute with the instance and its index; the
/// typed responses read them back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attribute_operations_round_trip_in_1_4() {
    let f = start().await;
    let c = f.client("client", ProtocolVersion::V1_4);
    let u = create(&c, ProtocolVersion::V1_4, "typed-k14").await;
    let a = c
        .perform(&AddAttributeRequest::new(&u, owner("alice")))
        .await
        .expect("add");
    assert_eq!(a.attribute.map(|a| a.index), Some(Some(0)));
    let b = c
        .perform(&AddAttributeRequest::new(&u, owner("bob")))
        .await
        .expect("add");
    assert_eq!(b.attribute.map(|a| a.index), Some(Some(1)));
    let m = c
        .perform(&ModifyAttributeRequest::new(
            &u,
            Attribute {
                index: Some(1),
                ..owner("carol")
            },
        ))
        .await
        .expect("modify");
    assert_eq!(
        m.attribute,
        Some(Attribute {
            index: Some(1),
            ..owner("carol")
        })
    );
    let list = c
        .perform(&GetAttributeListRequest::new(&u))
        .await
        .expect("list");
    assert!(list.attribute_names.contains(&custom("x-owner")));
    let d = c
        .perform(&DeleteAttributeRequest::new(&u, custom("x-owner"), Some(0)))
        .await
        .expect("delete");
    assert_eq!(
        d.attribute,
        Some(Attribute {
            index: Some(0),
            ..owner("alice")
        })
    );
    f.stop().await;
}

/// Query and Discover Versions read into their response types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_and_discover_versions_are_typed() {
    let f = start().await;
    let c = f.client("client", ProtocolVersion::V2_1);
    let q = c
        .perform(&QueryRequest::new([
            QueryFunction::QUERY_OPERATIONS,
            QueryFunction::QUERY_SERVER_INFORMATION,
        ]))
        .await
        .expect("query");
    assert!(q.operations.contains(&Operation::SET_ATTRIBUTE));
    assert!(q.object_types.is_empty());
    assert_eq!(q.vendor_identification.as_deref(), Some("tresor"));
    assert!(q.server_name().is_some_and(|n| n.ends_with("(KMIP 2.1)")));
    let d = c
        .perform(&DiscoverVersionsRequest {
            protocol_versions: vec![ProtocolVersion::V1_0, ProtocolVersion::new(3, 0)],
        })
        .await
        .expect("discover versions");
    assert_eq!(d.protocol_versions, vec![ProtocolVersion::V1_0]);
    f.stop().await;
}

/// The refusals keep their order: a missing identifier first, then the new attribute's
/// checks, then a malformed Current Attribute; Interop's function before its identifier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_keep_their_order() {
    let f = start().await;
    let v = ProtocolVersion::V2_1;
    let c = f.client("client", v);
    let refusal = |r: tresor_kmip::message::ResponseBatchItem| {
        (r.result_reason, r.result_message.unwrap_or_default())
    };
    // No identifier, no placeholder and no attribute: the identifier is what is missing.
    let r = c.call(Operation::ADD_ATTRIBUTE, vec![]).await.expect("add");
    assert_eq!(
        refusal(r),
        (
            Some(ResultReason::MISSING_DATA),
            "the request names no unique identifier and no id placeholder is set".to_owned()
        )
    );
    // A read-only new attribute is refused before the empty Current Attribute is read.
    let u = create(&c, v, "typed-k21").await;
    let r = c
        .call(
            Operation::MODIFY_ATTRIBUTE,
            vec![
                uid(&u),
                Ttlv::structure(Tag::CURRENT_ATTRIBUTE, vec![]),
                Ttlv::structure(
                    Tag::NEW_ATTRIBUTE,
                    vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, "other")],
                ),
            ],
        )
        .await
        .expect("modify");
    assert_eq!(
        refusal(r),
        (
            Some(ResultReason::ATTRIBUTE_READ_ONLY),
            "attribute 'Unique Identifier' is read-only".to_owned()
        )
    );
    // A writable one: then the Current Attribute is.
    let r = c
        .call(
            Operation::MODIFY_ATTRIBUTE,
            vec![
                uid(&u),
                Ttlv::structure(Tag::CURRENT_ATTRIBUTE, vec![]),
                Ttlv::structure(Tag::NEW_ATTRIBUTE, vec![owner("x").to_v2()]),
            ],
        )
        .await
        .expect("modify");
    let (reason, message) = refusal(r);
    assert_eq!(reason, Some(ResultReason::MISSING_DATA));
    assert_eq!(message, "CurrentAttribute is missing its Attribute");
    // Delete Attribute naming nothing.
    let r = c
        .call(Operation::DELETE_ATTRIBUTE, vec![uid(&u)])
        .await
        .expect("delete");
    let (reason, message) = refusal(r);
    assert_eq!(reason, Some(ResultReason::MISSING_DATA));
    assert!(
        message.ends_with("is missing its AttributeName"),
        "{message}"
    );
    // Interop: an unknown function is refused before the missing identifier.
    let r = c
        .call(
            Operation::INTEROP,
            vec![Ttlv::enumeration(Tag::INTEROP_FUNCTION, 9u32)],
        )
        .await
        .expect("interop");
    assert_eq!(
        refusal(r),
        (
            Some(ResultReason::INVALID_FIELD),
            "interop function 0x9 is not Begin, End or Reset".to_owned()
        )
    );
    f.stop().await;
}
