//! Derive Key under tresor's trust model (the differential harness compares the derived
//! bytes with PyKMIP's; this checks who may derive): the base key needs the `use`
//! permission (an identity without any grant learns nothing: Item Not Found, as for an
//! absent key), Derive Key in its usage mask and an Active state; the derived key belongs to
//! the caller, not to the base key's owner, and is linked to its base.
//!
//! `cargo test --workspace --all-features --test differential_derive_access`

mod common;

use common::{Fixture, ok, text, uid};
use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask as Mask, DerivationMethod, HashingAlgorithm,
    KeyFormatType, ObjectType, Operation, ResultReason, ResultStatus,
};
use tresor_kmip::ops::GRANTS_ATTR;
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

const V: ProtocolVersion = ProtocolVersion::V2_0;

fn set(attrs: Vec<Attribute>) -> Ttlv {
    AttributeSet {
        attributes: attrs,
        template_names: Vec::new(),
    }
    .to_ttlv(V, Container::Template)
}

fn register_base(mask: Mask) -> Vec<Ttlv> {
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
        set(vec![Attribute::standard(
            Tag::CRYPTOGRAPHIC_USAGE_MASK,
            Value::Integer(mask.0 as i32),
        )]),
        Ttlv::structure(
            Tag::SYMMETRIC_KEY,
            vec![Ttlv::structure(
                Tag::KEY_BLOCK,
                vec![
                    Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, KeyFormatType::RAW),
                    Ttlv::structure(
                        Tag::KEY_VALUE,
                        vec![Ttlv::bytes(Tag::KEY_MATERIAL, vec![7u8; 32])],
                    ),
                    Ttlv::enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm::AES),
                    Ttlv::integer(Tag::CRYPTOGRAPHIC_LENGTH, 256),
                ],
            )],
        ),
    ]
}

fn derive(base: &str) -> Vec<Ttlv> {
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
        uid(base),
        Ttlv::enumeration(Tag::DERIVATION_METHOD, DerivationMethod::PBKDF2),
        Ttlv::structure(
            Tag::DERIVATION_PARAMETERS,
            vec![
                Ttlv::structure(
                    Tag::CRYPTOGRAPHIC_PARAMETERS,
                    vec![Ttlv::enumeration(
                        Tag::HASHING_ALGORITHM,
                        HashingAlgorithm::SHA_256,
                    )],
                ),
                Ttlv::bytes(Tag::SALT, b"salt".to_vec()),
                Ttlv::integer(Tag::ITERATION_COUNT, 100),
            ],
        ),
        set(vec![
            Attribute::standard(
                Tag::CRYPTOGRAPHIC_ALGORITHM,
                Value::Enumeration(CryptographicAlgorithm::AES.0),
            ),
            Attribute::standard(Tag::CRYPTOGRAPHIC_LENGTH, Value::Integer(128)),
        ]),
    ]
}

async fn call(
    c: &tresor_kmip::client::KmipClient,
    op: Operation,
    p: Vec<Ttlv>,
) -> tresor_kmip::message::ResponseBatchItem {
    c.call(op, p).await.expect("an answer")
}

fn grant(f: &Fixture, u: &str, identity: &str, perms: &str) {
    f.store
        .write_as("admin", |tx| {
            tx.update(u, "grant", |m| {
                m.attributes
                    .insert(GRANTS_ATTR.into(), serde_json::json!({ identity: perms }));
                Ok(())
            })?;
            Ok(())
        })
        .expect("grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derive_key_needs_use_on_the_base_and_the_result_is_the_callers() {
    let f = common::start().await;
    let alice = f.client("alice", V);
    let bob = f.client("bob", V);

    let r = call(&alice, Operation::REGISTER, register_base(Mask::DERIVE_KEY)).await;
    ok(&r);
    let base = text(&r, Tag::UNIQUE_IDENTIFIER);

    // Pre-Active: refused even to the owner.
    let r = call(&alice, Operation::DERIVE_KEY, derive(&base)).await;
    assert_eq!(
        r.result_reason,
        Some(ResultReason::WRONG_KEY_LIFECYCLE_STATE)
    );
    ok(&call(&alice, Operation::ACTIVATE, vec![uid(&base)]).await);

    // Bob without a grant: the answer for an absent key.
    let r = call(&bob, Operation::DERIVE_KEY, derive(&base)).await;
    assert_eq!(r.result_status, ResultStatus::OPERATION_FAILED);
    assert_eq!(r.result_reason, Some(ResultReason::OBJECT_NOT_FOUND));
    // Bob with `get` only: he knows it exists, but may not use it.
    grant(&f, &base, "bob", "get");
    let r = call(&bob, Operation::DERIVE_KEY, derive(&base)).await;
    assert_eq!(r.result_reason, Some(ResultReason::PERMISSION_DENIED));
    // With `use`: derived, and the new key is Bob's (Alice cannot read it).
    grant(&f, &base, "bob", "use");
    let r = call(&bob, Operation::DERIVE_KEY, derive(&base)).await;
    ok(&r);
    let derived = text(&r, Tag::UNIQUE_IDENTIFIER);
    let meta = f.store.get(&derived).expect("store").expect("derived");
    assert_eq!(meta.owner, "bob");
    let links = meta.attributes.get("Link").map(ToString::to_string);
    assert!(
        links.as_deref().is_some_and(|l| l.contains(&base)),
        "no derivation link: {links:?}"
    );
    let r = call(&alice, Operation::GET, vec![uid(&derived)]).await;
    assert_eq!(r.result_reason, Some(ResultReason::OBJECT_NOT_FOUND));
    ok(&call(&bob, Operation::GET, vec![uid(&derived)]).await);

    // Alice's own derivation gives the same bytes (PBKDF2 is deterministic) under her name.
    let r = call(&alice, Operation::DERIVE_KEY, derive(&base)).await;
    ok(&r);
    let mine = text(&r, Tag::UNIQUE_IDENTIFIER);
    assert_eq!(
        f.store.get(&mine).expect("store").expect("mine").owner,
        "alice"
    );

    // A key without Derive Key in its mask is refused (2.x: Incompatible Usage Mask).
    let r = call(&alice, Operation::REGISTER, register_base(Mask::ENCRYPT)).await;
    ok(&r);
    let plain = text(&r, Tag::UNIQUE_IDENTIFIER);
    ok(&call(&alice, Operation::ACTIVATE, vec![uid(&plain)]).await);
    let r = call(&alice, Operation::DERIVE_KEY, derive(&plain)).await;
    assert_eq!(
        r.result_reason,
        Some(ResultReason::INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK)
    );
    f.stop().await;
}
