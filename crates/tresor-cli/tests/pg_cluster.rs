//! Several `tresor kmip serve` processes (the real binary) on one PostgreSQL database, a
//! PostgreSQL restart under load, and TLS / password sources for the PostgreSQL connection.
//!
//! `two_servers_one_database` needs `TRESOR_TEST_PG_URL` (scripts/test.sh starts a throw-away
//! server); the restart and TLS tests start their own cluster with scripts/pg.sh. Without
//! PostgreSQL they fail under `CI=true` and are skipped, loudly, elsewhere.

#[path = "common/test_logs.rs"]
mod test_logs;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, KeyFormatType, NameType, ObjectType, Operation,
    ResultReason, ResultStatus, RevocationReasonCode,
};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::{KmipError, ProtocolVersion, Tag, Ttlv, Value};

const V: ProtocolVersion = ProtocolVersion::V1_4;

// ---- PostgreSQL ---------------------------------------------------------------------------

fn skip_or_fail(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why} under CI: scripts/test.sh must provide PostgreSQL"
    );
    eprintln!("SKIPPED: {why}; run scripts/test.sh");
}

fn admin_url() -> Option<String> {
    match std::env::var("TRESOR_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            skip_or_fail("TRESOR_TEST_PG_URL is not set");
            None
        }
    }
}

fn fresh_db(admin: &str, tag: &str) -> String {
    let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("connect admin");
    let db = format!("tresor_cluster_{tag}_{}", std::process::id());
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    format!("{}/{db}", admin.rsplit_once('/').unwrap().0)
}

fn pg_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh")
}

/// A PostgreSQL cluster of this test's own (scripts/pg.sh), stopped and removed on drop.
struct Cluster {
    dir: String,
    url: String,
    ca: Option<String>,
}

