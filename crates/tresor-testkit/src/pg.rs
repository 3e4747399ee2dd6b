//! Throw-away PostgreSQL clusters of a test's own, from `scripts/pg.sh`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::skip_or_fail;

/// `scripts/pg.sh` of this repository.
pub fn pg_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh")
}

/// A PostgreSQL cluster of this test's own (`scripts/pg.sh start`), stopped and removed on
/// drop.
pub struct Cluster {
    /// Its folder (`TRESOR_PG_DIR`).
    pub dir: String,
    /// Its admin URL (`TRESOR_TEST_PG_URL`).
    pub url: String,
    /// Its CA certificate (`TRESOR_PG_CA`), with `--ssl`.
    pub ca: Option<String>,
}

impl Cluster {
    /// Starts one (`ssl`: `pg.sh start --ssl`); `None` (after [`skip_or_fail`]) when
    /// PostgreSQL cannot be started here.
    pub fn start(ssl: bool) -> Option<Cluster> {
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

    /// Its port (kept across `stop-keep` / `start-existing`).
    pub fn port(&self) -> u16 {
        std::fs::read_to_string(Path::new(&self.dir).join("port"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// `scripts/pg.sh VERB DIR` (`stop-keep`, `crash`, `start-existing`).
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
