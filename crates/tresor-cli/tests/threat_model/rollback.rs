//! A2/A4: the vault database rolled back behind tresor's back (an older copy of `tresor.db`
//! put back, the last audit rows deleted, the audit head forged). `tresor audit --verify`
//! must say so and exit 1; the audit head beside the key file is what it checks against.

use std::path::{Path, PathBuf};

use crate::util::TestVault;

fn copy_db(from: &Path, to: &Path) {
    for ext in ["", "-wal", "-shm"] {
        let src = PathBuf::from(format!("{}{ext}", from.display()));
        let dst = PathBuf::from(format!("{}{ext}", to.display()));
        let _ = std::fs::remove_file(&dst);
        if src.exists() {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).expect("JSON output")
}

/// The seq of the last audit entry.
fn last_seq(tv: &TestVault) -> u64 {
    json(&tv.run(["audit", "--json"]))
        .as_array()
        .and_then(|a| a.last())
        .and_then(|e| e["seq"].as_u64())
        .expect("an audit entry")
}

#[test]
fn an_older_database_put_back_is_reported() {
    let tv = TestVault::new();
    for i in 0..10 {
        tv.add("shop", "prod", &format!("K{i}"), "v");
    }
    let aside = tv.path("aside.db");
    copy_db(&tv.db(), &aside);
    let old_end = last_seq(&tv);
    for i in 10..15 {
        tv.add("shop", "prod", &format!("K{i}"), "v");
    }
    let head = last_seq(&tv);
    let ok = tv.run(["audit", "--verify"]);
    assert!(ok.contains(&format!("audit head at entry {head}")), "{ok}");
    assert!(tv.dir().join("audit.head").exists());

    copy_db(&aside, &tv.db());
    let e = tv.fail(1, ["audit", "--verify"]);
    assert!(
        e.contains(&format!(
            "audit head at seq {head} but chain ends at {old_end}: entries were deleted or an older database was restored"
        )),
        "{e}"
    );
    let o = tv.cmd().args(["audit", "--verify", "--json"]).code(1);
    let j = json(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(j["ok"], false);
    assert_eq!(j["first_bad"], serde_json::Value::Null);
    assert_eq!(j["missing_tail"], serde_json::json!([head, old_end]));

    // More writes on the restored copy do not wash the rollback out.
    for i in 20..30 {
        tv.add("shop", "prod", &format!("K{i}"), "v");
    }
    let e = tv.fail(1, ["audit", "--verify"]);
    assert!(e.contains(&format!("audit head names entry {head}")), "{e}");
}

#[test]
fn deleted_tail_rows_are_reported() {
    let tv = TestVault::new();
    for i in 0..5 {
        tv.add("shop", "prod", &format!("K{i}"), "v");
    }
    let head = last_seq(&tv);
    let db = rusqlite::Connection::open(tv.db()).unwrap();
    let n = db
        .execute("DELETE FROM audit WHERE seq > ?1", [(head - 3) as i64])
        .unwrap();
    assert_eq!(n, 3);
    drop(db);
    let e = tv.fail(1, ["audit", "--verify"]);
    assert!(
        e.contains(&format!(
            "audit head at seq {head} but chain ends at {}",
            head - 3
        )),
        "{e}"
    );
}

#[test]
fn a_forged_head_is_reported() {
    let tv = TestVault::new();
    tv.add("shop", "prod", "A", "v");
    tv.add("shop", "prod", "B", "v");
    let path = tv.dir().join("audit.head");
    let mut head = json(&std::fs::read_to_string(&path).unwrap());
    // Point the head back at the first entry, as someone without the key would.
    head["seq"] = 1.into();
    head["entry"] = json(&tv.run(["audit", "--json"]))[0]["mac"].clone();
    std::fs::write(&path, head.to_string()).unwrap();
    let e = tv.fail(1, ["audit", "--verify"]);
    assert!(e.contains("audit head TAMPERED"), "{e}");
}

#[test]
fn a_vault_without_head_verifies_and_head_from_checks_a_stream() {
    let tv = TestVault::new();
    tv.add("shop", "prod", "A", "v");
    let path = tv.dir().join("audit.head");
    let saved = std::fs::read(&path).unwrap();
    // A vault from before the head (or whose head file is gone): the chain alone is checked.
    std::fs::remove_file(&path).unwrap();
    let ok = tv.run(["audit", "--verify"]);
    assert!(ok.contains("audit chain intact"), "{ok}");

    // --head-from: a server's stream (or a head file kept elsewhere).
    let stream = tv.write(
        "audit.jsonl",
        format!(
            "{{\"op\":\"Get\",\"kind\":\"read\"}}\n{{\"op\":\"Register\",\"head\":{}}}\n",
            String::from_utf8(saved).unwrap().trim()
        ),
    );
    let ok = tv.run(["audit", "--verify", "--head-from", stream.to_str().unwrap()]);
    assert!(ok.contains("intact"), "{ok}");
    let junk = tv.write("junk.jsonl", "{\"op\":\"Get\"}\n");
    let e = tv.fail(
        1,
        ["audit", "--verify", "--head-from", junk.to_str().unwrap()],
    );
    assert!(e.contains("audit head TAMPERED"), "{e}");
}

#[test]
fn restore_of_an_older_backup_moves_the_head_with_it() {
    let tv = TestVault::new();
    tv.add("shop", "prod", "A", "v");
    let backup = tv.path("b.tresor");
    tv.run(["backup", "--out", backup.to_str().unwrap()]);
    tv.add("shop", "prod", "B", "v");
    tv.add("shop", "prod", "C", "v");
    tv.run(["restore", backup.to_str().unwrap(), "--yes"]);
    let ok = tv.run(["audit", "--verify"]);
    assert!(ok.contains("audit chain intact"), "{ok}");
}
