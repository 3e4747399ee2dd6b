//! The KMIP server in-process on 127.0.0.1:0, driven by [`KmipClient`]:
//! `cargo test -p tresor-kmip --test server`.

use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::KmipClient;
use tresor_kmip::enums::{
    BatchErrorContinuationOption, BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask,
    KeyFormatType, NameType, ObjectType, Operation, ResultReason, ResultStatus,
    RevocationReasonCode, State, UsageLimitsUnit, ValidityIndicator,
};
use tresor_kmip::message::{RequestBatchItem, RequestHeader, RequestMessage, ResponseBatchItem};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

mod common;

use common::*;

fn aes_template(v: ProtocolVersion, name: Option<&str>, mask: u32) -> Ttlv {
    let mut set = AttributeSet::default();
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
        Value::Integer(mask as i32),
    ));
    if let Some(n) = name {
        set.push(Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING));
    }
    set.to_ttlv(v, Container::Template)
}

fn create_payload(v: ProtocolVersion, name: Option<&str>) -> Vec<Ttlv> {
    let mask = CryptographicUsageMask::ENCRYPT | CryptographicUsageMask::DECRYPT;
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
        aes_template(v, name, mask.0),
    ]
}

async fn create(c: &KmipClient, v: ProtocolVersion, name: Option<&str>) -> String {
    let item = c
        .call(Operation::CREATE, create_payload(v, name))
        .await
        .expect("create");
    ok(&item);
    text(&item, Tag::UNIQUE_IDENTIFIER)
}

async fn state_of(c: &KmipClient, u: &str) -> u32 {
    let item = c
        .call(Operation::GET_ATTRIBUTES, vec![uid(u)])
        .await
        .expect("get attributes");
    ok(&item);
    let attrs: Vec<Attribute> = match item
        .payload_items()
        .iter()
        .find(|t| t.tag == Tag::ATTRIBUTES)
    {
        Some(a) => AttributeSet::from_ttlv(a).expect("attributes").attributes,
        None => item
            .payload_items()
            .iter()
            .filter(|t| t.tag == Tag::ATTRIBUTE)
            .map(|t| Attribute::from_v1(t).expect("attribute"))
            .collect(),
    };
    attrs
        .iter()
        .find(|a| a.name == tresor_kmip::AttributeName::Standard(Tag::STATE))
        .and_then(|a| match a.value {
            Value::Enumeration(e) => Some(e),
            _ => None,
        })
        .expect("state attribute")
}

fn locate_by_name(v: ProtocolVersion, name: &str) -> Vec<Ttlv> {
    let mut set = AttributeSet::default();
    set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
    if v.is_v2() {
        vec![set.to_ttlv(v, Container::Template)]
    } else {
        set.attributes.iter().map(Attribute::to_v1).collect()
    }
}

