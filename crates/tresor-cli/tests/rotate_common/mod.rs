//! Helpers shared by the rotation tests (`tests/rotate*.rs`): a private `HOME` with a vault,
//! the real `tresor` binary with a clean environment.
#![allow(dead_code)] // each test binary uses a part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `tresor` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_tresor");

/// A temporary `HOME` holding a vault (no passphrase).
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    /// A fresh `HOME` and `tresor init`.
    pub fn new() -> Home {
        let h = Home {
            dir: tempfile::Builder::new()
                .prefix("tresor-rotate-")
                .tempdir()
                .unwrap(),
        };
        h.ok(&["init", "--user", "alice"]);
        h
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A `tresor` command with only PATH, HOME and NO_COLOR set.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("NO_COLOR", "1")
            .args(args);
        c
    }

    /// Runs and returns the output, checking it did not panic.
    pub fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut c = self.cmd(args);
        for (k, v) in envs {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "tresor {args:?} panicked: {err}");
        o
    }

    /// Runs, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_env(args, &[])
    }

    pub fn ok_env(&self, args: &[&str], envs: &[(&str, &str)]) -> String {
        let o = self.run(args, envs);
        assert!(
            o.status.success(),
            "tresor {args:?} failed ({:?}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// `tresor get NAME`.
    pub fn get(&self, name: &str) -> String {
        self.ok(&["get", name])
    }

    /// `tresor add key KEY VALUE --app A --env E` for `A:E:KEY`.
    pub fn add(&self, name: &str, value: &str) {
        let p: Vec<&str> = name.split(':').collect();
        self.ok(&[
            "add", "key", p[2], value, "--app", p[0], "--env", p[1], "--force",
        ]);
    }

    /// Writes an executable script under HOME.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let p = self.path().join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A small xorshift generator (test timing only, never for values).
pub struct Rng(pub u64);

impl Rng {
    pub fn seeded() -> Rng {
        let s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        eprintln!("rng seed {s}");
        Rng(s | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}
