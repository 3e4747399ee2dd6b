//! The CLI is thin: only `tresor-cli` parses command lines. No library crate may depend on
//! `clap` (under any dependency kind or feature), as `cargo metadata` reports the manifests.

use std::process::Command;

/// The library crates that must not know about command lines.
const LIBRARIES: &[&str] = &[
    "tresor-kmip",
    "tresor-keys",
    "tresor-keyring",
    "tresor-s3",
    "tresor-vault",
    "tresor-store",
    "tresor-crypto",
];

#[test]
fn no_library_depends_on_clap() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .args(["--manifest-path", manifest])
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let mut offenders = Vec::new();
    for lib in LIBRARIES {
        let p = packages
            .iter()
            .find(|p| p["name"] == *lib)
            .unwrap_or_else(|| panic!("{lib} is not a workspace member"));
        for d in p["dependencies"].as_array().expect("dependencies") {
            if d["name"] == "clap" || d["rename"] == "clap" {
                offenders.push(format!("{lib} ({} dependency)", d["kind"]));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "libraries depending on clap (command lines belong in tresor-cli): {offenders:?}"
    );
    // The check sees dependencies at all: tresor-cli itself depends on clap.
    let cli = packages
        .iter()
        .find(|p| p["name"] == "tresor-cli")
        .expect("tresor-cli");
    assert!(
        cli["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .any(|d| d["name"] == "clap")
    );
}
