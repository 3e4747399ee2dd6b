//! OASIS KMIP test-vector replay against a real tresor KMIP server.
//!
//! Each vector file in `shared/kmip-vectors/{v1.4,v2.1}/{mandatory,optional}` is a
//! conversation. For every file the harness starts a fresh server (fresh temporary store, a
//! fresh development CA from `certs::init`) on 127.0.0.1:0, sends each request over mutual TLS
//! with [`KmipClient`], and compares each response with the expected one
//! (`vectors_engine.rs` says what may differ).
//!
//! - `every_required_vector`: every BL, SKLC, AKLC, OMOS, CS-BC-M (AES, incl. GCM) and CS-RNG
//!   mandatory case of 1.4 and 2.1 must pass.
//! - `all_vectors_report`: replays every file and writes `docs/kmip-conformance.md`; it only
//!   fails when the harness itself cannot run.
//!
//! `TRESOR_KMIP_VECTORS_SERVER=HOST:PORT` with `TRESOR_KMIP_VECTORS_CERTS=DIR` (holding
//! `ca.crt`, `client.crt`, `client.key`) replays against an external server instead, e.g. a
//! `pykmip-server`; `TRESOR_KMIP_VECTORS_ONLY=NAME,...` limits the files;
//! `TRESOR_KMIP_VECTORS_TRACE=1` prints every request sent and response received.

#[path = "vectors_engine.rs"]
mod engine;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use engine::{Mismatch, Session, VectorFile};
use tresor_kmip::Ttlv;
use tresor_kmip::client::{ClientConfig, KmipClient};

/// The in-process tresor server for one file.
mod server {
    use super::*;

    use std::sync::Arc;
    use tresor_kmip::server::{Server, ServerConfig};

    /// A running server with its certificates; dropped with its temporary directory.
    pub struct Running {
        pub addr: std::net::SocketAddr,
        pub certs: tresor_kmip::certs::CertFiles,
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<()>,
        _dir: tempfile::TempDir,
    }

    impl Running {
        /// A client with the `client` certificate.
        pub fn client(&self) -> Result<KmipClient, tresor_kmip::KmipError> {
            let mut cfg = ClientConfig::new(
                "127.0.0.1",
                &self.certs.client_cert,
                &self.certs.client_key,
                &self.certs.ca_cert,
            );
            cfg.port = self.addr.port();
            cfg.request_timeout = Duration::from_secs(20);
            KmipClient::new(cfg)
        }

        /// Stops the server and waits for it.
        pub async fn stop(self) {
            let _ = self.stop.send(());
            let _ = self.task.await;
        }
    }

    /// Starts a fresh server on 127.0.0.1:0 with a fresh store and CA.
    pub async fn start() -> Result<Running, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let certs =
            tresor_kmip::certs::init(&dir.path().join("certs")).map_err(|e| e.to_string())?;
        let kek = Arc::new(tresor_crypto::LocalKek::generate().map_err(|e| e.to_string())?);
        let store = tresor_store::Store::open_sqlite(&dir.path().join("kmip.db"), kek, "kmip")
            .map_err(|e| e.to_string())?;
        let mut config = ServerConfig::new(&certs.server_cert, &certs.server_key, &certs.ca_cert);
        config.listen = "127.0.0.1:0".into();
        let server = Server::bind(config, Arc::new(store))
            .await
            .map_err(|e| e.to_string())?;
        let addr = server.local_addr();
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(async move {
            let _ = rx.await;
        }));
        Ok(Running {
            addr,
            certs,
            stop,
            task,
            _dir: dir,
        })
    }
}

/// The vectors: `$TRESOR_KMIP_VECTORS`, else `shared/kmip-vectors` beside the repository.
fn vectors_dir() -> PathBuf {
    match std::env::var_os("TRESOR_KMIP_VECTORS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kmip-vectors"),
    }
}

