//! What the PostgreSQL cluster tests share: PostgreSQL (the URL from the environment, fresh
//! databases, clusters of a test's own), `tresor kmip serve` processes, and a blocking KMIP
//! client with the payloads the tests send.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, KeyFormatType, NameType, ObjectType, Operation,
    ResultStatus, RevocationReasonCode,
};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::{KmipError, ProtocolVersion, Tag, Ttlv, Value};

use super::test_logs;

pub const V: ProtocolVersion = ProtocolVersion::V1_4;

// ---- PostgreSQL ---------------------------------------------------------------------------

pub fn skip_or_fail(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why} under CI: scripts/test.sh must provide PostgreSQL"
    );
    eprintln!("SKIPPED: {why}; run scripts/test.sh");
}

pub fn admin_url() -> Option<String> {
    match std::env::var("TRESOR_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            skip_or_fail("TRESOR_TEST_PG_URL is not set");
            None
        }
    }
}

pub fn fresh_db(admin: &str, tag: &str) -> String {
    let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("connect admin");
    let db = format!("tresor_cluster_{tag}_{}", std::process::id());
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    format!("{}/{db}", admin.rsplit_once('/').unwrap().0)
}

pub fn pg_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh")
}

/// A PostgreSQL cluster of this test's own (scripts/pg.sh), stopped and removed on drop.
pub struct Cluster {
    pub dir: String,
    pub url: String,
    pub ca: Option<String>,
}

impl Cluster {
    pub fn start(ssl: bool) -> Option<Cluster> {
        let mut cmd = Command::new("bash");
        cmd.arg(pg_script()).arg("start");
        if ssl {
            cmd.arg("--ssl");
        }
        let out = cmd.output().expect("run scripts/pg.sh");
        if !out.status.success() {
            skip_or_fail(&format!(
                "scripts/pg.sh start failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            return None;
        }
        let text = String::from_utf8(out.stdout).unwrap();
        let mut vars = BTreeMap::new();
        for part in text.split([';', '\n']) {
            if let Some((k, v)) = part
                .trim()
                .strip_prefix("export ")
                .and_then(|s| s.split_once('='))
            {
                vars.insert(k.to_owned(), v.to_owned());
            }
        }
        Some(Cluster {
            dir: vars["TRESOR_PG_DIR"].clone(),
            url: vars["TRESOR_TEST_PG_URL"].clone(),
            ca: vars.get("TRESOR_PG_CA").cloned(),
        })
    }

    pub fn port(&self) -> u16 {
        std::fs::read_to_string(Path::new(&self.dir).join("port"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    pub fn verb(&self, verb: &str) {
        let st = Command::new("bash")
            .arg(pg_script())
            .args([verb, &self.dir])
            .status()
            .expect("run scripts/pg.sh");
        assert!(st.success(), "scripts/pg.sh {verb} failed");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(pg_script())
            .args(["stop", &self.dir])
            .status();
    }
}

pub fn pg_dump_bin() -> Option<String> {
    if let Ok(b) = std::env::var("TRESOR_PG_BIN") {
        return Some(format!("{b}/pg_dump"));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin/pg_dump")))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().map(|p| p.display().to_string())
}

// ---- tresor processes ---------------------------------------------------------------------

pub fn tresor(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tresor"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1");
    c
}

pub fn run_ok(mut c: Command) -> String {
    let out = c.output().expect("run tresor");
    assert!(
        out.status.success(),
        "tresor failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `tresor kmip serve` child process; killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: Arc<Mutex<String>>,
}

impl Server {
    pub fn spawn(home: &Path, vault: &Path, url: &str, certs: &Path) -> Server {
        let mut child = tresor(home)
            .arg("--vault")
            .arg(vault)
            .args(["--store", url, "kmip", "serve", "--listen", "127.0.0.1:0"])
            .arg("--cert")
            .arg(certs.join("server.crt"))
            .arg("--key")
            .arg(certs.join("server.key"))
            .arg("--ca")
            .arg(certs.join("ca.crt"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tresor kmip serve");
        let stderr = test_logs::tee(child.stderr.take().unwrap());
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.rsplit(':').next().unwrap_or("").parse::<u16>());
                }
                let mut l = l.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Ok(p)) => p,
            other => {
                let _ = child.kill();
                panic!("server did not start ({other:?}): {}", log.lock().unwrap());
            }
        };
        Server { child, port, log }
    }

    pub fn kill9(&mut self) {
        // std's kill() is SIGKILL on Unix.
        self.child.kill().expect("SIGKILL the server");
        let _ = self.child.wait();
    }

    pub fn still_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A vault folder (key file, vault.json naming the store) and a copy of it: two machines
/// sharing one database, each with the same vault key.
pub fn two_vaults(home: &Path, url: &str) -> (PathBuf, PathBuf) {
    let a = home.join("vault-a");
    let b = home.join("vault-b");
    let mut init = tresor(home);
    init.arg("--vault")
        .arg(&a)
        .args(["--store", url, "init", "--user", "server@test"]);
    run_ok(init);
    std::fs::create_dir_all(&b).unwrap();
    for e in std::fs::read_dir(&a).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), b.join(e.file_name())).unwrap();
        }
    }
    (a, b)
}

pub fn certs(home: &Path) -> PathBuf {
    let dir = home.join("certs");
    let mut c = tresor(home);
    c.args(["kmip", "certs", "init"]).arg(&dir);
    run_ok(c);
    dir
}

// ---- a blocking KMIP client ---------------------------------------------------------------

/// tresor's KMIP client on a current-thread runtime, for plain test threads.
pub struct Kc {
    rt: tokio::runtime::Runtime,
    c: KmipClient,
}

impl Kc {
    pub fn new(certs: &Path, port: u16) -> Kc {
        let mut cfg = ClientConfig::new(
            "127.0.0.1",
            certs.join("client.crt"),
            certs.join("client.key"),
            certs.join("ca.crt"),
        );
        cfg.port = port;
        cfg.protocol_version = V;
        cfg.connect_timeout = Duration::from_secs(5);
        cfg.request_timeout = Duration::from_secs(20);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Kc {
            rt,
            c: KmipClient::new(cfg).expect("client"),
        }
    }

