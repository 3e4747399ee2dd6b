//! Threat model, attackers A3 (an authenticated KMIP client) and A5 (the network): issued
//! certificates expire, a revoked certificate is refused once the server reloads its CRL
//! (open connections of others go on), and a certificate cannot pick an identity by string
//! type tricks, control characters or by naming the store's local actor.
//!
//! The reload on a real SIGHUP to `tresor kmip serve` is in
//! `crates/tresor-cli/tests/threat_model/certs.rs`.
//!
//! `cargo test -p tresor-kmip --test threat_model_certs`

mod threat_model_support;

use std::path::Path;

use rcgen::{BmpString, DistinguishedName, DnType, DnValue, SanType, TeletexString};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use threat_model_support::*;
use tresor_kmip::certs::{Lifetimes, RevokeTarget};
use tresor_kmip::enums::{Operation, ResultReason};
use tresor_kmip::server::IdentitySource;
use tresor_kmip::{ProtocolVersion, Tag, Ttlv};
use x509_cert::der::Decode;

const V: ProtocolVersion = ProtocolVersion::V2_0;

/// (not_before, not_after) of a PEM certificate, in Unix seconds.
fn validity(path: &Path) -> (u64, u64) {
    let der = CertificateDer::from_pem_file(path).expect("pem");
    let c = x509_cert::Certificate::from_der(der.as_ref()).expect("der");
    let v = &c.tbs_certificate.validity;
    (
        v.not_before.to_unix_duration().as_secs(),
        v.not_after.to_unix_duration().as_secs(),
    )
}

fn days(path: &Path) -> u64 {
    let (a, b) = validity(path);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(
        a <= now && a + 7200 > now,
        "not_before {a} is not about now {now}"
    );
    (b - a) / 86_400
}

#[test]
fn issued_certificates_have_bounded_validity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = tresor_kmip::certs::init(dir.path()).expect("init");
    assert_eq!(days(&f.ca_cert), 3650);
    assert_eq!(days(&f.server_cert), 730);
    assert_eq!(days(&f.client_cert), 365);
    let c = tresor_kmip::certs::client(dir.path(), "alice").expect("alice");
    assert_eq!(days(&c.cert), 365);
    let c = tresor_kmip::certs::client_with(dir.path(), "carol", 30).expect("carol");
    assert_eq!(days(&c.cert), 30);
    let other = tempfile::tempdir().expect("tempdir");
    let f = tresor_kmip::certs::init_with(
        other.path(),
        &Lifetimes {
            ca_days: 400,
            server_days: 90,
            client_days: 7,
        },
    )
    .expect("init_with");
    assert_eq!(days(&f.ca_cert), 400);
    assert_eq!(days(&f.server_cert), 90);
    assert_eq!(days(&f.client_cert), 7);
    assert!(tresor_kmip::certs::client_with(dir.path(), "dave", 0).is_err());
    assert!(tresor_kmip::certs::client_with(dir.path(), "dave", 1_000_000).is_err());
}

/// alice is revoked; after the reload her new handshakes fail, while bob's connection opened
/// before the reload keeps working and bob can connect again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_client_is_refused_after_reload() {
    let f = start(|c, certs| c.crl = Some(certs.join("ca.crl"))).await;
    let alice = f.client("alice", V);
    let bob = f.client("bob", V);
    let key = create_key(&bob, V).await;
    create_key(&alice, V).await;
    let mut bob_open = f.tls("bob").await.expect("bob handshake");
    ok(
        "bob before",
        &exchange(&mut bob_open, V, Operation::QUERY, Vec::new())
            .await
            .expect("bob answered"),
    );
    let r =
        tresor_kmip::certs::revoke(&f.certs, &RevokeTarget::Name("alice".into())).expect("revoke");
    assert!(!r.already);
    let again =
        tresor_kmip::certs::revoke(&f.certs, &RevokeTarget::CertFile(f.certs.join("alice.crt")))
            .expect("revoke again");
    assert!(again.already, "the same serial by file");
    f.reloader.reload().expect("reload");
    alice.close().await;
    let refused = match f.tls("alice").await {
        Err(e) => e.to_string(),
        Ok(mut s) => match exchange(&mut s, V, Operation::QUERY, Vec::new()).await {
            None => "closed".to_owned(),
            Some(item) => panic!("revoked alice was answered: {:?}", item.result_status),
        },
    };
    eprintln!("revoked alice: {refused}");
    // bob's connection from before the reload is still served, and he can reconnect.
    let item = exchange(
        &mut bob_open,
        V,
        Operation::GET,
        vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, &key)],
    )
    .await
    .expect("bob's open connection survived the reload");
    ok("bob's open connection", &item);
    let bob2 = f.client("bob", V);
    get_ok("bob reconnects", &bob2, &key).await;
    f.stop().await;
}

