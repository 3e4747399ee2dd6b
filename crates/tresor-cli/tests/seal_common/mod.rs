//! Shared helpers of the sealed-file tests (`seal_*.rs`): a temp folder with an age
//! identity, and the real `tresor` binary with a cleared environment.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt;

/// A temp folder with an age identity (`alice`) and a work folder.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub alice: PathBuf,
    pub alice_pub: String,
}

/// A new age identity written to `path`; returns its recipient.
pub fn age_identity(path: &Path) -> String {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    std::fs::write(path, format!("{}\n", id.to_string().expose_secret())).unwrap();
    id.to_public().to_string()
}

pub fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::create_dir(dir.path().join("work")).unwrap();
    std::fs::create_dir(dir.path().join("run")).unwrap();
    let alice = dir.path().join("keys/alice.txt");
    let alice_pub = age_identity(&alice);
    Env {
        dir,
        alice,
        alice_pub,
    }
}

impl Env {
    /// A path in the work folder.
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join("work").join(p)
    }

    pub fn write(&self, p: &str, text: &str) {
        std::fs::write(self.path(p), text).unwrap();
    }

    pub fn read(&self, p: &str) -> String {
        std::fs::read_to_string(self.path(p)).unwrap()
    }

    /// `tresor` in the work folder, environment cleared (PATH, HOME, XDG_RUNTIME_DIR kept),
    /// `TRESOR_IDENTITY` set to `id` when given.
    pub fn tresor(&self, id: Option<&Path>) -> Command {
        let mut c = Command::cargo_bin("tresor").unwrap();
        c.current_dir(self.path(""));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("HOME", self.dir.path())
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"));
        if let Some(i) = id {
            c.env("TRESOR_IDENTITY", i);
        }
        c
    }

    pub fn run(&self, id: Option<&Path>, args: &[&str]) -> Output {
        self.tresor(id).args(args).output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, id: Option<&Path>, args: &[&str]) -> String {
        let o = self.run(id, args);
        assert!(
            o.status.success(),
            "tresor {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs and asserts failure; returns stderr.
    pub fn fails(&self, id: Option<&Path>, args: &[&str]) -> String {
        let o = self.run(id, args);
        assert!(
            !o.status.success(),
            "tresor {args:?} should fail: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8(o.stderr).unwrap()
    }
}

/// The system Python (the tests clear the environment, so a pyenv shim would not work).
pub fn python() -> String {
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("python3")
        .to_owned()
}
