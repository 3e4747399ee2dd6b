//! What the service tests share: `tresor kmip serve` processes, a blocking KMIP client and
//! the payloads they send, HTTP for `/metrics`, and PostgreSQL clusters of a test's own.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, NameType, ObjectType, Operation, ResultStatus,
};
use tresor_kmip::message::{RequestBatchItem, RequestHeader, RequestMessage, ResponseBatchItem};
use tresor_kmip::{KmipError, ProtocolVersion, Tag, Ttlv, Value};

use super::test_logs;

pub const V: ProtocolVersion = ProtocolVersion::V1_4;
pub const V2: ProtocolVersion = ProtocolVersion::V2_0;

// ---- processes ----------------------------------------------------------------------------

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

pub fn certs(home: &Path, name: &str) -> PathBuf {
    let dir = home.join(name);
    let mut c = tresor(home);
    c.args(["kmip", "certs", "init"]).arg(&dir);
    run_ok(c);
    dir
}

/// A `tresor kmip serve` child; everything it prints (stdout and stderr) is kept.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub metrics: Option<String>,
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `tresor [pre…] kmip serve --listen 127.0.0.1:0 [args…]` with `env`.
    pub fn spawn(home: &Path, pre: &[&str], args: &[String], env: &[(&str, String)]) -> Server {
        let mut c = tresor(home);
        c.args(pre)
            .args(["kmip", "serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("spawn tresor kmip serve");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        for stream in [
            Box::new(test_logs::tee(child.stderr.take().unwrap())) as Box<dyn Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let l = log.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(a) = line.strip_prefix("listening on ") {
                        let _ = tx.send(("kmip", a.trim().to_owned()));
                    }
                    if let Some(a) = line
                        .strip_prefix("kmip: metrics (/metrics, /healthz, /readyz) listening on ")
                    {
                        let _ = tx.send(("metrics", a.trim().to_owned()));
                    }
                    let mut l = l.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let mut metrics = None;
        let port = loop {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(("metrics", a)) => metrics = Some(a),
                Ok((_, a)) => break a.rsplit(':').next().unwrap().parse::<u16>().unwrap(),
                Err(e) => {
                    let _ = child.kill();
                    panic!("server did not start ({e}): {}", log.lock().unwrap());
                }
            }
        };
        Server {
            child,
            port,
            metrics,
            log,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (up to 60 s) for a line containing `text`.
    pub fn wait_for(&self, text: &str) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(60) {
            if self.log().contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no line with {text:?}; server log:\n{}", self.log());
    }

    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(st.success(), "kill {sig}");
    }

    /// Waits (up to `secs`) for the process to exit; its status.
    pub fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let t = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "server still running after {secs} s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve_args(certs: &Path) -> Vec<String> {
    vec![
        "--cert".into(),
        certs.join("server.crt").display().to_string(),
        "--key".into(),
        certs.join("server.key").display().to_string(),
        "--ca".into(),
        certs.join("ca.crt").display().to_string(),
    ]
}

// ---- a blocking KMIP client -----------------------------------------------------------------

pub struct Kc {
    rt: tokio::runtime::Runtime,
    c: KmipClient,
}

impl Kc {
    /// A client with `dir`'s `name.crt`/`name.key`, trusting `dir`'s CA.
    pub fn new(dir: &Path, name: &str, port: u16, version: ProtocolVersion) -> Kc {
        let mut cfg = ClientConfig::new(
            "127.0.0.1",
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
            dir.join("ca.crt"),
        );
        cfg.port = port;
        cfg.protocol_version = version;
        cfg.connect_timeout = Duration::from_secs(5);
        cfg.request_timeout = Duration::from_secs(120);
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

    pub fn batch(
        &self,
        items: Vec<RequestBatchItem>,
        v: ProtocolVersion,
    ) -> Vec<ResponseBatchItem> {
        let n = i32::try_from(items.len()).unwrap();
        let msg = RequestMessage {
            header: RequestHeader::new(v, n),
            batch_items: items,
        };
        self.rt
            .block_on(self.c.request(&msg))
            .expect("batch")
            .batch_items
    }
}

pub fn uid_of(item: &ResponseBatchItem) -> String {
    item.payload
        .as_ref()
        .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
        .and_then(Ttlv::as_text)
        .expect("unique identifier")
        .to_owned()
}

pub fn uid(u: &str) -> Ttlv {
    Ttlv::text(Tag::UNIQUE_IDENTIFIER, u)
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

// ---- HTTP ------------------------------------------------------------------------------------

/// `GET path` on `addr` (HTTP/1.0): (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect metrics");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// The value of the sample `name` with `labels` in an exposition text (parsed by
/// prometheus-parse).
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("metrics parse");
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(h) => h.iter().map(|c| c.count).fold(0.0, f64::max),
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
}

// ---- PostgreSQL -----------------------------------------------------------------------------

pub fn skip_or_fail(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why} under CI: scripts/test.sh must provide PostgreSQL"
    );
    eprintln!("SKIPPED: {why}; run scripts/test.sh");
}

pub fn pg_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh")
}

/// A PostgreSQL cluster of this test's own (scripts/pg.sh), removed on drop.
pub struct Cluster {
    pub dir: String,
    pub url: String,
}

impl Cluster {
    pub fn start() -> Option<Cluster> {
        let out = Command::new("bash")
            .arg(pg_script())
            .arg("start")
            .output()
            .expect("run scripts/pg.sh");
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
        })
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
