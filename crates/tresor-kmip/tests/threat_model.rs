//! Attacks by an authenticated KMIP client (attacker A3 of docs/THREAT_MODEL.md) against a
//! real tresor KMIP server over mutual TLS (the fixture in `common`):
//!
//! - material of a non-extractable or sensitive object leaves through no operation (Get,
//!   tresor's Versions, any other operation, KMIP 1.4 and 2.1), and a sensitive key wrapped
//!   for export cannot be opened with a wrapping key the client controls
//!   (`threat_model/material.rs`);
//! - a client cannot claim tresor's reserved names (`tresor:*`, `tresor-key:*`, any case)
//!   or set its reserved attributes (`tresor.role`...), nor loosen Sensitive/Extractable
//!   (`threat_model/reserved.rs`);
//! - AES-GCM refuses short tags and caller-chosen IVs where the key does not allow them
//!   (`threat_model/gcm.rs`).
//!
//! The helpers the three share are here.
//!
//! `cargo test -p tresor-kmip --test threat_model`

mod common;

use common::*;
use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::KmipClient;
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask as Mask, KeyFormatType, ObjectType, Operation,
    ResultReason, ResultStatus, SecretDataType,
};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::ops::GRANTS_ATTR;
use tresor_kmip::payload::register::SecretData;
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

#[path = "threat_model/gcm.rs"]
mod gcm;
#[path = "threat_model/material.rs"]
mod material;
#[path = "threat_model/reserved.rs"]
mod reserved;

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

/// The key block of a raw AES key holding `material`.
fn key_block(material: &[u8]) -> Ttlv {
    Ttlv::structure(
        Tag::KEY_BLOCK,
        vec![
            Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, KeyFormatType::RAW),
            Ttlv::structure(
                Tag::KEY_VALUE,
                vec![Ttlv::bytes(Tag::KEY_MATERIAL, material.to_vec())],
            ),
            Ttlv::enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm::AES),
            Ttlv::integer(Tag::CRYPTOGRAPHIC_LENGTH, material.len() as i32 * 8),
        ],
    )
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
            SecretData::new(SecretDataType::PASSWORD, material.to_vec()).to_ttlv(),
        )
    } else {
        (
            ObjectType::SYMMETRIC_KEY,
            Ttlv::structure(Tag::SYMMETRIC_KEY, vec![key_block(material)]),
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
