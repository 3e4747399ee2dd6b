//! Shared by `threat_model_certs.rs` and `threat_model_limits.rs`: a real KMIP server over
//! mutual TLS on 127.0.0.1:0 with a tunable configuration, real TLS clients, and a way to
//! issue odd client certificates from the fixture's CA.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, ObjectType, Operation, ResultReason,
    ResultStatus,
};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::server::{Reloader, Server, ServerConfig};
use tresor_kmip::ttlv::Limits;
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

/// The store's local actor in these tests (as the vault owner would be).
pub const LOCAL_ACTOR: &str = "owner@laptop";

/// A running in-process server.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub certs: PathBuf,
    pub port: u16,
    pub store: Arc<tresor_store::Store>,
    pub reloader: Reloader,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Starts a server with certificates for `client`, `alice` and `bob`; `tune` edits the
/// configuration before binding.
pub async fn start(tune: impl FnOnce(&mut ServerConfig, &Path)) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path().join("certs");
    let f = tresor_kmip::certs::init(&certs).expect("certs");
    for n in ["alice", "bob"] {
        tresor_kmip::certs::client(&certs, n).expect("client cert");
    }
    let kek = Arc::new(tresor_crypto::LocalKek::generate().expect("kek"));
    let store = Arc::new(
        tresor_store::Store::open_sqlite(&dir.path().join("t.db"), kek, LOCAL_ACTOR)
            .expect("store"),
    );
    let mut config = ServerConfig::new(&f.server_cert, &f.server_key, &f.ca_cert);
    config.listen = "127.0.0.1:0".into();
    tune(&mut config, &certs);
    let server = Server::bind(config, store.clone()).await.expect("bind");
    let port = server.local_addr().port();
    let reloader = server.reloader();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async {
        let _ = rx.await;
    }));
    Fixture {
        dir,
        certs,
        port,
        store,
        reloader,
        stop: Some(tx),
        task: Some(task),
    }
}

impl Fixture {
    /// A client presenting `certs/NAME.crt`, speaking `version`; reads responses up to 16 MiB
    /// (so an answer the server should have refused is read and seen, not cut off).
    pub fn client(&self, name: &str, version: ProtocolVersion) -> KmipClient {
        let c = &self.certs;
        let mut cfg = ClientConfig::new(
            "127.0.0.1",
            c.join(format!("{name}.crt")),
            c.join(format!("{name}.key")),
            c.join("ca.crt"),
        );
        cfg.server_name = Some("localhost".into());
        cfg.port = self.port;
        cfg.protocol_version = version;
        cfg.limits = Limits {
            max_message: 16 << 20,
            max_items: 100_000,
            ..Limits::default()
        };
        cfg.request_timeout = std::time::Duration::from_secs(60);
        KmipClient::new(cfg).expect("client")
    }

    /// A raw TLS connection presenting `certs/NAME.crt` (the handshake's error if refused).
    pub async fn tls(&self, name: &str) -> std::io::Result<TlsStream<TcpStream>> {
        let c = &self.certs;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(c.join("ca.crt")).expect("ca")
        {
            roots.add(cert.expect("ca cert")).expect("root");
        }
        let chain = rustls::pki_types::CertificateDer::pem_file_iter(c.join(format!("{name}.crt")))
            .expect("crt")
            .collect::<Result<Vec<_>, _>>()
            .expect("crt pem");
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(c.join(format!("{name}.key")))
            .expect("key");
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client auth");
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await?;
        let conn = tokio_rustls::TlsConnector::from(Arc::new(cfg));
        conn.connect(ServerName::try_from("localhost").expect("name"), tcp)
            .await
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task");
        }
    }
}

