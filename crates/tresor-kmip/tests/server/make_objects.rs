//! The object-making operations driven with their typed requests ([`KmipClient::perform`]):
//! Create, Create Key Pair, Register of each object type, Re-Key and Derive Key, in KMIP 1.4
//! and 2.1; and the order the server reports a request's faults in (a refused object type,
//! or the replaced key's checks, before an unreadable attribute), which the typed parse
//! kept.

use tresor_kmip::attributes::{Attribute, AttributeSet};
use tresor_kmip::client::KmipClient;
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, DerivationMethod, HashingAlgorithm,
    KeyFormatType, ObjectType, OpaqueDataType, Operation, ResultReason, ResultStatus,
    SecretDataType,
};
use tresor_kmip::payload::UidRef;
use tresor_kmip::payload::create::{CreateKeyPairRequest, CreateRequest, ReKeyRequest};
use tresor_kmip::payload::crypto::CryptographicParameters;
use tresor_kmip::payload::derive::{DerivationParameters, DeriveKeyRequest};
use tresor_kmip::payload::object::{KeyBlock, ManagedObject};
use tresor_kmip::payload::register::RegisterRequest;
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

use super::common::*;

fn attr(tag: Tag, v: Value) -> Attribute {
    Attribute::standard(tag, v)
}

fn aes(mask: CryptographicUsageMask) -> AttributeSet {
    let mut set = AttributeSet::default();
    set.push(attr(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::AES.0),
    ));
    set.push(attr(Tag::CRYPTOGRAPHIC_LENGTH, Value::Integer(256)));
    set.push(attr(
        Tag::CRYPTOGRAPHIC_USAGE_MASK,
        Value::Integer(mask.0 as i32),
    ));
    set
}

async fn make_everything(c: &KmipClient, v: ProtocolVersion) {
    let created = c
        .perform(&CreateRequest::new(
            ObjectType::SYMMETRIC_KEY,
            aes(CryptographicUsageMask::DERIVE_KEY),
        ))
        .await
        .expect("create");
    assert_eq!(created.object_type, ObjectType::SYMMETRIC_KEY);
    let base = created.unique_identifier;

    let mut common = AttributeSet::default();
    common.push(attr(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::EC.0),
    ));
    common.push(attr(Tag::CRYPTOGRAPHIC_LENGTH, Value::Integer(256)));
    let mut private = AttributeSet::default();
    private.push(attr(
        Tag::CRYPTOGRAPHIC_USAGE_MASK,
        Value::Integer(CryptographicUsageMask::SIGN.0 as i32),
    ));
    let pair = c
        .perform(&CreateKeyPairRequest {
            common_attributes: common,
            private_key_attributes: private,
            public_key_attributes: AttributeSet::default(),
        })
        .await
        .expect("create key pair");
    assert_ne!(
        pair.private_key_unique_identifier,
        pair.public_key_unique_identifier
    );

    let objects = [
        ManagedObject::SymmetricKey(KeyBlock {
            key_format_type: KeyFormatType::RAW,
            key_material: vec![3; 16],
            cryptographic_algorithm: Some(CryptographicAlgorithm::AES),
            cryptographic_length: Some(128),
        }),
        ManagedObject::SecretData {
            secret_data_type: SecretDataType::PASSWORD,
            key_block: KeyBlock::new(KeyFormatType::OPAQUE, b"hunter2".to_vec()),
        },
        ManagedObject::OpaqueObject {
            opaque_data_type: OpaqueDataType::NONE,
            opaque_data_value: vec![1, 2, 3],
        },
    ];
    for o in &objects {
        let r = c
            .perform(&RegisterRequest::new(o, AttributeSet::default()))
            .await
            .expect("register");
        assert!(!r.unique_identifier.is_empty(), "{v} {o:?}");
    }

    let rekeyed = c
        .perform(&ReKeyRequest::new(base.clone()))
        .await
        .expect("re-key");
    assert_ne!(rekeyed.unique_identifier, base);

    let mut set = AttributeSet::default();
    set.push(attr(Tag::CRYPTOGRAPHIC_LENGTH, Value::Integer(256)));
    ok(&c
        .call(Operation::ACTIVATE, vec![uid(&rekeyed.unique_identifier)])
        .await
        .expect("activate"));
    let derived = c
        .perform(&DeriveKeyRequest {
            object_type: ObjectType::SECRET_DATA,
            unique_identifiers: vec![UidRef::text(rekeyed.unique_identifier.clone())],
            derivation_method: DerivationMethod::HMAC,
            derivation_parameters: DerivationParameters {
                cryptographic_parameters: Some(CryptographicParameters {
                    hashing_algorithm: Some(HashingAlgorithm::SHA_256),
                    ..CryptographicParameters::default()
                }),
                derivation_data: Some(b"info".to_vec()),
                salt: Some(b"salt".to_vec()),
                ..DerivationParameters::default()
            },
            attributes: set,
        })
        .await
        .expect("derive key");
    assert!(!derived.unique_identifier.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_requests_make_every_object() {
    let f = start().await;
    for v in [ProtocolVersion::V1_4, ProtocolVersion::V2_1] {
        make_everything(&f.client("client", v), v).await;
    }
    f.stop().await;
}

/// A template with a field no template holds: its attributes cannot be read.
fn bad_template() -> Ttlv {
    Ttlv::structure(
        Tag::TEMPLATE_ATTRIBUTE,
        vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, "not an attribute")],
    )
}

fn refused(item: &tresor_kmip::message::ResponseBatchItem, reason: ResultReason, msg: &str) {
    assert_eq!(
        item.result_status,
        ResultStatus::OPERATION_FAILED,
        "{item:?}"
    );
    assert_eq!(item.result_reason, Some(reason), "{item:?}");
    let m = item.result_message.as_deref().unwrap_or_default();
    assert!(m.contains(msg), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_reported_in_the_old_order() {
    let f = start().await;
    let c = f.client("client", ProtocolVersion::V1_4);
    let create = c
        .call(
            Operation::CREATE,
            vec![
                Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::PRIVATE_KEY),
                bad_template(),
            ],
        )
        .await
        .expect("create");
    refused(
        &create,
        ResultReason::INVALID_FIELD,
        "create makes symmetric keys",
    );
    let create = c
        .call(
            Operation::CREATE,
            vec![
                Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
                bad_template(),
            ],
        )
        .await
        .expect("create");
    refused(&create, ResultReason::INVALID_FIELD, "TemplateAttribute");
    let rekey = c
        .call(Operation::RE_KEY, vec![uid("no-such-key"), bad_template()])
        .await
        .expect("re-key");
    refused(&rekey, ResultReason::ITEM_NOT_FOUND, "no-such-key");
    let derive = c
        .call(
            Operation::DERIVE_KEY,
            vec![Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::CERTIFICATE)],
        )
        .await
        .expect("derive key");
    refused(&derive, ResultReason::INVALID_FIELD, "derive key makes");
    f.stop().await;
}
