//! Every `tresor kmip serve` the integration tests start keeps its log under
//! `target/test-logs/servers/`, and tests register the secrets they use in
//! `target/test-logs/secrets/`, so that `tests/log_secrets.rs` (run at the end of
//! `scripts/test.sh`) can check that no secret appears in any server log of the run.
//!
//! Harnesses wrap the server's stderr in [`tee`] (the lines they read are copied to a file);
//! tests call [`secret`] for the values they send.

#![allow(dead_code)] // each test binary uses part of it

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `target/test-logs` (under `CARGO_TARGET_DIR` when cargo was given one).
pub fn dir() -> PathBuf {
    match option_env!("CARGO_TARGET_DIR") {
        Some(t) => PathBuf::from(t),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
    .join("test-logs")
}

/// This test binary's name and process id: `NAME-PID`.
fn me() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_deref()
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "test".into());
    format!("{stem}-{}", std::process::id())
}

/// A reader that copies everything read through it to a new file under
/// `target/test-logs/servers/` (if it cannot be made, it only reads).
pub struct Tee<R> {
    inner: R,
    file: Option<File>,
}

/// Wraps a server's stderr: what the harness reads is also kept for the final log check.
pub fn tee<R: Read>(inner: R) -> Tee<R> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = dir().join("servers");
    let _ = std::fs::create_dir_all(&d);
    let path = d.join(format!(
        "{}-{}.log",
        me(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    Tee {
        inner,
        file: File::create(path).ok(),
    }
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(f) = &mut self.file {
            let _ = f.write_all(&buf[..n]);
        }
        Ok(n)
    }
}

/// Registers a value a test sent to a server as a secret that no server log may contain
/// (values under 10 bytes are too likely to occur by chance and are not registered).
pub fn secret(value: &[u8]) {
    if value.len() < 10 {
        return;
    }
    let d = dir().join("secrets");
    let _ = std::fs::create_dir_all(&d);
    if let Ok(mut f) = OpenOptions::new()
        .create(true)
        .append(true)
        .open(d.join(format!("{}.hex", me())))
    {
        let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(f, "{hex}");
    }
}
