//! The HTTPS/JSON door (`--http-listen`, `POST /kmip/2_1`): the same store and operations as
//! the binary door, and it refuses what the binary door refuses (no or foreign client
//! certificate, another identity's object, too many batch items, messages over the limits).
//! A real server over mutual TLS; the HTTP requests are written by hand on a rustls stream.

mod common;

use std::sync::Arc;

use serde_json::{Value as J, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{Operation, ResultStatus};
use tresor_kmip::json::{from_json, to_json};
use tresor_kmip::server::{Server, ServerConfig};
use tresor_kmip::{Limits, ProtocolVersion, RequestMessage, ResponseMessage, Tag};

struct Http {
    _dir: tempfile::TempDir,
    certs: std::path::PathBuf,
    port: u16,
    http: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

async fn start(max_batch_items: usize) -> Http {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let f = tresor_kmip::certs::init(&certs).unwrap();
    tresor_kmip::certs::client(&certs, "bob").unwrap();
    let kek = Arc::new(tresor_crypto::LocalKek::generate().unwrap());
    let store = Arc::new(
        tresor_store::Store::open_sqlite(&dir.path().join("t.db"), kek, "server").unwrap(),
    );
    let mut config = ServerConfig::new(&f.server_cert, &f.server_key, &f.ca_cert);
    config.listen = "127.0.0.1:0".into();
    config.server_limits.max_batch_items = max_batch_items;
    let server = Server::bind(config, store)
        .await
        .unwrap()
        .with_http("127.0.0.1:0")
        .await
        .unwrap();
    let (port, http) = (
        server.local_addr().port(),
        server.http_local_addr().unwrap().port(),
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async {
        let _ = rx.await;
    }));
    Http {
        _dir: dir,
        certs,
        port,
        http,
        stop: Some(tx),
        task: Some(task),
    }
}

impl Http {
    fn config(&self, name: &str, ca_dir: &std::path::Path) -> ClientConfig {
        let mut c = ClientConfig::new(
            "127.0.0.1",
            ca_dir.join(format!("{name}.crt")),
            ca_dir.join(format!("{name}.key")),
            self.certs.join("ca.crt"),
        );
        c.server_name = Some("localhost".into());
        c.port = self.port;
        c
    }

    fn binary(&self, name: &str) -> KmipClient {
        let mut c = self.config(name, &self.certs);
        c.protocol_version = ProtocolVersion::V2_1;
        KmipClient::new(c).unwrap()
    }

    /// One HTTP/1.1 request as `name` (certificate from `dir`); returns (status, body), or
    /// the connection error.
    async fn request_from(
        &self,
        name: &str,
        dir: &std::path::Path,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let tls = self.config(name, dir).tls_config().unwrap();
        let conn = tokio_rustls::TlsConnector::from(Arc::new(tls));
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.http))
            .await
            .unwrap();
        let sn = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut s = conn.connect(sn, tcp).await.map_err(|e| e.to_string())?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(body).await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let status: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("no status line in {text:?}"))?;
        let body_at = text.find("\r\n\r\n").map_or(out.len(), |i| i + 4);
        Ok((status, out[body_at..].to_vec()))
    }

    async fn post(&self, name: &str, body: &[u8]) -> (u16, Vec<u8>) {
        self.request_from(name, &self.certs.clone(), "POST", "/kmip/2_1", body)
            .await
            .unwrap()
    }

    /// Posts a request message as JSON; returns the parsed response message.
    async fn message(&self, name: &str, msg: &RequestMessage) -> ResponseMessage {
        let (status, body) = self
            .post(name, to_json(&msg.to_ttlv()).to_string().as_bytes())
            .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let t = from_json(&body, &Limits::default()).unwrap();
        ResponseMessage::from_ttlv(&t).unwrap()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
    }
}

