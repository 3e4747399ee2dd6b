//! The tresor KMIP client against a real PyKMIP 0.11 server (`pykmip-server` from the venv
//! named by `TRESOR_PYKMIP_PY`, see `tests/peers/pykmip/setup.sh`), for every operation
//! PyKMIP's server implements: DiscoverVersions, Query, Create, CreateKeyPair, Register
//! (symmetric key, secret data, opaque object, certificate), Locate, Get, GetAttributes,
//! GetAttributeList, Activate, Revoke, Destroy, Encrypt/Decrypt, Sign/SignatureVerify, MAC.
//!
//! `cargo test -p tresor-kmip --test pykmip_server`

mod pykmip_common;

use pykmip_common::*;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tresor_kmip::enums::{
    BlockCipherMode, CryptographicAlgorithm as Alg, CryptographicUsageMask as Mask,
    HashingAlgorithm, ObjectType, Operation as Op, PaddingMethod, ResultReason, ResultStatus,
    State,
};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

async fn state_of(c: &tresor_kmip::client::KmipClient, r: Req, uid: &str) -> State {
    let item = call(c, Op::GET_ATTRIBUTES, r.get_attributes(uid, &[Tag::STATE])).await;
    ok("get attributes (state)", &item);
    match attributes_of(&item).get(Tag::STATE) {
        Some(Value::Enumeration(s)) => State(*s),
        other => panic!("no state attribute: {other:?}"),
    }
}