#[test]
fn revoke_by_serial_and_bad_targets() {
    let dir = tempfile::tempdir().expect("tempdir");
    tresor_kmip::certs::init(dir.path()).expect("init");
    let c = tresor_kmip::certs::client(dir.path(), "alice").expect("alice");
    let der = CertificateDer::from_pem_file(&c.cert).expect("pem");
    let cert = x509_cert::Certificate::from_der(der.as_ref()).expect("der");
    let serial: String = cert
        .tbs_certificate
        .serial_number
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02X}:"))
        .collect();
    let r = tresor_kmip::certs::revoke(dir.path(), &RevokeTarget::Serial(serial))
        .expect("revoke by serial");
    assert!(!r.already);
    assert!(
        tresor_kmip::certs::revoke(dir.path(), &RevokeTarget::Name("alice".into()))
            .expect("by name")
            .already
    );
    // A certificate of another CA is not this CA's to revoke.
    let other = tempfile::tempdir().expect("tempdir");
    let o = tresor_kmip::certs::init(other.path()).expect("other");
    assert!(
        tresor_kmip::certs::revoke(dir.path(), &RevokeTarget::CertFile(o.client_cert)).is_err()
    );
    assert!(tresor_kmip::certs::revoke(dir.path(), &RevokeTarget::Serial("zz".into())).is_err());
    assert!(tresor_kmip::certs::revoke(dir.path(), &RevokeTarget::Name("../x".into())).is_err());
}

fn dn(entries: Vec<(DnType, DnValue)>) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    for (t, v) in entries {
        d.push(t, v);
    }
    d
}

/// commonName under another key of rcgen's map, so a subject can hold two CNs.
fn cn_again() -> DnType {
    DnType::CustomDnType(vec![2, 5, 4, 3])
}

fn bmp(s: &str) -> DnValue {
    DnValue::BmpString(BmpString::try_from(s).expect("bmp"))
}