/// A Create request for an AES-256 key, as a KMIP 2.1 JSON client writes it.
const CREATE_JSON: &str = r#"{"tag":"RequestMessage","value":[
  {"tag":"RequestHeader","value":[
    {"tag":"ProtocolVersion","value":[
      {"tag":"ProtocolVersionMajor","type":"Integer","value":2},
      {"tag":"ProtocolVersionMinor","type":"Integer","value":1}]},
    {"tag":"BatchCount","type":"Integer","value":1}]},
  {"tag":"BatchItem","value":[
    {"tag":"Operation","type":"Enumeration","value":"Create"},
    {"tag":"RequestPayload","value":[
      {"tag":"ObjectType","type":"Enumeration","value":"SymmetricKey"},
      {"tag":"Attributes","value":[
        {"tag":"CryptographicAlgorithm","type":"Enumeration","value":"AES"},
        {"tag":"CryptographicLength","type":"Integer","value":256},
        {"tag":"CryptographicUsageMask","type":"Integer","value":"Encrypt|Decrypt"}]}]}]}]}"#;

fn uid_of(r: &ResponseMessage) -> String {
    let b = &r.batch_items[0];
    assert_eq!(b.result_status, ResultStatus::SUCCESS, "{b:?}");
    common::text(b, Tag::UNIQUE_IDENTIFIER)
}

fn get(u: &str) -> RequestMessage {
    RequestMessage::single(ProtocolVersion::V2_1, Operation::GET, vec![common::uid(u)])
}

/// One store, two doors: a key created over JSON is read over binary TTLV and the reverse,
/// with the same material; a bare payload (Cosmian's form) works too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_and_binary_doors_share_store_and_operations() {
    let h = start(64).await;
    let (status, body) = h.post("client", CREATE_JSON.as_bytes()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let t = from_json(&body, &Limits::default()).unwrap();
    let u = uid_of(&ResponseMessage::from_ttlv(&t).unwrap());

    let bin = h.binary("client");
    let item = bin
        .call(Operation::GET, vec![common::uid(&u)])
        .await
        .unwrap();
    common::ok(&item);
    let over_json = h.message("client", &get(&u)).await;
    common::ok(&over_json.batch_items[0]);
    assert_eq!(
        over_json.batch_items[0].payload, item.payload,
        "same Get answer"
    );

    // Created over binary, located and read over JSON.
    let item = bin
        .call(
            Operation::CREATE,
            from_json(CREATE_JSON.as_bytes(), &Limits::default())
                .ok()
                .and_then(|m| RequestMessage::from_ttlv(&m).ok())
                .map(|m| m.batch_items[0].payload_items().to_vec())
                .unwrap(),
        )
        .await
        .unwrap();
    let u2 = common::text(&item, Tag::UNIQUE_IDENTIFIER);
    let r = h.message("client", &get(&u2)).await;
    common::ok(&r.batch_items[0]);

    // Cosmian's form: the operation's payload, tagged with its name.
    let bare = json!({"tag": "Get", "value": [
        {"tag": "UniqueIdentifier", "type": "TextString", "value": u2}]});
    let (status, body) = h.post("client", bare.to_string().as_bytes()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: J = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["tag"], "GetResponse", "{v}");
    assert!(v.to_string().contains("KeyMaterial"), "{v}");
    let bare = json!({"tag": "Get", "value": [
        {"tag": "UniqueIdentifier", "type": "TextString", "value": "no-such-uid"}]});
    let (status, body) = h.post("client", bare.to_string().as_bytes()).await;
    assert_eq!(status, 422);
    let e: J = serde_json::from_slice(&body).unwrap();
    assert_eq!(e["result_reason"], "ObjectNotFound", "{e}");
    h.stop().await;
}

