//! The vendor Read Names operation, attacked over mutual TLS on a real server with an audit
//! stream: an identity gets back only the values it may Get; a name it may not see answers
//! exactly as a name nobody holds (same reason, nothing else), a visible one it may not read
//! is Permission Denied (as Get says), Sensitive / non-extractable objects never leave in
//! clear, the request's bounds are refused before anything is read, and the audit stream
//! holds one line per name answered.
//!
//! `cargo test -p tresor-kmip --test threat_model_read_names`

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value as Json;
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{Operation, ResultReason, ResultStatus};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::ops::GRANTS_ATTR;
use tresor_kmip::server::{AuditLog, AuditReads, Server, ServerConfig};
use tresor_kmip::vendor::read_names::{
    MAX_NAMES, ReadNamesAnswer, ReadNamesRequest, ReadNamesResponse,
};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, vendor};

const SECRET: &[u8] = b"hunter2-the-secret-value";
const V: ProtocolVersion = ProtocolVersion::V1_4;

/// A server as `tresor kmip serve --audit-log FILE --audit-reads READS` runs it on a SQLite
/// vault (audit head beside the database).
struct Fixture {
    dir: tempfile::TempDir,
    port: u16,
    store: Arc<tresor_store::Store>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Fixture {
    async fn start(dir: tempfile::TempDir, kek: Arc<tresor_crypto::LocalKek>, reads: &str) -> Self {
        let certs = dir.path().join("certs");
        if !certs.exists() {
            let _ = tresor_kmip::certs::init(&certs).expect("certs");
            tresor_kmip::certs::client(&certs, "alice").expect("client cert");
            tresor_kmip::certs::client(&certs, "bob").expect("client cert");
        }
        let store = Arc::new(
            tresor_store::Store::open_sqlite(&dir.path().join("tresor.db"), kek, "server")
                .expect("store")
                .with_audit_head(Arc::new(tresor_store::FileHead::new(
                    dir.path().join(tresor_store::HEAD_FILE),
                ))),
        );
        // The tests register vault-shaped names (app:prod:API_KEY): open every app.
        tresor_kmip::apps::set(&store, "*", "*", true).expect("app policy");
        let mut config = ServerConfig::new(
            certs.join("server.crt"),
            certs.join("server.key"),
            certs.join("ca.crt"),
        );
        config.listen = "127.0.0.1:0".into();
        let log = AuditLog::open(
            &dir.path().join("audit.jsonl"),
            AuditReads::parse(reads).expect("reads"),
        )
        .expect("audit log");
        let server = Server::bind(config, store.clone())
            .await
            .expect("bind")
            .with_audit_log(log);
        let port = server.local_addr().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(async {
            let _ = rx.await;
        }));
        Fixture {
            dir,
            port,
            store,
            stop: Some(tx),
            task: Some(task),
        }
    }

    fn client(&self, name: &str) -> KmipClient {
        let c = self.dir.path().join("certs");
        let mut cfg = ClientConfig::new(
            "127.0.0.1",
            c.join(format!("{name}.crt")),
            c.join(format!("{name}.key")),
            c.join("ca.crt"),
        );
        cfg.server_name = Some("localhost".into());
        cfg.port = self.port;
        cfg.protocol_version = V;
        KmipClient::new(cfg).expect("client")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task");
        }
        self.dir
    }
}

fn ok(item: &ResponseBatchItem) {
    assert_eq!(
        item.result_status,
        ResultStatus::SUCCESS,
        "{:?}: {:?}",
        item.result_reason,
        item.result_message
    );
}

fn text(item: &ResponseBatchItem, tag: Tag) -> String {
    item.payload_items()
        .iter()
        .find(|t| t.tag == tag)
        .and_then(Ttlv::as_text)
        .expect("text field")
        .to_owned()
}

async fn register_secret(c: &KmipClient, name: &str) -> String {
    let r = c
        .call(
            Operation::REGISTER,
            tresor_testkit::kmip::register_secret_payload(name, SECRET),
        )
        .await
        .expect("register");
    ok(&r);
    text(&r, Tag::UNIQUE_IDENTIFIER)
}

