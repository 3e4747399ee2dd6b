//! Progress and feedback of long commands (issue 17, item 5), on the real binary: not a
//! terminal ⇒ no bar bytes and the one-line summary; `--quiet` ⇒ nothing on stderr;
//! `--json` ⇒ a parseable summary on stdout; a terminal (a pseudo-terminal made by
//! util-linux's `script`) ⇒ a bar, without colours under `NO_COLOR`.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tresor");
/// Secrets in the imported file: how many.
const N: usize = 250;

/// A private HOME with a vault (no passphrase) and a .env file of [`N`] variables.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let h = Home {
            dir: tempfile::Builder::new()
                .prefix("tresor-progress-")
                .tempdir()
                .unwrap(),
        };
        let out = h.cmd(&["init", "--user", "alice"]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let env: String = (0..N)
            .map(|i| format!("VAR_{i}=progress-test-value-{i}\n"))
            .collect();
        std::fs::write(h.path("vars.env"), env).unwrap();
        h
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn vault(&self) -> PathBuf {
        self.path("vault")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("TRESOR_") {
                c.env_remove(&k);
            }
        }
        c.env("HOME", self.dir.path())
            .env("TRESOR_VAULT", self.vault())
            .env_remove("NO_COLOR")
            .current_dir(self.dir.path())
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "tresor {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn db(&self) -> String {
        format!("sqlite:{}", self.vault().join("tresor.db").display())
    }
}

/// No carriage return and no escape sequence: nothing a bar draws.
fn no_bar(what: &str, bytes: &[u8]) {
    assert!(
        !bytes.contains(&b'\r') && !bytes.contains(&0x1b),
        "{what}: bar bytes on a non-terminal: {:?}",
        String::from_utf8_lossy(bytes)
    );
}

/// The one summary line: `VERB … in N ms|s`.
fn summary(what: &str, stderr: &[u8], starts: &str) {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: one summary line: {text:?}");
    assert!(
        lines[0].starts_with(starts) && (lines[0].ends_with(" ms") || lines[0].ends_with(" s")),
        "{what}: {text:?}"
    );
}

#[test]
fn not_a_terminal_prints_the_summary_and_no_bar() {
    let h = Home::new();
    let out = h.run(&["importenv", "vars.env", "--app", "web", "--env", "dev"]);
    no_bar("importenv", &out.stderr);
    summary(
        "importenv",
        &out.stderr,
        &format!("imported {N} secret(s): {N} added, 0 updated, 0 unchanged"),
    );
    let out = h.run(&["backup", "-o", "b.bak"]);
    no_bar("backup", &out.stderr);
    summary(
        "backup",
        &out.stderr,
        &format!("backed up {} objects", N + 2),
    );
    let out = h.run(&["restore", "b.bak", "--yes"]);
    no_bar("restore", &out.stderr);
    summary(
        "restore",
        &out.stderr,
        &format!("restored {} objects", N + 2),
    );
    let to = format!("sqlite:{}", h.path("copy.db").display());
    let out = h.run(&["migrate", "--from", &h.db(), "--to", &to]);
    no_bar("migrate", &out.stderr);
    summary(
        "migrate",
        &out.stderr,
        &format!("migrated {} objects", N + 2),
    );
    assert!(out.stdout.is_empty(), "migrate: the summary is on stderr");
}