fn located(item: &ResponseBatchItem) -> Vec<String> {
    item.payload_items()
        .iter()
        .filter(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
        .filter_map(|t| t.as_text().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_in_every_version() {
    let f = start().await;
    for v in ProtocolVersion::SUPPORTED {
        let c = f.client("client", v);
        let name = format!("life-{v}");
        let u = create(&c, v, Some(&name)).await;
        assert_eq!(state_of(&c, &u).await, State::PRE_ACTIVE.0, "{v}");

        let got = c.call(Operation::GET, vec![uid(&u)]).await.expect("get");
        ok(&got);
        let key = got
            .payload_items()
            .iter()
            .find(|t| t.tag == Tag::SYMMETRIC_KEY)
            .and_then(|k| k.find(Tag::KEY_BLOCK))
            .and_then(|b| b.find(Tag::KEY_VALUE))
            .and_then(|kv| kv.find(Tag::KEY_MATERIAL))
            .and_then(Ttlv::as_bytes)
            .expect("key material")
            .to_vec();
        assert_eq!(key.len(), 32);

        let found = c
            .call(Operation::LOCATE, locate_by_name(v, &name))
            .await
            .expect("locate");
        ok(&found);
        assert_eq!(located(&found), vec![u.clone()], "{v}");

        // Destroying an active object is refused; revoke first.
        ok(&c
            .call(Operation::ACTIVATE, vec![uid(&u)])
            .await
            .expect("activate"));
        assert_eq!(state_of(&c, &u).await, State::ACTIVE.0);
        let refused = c
            .call(Operation::DESTROY, vec![uid(&u)])
            .await
            .expect("destroy");
        assert_eq!(refused.result_status, ResultStatus::OPERATION_FAILED);
        let want = if v.is_v2() {
            ResultReason::WRONG_KEY_LIFECYCLE_STATE
        } else {
            ResultReason::PERMISSION_DENIED
        };
        assert_eq!(refused.result_reason, Some(want), "{v}");
        let reason = Ttlv::structure(
            Tag::REVOCATION_REASON,
            vec![Ttlv::enumeration(
                Tag::REVOCATION_REASON_CODE,
                RevocationReasonCode::CESSATION_OF_OPERATION,
            )],
        );
        ok(&c
            .call(Operation::REVOKE, vec![uid(&u), reason])
            .await
            .expect("revoke"));
        assert_eq!(state_of(&c, &u).await, State::DEACTIVATED.0);
        ok(&c
            .call(Operation::DESTROY, vec![uid(&u)])
            .await
            .expect("destroy"));
        assert_eq!(state_of(&c, &u).await, State::DESTROYED.0);
        let gone = c.call(Operation::GET, vec![uid(&u)]).await.expect("get");
        assert_eq!(gone.result_status, ResultStatus::OPERATION_FAILED);
        c.close().await;
    }
    // Metadata is kept, material is gone.
    let any = f
        .store
        .locate(&tresor_store::Query::default())
        .expect("locate");
    assert_eq!(any.len(), ProtocolVersion::SUPPORTED.len());
    for m in &any {
        assert!(f.store.material(m, 1).is_err());
    }
    f.stop().await;
}

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

fn batch(
    v: ProtocolVersion,
    option: Option<BatchErrorContinuationOption>,
    items: Vec<RequestBatchItem>,
) -> RequestMessage {
    let mut header = RequestHeader::new(v, items.len() as i32);
    header.batch_error_continuation_option = option;
    RequestMessage {
        header,
        batch_items: items,
    }
}

fn item(op: Operation, payload: Vec<Ttlv>, id: u8) -> RequestBatchItem {
    let mut i = RequestBatchItem::new(op, payload);
    i.unique_batch_item_id = Some(vec![id]);
    i
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_identities_are_refused_unless_granted() {
    let f = start().await;
    let v = ProtocolVersion::V2_0;
    let alice = f.client("alice", v);
    let bob = f.client("bob", v);
    let u = create(&alice, v, Some("alices-key")).await;
    // No grant at all: the answer for an absent object (tests/threat_model_team.rs).
    let r = bob.call(Operation::GET, vec![uid(&u)]).await.expect("get");
    assert_eq!(r.result_reason, Some(ResultReason::OBJECT_NOT_FOUND));
    let r = bob
        .call(Operation::DESTROY, vec![uid(&u)])
        .await
        .expect("destroy");
    assert_eq!(r.result_reason, Some(ResultReason::OBJECT_NOT_FOUND));
    let found = bob
        .call(Operation::LOCATE, locate_by_name(v, "alices-key"))
        .await
        .expect("locate");
    assert!(located(&found).is_empty());
    assert_eq!(
        f.store.get(&u).expect("get").expect("present").owner,
        "alice"
    );

    // The grant is a store attribute (what `tresor kmip grant` writes).
    f.store
        .write_as("admin", |tx| {
            tx.update(&u, "grant", |m| {
                m.attributes.insert(
                    tresor_kmip::ops::GRANTS_ATTR.into(),
                    serde_json::json!({"bob": "get,locate"}),
                );
                Ok(())
            })?;
            Ok(())
        })
        .expect("grant");
    ok(&bob.call(Operation::GET, vec![uid(&u)]).await.expect("get"));
    let found = bob
        .call(Operation::LOCATE, locate_by_name(v, "alices-key"))
        .await
        .expect("locate");
    assert_eq!(located(&found), vec![u.clone()]);
    let r = bob
        .call(Operation::DESTROY, vec![uid(&u)])
        .await
        .expect("destroy");
    assert_eq!(r.result_reason, Some(ResultReason::PERMISSION_DENIED));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crypto_operations() {
    let f = start().await;
    for v in [ProtocolVersion::V1_2, ProtocolVersion::V2_1] {
        let c = f.client("client", v);
        let u = create(&c, v, None).await;
        ok(&c
            .call(Operation::ACTIVATE, vec![uid(&u)])
            .await
            .expect("activate"));
        for mode in [BlockCipherMode::GCM, BlockCipherMode::CBC] {
            let cp = Ttlv::structure(
                Tag::CRYPTOGRAPHIC_PARAMETERS,
                vec![Ttlv::enumeration(Tag::BLOCK_CIPHER_MODE, mode)],
            );
            let e = c
                .call(
                    Operation::ENCRYPT,
                    vec![
                        uid(&u),
                        cp.clone(),
                        Ttlv::bytes(Tag::DATA, b"secret text".to_vec()),
                    ],
                )
                .await
                .expect("encrypt");
            ok(&e);
            let mut payload = vec![
                uid(&u),
                cp,
                Ttlv::bytes(Tag::DATA, bytes(&e, Tag::DATA)),
                Ttlv::bytes(Tag::IV_COUNTER_NONCE, bytes(&e, Tag::IV_COUNTER_NONCE)),
            ];
            if mode == BlockCipherMode::GCM {
                payload.push(Ttlv::bytes(
                    Tag::AUTHENTICATED_ENCRYPTION_TAG,
                    bytes(&e, Tag::AUTHENTICATED_ENCRYPTION_TAG),
                ));
            }
            let d = c.call(Operation::DECRYPT, payload).await.expect("decrypt");
            ok(&d);
            assert_eq!(bytes(&d, Tag::DATA), b"secret text");
        }
        // Key pairs: sign and verify, linked halves, PKCS#8 conversion.
        for (alg, len) in [
            (CryptographicAlgorithm::RSA, 2048),
            (CryptographicAlgorithm::ECDSA, 256),
        ] {
            let mut common = AttributeSet::default();
            common.push(Attribute::standard(
                Tag::CRYPTOGRAPHIC_ALGORITHM,
                Value::Enumeration(alg.0),
            ));
            common.push(Attribute::standard(
                Tag::CRYPTOGRAPHIC_LENGTH,
                Value::Integer(len),
            ));
            common.push(Attribute::standard(
                Tag::ACTIVATION_DATE,
                Value::DateTime(1),
            ));
            let mut private = AttributeSet::default();
            private.push(Attribute::standard(
                Tag::CRYPTOGRAPHIC_USAGE_MASK,
                Value::Integer(CryptographicUsageMask::SIGN.0 as i32),
            ));
            let mut public = AttributeSet::default();
            public.push(Attribute::standard(
                Tag::CRYPTOGRAPHIC_USAGE_MASK,
                Value::Integer(CryptographicUsageMask::VERIFY.0 as i32),
            ));
            let kp = c
                .call(
                    Operation::CREATE_KEY_PAIR,
                    vec![
                        common.to_ttlv(v, Container::Common),
                        private.to_ttlv(v, Container::PrivateKey),
                        public.to_ttlv(v, Container::PublicKey),
                    ],
                )
                .await
                .expect("create key pair");
            ok(&kp);
            let sk = text(&kp, Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER);
            let pk = text(&kp, Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER);
            let s = c
                .call(
                    Operation::SIGN,
                    vec![uid(&sk), Ttlv::bytes(Tag::DATA, b"msg".to_vec())],
                )
                .await
                .expect("sign");
            ok(&s);
            let sig = bytes(&s, Tag::SIGNATURE_DATA);
            for (data, want) in [
                (&b"msg"[..], ValidityIndicator::VALID),
                (&b"other"[..], ValidityIndicator::INVALID),
            ] {
                let r = c
                    .call(
                        Operation::SIGNATURE_VERIFY,
                        vec![
                            uid(&pk),
                            Ttlv::bytes(Tag::DATA, data.to_vec()),
                            Ttlv::bytes(Tag::SIGNATURE_DATA, sig.clone()),
                        ],
                    )
                    .await
                    .expect("verify");
                ok(&r);
                let got = r
                    .payload_items()
                    .iter()
                    .find(|t| t.tag == Tag::VALIDITY_INDICATOR)
                    .and_then(Ttlv::as_enumeration);
                assert_eq!(got, Some(want.0));
            }
            let g = c
                .call(
                    Operation::GET,
                    vec![
                        uid(&sk),
                        Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, KeyFormatType::PKCS_8),
                    ],
                )
                .await
                .expect("get pkcs8");
            ok(&g);
        }
        let r = c
            .call(
                Operation::RNG_RETRIEVE,
                vec![Ttlv::integer(Tag::DATA_LENGTH, 24)],
            )
            .await
            .expect("rng");
        ok(&r);
        assert_eq!(bytes(&r, Tag::DATA).len(), 24);
    }
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_secrets_are_secret_data() {
    let f = start().await;
    // Names under an app need the app's permission (closed by default).
    tresor_kmip::cli::apps::set(&f.store, "app", "client", true).expect("app policy");
    let v = ProtocolVersion::V1_4;
    let c = f.client("client", v);
    let obj = Ttlv::structure(
        Tag::SECRET_DATA,
        vec![
            Ttlv::enumeration(Tag::SECRET_DATA_TYPE, 1u32),
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
    let mut set = AttributeSet::default();
    set.push(Attribute::name(
        "app:dev:DB_PASSWORD",
        NameType::UNINTERPRETED_TEXT_STRING,
    ));
    let r = c
        .call(
            Operation::REGISTER,
            vec![
                Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SECRET_DATA),
                set.to_ttlv(v, Container::Template),
                obj,
            ],
        )
        .await
        .expect("register");
    ok(&r);
    let u = text(&r, Tag::UNIQUE_IDENTIFIER);
    let meta = f
        .store
        .get_by_name("app:dev:DB_PASSWORD")
        .expect("get")
        .expect("named");
    assert_eq!(meta.uid, u);
    for (k, want) in [
        ("app", "app"),
        ("env", "dev"),
        ("key", "DB_PASSWORD"),
        ("tresor.role", "secret"),
    ] {
        assert_eq!(meta.attr_str(k), Some(want), "{k}");
    }
    let (_, value) = f
        .store
        .read_by_name("app:dev:DB_PASSWORD")
        .expect("read")
        .expect("present");
    assert_eq!(value.expose(), b"hunter2");
    f.stop().await;
}

#[test]
fn identity_comes_from_the_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = tresor_kmip::certs::init(dir.path()).expect("certs");
    let c = tresor_kmip::certs::client(dir.path(), "carol").expect("carol");
    assert_eq!(
        tresor_kmip::server::identity_of_cert_file(&f.client_cert).expect("id"),
        "client"
    );
    assert_eq!(
        tresor_kmip::server::identity_of_cert_file(&c.cert).expect("id"),
        "carol"
    );
    assert!(tresor_kmip::server::identity_of_cert_file(Path::new("/nonexistent")).is_err());
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

/// Streaming AES-GCM (Init Indicator → Correlation Value → Final Indicator) in parts that do
/// not fall on block boundaries gives the one-shot cipher text and tag; the stream belongs to
/// the identity that opened it; a wrong tag on the final Decrypt part is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_gcm_in_parts() {
    let f = start().await;
    let v = ProtocolVersion::V2_1;
    let c = f.client("client", v);
    let u = create(&c, v, None).await;
    ok(&c
        .call(Operation::ACTIVATE, vec![uid(&u)])
        .await
        .expect("activate"));
    let gcm = Ttlv::structure(
        Tag::CRYPTOGRAPHIC_PARAMETERS,
        vec![Ttlv::enumeration(
            Tag::BLOCK_CIPHER_MODE,
            BlockCipherMode::GCM,
        )],
    );
    let plain: Vec<u8> = (0u8..77).collect();
    let iv = vec![9u8; 12];
    let aad = Ttlv::bytes(
        Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA,
        b"aad".to_vec(),
    );
    let one = c
        .call(
            Operation::ENCRYPT,
            vec![
                uid(&u),
                gcm.clone(),
                Ttlv::bytes(Tag::DATA, plain.clone()),
                Ttlv::bytes(Tag::IV_COUNTER_NONCE, iv.clone()),
                aad.clone(),
            ],
        )
        .await
        .expect("one-shot encrypt");
    ok(&one);
    let (want_ct, want_tag) = (
        bytes(&one, Tag::DATA),
        bytes(&one, Tag::AUTHENTICATED_ENCRYPTION_TAG),
    );

    // Encrypt in parts of 5, 20, 0 and 52 bytes.
    let parts = [&plain[..5], &plain[5..25], &plain[25..25], &plain[25..]];
    let mut ct = Vec::new();
    let mut corr: Option<Vec<u8>> = None;
    let mut tag = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        let mut payload = vec![uid(&u), Ttlv::bytes(Tag::DATA, p.to_vec())];
        match &corr {
            None => payload.extend([
                gcm.clone(),
                Ttlv::bytes(Tag::IV_COUNTER_NONCE, iv.clone()),
                aad.clone(),
                Ttlv::new(Tag::INIT_INDICATOR, Value::Boolean(true)),
            ]),
            Some(cv) => payload.push(Ttlv::bytes(Tag::CORRELATION_VALUE, cv.clone())),
        }
        if last {
            payload.push(Ttlv::new(Tag::FINAL_INDICATOR, Value::Boolean(true)));
        }
        let r = c.call(Operation::ENCRYPT, payload).await.expect("part");
        ok(&r);
        ct.extend(bytes(&r, Tag::DATA));
        if last {
            tag = bytes(&r, Tag::AUTHENTICATED_ENCRYPTION_TAG);
        } else {
            corr = Some(bytes(&r, Tag::CORRELATION_VALUE));
        }
        if i == 0 {
            // Another identity cannot continue this stream.
            let bob = f.client("bob", v);
            let r = bob
                .call(
                    Operation::ENCRYPT,
                    vec![
                        uid(&u),
                        Ttlv::bytes(Tag::DATA, b"x".to_vec()),
                        Ttlv::bytes(Tag::CORRELATION_VALUE, corr.clone().unwrap()),
                    ],
                )
                .await
                .expect("bob");
            assert_eq!(r.result_status, ResultStatus::OPERATION_FAILED);
        }
    }
    assert_eq!(ct, want_ct);
    assert_eq!(tag, want_tag);
    // The finished stream is gone.
    let r = c
        .call(
            Operation::ENCRYPT,
            vec![
                uid(&u),
                Ttlv::bytes(Tag::DATA, b"x".to_vec()),
                Ttlv::bytes(Tag::CORRELATION_VALUE, corr.clone().unwrap()),
            ],
        )
        .await
        .expect("after final");
    assert_eq!(
        r.result_reason,
        Some(ResultReason::INVALID_CORRELATION_VALUE)
    );

    // Decrypt in two parts; the right tag gives the plain text, a wrong one fails.
    for (good, reason) in [
        (true, None),
        (false, Some(ResultReason::CRYPTOGRAPHIC_FAILURE)),
    ] {
        let first = c
            .call(
                Operation::DECRYPT,
                vec![
                    uid(&u),
                    gcm.clone(),
                    Ttlv::bytes(Tag::DATA, ct[..33].to_vec()),
                    Ttlv::bytes(Tag::IV_COUNTER_NONCE, iv.clone()),
                    aad.clone(),
                    Ttlv::new(Tag::INIT_INDICATOR, Value::Boolean(true)),
                ],
            )
            .await
            .expect("decrypt part 1");
        ok(&first);
        let mut t = tag.clone();
        if !good {
            t[0] ^= 1;
        }
        let last = c
            .call(
                Operation::DECRYPT,
                vec![
                    uid(&u),
                    Ttlv::bytes(Tag::DATA, ct[33..].to_vec()),
                    Ttlv::bytes(
                        Tag::CORRELATION_VALUE,
                        bytes(&first, Tag::CORRELATION_VALUE),
                    ),
                    Ttlv::bytes(Tag::AUTHENTICATED_ENCRYPTION_TAG, t),
                    Ttlv::new(Tag::FINAL_INDICATOR, Value::Boolean(true)),
                ],
            )
            .await
            .expect("decrypt part 2");
        assert_eq!(last.result_reason, reason);
        if good {
            let mut got = bytes(&first, Tag::DATA);
            got.extend(bytes(&last, Tag::DATA));
            assert_eq!(got, plain);
        }
    }
    f.stop().await;
}

/// Usage Limits in bytes are spent by Encrypt, refused when exhausted, and the remaining
/// count is in the store (visible to a fresh Get Attributes and to the store itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_limits_are_counted_and_persisted() {
    let f = start().await;
    let v = ProtocolVersion::V2_1;
    let c = f.client("client", v);
    let mask = CryptographicUsageMask::ENCRYPT | CryptographicUsageMask::DECRYPT;
    let mut set = AttributeSet::default();
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::AES.0),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(128),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_USAGE_MASK,
        Value::Integer(mask.0 as i32),
    ));
    set.push(Attribute::standard(
        Tag::USAGE_LIMITS,
        Value::Structure(vec![
            Ttlv::new(Tag::USAGE_LIMITS_TOTAL, Value::LongInteger(40)),
            Ttlv::enumeration(Tag::USAGE_LIMITS_UNIT, UsageLimitsUnit::BYTE),
        ]),
    ));
    let r = c
        .call(
            Operation::CREATE,
            vec![
                Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
                set.to_ttlv(v, Container::Template),
            ],
        )
        .await
        .expect("create");
    ok(&r);
    let u = text(&r, Tag::UNIQUE_IDENTIFIER);
    ok(&c
        .call(Operation::ACTIVATE, vec![uid(&u)])
        .await
        .expect("activate"));
    let enc = |n: usize| vec![uid(&u), Ttlv::bytes(Tag::DATA, vec![7u8; n])];
    ok(&c.call(Operation::ENCRYPT, enc(30)).await.expect("30 bytes"));
    let r = c.call(Operation::ENCRYPT, enc(11)).await.expect("11 bytes");
    assert_eq!(r.result_reason, Some(ResultReason::PERMISSION_DENIED));
    ok(&c.call(Operation::ENCRYPT, enc(10)).await.expect("10 bytes"));
    let r = c.call(Operation::ENCRYPT, enc(1)).await.expect("1 byte");
    assert_eq!(r.result_reason, Some(ResultReason::PERMISSION_DENIED));
    // The remaining count is in the store.
    let meta = f.store.get(&u).expect("store").expect("object");
    assert_eq!(
        meta.attributes["Usage Limits"]["UsageLimitsCount"]["v"],
        serde_json::json!(0)
    );
    f.stop().await;
}

