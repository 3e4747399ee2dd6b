//! Attacker A3 (an authenticated KMIP client, a remote-mode teammate) against team naming,
//! through a real server over mutual TLS: `cargo test -p tresor-kmip --test threat_model_team`.
//!
//! - an identity with no grant on an object learns nothing: every operation on its uid
//!   answers exactly as for an absent uid (status, reason, message modulo the uid, payload);
//! - names under an app (`APP:ENV:KEY`) are given only by admins and identities the app's
//!   policy allows, whether or not the name is taken;
//! - a write to an object one does not own needs an explicit `modify` grant.

use std::sync::Arc;

use serde_json::json;
use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{
    NameType, ObjectType, Operation, ResultReason, ResultStatus, RevocationReasonCode,
};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::server::{Server, ServerConfig};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value, vendor};
use tresor_testkit::kmip::{create_payload, create_unnamed_payload, register_secret_payload};

struct Fixture {
    _dir: tempfile::TempDir,
    certs: std::path::PathBuf,
    port: u16,
    store: Arc<tresor_store::Store>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// A server on 127.0.0.1:0 over a fresh SQLite store; client certificates for alice, bob
/// and mallory; `boss` is an admin.
async fn start() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path().join("certs");
    let f = tresor_kmip::certs::init(&certs).expect("certs");
    for n in ["alice", "bob", "mallory", "boss"] {
        tresor_kmip::certs::client(&certs, n).expect("client cert");
    }
    let kek = Arc::new(tresor_crypto::LocalKek::generate().expect("kek"));
    let store = Arc::new(
        tresor_store::Store::open_sqlite(&dir.path().join("t.db"), kek, "server").expect("store"),
    );
    let mut config = ServerConfig::new(&f.server_cert, &f.server_key, &f.ca_cert);
    config.listen = "127.0.0.1:0".into();
    config.admins = vec!["boss".into()];
    let server = Server::bind(config, store.clone()).await.expect("bind");
    let port = server.local_addr().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async {
        let _ = rx.await;
    }));
    Fixture {
        _dir: dir,
        certs,
        port,
        store,
        stop: Some(tx),
        task: Some(task),
    }
}

impl Fixture {
    fn client(&self, name: &str) -> KmipClient {
        let c = &self.certs;
        let mut cfg = ClientConfig::new(
            "127.0.0.1",
            c.join(format!("{name}.crt")),
            c.join(format!("{name}.key")),
            c.join("ca.crt"),
        );
        cfg.server_name = Some("localhost".into());
        cfg.port = self.port;
        cfg.protocol_version = ProtocolVersion::V1_4;
        KmipClient::new(cfg).expect("client")
    }

    /// Sets `identity`'s grant on `uid` as `tresor kmip grant` does.
    fn grant(&self, uid: &str, identity: &str, perms: &str) {
        self.store
            .write(|tx| {
                tx.update(uid, "grant", |m| {
                    let g = m
                        .attributes
                        .entry("tresor.grants".to_owned())
                        .or_insert_with(|| json!({}));
                    g[identity] = json!(perms);
                    Ok(())
                })?;
                Ok(())
            })
            .expect("grant");
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task");
        }
    }
}

fn uid_item(u: &str) -> Ttlv {
    Ttlv::text(Tag::UNIQUE_IDENTIFIER, u)
}

fn uid_of(r: &ResponseBatchItem) -> String {
    assert_eq!(r.result_status, ResultStatus::SUCCESS, "{r:?}");
    r.payload
        .as_ref()
        .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
        .and_then(Ttlv::as_text)
        .expect("uid")
        .to_owned()
}

fn secret_data(value: &[u8]) -> Ttlv {
    tresor_kmip::payload::register::SecretData::new(
        tresor_kmip::enums::SecretDataType::PASSWORD,
        value.to_vec(),
    )
    .to_ttlv()
}

