//! Protected material (non-extractable, sensitive) leaves through no operation: not Get, not
//! tresor's Versions, not any other operation alone or in a batch, and a sensitive key is
//! exported only wrapped under a key that cannot open it outside the server.

use tresor_kmip::enums::{
    BlockCipherMode, CryptographicUsageMask as Mask, KeyFormatType, ObjectType, Operation,
    ResultReason, ResultStatus, SecretDataType, WrappingMethod,
};
use tresor_kmip::message::{RequestBatchItem, RequestHeader, RequestMessage};
use tresor_kmip::ops::OPERATIONS;
use tresor_kmip::payload::register::SecretData;
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, vendor};

use super::common::*;
use super::{
    V14, V21, all_uses, flag, grant, random_key, refused, register, register_payload, template,
};

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
                SecretData::new(SecretDataType::PASSWORD, b"new value".to_vec()).to_ttlv(),
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