/// The symmetric-key lifecycle, crypto and register checks in version `v`.
async fn full_run(server: &PyKmipServer, v: ProtocolVersion) {
    let c = client(&server.certs(), "client", server.port, v);
    let r = Req(v);
    let tag = format!("v{v}");

    // DiscoverVersions (KMIP 1.1+; PyKMIP refuses it in 1.0): PyKMIP 0.11 speaks 1.0-2.0.
    let dv = call(&c, Op::DISCOVER_VERSIONS, vec![]).await;
    if v == ProtocolVersion::V1_0 {
        assert_eq!(
            dv.result_reason,
            Some(ResultReason::OPERATION_NOT_SUPPORTED)
        );
    } else {
        ok("discover versions", &dv);
        let versions: Vec<ProtocolVersion> = dv
            .payload_items()
            .iter()
            .filter_map(|t| ProtocolVersion::from_ttlv(t).ok())
            .collect();
        assert!(versions.contains(&ProtocolVersion::V2_0), "{versions:?}");
        assert!(versions.contains(&ProtocolVersion::V1_0), "{versions:?}");
    }

    // Query: the operations list names what we are about to use.
    let q = call(&c, Op::QUERY, r.query()).await;
    ok("query", &q);
    let ops: Vec<u32> = q
        .payload_items()
        .iter()
        .filter(|t| t.tag == Tag::OPERATION)
        .filter_map(Ttlv::as_enumeration)
        .collect();
    for op in [Op::CREATE, Op::GET, Op::LOCATE, Op::DESTROY] {
        assert!(ops.contains(&op.0), "query lacks {op:?}: {ops:?}");
    }

    // Create an AES-256 key with a name; it starts Pre-Active.
    let name = format!("aes-{tag}");
    let created = call(
        &c,
        Op::CREATE,
        r.create_symmetric(Alg::AES, 256, Mask::ENCRYPT | Mask::DECRYPT, Some(&name)),
    )
    .await;
    ok("create", &created);
    let uid = uid_of(&created);
    assert_eq!(state_of(&c, r, &uid).await, State::PRE_ACTIVE);

    // Get returns 32 bytes of key material.
    let got = call(&c, Op::GET, r.uid(&uid)).await;
    ok("get", &got);
    let key = key_material(&got).expect("key material");
    assert_eq!(key.len(), 32);
    assert_eq!(uid_of(&got), uid);

    // GetAttributes: algorithm and length as created.
    let ga = call(
        &c,
        Op::GET_ATTRIBUTES,
        r.get_attributes(
            &uid,
            &[Tag::CRYPTOGRAPHIC_ALGORITHM, Tag::CRYPTOGRAPHIC_LENGTH],
        ),
    )
    .await;
    ok("get attributes", &ga);
    let attrs = attributes_of(&ga);
    assert_eq!(attrs.cryptographic_algorithm(), Some(Alg::AES));
    assert_eq!(attrs.cryptographic_length(), Some(256));

    // GetAttributeList names the attributes the object has.
    let gal = call(&c, Op::GET_ATTRIBUTE_LIST, r.uid(&uid)).await;
    ok("get attribute list", &gal);
    let names = attribute_names_of(&gal);
    for n in ["Cryptographic Algorithm", "Cryptographic Length", "State"] {
        assert!(
            names.iter().any(|x| x == n),
            "attribute list lacks {n}: {names:?}"
        );
    }

    // Locate by name finds exactly this key; by type + algorithm with Maximum Items 1, one.
    let loc = call(&c, Op::LOCATE, r.locate(Some(&name), None, None, None)).await;
    ok("locate by name", &loc);
    assert_eq!(uids_of(&loc), vec![uid.clone()]);
    let second = call(
        &c,
        Op::CREATE,
        r.create_symmetric(Alg::AES, 128, Mask::ENCRYPT | Mask::DECRYPT, None),
    )
    .await;
    ok("create second", &second);
    let all = call(
        &c,
        Op::LOCATE,
        r.locate(None, Some(ObjectType::SYMMETRIC_KEY), Some(Alg::AES), None),
    )
    .await;
    ok("locate by type and algorithm", &all);
    let all = uids_of(&all);
    assert!(
        all.contains(&uid) && all.contains(&uid_of(&second)),
        "{all:?}"
    );
    let one = call(
        &c,
        Op::LOCATE,
        r.locate(
            None,
            Some(ObjectType::SYMMETRIC_KEY),
            Some(Alg::AES),
            Some(1),
        ),
    )
    .await;
    ok("locate with maximum items", &one);
    assert_eq!(uids_of(&one).len(), 1);

    // Encrypt is refused while Pre-Active; Activate; then AES-CBC-PKCS5 round trip.
    let params = || {
        Req::params(
            Some(BlockCipherMode::CBC),
            Some(PaddingMethod::PKCS5),
            None,
            Some(Alg::AES),
        )
    };
    let iv = [7u8; 16];
    let plain = b"interop plaintext, not a multiple of sixteen";
    if v >= ProtocolVersion::V1_2 {
        let early = call(&c, Op::ENCRYPT, r.crypto(&uid, params(), plain, Some(&iv))).await;
        assert_eq!(early.result_status, ResultStatus::OPERATION_FAILED);
    }
    ok("activate", &call(&c, Op::ACTIVATE, r.uid(&uid)).await);
    assert_eq!(state_of(&c, r, &uid).await, State::ACTIVE);
    if v >= ProtocolVersion::V1_2 {
        let enc = call(&c, Op::ENCRYPT, r.crypto(&uid, params(), plain, Some(&iv))).await;
        ok("encrypt", &enc);
        let ct = field(&enc, Tag::DATA)
            .and_then(Ttlv::as_bytes)
            .expect("ciphertext")
            .to_vec();
        assert_eq!(ct.len(), 48, "PKCS5 pads 44 bytes to 48");
        assert_ne!(&ct[..plain.len()], &plain[..]);
        let dec = call(&c, Op::DECRYPT, r.crypto(&uid, params(), &ct, Some(&iv))).await;
        ok("decrypt", &dec);
        assert_eq!(
            field(&dec, Tag::DATA).and_then(Ttlv::as_bytes),
            Some(&plain[..])
        );
    }

    // Destroy of an Active object is refused; Revoke then Destroy works; Get then fails.
    let refused = call(&c, Op::DESTROY, r.uid(&uid)).await;
    assert_eq!(refused.result_status, ResultStatus::OPERATION_FAILED);
    ok(
        "revoke",
        &call(&c, Op::REVOKE, r.revoke(&uid, 6, None)).await, // Cessation of Operation
    );
    assert_eq!(state_of(&c, r, &uid).await, State::DEACTIVATED);
    ok("destroy", &call(&c, Op::DESTROY, r.uid(&uid)).await);
    let gone = call(&c, Op::GET, r.uid(&uid)).await;
    assert_eq!(gone.result_status, ResultStatus::OPERATION_FAILED);
    assert_eq!(gone.result_reason, Some(ResultReason::ITEM_NOT_FOUND));

    // Register: secret data, opaque object, certificate; Get returns the same bytes.
    let secret = format!("s3cret-{tag}").into_bytes();
    let reg = call(
        &c,
        Op::REGISTER,
        r.register_secret(&secret, &format!("secret-{tag}")),
    )
    .await;
    ok("register secret data", &reg);
    let got = call(&c, Op::GET, r.uid(&uid_of(&reg))).await;
    ok("get secret data", &got);
    assert_eq!(key_material(&got).as_deref(), Some(&secret[..]));

    let opaque = b"\x00\x01opaque blob\xff".to_vec();
    let reg = call(
        &c,
        Op::REGISTER,
        r.register_opaque(&opaque, &format!("opaque-{tag}")),
    )
    .await;
    ok("register opaque object", &reg);
    let got = call(&c, Op::GET, r.uid(&uid_of(&reg))).await;
    ok("get opaque object", &got);
    let back = field(&got, Tag::OPAQUE_OBJECT)
        .and_then(|o| o.find(Tag::OPAQUE_DATA_VALUE))
        .and_then(Ttlv::as_bytes);
    assert_eq!(back, Some(&opaque[..]));

    let der = CertificateDer::from_pem_file(server.certs().join("server.crt"))
        .expect("server certificate")
        .to_vec();
    let reg = call(
        &c,
        Op::REGISTER,
        r.register_certificate(&der, &format!("cert-{tag}")),
    )
    .await;
    ok("register certificate", &reg);
    let got = call(&c, Op::GET, r.uid(&uid_of(&reg))).await;
    ok("get certificate", &got);
    let back = field(&got, Tag::CERTIFICATE)
        .and_then(|o| o.find(Tag::CERTIFICATE_VALUE))
        .and_then(Ttlv::as_bytes);
    assert_eq!(back, Some(&der[..]));

    // Register an HMAC key; MAC over the server equals HMAC-SHA256 computed here.
    if v >= ProtocolVersion::V1_2 {
        let hkey = [0x5au8; 32];
        let reg = call(
            &c,
            Op::REGISTER,
            r.register_symmetric(
                Alg::HMAC_SHA256,
                &hkey,
                Mask::MAC_GENERATE,
                &format!("hmac-{tag}"),
            ),
        )
        .await;
        ok("register hmac key", &reg);
        let hid = uid_of(&reg);
        ok(
            "activate hmac key",
            &call(&c, Op::ACTIVATE, r.uid(&hid)).await,
        );
        let data = b"message to authenticate";
        let mac = call(
            &c,
            Op::MAC,
            r.crypto(
                &hid,
                Req::params(None, None, None, Some(Alg::HMAC_SHA256)),
                data,
                None,
            ),
        )
        .await;
        ok("mac", &mac);
        let expect = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &hkey), data);
        assert_eq!(
            field(&mac, Tag::MAC_DATA).and_then(Ttlv::as_bytes),
            Some(expect.as_ref())
        );
    }
    c.close().await;
}

