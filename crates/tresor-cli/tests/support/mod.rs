//! Shared harness for the tests that drive `tresor kmip serve` as a process: the binary (or a
//! release build named by `TRESOR_FAULTS_BIN`, for the full fault campaign in bench/faults/),
//! a server child whose output is kept, a blocking KMIP client, a PostgreSQL cluster of the
//! test's own (scripts/pg.sh) and a seeded random source whose seed is printed for replay.
//!
//! Each test file that uses it declares `mod support;`; not every file uses every item.
#![allow(dead_code)]

pub mod s3_proxy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tresor_kmip::ProtocolVersion;
use tresor_testkit::cli;

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
    cli::command(tresor_bin(), home)
}

/// `tresor kmip certs init home/name`.
pub fn certs(home: &Path, name: &str) -> PathBuf {
    cli::certs_init(tresor(home), home.join(name))
}

/// Starts `tresor [pre…] kmip serve --listen 127.0.0.1:0 [args…]` with `env`; everything it
/// prints (stdout and stderr) is kept; killed on drop.
pub fn spawn_server(
    home: &Path,
    pre: &[&str],
    args: &[String],
    env: &[(&str, String)],
) -> TestServer {
    let mut c = tresor(home);
    c.args(pre).args(cli::KMIP_SERVE).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    TestServer::start_keeping_stdout(&mut c, Duration::from_secs(120), |e| e)
}

// ---- a blocking KMIP client -----------------------------------------------------------------

#[allow(unused_imports)]
pub use tresor_testkit::cli::serve_args;
/// tresor's KMIP client for plain test threads (`Kc::new(dir, "client", port, V, timeout)`).
// Shared by several targets; not every one uses each of these.
#[allow(unused_imports)]
pub use tresor_testkit::kmip::{Client as Kc, create_payload, uid, uid_of};
#[allow(unused_imports)]
pub use tresor_testkit::pg::Cluster;
#[allow(unused_imports)]
pub use tresor_testkit::{TestServer, run_ok, skip_or_fail};

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
