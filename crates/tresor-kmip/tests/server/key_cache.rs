//! The key cache of the cryptographic operations (`ops/key_cache.rs`): a key another writer
//! revoked, destroyed, re-keyed or gave a new version is never used from the cache. Two
//! servers share one store (two `Store`s on one SQLite file, as two `tresor kmip serve`
//! processes share one database): server A uses a key, so caches it; the change is made
//! through server B or the store, which A's cache never hears of.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, Operation, ResultReason, ResultStatus,
    RevocationReasonCode, ValidityIndicator,
};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::server::{Server, ServerConfig};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

use super::common::*;
use super::create;

const V: ProtocolVersion = ProtocolVersion::V2_1;

/// One server on `store`; stopped when the sender drops.
struct Node {
    port: u16,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn serve(store: Arc<tresor_store::Store>, f: &tresor_kmip::certs::CertFiles) -> Node {
    let mut config = ServerConfig::new(&f.server_cert, &f.server_key, &f.ca_cert);
    config.listen = "127.0.0.1:0".into();
    let server = Server::bind(config, store).await.expect("bind");
    let port = server.local_addr().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(async {
        let _ = rx.await;
    }));
    Node { port, _stop: tx }
}

/// Two servers on one SQLite store (each with its own `Store`, as two processes would have),
/// a client of each, and B's store for writes made outside KMIP.
struct TwoServers {
    a: KmipClient,
    b: KmipClient,
    store_b: Arc<tresor_store::Store>,
    _nodes: (Node, Node),
    _dir: tempfile::TempDir,
}

impl TwoServers {
    async fn start() -> TwoServers {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = dir.path().join("certs");
        let files = tresor_kmip::certs::init(&certs).expect("certs");
        let kek = Arc::new(tresor_crypto::LocalKek::generate().expect("kek"));
        let db = dir.path().join("t.db");
        let open = |actor| {
            Arc::new(tresor_store::Store::open_sqlite(&db, kek.clone(), actor).expect("store"))
        };
        let (store_a, store_b) = (open("server-a"), open("server-b"));
        let nodes = (
            serve(store_a, &files).await,
            serve(store_b.clone(), &files).await,
        );
        TwoServers {
            a: client(&certs, nodes.0.port),
            b: client(&certs, nodes.1.port),
            store_b,
            _nodes: nodes,
            _dir: dir,
        }
    }
}

fn client(certs: &std::path::Path, port: u16) -> KmipClient {
    let mut cfg = ClientConfig::new(
        "127.0.0.1",
        certs.join("client.crt"),
        certs.join("client.key"),
        certs.join("ca.crt"),
    );
    cfg.server_name = Some("localhost".into());
    cfg.port = port;
    cfg.protocol_version = V;
    KmipClient::new(cfg).expect("client")
}

async fn encrypt(c: &KmipClient, u: &str, data: &[u8]) -> ResponseBatchItem {
    c.call(
        Operation::ENCRYPT,
        vec![uid(u), Ttlv::bytes(Tag::DATA, data.to_vec())],
    )
    .await
    .expect("encrypt")
}

/// Decrypts the answer of an AES-GCM Encrypt with `u`.
async fn decrypt(c: &KmipClient, u: &str, e: &ResponseBatchItem) -> ResponseBatchItem {
    c.call(
        Operation::DECRYPT,
        vec![
            uid(u),
            Ttlv::bytes(Tag::DATA, bytes(e, Tag::DATA)),
            Ttlv::bytes(Tag::IV_COUNTER_NONCE, bytes(e, Tag::IV_COUNTER_NONCE)),
            Ttlv::bytes(
                Tag::AUTHENTICATED_ENCRYPTION_TAG,
                bytes(e, Tag::AUTHENTICATED_ENCRYPTION_TAG),
            ),
        ],
    )
    .await
    .expect("decrypt")
}

/// Opens the answer of an AES-GCM Encrypt here, with `key`.
fn opens_with(key: &[u8], e: &ResponseBatchItem) -> Option<Vec<u8>> {
    let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    let nonce = Nonce::try_assume_unique_for_key(&bytes(e, Tag::IV_COUNTER_NONCE)).ok()?;
    let mut buf = bytes(e, Tag::DATA);
    buf.extend(bytes(e, Tag::AUTHENTICATED_ENCRYPTION_TAG));
    k.open_in_place(nonce, Aad::empty(), &mut buf)
        .ok()
        .map(|plain| plain.to_vec())
}

fn refused(item: &ResponseBatchItem, reason: ResultReason) {
    assert_eq!(
        item.result_status,
        ResultStatus::OPERATION_FAILED,
        "{:?}",
        item.result_message
    );
    assert_eq!(
        item.result_reason,
        Some(reason),
        "{:?}",
        item.result_message
    );
}

