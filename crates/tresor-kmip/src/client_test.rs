use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::*;
use crate::certs;
use crate::enums::ResultStatus;
use crate::message::ResponseMessage;
use crate::ttlv::stream::read_message;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Answer every request on a connection.
    Serve,
    /// Answer one request, then close the connection.
    OneShot,
    /// Read requests and never answer.
    Silent,
    /// Answer one byte at a time, 100 ms apart.
    Trickle,
}

struct TestServer {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

fn server_tls(dir: &Path) -> rustls::ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(dir.join("ca.crt")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let chain = CertificateDer::pem_file_iter(dir.join("server.crt"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap()
}

async fn start(dir: &Path, mode: Mode) -> TestServer {
    let acceptor = TlsAcceptor::from(Arc::new(server_tls(dir)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                while let Ok(Some(req)) = read_message(&mut tls, &Limits::default()).await {
                    if mode == Mode::Silent {
                        continue;
                    }
                    let req = RequestMessage::from_ttlv(&req).unwrap();
                    let items = req
                        .batch_items
                        .iter()
                        .map(|b| {
                            ResponseBatchItem::success(
                                b.operation,
                                b.unique_batch_item_id.clone(),
                                vec![req.header.protocol_version.to_ttlv()],
                            )
                        })
                        .collect();
                    let resp = ResponseMessage::new(req.header.protocol_version, 1, items);
                    if mode == Mode::Trickle {
                        use tokio::io::AsyncWriteExt;
                        for b in resp.to_ttlv().encode() {
                            if tls.write_all(&[b]).await.is_err() || tls.flush().await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        continue;
                    }
                    write_message(&mut tls, &resp.to_ttlv()).await.unwrap();
                    if mode == Mode::OneShot {
                        return;
                    }
                }
            });
        }
    });
    TestServer { port, accepted }
}

/// Each test runs with both clients: the async one and the blocking one (from a blocking
/// thread, so the test server keeps running on the runtime).
#[derive(Clone, Copy, Debug)]
enum Kind {
    Async,
    Blocking,
}

const KINDS: [Kind; 2] = [Kind::Async, Kind::Blocking];

enum Client {
    Async(Box<KmipClient>),
    Blocking(Arc<BlockingKmipClient>),
}

impl Client {
    fn new(kind: Kind, c: ClientConfig) -> Client {
        match kind {
            Kind::Async => Client::Async(Box::new(KmipClient::new(c).unwrap())),
            Kind::Blocking => Client::Blocking(Arc::new(BlockingKmipClient::new(c).unwrap())),
        }
    }

    async fn call(&self, op: Operation) -> Result<ResponseBatchItem, KmipError> {
        match self {
            Client::Async(c) => c.call(op, vec![]).await,
            Client::Blocking(c) => {
                let c = c.clone();
                tokio::task::spawn_blocking(move || c.call(op, vec![]))
                    .await
                    .unwrap()
            }
        }
    }