/// RSA key pair: CreateKeyPair, Activate, Sign (PSS, SHA-256), SignatureVerify, Revoke
/// with Key Compromise and a compromise date.
async fn key_pair_run(server: &PyKmipServer, v: ProtocolVersion) {
    let c = client(&server.certs(), "client", server.port, v);
    let r = Req(v);
    let pair = call(
        &c,
        Op::CREATE_KEY_PAIR,
        r.create_rsa_pair(2048, &format!("rsa-{v}")),
    )
    .await;
    ok("create key pair", &pair);
    let text = |t: Tag| {
        field(&pair, t)
            .and_then(Ttlv::as_text)
            .unwrap_or_else(|| panic!("no {t:?}"))
            .to_owned()
    };
    let (private, public) = (
        text(Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER),
        text(Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER),
    );
    let pubkey = call(&c, Op::GET, r.uid(&public)).await;
    ok("get public key", &pubkey);
    assert_eq!(
        field(&pubkey, Tag::OBJECT_TYPE).and_then(Ttlv::as_enumeration),
        Some(ObjectType::PUBLIC_KEY.0)
    );
    let pubkey_der = key_material(&pubkey).expect("public key material");
    // A PKCS#1 RSAPublicKey for 2048 bits is 270 bytes.
    assert!(pubkey_der.len() > 256, "{}", pubkey_der.len());

    ok(
        "activate private",
        &call(&c, Op::ACTIVATE, r.uid(&private)).await,
    );
    ok(
        "activate public",
        &call(&c, Op::ACTIVATE, r.uid(&public)).await,
    );
    let params = || {
        Req::params(
            None,
            Some(PaddingMethod::PSS),
            Some(HashingAlgorithm::SHA_256),
            Some(Alg::RSA),
        )
    };
    let data = b"document to sign";
    let sig = call(&c, Op::SIGN, r.crypto(&private, params(), data, None)).await;
    ok("sign", &sig);
    let signature = field(&sig, Tag::SIGNATURE_DATA)
        .and_then(Ttlv::as_bytes)
        .expect("signature")
        .to_vec();
    assert_eq!(signature.len(), 256);
    let valid = call(
        &c,
        Op::SIGNATURE_VERIFY,
        r.verify(&public, params(), data, &signature),
    )
    .await;
    ok("signature verify", &valid);
    assert_eq!(
        field(&valid, Tag::VALIDITY_INDICATOR).and_then(Ttlv::as_enumeration),
        Some(1), // Valid
    );
    let bad = call(
        &c,
        Op::SIGNATURE_VERIFY,
        r.verify(&public, params(), b"another document", &signature),
    )
    .await;
    ok("signature verify (tampered)", &bad);
    assert_eq!(
        field(&bad, Tag::VALIDITY_INDICATOR).and_then(Ttlv::as_enumeration),
        Some(2), // Invalid
    );

    // Sign with the public key is refused (wrong object type).
    let wrong = call(&c, Op::SIGN, r.crypto(&public, params(), data, None)).await;
    assert_eq!(wrong.result_status, ResultStatus::OPERATION_FAILED);

    let when = 1_700_000_000;
    ok(
        "revoke (key compromise)",
        &call(&c, Op::REVOKE, r.revoke(&private, 2, Some(when))).await,
    );
    assert_eq!(state_of(&c, r, &private).await, State::COMPROMISED);
    c.close().await;
}

#[test]
fn tresor_client_against_pykmip_server() {
    let Some(python) = pykmip_python() else {
        return;
    };
    let server = PyKmipServer::start(&python);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            // PyKMIP's Encrypt/Sign/MAC need 1.2+; 1.0 checks the rest of the lifecycle.
            for v in [
                ProtocolVersion::V1_0,
                ProtocolVersion::V1_2,
                ProtocolVersion::V1_4,
                ProtocolVersion::V2_0,
            ] {
                full_run(&server, v).await;
            }
            key_pair_run(&server, ProtocolVersion::V1_2).await;
            key_pair_run(&server, ProtocolVersion::V1_4).await;
            key_pair_run(&server, ProtocolVersion::V2_0).await;
        })
    }));
    if let Err(e) = result {
        eprintln!("--- pykmip-server log ---\n{}", server.log());
        std::panic::resume_unwind(e);
    }
}