#[test]
fn quiet_prints_nothing_on_stderr() {
    let h = Home::new();
    let to = format!("sqlite:{}", h.path("copy.db").display());
    for args in [
        &[
            "--quiet",
            "importenv",
            "vars.env",
            "--app",
            "web",
            "--env",
            "dev",
        ][..],
        &[
            "-q",
            "importenv",
            "vars.env",
            "--app",
            "web",
            "--env",
            "dev",
            "--update",
        ],
        &["backup", "-o", "b.bak", "-q"],
        &["restore", "b.bak", "--yes", "--quiet"],
        &["migrate", "--from", &h.db(), "--to", &to, "--quiet"],
    ] {
        let out = h.run(args);
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {:?}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Errors still are reported under --quiet.
    let out = h
        .cmd(&["-q", "restore", "missing.bak", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error:"));
}

#[test]
fn json_summary_is_parseable_on_stdout() {
    let h = Home::new();
    let json = |args: &[&str]| -> serde_json::Value {
        let out = h.run(args);
        no_bar("json", &out.stderr);
        assert!(
            out.stderr.is_empty(),
            "{args:?}: no stderr summary with --json: {:?}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{args:?}: {e}: {:?}", String::from_utf8_lossy(&out.stdout))
        });
        assert!(v["seconds"].as_f64().is_some_and(|s| s >= 0.0), "{v}");
        v
    };
    let v = json(&[
        "importenv",
        "vars.env",
        "--app",
        "web",
        "--env",
        "dev",
        "--json",
    ]);
    assert_eq!(v["added"].as_array().map(Vec::len), Some(N), "{v}");
    let v = json(&["backup", "-o", "b.bak", "--json"]);
    assert_eq!(v["objects"], N + 2, "{v}");
    assert_eq!(v["versions"], N + 1, "{v}");
    let v = json(&["restore", "b.bak", "--yes", "--json"]);
    assert_eq!(v["objects"], N + 2, "{v}");
    let to = format!("sqlite:{}", h.path("copy.db").display());
    let v = json(&["migrate", "--from", &h.db(), "--to", &to, "--json"]);
    assert_eq!(v["objects"], N + 2, "{v}");
    assert_eq!(v["sha256"].as_str().map(str::len), Some(64), "{v}");
}

/// Runs `sh_cmd` (a shell command line) on a pseudo-terminal with util-linux's `script`;
/// returns what the terminal received.
fn on_terminal(h: &Home, sh_cmd: &str, no_color: bool) -> Vec<u8> {
    let mut c = std::process::Command::new("script");
    c.args(["-q", "-e", "-c", sh_cmd, "/dev/null"])
        .current_dir(h.dir.path())
        .env("HOME", h.dir.path())
        .env("TRESOR_VAULT", h.vault())
        .env("TERM", "xterm-256color")
        .stdin(std::process::Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TRESOR_") && k != "TRESOR_VAULT" {
            c.env_remove(&k);
        }
    }
    if no_color {
        c.env("NO_COLOR", "1");
    } else {
        c.env_remove("NO_COLOR");
    }
    let out = c
        .output()
        .expect("util-linux 'script' (package bsdutils/util-linux) runs the terminal tests");
    assert!(out.status.success(), "{sh_cmd}: {out:?}");
    out.stdout
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display())
}

#[test]
fn a_terminal_gets_a_bar_colours_only_without_no_color() {
    let h = Home::new();
    // stdout goes to a file, so what the terminal shows is stderr only.
    let import = |env: &str| {
        format!(
            "{} importenv vars.env --app web --env {env} > {}",
            q(Path::new(BIN)),
            q(&h.path("names.txt"))
        )
    };
    let seen = on_terminal(&h, &import("a"), false);
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("importing"), "{text:?}");
    assert!(
        text.contains(&format!("/{N}")),
        "a bar counts to {N}: {text:?}"
    );
    assert!(seen.contains(&b'\r'), "{text:?}");
    assert!(text.contains("\x1b[36m"), "coloured bar: {text:?}");
    assert!(
        text.contains(&format!("imported {N} secret(s)")),
        "summary after the bar: {text:?}"
    );

    let seen = on_terminal(&h, &import("b"), true);
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains(&format!("/{N}")), "{text:?}");
    assert!(
        !text.contains("\x1b[3") && !text.contains("\x1b[9"),
        "NO_COLOR: no colour codes: {text:?}"
    );

    // --quiet and --json draw nothing on the terminal.
    for extra in ["--quiet", "--json"] {
        let seen = on_terminal(&h, &format!("{} {extra}", import("c")), false);
        assert!(
            seen.is_empty(),
            "{extra}: {:?}",
            String::from_utf8_lossy(&seen)
        );
        let _ = h.run(&["rm", "key", "web:c:", "--yes", "--all"]);
    }
    // A backup on a terminal: a spinner by phase, then the summary.
    let seen = on_terminal(
        &h,
        &format!("{} backup -o {}", q(Path::new(BIN)), q(&h.path("t.bak"))),
        false,
    );
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("backed up"), "{text:?}");
    assert!(seen.contains(&b'\r'), "{text:?}");
}
