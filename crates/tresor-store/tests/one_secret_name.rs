//! One `SecretName`: tresor's object conventions are spelled in one module.
//!
//! Walks every `crates/*/src/**/*.rs` file of the workspace and fails when a string literal
//! spells one of tresor's attribute names or reserved name prefixes anywhere but
//! `tresor-store/src/secret_name.rs` (the definitions) and `tresor-store/src/reserved.rs`
//! (the reserved-namespace rules, whose tests spell reserved names on purpose). Every other
//! file uses the constants of `tresor_store::secret_name`. Comment and doc lines (`//`) are
//! not code and are skipped.

use std::path::{Path, PathBuf};

/// Openings of the literals that must appear in the allowed files only: every `tresor.NAME`
/// attribute name, whatever follows, and the reserved name prefixes. (`tresor:` alone opens
/// other things too: ciphertext envelopes, messages, `tresor://` references.)
const SPELLED_ONCE: &[&str] = &[
    "\"tresor.",
    "\"tresor-key:",
    "\"tresor:user:",
    "\"tresor:identity:",
    "\"tresor:app:",
    "\"tresor:rotator:",
];

/// Literals that open like an attribute name but are not one: file names and the Python
/// wheel's module names.
const NOT_ATTRIBUTES: &[&str] = &[
    "\"tresor.db",
    "\"tresor.toml\"",
    "\"tresor.errors\"",
    "\"tresor.vault\"",
    "\"tresor.kmip\"",
    "\"tresor.keys\"",
    "\"tresor._tresor\"",
];

/// The files that may spell them, relative to `crates/`.
const ALLOWED: &[&str] = &[
    "tresor-store/src/secret_name.rs",
    "tresor-store/src/reserved.rs",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `(file:line, literal)` of every literal of [`SPELLED_ONCE`] in `text`, outside comments.
fn copies(file: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for lit in SPELLED_ONCE {
            for (at, _) in line.match_indices(lit) {
                let rest = &line[at..];
                if NOT_ATTRIBUTES.iter().any(|n| rest.starts_with(n)) {
                    continue;
                }
                // The literal up to its closing quote (or the line's end).
                let end = rest[1..].find('"').map_or(rest.len(), |e| e + 2);
                found.push(format!("{file}:{}: {}", i + 1, &rest[..end]));
            }
        }
    }
    found
}

#[test]
fn conventions_are_spelled_in_one_module() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for c in std::fs::read_dir(&crates).expect("crates/").flatten() {
        rust_files(&c.path().join("src"), &mut files);
    }
    assert!(
        files.len() > 50,
        "the walk found only {} files under {}",
        files.len(),
        crates.display()
    );
    let mut found = Vec::new();
    let mut seen_allowed = 0;
    for f in &files {
        let rel = f
            .strip_prefix(&crates)
            .expect("under crates/")
            .to_string_lossy()
            .replace('\\', "/");
        if ALLOWED.contains(&rel.as_str()) {
            seen_allowed += 1;
            continue;
        }
        let text = std::fs::read_to_string(f).expect("readable source");
        found.extend(copies(&rel, &text));
    }
    assert_eq!(seen_allowed, ALLOWED.len(), "the allowed files moved");
    assert!(
        found.is_empty(),
        "tresor's attribute names and reserved prefixes are spelled outside \
         tresor_store::secret_name; use its constants instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_a_copy() {
    let code = "let r = m.attr_str(\"tresor.role\");\n// \"tresor.type\" in a comment\n\
                let n = format!(\"tresor:user:{u}\");\n\
                let db = dir.join(\"tresor.db-wal\"); let a = \"tresor.newattr\";";
    assert_eq!(
        copies("x.rs", code),
        [
            "x.rs:1: \"tresor.role\"",
            "x.rs:3: \"tresor:user:{u}\"",
            "x.rs:4: \"tresor.newattr\""
        ]
    );
}