/// One request/response exchange on a raw TLS stream (`None` if the server closed it).
pub async fn exchange(
    tls: &mut TlsStream<TcpStream>,
    version: ProtocolVersion,
    op: Operation,
    payload: Vec<Ttlv>,
) -> Option<ResponseBatchItem> {
    use tokio::io::AsyncWriteExt;
    let req = tresor_kmip::RequestMessage::single(version, op, payload);
    tls.write_all(&req.to_ttlv().encode()).await.ok()?;
    tls.flush().await.ok()?;
    let limits = Limits {
        max_message: 16 << 20,
        ..Limits::default()
    };
    let bytes = tresor_kmip::ttlv::stream::read_message_bytes(tls, &limits)
        .await
        .ok()??;
    let t = Ttlv::decode_with(&bytes, &limits).ok()?;
    tresor_kmip::ResponseMessage::from_ttlv(&t)
        .ok()?
        .batch_items
        .into_iter()
        .next()
}

pub fn ok(what: &str, item: &ResponseBatchItem) {
    assert_eq!(
        item.result_status,
        ResultStatus::SUCCESS,
        "{what}: {:?}: {:?}",
        item.result_reason,
        item.result_message
    );
}

/// The item failed with `reason`; returns its message.
pub fn failed(what: &str, item: &ResponseBatchItem, reason: ResultReason) -> String {
    assert_eq!(
        item.result_status,
        ResultStatus::OPERATION_FAILED,
        "{what}: expected a refusal, got {:?}",
        item.result_status
    );
    assert_eq!(
        item.result_reason,
        Some(reason),
        "{what}: {:?}",
        item.result_message
    );
    item.result_message.clone().unwrap_or_default()
}

pub fn uid_of(item: &ResponseBatchItem) -> String {
    item.payload_items()
        .iter()
        .find(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
        .and_then(Ttlv::as_text)
        .expect("unique identifier")
        .to_owned()
}

/// A Create payload for an AES-256 key.
pub fn aes_create(v: ProtocolVersion) -> Vec<Ttlv> {
    let mut set = AttributeSet::default();
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::AES.0),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(256),
    ));
    let mask = CryptographicUsageMask::ENCRYPT | CryptographicUsageMask::DECRYPT;
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_USAGE_MASK,
        Value::Integer(mask.0 as i32),
    ));
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
        set.to_ttlv(v, Container::Template),
    ]
}

/// Creates an AES key as `c`'s identity.
pub async fn create_key(c: &KmipClient, v: ProtocolVersion) -> String {
    let item = c
        .call(Operation::CREATE, aes_create(v))
        .await
        .expect("create");
    ok("create", &item);
    uid_of(&item)
}

/// `c` can Get `uid` (the bystander is still served).
pub async fn get_ok(what: &str, c: &KmipClient, uid: &str) {
    let item = c
        .call(
            Operation::GET,
            vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)],
        )
        .await
        .unwrap_or_else(|e| panic!("{what}: the bystander's Get failed: {e}"));
    ok(what, &item);
}

/// Issues `certs/FILE.crt` and `.key` from the fixture's CA with subject `dn`, SANs `sans`
/// and the clientAuth EKU.
pub fn issue(certs: &Path, file: &str, dn: DistinguishedName, sans: Vec<rcgen::SanType>) {
    let ca_key = KeyPair::from_pem(&std::fs::read_to_string(certs.join("ca.key")).expect("ca key"))
        .expect("ca key pem");
    let mut cap = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    let mut cadn = DistinguishedName::new();
    cadn.push(DnType::CommonName, tresor_kmip::certs::CA_COMMON_NAME);
    cap.distinguished_name = cadn;
    cap.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    cap.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = cap.self_signed(&ca_key).expect("ca");
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name = dn;
    p.subject_alt_names = sans;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.use_authority_key_identifier_extension = true;
    let cert = p.signed_by(&key, &ca, &ca_key).expect("sign");
    std::fs::write(certs.join(format!("{file}.crt")), cert.pem()).expect("write crt");
    std::fs::write(certs.join(format!("{file}.key")), key.serialize_pem()).expect("write key");
}
