//! tresor's reserved names and attributes cannot be claimed by a KMIP client, and the
//! protection attributes (Sensitive, Extractable, the usage mask) only tighten.

use tresor_kmip::attributes::{Attribute, AttributeName, AttributeSet, Container};
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask as Mask, NameType, ObjectType, Operation,
    ResultReason,
};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

use super::common::*;
use super::{V14, V21, all_uses, flag, random_key, refused, register, register_payload};

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
    tresor_kmip::apps::set(&f.store, "shop", "bob", true).expect("app policy");
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
