//! Threat model, attacker A3 (an authenticated KMIP client): one client cannot make the server
//! do unbounded work or hold unbounded resources, and while it tries, another client's Get
//! is still answered. Each attack runs against a real server over mutual TLS.
//!
//! `cargo test -p tresor-kmip --test threat_model_limits`

mod threat_model_support;

use std::time::{Duration, Instant};

use threat_model_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::enums::{CryptographicAlgorithm, Operation, ResultReason, ResultStatus};
use tresor_kmip::message::{RequestBatchItem, RequestHeader, RequestMessage};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

const V2: ProtocolVersion = ProtocolVersion::V2_0;
const V1: ProtocolVersion = ProtocolVersion::V1_4;

fn batch(version: ProtocolVersion, items: Vec<RequestBatchItem>) -> RequestMessage {
    RequestMessage {
        header: RequestHeader::new(version, i32::try_from(items.len()).expect("count")),
        batch_items: items,
    }
}

fn rng(n: i32) -> RequestBatchItem {
    RequestBatchItem::new(
        Operation::RNG_RETRIEVE,
        vec![Ttlv::integer(Tag::DATA_LENGTH, n)],
    )
}

fn key_pair(v: ProtocolVersion, alg: CryptographicAlgorithm, bits: i32) -> RequestBatchItem {
    let mut set = AttributeSet::default();
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(alg.0),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(bits),
    ));
    RequestBatchItem::new(
        Operation::CREATE_KEY_PAIR,
        vec![set.to_ttlv(v, Container::Common)],
    )
}

