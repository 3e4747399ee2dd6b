//! Test helpers: [`TestVault`] (a private temporary `HOME`, every `TRESOR_*` variable cleared)
//! and [`TestCommand`], which runs the real `tresor` binary and checks it never panics.

/// Server logs and registered secrets for the final log check (`tests/log_secrets.rs`).
#[path = "../common/test_logs.rs"]
pub mod test_logs;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tresor_testkit::{TestServer, cli};

/// The `tresor` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_tresor");

/// A temporary `HOME`; the vault (once made) lives at the default place under it,
/// `$HOME/.local/share/tresor`.
#[derive(Debug)]
pub struct TestVault {
    // Declared first so the server stops before its folder is removed.
    remote: Option<RemoteServer>,
    home: tempfile::TempDir,
    envs: Vec<(String, String)>,
}

/// A `tresor kmip serve` child (its vault in `HOME/server-vault`, certificates from
/// `tresor kmip certs init HOME/certs`), killed on drop.
#[derive(Debug)]
pub struct RemoteServer {
    _server: TestServer,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The certificate folder (`ca.crt`, `client.crt`, `client.key`, …).
    pub certs: PathBuf,
    /// The server's vault folder (for `tresor --vault DIR kmip grant`).
    #[allow(dead_code)] // used by tests/remote.rs only
    pub vault: PathBuf,
    /// The client certificate name commands use (`client` unless changed).
    identity: std::sync::Mutex<String>,
}

impl TestVault {
    /// A temporary `HOME` with no vault yet.
    pub fn empty() -> TestVault {
        TestVault {
            home: tempfile::Builder::new()
                .prefix("tresor-test-")
                .tempdir()
                .expect("temp HOME"),
            envs: Vec::new(),
            remote: None,
        }
    }

    /// A temporary `HOME` with a vault owned by `alice`; in the remote test binary
    /// (`crate::REMOTE`), a vault on a fresh `tresor kmip serve` that every command reaches
    /// with `--server` settings (`TRESOR_SERVER`, `TRESOR_CLIENT_*`).
    pub fn new() -> TestVault {
        if crate::REMOTE {
            TestVault::remote()
        } else {
            TestVault::with_user("alice")
        }
    }

    /// Who the audit trail and history name for this vault's commands: the owner `alice`
    /// of a local vault, the client certificate's identity on a server.
    pub fn actor(&self) -> String {
        match &self.remote {
            Some(r) => r.identity.lock().unwrap().clone(),
            None => "alice".into(),
        }
    }

    /// A temporary `HOME` whose commands go to a fresh KMIP server as identity `client`;
    /// every identity may create names under every app (`tresor kmip apps allow '*' '*'`,
    /// the open team server the shared tests assume).
    pub fn remote() -> TestVault {
        TestVault::remote_with_apps(&[("*", "*")])
    }

    /// As [`TestVault::remote`], with only the app policies `(app, identity)` given
    /// (`tresor kmip apps allow APP IDENTITY` on the server's store before it starts).
    pub fn remote_with_apps(allow: &[(&str, &str)]) -> TestVault {
        let mut tv = TestVault::empty();
        let certs = tv.path("certs");
        let vault = tv.path("server-vault");
        tv.cmd()
            .args(["kmip", "certs", "init"])
            .arg(&certs)
            .stdout();
        for (app, identity) in allow {
            tv.cmd()
                .arg("--vault")
                .arg(&vault)
                .args(["kmip", "apps", "allow", app, identity])
                .stdout();
        }
        // No time limit: this harness has always waited for the server as long as it runs.
        let server = TestServer::start_with(
            cli::kmip_serve(tv.cmd().arg("--vault").arg(&vault).command(), &certs)
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
            Duration::MAX,
            test_logs::tee,
        );
        tv.remote = Some(RemoteServer {
            addr: server.addr().to_owned(),
            _server: server,
            certs,
            vault,
            identity: std::sync::Mutex::new("client".into()),
        });
        tv
    }

    #[allow(dead_code)] // used by tests/remote.rs only
    /// The KMIP server of a remote-mode vault.
    pub fn server(&self) -> Option<&RemoteServer> {
        self.remote.as_ref()
    }