impl Cluster {
    fn start(ssl: bool) -> Option<Cluster> {
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

    fn port(&self) -> u16 {
        std::fs::read_to_string(Path::new(&self.dir).join("port"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    fn verb(&self, verb: &str) {
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

fn pg_dump_bin() -> Option<String> {
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

fn tresor(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tresor"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1");
    c
}

fn run_ok(mut c: Command) -> String {
    let out = c.output().expect("run tresor");
    assert!(
        out.status.success(),
        "tresor failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `tresor kmip serve` child process; killed on drop.
struct Server {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn spawn(home: &Path, vault: &Path, url: &str, certs: &Path) -> Server {
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

    fn kill9(&mut self) {
        // std's kill() is SIGKILL on Unix.
        self.child.kill().expect("SIGKILL the server");
        let _ = self.child.wait();
    }

    fn still_running(&mut self) -> bool {
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
fn two_vaults(home: &Path, url: &str) -> (PathBuf, PathBuf) {
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

fn certs(home: &Path) -> PathBuf {
    let dir = home.join("certs");
    let mut c = tresor(home);
    c.args(["kmip", "certs", "init"]).arg(&dir);
    run_ok(c);
    dir
}

// ---- a blocking KMIP client ---------------------------------------------------------------

/// tresor's KMIP client on a current-thread runtime, for plain test threads.
struct Kc {
    rt: tokio::runtime::Runtime,
    c: KmipClient,
}

impl Kc {
    fn new(certs: &Path, port: u16) -> Kc {
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

    fn call(&self, op: Operation, payload: Vec<Ttlv>) -> Result<ResponseBatchItem, KmipError> {
        self.rt.block_on(self.c.call(op, payload))
    }

    /// A call that must get a successful response.
    fn ok(&self, op: Operation, payload: Vec<Ttlv>) -> ResponseBatchItem {
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

    fn warm(&self) {
        self.ok(Operation::DISCOVER_VERSIONS, vec![]);
    }
}

fn uid(u: &str) -> Ttlv {
    Ttlv::text(Tag::UNIQUE_IDENTIFIER, u)
}

fn text_of(item: &ResponseBatchItem, tag: Tag) -> String {
    item.payload_items()
        .iter()
        .find(|t| t.tag == tag)
        .and_then(Ttlv::as_text)
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no {tag} in {item:?}"))
}

fn create_payload(name: &str) -> Vec<Ttlv> {
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

fn register_secret_payload(name: &str, secret: &[u8]) -> Vec<Ttlv> {
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

fn locate_payload(name: &str) -> Vec<Ttlv> {
    vec![Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING).to_v1()]
}

fn located(item: &ResponseBatchItem) -> Vec<String> {
    item.payload_items()
        .iter()
        .filter(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
        .filter_map(|t| t.as_text().map(str::to_owned))
        .collect()
}

fn revoke_payload(u: &str) -> Vec<Ttlv> {
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
fn state_name(e: u32) -> &'static str {
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

fn kmip_state(kc: &Kc, u: &str) -> &'static str {
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
fn byte_strings(t: &Ttlv, out: &mut Vec<Vec<u8>>) {
    match &t.value {
        Value::ByteString(b) => out.push(b.clone()),
        Value::Structure(items) => items.iter().for_each(|i| byte_strings(i, out)),
        _ => {}
    }
}

/// Runs `a` and `b` at the same moment on two threads; returns both results.
fn race<A, B>(a: A, b: B) -> (ResponseBatchItem, ResponseBatchItem)
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

fn succeeded(i: &ResponseBatchItem) -> bool {
    i.result_status == ResultStatus::SUCCESS
}

// ---- the workload -------------------------------------------------------------------------

/// What one client knows about one object of the workload.
#[derive(Clone, Debug)]
struct Record {
    name: String,
    uid: Option<String>,
    /// The last state a success response confirmed (None: the Create was not acknowledged).
    acked: Option<&'static str>,
    /// The state an unanswered request (server killed) may have reached.
    pending: Option<&'static str>,
}

fn target_states(i: usize) -> &'static [(Operation, &'static str)] {
    match i % 4 {
        0 => &[],
        1 => &[(Operation::ACTIVATE, "Active")],
        2 => &[
            (Operation::ACTIVATE, "Active"),
            (Operation::REVOKE, "Deactivated"),
        ],
        _ => &[
            (Operation::ACTIVATE, "Active"),
            (Operation::REVOKE, "Deactivated"),
            (Operation::DESTROY, "Destroyed"),
        ],
    }
}

/// One client thread: `n` objects named `w{t}-{i}`, created, located and moved through
/// their lifecycle; on a transport error (its server killed) it records what is uncertain
/// and moves to `fallback`.
fn worker(
    t: usize,
    n: usize,
    certs: &Path,
    port: u16,
    fallback: u16,
    progress: &AtomicUsize,
) -> Vec<Record> {
    let mut kc = Kc::new(certs, port);
    let mut out = Vec::with_capacity(n);
    let mut switched = false;
    for i in 0..n {
        let name = format!("w{t}-{i}");
        let mut rec = Record {
            name: name.clone(),
            uid: None,
            acked: None,
            pending: None,
        };
        let mut lost = false;
        match kc.call(Operation::CREATE, create_payload(&name)) {
            Ok(item) => {
                assert!(succeeded(&item), "create {name}: {item:?}");
                let u = text_of(&item, Tag::UNIQUE_IDENTIFIER);
                rec.uid = Some(u.clone());
                rec.acked = Some("PreActive");
                match kc.call(Operation::LOCATE, locate_payload(&name)) {
                    Ok(item) => {
                        assert!(succeeded(&item), "locate {name}: {item:?}");
                        assert_eq!(located(&item), vec![u.clone()], "locate {name}");
                    }
                    Err(_) => lost = true,
                }
                if !lost {
                    for (op, to) in target_states(i) {
                        let payload = if *op == Operation::REVOKE {
                            revoke_payload(&u)
                        } else {
                            vec![uid(&u)]
                        };
                        match kc.call(*op, payload) {
                            Ok(item) => {
                                assert!(succeeded(&item), "{op} {name}: {item:?}");
                                rec.acked = Some(to);
                            }
                            Err(_) => {
                                rec.pending = Some(to);
                                lost = true;
                                break;
                            }
                        }
                    }
                }
            }
            Err(_) => {
                rec.pending = Some("PreActive");
                lost = true;
            }
        }
        out.push(rec);
        progress.fetch_add(1, Ordering::SeqCst);
        if lost {
            assert!(!switched, "thread {t}: the fallback server failed too");
            switched = true;
            kc = Kc::new(certs, fallback);
        }
    }
    out
}

#[test]
fn two_servers_one_database() {
    let Some(admin) = admin_url() else { return };
    let url = fresh_db(&admin, "two");
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let certs = certs(h);
    let (va, vb) = two_vaults(h, &url);
    let s1 = Server::spawn(h, &va, &url, &certs);
    let mut s2 = Server::spawn(h, &vb, &url, &certs);
    let (p1, p2) = (s1.port, s2.port);
    let (k1, k2) = (Kc::new(&certs, p1), Kc::new(&certs, p2));
    k1.warm();
    k2.warm();
    let mut secrets: Vec<Vec<u8>> = Vec::new();

    // 1. Same-name Register on both servers at once. KMIP does not require Name values to be
    //    unique: tresor gives the store name (what `tresor list` and the vault use, unique in
    //    the store) to the first object and keeps only the Name attribute on a later one. In
    //    a race the later one is either refused ('name taken', when its operation saw the name
    //    appear mid-request) or registered without the store name (when it saw it at once or
    //    lost at commit and was run again). Either way: exactly one holder of the store name,
    //    every acknowledged object present with its own bytes, nothing else stored.
    let mut pgc = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let mut outcomes = [0usize; 2];
    for k in 0..25 {
        let name = format!("race-{k}");
        let (a, b) = (
            format!("race-secret-A-{k}-7c1e9a0b").into_bytes(),
            format!("race-secret-B-{k}-3f5d2e8c").into_bytes(),
        );
        secrets.push(a.clone());
        secrets.push(b.clone());
        let (ra, rb) = race(
            || {
                k1.call(Operation::REGISTER, register_secret_payload(&name, &a))
                    .expect("transport")
            },
            || {
                k2.call(Operation::REGISTER, register_secret_payload(&name, &b))
                    .expect("transport")
            },
        );
        // Each acknowledged Register is one stored object with its own bytes; a refused one
        // left nothing behind.
        let mut acked = Vec::new();
        for (r, bytes) in [(&ra, &a), (&rb, &b)] {
            if succeeded(r) {
                acked.push((text_of(r, Tag::UNIQUE_IDENTIFIER), bytes));
            } else {
                assert_eq!(
                    r.result_reason,
                    Some(ResultReason::ILLEGAL_OPERATION),
                    "{r:?}"
                );
                assert!(
                    r.result_message.as_deref().unwrap_or("").contains("taken"),
                    "{r:?}"
                );
            }
        }
        assert!(!acked.is_empty(), "{name}: neither register succeeded");
        outcomes[acked.len() - 1] += 1;
        let holders: Vec<String> = pgc
            .query("SELECT uid FROM names WHERE name = $1", &[&name])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(holders.len(), 1, "{name}: store name holders {holders:?}");
        assert!(acked.iter().any(|(u, _)| *u == holders[0]), "{name}");
        // Nothing but the acknowledged objects: one create entry and one Name each.
        let creates: i64 = pgc
            .query_one(
                "SELECT count(*) FROM audit WHERE action = 'create' AND detail LIKE 'SecretData%' \
                 AND uid IN (SELECT uid FROM attr_index WHERE attr = 'Name' AND value = $1)",
                &[&name],
            )
            .unwrap()
            .get(0);
        let carriers: i64 = pgc
            .query_one(
                "SELECT count(*) FROM attr_index WHERE attr = 'Name' AND value = $1",
                &[&name],
            )
            .unwrap()
            .get(0);
        assert_eq!(
            (creates, carriers),
            (acked.len() as i64, acked.len() as i64)
        );
        for kc in [&k1, &k2] {
            let mut found = located(&kc.ok(Operation::LOCATE, locate_payload(&name)));
            found.sort();
            let mut want: Vec<String> = acked.iter().map(|(u, _)| u.clone()).collect();
            want.sort();
            assert_eq!(found, want, "{name}: Locate by Name");
            for (u, bytes) in &acked {
                let got = kc.ok(Operation::GET, vec![uid(u)]);
                let mut material = Vec::new();
                byte_strings(got.payload.as_ref().unwrap(), &mut material);
                assert!(
                    material.contains(bytes),
                    "{name}: each object keeps its bytes"
                );
            }
        }
    }
    eprintln!(
        "register races: {} with one refused ('name taken'), {} with both registered",
        outcomes[0], outcomes[1]
    );

    // 2. Activate (server 1) against Destroy (server 2) on the same pre-active object, and
    //    Destroy against Destroy: one wins, the state machine holds.
    for k in 0..20 {
        let u = text_of(
            &k1.ok(Operation::CREATE, create_payload(&format!("ad-{k}"))),
            Tag::UNIQUE_IDENTIFIER,
        );
        let (act, des) = race(
            || {
                k1.call(Operation::ACTIVATE, vec![uid(&u)])
                    .expect("transport")
            },
            || {
                k2.call(Operation::DESTROY, vec![uid(&u)])
                    .expect("transport")
            },
        );
        assert!(
            succeeded(&act) ^ succeeded(&des),
            "ad-{k}: activate {act:?} / destroy {des:?}"
        );
        let want = if succeeded(&act) {
            "Active"
        } else {
            "Destroyed"
        };
        assert_eq!(kmip_state(&k1, &u), want);
        assert_eq!(kmip_state(&k2, &u), want);

        let u = text_of(
            &k2.ok(Operation::CREATE, create_payload(&format!("dd-{k}"))),
            Tag::UNIQUE_IDENTIFIER,
        );
        let (d1, d2) = race(
            || {
                k1.call(Operation::DESTROY, vec![uid(&u)])
                    .expect("transport")
            },
            || {
                k2.call(Operation::DESTROY, vec![uid(&u)])
                    .expect("transport")
            },
        );
        assert!(succeeded(&d1) ^ succeeded(&d2), "dd-{k}: {d1:?} / {d2:?}");
        assert_eq!(kmip_state(&k1, &u), "Destroyed");
    }

    // 3. ReKey of the same key on both servers: no lost update — the old key links to every
    //    replacement a server acknowledged, and the name lives on exactly one of them.
    for k in 0..10 {
        let name = format!("rk-{k}");
        let old = text_of(
            &k1.ok(Operation::CREATE, create_payload(&name)),
            Tag::UNIQUE_IDENTIFIER,
        );
        k1.ok(Operation::ACTIVATE, vec![uid(&old)]);
        let (r1, r2) = race(
            || {
                k1.call(Operation::RE_KEY, vec![uid(&old)])
                    .expect("transport")
            },
            || {
                k2.call(Operation::RE_KEY, vec![uid(&old)])
                    .expect("transport")
            },
        );
        let new: BTreeSet<String> = [&r1, &r2]
            .into_iter()
            .filter(|r| succeeded(r))
            .map(|r| text_of(r, Tag::UNIQUE_IDENTIFIER))
            .collect();
        assert!(
            !new.is_empty(),
            "{name}: no re-key succeeded: {r1:?} / {r2:?}"
        );
        let attrs: String = pgc
            .query_one("SELECT attrs FROM objects WHERE uid=$1", &[&old])
            .unwrap()
            .get(0);
        let attrs: serde_json::Value = serde_json::from_str(&attrs).unwrap();
        let replacements: BTreeSet<String> = attrs["Link"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| {
                l["LinkType"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Replacement"))
            })
            .filter_map(|l| l["LinkedObjectIdentifier"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(
            replacements, new,
            "{name}: replacement links of the old key"
        );
        let holders = located(&k2.ok(Operation::LOCATE, locate_payload(&name)));
        assert_eq!(holders.len(), 1, "{name}: {holders:?}");
        assert!(
            new.contains(&holders[0]),
            "{name}: the name moved to a replacement"
        );
    }

    // 4. Four clients, two per server, 2,000 objects; server 2 is killed (SIGKILL) mid-run and
    //    its clients move to server 1.
    const PER_THREAD: usize = 500;
    let progress = AtomicUsize::new(0);
    let killed = AtomicBool::new(false);
    let records: Vec<Record> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let (port, fallback) = if t < 2 { (p1, p1) } else { (p2, p1) };
                let (certs, progress) = (&certs, &progress);
                s.spawn(move || worker(t, PER_THREAD, certs, port, fallback, progress))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(900);
        while progress.load(Ordering::SeqCst) < 4 * PER_THREAD * 2 / 5 {
            assert!(Instant::now() < deadline, "workload stalled");
            std::thread::sleep(Duration::from_millis(20));
        }
        s2.kill9();
        killed.store(true, Ordering::SeqCst);
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(killed.load(Ordering::SeqCst));
    assert_eq!(records.len(), 4 * PER_THREAD);
    let uncertain = records.iter().filter(|r| r.pending.is_some()).count();
    eprintln!(
        "workload: {} objects, {uncertain} in flight when server 2 died",
        records.len()
    );

    // Every acknowledged operation is there, in exactly one consistent state.
    let rows = pgc
        .query("SELECT uid, state, name FROM objects", &[])
        .unwrap();
    let by_uid: BTreeMap<String, (String, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (u, (_, n)) in &by_uid {
        if let Some(n) = n {
            by_name.entry(n.clone()).or_default().push(u.clone());
        }
    }
    for (n, us) in &by_name {
        assert_eq!(us.len(), 1, "name {n} is held by {us:?}");
    }
    for r in &records {
        match (&r.uid, r.acked) {
            (Some(u), Some(acked)) => {
                let (state, name) = by_uid.get(u).unwrap_or_else(|| panic!("{r:?} lost"));
                assert_eq!(name.as_deref(), Some(r.name.as_str()));
                let ok = state == acked || r.pending.is_some_and(|p| p == state);
                assert!(ok, "{r:?}: stored state {state}");
            }
            (None, _) => {
                // A Create whose answer was lost: there at most once, pre-active.
                let held = by_name.get(&r.name).map_or(0, Vec::len);
                assert!(held <= 1, "{r:?}");
                if held == 1 {
                    assert_eq!(by_uid[&by_name[&r.name][0]].0, "PreActive");
                }
            }
            (Some(_), None) => unreachable!("a uid is only known from an acknowledged create"),
        }
    }
    // Destroyed objects have no material left.
    let sealed: i64 = pgc
        .query_one(
            "SELECT count(*) FROM versions v JOIN objects o ON o.uid = v.uid \
             WHERE o.state = 'Destroyed' AND v.sealed IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(sealed, 0);
    // The surviving server agrees with the database (Locate and GetAttributes).
    let k1 = Kc::new(&certs, p1);
    for r in records.iter().step_by(7) {
        let Some(u) = &r.uid else { continue };
        // Locate leaves destroyed objects out unless a Storage Status Mask asks for them.
        let expect = if by_uid[u].0 == "Destroyed" {
            Vec::new()
        } else {
            vec![u.clone()]
        };
        assert_eq!(
            located(&k1.ok(Operation::LOCATE, locate_payload(&r.name))),
            expect,
            "{r:?}"
        );
        assert_eq!(kmip_state(&k1, u), by_uid[u].0, "{r:?}");
    }

    // Key material fetched over KMIP, for the dump check below.
    for r in records
        .iter()
        .filter(|r| r.acked == Some("Active"))
        .take(20)
    {
        let got = k1.ok(Operation::GET, vec![uid(r.uid.as_ref().unwrap())]);
        byte_strings(got.payload.as_ref().unwrap(), &mut secrets);
    }
    let secrets: Vec<Vec<u8>> = secrets.into_iter().filter(|s| s.len() >= 16).collect();
    assert!(secrets.len() >= 60, "collected {} secrets", secrets.len());

    // The audit chain is linear and verifies (the store opened on the same URL).
    let vault =
        tresor_vault::Vault::open(&va, &mut || unreachable!("no passphrase")).expect("open vault");
    let report = vault.store().verify_audit().expect("verify audit");
    assert_eq!(report.first_bad, None, "{report:?}");
    let acked_changes: usize = records
        .iter()
        .filter(|r| r.acked.is_some())
        .map(|r| 1 + target_states(r.name.rsplit('-').next().unwrap().parse().unwrap()).len())
        .sum();
    assert!(
        report.entries as usize >= acked_changes,
        "{} audit entries for {acked_changes} acknowledged changes",
        report.entries
    );
    let seqs: Vec<i64> = pgc
        .query("SELECT seq FROM audit ORDER BY seq", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(seqs.iter().enumerate().all(|(i, s)| *s == i as i64 + 1));

    // PostgreSQL never sees key or secret bytes: a pg_dump holds none of them, raw, hex or
    // base64.
    let dump_bin = pg_dump_bin().expect("pg_dump");
    let out = Command::new(dump_bin).arg(&url).output().expect("pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = out.stdout;
    assert!(
        dump.windows(6).any(|w| w == b"race-0"),
        "the dump holds the names"
    );
    use base64::Engine as _;
    for s in &secrets {
        let hex: String = s.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(s);
        for needle in [s.as_slice(), hex.as_bytes(), b64.as_bytes()] {
            assert!(
                !dump.windows(needle.len()).any(|w| w == needle),
                "secret bytes found in pg_dump"
            );
        }
    }
    drop(s1);
    drop(s2);
}

#[test]
fn postgres_restart_under_load() {
    let Some(pg) = Cluster::start(false) else {
        return;
    };
    let url = fresh_db(&pg.url, "restart");
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let certs = certs(h);
    let (va, _) = two_vaults(h, &url);
    let mut server = Server::spawn(h, &va, &url, &certs);
    let (pid, port) = (server.child.id(), server.port);

    /// One request's outcome.
    #[derive(Debug)]
    enum Outcome {
        Ok,
        Kmip(Option<ResultReason>, String),
        Transport(#[allow(dead_code)] String),
    }
    let log: Mutex<Vec<(Instant, Duration, Outcome)>> = Mutex::new(Vec::new());
    let acked: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let count = |f: &dyn Fn(&Outcome) -> bool, since: Instant| {
        log.lock()
            .unwrap()
            .iter()
            .filter(|(t, _, o)| *t >= since && f(o))
            .count()
    };
    let wait_for = |what: &str, n: usize, since: Instant, f: &dyn Fn(&Outcome) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(90);
        while count(f, since) < n {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                log.lock().unwrap().iter().rev().take(5).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let begin = Instant::now();
    std::thread::scope(|s| {
        for t in 0..2 {
            let (certs, log, acked, stop) = (&certs, &log, &acked, &stop);
            s.spawn(move || {
                let kc = Kc::new(certs, port);
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let name = format!("r{t}-{i}");
                    i += 1;
                    let start = Instant::now();
                    let outcome = match kc.call(Operation::CREATE, create_payload(&name)) {
                        Ok(item) if succeeded(&item) => {
                            let u = text_of(&item, Tag::UNIQUE_IDENTIFIER);
                            acked.lock().unwrap().push(u.clone());
                            match kc.call(Operation::GET, vec![uid(&u)]) {
                                Ok(g) if succeeded(&g) => Outcome::Ok,
                                Ok(g) => Outcome::Kmip(
                                    g.result_reason,
                                    g.result_message.unwrap_or_default(),
                                ),
                                Err(e) => Outcome::Transport(e.to_string()),
                            }
                        }
                        Ok(item) => Outcome::Kmip(
                            item.result_reason,
                            item.result_message.unwrap_or_default(),
                        ),
                        Err(e) => Outcome::Transport(e.to_string()),
                    };
                    log.lock().unwrap().push((start, start.elapsed(), outcome));
                    if !matches!(log.lock().unwrap().last(), Some((_, _, Outcome::Ok))) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            });
        }
        wait_for("successes before the outage", 40, begin, &|o| {
            matches!(o, Outcome::Ok)
        });
        let down = Instant::now();
        pg.verb("stop-keep");
        wait_for("errors during the outage", 10, down, &|o| {
            matches!(o, Outcome::Kmip(..))
        });
        let up = Instant::now();
        pg.verb("start-existing");
        wait_for("successes after PostgreSQL returned", 40, up, &|o| {
            matches!(o, Outcome::Ok)
        });
        stop.store(true, Ordering::SeqCst);
    });
    let log = log.into_inner().unwrap();
    let kinds = |f: &dyn Fn(&Outcome) -> bool| log.iter().filter(|(_, _, o)| f(o)).count();
    eprintln!(
        "restart: {} requests answered, {} with a KMIP error during the outage, {} transport errors",
        log.len(),
        kinds(&|o| matches!(o, Outcome::Kmip(..))),
        kinds(&|o| matches!(o, Outcome::Transport(_)))
    );
    for (_, took, o) in &log {
        assert!(
            !matches!(o, Outcome::Transport(_)),
            "a request got no KMIP response: {o:?}"
        );
        assert!(
            *took < Duration::from_secs(12),
            "a request took {took:?}: {o:?}"
        );
        if let Outcome::Kmip(reason, msg) = o {
            assert_eq!(
                *reason,
                Some(ResultReason::PROTECTION_STORAGE_UNAVAILABLE),
                "{msg}"
            );
            assert!(msg.contains("unavailable"), "{msg}");
        }
    }
    assert!(
        server.still_running(),
        "tresor exited: {}",
        server.log.lock().unwrap()
    );
    assert_eq!(server.child.id(), pid);
    // Everything acknowledged survived the restart.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for u in acked.into_inner().unwrap() {
        let n: i64 = c
            .query_one("SELECT count(*) FROM objects WHERE uid=$1", &[&u])
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "{u} lost");
    }
}

#[test]
fn tls_and_password_sources() {
    let Some(pg) = Cluster::start(true) else {
        return;
    };
    let (port, ca) = (pg.port(), pg.ca.clone().expect("pg.sh --ssl gives a CA"));
    let mut admin = postgres::Client::connect(
        &format!("host={} port={port} user=postgres dbname=postgres", pg.dir),
        postgres::NoTls,
    )
    .expect("admin over the Unix socket");
    admin
        .batch_execute("CREATE ROLE tresor LOGIN PASSWORD 'file-pw-5b1c'")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE tresor_tls OWNER tresor")
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let vault = h.join("vault");
    let url = format!(
        "postgres://tresor@127.0.0.1:{port}/tresor_tls?sslmode=verify-full&sslrootcert={ca}"
    );
    let pwfile = h.join("pg-password");
    std::fs::write(&pwfile, "file-pw-5b1c\n").unwrap();
    let with = |env: &[(&str, &std::ffi::OsStr)], args: &[&str]| {
        let mut c = tresor(h);
        c.arg("--vault").arg(&vault).args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run tresor")
    };
    let file_env = [("TRESOR_PG_PASSWORD_FILE", pwfile.as_os_str())];
    let secret = "tls-secret-0d9e8f7a6b5c";

    // The password from a file, TLS verified against the CA: init, add, get.
    for args in [
        vec!["--store", &url, "init", "--user", "me@test"],
        vec!["add", "key", "DB", secret, "--app", "a", "--env", "e"],
    ] {
        let out = with(&file_env, &args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = with(&file_env, &["get", "a:e:DB"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), secret);
    // ... and from PGPASSWORD (the URL is remembered in the vault folder).
    let pw = std::ffi::OsString::from("file-pw-5b1c");
    let out = with(&[("PGPASSWORD", pw.as_os_str())], &["get", "a:e:DB"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), secret);

    // No password: a clear error, no panic.
    let out = with(&[], &["get", "a:e:DB"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("password"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // A password file that cannot be read is named.
    let missing = h.join("no-such-password-file");
    let out = with(
        &[("TRESOR_PG_PASSWORD_FILE", missing.as_os_str())],
        &["get", "a:e:DB"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-password-file"), "{err}");
    // Plaintext is refused by a server that demands TLS.
    let plain = format!("postgres://tresor@127.0.0.1:{port}/tresor_tls?sslmode=disable");
    let out = tresor(h)
        .arg("--vault")
        .arg(h.join("plain-vault"))
        .args(["--store", &plain, "init", "--user", "me@test"])
        .env("TRESOR_PG_PASSWORD_FILE", &pwfile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no encryption"), "{err}");
}

/// Issue 13 (A5, the network): with TLS configured (`TRESOR_PG_CA`) or a host that is not
/// loopback, a URL without `sslmode` verifies the server (`verify-full`); an unverified
/// connection happens only when the URL asks for `sslmode=require`.
#[test]
fn tls_verifies_the_server_by_default() {
    let Some(pg) = Cluster::start(true) else {
        return;
    };
    let (port, ca) = (pg.port(), pg.ca.clone().expect("pg.sh --ssl gives a CA"));
    let mut admin = postgres::Client::connect(
        &format!("host={} port={port} user=postgres dbname=postgres", pg.dir),
        postgres::NoTls,
    )
    .expect("admin over the Unix socket");
    for db in ["tls_wrong", "tls_remote", "tls_ok", "tls_asked"] {
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
    }
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // A CA that did not sign the server's certificate.
    run_ok({
        let mut c = tresor(h);
        c.args(["kmip", "certs", "init"]).arg(h.join("other"));
        c
    });
    let other_ca = h.join("other/ca.crt");
    let init = |db: &str, url: &str, ca: Option<&Path>| {
        let mut c = tresor(h);
        c.arg("--vault")
            .arg(h.join(db))
            .args(["--store", url, "init", "--user", "me@test"]);
        if let Some(ca) = ca {
            c.env("TRESOR_PG_CA", ca);
        }
        c.output().expect("run tresor")
    };
    let local = |db: &str| format!("postgres://postgres@127.0.0.1:{port}/{db}");
    // A name that is not loopback, reaching the test server through hostaddr.
    let remote =
        |db: &str| format!("postgres://postgres@db.tresor.test:{port}/{db}?hostaddr=127.0.0.1");
    let refused = |out: std::process::Output, what: &str| {
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what}: connected without verifying the server"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("verification") && err.contains("TRESOR_PG_CA"),
            "{what}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    };
    refused(
        init("tls_wrong", &local("tls_wrong"), Some(&other_ca)),
        "TRESOR_PG_CA of another CA",
    );
    refused(
        init("tls_remote", &remote("tls_remote"), None),
        "remote host, no CA",
    );
    let out = init("tls_ok", &local("tls_ok"), Some(Path::new(&ca)));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let asked = format!("{}&sslmode=require", remote("tls_asked"));
    let out = init("tls_asked", &asked, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