/// Bob's key, which bob reads between the attacks.
async fn bystander(f: &Fixture) -> (tresor_kmip::client::KmipClient, String) {
    let bob = f.client("bob", V2);
    let uid = create_key(&bob, V2).await;
    (bob, uid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_of_65_items_is_refused() {
    let f = start(|_, _| {}).await;
    let (bob, key) = bystander(&f).await;
    let alice = f.client("alice", V2);
    let query = || RequestBatchItem::new(Operation::QUERY, Vec::new());
    let resp = alice
        .request(&batch(V2, vec![query(); 64]))
        .await
        .expect("64 items");
    assert_eq!(resp.batch_items.len(), 64);
    ok("64 items", &resp.batch_items[0]);
    let resp = alice
        .request(&batch(V2, vec![query(); 65]))
        .await
        .expect("65 items");
    assert!(!resp.batch_items.is_empty());
    for item in &resp.batch_items {
        let m = failed("65 items", item, ResultReason::SERVER_LIMIT_EXCEEDED);
        assert!(m.contains("65 batch items"), "{m}");
    }
    // KMIP 1.x has no Server Limit Exceeded: the message is invalid.
    let old = f.client("alice", V1);
    let resp = old
        .request(&batch(V1, vec![query(); 65]))
        .await
        .expect("65 items 1.4");
    failed(
        "65 items in 1.4",
        &resp.batch_items[0],
        ResultReason::INVALID_MESSAGE,
    );
    get_ok("after the 65-item batch", &bob, &key).await;
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rng_floods_are_refused() {
    let f = start(|_, _| {}).await;
    let (bob, key) = bystander(&f).await;
    let alice = f.client("alice", V2);
    // 100 MiB in one item.
    let item = alice
        .call(
            Operation::RNG_RETRIEVE,
            vec![Ttlv::integer(Tag::DATA_LENGTH, 100 << 20)],
        )
        .await
        .expect("rng 100 MiB");
    assert_eq!(item.result_status, ResultStatus::OPERATION_FAILED);
    // 64 items of 64 KiB (4 MiB of output for one request, 160 MiB before the batch bound).
    let resp = alice
        .request(&batch(V2, vec![rng(1 << 16); 64]))
        .await
        .expect("rng batch");
    for item in &resp.batch_items {
        let m = failed("4 MiB of RNG", item, ResultReason::SERVER_LIMIT_EXCEEDED);
        assert!(m.contains("random bytes"), "{m}");
    }
    get_ok("after the RNG flood", &bob, &key).await;
    // One MiB is served.
    let resp = alice
        .request(&batch(V2, vec![rng(1 << 16); 16]))
        .await
        .expect("1 MiB");
    ok("1 MiB of RNG", &resp.batch_items[15]);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_pair_floods_and_huge_rsa_are_refused() {
    let f = start(|_, _| {}).await;
    let (bob, key) = bystander(&f).await;
    let alice = f.client("alice", V2);
    let ec = || key_pair(V2, CryptographicAlgorithm::EC, 256);
    let resp = alice
        .request(&batch(V2, vec![ec(); 5]))
        .await
        .expect("5 pairs");
    for item in &resp.batch_items {
        let m = failed("5 key pairs", item, ResultReason::SERVER_LIMIT_EXCEEDED);
        assert!(m.contains("5 key pairs"), "{m}");
    }
    let resp = alice
        .request(&batch(
            V2,
            vec![key_pair(V2, CryptographicAlgorithm::RSA, 8192)],
        ))
        .await
        .expect("rsa 8192");
    let m = failed(
        "RSA 8192",
        &resp.batch_items[0],
        ResultReason::INVALID_FIELD,
    );
    assert!(m.contains("8192"), "{m}");
    get_ok("after the key pair flood", &bob, &key).await;
    let resp = alice
        .request(&batch(V2, vec![ec(); 4]))
        .await
        .expect("4 pairs");
    ok("4 key pairs", &resp.batch_items[3]);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_33rd_connection_of_one_identity_is_refused() {
    let f = start(|_, _| {}).await;
    let (bob, key) = bystander(&f).await;
    let mut open = Vec::new();
    for i in 0..32 {
        let mut tls = f.tls("alice").await.expect("handshake");
        let item = exchange(&mut tls, V2, Operation::QUERY, Vec::new())
            .await
            .unwrap_or_else(|| panic!("connection {i} closed"));
        ok("one of 32 connections", &item);
        open.push(tls);
    }
    let mut extra = f.tls("alice").await.expect("handshake 33");
    let item = exchange(&mut extra, V2, Operation::QUERY, Vec::new())
        .await
        .expect("the 33rd connection is answered with a refusal");
    let m = failed(
        "33rd connection",
        &item,
        ResultReason::SERVER_LIMIT_EXCEEDED,
    );
    assert!(m.contains("32 connections"), "{m}");
    // The server closes it after the refusal.
    let mut buf = [0u8; 1];
    assert!(matches!(extra.read(&mut buf).await, Ok(0) | Err(_)));
    get_ok("with alice at her limit", &bob, &key).await;
    // A slot comes back when one connection closes.
    let mut first = open.remove(0);
    first.shutdown().await.expect("close");
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        let mut tls = f.tls("alice").await.expect("handshake");
        match exchange(&mut tls, V2, Operation::QUERY, Vec::new()).await {
            Some(item) if item.result_status == ResultStatus::SUCCESS => {
                again = Some(tls);
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(again.is_some(), "a freed slot is usable again");
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_server_total_are_closed() {
    let f = start(|c, _| c.server_limits.max_connections = 3).await;
    let (bob, key) = bystander(&f).await; // connection 1
    let mut a = f.tls("alice").await.expect("2");
    ok(
        "2",
        &exchange(&mut a, V2, Operation::QUERY, Vec::new())
            .await
            .expect("2"),
    );
    let mut b = f.tls("alice").await.expect("3");
    ok(
        "3",
        &exchange(&mut b, V2, Operation::QUERY, Vec::new())
            .await
            .expect("3"),
    );
    // The fourth is closed before TLS.
    let refused = match f.tls("client").await {
        Err(_) => true,
        Ok(mut s) => exchange(&mut s, V2, Operation::QUERY, Vec::new())
            .await
            .is_none(),
    };
    assert!(refused, "a fourth connection was served");
    get_ok("at the connection limit", &bob, &key).await;
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_rate_are_refused() {
    let f = start(|c, _| c.server_limits.requests_per_second = 5).await;
    let (bob, key) = bystander(&f).await;
    let alice = f.client("alice", V2);
    let mut refused = 0;
    for _ in 0..30 {
        let item = alice
            .call(Operation::QUERY, Vec::new())
            .await
            .expect("query");
        if item.result_status != ResultStatus::SUCCESS {
            let m = failed("over the rate", &item, ResultReason::SERVER_LIMIT_EXCEEDED);
            assert!(m.contains("requests per second"), "{m}");
            refused += 1;
        }
    }
    assert!(refused > 0, "30 requests at once were all served at 5/s");
    // Bob has his own bucket (his Create took one token of five).
    get_ok("while alice is throttled", &bob, &key).await;
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_over_the_size_limit_are_refused() {
    let f = start(|c, _| c.server_limits.max_response_size = 100 << 10).await;
    let (bob, key) = bystander(&f).await;
    let alice = f.client("alice", V2);
    let resp = alice
        .request(&batch(V2, vec![rng(60 << 10); 2]))
        .await
        .expect("120 KiB");
    let m = failed(
        "120 KiB response",
        &resp.batch_items[0],
        ResultReason::RESPONSE_TOO_LARGE,
    );
    assert!(m.contains("102400"), "{m}");
    get_ok("after the large response", &bob, &key).await;
    f.stop().await;
}

/// A client that starts a message and sends one byte every 200 ms is dropped by the read
/// timeout (1 s here), while another client is answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_dropped() {
    let f = start(|c, _| c.server_limits.read_timeout = Duration::from_secs(1)).await;
    let (bob, key) = bystander(&f).await;
    let mut slow = f.tls("alice").await.expect("handshake");
    let req = RequestMessage::single(V2, Operation::QUERY, Vec::new())
        .to_ttlv()
        .encode();
    let started = Instant::now();
    let mut dropped = false;
    for (i, b) in req.iter().enumerate() {
        if slow.write_all(&[*b]).await.is_err() || slow.flush().await.is_err() {
            dropped = true;
            break;
        }
        if i % 5 == 0 {
            get_ok("during the slow message", &bob, &key).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The server closing shows as a readable end of stream.
        let mut buf = [0u8; 1];
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(1), slow.read(&mut buf)).await {
            assert!(matches!(r, Ok(0) | Err(_)), "answered a trickled message");
            dropped = true;
            break;
        }
    }
    assert!(
        dropped,
        "a message trickled over {:?} ({} bytes) was not dropped",
        started.elapsed(),
        req.len()
    );
    get_ok("after the slowloris", &bob, &key).await;
    f.stop().await;
}
