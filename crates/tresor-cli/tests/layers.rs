//! The layer rule of docs/ARCHITECTURE.md, checked on the manifests: no door crate depends on
//! another door, and the store and crypto layers depend on no door. Dev-dependencies (tests
//! that inject a real kernel keyring, say) are not part of a crate's build and are allowed.

use std::process::Command;

const DOORS: &[&str] = &[
    "tresor-vault",
    "tresor-kmip",
    "tresor-keys",
    "tresor-keyring",
    "tresor-s3",
];
const LAYERS_BELOW: &[&str] = &["tresor-store", "tresor-crypto"];

/// (crate, its normal and build dependencies, optional ones included) for each workspace crate.
fn dependencies() -> Vec<(String, Vec<String>)> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = meta["packages"].as_array().expect("packages");
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .map(|d| d["name"].as_str().expect("name").to_owned())
                .collect();
            (p["name"].as_str().expect("name").to_owned(), deps)
        })
        .collect()
}

fn offenders(of: &[&str], forbidden: &[&str]) -> Vec<String> {
    let all = dependencies();
    assert!(
        of.iter().all(|c| all.iter().any(|(n, _)| n == c)),
        "a crate named here is not in the workspace: {of:?}"
    );
    all.iter()
        .filter(|(n, _)| of.contains(&n.as_str()))
        .flat_map(|(n, deps)| {
            deps.iter()
                .filter(move |d| forbidden.contains(&d.as_str()) && *d != n)
                .map(move |d| format!("{n} -> {d}"))
        })
        .collect()
}

#[test]
fn no_door_depends_on_another_door() {
    let bad = offenders(DOORS, DOORS);
    assert!(bad.is_empty(), "doors depend on doors: {bad:?}");
}

#[test]
fn store_and_crypto_depend_on_no_door() {
    let bad = offenders(LAYERS_BELOW, DOORS);
    assert!(bad.is_empty(), "lower layers depend on doors: {bad:?}");
}

#[test]
fn the_check_sees_a_door_dependency() {
    // The binary depends on every door: the same walk must report it, or the two tests
    // above could pass by seeing nothing.
    let bad = offenders(&["tresor-cli"], DOORS);
    assert!(bad.len() >= 4, "{bad:?}");
}
