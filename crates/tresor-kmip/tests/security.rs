//! Security checks of the tresor KMIP server (`tresor kmip serve`, started as a process):
//!
//! - a client without a certificate, with a certificate from another CA, or (with
//!   `enable_tls_client_auth`) with a certificate lacking the clientAuth EKU is refused;
//! - identity `bob` cannot Get, Destroy or Locate `alice`'s key;
//! - a created key's bytes (read back with Get) appear nowhere in the store's files;
//! - truncated, oversized-length and 100-deep nested TTLV over a raw TLS socket each end
//!   in an error or a closed connection, and the server keeps serving;
//! - SIGTERM stops the server cleanly with a connection open.
//!
//! Needs a built server (`cargo build -p tresor-cli`, or `TRESOR_KMIP_CMD`).
//! `cargo test -p tresor-kmip --test security`

mod pykmip_common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pykmip_common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{
    CryptographicAlgorithm as Alg, CryptographicUsageMask as Mask, Operation as Op, ResultStatus,
};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv};

const V: ProtocolVersion = ProtocolVersion::V1_4;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

struct Fixture {
    _dir: tempfile::TempDir,
    certs: std::path::PathBuf,
    server: TresorServer,
}

fn start(extra_conf: Option<&str>) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path().join("certs");
    tresor_kmip::certs::init(&certs).expect("certificates");
    let store = dir.path().join("store");
    let mut extra: Vec<String> = Vec::new();
    if let Some(conf) = extra_conf {
        let path = dir.path().join("server.conf");
        std::fs::write(&path, conf).expect("server.conf");
        extra.push("--config".into());
        extra.push(path.display().to_string());
    }
    let args: Vec<&str> = extra.iter().map(String::as_str).collect();
    let server = TresorServer::start(&certs, &store, &args);
    Fixture {
        _dir: dir,
        certs,
        server,
    }
}

impl Fixture {
    fn client(&self, name: &str) -> KmipClient {
        client(&self.certs, name, self.server.port(), V)
    }

    /// A normal request still works (the server is alive and serving).
    async fn still_serving(&mut self) {
        let c = self.client("client");
        let item = call(&c, Op::QUERY, Req(V).query()).await;
        ok("query after abuse", &item);
        c.close().await;
        assert!(
            self.server.running(),
            "server exited:\n{}",
            self.server.log()
        );
    }
}

/// A request must fail: either the transport errors or the server refuses.
async fn refused(c: &KmipClient) -> String {
    match c.call(Op::QUERY, Req(V).query()).await {
        Err(e) => e.to_string(),
        Ok(item) => panic!(
            "request succeeded ({:?}) but the client should have been refused",
            item.result_status
        ),
    }
}

#[test]
fn client_without_certificate_is_refused() {
    let mut f = start(None);
    rt().block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        for c in
            rustls::pki_types::CertificateDer::pem_file_iter(f.certs.join("ca.crt")).expect("ca")
        {
            roots.add(c.expect("ca cert")).expect("root");
        }
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = TcpStream::connect(f.server.addr).await.expect("tcp");
        let conn = tokio_rustls::TlsConnector::from(Arc::new(cfg));
        let name = ServerName::try_from("127.0.0.1").expect("name");
        // With TLS 1.3 the client finishes its handshake before the server rejects it, so
        // the refusal shows on the first exchange at the latest.
        let outcome = match conn.connect(name, tcp).await {
            Err(e) => format!("handshake refused: {e}"),
            Ok(mut tls) => {
                let req = tresor_kmip::RequestMessage::single(V, Op::QUERY, Req(V).query());
                let _ = tls.write_all(&req.to_ttlv().encode()).await;
                let mut buf = [0u8; 8];
                match tls.read(&mut buf).await {
                    Ok(0) => "closed without a response".to_owned(),
                    Err(e) => format!("read refused: {e}"),
                    Ok(n) => panic!("server answered {n} bytes to a client without a certificate"),
                }
            }
        };
        eprintln!("no client certificate: {outcome}");
        f.still_serving().await;
    });
}

#[test]
fn certificate_from_another_ca_is_refused() {
    let mut f = start(None);
    let other = tempfile::tempdir().expect("tempdir");
    tresor_kmip::certs::init(other.path()).expect("other CA");
    rt().block_on(async {
        // Trusts the real server CA, but presents a client certificate of another CA.
        let mut cfg = ClientConfig::new(
            "127.0.0.1",
            other.path().join("client.crt"),
            other.path().join("client.key"),
            f.certs.join("ca.crt"),
        );
        cfg.port = f.server.port();
        let c = KmipClient::new(cfg).expect("client");
        eprintln!("other CA: {}", refused(&c).await);
        f.still_serving().await;
    });
}