/// Locate sees what earlier items of the same batch created (not yet committed), and feeds
/// the ID Placeholder; the Storage Status Mask separates on-line from destroyed objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locate_within_a_batch_and_storage_status_mask() {
    let f = start().await;
    for v in [ProtocolVersion::V1_4, ProtocolVersion::V2_1] {
        let c = f.client("client", v);
        let name = format!("in-batch-{v}");
        let msg = batch(
            v,
            None,
            vec![
                item(Operation::CREATE, create_payload(v, Some(&name)), 1),
                item(Operation::LOCATE, locate_by_name(v, &name), 2),
                item(Operation::ACTIVATE, vec![], 3),
            ],
        );
        let resp = c.request(&msg).await.expect("batch");
        assert_eq!(resp.batch_items.len(), 3);
        resp.batch_items.iter().for_each(ok);
        let u = text(&resp.batch_items[0], Tag::UNIQUE_IDENTIFIER);
        assert_eq!(located(&resp.batch_items[1]), vec![u.clone()]);
        assert_eq!(text(&resp.batch_items[2], Tag::UNIQUE_IDENTIFIER), u);
        assert_eq!(state_of(&c, &u).await, State::ACTIVE.0);

        // Destroyed (after revoking): on-line storage only in 1.x; 2.x Destroyed Storage.
        let revoke = vec![
            uid(&u),
            Ttlv::structure(
                Tag::REVOCATION_REASON,
                vec![Ttlv::enumeration(
                    Tag::REVOCATION_REASON_CODE,
                    RevocationReasonCode::UNSPECIFIED,
                )],
            ),
        ];
        ok(&c.call(Operation::REVOKE, revoke).await.expect("revoke"));
        ok(&c
            .call(Operation::DESTROY, vec![uid(&u)])
            .await
            .expect("destroy"));
        for (mask, want) in [(1, !v.is_v2()), (4, v.is_v2()), (2, false), (5, true)] {
            let mut p = locate_by_name(v, &name);
            p.push(Ttlv::integer(Tag::STORAGE_STATUS_MASK, mask));
            let r = c.call(Operation::LOCATE, p).await.expect("locate");
            ok(&r);
            let expect: Vec<String> = if want { vec![u.clone()] } else { vec![] };
            assert_eq!(located(&r), expect, "{v} mask {mask}");
        }
    }
    f.stop().await;
}