async fn revoke(c: &KmipClient, u: &str) {
    let reason = Ttlv::structure(
        Tag::REVOCATION_REASON,
        vec![Ttlv::enumeration(
            Tag::REVOCATION_REASON_CODE,
            RevocationReasonCode::CESSATION_OF_OPERATION,
        )],
    );
    ok(&c
        .call(Operation::REVOKE, vec![uid(u), reason])
        .await
        .expect("revoke"));
}

async fn active_key(c: &KmipClient) -> String {
    let u = create(c, V, None).await;
    ok(&c
        .call(Operation::ACTIVATE, vec![uid(&u)])
        .await
        .expect("activate"));
    u
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_changed_by_another_server_is_not_used_from_the_cache() {
    // The nodes and the folder are bound too: unbound fields would drop here.
    let TwoServers {
        a,
        b,
        store_b,
        _nodes,
        _dir,
    } = TwoServers::start().await;
    let data = b"sixteen byte msg";

    // Revoke on B: A refuses to encrypt (a protecting use needs Active), still decrypts.
    let k = active_key(&a).await;
    let before = encrypt(&a, &k, data).await;
    ok(&before);
    ok(&encrypt(&a, &k, data).await);
    ok(&decrypt(&a, &k, &before).await);
    revoke(&b, &k).await;
    refused(
        &encrypt(&a, &k, data).await,
        ResultReason::WRONG_KEY_LIFECYCLE_STATE,
    );
    let d = decrypt(&a, &k, &before).await;
    ok(&d);
    assert_eq!(bytes(&d, Tag::DATA), data);

    // Destroy on B: A refuses to decrypt.
    ok(&b
        .call(Operation::DESTROY, vec![uid(&k)])
        .await
        .expect("destroy"));
    refused(
        &decrypt(&a, &k, &before).await,
        ResultReason::WRONG_KEY_LIFECYCLE_STATE,
    );

    // Re-Key on B: the replacement encrypts under its own material, which the replaced key
    // cannot open.
    let k = active_key(&a).await;
    let old = encrypt(&a, &k, data).await;
    ok(&old);
    let rk = b
        .call(Operation::RE_KEY, vec![uid(&k)])
        .await
        .expect("re-key");
    ok(&rk);
    let k2 = text(&rk, Tag::UNIQUE_IDENTIFIER);
    assert_ne!(k2, k);
    let new = encrypt(&a, &k2, data).await;
    ok(&new);
    refused(
        &decrypt(&a, &k, &new).await,
        ResultReason::CRYPTOGRAPHIC_FAILURE,
    );
    ok(&decrypt(&a, &k2, &new).await);
    ok(&decrypt(&a, &k, &old).await);

    // A new version of the same key written through B's store (as the CLI or a rotation
    // would): A's next Encrypt uses it, though the old version is cached under the same uid.
    let k = active_key(&a).await;
    ok(&encrypt(&a, &k, data).await);
    ok(&encrypt(&a, &k, data).await);
    let fresh = [0x42_u8; 32];
    let mut tx = store_b.begin_as("client");
    tx.put_material(&k, &fresh).expect("new version");
    tx.commit().expect("commit");
    let e = encrypt(&a, &k, data).await;
    ok(&e);
    assert_eq!(
        opens_with(&fresh, &e).as_deref(),
        Some(&data[..]),
        "server A encrypted under a key other than the current version"
    );
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn its_own_writes_reach_the_cache_and_the_cache_can_be_off() {
    for entries in [0, 1024] {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = dir.path().join("certs");
        let files = tresor_kmip::certs::init(&certs).expect("certs");
        let kek = Arc::new(tresor_crypto::LocalKek::generate().expect("kek"));
        let store = Arc::new(
            tresor_store::Store::open_sqlite(&dir.path().join("t.db"), kek, "s").expect("store"),
        );
        let mut config = ServerConfig::new(&files.server_cert, &files.server_key, &files.ca_cert);
        config.listen = "127.0.0.1:0".into();
        config.key_cache_entries = entries;
        let server = Server::bind(config, store).await.expect("bind");
        let port = server.local_addr().port();
        let (_stop, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.serve(async {
            let _ = rx.await;
        }));
        let c = client(&certs, port);
        let data = b"0123456789abcdef";
        let k = active_key(&c).await;
        let e = encrypt(&c, &k, data).await;
        ok(&e);
        ok(&decrypt(&c, &k, &e).await);
        revoke(&c, &k).await;
        refused(
            &encrypt(&c, &k, data).await,
            ResultReason::WRONG_KEY_LIFECYCLE_STATE,
        );
        ok(&decrypt(&c, &k, &e).await);
        ok(&c
            .call(Operation::DESTROY, vec![uid(&k)])
            .await
            .expect("destroy"));
        refused(
            &decrypt(&c, &k, &e).await,
            ResultReason::WRONG_KEY_LIFECYCLE_STATE,
        );
        c.close().await;
    }
}

/// An active ECDSA P-256 key pair: (private, public) uids.
async fn key_pair(c: &KmipClient) -> (String, String) {
    let mut common = AttributeSet::default();
    common.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::ECDSA.0),
    ));
    common.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(256),
    ));
    common.push(Attribute::standard(
        Tag::ACTIVATION_DATE,
        Value::DateTime(1),
    ));
    let mask = |m: CryptographicUsageMask, container| {
        let mut set = AttributeSet::default();
        set.push(Attribute::standard(
            Tag::CRYPTOGRAPHIC_USAGE_MASK,
            Value::Integer(m.0 as i32),
        ));
        set.to_ttlv(V, container)
    };
    let kp = c
        .call(
            Operation::CREATE_KEY_PAIR,
            vec![
                common.to_ttlv(V, Container::Common),
                mask(CryptographicUsageMask::SIGN, Container::PrivateKey),
                mask(CryptographicUsageMask::VERIFY, Container::PublicKey),
            ],
        )
        .await
        .expect("create key pair");
    ok(&kp);
    (
        text(&kp, Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER),
        text(&kp, Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER),
    )
}