/// Every operation that names an object by uid, as a payload for that uid.
fn probes(uid: &str) -> Vec<(Operation, Vec<Ttlv>)> {
    let name_attr = Attribute::name("probe-name", NameType::UNINTERPRETED_TEXT_STRING).to_v1();
    vec![
        (Operation::GET, vec![uid_item(uid)]),
        (Operation::GET_ATTRIBUTES, vec![uid_item(uid)]),
        (Operation::GET_ATTRIBUTE_LIST, vec![uid_item(uid)]),
        (Operation::ACTIVATE, vec![uid_item(uid)]),
        (
            Operation::REVOKE,
            vec![
                uid_item(uid),
                Ttlv::structure(
                    Tag::REVOCATION_REASON,
                    vec![Ttlv::enumeration(
                        Tag::REVOCATION_REASON_CODE,
                        RevocationReasonCode::CESSATION_OF_OPERATION,
                    )],
                ),
            ],
        ),
        (Operation::DESTROY, vec![uid_item(uid)]),
        (Operation::ADD_ATTRIBUTE, vec![uid_item(uid), name_attr]),
        (Operation::CHECK, vec![uid_item(uid)]),
        (vendor::VERSIONS, vec![uid_item(uid)]),
        (
            vendor::ADD_VERSION,
            vec![uid_item(uid), secret_data(b"overwritten")],
        ),
        (vendor::PURGE, vec![uid_item(uid)]),
    ]
}

/// A response with `uid` replaced by `UID`, as text (every field: status, reason,
/// message, payload).
fn normalized(r: &ResponseBatchItem, uid: &str) -> String {
    format!("{r:?}").replace(uid, "UID")
}

/// Bob has no grant on alice's secret and key: every uid operation answers as for an
/// absent uid, and Locate does not find them by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_grant_gets_the_answer_for_an_absent_uid() {
    let f = start().await;
    let alice = f.client("alice");
    let bob = f.client("bob");
    let secret = uid_of(
        &alice
            .call(
                Operation::REGISTER,
                register_secret_payload("alice-db-password", b"s3cret-a1"),
            )
            .await
            .expect("register"),
    );
    let key = uid_of(
        &alice
            .call(Operation::CREATE, create_unnamed_payload())
            .await
            .expect("create"),
    );
    // An absent uid of the same form (a fresh one nobody created).
    let absent = tresor_store::new_uid().expect("uid");
    for target in [&secret, &key] {
        for ((op, payload), (_, absent_payload)) in probes(target).into_iter().zip(probes(&absent))
        {
            let got = bob.call(op, payload).await.expect("answer");
            let none = bob.call(op, absent_payload).await.expect("answer");
            assert_ne!(got.result_status, ResultStatus::SUCCESS, "{op}: {got:?}");
            assert_eq!(
                normalized(&got, target),
                normalized(&none, &absent),
                "{op} on an object bob has no grant on differs from an absent one"
            );
        }
    }
    // Locate by the exact name finds nothing for bob (and the object for alice).
    let by_name =
        vec![Attribute::name("alice-db-password", NameType::UNINTERPRETED_TEXT_STRING).to_v1()];
    let r = bob
        .call(Operation::LOCATE, by_name.clone())
        .await
        .expect("locate");
    assert_eq!(r.result_status, ResultStatus::SUCCESS);
    assert!(
        r.payload
            .as_ref()
            .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
            .is_none(),
        "{r:?}"
    );
    let r = alice
        .call(Operation::LOCATE, by_name)
        .await
        .expect("locate");
    assert_eq!(uid_of(&r), secret);

    // Nothing changed: alice still reads her value at version 1.
    let r = alice
        .call(
            vendor::VERSIONS,
            vec![uid_item(&secret), Ttlv::integer(vendor::VERSION, 0)],
        )
        .await
        .expect("versions");
    let p = r.payload.as_ref().expect("payload");
    assert_eq!(p.find(vendor::VERSION).and_then(Ttlv::as_integer), Some(1));
    assert_eq!(p.find(vendor::OWNER).and_then(Ttlv::as_text), Some("alice"));

    // With a read grant bob knows the object exists: writes are refused as such, not
    // hidden, and his reads work.
    f.grant(&secret, "bob", "get,locate");
    let r = bob
        .call(
            vendor::ADD_VERSION,
            vec![uid_item(&secret), secret_data(b"bob")],
        )
        .await
        .expect("answer");
    assert_eq!(
        r.result_reason,
        Some(ResultReason::PERMISSION_DENIED),
        "{r:?}"
    );
    let r = bob
        .call(Operation::DESTROY, vec![uid_item(&secret)])
        .await
        .expect("answer");
    assert_eq!(
        r.result_reason,
        Some(ResultReason::PERMISSION_DENIED),
        "{r:?}"
    );
    let r = bob
        .call(Operation::GET, vec![uid_item(&secret)])
        .await
        .expect("get");
    assert_eq!(r.result_status, ResultStatus::SUCCESS, "{r:?}");
    // An explicit modify grant lets him write a new version.
    f.grant(&secret, "bob", "get,locate,modify");
    let r = bob
        .call(
            vendor::ADD_VERSION,
            vec![uid_item(&secret), secret_data(b"bob")],
        )
        .await
        .expect("answer");
    assert_eq!(r.result_status, ResultStatus::SUCCESS, "{r:?}");
    f.stop().await;
}