/// Key wrapping: Get with a Key Wrapping Specification (NIST key wrap under another AES key)
/// returns the wrapped material, Register of that wrapped key block unwraps it to the same
/// key, a sensitive key is only served wrapped, and a wrapping key without Wrap Key in its
/// usage mask is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_wrapping_round_trip() {
    let f = start().await;
    let v = ProtocolVersion::V2_1;
    let c = f.client("client", v);
    let create_with = |mask: u32, sensitive: bool| {
        let mut set = AttributeSet::default();
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
            Value::Integer(mask as i32),
        ));
        set.push(Attribute::standard(
            Tag::SENSITIVE,
            Value::Boolean(sensitive),
        ));
        vec![
            Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
            set.to_ttlv(v, Container::Template),
        ]
    };
    let mut uids = Vec::new();
    // Wrapping keys of a sensitive key must be protected themselves (ops/release.rs).
    for (mask, sensitive) in [
        (
            (CryptographicUsageMask::WRAP_KEY | CryptographicUsageMask::UNWRAP_KEY).0,
            true,
        ),
        (CryptographicUsageMask::ENCRYPT.0, true),
        (CryptographicUsageMask::ENCRYPT.0, true),
    ] {
        let r = c
            .call(Operation::CREATE, create_with(mask, sensitive))
            .await
            .expect("create");
        ok(&r);
        let u = text(&r, Tag::UNIQUE_IDENTIFIER);
        ok(&c
            .call(Operation::ACTIVATE, vec![uid(&u)])
            .await
            .expect("activate"));
        uids.push(u);
    }
    let (kek, secret, not_a_kek) = (&uids[0], &uids[1], &uids[2]);
    let spec = |wrapper: &str| {
        Ttlv::structure(
            Tag::KEY_WRAPPING_SPECIFICATION,
            vec![
                Ttlv::enumeration(Tag::WRAPPING_METHOD, 1u32),
                Ttlv::structure(
                    Tag::ENCRYPTION_KEY_INFORMATION,
                    vec![
                        uid(wrapper),
                        Ttlv::structure(
                            Tag::CRYPTOGRAPHIC_PARAMETERS,
                            vec![Ttlv::enumeration(
                                Tag::BLOCK_CIPHER_MODE,
                                BlockCipherMode::NIST_KEY_WRAP,
                            )],
                        ),
                    ],
                ),
            ],
        )
    };
    // In clear: refused (sensitive). Wrapped: served.
    let r = c
        .call(Operation::GET, vec![uid(secret)])
        .await
        .expect("get clear");
    assert_eq!(r.result_reason, Some(ResultReason::SENSITIVE));
    let r = c
        .call(Operation::GET, vec![uid(secret), spec(not_a_kek)])
        .await
        .expect("get with a non-wrapping key");
    assert_eq!(
        r.result_reason,
        Some(ResultReason::INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK)
    );
    let r = c
        .call(Operation::GET, vec![uid(secret), spec(kek)])
        .await
        .expect("get wrapped");
    ok(&r);
    let object = r
        .payload_items()
        .iter()
        .find(|t| t.tag == Tag::SYMMETRIC_KEY)
        .expect("symmetric key")
        .clone();
    let block = object.find(Tag::KEY_BLOCK).expect("key block");
    let wrapped = block
        .find(Tag::KEY_VALUE)
        .and_then(Ttlv::as_bytes)
        .expect("wrapped key value")
        .to_vec();
    assert_eq!(wrapped.len(), 32 + 8, "RFC 3394 adds 8 bytes");
    assert!(block.find(Tag::KEY_WRAPPING_DATA).is_some());

    // Register the wrapped block: the server unwraps it; the new key encrypts like the old.
    let r = c
        .call(
            Operation::REGISTER,
            vec![
                Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
                Ttlv::structure(
                    Tag::ATTRIBUTES,
                    vec![Ttlv::integer(
                        Tag::CRYPTOGRAPHIC_USAGE_MASK,
                        CryptographicUsageMask::ENCRYPT.0 as i32,
                    )],
                ),
                object.clone(),
            ],
        )
        .await
        .expect("register wrapped");
    ok(&r);
    let copy = text(&r, Tag::UNIQUE_IDENTIFIER);
    ok(&c
        .call(Operation::ACTIVATE, vec![uid(&copy)])
        .await
        .expect("activate copy"));
    let ecb = Ttlv::structure(
        Tag::CRYPTOGRAPHIC_PARAMETERS,
        vec![Ttlv::enumeration(
            Tag::BLOCK_CIPHER_MODE,
            BlockCipherMode::ECB,
        )],
    );
    let mut outs = Vec::new();
    for u in [secret, &copy] {
        let r = c
            .call(
                Operation::ENCRYPT,
                vec![uid(u), ecb.clone(), Ttlv::bytes(Tag::DATA, vec![5u8; 16])],
            )
            .await
            .expect("encrypt");
        ok(&r);
        outs.push(bytes(&r, Tag::DATA));
    }
    assert_eq!(outs[0], outs[1]);
    // A damaged wrapped value is refused.
    let mut bad = wrapped.clone();
    bad[3] ^= 1;
    let damaged = Ttlv::structure(
        Tag::SYMMETRIC_KEY,
        vec![Ttlv::structure(
            Tag::KEY_BLOCK,
            block
                .items()
                .iter()
                .map(|b| {
                    if b.tag == Tag::KEY_VALUE {
                        Ttlv::bytes(Tag::KEY_VALUE, bad.clone())
                    } else {
                        b.clone()
                    }
                })
                .collect(),
        )],
    );
    let r = c
        .call(
            Operation::REGISTER,
            vec![
                Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
                damaged,
            ],
        )
        .await
        .expect("register damaged");
    assert_eq!(r.result_reason, Some(ResultReason::CRYPTOGRAPHIC_FAILURE));
    f.stop().await;
}