/// What the binary door refuses, the JSON door refuses the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_door_refuses_what_the_binary_door_refuses() {
    let h = start(2).await;
    let create =
        RequestMessage::from_ttlv(&from_json(CREATE_JSON.as_bytes(), &Limits::default()).unwrap())
            .unwrap();
    let u = uid_of(&h.message("client", &create).await);

    // Another identity's object: the same refusal on both doors.
    let bob_json = h.message("bob", &get(&u)).await.batch_items[0].clone();
    let bob_bin = h
        .binary("bob")
        .call(Operation::GET, vec![common::uid(&u)])
        .await
        .unwrap();
    assert_ne!(bob_json.result_status, ResultStatus::SUCCESS);
    assert_eq!(bob_json.result_status, bob_bin.result_status);
    assert_eq!(bob_json.result_reason, bob_bin.result_reason);
    assert_eq!(bob_json.result_message, bob_bin.result_message);

    // Over --max-batch-items: the same KMIP error on both doors.
    let mut msg = RequestMessage::single(ProtocolVersion::V2_1, Operation::QUERY, Vec::new());
    let item = msg.batch_items[0].clone();
    msg.batch_items = (0..3).map(|_| item.clone()).collect();
    msg.header.batch_count = 3;
    let json_r = h.message("client", &msg).await;
    let bin_r = ResponseMessage::from_ttlv(&h.binary("client").send(&msg.to_ttlv()).await.unwrap())
        .unwrap();
    assert_ne!(json_r.batch_items[0].result_status, ResultStatus::SUCCESS);
    assert_eq!(
        json_r.batch_items[0].result_reason,
        bin_r.batch_items[0].result_reason
    );
    assert_eq!(
        json_r.batch_items[0].result_message,
        bin_r.batch_items[0].result_message
    );

    // A client certificate from another CA: no TLS session, as on the binary door.
    let other = tempfile::tempdir().unwrap();
    tresor_kmip::certs::init(other.path()).unwrap();
    let r = h
        .request_from(
            "client",
            other.path(),
            "POST",
            "/kmip/2_1",
            CREATE_JSON.as_bytes(),
        )
        .await;
    assert!(r.is_err(), "a foreign client certificate was served: {r:?}");
    let r = h
        .binary_with_dir("client", other.path())
        .call(Operation::QUERY, Vec::new())
        .await;
    assert!(r.is_err());

    // Codec limits: a body over the message limit, nesting over the depth limit.
    let huge = vec![b' '; Limits::default().max_message + 1];
    let (status, body) = h.post("client", &huge).await;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    let mut deep = String::new();
    for _ in 0..40 {
        deep.push_str(r#"{"tag":"RequestMessage","value":["#);
    }
    deep.push_str(&"]}".repeat(40));
    let (status, body) = h.post("client", deep.as_bytes()).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("deeper"));
    let (status, body) = h.post("client", b"{\"tag\":").await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("not JSON"));

    // Only POST, only the KMIP paths.
    let (status, _) = h
        .request_from("client", &h.certs.clone(), "GET", "/kmip/2_1", b"")
        .await
        .unwrap();
    assert_eq!(status, 405);
    let (status, _) = h
        .request_from("client", &h.certs.clone(), "POST", "/admin", b"{}")
        .await
        .unwrap();
    assert_eq!(status, 404);
    h.stop().await;
}

impl Http {
    fn binary_with_dir(&self, name: &str, dir: &std::path::Path) -> KmipClient {
        KmipClient::new(self.config(name, dir)).unwrap()
    }
}