/// Mallory may not give any object a name under the app `shop` until the app's policy
/// allows her, and the refusal is the same whether the name is taken or free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_under_an_app_need_the_apps_permission() {
    let f = start().await;
    let boss = f.client("boss");
    let mallory = f.client("mallory");
    // The admin creates the real secret.
    uid_of(
        &boss
            .call(
                Operation::REGISTER,
                register_secret_payload("shop:prod:DB_PASSWORD", b"real-value"),
            )
            .await
            .expect("register"),
    );
    // Taken and free names: the same refusal (modulo the name), nothing created.
    let taken = mallory
        .call(
            Operation::REGISTER,
            register_secret_payload("shop:prod:DB_PASSWORD", b"squat"),
        )
        .await
        .expect("answer");
    let free = mallory
        .call(
            Operation::REGISTER,
            register_secret_payload("shop:prod:DB_PASSWORX", b"squat"),
        )
        .await
        .expect("answer");
    assert_eq!(
        taken.result_reason,
        Some(ResultReason::PERMISSION_DENIED),
        "{taken:?}"
    );
    assert_eq!(
        format!("{taken:?}").replace("DB_PASSWORD", "NAME"),
        format!("{free:?}").replace("DB_PASSWORX", "NAME")
    );
    assert!(
        taken
            .result_message
            .as_deref()
            .unwrap_or_default()
            .contains("tresor kmip apps allow shop mallory"),
        "{taken:?}"
    );
    // The vault's name rules, not stricter ones: a name with a space, or an empty env, is
    // still shop's secret to the vault (KMIP used to let these through without the policy).
    for name in ["shop:prod:DB PASSWORD", "shop::DB_PASSWORD"] {
        let r = mallory
            .call(Operation::REGISTER, register_secret_payload(name, b"squat"))
            .await
            .expect("answer");
        assert_eq!(
            r.result_reason,
            Some(ResultReason::PERMISSION_DENIED),
            "{name}: {r:?}"
        );
    }
    // Nor as a Name added to her own object, nor on a new key.
    let own = uid_of(
        &mallory
            .call(Operation::CREATE, create_unnamed_payload())
            .await
            .expect("create"),
    );
    let r = mallory
        .call(
            Operation::ADD_ATTRIBUTE,
            vec![
                uid_item(&own),
                Attribute::name("shop:prod:DB_PASSWORD", NameType::UNINTERPRETED_TEXT_STRING)
                    .to_v1(),
            ],
        )
        .await
        .expect("answer");
    assert_eq!(
        r.result_reason,
        Some(ResultReason::PERMISSION_DENIED),
        "{r:?}"
    );
    let named_key = create_payload("shop:prod:KEY");
    let r = mallory
        .call(Operation::CREATE, named_key.clone())
        .await
        .expect("answer");
    assert_eq!(
        r.result_reason,
        Some(ResultReason::PERMISSION_DENIED),
        "{r:?}"
    );
    let q = tresor_store::Query {
        owner: Some("mallory".into()),
        ..Default::default()
    };
    assert_eq!(
        f.store.locate(&q).expect("locate").len(),
        1,
        "only her unnamed key"
    );
    // Names outside the APP:ENV:KEY form stay open to everyone.
    uid_of(
        &mallory
            .call(
                Operation::REGISTER,
                register_secret_payload("mallory-notes", b"x"),
            )
            .await
            .expect("register"),
    );

    // The server's owner allows her under shop: she may create there (not elsewhere).
    tresor_kmip::apps::set(&f.store, "shop", "mallory", true).expect("allow");
    uid_of(
        &mallory
            .call(Operation::CREATE, named_key)
            .await
            .expect("create"),
    );
    let r = mallory
        .call(
            Operation::REGISTER,
            register_secret_payload("bank:prod:PIN", b"x"),
        )
        .await
        .expect("answer");
    assert_eq!(
        r.result_reason,
        Some(ResultReason::PERMISSION_DENIED),
        "{r:?}"
    );
    assert_eq!(
        tresor_kmip::apps::policies(&f.store).expect("policies"),
        vec![("shop".to_owned(), vec!["mallory".to_owned()])]
    );
    // Denied again: no new names.
    tresor_kmip::apps::set(&f.store, "shop", "mallory", false).expect("deny");
    let r = mallory
        .call(
            Operation::REGISTER,
            register_secret_payload("shop:dev:X", b"x"),
        )
        .await
        .expect("answer");
    assert_eq!(
        r.result_reason,
        Some(ResultReason::PERMISSION_DENIED),
        "{r:?}"
    );
    // '*' '*' is the old open server.
    tresor_kmip::apps::set(&f.store, "*", "*", true).expect("open");
    uid_of(
        &mallory
            .call(
                Operation::REGISTER,
                register_secret_payload("bank:prod:PIN", b"x"),
            )
            .await
            .expect("register"),
    );
    f.stop().await;
}