/// A Locate over more objects than one response can carry: the answer is capped at 5,000
/// identifiers with Located Items giving the total, Offset Items pages to the rest, and a batch
/// of Locates whose answers together exceed the 10,000 items a KMIP decoder here reads back is
/// refused with Response Too Large, an answer the client still decodes. (Found by the
/// `kmip_dispatch` fuzz target: the server built a response its own decoder refused.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locate_over_many_objects_is_paged_and_an_oversized_batch_refused() {
    let f = start().await;
    let total = 5_100;
    f.store
        .write_as("admin", |tx| {
            for i in 0..total {
                tx.create(tresor_store::NewObject {
                    owner: Some("client".into()),
                    names: vec![format!("many-{i:05}")],
                    material: Some(b"x".to_vec()),
                    ..tresor_store::NewObject::new(tresor_store::ObjectType::SecretData)
                })?;
            }
            Ok(())
        })
        .expect("objects");
    let v = ProtocolVersion::V1_4;
    let c = f.client("client", v);
    let first = c.call(Operation::LOCATE, vec![]).await.expect("locate");
    ok(&first);
    let first_uids = located(&first);
    assert_eq!(first_uids.len(), 5_000);
    let count = first
        .payload_items()
        .iter()
        .find(|t| t.tag == Tag::LOCATED_ITEMS)
        .and_then(Ttlv::as_integer);
    assert_eq!(count, Some(total));
    let rest = c
        .call(
            Operation::LOCATE,
            vec![Ttlv::integer(Tag::OFFSET_ITEMS, 5_000)],
        )
        .await
        .expect("next page");
    ok(&rest);
    let rest_uids = located(&rest);
    assert_eq!(rest_uids.len(), (total - 5_000) as usize);
    let mut all: Vec<String> = first_uids.into_iter().chain(rest_uids).collect();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        total as usize,
        "the pages overlap or miss objects"
    );

    let msg = batch(
        v,
        Some(BatchErrorContinuationOption::CONTINUE),
        (1..=3)
            .map(|i| item(Operation::LOCATE, vec![], i))
            .collect(),
    );
    let resp = c.request(&msg).await.expect("an answer the client decodes");
    assert_eq!(resp.batch_items.len(), 3);
    for it in &resp.batch_items {
        assert_eq!(it.result_status, ResultStatus::OPERATION_FAILED);
        assert_eq!(it.result_reason, Some(ResultReason::RESPONSE_TOO_LARGE));
    }
    f.stop().await;
}

