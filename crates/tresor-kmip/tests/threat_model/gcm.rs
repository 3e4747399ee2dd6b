//! AES-GCM follows the key: short tags are refused, and a caller-chosen IV only where the
//! key allows it.

use tresor_kmip::attributes::Attribute;
use tresor_kmip::enums::{
    BlockCipherMode, CryptographicUsageMask as Mask, Operation, ResultReason,
};
use tresor_kmip::{Tag, Ttlv, Value};

use super::common::*;
use super::{V14, V21, grant, random_key, refused, register};

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