/// A KMIP client cannot write an app policy itself: it may not create `tresor:` names even
/// on a server open to everyone, and an object made over KMIP to look like a policy (here
/// by an admin, who may create any name) is not one: policies are the server owner's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_cannot_forge_an_app_policy() {
    let f = start().await;
    let mallory = f.client("mallory");
    let boss = f.client("boss");
    // What `tresor kmip apps allow shop mallory` writes, attribute for attribute.
    let forged = || {
        let mut set = AttributeSet::default();
        set.push(Attribute::name(
            "tresor:app:shop",
            NameType::UNINTERPRETED_TEXT_STRING,
        ));
        for (k, v) in [
            (tresor_store::secret_name::ALLOW, "mallory"),
            ("tresor.role", "policy"),
            ("tresor.type", "app"),
        ] {
            set.push(Attribute {
                name: tresor_kmip::AttributeName::Custom {
                    vendor: None,
                    name: k.into(),
                },
                index: None,
                value: Value::TextString(v.into()),
            });
        }
        vec![
            Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SECRET_DATA),
            set.to_ttlv(ProtocolVersion::V1_4, Container::Template),
            secret_data(b"x"),
        ]
    };
    // Even with every app open to everyone, 'tresor' stays closed.
    tresor_kmip::apps::set(&f.store, "*", "*", true).expect("open");
    let r = mallory
        .call(Operation::REGISTER, forged())
        .await
        .expect("answer");
    assert_eq!(
        r.result_reason,
        Some(ResultReason::PERMISSION_DENIED),
        "{r:?}"
    );
    tresor_kmip::apps::set(&f.store, "*", "*", false).expect("close");
    // An admin's look-alike (or one a later hole lets through) is not a policy.
    let _ = boss
        .call(Operation::REGISTER, forged())
        .await
        .expect("answer");
    let r = mallory
        .call(
            Operation::REGISTER,
            register_secret_payload("shop:prod:DB", b"x"),
        )
        .await
        .expect("answer");
    assert_eq!(
        r.result_reason,
        Some(ResultReason::PERMISSION_DENIED),
        "{r:?}"
    );
    let p = tresor_kmip::apps::policies(&f.store).expect("policies");
    assert_eq!(p, vec![("*".to_owned(), Vec::<String>::new())]);
    f.stop().await;
}
