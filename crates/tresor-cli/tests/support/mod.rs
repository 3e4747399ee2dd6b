//! Shared harness for the tests that drive `tresor kmip serve` as a process: the binary (or a
//! release build named by `TRESOR_FAULTS_BIN`, for the full fault campaign in bench/faults/),
//! a server child whose output is kept, a blocking KMIP client, a PostgreSQL cluster of the
//! test's own (scripts/pg.sh) and a seeded random source whose seed is printed for replay.
//!
//! Each test file that uses it declares `mod support;`; not every file uses every item.
#![allow(dead_code)]

pub mod s3_proxy;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tresor_kmip::ProtocolVersion;

pub const V: ProtocolVersion = ProtocolVersion::V1_4;

// ---- processes ----------------------------------------------------------------------------

/// The `tresor` binary under test: `TRESOR_FAULTS_BIN` when set (bench/faults/ points it at a
/// release build), else the one cargo built for this test.
pub fn tresor_bin() -> PathBuf {
    std::env::var_os("TRESOR_FAULTS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tresor")))
}

/// `tresor` with a clean environment and `HOME=home`.
pub fn tresor(home: &Path) -> Command {
    let mut c = Command::new(tresor_bin());
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1");
    c
}

/// `tresor kmip certs init home/name`.
pub fn certs(home: &Path, name: &str) -> PathBuf {
    let dir = home.join(name);
    let mut c = tresor(home);
    c.args(["kmip", "certs", "init"]).arg(&dir);
    run_ok(c);
    dir
}

/// `--cert/--key/--ca` for `kmip serve` from a `kmip certs init` folder.
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

/// A `tresor kmip serve` child; everything it prints (stdout and stderr) is kept; killed on
/// drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
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
            Box::new(child.stderr.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let l = log.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(a) = line.strip_prefix("listening on ") {
                        let _ = tx.send(a.trim().to_owned());
                    }
                    let mut l = l.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let port = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(a) => a.rsplit(':').next().unwrap().parse::<u16>().unwrap(),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not start ({e}): {}", log.lock().unwrap());
            }
        };
        Server { child, port, log }
    }

    /// Everything the server printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGKILL (std's `kill` on Unix) and reap.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        let _ = self.child.wait();
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- a blocking KMIP client -----------------------------------------------------------------

/// tresor's KMIP client for plain test threads (`Kc::new(dir, "client", port, V, timeout)`).
// Shared by several targets; not every one uses each of these.
#[allow(unused_imports)]
pub use tresor_testkit::kmip::{Client as Kc, create_payload, uid, uid_of};
#[allow(unused_imports)]
pub use tresor_testkit::pg::pg_script;
#[allow(unused_imports)]
pub use tresor_testkit::{run_ok, skip_or_fail};

/// `tresor list --json` of the vault at `pre` (e.g. `--vault DIR`): name → states of the
/// objects carrying it.
pub fn stored(home: &Path, pre: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut c = tresor(home);
    c.args(pre).args(["list", "--json"]);
    let out = run_ok(c);
    let all: Vec<serde_json::Value> = serde_json::from_str(&out).expect("list --json");
    let mut n: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in all {
        if let Some(k) = s["key"].as_str() {
            n.entry(k.to_owned())
                .or_default()
                .push(s["state"].as_str().unwrap_or("").to_owned());
        }
    }
    n
}

/// An integer from the environment, or `default`.
pub fn env_num(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift64 seeded from `TRESOR_FAULTS_SEED` or the clock; the seed is printed to replay a
/// failure.
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Rng {
        let seed = env_num(
            "TRESOR_FAULTS_SEED",
            u64::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos(),
            ),
        ) | 1;
        eprintln!("seed {seed} (TRESOR_FAULTS_SEED={seed} replays it)");
        Rng(seed)
    }

    /// A number in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo).max(1)
    }
}

// ---- skips ----------------------------------------------------------------------------------

// ---- PostgreSQL -----------------------------------------------------------------------------

/// A PostgreSQL cluster of this test's own (scripts/pg.sh), removed on drop.
pub struct Cluster {
    pub dir: String,
    pub url: String,
    pub port: u16,
}

impl Cluster {
    /// Starts one; `None` (after [`skip_or_fail`]) when PostgreSQL is not installed.
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
        let dir = vars["TRESOR_PG_DIR"].clone();
        let port = std::fs::read_to_string(Path::new(&dir).join("port"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Some(Cluster {
            dir,
            url: vars["TRESOR_TEST_PG_URL"].clone(),
            port,
        })
    }

    /// `scripts/pg.sh VERB DIR` (`stop-keep`, `start-existing`).
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

/// Polls `f` every 100 ms until it is true or `secs` pass; whether it became true.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