    #[allow(dead_code)] // used by tests/remote.rs only
    /// Makes later commands act as KMIP identity `name` (a client certificate signed by the
    /// test CA, made on first use). Remote mode only.
    pub fn act_as(&self, name: &str) {
        let r = self.remote.as_ref().expect("act_as needs a remote vault");
        if name != "client" && !r.certs.join(format!("{name}.crt")).exists() {
            self.cmd()
                .args(["kmip", "certs", "client"])
                .arg(&r.certs)
                .arg(name)
                .stdout();
        }
        *r.identity.lock().unwrap() = name.to_owned();
    }

    /// A temporary `HOME` with a vault owned by `user`.
    pub fn with_user(user: &str) -> TestVault {
        let tv = TestVault::empty();
        tv.run([
            "init",
            "--user",
            user,
            "--email",
            &format!("{user}@example.org"),
        ]);
        tv
    }

    /// The temporary `HOME` (also the working directory of commands).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The default vault folder under `HOME`.
    pub fn dir(&self) -> PathBuf {
        self.home().join(".local/share/tresor")
    }

    /// The vault database.
    pub fn db(&self) -> PathBuf {
        self.dir().join("tresor.db")
    }

    /// A path under `HOME`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.home().join(rel)
    }

    /// Writes a file under `HOME` and returns its path.
    pub fn write(&self, rel: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A `tresor` command: cleared environment, `HOME` set, stdin empty, cwd = `HOME`.
    pub fn cmd(&self) -> TestCommand {
        let mut c = Command::new(BIN);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("USER", "tester")
            .env("NO_COLOR", "1")
            .current_dir(self.home())
            .stdin(Stdio::null());
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        if let Some(r) = &self.remote {
            let id = r.identity.lock().unwrap().clone();
            c.env("TRESOR_SERVER", &r.addr)
                .env("TRESOR_CLIENT_CERT", r.certs.join(format!("{id}.crt")))
                .env("TRESOR_CLIENT_KEY", r.certs.join(format!("{id}.key")))
                .env("TRESOR_CLIENT_CA", r.certs.join("ca.crt"));
        }
        TestCommand {
            cmd: c,
            stdin: None,
        }
    }

    /// Runs `tresor ARGS`, asserts exit 0, returns stdout.
    pub fn run<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd().args(args).stdout()
    }

    /// Runs `tresor ARGS` with `stdin`, asserts exit 0, returns stdout.
    pub fn run_stdin<I, S>(&self, args: I, stdin: impl Into<Vec<u8>>) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd().args(args).stdin(stdin).stdout()
    }

    /// Runs `tresor ARGS`, asserts exit `code`, returns stderr.
    pub fn fail<I, S>(&self, code: i32, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let o = self.cmd().args(args).code(code);
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// Adds `app:env:key = value` (value as an argument).
    pub fn add(&self, app: &str, env: &str, key: &str, value: &str) {
        if self.remote.is_some() {
            test_logs::secret(value.as_bytes());
        }
        self.run(["add", "key", key, value, "--app", app, "--env", env]);
    }

    /// The value `tresor get FILTER` prints.
    pub fn get(&self, filter: &str) -> String {
        self.run(["get", filter])
    }

    /// `tresor list --json --reveal` as `name -> value`.
    pub fn secrets(&self) -> BTreeMap<String, String> {
        let v: serde_json::Value = serde_json::from_str(&self.run(["list", "--json", "--reveal"]))
            .expect("list --json is JSON");
        v.as_array()
            .expect("array")
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_owned(),
                    s["value"].as_str().unwrap_or("<binary>").to_owned(),
                )
            })
            .collect()
    }

    /// Everything a command could change, as text: secrets with values, users, audit log
    /// (remote mode: the secrets with values, all a client can see).
    pub fn snapshot(&self) -> String {
        if self.remote.is_some() {
            // A KMIP read persists a scheduled state change that has come due (Activation
            // Date reached: "scheduled state change" in the audit), which moves the object's
            // Last Change Date. Read once to let those settle, so that two snapshots differ
            // only by what the command between them wrote.
            self.run(["list", "--json", "--reveal"]);
            return self.run(["list", "--json", "--reveal"]);
        }
        format!(
            "{}\n{}\n{}",
            self.run(["list", "--json", "--reveal"]),
            self.run(["users", "--json"]),
            self.run(["audit", "--json"])
        )
    }

    /// The bytes of every file in the vault folder, by name.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut m = BTreeMap::new();
        for e in std::fs::read_dir(self.dir()).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                m.insert(
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                );
            }
        }
        m
    }

    /// This vault's public key (`tresor public-key`).
    pub fn public_key(&self) -> String {
        self.run(["public-key"]).trim().to_owned()
    }
}