/// Cosmian's client extensions (`ckms`): `GET /version`; Create of Secret Data (KMIP 2.1
/// only); the `ExpectedObjectType` precondition of its Destroy, which destroys nothing when
/// the object has another type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosmian_client_extensions() {
    let h = start(64).await;
    let dir = h.certs.clone();
    let (status, body) = h
        .request_from("client", &dir, "GET", "/version", b"")
        .await
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: J = serde_json::from_slice(&body).unwrap();
    assert!(v.as_str().is_some_and(|s| s.starts_with("tresor ")), "{v}");
    // Only GET: a POST to /version is still a wrong path.
    let (status, _) = h
        .request_from("client", &dir, "POST", "/version", b"{}")
        .await
        .unwrap();
    assert_eq!(status, 404);

    // Create Secret Data, as `ckms secret-data create` sends it (a bare 2.1 payload).
    let create = json!({"tag": "Create", "value": [
        {"tag": "ObjectType", "type": "Enumeration", "value": "SecretData"},
        {"tag": "Attributes", "value": [
            {"tag": "CryptographicUsageMask", "type": "Integer", "value": 1051136},
            {"tag": "ObjectType", "type": "Enumeration", "value": "SecretData"}]}]});
    let (status, body) = h.post("client", create.to_string().as_bytes()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: J = serde_json::from_slice(&body).unwrap();
    let uid = v["value"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["tag"] == "UniqueIdentifier"))
        .and_then(|i| i["value"].as_str())
        .expect("a UniqueIdentifier")
        .to_owned();
    let got = h.message("client", &get(&uid)).await;
    common::ok(&got.batch_items[0]);
    let item = &got.batch_items[0];
    let secret = item
        .payload_items()
        .iter()
        .find(|i| i.tag == Tag::SECRET_DATA)
        .expect("a Secret Data object");
    assert_eq!(
        secret
            .find(Tag::SECRET_DATA_TYPE)
            .and_then(|t| t.as_enumeration()),
        Some(tresor_kmip::enums::SecretDataType::SEED.0)
    );
    let material = secret
        .find(Tag::KEY_BLOCK)
        .and_then(|b| b.find(Tag::KEY_VALUE))
        .and_then(|v| v.find(Tag::KEY_MATERIAL))
        .and_then(|m| m.as_bytes())
        .expect("key material bytes");
    assert_eq!(material.len(), 32);
    assert!(material.iter().any(|&b| b != 0));

    // KMIP 1.4 keeps Create for symmetric keys only.
    let old = RequestMessage::single(
        ProtocolVersion::V1_4,
        Operation::CREATE,
        vec![tresor_kmip::Ttlv::enumeration(
            Tag::OBJECT_TYPE,
            tresor_kmip::enums::ObjectType::SECRET_DATA.0,
        )],
    );
    let r = h.message("client", &old).await;
    assert_eq!(
        r.batch_items[0].result_status,
        ResultStatus::OPERATION_FAILED
    );

    // Destroy expecting another type destroys nothing; expecting Secret Data, it does.
    let destroy = |expected: &str| {
        json!({"tag": "Destroy", "value": [
            {"tag": "UniqueIdentifier", "type": "TextString", "value": uid},
            {"tag": "Cascade", "type": "Boolean", "value": true},
            {"tag": "ExpectedObjectType", "type": "Enumeration", "value": expected}]})
        .to_string()
    };
    // A precondition of the wrong type refuses the Destroy too (never skips the check).
    let unreadable = json!({"tag": "Destroy", "value": [
        {"tag": "UniqueIdentifier", "type": "TextString", "value": uid},
        {"tag": "ExpectedObjectType", "type": "TextString", "value": "SymmetricKey"}]});
    let (status, body) = h.post("client", unreadable.to_string().as_bytes()).await;
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&body));
    common::ok(&h.message("client", &get(&uid)).await.batch_items[0]);
    let (status, body) = h.post("client", destroy("SymmetricKey").as_bytes()).await;
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&body));
    let e: J = serde_json::from_slice(&body).unwrap();
    assert_eq!(e["result_reason"], "InvalidObjectType", "{e}");
    common::ok(&h.message("client", &get(&uid)).await.batch_items[0]);
    let (status, body) = h.post("client", destroy("SecretData").as_bytes()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let r = h.message("client", &get(&uid)).await;
    assert_eq!(
        r.batch_items[0].result_status,
        ResultStatus::OPERATION_FAILED
    );
    h.stop().await;
}