/// Asks for alice's key with the certificate `file`: Some(true) served as alice, Some(false)
/// refused by the operation (another identity), None: the connection was refused.
async fn reads_alice_key(f: &Fixture, file: &str, key: &str) -> Result<bool, String> {
    let c = f.client(file, V);
    match c
        .call(
            Operation::GET,
            vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, key)],
        )
        .await
    {
        Err(e) => Err(format!("transport: {e}")),
        Ok(item) if item.result_reason == Some(ResultReason::AUTHENTICATION_NOT_SUCCESSFUL) => {
            Err(item.result_message.unwrap_or_default())
        }
        Ok(item) => Ok(item.result_status == tresor_kmip::enums::ResultStatus::SUCCESS),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_is_the_first_utf8_or_printable_cn() {
    let f = start(|_, _| {}).await;
    let alice = f.client("alice", V);
    let key = create_key(&alice, V).await;
    // BMPString "mallory" first, UTF8String "alice" second: alice.
    issue(
        &f.certs,
        "bmp-then-utf8",
        dn(vec![
            (cn_again(), bmp("mallory")),
            (DnType::CommonName, DnValue::Utf8String("alice".into())),
        ]),
        Vec::new(),
    );
    assert_eq!(reads_alice_key(&f, "bmp-then-utf8", &key).await, Ok(true));
    // UTF8String "alice" first, BMPString "bob" last: still alice, not the last CN.
    issue(
        &f.certs,
        "utf8-then-bmp",
        dn(vec![
            (DnType::CommonName, DnValue::Utf8String("alice".into())),
            (cn_again(), bmp("bob")),
        ]),
        Vec::new(),
    );
    assert_eq!(reads_alice_key(&f, "utf8-then-bmp", &key).await, Ok(true));
    // PrintableString counts.
    issue(
        &f.certs,
        "printable",
        dn(vec![(
            DnType::CommonName,
            DnValue::PrintableString("alice".try_into().expect("printable")),
        )]),
        Vec::new(),
    );
    assert_eq!(reads_alice_key(&f, "printable", &key).await, Ok(true));
    // Only a BMPString or TeletexString CN: no identity.
    issue(
        &f.certs,
        "bmp-only",
        dn(vec![(DnType::CommonName, bmp("alice"))]),
        Vec::new(),
    );
    let e = reads_alice_key(&f, "bmp-only", &key)
        .await
        .expect_err("bmp only");
    assert!(e.contains("UTF8String or PrintableString"), "{e}");
    issue(
        &f.certs,
        "teletex-only",
        dn(vec![(
            DnType::CommonName,
            DnValue::TeletexString(TeletexString::try_from("alice").expect("t61")),
        )]),
        Vec::new(),
    );
    assert!(reads_alice_key(&f, "teletex-only", &key).await.is_err());
    // Control characters.
    issue(
        &f.certs,
        "control",
        dn(vec![(
            DnType::CommonName,
            DnValue::Utf8String("alice\n".into()),
        )]),
        Vec::new(),
    );
    let e = reads_alice_key(&f, "control", &key)
        .await
        .expect_err("control");
    assert!(e.contains("control character"), "{e}");
    get_ok("alice herself", &alice, &key).await;
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_from_a_san() {
    let f = start(|c, _| c.identity_from = IdentitySource::SanEmail).await;
    issue(
        &f.certs,
        "mail",
        dn(vec![(
            DnType::CommonName,
            DnValue::Utf8String("ignored".into()),
        )]),
        vec![SanType::Rfc822Name(
            "alice@example.org".try_into().expect("ia5"),
        )],
    );
    let c = f.client("mail", V);
    let key = create_key(&c, V).await;
    // alice.crt has no e-mail SAN: refused.
    assert!(reads_alice_key(&f, "alice", &key).await.is_err());
    assert_eq!(reads_alice_key(&f, "mail", &key).await, Ok(true));
    f.stop().await;
}

/// A certificate named like the store's local actor (the vault owner, who owns what the CLI
/// writes) is refused, so it cannot read or change the local vault's objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_named_like_the_local_actor_is_refused() {
    let f = start(|_, _| {}).await;
    let local = f
        .store
        .create(tresor_store::NewObject {
            material: Some(b"local secret".to_vec()),
            ..tresor_store::NewObject::new(tresor_store::ObjectType::SecretData)
        })
        .expect("local object")
        .uid;
    tresor_kmip::certs::client(&f.certs, LOCAL_ACTOR).expect("cert");
    let e = reads_alice_key(&f, LOCAL_ACTOR, &local)
        .await
        .expect_err("the local actor's name");
    assert!(e.contains("local actor"), "{e}");
    // The same refusal for another spelling of the name.
    tresor_kmip::certs::client(&f.certs, &LOCAL_ACTOR.to_uppercase()).expect("cert");
    assert!(
        reads_alice_key(&f, &LOCAL_ACTOR.to_uppercase(), &local)
            .await
            .is_err()
    );
    let bob = f.client("bob", V);
    create_key(&bob, V).await;
    f.stop().await;
}
