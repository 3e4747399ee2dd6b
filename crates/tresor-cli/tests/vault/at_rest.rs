//! No plaintext at rest: a known long random value, added several ways and then backed up
//! and exported, appears in no file of the vault folder (db, -wal, -shm, backup, export).

use base64::Engine as _;

use crate::util::{TestVault, random_hex};

fn find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn no_plaintext_in_any_vault_file() {
    let tv = TestVault::new();
    let key_value = random_hex(48);
    let text_value = random_hex(48);
    let env_value = random_hex(48);
    // A reader connection kept open stops the last writer from checkpointing and deleting
    // the WAL, so -wal and -shm exist, with every write in them, when the files are searched.
    let reader = rusqlite::Connection::open(tv.db()).unwrap();
    let _: i64 = reader
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    tv.add("app", "prod", "SECRET_NAME_MARKER", &key_value);
    tv.run_stdin(
        ["add", "text", "T", "--app", "app", "--env", "prod"],
        text_value.clone(),
    );
    tv.write("in.env", format!("E={env_value}\n"));
    tv.run(["importenv", "in.env", "--app", "app", "--env", "prod"]);
    tv.run(["edit", "value", "app:prod:T", &format!("{text_value}-v2")]);
    let dir = tv.dir();
    std::fs::create_dir_all(dir.join("backups")).unwrap();
    std::fs::create_dir_all(dir.join("exports")).unwrap();
    tv.cmd()
        .arg("backup")
        .arg("-o")
        .arg(dir.join("backups/vault.backup"))
        .stdout();
    tv.cmd()
        .args(["export", "--to", "alice", "-f", "app:prod:", "-o"])
        .arg(dir.join("exports/me.tresor"))
        .stdout();
    assert!(
        dir.join("tresor.db-wal").exists(),
        "expected a WAL to search"
    );

    let b64 = base64::engine::general_purpose::STANDARD;
    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for v in [&key_value, &text_value, &env_value] {
        needles.push((format!("value {v}"), v.as_bytes().to_vec()));
        // Half of it, and its base64 (the export's inner encoding).
        needles.push((format!("half of {v}"), v.as_bytes()[..48].to_vec()));
        needles.push((format!("base64 of {v}"), b64.encode(v).into_bytes()));
    }
    let files = files_under(&dir);
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "tresor.db",
        "tresor.db-wal",
        "tresor.db-shm",
        "vault.backup",
        "me.tresor",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for (what, n) in &needles {
            assert!(
                !find(&bytes, n),
                "{what} found in plaintext in {}",
                f.display()
            );
        }
    }
    // Sanity: the search does find what is there.
    let wal = std::fs::read(dir.join("tresor.db-wal")).unwrap();
    assert!(!wal.is_empty());
    drop(reader);
    crate::eqnice!(key_value, tv.get("app:prod:SECRET_NAME_MARKER"));
}