/// Writes `name.crt`/`name.key` signed by the CA in `dir`, with only the serverAuth EKU.
fn cert_without_client_auth(dir: &Path, name: &str) {
    let ca_key = KeyPair::from_pem(&std::fs::read_to_string(dir.join("ca.key")).expect("ca key"))
        .expect("ca key pem");
    let mut cap = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, tresor_kmip::certs::CA_COMMON_NAME);
    cap.distinguished_name = dn;
    cap.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    cap.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = cap.self_signed(&ca_key).expect("ca");
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    p.distinguished_name = dn;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    let cert = p.signed_by(&key, &ca, &ca_key).expect("sign");
    std::fs::write(dir.join(format!("{name}.crt")), cert.pem()).expect("write crt");
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).expect("write key");
}

#[test]
fn certificate_without_client_auth_eku_is_refused_when_enabled() {
    let mut f = start(Some("[server]\nenable_tls_client_auth = True\n"));
    cert_without_client_auth(&f.certs, "noeku");
    rt().block_on(async {
        let c = f.client("noeku");
        eprintln!("no clientAuth EKU: {}", refused(&c).await);
        // The regular client certificate (clientAuth EKU) is accepted.
        f.still_serving().await;
    });
}

#[test]
fn bob_cannot_use_alices_key() {
    let mut f = start(None);
    tresor_kmip::certs::client(&f.certs, "alice").expect("alice");
    tresor_kmip::certs::client(&f.certs, "bob").expect("bob");
    rt().block_on(async {
        let alice = f.client("alice");
        let bob = f.client("bob");
        let r = Req(V);
        let created = call(
            &alice,
            Op::CREATE,
            r.create_symmetric(Alg::AES, 256, Mask::ENCRYPT, Some("alice-key")),
        )
        .await;
        ok("alice create", &created);
        let uid = uid_of(&created);

        let get = call(&bob, Op::GET, r.uid(&uid)).await;
        assert_eq!(
            get.result_status,
            ResultStatus::OPERATION_FAILED,
            "bob got alice's key"
        );
        assert!(get.payload.is_none() || key_material(&get).is_none());
        eprintln!("bob get: {:?} {:?}", get.result_reason, get.result_message);
        let attrs = call(&bob, Op::GET_ATTRIBUTES, r.get_attributes(&uid, &[])).await;
        assert_eq!(attrs.result_status, ResultStatus::OPERATION_FAILED);
        let destroy = call(&bob, Op::DESTROY, r.uid(&uid)).await;
        assert_eq!(destroy.result_status, ResultStatus::OPERATION_FAILED);
        let located = call(
            &bob,
            Op::LOCATE,
            r.locate(Some("alice-key"), None, None, None),
        )
        .await;
        ok("bob locate", &located);
        assert!(
            !uids_of(&located).contains(&uid),
            "bob can locate alice's key"
        );

        // Alice still has it, unchanged.
        let mine = call(&alice, Op::GET, r.uid(&uid)).await;
        ok("alice get", &mine);
        assert_eq!(key_material(&mine).map(|k| k.len()), Some(32));
        f.still_serving().await;
    });
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn key_material_is_not_stored_in_clear() {
    let mut f = start(None);
    let r = Req(V);
    let mut keys = Vec::new();
    rt().block_on(async {
        let c = f.client("client");
        for i in 0..3 {
            let created = call(
                &c,
                Op::CREATE,
                r.create_symmetric(Alg::AES, 256, Mask::ENCRYPT, Some(&format!("grep-{i}"))),
            )
            .await;
            ok("create", &created);
            let got = call(&c, Op::GET, r.uid(&uid_of(&created))).await;
            ok("get", &got);
            keys.push(key_material(&got).expect("material"));
        }
        // A registered secret too, with a recognisable value.
        let secret = b"correct horse battery staple 0123456789".to_vec();
        let reg = call(&c, Op::REGISTER, r.register_secret(&secret, "grep-secret")).await;
        ok("register secret", &reg);
        keys.push(secret);
        c.close().await;
    });
    let store = f.server.store.clone();
    let check = |when: &str| {
        let mut files = Vec::new();
        files_under(&store, &mut files);
        assert!(
            !files.is_empty(),
            "no store files under {}",
            store.display()
        );
        let mut total = 0;
        for p in &files {
            let data = std::fs::read(p).expect("read store file");
            total += data.len();
            for k in &keys {
                assert!(
                    !contains(&data, k),
                    "{when}: key bytes in clear in {}",
                    p.display()
                );
                let h = hex(k);
                assert!(
                    !contains(&data, h.as_bytes()) && !contains(&data, h.to_uppercase().as_bytes()),
                    "{when}: key hex in clear in {}",
                    p.display()
                );
            }
        }
        eprintln!(
            "{when}: {} store files, {total} bytes, no key material found",
            files.len()
        );
    };
    check("while running (database + WAL)");
    let status = f.server.terminate();
    assert!(status.success(), "server exit on SIGTERM: {status}");
    check("after shutdown");
}

/// Opens a raw mutual-TLS connection with the regular client certificate.
async fn raw_tls(f: &Fixture) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut cfg = ClientConfig::new(
        "127.0.0.1",
        f.certs.join("client.crt"),
        f.certs.join("client.key"),
        f.certs.join("ca.crt"),
    );
    cfg.port = f.server.port();
    let tls = cfg.tls_config().expect("tls config");
    let tcp = TcpStream::connect(f.server.addr).await.expect("tcp");
    tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
        .await
        .expect("handshake")
}

