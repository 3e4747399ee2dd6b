//! Reads are audited: a real server over mutual TLS with an audit stream (`--audit-log`).
//! Get, Decrypt, Versions by a client leave a line naming identity, operation, object and
//! result; a refused Get leaves one too; the secret never reaches the file; `--audit-reads
//! none` leaves no read line; the stream's head lets `verify_audit_with` catch a database
//! rolled back under the server.
//!
//! `cargo test -p tresor-kmip --test threat_model_audit`

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value as Json;
use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{
    BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, ObjectType, Operation,
    ResultStatus,
};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::server::{AuditLog, AuditReads, Server, ServerConfig};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value, vendor};

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

fn lines(path: &Path) -> Vec<Json> {
    std::fs::read_to_string(path)
        .expect("audit log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
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

fn bytes(item: &ResponseBatchItem, tag: Tag) -> Vec<u8> {
    item.payload_items()
        .iter()
        .find(|t| t.tag == tag)
        .and_then(Ttlv::as_bytes)
        .expect("bytes field")
        .to_vec()
}

fn uid(u: &str) -> Ttlv {
    Ttlv::text(Tag::UNIQUE_IDENTIFIER, u)
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

async fn aes_key(c: &KmipClient) -> String {
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
    let r = c
        .call(
            Operation::CREATE,
            vec![
                Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
                set.to_ttlv(V, Container::Template),
            ],
        )
        .await
        .expect("create");
    ok(&r);
    let u = text(&r, Tag::UNIQUE_IDENTIFIER);
    ok(&c
        .call(Operation::ACTIVATE, vec![uid(&u)])
        .await
        .expect("activate"));
    u
}

fn find<'a>(log: &'a [Json], identity: &str, op: &str, uid: &str) -> Vec<&'a Json> {
    log.iter()
        .filter(|l| l["identity"] == identity && l["op"] == op && l["uid"] == uid)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_leave_a_line_each_and_never_the_secret() {
    let kek = Arc::new(tresor_crypto::LocalKek::generate().expect("kek"));
    let f = Fixture::start(
        tempfile::tempdir().expect("tempdir"),
        kek,
        "get,versions,encrypt,decrypt,sign,mac,mac-verify",
    )
    .await;
    let alice = f.client("alice");
    let bob = f.client("bob");

    let secret = register_secret(&alice, "app:prod:DB_PASSWORD").await;
    let got = alice
        .call(Operation::GET, vec![uid(&secret)])
        .await
        .expect("get");
    ok(&got);
    let refused = bob
        .call(Operation::GET, vec![uid(&secret)])
        .await
        .expect("get");
    assert_eq!(refused.result_status, ResultStatus::OPERATION_FAILED);
    let refused_reason = refused.result_reason.expect("a reason").to_string();
    let versions = alice
        .call(
            vendor::VERSIONS,
            vec![uid(&secret), Ttlv::integer(vendor::VERSION, 1)],
        )
        .await
        .expect("versions");
    ok(&versions);
    assert_eq!(
        bytes(&versions, vendor::VALUE),
        SECRET,
        "the value was served"
    );

    let key = aes_key(&alice).await;
    let cp = Ttlv::structure(
        Tag::CRYPTOGRAPHIC_PARAMETERS,
        vec![Ttlv::enumeration(
            Tag::BLOCK_CIPHER_MODE,
            BlockCipherMode::GCM,
        )],
    );
    let e = alice
        .call(
            Operation::ENCRYPT,
            vec![
                uid(&key),
                cp.clone(),
                Ttlv::bytes(Tag::DATA, SECRET.to_vec()),
            ],
        )
        .await
        .expect("encrypt");
    ok(&e);
    let d = alice
        .call(
            Operation::DECRYPT,
            vec![
                uid(&key),
                cp,
                Ttlv::bytes(Tag::DATA, bytes(&e, Tag::DATA)),
                Ttlv::bytes(Tag::IV_COUNTER_NONCE, bytes(&e, Tag::IV_COUNTER_NONCE)),
                Ttlv::bytes(
                    Tag::AUTHENTICATED_ENCRYPTION_TAG,
                    bytes(&e, Tag::AUTHENTICATED_ENCRYPTION_TAG),
                ),
            ],
        )
        .await
        .expect("decrypt");
    ok(&d);
    assert_eq!(bytes(&d, Tag::DATA), SECRET);
    let store = f.store.clone();
    let path = f.log_path();
    let _dir = f.stop().await;

    let log = lines(&path);
    let get = find(&log, "alice", "Get", &secret);
    assert_eq!(get.len(), 1, "{log:#?}");
    assert_eq!(get[0]["result"], "success");
    assert_eq!(get[0]["kind"], "read");
    assert!(get[0]["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(get[0].get("head").is_none(), "a read adds no commit");

    let denied = find(&log, "bob", "Get", &secret);
    assert_eq!(denied.len(), 1, "{log:#?}");
    assert_eq!(denied[0]["result"], "failure");
    assert_eq!(denied[0]["reason"], refused_reason.as_str());
    assert!(denied[0].get("head").is_none());

    assert_eq!(find(&log, "alice", "Versions", &secret).len(), 1);
    assert_eq!(find(&log, "alice", "Encrypt", &key).len(), 1);
    assert_eq!(find(&log, "alice", "Decrypt", &key)[0]["result"], "success");

    // Writes carry the chain seq and the store's audit head after them.
    let reg = find(&log, "alice", "Register", &secret);
    assert_eq!(reg[0]["kind"], "write");
    let seq = reg[0]["seq"].as_u64().expect("seq");
    assert_eq!(reg[0]["head"]["seq"].as_u64(), Some(seq));
    let entry = store.audit(seq - 1, 1).expect("audit");
    assert_eq!(reg[0]["head"]["entry"], entry[0].mac.as_str());

    // The secret leaves no trace, in any spelling.
    let raw = std::fs::read(&path).expect("log");
    let hex = tresor_crypto::hash::hex(SECRET);
    for needle in [
        SECRET.to_vec(),
        hex.as_bytes().to_vec(),
        hex.to_uppercase().into_bytes(),
    ] {
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle.as_slice()),
            "the audit log holds the secret"
        );
    }
    // The stream checks the database: it reaches the stream's last head.
    let report = store.verify_audit_with(Some(&raw)).expect("verify");
    assert!(report.is_ok(), "{report:?}");
    assert!(report.head.is_some());
    assert_eq!(
        std::fs::metadata(&path)
            .map(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.permissions().mode() & 0o777
            })
            .ok(),
        Some(0o600)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_reads_none_logs_writes_only() {
    let kek = Arc::new(tresor_crypto::LocalKek::generate().expect("kek"));
    let f = Fixture::start(tempfile::tempdir().expect("tempdir"), kek, "none").await;
    let alice = f.client("alice");
    let secret = register_secret(&alice, "app:prod:API_KEY").await;
    ok(&alice
        .call(Operation::GET, vec![uid(&secret)])
        .await
        .expect("get"));
    ok(&alice
        .call(
            vendor::VERSIONS,
            vec![uid(&secret), Ttlv::integer(vendor::VERSION, 1)],
        )
        .await
        .expect("versions"));
    let path = f.log_path();
    let _dir = f.stop().await;
    let log = lines(&path);
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0]["op"], "Register");
    assert!(log.iter().all(|l| l["kind"] == "write"));
}

/// The server's database rolled back under it (an older copy put back while the server is
/// down, the vault's head file lost with the machine): the stream kept elsewhere still shows
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_head_catches_a_database_rollback() {
    let kek = Arc::new(tresor_crypto::LocalKek::generate().expect("kek"));
    let f = Fixture::start(tempfile::tempdir().expect("tempdir"), kek.clone(), "get").await;
    let alice = f.client("alice");
    register_secret(&alice, "app:prod:ONE").await;
    let db = f.dir.path().join("tresor.db");
    let aside = f.dir.path().join("aside.db");
    // A consistent copy of the live database (as a backup tool takes it).
    {
        use tresor_store::Backend as _;
        let copy = tresor_store::SqliteBackend::open(&aside).expect("copy");
        copy.replace_all(&f.store.dump().expect("dump"))
            .expect("write copy");
    }
    register_secret(&alice, "app:prod:TWO").await;
    register_secret(&alice, "app:prod:THREE").await;
    let path = f.log_path();
    let dir = f.stop().await;
    let stream = std::fs::read(&path).expect("log");

    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
        let _ = std::fs::remove_file(format!("{}{ext}", aside.display()));
    }
    std::fs::copy(&aside, &db).expect("put the old copy back");
    let store = tresor_store::Store::open_sqlite(&db, kek, "auditor").expect("store");
    let report = store.verify_audit_with(Some(&stream)).expect("verify");
    assert_eq!(report.first_bad, None);
    let (head, end) = report.missing_tail.expect("missing tail reported");
    assert!(head > end, "{report:?}");
    drop(dir);
}
