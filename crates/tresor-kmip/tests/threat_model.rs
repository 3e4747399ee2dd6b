//! Attacks by an authenticated KMIP client (attacker A3 of docs/THREAT_MODEL.md) against a
//! real tresor KMIP server over mutual TLS (the fixture in `common`):
//!
//! - material of a non-extractable or sensitive object leaves through no operation (Get,
//!   tresor's Versions, any other operation, KMIP 1.4 and 2.1), and a sensitive key wrapped
//!   for export cannot be opened with a wrapping key the client controls;
//! - a client cannot claim tresor's reserved names (`tresor:*`, `tresor-key:*`, any case)
//!   or set its reserved attributes (`tresor.role`...), nor loosen Sensitive/Extractable;
//! - AES-GCM refuses short tags and caller-chosen IVs where the key does not allow them.
//!
//! `cargo test -p tresor-kmip --test threat_model`

mod common;

use common::*;
use tresor_kmip::attributes::{Attribute, AttributeName, AttributeSet, Container};
use tresor_kmip::client::KmipClient;
use tresor_kmip::enums::{
    BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask as Mask, KeyFormatType,
    NameType, ObjectType, Operation, ResultReason, ResultStatus, SecretDataType, WrappingMethod,
};
use tresor_kmip::message::{RequestBatchItem, RequestHeader, RequestMessage, ResponseBatchItem};
use tresor_kmip::ops::{GRANTS_ATTR, OPERATIONS};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value, vendor};

const V14: ProtocolVersion = ProtocolVersion::V1_4;
const V21: ProtocolVersion = ProtocolVersion::V2_1;

fn random_key() -> Vec<u8> {
    let mut k = vec![0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut k).expect("rng");
    k
}

/// The attributes of a registered object: Activation Date now, a usage mask, extra ones.
fn template(v: ProtocolVersion, mask: Mask, extra: Vec<Attribute>) -> Ttlv {
    let mut set = AttributeSet::default();
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_USAGE_MASK,
        Value::Integer(mask.0 as i32),
    ));
    set.push(Attribute::standard(
        Tag::ACTIVATION_DATE,
        Value::DateTime(tresor_store::now() - 60),
    ));
    for a in extra {
        set.push(a);
    }
    set.to_ttlv(v, Container::Template)
}

fn flag(tag: Tag, b: bool) -> Attribute {
    Attribute::standard(tag, Value::Boolean(b))
}

fn key_block(material: &[u8], symmetric: bool) -> Ttlv {
    let mut block = vec![
        Ttlv::enumeration(
            Tag::KEY_FORMAT_TYPE,
            if symmetric {
                KeyFormatType::RAW
            } else {
                KeyFormatType::OPAQUE
            },
        ),
        Ttlv::structure(
            Tag::KEY_VALUE,
            vec![Ttlv::bytes(Tag::KEY_MATERIAL, material.to_vec())],
        ),
    ];
    if symmetric {
        block.push(Ttlv::enumeration(
            Tag::CRYPTOGRAPHIC_ALGORITHM,
            CryptographicAlgorithm::AES,
        ));
        block.push(Ttlv::integer(
            Tag::CRYPTOGRAPHIC_LENGTH,
            material.len() as i32 * 8,
        ));
    }
    Ttlv::structure(Tag::KEY_BLOCK, block)
}

fn register_payload(
    v: ProtocolVersion,
    material: &[u8],
    secret_data: bool,
    mask: Mask,
    extra: Vec<Attribute>,
) -> Vec<Ttlv> {
    let (ot, obj) = if secret_data {
        (
            ObjectType::SECRET_DATA,
            Ttlv::structure(
                Tag::SECRET_DATA,
                vec![
                    Ttlv::enumeration(Tag::SECRET_DATA_TYPE, SecretDataType::PASSWORD),
                    key_block(material, false),
                ],
            ),
        )
    } else {
        (
            ObjectType::SYMMETRIC_KEY,
            Ttlv::structure(Tag::SYMMETRIC_KEY, vec![key_block(material, true)]),
        )
    };
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ot),
        template(v, mask, extra),
        obj,
    ]
}

