//! Key wrapping (NIST key wrap under another AES key).

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::enums::{
    BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, ObjectType, Operation,
    ResultReason,
};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

use super::common::*;

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