/// Gives `identity` the permissions `perms` on `uid` (what `tresor kmip grant` writes).
fn grant(f: &Fixture, uid: &str, identity: &str, perms: &str) {
    f.store
        .write_as("admin", |tx| {
            tx.update(uid, "grant", |m| {
                m.attributes
                    .insert(GRANTS_ATTR.into(), serde_json::json!({ identity: perms }));
                Ok(())
            })?;
            Ok(())
        })
        .expect("grant");
}

fn set_attr(f: &Fixture, uid: &str, key: &str, v: Json) {
    f.store
        .write_as("admin", |tx| {
            tx.update(uid, "protect", |m| {
                m.attributes.insert(key.into(), v.clone());
                Ok(())
            })?;
            Ok(())
        })
        .expect("set attribute");
}

async fn read_names(c: &KmipClient, entries: &[(&str, u32)]) -> ResponseBatchItem {
    let req = ReadNamesRequest {
        entries: entries.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect(),
    };
    c.call(vendor::READ_NAMES, req.to_payload())
        .await
        .expect("read names")
}

fn answers(r: &ResponseBatchItem) -> Vec<ReadNamesAnswer> {
    ok(r);
    ReadNamesResponse::from_items(r.payload_items())
        .expect("response layout")
        .answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_names_returns_only_what_get_would_and_hides_what_get_hides() {
    let kek = Arc::new(tresor_crypto::LocalKek::generate().expect("kek"));
    let f = Fixture::start(tempfile::tempdir().expect("tmp"), kek, "read-names,get").await;
    let alice = f.client("alice");
    let bob = f.client("bob");
    let mine = register_secret(&bob, "bob:dev:OWN").await;
    let hidden = register_secret(&alice, "alice:prod:NO_GRANT").await;
    let visible = register_secret(&alice, "alice:prod:LOCATE_ONLY").await;
    let shared = register_secret(&alice, "alice:prod:SHARED").await;
    let sensitive = register_secret(&alice, "alice:prod:SENSITIVE").await;
    let sealed = register_secret(&alice, "alice:prod:NOT_EXTRACTABLE").await;
    grant(&f, &visible, "bob", "locate");
    grant(&f, &shared, "bob", "get,locate");
    grant(&f, &sensitive, "bob", "get,locate");
    grant(&f, &sealed, "bob", "get,locate");
    set_attr(&f, &sensitive, "Sensitive", Json::Bool(true));
    set_attr(&f, &sealed, "Extractable", Json::Bool(false));

    let r = read_names(
        &bob,
        &[
            ("bob:dev:OWN", 0),
            ("alice:prod:NO_GRANT", 0),
            ("alice:prod:NOBODY_HAS_THIS", 0),
            ("alice:prod:LOCATE_ONLY", 0),
            ("alice:prod:SHARED", 0),
            ("alice:prod:SHARED", 1),
            ("alice:prod:SHARED", 7),
            ("alice:prod:SENSITIVE", 0),
            ("alice:prod:NOT_EXTRACTABLE", 0),
        ],
    )
    .await;
    let a = answers(&r);
    let value = |i: usize| match &a[i] {
        ReadNamesAnswer::Value { uid, value } => Some((uid.clone(), value.expose().to_vec())),
        ReadNamesAnswer::Refused(_) => None,
    };
    let reason = |i: usize| match &a[i] {
        ReadNamesAnswer::Refused(r) => Some(*r),
        ReadNamesAnswer::Value { .. } => None,
    };
    assert_eq!(
        value(0),
        Some((mine.clone(), SECRET.to_vec())),
        "{:?}",
        reason(0)
    );
    // No grant at all: exactly the answer for a name nobody holds.
    assert_eq!(reason(1), Some(ResultReason::ITEM_NOT_FOUND));
    assert_eq!(reason(2), Some(ResultReason::ITEM_NOT_FOUND));
    // And exactly Get's answer for that object's uid.
    let g = bob
        .call(
            Operation::GET,
            vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, hidden.clone())],
        )
        .await
        .expect("get");
    assert_eq!(g.result_reason, Some(ResultReason::ITEM_NOT_FOUND));
    // Visible (a locate grant) but not readable: Permission Denied, as Get says.
    assert_eq!(reason(3), Some(ResultReason::PERMISSION_DENIED));
    let g = bob
        .call(
            Operation::GET,
            vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, visible.clone())],
        )
        .await
        .expect("get");
    assert_eq!(g.result_reason, Some(ResultReason::PERMISSION_DENIED));
    assert_eq!(value(4), Some((shared.clone(), SECRET.to_vec())));
    assert_eq!(value(5), Some((shared.clone(), SECRET.to_vec())));
    assert_eq!(reason(6), Some(ResultReason::KEY_VALUE_NOT_PRESENT));
    // Sensitive and non-extractable never leave in clear (Get's reasons in 1.4).
    assert_eq!(reason(7), Some(ResultReason::PERMISSION_DENIED));
    assert_eq!(reason(8), Some(ResultReason::NOT_EXTRACTABLE));
    // Nothing but the answers: no uid, name or message of a refused name in the payload.
    let dump = format!("{:?}", r.payload_items());
    for u in [&hidden, &visible, &sensitive, &sealed] {
        assert!(!dump.contains(u.as_str()), "{u} leaked: {dump}");
    }
    assert!(
        r.result_message.is_none()
            || !r
                .result_message
                .as_deref()
                .unwrap_or("")
                .contains("NO_GRANT")
    );

    // Bounds: refused whole, before anything is read.
    let names: Vec<String> = (0..=MAX_NAMES).map(|i| format!("a:b:K{i}")).collect();
    let too_many: Vec<(&str, u32)> = names.iter().map(|n| (n.as_str(), 0)).collect();
    let r = read_names(&bob, &too_many).await;
    assert_eq!(r.result_status, ResultStatus::OPERATION_FAILED);
    assert_eq!(r.result_reason, Some(ResultReason::INVALID_FIELD));
    assert!(
        r.result_message
            .as_deref()
            .unwrap_or("")
            .contains("more than 4000 names"),
        "{:?}",
        r.result_message
    );
    let r = bob
        .call(vendor::READ_NAMES, vec![Ttlv::integer(vendor::VERSION, 2)])
        .await
        .expect("call");
    assert_eq!(r.result_reason, Some(ResultReason::INVALID_FIELD));
    let r = bob
        .call(
            vendor::READ_NAMES,
            vec![
                Ttlv::text(vendor::NAME, "x".to_owned()),
                Ttlv::integer(vendor::VERSION, 0),
            ],
        )
        .await
        .expect("call");
    assert_eq!(r.result_reason, Some(ResultReason::INVALID_FIELD));
    let r = bob.call(vendor::READ_NAMES, vec![]).await.expect("call");
    assert_eq!(r.result_reason, Some(ResultReason::MISSING_DATA));

    // The audit stream: one line per name answered, the secret never in it.
    let path = f.log_path();
    let dir = f.stop().await;
    let log = std::fs::read_to_string(&path).expect("audit log");
    assert!(!log.contains("hunter2"), "{log}");
    let rn: Vec<Json> = log
        .lines()
        .map(|l| serde_json::from_str::<Json>(l).expect("json line"))
        .filter(|l| l["op"] == "ReadNames" && l["identity"] == "bob")
        .collect();
    // The four refused requests leave one line each (no uid), the answered one nine.
    let whole: Vec<&Json> = rn
        .iter()
        .filter(|l| l["reason"] == "InvalidField" || l["reason"] == "MissingData")
        .collect();
    assert_eq!(whole.len(), 4, "{rn:#?}");
    assert!(whole.iter().all(|l| l["uid"].is_null()), "{whole:#?}");
    let rn: Vec<Json> = rn
        .into_iter()
        .filter(|l| l["reason"] != "InvalidField" && l["reason"] != "MissingData")
        .collect();
    assert_eq!(rn.len(), 9, "{rn:#?}");
    let ok_uids: Vec<&str> = rn
        .iter()
        .filter(|l| l["result"] == "success")
        .filter_map(|l| l["uid"].as_str())
        .collect();
    assert_eq!(ok_uids, [mine.as_str(), shared.as_str(), shared.as_str()]);
    let refused: Vec<&str> = rn
        .iter()
        .filter(|l| l["result"] == "failure")
        .filter_map(|l| l["reason"].as_str())
        .collect();
    assert_eq!(refused.len(), 6, "{rn:#?}");
    assert!(
        refused.contains(&"PermissionDenied") && refused.contains(&"ItemNotFound"),
        "{refused:?}"
    );
    drop(dir);
}