/// One `tresor` invocation.
#[derive(Debug)]
pub struct TestCommand {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl TestCommand {
    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut TestCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Adds one argument.
    pub fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut TestCommand {
        self.cmd.arg(a);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, k: &str, v: impl AsRef<OsStr>) -> &mut TestCommand {
        self.cmd.env(k, v);
        self
    }

    /// Feeds `bytes` on stdin (a pipe, never a terminal).
    pub fn stdin(&mut self, bytes: impl Into<Vec<u8>>) -> &mut TestCommand {
        self.stdin = Some(bytes.into());
        self
    }

    /// The underlying command (for `spawn`).
    pub fn command(&mut self) -> &mut Command {
        &mut self.cmd
    }

    /// Runs to completion; fails the test if the binary panicked.
    pub fn output(&mut self) -> Output {
        let mut a =
            assert_cmd::Command::from_std(std::mem::replace(&mut self.cmd, Command::new(BIN)));
        if let Some(s) = self.stdin.take() {
            a.write_stdin(s);
        }
        let o = a.output().expect("run tresor");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "tresor panicked:\n{err}");
        assert!(!err.contains("RUST_BACKTRACE"), "tresor panicked:\n{err}");
        o
    }

    /// Runs, asserts exit 0, returns stdout.
    pub fn stdout(&mut self) -> String {
        let o = self.output();
        assert!(
            o.status.success(),
            "expected success, got {:?}\nstdout: {}\nstderr: {}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).expect("UTF-8 stdout")
    }

    /// Runs, asserts the exit code; returns the output.
    pub fn code(&mut self, code: i32) -> Output {
        let o = self.output();
        assert_eq!(
            o.status.code(),
            Some(code),
            "unexpected exit\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }
}

/// The stderr of an output, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that `haystack` contains every needle, printing it otherwise.
#[track_caller]
pub fn contains_all(haystack: &str, needles: &[&str]) {
    for n in needles {
        assert!(
            haystack.contains(n),
            "expected to find {n:?} in:\n{haystack}"
        );
    }
}

/// The unix mode bits of a path.
pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A hex string of `n` random bytes (from the OS), to use as an unguessable value.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    use std::io::Read as _;
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A small deterministic PRNG (xorshift64*), seeded per test and printed, so a failing
/// random schedule can be replayed with `TRESOR_TEST_SEED`.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeds from `TRESOR_TEST_SEED` or the OS, printing the seed.
    pub fn new(what: &str) -> Rng {
        let seed = std::env::var("TRESOR_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| u64::from_str_radix(&random_hex(8), 16).unwrap() | 1);
        eprintln!("{what}: seed {seed} (set TRESOR_TEST_SEED={seed} to replay)");
        Rng(seed)
    }

    /// The next number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// The python of the seeqret 1.0.5 venv (`TRESOR_SEEQRET_PY`, see `tests/peers/setup.sh`).
/// `None` (after printing a notice) when unset; under `CI=true` an unset variable fails.
pub fn seeqret_python(test: &str) -> Option<PathBuf> {
    match std::env::var_os("TRESOR_SEEQRET_PY").filter(|v| !v.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            assert!(
                !matches!(std::env::var("CI").as_deref(), Ok("true" | "1")),
                "{test}: TRESOR_SEEQRET_PY is not set under CI=true; run \
                 'eval \"$(tests/peers/setup.sh)\"' first"
            );
            eprintln!(
                "notice: {test} skipped: TRESOR_SEEQRET_PY is not set \
                 (eval \"$(tests/peers/setup.sh)\" to enable it)"
            );
            None
        }
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_owned()
}
