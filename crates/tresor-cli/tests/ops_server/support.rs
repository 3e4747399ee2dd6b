//! What the service tests share: `tresor kmip serve` processes, a blocking KMIP client and
//! the payloads they send, HTTP for `/metrics`, and PostgreSQL clusters of a test's own.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tresor_kmip::ProtocolVersion;
pub use tresor_testkit::kmip::{
    byte_strings, create_payload, register_secret_payload, uid, uid_of,
};
pub use tresor_testkit::pg::Cluster;
pub use tresor_testkit::run_ok;
use tresor_testkit::{TestServer, cli};

use super::test_logs;

pub const V: ProtocolVersion = ProtocolVersion::V1_4;
pub const V2: ProtocolVersion = ProtocolVersion::V2_0;

// ---- processes ----------------------------------------------------------------------------

pub fn tresor(home: &Path) -> Command {
    cli::command(env!("CARGO_BIN_EXE_tresor"), home)
}

pub fn certs(home: &Path, name: &str) -> PathBuf {
    cli::certs_init(tresor(home), home.join(name))
}

/// A `tresor kmip serve` child; everything it prints (stdout and stderr) is kept; killed on
/// drop.
pub struct Server {
    pub server: TestServer,
    pub port: u16,
    pub metrics: Option<String>,
}

impl Server {
    /// Starts `tresor [pre…] kmip serve --listen 127.0.0.1:0 [args…]` with `env`.
    pub fn spawn(home: &Path, pre: &[&str], args: &[String], env: &[(&str, String)]) -> Server {
        let mut c = tresor(home);
        c.args(pre).args(cli::KMIP_SERVE).args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let server =
            TestServer::start_keeping_stdout(&mut c, Duration::from_secs(120), test_logs::tee);
        let metrics = server.listener("kmip: metrics (/metrics, /healthz, /readyz)");
        Server {
            port: server.port(),
            metrics,
            server,
        }
    }

    pub fn log(&self) -> String {
        self.server.log()
    }

    /// The address a listener announced in a line `PREFIX… listening on ADDR`.
    pub fn listener(&self, prefix: &str) -> Option<String> {
        self.server.listener(prefix)
    }

    /// Waits (up to 60 s) for a line containing `text`.
    pub fn wait_for(&self, text: &str) {
        self.server.wait_for(text, Duration::from_secs(60));
    }

    pub fn signal(&self, sig: &str) {
        self.server.signal(sig);
    }

    /// Waits (up to `secs`) for the process to exit; its status.
    pub fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        self.server.wait_exit(Duration::from_secs(secs))
    }
}

pub use tresor_testkit::cli::serve_args;

// ---- a blocking KMIP client -----------------------------------------------------------------

pub use tresor_testkit::kmip::Client as Kc;

/// A client with `dir`'s `name` certificate speaking `version`, 120 s per request.
pub fn kmip_client(dir: &Path, name: &str, port: u16, version: ProtocolVersion) -> Kc {
    Kc::new(dir, name, port, version, Duration::from_secs(120)).expect("client")
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