async fn register(
    c: &KmipClient,
    v: ProtocolVersion,
    material: &[u8],
    secret_data: bool,
    mask: Mask,
    extra: Vec<Attribute>,
) -> String {
    let r = c
        .call(
            Operation::REGISTER,
            register_payload(v, material, secret_data, mask, extra),
        )
        .await
        .expect("register");
    ok(&r);
    text(&r, Tag::UNIQUE_IDENTIFIER)
}

fn all_uses() -> Mask {
    Mask::ENCRYPT | Mask::DECRYPT | Mask::WRAP_KEY | Mask::UNWRAP_KEY
}

/// Gives `identity` the permissions `perms` on `uid` (what `tresor kmip grant` writes).
fn grant(f: &Fixture, uid: &str, identity: &str, perms: &str) {
    f.store
        .write_as("admin", |tx| {
            tx.update(uid, "grant", |m| {
                m.attributes
                    .insert(GRANTS_ATTR.into(), serde_json::json!({ identity: perms }));
                Ok(())
            })?;
            Ok(())
        })
        .expect("grant");
}

fn refused(r: &ResponseBatchItem, reasons: &[ResultReason], what: &str) {
    assert_eq!(
        r.result_status,
        ResultStatus::OPERATION_FAILED,
        "{what} was not refused: {:?}",
        r.payload_items()
    );
    let reason = r.result_reason.expect("a result reason");
    assert!(
        reasons.contains(&reason),
        "{what}: reason {reason:?} ({:?}), expected one of {reasons:?}",
        r.result_message
    );
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn wrapping_spec(kek: &str) -> Ttlv {
    Ttlv::structure(
        Tag::KEY_WRAPPING_SPECIFICATION,
        vec![
            Ttlv::enumeration(Tag::WRAPPING_METHOD, WrappingMethod::ENCRYPT),
            Ttlv::structure(
                Tag::ENCRYPTION_KEY_INFORMATION,
                vec![
                    uid(kek),
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
}

fn versions_payload(u: &str, version: i32) -> Vec<Ttlv> {
    vec![uid(u), Ttlv::integer(vendor::VERSION, version)]
}

/// VERSIONS and Get by a client holding only `get` on a non-extractable or sensitive
/// object are refused; the sensitive one leaves only wrapped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_and_get_refuse_protected_material() {
    let f = start().await;
    for v in [V14, V21] {
        let alice = f.client("alice", v);
        let bob = f.client("bob", v);
        let ne_key = random_key();
        let ne = register(
            &alice,
            v,
            &ne_key,
            false,
            all_uses(),
            vec![flag(Tag::EXTRACTABLE, false)],
        )
        .await;
        let s_key = random_key();
        let s = register(
            &alice,
            v,
            &s_key,
            true,
            Mask::EXPORT,
            vec![flag(Tag::SENSITIVE, true)],
        )
        .await;
        for u in [&ne, &s] {
            grant(&f, u, "bob", "get");
        }
        let sensitive = if v.is_v2() {
            ResultReason::SENSITIVE
        } else {
            ResultReason::PERMISSION_DENIED
        };
        for (u, key, reason) in [
            (&ne, &ne_key, ResultReason::NOT_EXTRACTABLE),
            (&s, &s_key, sensitive),
        ] {
            for version in [0, 1] {
                let msg = RequestMessage::single(v, vendor::VERSIONS, versions_payload(u, version));
                let raw = f.raw_call("bob", &msg.to_ttlv()).await;
                assert!(
                    !contains(&raw, key),
                    "{v:?}: versions {version} returned the material of {u}"
                );
                let r = bob
                    .call(vendor::VERSIONS, versions_payload(u, version))
                    .await
                    .expect("versions");
                refused(&r, &[reason], "versions of a protected object");
            }
            // Versions without a value still answers (metadata only).
            ok(&bob
                .call(vendor::VERSIONS, vec![uid(u)])
                .await
                .expect("versions"));
            let r = bob.call(Operation::GET, vec![uid(u)]).await.expect("get");
            refused(&r, &[reason], "get of a protected object");
        }
        // The owner is held to the same rule.
        let r = alice
            .call(vendor::VERSIONS, versions_payload(&ne, 0))
            .await
            .expect("versions");
        refused(&r, &[ResultReason::NOT_EXTRACTABLE], "owner versions");
    }
    f.stop().await;
}

/// A sensitive key leaves only wrapped, under a wrapping key that cannot open it outside
/// the server: not an extractable key (its bytes would unwrap the export), not a key that
/// may decrypt (ECB/CBC decryption computes the unwrap), and registering the wrapped value
/// back under the protected key gives a sensitive copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrapping_does_not_launder_a_sensitive_key() {
    let f = start().await;
    let v = V21;
    let alice = f.client("alice", v);
    let bob = f.client("bob", v);
    let s_key = random_key();
    let s = register(
        &alice,
        v,
        &s_key,
        false,
        all_uses(),
        vec![flag(Tag::SENSITIVE, true)],
    )
    .await;
    grant(&f, &s, "bob", "get");
    // Bob's own plain key: he can read it, so he could unwrap anything wrapped under it.
    let plain_kek = random_key();
    let bobs = register(
        &bob,
        v,
        &plain_kek,
        false,
        Mask::WRAP_KEY | Mask::UNWRAP_KEY,
        vec![],
    )
    .await;
    let r = bob
        .call(Operation::GET, vec![uid(&s), wrapping_spec(&bobs)])
        .await
        .expect("get wrapped");
    refused(
        &r,
        &[ResultReason::SENSITIVE],
        "wrap under an extractable key",
    );
    if r.result_status == ResultStatus::SUCCESS {
        // What the attack gives on the old code: the clear key, unwrapped locally.
        let kek = aws_lc_rs::key_wrap::AesKek::new(&aws_lc_rs::key_wrap::AES_256, &plain_kek)
            .expect("kek");
        let wrapped = r.payload_items()[2].find(Tag::KEY_BLOCK).expect("block");
        let blob = wrapped
            .find(Tag::KEY_VALUE)
            .and_then(Ttlv::as_bytes)
            .expect("value");
        let mut out = vec![0u8; blob.len()];
        use aws_lc_rs::key_wrap::KeyWrap;
        let clear = kek.unwrap(blob, &mut out).expect("unwrap");
        assert_ne!(clear, &s_key[..], "the sensitive key was laundered");
    }
    // A sensitive wrapping key that may also decrypt: ECB decryption unwraps.
    let dec_kek = register(
        &bob,
        v,
        &random_key(),
        false,
        Mask::WRAP_KEY | Mask::DECRYPT,
        vec![flag(Tag::SENSITIVE, true)],
    )
    .await;
    let r = bob
        .call(Operation::GET, vec![uid(&s), wrapping_spec(&dec_kek)])
        .await
        .expect("get wrapped");
    refused(
        &r,
        &[ResultReason::SENSITIVE],
        "wrap under a decrypting key",
    );
    // A protected wrapping key (sensitive, Wrap/Unwrap Key only): allowed.
    let good = register(
        &bob,
        v,
        &random_key(),
        false,
        Mask::WRAP_KEY | Mask::UNWRAP_KEY,
        vec![flag(Tag::SENSITIVE, true)],
    )
    .await;
    let r = bob
        .call(Operation::GET, vec![uid(&s), wrapping_spec(&good)])
        .await
        .expect("get wrapped");
    ok(&r);
    let obj = r.payload_items()[2].clone();
    let raw = f
        .raw_call(
            "bob",
            &RequestMessage::single(v, Operation::GET, vec![uid(&s), wrapping_spec(&good)])
                .to_ttlv(),
        )
        .await;
    assert!(
        !contains(&raw, &s_key),
        "the wrapped export holds the clear key"
    );
    // Registering the wrapped value back: the copy is sensitive.
    let back = bob
        .call(
            Operation::REGISTER,
            vec![
                Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
                template(v, Mask::ENCRYPT, vec![]),
                obj.clone(),
            ],
        )
        .await
        .expect("register back");
    ok(&back);
    let copy = text(&back, Tag::UNIQUE_IDENTIFIER);
    let r = bob
        .call(Operation::GET, vec![uid(&copy)])
        .await
        .expect("get");
    refused(
        &r,
        &[ResultReason::SENSITIVE],
        "get of the re-registered copy",
    );
    let r = bob
        .call(
            Operation::REGISTER,
            vec![
                Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
                template(v, Mask::ENCRYPT, vec![flag(Tag::SENSITIVE, false)]),
                obj,
            ],
        )
        .await
        .expect("register back");
    refused(
        &r,
        &[ResultReason::PERMISSION_DENIED],
        "copy registered non-sensitive",
    );
    f.stop().await;
}

/// The payloads tried for one operation against object `u` (`kek`: a wrapping key the
/// caller controls).
fn payloads(
    v: ProtocolVersion,
    op: Operation,
    u: &str,
    kek: &str,
    material: &[u8],
) -> Vec<Vec<Ttlv>> {
    let data = Ttlv::bytes(Tag::DATA, vec![0u8; 32]);
    let mut out = vec![vec![uid(u)]];
    match op {
        Operation::GET => {
            out.push(vec![
                uid(u),
                Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, KeyFormatType::RAW),
            ]);
            out.push(vec![
                uid(u),
                Ttlv::enumeration(
                    Tag::KEY_FORMAT_TYPE,
                    KeyFormatType::TRANSPARENT_SYMMETRIC_KEY,
                ),
            ]);
            out.push(vec![uid(u), wrapping_spec(kek)]);
        }
        Operation::ENCRYPT | Operation::DECRYPT | Operation::MAC | Operation::SIGN => {
            out.push(vec![uid(u), data.clone()]);
            out.push(vec![
                uid(u),
                Ttlv::structure(
                    Tag::CRYPTOGRAPHIC_PARAMETERS,
                    vec![Ttlv::enumeration(
                        Tag::BLOCK_CIPHER_MODE,
                        BlockCipherMode::ECB,
                    )],
                ),
                data.clone(),
            ]);
        }
        Operation::GET_ATTRIBUTES | Operation::GET_ATTRIBUTE_LIST | Operation::LOCATE => {
            out.push(vec![]);
        }
        Operation::CREATE | Operation::REGISTER | Operation::CREATE_KEY_PAIR => {
            out.push(register_payload(v, material, false, all_uses(), vec![]));
        }
        vendor::VERSIONS => {
            for version in [0, 1] {
                out.push(versions_payload(u, version));
            }
            out.push(vec![
                uid(u),
                Ttlv::integer(vendor::VERSION, 0),
                Ttlv::text(vendor::NAME, "x".to_owned()),
            ]);
        }
        vendor::ADD_VERSION => {
            out.push(vec![
                uid(u),
                Ttlv::structure(
                    Tag::SECRET_DATA,
                    vec![
                        Ttlv::enumeration(Tag::SECRET_DATA_TYPE, SecretDataType::PASSWORD),
                        key_block(b"new value", false),
                    ],
                ),
            ]);
        }
        _ => {}
    }
    out
}

/// Every operation the server offers, standard and vendor, aimed at a non-extractable key,
/// a sensitive key and a sensitive secret by their owner (who may do everything else): the
/// raw response never holds the material. Alone and after a Get Attributes in the same
/// batch (the ID Placeholder path), in KMIP 1.4 and 2.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_operation_returns_protected_material() {
    let f = start().await;
    let mut ops: Vec<Operation> = OPERATIONS.to_vec();
    ops.extend([vendor::VERSIONS, vendor::ADD_VERSION, vendor::PURGE]);
    let mut sent = 0;
    for v in [V14, V21] {
        let alice = f.client("alice", v);
        let kek = register(&alice, v, &random_key(), false, all_uses(), vec![]).await;
        for op in &ops {
            // Fresh objects per operation: Destroy or Re-Key must not hide the others.
            for (secret_data, protection) in [
                (false, flag(Tag::EXTRACTABLE, false)),
                (false, flag(Tag::SENSITIVE, true)),
                (true, flag(Tag::SENSITIVE, true)),
            ] {
                let material = random_key();
                let mask = if secret_data {
                    Mask::EXPORT
                } else {
                    all_uses()
                };
                let u = register(&alice, v, &material, secret_data, mask, vec![protection]).await;
                for p in payloads(v, *op, &u, &kek, &material) {
                    let alone = RequestMessage::single(v, *op, p.clone());
                    let mut header = RequestHeader::new(v, 2);
                    header.batch_order_option = Some(true);
                    let placeholder = RequestMessage {
                        header,
                        batch_items: vec![
                            RequestBatchItem::new(Operation::GET_ATTRIBUTES, vec![uid(&u)]),
                            RequestBatchItem::new(
                                *op,
                                p.iter()
                                    .filter(|t| t.tag != Tag::UNIQUE_IDENTIFIER)
                                    .cloned()
                                    .collect(),
                            ),
                        ],
                    };
                    for msg in [alone, placeholder] {
                        let raw = f.raw_call("alice", &msg.to_ttlv()).await;
                        sent += 1;
                        assert!(
                            !contains(&raw, &material),
                            "{v:?} {op}: the response holds the protected material \
                             (payload {p:?})"
                        );
                    }
                }
            }
        }
    }
    assert!(sent > 200, "only {sent} requests sent");
    f.stop().await;
}

fn custom(name: &str, value: &str) -> Attribute {
    Attribute {
        name: AttributeName::Custom {
            vendor: None,
            name: name.to_owned(),
        },
        index: None,
        value: Value::TextString(value.to_owned()),
    }
}

fn vendor_attr(vendor: &str, name: &str, value: &str) -> Attribute {
    Attribute {
        name: AttributeName::Custom {
            vendor: Some(vendor.to_owned()),
            name: name.to_owned(),
        },
        index: None,
        value: Value::TextString(value.to_owned()),
    }
}

fn new_attribute(v: ProtocolVersion, a: &Attribute) -> Ttlv {
    if v.is_v2() {
        Ttlv::structure(Tag::NEW_ATTRIBUTE, vec![a.to_v2()])
    } else {
        a.to_v1()
    }
}

/// A client cannot take tresor's reserved names (any letter case) or attributes: Register,
/// Create, Add/Modify Attribute are refused with Permission Denied naming them, and nothing
/// is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmip_clients_cannot_claim_reserved_names() {
    let f = start().await;
    for v in [V14, V21] {
        let bob = f.client("bob", v);
        for name in [
            "tresor:user:x",
            "TRESOR:USER:x",
            "tresor-key:k",
            "Tresor:Identity:bob",
        ] {
            let n = Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING);
            let r = bob
                .call(
                    Operation::REGISTER,
                    register_payload(v, b"age1...", true, Mask::EXPORT, vec![n.clone()]),
                )
                .await
                .expect("register");
            refused(&r, &[ResultReason::PERMISSION_DENIED], name);
            assert!(
                r.result_message.as_deref().unwrap_or("").contains(name),
                "{:?}",
                r.result_message
            );
            let mut set = AttributeSet::default();
            set.push(Attribute::standard(
                Tag::CRYPTOGRAPHIC_ALGORITHM,
                Value::Enumeration(CryptographicAlgorithm::AES.0),
            ));
            set.push(Attribute::standard(
                Tag::CRYPTOGRAPHIC_LENGTH,
                Value::Integer(256),
            ));
            set.push(n);
            let r = bob
                .call(
                    Operation::CREATE,
                    vec![
                        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
                        set.to_ttlv(v, Container::Template),
                    ],
                )
                .await
                .expect("create");
            refused(&r, &[ResultReason::PERMISSION_DENIED], name);
            assert!(f.store.get_by_name(name).expect("store").is_none());
        }
        // The identity attributes of a user, and tresor's own attributes. (KMIP 2.x names
        // custom attributes by vendor: `tresor` maps to the reserved `tresor:` keys; a
        // vendor-less name is stored under `x-...` and cannot reach them.)
        let reserved: Vec<Attribute> = if v.is_v2() {
            vec![vendor_attr("tresor", "role", "user")]
        } else {
            [
                ("tresor.role", "user"),
                ("tresor.type", "str"),
                ("tresor.grants", "{}"),
                ("TRESOR.ROLE", "user"),
                ("username", "bob"),
                ("ed25519", "AAAA"),
                ("x-min-decryption-version", "9"),
            ]
            .iter()
            .map(|(k, val)| custom(k, val))
            .collect()
        };
        for a in reserved {
            let r = bob
                .call(
                    Operation::REGISTER,
                    register_payload(v, b"v", true, Mask::EXPORT, vec![a.clone()]),
                )
                .await
                .expect("register");
            refused(&r, &[ResultReason::PERMISSION_DENIED], &a.name.to_string());
        }
        // app/env/key only as the server derives them from the vault name (1.x: a 2.x
        // vendor-less name is stored as `x-app`).
        let r = bob
            .call(
                Operation::REGISTER,
                register_payload(v, b"v", true, Mask::EXPORT, vec![custom("app", "shop")]),
            )
            .await
            .expect("register");
        if !v.is_v2() {
            refused(
                &r,
                &[ResultReason::PERMISSION_DENIED],
                "app without a vault name",
            );
        }
        // On bob's own object: no reserved attribute or name either.
        let mine = register(&bob, v, b"value", true, Mask::EXPORT, vec![]).await;
        let mut attempts = vec![Attribute::name(
            "tresor:user:bob",
            NameType::UNINTERPRETED_TEXT_STRING,
        )];
        if v.is_v2() {
            attempts.push(vendor_attr("tresor", "type", "str"));
        } else {
            attempts.extend([custom("tresor.role", "user"), custom("age", "age1xyz")]);
        }
        for a in attempts {
            let r = bob
                .call(
                    Operation::ADD_ATTRIBUTE,
                    vec![uid(&mine), new_attribute(v, &a)],
                )
                .await
                .expect("add attribute");
            refused(
                &r,
                &[ResultReason::PERMISSION_DENIED],
                &format!("add {}", a.name),
            );
        }
        let meta = f.store.get(&mine).expect("store").expect("present");
        for k in ["tresor.role", "tresor:type", "age"] {
            assert_eq!(meta.attr_str(k), None, "{k}");
        }
    }
    // The legitimate path (`tresor --server add`): a vault name gets app/env/key/role.
    tresor_kmip::cli::apps::set(&f.store, "shop", "bob", true).expect("app policy");
    let bob = f.client("bob", V14);
    let n = Attribute::name("shop:dev:TOKEN", NameType::UNINTERPRETED_TEXT_STRING);
    register(
        &bob,
        V14,
        b"t0ken",
        true,
        Mask::EXPORT,
        vec![n, custom("app", "shop")],
    )
    .await;
    let meta = f
        .store
        .get_by_name("shop:dev:TOKEN")
        .expect("store")
        .expect("named");
    assert_eq!(meta.attr_str("tresor.role"), Some("secret"));
    assert_eq!(meta.attr_str("app"), Some("shop"));
    f.stop().await;
}

