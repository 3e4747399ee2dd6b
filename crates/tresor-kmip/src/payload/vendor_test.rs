use proptest::prelude::*;

use super::*;
use crate::enums::{ResultReason, SecretDataType};
use crate::payload::testing;

const V: ProtocolVersion = ProtocolVersion::V1_4;

fn uid() -> impl Strategy<Value = Option<UidRef>> {
    proptest::option::of(prop_oneof![
        ".{0,12}".prop_map(UidRef::Text),
        any::<u32>().prop_map(|e| UidRef::Placeholder(Value::Enumeration(e))),
    ])
}

fn version_info() -> impl Strategy<Value = VersionInfo> {
    (
        0u32..=i32::MAX as u32,
        any::<i64>(),
        ".{0,8}",
        any::<bool>(),
    )
        .prop_map(|(version, created, created_by, destroyed)| VersionInfo {
            version,
            created,
            created_by,
            destroyed,
        })
}

fn text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(".{0,8}")
}

fn versions_response() -> impl Strategy<Value = VersionsResponse> {
    (
        (".{0,12}", text(), text(), text(), text()),
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<i64>()),
            proptest::option::of(0u32..=i32::MAX as u32),
        ),
        proptest::collection::vec(version_info(), 0..4),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
    )
        .prop_map(
            |((uid, name, kind, owner, caller), (t, s, d, v), versions, value)| VersionsResponse {
                unique_identifier: uid,
                name,
                kind,
                owner,
                caller,
                object_type: t.map(ObjectType),
                state: s.map(State),
                last_change_date: d,
                version: v,
                versions,
                value: value.map(SecretBytes::new),
            },
        )
}

fn answer() -> impl Strategy<Value = ReadNamesAnswer> {
    prop_oneof![
        (".{0,8}", proptest::collection::vec(any::<u8>(), 0..8)).prop_map(|(uid, v)| {
            ReadNamesAnswer::Value {
                uid,
                value: SecretBytes::new(v),
            }
        }),
        any::<u32>().prop_map(|r| ReadNamesAnswer::Refused(ResultReason(r))),
    ]
}

proptest! {
    #[test]
    fn add_version_round_trips(
        u in uid(),
        material in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
        uid in ".{0,12}",
        version in 0u32..=i32::MAX as u32,
    ) {
        let req = AddVersionRequest {
            unique_identifier: u,
            secret_data: material
                .map(|m| SecretData::new(SecretDataType::PASSWORD, m).to_ttlv()),
        };
        prop_assert_eq!(AddVersionRequest::from_ttlv(&req.to_ttlv(V))?, req);
        let resp = AddVersionResponse { unique_identifier: uid, version };
        prop_assert_eq!(AddVersionResponse::from_ttlv(&resp.to_ttlv(V))?, resp);
    }

    #[test]
    fn versions_round_trips(
        u in uid(),
        version in proptest::option::of(any::<i32>()),
        name in text(),
        resp in versions_response(),
    ) {
        let req = VersionsRequest { unique_identifier: u, version, name };
        prop_assert_eq!(VersionsRequest::from_ttlv(&req.to_ttlv(V))?, req);
        prop_assert_eq!(VersionsResponse::from_ttlv(&resp.to_ttlv(V))?, resp);
    }

    #[test]
    fn purge_round_trips(u in uid(), uid in ".{0,12}") {
        let req = PurgeRequest { unique_identifier: u };
        prop_assert_eq!(PurgeRequest::from_ttlv(&req.to_ttlv(V))?, req);
        let resp = PurgeResponse { unique_identifier: uid };
        prop_assert_eq!(PurgeResponse::from_ttlv(&resp.to_ttlv(V))?, resp);
    }

    #[test]
    fn read_names_round_trips(
        entries in proptest::collection::vec((".{0,12}", 0u32..=i32::MAX as u32), 1..6),
        answers in proptest::collection::vec(answer(), 0..6),
    ) {
        let req = ReadNamesRequest { entries };
        prop_assert_eq!(ReadNamesRequest::from_ttlv(&req.to_ttlv(V))?, req);
        let resp = ReadNamesResponse { answers };
        prop_assert_eq!(ReadNamesResponse::from_ttlv(&resp.to_ttlv(V))?, resp);
    }

    #[test]
    fn never_panics(p in testing::payload()) {
        let _ = AddVersionRequest::from_ttlv(&p);
        let _ = AddVersionResponse::from_ttlv(&p);
        let _ = VersionsRequest::from_ttlv(&p);
        let _ = VersionsResponse::from_ttlv(&p);
        let _ = PurgeRequest::from_ttlv(&p);
        let _ = PurgeResponse::from_ttlv(&p);
        let _ = ReadNamesRequest::from_ttlv(&p);
        let _ = ReadNamesResponse::from_ttlv(&p);
    }
}

/// Read Names refuses as the server always has: Missing Data without names, Invalid Field
/// naming the item that does not belong.
#[test]
fn read_names_refusals_are_unchanged() {
    let empty = Ttlv::structure(Tag::REQUEST_PAYLOAD, vec![]);
    assert_eq!(
        ReadNamesRequest::from_ttlv(&empty),
        Err(PayloadError::Missing {
            parent: Tag::REQUEST_PAYLOAD,
            field: NAME
        })
    );
    let stray = Ttlv::structure(Tag::REQUEST_PAYLOAD, vec![Ttlv::integer(VERSION, 2)]);
    assert_eq!(
        ReadNamesRequest::from_ttlv(&stray),
        Err(PayloadError::Invalid(
            "read names: a version must follow the name it applies to".into()
        ))
    );
}