fn vector_files() -> Vec<PathBuf> {
    let only: Option<Vec<String>> = std::env::var("TRESOR_KMIP_VECTORS_ONLY")
        .ok()
        .map(|s| s.split(',').map(|x| x.trim().to_owned()).collect());
    let mut out = Vec::new();
    for v in ["v1.4", "v2.1"] {
        for kind in ["mandatory", "optional"] {
            let dir = vectors_dir().join(v).join(kind);
            let rd = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("test vectors missing at {}: {e}", dir.display()));
            for f in rd.flatten() {
                let p = f.path();
                let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned());
                if p.extension().is_some_and(|e| e == "xml")
                    && only
                        .as_ref()
                        .is_none_or(|o| stem.as_ref().is_some_and(|s| o.contains(s)))
                {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

/// Whether a file is in the required set: mandatory BL, SKLC, AKLC, OMOS, CS-BC-M (AES:
/// numbered and GCM cases) and CS-RNG.
fn required(file: &VectorFile) -> bool {
    if file.kind != "mandatory" {
        return false;
    }
    let n = file.name.as_str();
    let numbered = |prefix: &str| {
        n.strip_prefix(prefix)
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    };
    numbered("BL-M-")
        || numbered("SKLC-M-")
        || numbered("AKLC-M-")
        || numbered("OMOS-M-")
        || numbered("CS-BC-M-")
        || numbered("CS-BC-M-GCM-")
        || numbered("CS-RNG-M-")
}

/// How one file went.
#[derive(Debug, Clone)]
enum Outcome {
    Pass,
    /// Request number (0-based) and the first difference.
    Mismatch(usize, Mismatch),
    /// Request number and what went wrong (transport, server start).
    Error(usize, String),
}

#[derive(Debug, Clone)]
struct FileResult {
    name: String,
    version: String,
    kind: String,
    required: bool,
    requests: usize,
    outcome: Outcome,
    millis: u128,
}

/// Replays one conversation on one connection.
async fn replay(file: &VectorFile, client: &KmipClient) -> Outcome {
    let mut session = Session::default();
    for (i, ex) in file.exchanges.iter().enumerate() {
        let sent = session.prepare(&ex.request);
        let got: Ttlv = match client.send(&sent).await {
            Ok(t) => t,
            Err(e) => return Outcome::Error(i, format!("request {i}: {e}")),
        };
        if std::env::var_os("TRESOR_KMIP_VECTORS_TRACE").is_some() {
            eprintln!(
                "{} #{i}\n  sent {}\n  got  {}",
                file.name,
                engine::show_full(&sent),
                engine::show_full(&got)
            );
        }
        if let Err(m) = session.check(&sent, &ex.expected, &ex.shifted, &got) {
            return Outcome::Mismatch(i, m);
        }
    }
    Outcome::Pass
}

async fn run_file(path: &Path) -> FileResult {
    let start = Instant::now();
    let file = engine::load(path, engine::now()).unwrap_or_else(|e| panic!("{e}"));
    let req = required(&file);
    let outcome = match std::env::var("TRESOR_KMIP_VECTORS_SERVER") {
        Ok(addr) => {
            let certs = PathBuf::from(
                std::env::var("TRESOR_KMIP_VECTORS_CERTS")
                    .expect("TRESOR_KMIP_VECTORS_CERTS with the external server"),
            );
            let (host, port) = addr.rsplit_once(':').expect("HOST:PORT");
            let mut cfg = ClientConfig::new(
                host,
                certs.join("client.crt"),
                certs.join("client.key"),
                certs.join("ca.crt"),
            );
            cfg.port = port.parse().expect("port");
            cfg.request_timeout = Duration::from_secs(20);
            match KmipClient::new(cfg) {
                Ok(c) => {
                    let o = replay(&file, &c).await;
                    c.close().await;
                    o
                }
                Err(e) => Outcome::Error(0, format!("client: {e}")),
            }
        }
        Err(_) => match server::start().await {
            Ok(running) => {
                let o = match running.client() {
                    Ok(c) => {
                        let o = replay(&file, &c).await;
                        c.close().await;
                        o
                    }
                    Err(e) => Outcome::Error(0, format!("client: {e}")),
                };
                running.stop().await;
                o
            }
            Err(e) => Outcome::Error(0, format!("starting the server: {e}")),
        },
    };
    FileResult {
        name: file.name.clone(),
        version: file.version.clone(),
        kind: file.kind.clone(),
        required: req,
        requests: file.exchanges.len(),
        outcome,
        millis: start.elapsed().as_millis(),
    }
}

async fn run_all(filter: impl Fn(&Path) -> bool) -> Vec<FileResult> {
    let mut out = Vec::new();
    for p in vector_files().into_iter().filter(|p| filter(p)) {
        let r = run_file(&p).await;
        eprintln!(
            "{:<40} {:>5} ms  {}",
            r.name,
            r.millis,
            describe(&r.outcome)
        );
        out.push(r);
    }
    out
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Pass => "pass".into(),
        Outcome::Mismatch(i, m) => format!("FAIL at request {i}: {m}"),
        Outcome::Error(i, e) => format!("ERROR at request {i}: {e}"),
    }
}

fn is_required_path(p: &Path) -> bool {
    engine::load(p, 0).map(|f| required(&f)).unwrap_or(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_required_vector() {
    let results = run_all(is_required_path).await;
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Pass))
        .map(|r| format!("{} ({}): {}", r.name, r.version, describe(&r.outcome)))
        .collect();
    eprintln!(
        "required vectors: {} of {} pass",
        results.len() - failed.len(),
        results.len()
    );
    // Known gaps are listed, with their reason, in vectors-known-failures.txt: anything else
    // failing is a regression, and a listed file that passes must leave the list.
    let known: Vec<String> = include_str!("vectors-known-failures.txt")
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    let key = |r: &FileResult| format!("{} ({})", r.name, r.version);
    let unexpected: Vec<&String> = failed
        .iter()
        .filter(|f| !known.iter().any(|k| f.starts_with(&format!("{k}:"))))
        .collect();
    let fixed: Vec<String> = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Pass) && known.contains(&key(r)))
        .map(key)
        .collect();
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "{} required vector files fail that are not known gaps:\n{}\n\
         known gaps that now pass (remove them from vectors-known-failures.txt): {fixed:?}\n\
         all failures:\n{}",
        unexpected.len(),
        unexpected
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        failed.join("\n")
    );
    assert_eq!(
        known.len(),
        failed.len(),
        "every known gap is still failing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_vectors_report() {
    let results = run_all(|_| true).await;
    let doc = report(&results);
    // An external server or a subset is not the tresor conformance status: print only.
    if std::env::var_os("TRESOR_KMIP_VECTORS_SERVER").is_some()
        || std::env::var_os("TRESOR_KMIP_VECTORS_ONLY").is_some()
    {
        eprintln!("{doc}");
        return;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/kmip-conformance.md");
    // Sections other harnesses generate (`<!-- NAME:begin ... -->` to the end: the PyKMIP
    // differential, tests/differential.rs) are kept after this report.
    let kept = std::fs::read_to_string(&path)
        .ok()
        .and_then(|old| {
            let at = old.match_indices("<!-- ").find(|(i, _)| {
                old[*i..]
                    .lines()
                    .next()
                    .is_some_and(|l| l.contains(":begin"))
            })?;
            Some(old[at.0..].to_owned())
        })
        .unwrap_or_default();
    let doc = if kept.is_empty() {
        doc
    } else {
        format!("{}\n\n{kept}", doc.trim_end())
    };
    if let Err(e) = std::fs::write(&path, doc) {
        eprintln!("could not write {}: {e}", path.display());
    }
}

fn md_escape(s: &str) -> String {
    without_uids(&s.replace('|', "\\|").replace('\n', " "))
}

/// `s` with every server-chosen object id (a random UUID) replaced by `<uid>`, so the
/// generated document changes only when an outcome does.
fn without_uids(s: &str) -> String {
    const SHAPE: [usize; 5] = [8, 4, 4, 4, 12];
    let is_uid = |w: &str| {
        let parts: Vec<&str> = w.split('-').collect();
        parts.len() == 5
            && parts
                .iter()
                .zip(SHAPE)
                .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        if rest.len() >= 36 && rest.is_char_boundary(36) && is_uid(&rest[..36]) {
            out.push_str("<uid>");
            rest = &rest[36..];
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[test]
fn report_hides_uids() {
    assert_eq!(
        without_uids("object '022ba2a8-8809-4525-9567-2ce01230da94' is a PublicKey"),
        "object '<uid>' is a PublicKey"
    );
    assert_eq!(without_uids("not-a-uid 1234"), "not-a-uid 1234");
}

/// The conformance document.
fn report(results: &[FileResult]) -> String {
    let pass = |r: &FileResult| matches!(r.outcome, Outcome::Pass);
    let req: Vec<&FileResult> = results.iter().filter(|r| r.required).collect();
    let req_pass = req.iter().filter(|r| pass(r)).count();
    let all_pass = results.iter().filter(|r| pass(r)).count();
    let requests: usize = results.iter().map(|r| r.requests).sum();
    let mut s = String::new();
    s.push_str(HEADER);
    s.push_str(&format!(
        "\n## OASIS test vectors: replay against the tresor server\n\n\
         Generated by `cargo test -p tresor-kmip --test vectors all_vectors_report` \
         (harness: `crates/tresor-kmip/tests/vectors.rs`, comparison rules in \
         `tests/vectors_engine.rs`).\n\n\
         - Required set (mandatory BL, SKLC, AKLC, OMOS, CS-BC-M AES incl. GCM, CS-RNG; \
         checked by `every_required_vector`): **{req_pass} / {} pass**.\n\
         - All files: **{all_pass} / {} pass** ({requests} requests).\n\n\
         Each file runs against a fresh server (fresh store, fresh CA) over mutual TLS. Values \
         the server chooses are not compared literally: unique identifiers and other \
         `$PLACEHOLDER`s are bound to the server's first answer and must stay consistent (and are \
         sent in later requests), `$NOW` dates match within {} s, and bytes derived from keys the \
         server generated (digests, key material, cipher text), RNG output and server-chosen IVs \
         need only the same length. Attribute lists compare in any order. Everything else \
         (result status and reason, enumerations, integers, literal bytes and dates, structure) \
         must be equal. \"First mismatch\" is the path in the TTLV tree of the response to \
         request *n* (0-based), expected vs got.\n\n",
        req.len(),
        results.len(),
        engine::NOW_TOLERANCE,
    ));
    s.push_str("| file | version | set | required | result | first mismatch |\n");
    s.push_str("|---|---|---|---|---|---|\n");
    for r in results {
        let (res, why) = match &r.outcome {
            Outcome::Pass => ("pass".to_owned(), String::new()),
            Outcome::Mismatch(i, m) => (
                "FAIL".to_owned(),
                format!(
                    "request {i}: `{}`: expected `{}`, got `{}`",
                    m.path, m.expected, m.got
                ),
            ),
            Outcome::Error(i, e) => ("ERROR".to_owned(), format!("request {i}: {e}")),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.name,
            r.version,
            r.kind,
            if r.required { "yes" } else { "" },
            res,
            md_escape(&why)
        ));
    }
    s
}

const HEADER: &str = "# KMIP conformance status (tresor-kmip)

This file is generated by the vector harness (`crates/tresor-kmip/tests/vectors.rs`); edit the
harness, not this file.

## Encoding

| piece | status | checked by |
|---|---|---|
| TTLV binary codec (all 11 item types incl. Date-Time Extended) | done | proptest `read(encode(x)) == x`, spec encoding examples, non-canonical rejection tests |
| Limits: 1 MiB message (header checked before allocating), depth 16, 10 000 items, 64 KiB strings | done, configurable (`Limits`) | `ttlv_test.rs`, `ttlv/stream.rs` tests |
| Canonical decoding (zero padding, exact fixed lengths, Boolean 0/1, UTF-8) | done | `fuzzing::fuzz_ttlv` asserts parse OK => re-encode equals input |
| KMIP XML encoding reader (test vectors) | done (`xml` module, feature `xml`) | `every_vector_round_trips`: all 168 files parse, XML -> TTLV -> binary -> TTLV equal, typed round trip equal |
| KMIP JSON encoding | not done | |
";