/// Sensitive, Extractable and the usage mask only tighten, for the owner too: Set (2.1),
/// Modify (1.4) and Delete Attribute that would loosen them are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protection_attributes_only_tighten() {
    let f = start().await;
    for v in [V14, V21] {
        let alice = f.client("alice", v);
        let u = register(
            &alice,
            v,
            &random_key(),
            false,
            Mask::ENCRYPT,
            vec![flag(Tag::SENSITIVE, true), flag(Tag::EXTRACTABLE, false)],
        )
        .await;
        let op = if v.is_v2() {
            Operation::SET_ATTRIBUTE
        } else {
            Operation::MODIFY_ATTRIBUTE
        };
        for a in [
            flag(Tag::SENSITIVE, false),
            flag(Tag::EXTRACTABLE, true),
            Attribute::standard(
                Tag::CRYPTOGRAPHIC_USAGE_MASK,
                Value::Integer((Mask::ENCRYPT | Mask::DECRYPT).0 as i32),
            ),
        ] {
            let r = alice
                .call(op, vec![uid(&u), new_attribute(v, &a)])
                .await
                .expect("set attribute");
            refused(
                &r,
                &[ResultReason::PERMISSION_DENIED],
                &format!("loosen {}", a.name),
            );
        }
        let del = if v.is_v2() {
            vec![
                uid(&u),
                Ttlv::enumeration(Tag::ATTRIBUTE_REFERENCE, Tag::SENSITIVE.value()),
            ]
        } else {
            vec![
                uid(&u),
                Ttlv::text(Tag::ATTRIBUTE_NAME, "Sensitive".to_owned()),
            ]
        };
        let r = alice
            .call(Operation::DELETE_ATTRIBUTE, del)
            .await
            .expect("delete attribute");
        refused(&r, &[ResultReason::PERMISSION_DENIED], "delete sensitive");
        let meta = f.store.get(&u).expect("store").expect("present");
        assert_eq!(
            meta.attributes.get("Sensitive"),
            Some(&serde_json::json!(true))
        );
        assert_eq!(
            meta.attributes.get("Extractable"),
            Some(&serde_json::json!(false))
        );
        // Tightening is allowed.
        let open = register(&alice, v, &random_key(), false, all_uses(), vec![]).await;
        ok(&alice
            .call(
                op,
                vec![uid(&open), new_attribute(v, &flag(Tag::SENSITIVE, true))],
            )
            .await
            .expect("tighten"));
    }
    f.stop().await;
}