async fn sign(c: &KmipClient, sk: &str, data: &[u8]) -> Vec<u8> {
    let s = c
        .call(
            Operation::SIGN,
            vec![uid(sk), Ttlv::bytes(Tag::DATA, data.to_vec())],
        )
        .await
        .expect("sign");
    ok(&s);
    bytes(&s, Tag::SIGNATURE_DATA)
}

async fn verify(c: &KmipClient, pk: &str, data: &[u8], sig: &[u8]) -> ResponseBatchItem {
    c.call(
        Operation::SIGNATURE_VERIFY,
        vec![
            uid(pk),
            Ttlv::bytes(Tag::DATA, data.to_vec()),
            Ttlv::bytes(Tag::SIGNATURE_DATA, sig.to_vec()),
        ],
    )
    .await
    .expect("verify")
}

/// The Validity Indicator of a successful Signature Verify.
fn validity(item: &ResponseBatchItem) -> Option<u32> {
    ok(item);
    item.payload_items()
        .iter()
        .find(|t| t.tag == Tag::VALIDITY_INDICATOR)
        .and_then(Ttlv::as_enumeration)
}

/// Signature Verify keeps the parsed public key with the cached key: server A verifies
/// (parses and caches), then another writer gives the public key a new version (another
/// key's material) or destroys it. A verifies with the new key at once and refuses the
/// destroyed one: the cached parse is never used for a changed object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_key_changed_by_another_writer_is_not_verified_from_the_cache() {
    // The nodes and the folder are bound too: unbound fields would drop here.
    let TwoServers {
        a,
        b,
        store_b,
        _nodes,
        _dir,
    } = TwoServers::start().await;
    let msg = b"the message";
    let (sk1, pk1) = key_pair(&a).await;
    let (sk2, pk2) = key_pair(&a).await;
    let (sig1, sig2) = (sign(&a, &sk1, msg).await, sign(&a, &sk2, msg).await);
    let (valid, invalid) = (
        Some(ValidityIndicator::VALID.0),
        Some(ValidityIndicator::INVALID.0),
    );
    for _ in 0..2 {
        assert_eq!(validity(&verify(&a, &pk1, msg, &sig1).await), valid);
        assert_eq!(validity(&verify(&a, &pk1, msg, &sig2).await), invalid);
    }

    // A new version of pk1 holding pk2's key, written through B's store.
    let mut tx = store_b.begin_as("client");
    let other = tx.material(&pk2, 0).expect("pk2's key");
    tx.put_material(&pk1, other.expose()).expect("new version");
    tx.commit().expect("commit");
    assert_eq!(
        validity(&verify(&a, &pk1, msg, &sig2).await),
        valid,
        "server A verified with the public key it had parsed before the new version"
    );
    assert_eq!(validity(&verify(&a, &pk1, msg, &sig1).await), invalid);

    // Revoked and destroyed through B: A refuses to verify with it.
    revoke(&b, &pk1).await;
    ok(&b
        .call(Operation::DESTROY, vec![uid(&pk1)])
        .await
        .expect("destroy"));
    refused(
        &verify(&a, &pk1, msg, &sig2).await,
        ResultReason::WRONG_KEY_LIFECYCLE_STATE,
    );
    a.close().await;
    b.close().await;
}