    async fn close(&self) {
        match self {
            Client::Async(c) => c.close().await,
            Client::Blocking(c) => {
                let c = c.clone();
                tokio::task::spawn_blocking(move || c.close())
                    .await
                    .unwrap();
            }
        }
    }
}

fn config(dir: &Path, port: u16, cert: &str) -> ClientConfig {
    let mut c = ClientConfig::new(
        "127.0.0.1",
        dir.join(format!("{cert}.crt")),
        dir.join(format!("{cert}.key")),
        dir.join("ca.crt"),
    );
    c.port = port;
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_round_trip_reuses_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    certs::init(dir.path()).unwrap();
    for kind in KINDS {
        let server = start(dir.path(), Mode::Serve).await;
        let client = Client::new(kind, config(dir.path(), server.port, "client"));
        for _ in 0..3 {
            let item = client.call(Operation::DISCOVER_VERSIONS).await.unwrap();
            assert_eq!(item.result_status, ResultStatus::SUCCESS);
            assert_eq!(item.operation, Some(Operation::DISCOVER_VERSIONS));
            let v = ProtocolVersion::from_ttlv(&item.payload_items()[0]).unwrap();
            assert_eq!(v, ProtocolVersion::V1_4);
        }
        assert_eq!(server.accepted.load(Ordering::SeqCst), 1, "{kind:?}");
        client.close().await;
        // After close the next call opens a new connection.
        assert!(client.call(Operation::QUERY).await.is_ok(), "{kind:?}");
        assert_eq!(server.accepted.load(Ordering::SeqCst), 2, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reconnects_when_the_server_closed_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    certs::init(dir.path()).unwrap();
    for kind in KINDS {
        let server = start(dir.path(), Mode::OneShot).await;
        let client = Client::new(kind, config(dir.path(), server.port, "client"));
        for _ in 0..2 {
            let item = client.call(Operation::QUERY).await.unwrap();
            assert_eq!(item.result_status, ResultStatus::SUCCESS);
        }
        assert_eq!(server.accepted.load(Ordering::SeqCst), 2, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn issued_client_certificates_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    certs::init(dir.path()).unwrap();
    certs::client(dir.path(), "alice").unwrap();
    let server = start(dir.path(), Mode::Serve).await;
    for kind in KINDS {
        let client = Client::new(kind, config(dir.path(), server.port, "alice"));
        let item = client.call(Operation::QUERY).await.unwrap();
        assert_eq!(item.result_status, ResultStatus::SUCCESS);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn server_name_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    certs::init(dir.path()).unwrap();
    let server = start(dir.path(), Mode::Serve).await;
    for kind in KINDS {
        let mut c = config(dir.path(), server.port, "client");
        c.server_name = Some("localhost".into());
        let ok = Client::new(kind, c.clone());
        assert!(ok.call(Operation::QUERY).await.is_ok());
        c.server_name = Some("kmip.example.com".into());
        let bad = Client::new(kind, c);
        let err = bad.call(Operation::QUERY).await.unwrap_err();
        assert!(err.to_string().contains("TLS handshake"), "{kind:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn untrusted_client_or_server_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    certs::init(dir.path()).unwrap();
    certs::init(other.path()).unwrap();
    let server = start(dir.path(), Mode::Serve).await;
    for kind in KINDS {
        // A client certificate from another CA: the server refuses it.
        let mut c = config(other.path(), server.port, "client");
        c.ca_certs = dir.path().join("ca.crt");
        let client = Client::new(kind, c);
        assert!(client.call(Operation::QUERY).await.is_err(), "{kind:?}");
        assert_eq!(server.accepted.load(Ordering::SeqCst), 0, "{kind:?}");
        // A server whose CA the client does not trust.
        let mut c = config(dir.path(), server.port, "client");
        c.ca_certs = other.path().join("ca.crt");
        let client = Client::new(kind, c);
        assert!(client.call(Operation::QUERY).await.is_err(), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_server_times_out() {
    let dir = tempfile::tempdir().unwrap();
    certs::init(dir.path()).unwrap();
    let server = start(dir.path(), Mode::Silent).await;
    for kind in KINDS {
        let mut c = config(dir.path(), server.port, "client");
        c.request_timeout = Duration::from_millis(300);
        let client = Client::new(kind, c);
        let err = client.call(Operation::QUERY).await.unwrap_err();
        assert!(
            matches!(err, KmipError::Timeout("request")),
            "{kind:?}: {err}"
        );
    }
}

/// A server that sends its answer a byte at a time (each byte well within the timeout)
/// cannot hold a call past the request timeout by much: both clients give up within twice
/// it, long before the ~10 s the whole answer would take.
#[tokio::test(flavor = "multi_thread")]
async fn trickling_server_times_out() {
    let dir = tempfile::tempdir().unwrap();
    certs::init(dir.path()).unwrap();
    let server = start(dir.path(), Mode::Trickle).await;
    for kind in KINDS {
        let mut c = config(dir.path(), server.port, "client");
        c.request_timeout = Duration::from_millis(400);
        let client = Client::new(kind, c);
        let t0 = std::time::Instant::now();
        let err = client.call(Operation::QUERY).await.unwrap_err();
        assert!(
            matches!(err, KmipError::Timeout("request")),
            "{kind:?}: {err}"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "{kind:?}: {:?}",
            t0.elapsed()
        );
    }
}

/// Nothing listens: the connect fails with an error naming where, for both clients.
#[tokio::test(flavor = "multi_thread")]
async fn refused_connection_names_the_address() {
    let dir = tempfile::tempdir().unwrap();
    certs::init(dir.path()).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for kind in KINDS {
        let client = Client::new(kind, config(dir.path(), port, "client"));
        let err = client.call(Operation::QUERY).await.unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("connecting to 127.0.0.1:{port}")),
            "{kind:?}: {err}"
        );
    }
}

#[test]
fn bad_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    certs::init(dir.path()).unwrap();
    let mut c = config(dir.path(), 1, "client");
    c.ca_certs = dir.path().join("missing.crt");
    let err = KmipClient::new(c).unwrap_err();
    assert!(err.to_string().contains("missing.crt"), "{err}");
    let mut c = config(dir.path(), 1, "client");
    c.keyfile = dir.path().join("ca.crt");
    assert!(matches!(KmipClient::new(c), Err(KmipError::Tls(_))));
}

#[test]
fn pykmip_conf() {
    let conf = "\
[server]
hostname=0.0.0.0

[client]
host=kmip.internal
port=5697
certfile=/etc/pykmip/certs/client.crt
keyfile=keys/client.key
ca_certs=/etc/pykmip/certs/ca.crt
cert_reqs=CERT_REQUIRED
ssl_version=PROTOCOL_SSLv23
do_handshake_on_connect=True
suppress_ragged_eofs=True
kmip_version=2.0
timeout=5
";
    let c = ClientConfig::from_pykmip_str(conf, "client", Path::new("/etc/pykmip"), "t").unwrap();
    assert_eq!(c.host, "kmip.internal");
    assert_eq!(c.port, 5697);
    assert_eq!(c.keyfile, Path::new("/etc/pykmip/keys/client.key"));
    assert_eq!(c.certfile, Path::new("/etc/pykmip/certs/client.crt"));
    assert_eq!(c.protocol_version, ProtocolVersion::V2_0);
    assert_eq!(c.request_timeout, Duration::from_secs(5));

    let err = ClientConfig::from_pykmip_str(conf, "nope", Path::new("."), "t").unwrap_err();
    assert_eq!(err.to_string(), "kmip config 't': no [nope] section");
    let missing = "[client]\nhost=x\n";
    let err = ClientConfig::from_pykmip_str(missing, "client", Path::new("."), "t").unwrap_err();
    assert!(err.to_string().contains("has no 'certfile'"), "{err}");
    let bad_port = conf.replace("port=5697", "port=70000");
    assert!(ClientConfig::from_pykmip_str(&bad_port, "client", Path::new("."), "t").is_err());
    let with_pw = format!("{conf}password=secret\n");
    let err = ClientConfig::from_pykmip_str(&with_pw, "client", Path::new("."), "t").unwrap_err();
    assert!(!err.to_string().contains("secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn response_too_large_is_refused() {
    // The client's limits apply to responses: a tiny max_message refuses a normal reply.
    let dir = tempfile::tempdir().unwrap();
    certs::init(dir.path()).unwrap();
    let server = start(dir.path(), Mode::Serve).await;
    for kind in KINDS {
        let mut c = config(dir.path(), server.port, "client");
        c.limits.max_message = 64;
        let client = Client::new(kind, c);
        let err = client.call(Operation::QUERY).await.unwrap_err();
        assert!(
            err.to_string().contains("exceeds the limit"),
            "{kind:?}: {err}"
        );
    }
}

/// A typed call reads the success payload into the response type and turns a failure into
/// `KmipError::Failed` with the reason's name.
#[test]
fn typed_response_reads_success_and_failure() {
    use crate::enums::ResultReason;
    use crate::payload::lifecycle::{DestroyRequest, DestroyResponse};
    use crate::tags::Tag;
    let ok = ResponseBatchItem::success(
        Operation::DESTROY,
        None,
        vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, "k1")],
    );
    assert_eq!(
        typed_response::<DestroyRequest>(&ok).expect("success"),
        DestroyResponse {
            unique_identifier: "k1".into()
        }
    );
    let failed = ResponseBatchItem::failure(
        Some(Operation::DESTROY),
        None,
        ResultReason::PERMISSION_DENIED,
        "object 'k1' is active",
    );
    match typed_response::<DestroyRequest>(&failed) {
        Err(KmipError::Failed {
            operation, reason, ..
        }) => {
            assert_eq!(operation, "Destroy");
            assert_eq!(reason, "PermissionDenied");
        }
        other => panic!("{other:?}"),
    }
    let empty = ResponseBatchItem::success(Operation::DESTROY, None, vec![]);
    assert!(matches!(
        typed_response::<DestroyRequest>(&empty),
        Err(KmipError::Payload(_))
    ));
}
