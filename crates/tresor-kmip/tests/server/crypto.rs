//! Cryptographic operations: Encrypt/Decrypt (GCM, CBC), key pairs with Sign and Signature
//! Verify, RNG Retrieve, streaming AES-GCM, usage limits, and Hash.

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::enums::{
    BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, KeyFormatType, ObjectType,
    Operation, ResultReason, ResultStatus, UsageLimitsUnit, ValidityIndicator,
};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

use super::common::*;
use super::create;

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

/// The typed payloads (`payload::crypto`) through `KmipClient::perform`, and the request
/// fields the server has always read leniently: a Correlation Value that is not a byte
/// string still makes an Encrypt a stream part (and starts one), Cryptographic Parameters
/// that are not a structure set nothing, a missing Data is reported only after the key was
/// checked, and a Hash in parts is refused before its missing parameters are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_payloads_and_lenient_fields() {
    use tresor_kmip::payload::UidRef;
    use tresor_kmip::payload::crypto::{
        CryptographicParameters, DecryptRequest, EncryptRequest, HashRequest, RngRetrieveRequest,
        SignRequest,
    };
    let f = start().await;
    let v = ProtocolVersion::V2_1;
    let c = f.client("client", v);
    let u = create(&c, v, None).await;
    ok(&c
        .call(Operation::ACTIVATE, vec![uid(&u)])
        .await
        .expect("activate"));

    let gcm = CryptographicParameters {
        block_cipher_mode: Some(BlockCipherMode::GCM),
        cryptographic_algorithm: Some(CryptographicAlgorithm::AES),
        ..CryptographicParameters::default()
    };
    let e = c
        .perform(&EncryptRequest {
            unique_identifier: Some(UidRef::text(&u)),
            cryptographic_parameters: Some(gcm.clone()),
            data: Some(b"typed".to_vec()),
            authenticated_encryption_additional_data: Some(b"ad".to_vec()),
            ..EncryptRequest::default()
        })
        .await
        .expect("typed encrypt");
    assert_eq!(e.unique_identifier, u);
    assert_eq!(
        e.authenticated_encryption_tag.as_ref().map(Vec::len),
        Some(16)
    );
    let d = c
        .perform(&DecryptRequest {
            unique_identifier: Some(UidRef::text(&u)),
            cryptographic_parameters: Some(gcm),
            data: e.data.clone(),
            iv_counter_nonce: e.iv_counter_nonce.clone(),
            authenticated_encryption_additional_data: Some(b"ad".to_vec()),
            authenticated_encryption_tag: e.authenticated_encryption_tag.clone(),
            ..DecryptRequest::default()
        })
        .await
        .expect("typed decrypt");
    assert_eq!(d.data.as_deref(), Some(&b"typed"[..]));
    let r = c.perform(&RngRetrieveRequest::new(24)).await.expect("rng");
    assert_eq!(r.data.len(), 24);
    let h = c
        .perform(&HashRequest::new(
            tresor_kmip::enums::HashingAlgorithm::SHA_256,
            b"abc".to_vec(),
        ))
        .await
        .expect("hash");
    assert_eq!(h.data.as_ref().map(Vec::len), Some(32));

    // A Correlation Value of another type: a stream part, which starts a stream.
    let r = c
        .call(
            Operation::ENCRYPT,
            vec![
                uid(&u),
                Ttlv::bytes(Tag::DATA, b"part".to_vec()),
                Ttlv::integer(Tag::CORRELATION_VALUE, 7),
            ],
        )
        .await
        .expect("odd correlation");
    ok(&r);
    assert_eq!(bytes(&r, Tag::CORRELATION_VALUE).len(), 16);
    assert!(
        r.payload_items()
            .iter()
            .all(|t| t.tag != Tag::AUTHENTICATED_ENCRYPTION_TAG)
    );

    // Cryptographic Parameters that are not a structure: the defaults (AES-GCM).
    let r = c
        .call(
            Operation::ENCRYPT,
            vec![
                uid(&u),
                Ttlv::integer(Tag::CRYPTOGRAPHIC_PARAMETERS, 1),
                Ttlv::bytes(Tag::DATA, b"x".to_vec()),
            ],
        )
        .await
        .expect("odd parameters");
    ok(&r);
    assert_eq!(bytes(&r, Tag::AUTHENTICATED_ENCRYPTION_TAG).len(), 16);

    // No Data: the key is looked up first.
    let r = c
        .call(Operation::ENCRYPT, vec![uid("no-such-key")])
        .await
        .expect("no key");
    assert_eq!(r.result_reason, Some(ResultReason::OBJECT_NOT_FOUND));
    let r = c
        .call(Operation::ENCRYPT, vec![uid(&u)])
        .await
        .expect("no data");
    assert_eq!(r.result_reason, Some(ResultReason::MISSING_DATA));
    let err = c
        .perform(&SignRequest {
            unique_identifier: Some(UidRef::text(&u)),
            ..SignRequest::default()
        })
        .await
        .expect_err("an AES key does not sign");
    assert!(err.to_string().contains("InvalidObjectType"), "{err}");

    // A Hash in parts is refused before its missing Cryptographic Parameters.
    let r = c
        .call(
            Operation::HASH,
            vec![Ttlv::bytes(Tag::CORRELATION_VALUE, vec![1])],
        )
        .await
        .expect("hash parts");
    assert_eq!(r.result_reason, Some(ResultReason::INVALID_FIELD));
    let r = c
        .call(Operation::HASH, vec![Ttlv::bytes(Tag::DATA, vec![1])])
        .await
        .expect("hash without parameters");
    assert_eq!(r.result_reason, Some(ResultReason::MISSING_DATA));
    f.stop().await;
}
