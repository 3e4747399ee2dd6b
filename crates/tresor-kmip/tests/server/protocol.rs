//! The protocol: replies in the request's version, batches (ID Placeholder, Undo, Continue,
//! Stop, Maximum Response Size), precise error reasons, malformed messages, and a
//! current-thread runtime.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tresor_kmip::enums::{
    BatchErrorContinuationOption, ObjectType, Operation, ResultReason, ResultStatus, State,
};
use tresor_kmip::message::RequestMessage;
use tresor_kmip::{ProtocolVersion, Tag, Ttlv};

use super::common::*;
use super::{batch, create, create_payload, item, locate_by_name, located, state_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_uses_the_request_version() {
    let f = start().await;
    for v in [
        ProtocolVersion::V1_0,
        ProtocolVersion::V1_4,
        ProtocolVersion::V2_1,
    ] {
        let c = f.client("client", v);
        let msg = RequestMessage::single(v, Operation::QUERY, vec![]);
        let resp = c.request(&msg).await.expect("query");
        assert_eq!(resp.header.protocol_version, v);
        // Attributes come back as 1.x Attribute structures or a 2.x Attributes structure.
        let u = create(&c, v, None).await;
        let item = c
            .call(Operation::GET_ATTRIBUTES, vec![uid(&u)])
            .await
            .expect("attrs");
        let has_v2 = item
            .payload_items()
            .iter()
            .any(|t| t.tag == Tag::ATTRIBUTES);
        let has_v1 = item.payload_items().iter().any(|t| t.tag == Tag::ATTRIBUTE);
        assert_eq!((has_v2, has_v1), (v.is_v2(), !v.is_v2()), "{v}");
    }
    // Discover Versions answers the intersection, newest first.
    let c = f.client("client", ProtocolVersion::V1_2);
    let item = c
        .call(
            Operation::DISCOVER_VERSIONS,
            vec![
                ProtocolVersion::V1_0.to_ttlv(),
                ProtocolVersion::V2_0.to_ttlv(),
                ProtocolVersion::new(9, 9).to_ttlv(),
            ],
        )
        .await
        .expect("discover");
    let got: Vec<ProtocolVersion> = item
        .payload_items()
        .iter()
        .map(|t| ProtocolVersion::from_ttlv(t).expect("version"))
        .collect();
    assert_eq!(got, vec![ProtocolVersion::V2_0, ProtocolVersion::V1_0]);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_use_the_id_placeholder_and_undo() {
    let f = start().await;
    let v = ProtocolVersion::V1_4;
    let c = f.client("client", v);
    // Create, then Activate and Get Attributes with no identifier: the ID Placeholder.
    let msg = batch(
        v,
        None,
        vec![
            item(Operation::CREATE, create_payload(v, Some("batched")), 1),
            item(Operation::ACTIVATE, vec![], 2),
            item(
                Operation::GET_ATTRIBUTES,
                vec![Ttlv::text(Tag::ATTRIBUTE_NAME, "State")],
                3,
            ),
        ],
    );
    let resp = c.request(&msg).await.expect("batch");
    assert_eq!(resp.batch_items.len(), 3);
    for (i, it) in resp.batch_items.iter().enumerate() {
        ok(it);
        assert_eq!(it.unique_batch_item_id, Some(vec![i as u8 + 1]));
    }
    let u = text(&resp.batch_items[0], Tag::UNIQUE_IDENTIFIER);
    assert_eq!(text(&resp.batch_items[1], Tag::UNIQUE_IDENTIFIER), u);
    assert_eq!(state_of(&c, &u).await, State::ACTIVE.0);

    // Undo: the failure rolls back the Create before it.
    let msg = batch(
        v,
        Some(BatchErrorContinuationOption::UNDO),
        vec![
            item(Operation::CREATE, create_payload(v, Some("undone")), 1),
            item(Operation::GET, vec![uid("no-such-object")], 2),
            item(Operation::QUERY, vec![], 3),
        ],
    );
    let resp = c.request(&msg).await.expect("undo batch");
    assert_eq!(resp.batch_items.len(), 2);
    assert_eq!(
        resp.batch_items[0].result_status,
        ResultStatus::OPERATION_UNDONE
    );
    // KMIP 2.x names a missing object Object Not Found (1.x: Item Not Found).
    assert_eq!(
        resp.batch_items[1].result_reason,
        Some(if v.is_v2() {
            ResultReason::OBJECT_NOT_FOUND
        } else {
            ResultReason::ITEM_NOT_FOUND
        })
    );
    let found = c
        .call(Operation::LOCATE, locate_by_name(v, "undone"))
        .await
        .expect("locate");
    assert!(located(&found).is_empty());

    // Continue: later items run and earlier ones are kept.
    let msg = batch(
        v,
        Some(BatchErrorContinuationOption::CONTINUE),
        vec![
            item(Operation::GET, vec![uid("no-such-object")], 1),
            item(Operation::CREATE, create_payload(v, Some("continued")), 2),
        ],
    );
    let resp = c.request(&msg).await.expect("continue batch");
    assert_eq!(
        resp.batch_items[0].result_status,
        ResultStatus::OPERATION_FAILED
    );
    ok(&resp.batch_items[1]);
    let found = c
        .call(Operation::LOCATE, locate_by_name(v, "continued"))
        .await
        .expect("locate");
    assert_eq!(located(&found).len(), 1);

    // Stop (the default): nothing after the failure runs.
    let msg = batch(
        v,
        None,
        vec![
            item(Operation::GET, vec![uid("no-such-object")], 1),
            item(Operation::CREATE, create_payload(v, Some("stopped")), 2),
        ],
    );
    let resp = c.request(&msg).await.expect("stop batch");
    assert_eq!(resp.batch_items.len(), 1);

    // Maximum Response Size.
    let mut msg = RequestMessage::single(v, Operation::GET, vec![uid(&u)]);
    msg.header.maximum_response_size = Some(40);
    let resp = c.request(&msg).await.expect("small response");
    assert_eq!(
        resp.batch_items[0].result_reason,
        Some(ResultReason::RESPONSE_TOO_LARGE)
    );
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_precise_reasons() {
    let f = start().await;
    let v = ProtocolVersion::V2_1;
    let c = f.client("client", v);
    let r = c
        .call(Operation::GET, vec![uid("nope")])
        .await
        .expect("get");
    assert_eq!(r.result_reason, Some(ResultReason::OBJECT_NOT_FOUND));
    assert!(r.result_message.as_deref().unwrap_or("").contains("'nope'"));
    let r = c
        .call(
            Operation::CREATE,
            vec![Ttlv::enumeration(
                Tag::OBJECT_TYPE,
                ObjectType::SYMMETRIC_KEY,
            )],
        )
        .await
        .expect("create");
    assert_eq!(r.result_reason, Some(ResultReason::MISSING_DATA));
    let r = c
        .call(Operation::ARCHIVE, vec![uid("x")])
        .await
        .expect("archive");
    assert_eq!(r.result_reason, Some(ResultReason::OPERATION_NOT_SUPPORTED));
    // Usage masks are checked: an Encrypt-only key cannot MAC; a pre-active key cannot encrypt.
    let u = create(&c, v, None).await;
    let data = Ttlv::bytes(Tag::DATA, b"hello".to_vec());
    let r = c
        .call(Operation::ENCRYPT, vec![uid(&u), data.clone()])
        .await
        .expect("encrypt");
    assert_eq!(
        r.result_reason,
        Some(ResultReason::WRONG_KEY_LIFECYCLE_STATE)
    );
    ok(&c
        .call(Operation::ACTIVATE, vec![uid(&u)])
        .await
        .expect("activate"));
    let r = c
        .call(Operation::MAC, vec![uid(&u), data.clone()])
        .await
        .expect("mac");
    assert_eq!(
        r.result_reason,
        Some(ResultReason::INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK)
    );
    // A request version the server does not speak.
    let msg = RequestMessage::single(ProtocolVersion::new(1, 9), Operation::QUERY, vec![]);
    let resp = c.request(&msg).await.expect("bad version");
    assert_eq!(
        resp.batch_items[0].result_reason,
        Some(ResultReason::UNSUPPORTED_PROTOCOL_VERSION)
    );
    f.stop().await;
}

async fn raw_tls(f: &Fixture) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let c = f.client("client", ProtocolVersion::V1_4);
    let tls = c.config().tls_config().expect("tls");
    let conn = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", f.port))
        .await
        .expect("tcp");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    conn.connect(name, tcp).await.expect("handshake")
}

async fn closed(s: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> bool {
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf).await, Ok(0) | Err(_))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_close_only_their_connection() {
    let f = start().await;
    let good = f.client("client", ProtocolVersion::V1_4);
    ok(&good.call(Operation::QUERY, vec![]).await.expect("query"));
    // Truncated: a header announcing more than is sent, then EOF.
    let mut s = raw_tls(&f).await;
    s.write_all(&[0x42, 0x00, 0x78, 0x01, 0x00, 0x00, 0x00, 0x20, 1, 2])
        .await
        .expect("write");
    s.shutdown().await.expect("shutdown");
    assert!(closed(&mut s).await);
    // Oversized: 16 MiB announced.
    let mut s = raw_tls(&f).await;
    s.write_all(&[0x42, 0x00, 0x78, 0x01, 0x01, 0x00, 0x00, 0x00])
        .await
        .expect("write");
    assert!(closed(&mut s).await);
    // Deeply nested structures.
    let mut t = Ttlv::integer(Tag::PROTOCOL_VERSION_MINOR, 1);
    for _ in 0..40 {
        t = Ttlv::structure(Tag::REQUEST_MESSAGE, vec![t]);
    }
    let mut s = raw_tls(&f).await;
    s.write_all(&t.encode()).await.expect("write");
    assert!(closed(&mut s).await);
    // The kept connection and new ones still work.
    ok(&good
        .call(Operation::QUERY, vec![])
        .await
        .expect("query after"));
    let fresh = f.client("client", ProtocolVersion::V2_1);
    ok(&fresh
        .call(Operation::QUERY, vec![])
        .await
        .expect("fresh query"));
    f.stop().await;
}

/// The server also runs on a current-thread runtime (where `block_in_place` is not allowed).
#[tokio::test]
async fn serves_on_a_current_thread_runtime() {
    let f = start().await;
    let c = f.client("client", ProtocolVersion::V2_1);
    let u = create(&c, ProtocolVersion::V2_1, Some("ct")).await;
    ok(&c.call(Operation::GET, vec![uid(&u)]).await.expect("get"));
    c.close().await;
    f.stop().await;
}
