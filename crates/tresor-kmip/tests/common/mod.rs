//! The in-process KMIP server fixture shared by the integration tests (`server.rs`,
//! `threat_model.rs`): a fresh SQLite store and development CA in a temporary directory,
//! client certificates `client`, `alice` and `bob`, the server on 127.0.0.1:0 over mutual
//! TLS, and helpers to read responses.
#![allow(dead_code)]

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::ResultStatus;
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::server::{Server, ServerConfig};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv};

/// A running server with its store and certificates; [`Fixture::stop`] ends it.
pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub certs: std::path::PathBuf,
    pub port: u16,
    pub store: Arc<tresor_store::Store>,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: Option<tokio::task::JoinHandle<()>>,
}

/// Starts a server with a fresh store and CA, and certificates for `client`, `alice`, `bob`.
pub async fn start() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path().join("certs");
    let f = tresor_kmip::certs::init(&certs).expect("certs");
    for n in ["alice", "bob"] {
        tresor_kmip::certs::client(&certs, n).expect("client cert");
    }
    let kek = Arc::new(tresor_crypto::LocalKek::generate().expect("kek"));
    let store = Arc::new(
        tresor_store::Store::open_sqlite(&dir.path().join("t.db"), kek, "server").expect("store"),
    );
    let mut config = ServerConfig::new(&f.server_cert, &f.server_key, &f.ca_cert);
    config.listen = "127.0.0.1:0".into();
    let server = Server::bind(config, store.clone()).await.expect("bind");
    let port = server.local_addr().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async {
        let _ = rx.await;
    }));
    Fixture {
        _dir: dir,
        certs,
        port,
        store,
        stop: Some(tx),
        task: Some(task),
    }
}

impl Fixture {
    /// A client with certificate `name` speaking `version`.
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
        KmipClient::new(cfg).expect("client")
    }

    /// Sends one encoded request message as `name` over a fresh TLS connection and returns
    /// the raw bytes of the response message, exactly as they came off the wire.
    pub async fn raw_call(&self, name: &str, request: &Ttlv) -> Vec<u8> {
        let c = self.client(name, ProtocolVersion::V1_4);
        let tls = c.config().tls_config().expect("tls");
        let conn = tokio_rustls::TlsConnector::from(Arc::new(tls));
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("tcp");
        let server = rustls_pki_types::ServerName::try_from("localhost").expect("name");
        let mut s = conn.connect(server, tcp).await.expect("handshake");
        s.write_all(&request.encode()).await.expect("write");
        let mut head = [0u8; 8];
        s.read_exact(&mut head).await.expect("response header");
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.expect("response body");
        let mut out = head.to_vec();
        out.extend(body);
        out
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task");
        }
    }
}

/// A Unique Identifier item.
pub fn uid(u: &str) -> Ttlv {
    Ttlv::text(Tag::UNIQUE_IDENTIFIER, u)
}

/// Asserts a batch item succeeded.
pub fn ok(item: &ResponseBatchItem) {
    assert_eq!(
        item.result_status,
        ResultStatus::SUCCESS,
        "{:?}: {:?}",
        item.result_reason,
        item.result_message
    );
}

/// The text item `tag` of a response payload.
pub fn text(item: &ResponseBatchItem, tag: Tag) -> String {
    item.payload_items()
        .iter()
        .find(|t| t.tag == tag)
        .and_then(Ttlv::as_text)
        .unwrap_or_else(|| panic!("no {tag} in {:?}", item.payload_items()))
        .to_owned()
}

/// The byte-string item `tag` of a response payload.
pub fn bytes(item: &ResponseBatchItem, tag: Tag) -> Vec<u8> {
    item.payload_items()
        .iter()
        .find(|t| t.tag == tag)
        .and_then(Ttlv::as_bytes)
        .unwrap_or_else(|| panic!("no {tag}"))
        .to_vec()
}