    pub fn call(&self, op: Operation, payload: Vec<Ttlv>) -> Result<ResponseBatchItem, KmipError> {
        self.rt.block_on(self.c.call(op, payload))
    }

    /// A call that must get a successful response.
    pub fn ok(&self, op: Operation, payload: Vec<Ttlv>) -> ResponseBatchItem {
        let item = self.call(op, payload).expect("transport");
        assert_eq!(
            item.result_status,
            ResultStatus::SUCCESS,
            "{op}: {:?} {:?}",
            item.result_reason,
            item.result_message
        );
        item
    }

    pub fn warm(&self) {
        self.ok(Operation::DISCOVER_VERSIONS, vec![]);
    }
}

pub fn uid(u: &str) -> Ttlv {
    Ttlv::text(Tag::UNIQUE_IDENTIFIER, u)
}

pub fn text_of(item: &ResponseBatchItem, tag: Tag) -> String {
    item.payload_items()
        .iter()
        .find(|t| t.tag == tag)
        .and_then(Ttlv::as_text)
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no {tag} in {item:?}"))
}

pub fn create_payload(name: &str) -> Vec<Ttlv> {
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
        Value::Integer(i32::try_from(mask.0).unwrap()),
    ));
    set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
        set.to_ttlv(V, Container::Template),
    ]
}

pub fn register_secret_payload(name: &str, secret: &[u8]) -> Vec<Ttlv> {
    let obj = Ttlv::structure(
        Tag::SECRET_DATA,
        vec![
            Ttlv::enumeration(Tag::SECRET_DATA_TYPE, 1u32),
            Ttlv::structure(
                Tag::KEY_BLOCK,
                vec![
                    Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, KeyFormatType::OPAQUE),
                    Ttlv::structure(
                        Tag::KEY_VALUE,
                        vec![Ttlv::bytes(Tag::KEY_MATERIAL, secret.to_vec())],
                    ),
                ],
            ),
        ],
    );
    let mut set = AttributeSet::default();
    set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SECRET_DATA),
        set.to_ttlv(V, Container::Template),
        obj,
    ]
}

pub fn locate_payload(name: &str) -> Vec<Ttlv> {
    vec![Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING).to_v1()]
}

pub fn located(item: &ResponseBatchItem) -> Vec<String> {
    item.payload_items()
        .iter()
        .filter(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
        .filter_map(|t| t.as_text().map(str::to_owned))
        .collect()
}

pub fn revoke_payload(u: &str) -> Vec<Ttlv> {
    vec![
        uid(u),
        Ttlv::structure(
            Tag::REVOCATION_REASON,
            vec![Ttlv::enumeration(
                Tag::REVOCATION_REASON_CODE,
                RevocationReasonCode::CESSATION_OF_OPERATION,
            )],
        ),
    ]
}

/// The store state name of a KMIP State enumeration.
pub fn state_name(e: u32) -> &'static str {
    use tresor_kmip::enums::State as K;
    match K(e) {
        K::PRE_ACTIVE => "PreActive",
        K::ACTIVE => "Active",
        K::DEACTIVATED => "Deactivated",
        K::COMPROMISED => "Compromised",
        K::DESTROYED => "Destroyed",
        _ => "DestroyedCompromised",
    }
}

pub fn kmip_state(kc: &Kc, u: &str) -> &'static str {
    let item = kc.ok(Operation::GET_ATTRIBUTES, vec![uid(u)]);
    let e = item
        .payload_items()
        .iter()
        .filter(|t| t.tag == Tag::ATTRIBUTE)
        .filter_map(|t| Attribute::from_v1(t).ok())
        .find(|a| a.name == tresor_kmip::AttributeName::Standard(Tag::STATE))
        .and_then(|a| match a.value {
            Value::Enumeration(e) => Some(e),
            _ => None,
        })
        .expect("state attribute");
    state_name(e)
}

/// Every byte string under `t` (key material wherever the key format puts it).
pub fn byte_strings(t: &Ttlv, out: &mut Vec<Vec<u8>>) {
    match &t.value {
        Value::ByteString(b) => out.push(b.clone()),
        Value::Structure(items) => items.iter().for_each(|i| byte_strings(i, out)),
        _ => {}
    }
}

/// Runs `a` and `b` at the same moment on two threads; returns both results.
pub fn race<A, B>(a: A, b: B) -> (ResponseBatchItem, ResponseBatchItem)
where
    A: FnOnce() -> ResponseBatchItem + Send,
    B: FnOnce() -> ResponseBatchItem + Send,
{
    let bar = Barrier::new(2);
    std::thread::scope(|s| {
        let ha = s.spawn(|| {
            bar.wait();
            a()
        });
        let hb = s.spawn(|| {
            bar.wait();
            b()
        });
        (ha.join().unwrap(), hb.join().unwrap())
    })
}

pub fn succeeded(i: &ResponseBatchItem) -> bool {
    i.result_status == ResultStatus::SUCCESS
}