/// What the server did with a bad message: answered (with a failure) or closed.
async fn outcome(tls: &mut tokio_rustls::client::TlsStream<TcpStream>) -> String {
    let mut buf = vec![0u8; 64 * 1024];
    let read = tokio::time::timeout(Duration::from_secs(30), tls.read(&mut buf)).await;
    match read {
        Err(_) => panic!("the server neither answered nor closed within 30 s"),
        Ok(Ok(0)) => "connection closed".to_owned(),
        Ok(Err(e)) => format!("connection error: {e}"),
        Ok(Ok(n)) => {
            // An answer must be a failure response, never a success.
            match Ttlv::decode(&buf[..n])
                .ok()
                .and_then(|t| tresor_kmip::ResponseMessage::from_ttlv(&t).ok())
            {
                Some(resp) => {
                    for item in &resp.batch_items {
                        assert_ne!(item.result_status, ResultStatus::SUCCESS, "{resp:?}");
                    }
                    format!(
                        "error response: {:?}",
                        resp.batch_items
                            .first()
                            .map(|i| (i.result_reason, i.result_message.clone()))
                    )
                }
                None => format!("{n} bytes that are not a full response"),
            }
        }
    }
}

fn nested(depth: usize) -> Vec<u8> {
    let mut t = Ttlv::integer(Tag::MAXIMUM_ITEMS, 1);
    for _ in 0..depth {
        t = Ttlv::structure(Tag::REQUEST_PAYLOAD, vec![t]);
    }
    // A request message around the nest, so only the depth is wrong.
    let header = tresor_kmip::message::RequestHeader::new(V, 1).to_ttlv();
    let item = Ttlv::structure(
        Tag::BATCH_ITEM,
        vec![Ttlv::enumeration(Tag::OPERATION, Op::QUERY), t],
    );
    Ttlv::structure(Tag::REQUEST_MESSAGE, vec![header, item]).encode()
}

#[test]
fn malformed_messages_close_only_that_connection() {
    let mut f = start(None);
    rt().block_on(async {
        // A client connected throughout must keep working.
        let steady = f.client("client");
        ok(
            "steady query",
            &call(&steady, Op::QUERY, Req(V).query()).await,
        );

        // 1. Truncated: the header promises 200 bytes, 40 arrive, then the client half-closes.
        let mut tls = raw_tls(&f).await;
        let full = tresor_kmip::RequestMessage::single(V, Op::QUERY, Req(V).query())
            .to_ttlv()
            .encode();
        let mut bad = full[..8].to_vec();
        bad.extend_from_slice(&200u32.to_be_bytes());
        bad.extend_from_slice(&[0u8; 28]);
        tls.write_all(&bad).await.expect("write");
        tls.shutdown().await.ok();
        eprintln!("truncated: {}", outcome(&mut tls).await);
        f.still_serving().await;

        // 2. Oversized: a structure claiming 2 GiB.
        let mut tls = raw_tls(&f).await;
        let mut bad = full[..8].to_vec();
        bad[4..8].copy_from_slice(&0x7fff_fff0u32.to_be_bytes());
        bad.extend_from_slice(&[0u8; 64]);
        tls.write_all(&bad).await.expect("write");
        eprintln!("oversized: {}", outcome(&mut tls).await);
        f.still_serving().await;

        // 3. 100-deep nesting.
        let mut tls = raw_tls(&f).await;
        tls.write_all(&nested(100)).await.expect("write");
        eprintln!("nested: {}", outcome(&mut tls).await);
        f.still_serving().await;

        // 4. Garbage that is not TTLV at all.
        let mut tls = raw_tls(&f).await;
        tls.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        eprintln!("garbage: {}", outcome(&mut tls).await);
        f.still_serving().await;

        ok(
            "steady query after",
            &call(&steady, Op::QUERY, Req(V).query()).await,
        );
    });
}

#[test]
fn sigterm_stops_the_server_with_a_connection_open() {
    let mut f = start(None);
    let rt = rt();
    let c = f.client("client");
    rt.block_on(async {
        ok("query", &call(&c, Op::QUERY, Req(V).query()).await);
    });
    let t = Instant::now();
    let status = f.server.terminate();
    eprintln!("SIGTERM -> exit {status} in {:?}", t.elapsed());
    assert!(status.success(), "exit status on SIGTERM: {status}");
}