fn gcm_params(tag_len: Option<i32>) -> Ttlv {
    let mut p = vec![Ttlv::enumeration(
        Tag::BLOCK_CIPHER_MODE,
        BlockCipherMode::GCM,
    )];
    if let Some(t) = tag_len {
        p.push(Ttlv::integer(Tag::TAG_LENGTH, t));
    }
    Ttlv::structure(Tag::CRYPTOGRAPHIC_PARAMETERS, p)
}

fn encrypt_payload(u: &str, tag_len: Option<i32>, iv: Option<&[u8]>) -> Vec<Ttlv> {
    let mut p = vec![
        uid(u),
        gcm_params(tag_len),
        Ttlv::bytes(Tag::DATA, b"attack at dawn".to_vec()),
    ];
    if let Some(iv) = iv {
        p.push(Ttlv::bytes(Tag::IV_COUNTER_NONCE, iv.to_vec()));
    }
    p
}

fn decrypt_payload(u: &str, data: &[u8], iv: &[u8], tag: &[u8]) -> Vec<Ttlv> {
    vec![
        uid(u),
        gcm_params(Some(tag.len() as i32)),
        Ttlv::bytes(Tag::DATA, data.to_vec()),
        Ttlv::bytes(Tag::IV_COUNTER_NONCE, iv.to_vec()),
        Ttlv::bytes(Tag::AUTHENTICATED_ENCRYPTION_TAG, tag.to_vec()),
    ]
}

