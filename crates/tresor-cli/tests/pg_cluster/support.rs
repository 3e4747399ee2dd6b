//! What the PostgreSQL cluster tests share: PostgreSQL (the URL from the environment, fresh
//! databases, clusters of a test's own), `tresor kmip serve` processes, and a blocking KMIP
//! client with the payloads the tests send.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::time::Duration;

use tresor_kmip::attributes::Attribute;
use tresor_kmip::enums::{NameType, Operation, ResultStatus, RevocationReasonCode};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};
pub use tresor_testkit::kmip::{byte_strings, create_payload, register_secret_payload, uid};
pub use tresor_testkit::pg::Cluster;
use tresor_testkit::{TestServer, cli};
pub use tresor_testkit::{run_ok, skip_or_fail};

use super::test_logs;

pub const V: ProtocolVersion = ProtocolVersion::V1_4;

// ---- PostgreSQL ---------------------------------------------------------------------------

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
    cli::command(env!("CARGO_BIN_EXE_tresor"), home)
}

/// Starts `tresor --vault VAULT --store URL kmip serve` with the certificates in `certs`;
/// killed on drop.
pub fn spawn_server(home: &Path, vault: &Path, url: &str, certs: &Path) -> TestServer {
    TestServer::start_with(
        cli::kmip_serve(
            tresor(home)
                .arg("--vault")
                .arg(vault)
                .args(["--store", url]),
            certs,
        )
        .stdout(Stdio::null()),
        Duration::from_secs(120),
        test_logs::tee,
    )
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
    cli::certs_init(tresor(home), home.join("certs"))
}

// ---- a blocking KMIP client ---------------------------------------------------------------

pub use tresor_testkit::kmip::Client as Kc;

/// A client with `certs`' `client` certificate, KMIP 1.4, 20 s per request.
pub fn kmip_client(certs: &Path, port: u16) -> Kc {
    Kc::new(certs, "client", port, V, Duration::from_secs(20)).expect("client")
}

pub fn text_of(item: &ResponseBatchItem, tag: Tag) -> String {
    item.payload_items()
        .iter()
        .find(|t| t.tag == tag)
        .and_then(Ttlv::as_text)
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no {tag} in {item:?}"))
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