/// Hash (KMIP 1.2): FIPS 180 / 202 digests of "abc" for each offered algorithm, in 1.4 and
/// 2.1; an algorithm not offered and a request in parts are refused with Invalid Field and a
/// reason; a 1.1 request has no such operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_gives_the_standard_digests() {
    use tresor_kmip::enums::HashingAlgorithm as H;
    let f = start().await;
    let hash = |alg: H| {
        vec![
            Ttlv::structure(
                Tag::CRYPTOGRAPHIC_PARAMETERS,
                vec![Ttlv::enumeration(Tag::HASHING_ALGORITHM, alg)],
            ),
            Ttlv::bytes(Tag::DATA, b"abc".to_vec()),
        ]
    };
    let known = [
        (H::SHA_1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            H::SHA_256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            H::SHA3_256,
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
        ),
        (
            H::SHA_512_256,
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23",
        ),
    ];
    for v in [ProtocolVersion::V1_4, ProtocolVersion::V2_1] {
        let c = f.client("client", v);
        for (alg, hex) in known {
            let r = c.call(Operation::HASH, hash(alg)).await.expect("hash");
            ok(&r);
            let got: String = bytes(&r, Tag::DATA)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(got, hex, "{v} {alg:?}");
        }
        let r = c.call(Operation::HASH, hash(H::MD5)).await.expect("md5");
        assert_eq!(r.result_reason, Some(ResultReason::INVALID_FIELD), "{v}");
        let mut parts = hash(H::SHA_256);
        parts.push(Ttlv::new(Tag::INIT_INDICATOR, Value::Boolean(true)));
        let r = c.call(Operation::HASH, parts).await.expect("parts");
        assert_eq!(r.result_reason, Some(ResultReason::INVALID_FIELD), "{v}");
    }
    let old = f.client("client", ProtocolVersion::V1_1);
    let r = old
        .call(Operation::HASH, hash(H::SHA_256))
        .await
        .expect("1.1");
    assert_eq!(r.result_reason, Some(ResultReason::OPERATION_NOT_SUPPORTED));
    f.stop().await;
}