/// AES-GCM: a 4-byte tag is refused on Encrypt and Decrypt (a 4-byte tag is forged in 2^32
/// tries), a grantee's or a Random-IV key's caller-chosen IV is refused, and the normal
/// round trip with a server-chosen IV works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcm_short_tags_and_caller_ivs_follow_the_key() {
    let f = start().await;
    for v in [V14, V21] {
        let alice = f.client("alice", v);
        let bob = f.client("bob", v);
        let u = register(
            &alice,
            v,
            &random_key(),
            false,
            Mask::ENCRYPT | Mask::DECRYPT,
            vec![],
        )
        .await;
        grant(&f, &u, "bob", "use");
        let r = alice
            .call(Operation::ENCRYPT, encrypt_payload(&u, Some(4), None))
            .await
            .expect("encrypt");
        refused(&r, &[ResultReason::INVALID_FIELD], "4-byte tag encrypt");
        assert!(r.result_message.as_deref().unwrap_or("").contains('4'));
        // The normal round trip, IV from the server.
        let e = bob
            .call(Operation::ENCRYPT, encrypt_payload(&u, None, None))
            .await
            .expect("encrypt");
        ok(&e);
        let (data, iv, tag) = (
            bytes(&e, Tag::DATA),
            bytes(&e, Tag::IV_COUNTER_NONCE),
            bytes(&e, Tag::AUTHENTICATED_ENCRYPTION_TAG),
        );
        assert_eq!(tag.len(), 16);
        let d = bob
            .call(Operation::DECRYPT, decrypt_payload(&u, &data, &iv, &tag))
            .await
            .expect("decrypt");
        ok(&d);
        assert_eq!(bytes(&d, Tag::DATA), b"attack at dawn");
        // Truncated to 4 bytes, the tag is refused (not checked on 4 bytes only).
        let r = bob
            .call(
                Operation::DECRYPT,
                decrypt_payload(&u, &data, &iv, &tag[..4]),
            )
            .await
            .expect("decrypt");
        refused(&r, &[ResultReason::INVALID_FIELD], "4-byte tag decrypt");
        // Bob re-using the IV alice's ciphertext carries would give him her key stream.
        let r = bob
            .call(Operation::ENCRYPT, encrypt_payload(&u, None, Some(&iv)))
            .await
            .expect("encrypt");
        refused(&r, &[ResultReason::INVALID_FIELD], "grantee iv");
        // The owner may choose (the OASIS vectors do), unless the key says Random IV.
        ok(&alice
            .call(
                Operation::ENCRYPT,
                encrypt_payload(&u, None, Some(&[7u8; 12])),
            )
            .await
            .expect("encrypt"));
        let params = Attribute::standard(
            Tag::CRYPTOGRAPHIC_PARAMETERS,
            Value::Structure(vec![
                Ttlv::enumeration(Tag::BLOCK_CIPHER_MODE, BlockCipherMode::GCM),
                Ttlv::new(Tag::RANDOM_IV, Value::Boolean(true)),
            ]),
        );
        let r_iv = register(
            &alice,
            v,
            &random_key(),
            false,
            Mask::ENCRYPT | Mask::DECRYPT,
            vec![params],
        )
        .await;
        let r = alice
            .call(
                Operation::ENCRYPT,
                encrypt_payload(&r_iv, None, Some(&[7u8; 12])),
            )
            .await
            .expect("encrypt");
        refused(&r, &[ResultReason::INVALID_FIELD], "iv on a random-iv key");
        ok(&alice
            .call(Operation::ENCRYPT, encrypt_payload(&r_iv, None, None))
            .await
            .expect("encrypt"));
        // A key whose parameters set an 8-byte tag takes it.
        let params = Attribute::standard(
            Tag::CRYPTOGRAPHIC_PARAMETERS,
            Value::Structure(vec![
                Ttlv::enumeration(Tag::BLOCK_CIPHER_MODE, BlockCipherMode::GCM),
                Ttlv::integer(Tag::TAG_LENGTH, 8),
            ]),
        );
        let short = register(
            &alice,
            v,
            &random_key(),
            false,
            Mask::ENCRYPT | Mask::DECRYPT,
            vec![params],
        )
        .await;
        let e = alice
            .call(Operation::ENCRYPT, encrypt_payload(&short, Some(8), None))
            .await
            .expect("encrypt");
        ok(&e);
        assert_eq!(bytes(&e, Tag::AUTHENTICATED_ENCRYPTION_TAG).len(), 8);
    }
    f.stop().await;
}
