//! `audit`: the log, and `--verify` finding an edited or removed row. Local only (see
//! tests/remote.rs).

#[allow(unused_imports)] // named only by local-only tests (see tests/remote.rs)
use super::json;
#[allow(unused_imports)] // named only by local-only tests (see tests/remote.rs)
use crate::tvtest;
#[allow(unused_imports)] // named only by local-only tests (see tests/remote.rs)
use crate::util::TestVault;

// ---- audit ---------------------------------------------------------------------------------

// Local only (see tests/remote.rs).
local! {
tvtest!(
    audit_log_and_verify_detects_an_edited_row,
    |tv: TestVault| {
        tv.add("a", "e", "K", "v");
        tv.run(["edit", "value", "a:e:K", "w"]);
        let log = json(&tv.run(["audit", "--json"]));
        let actions: Vec<&str> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(actions.len() >= 4, "{actions:?}");
        assert!(!tv.run(["audit"]).contains("\"w\""));
        let ok = tv.run(["audit", "--verify"]);
        assert!(ok.contains("audit chain intact"), "{ok}");
        let j = json(&tv.run(["audit", "--verify", "--json"]));
        assert_eq!(j["ok"], true);

        // Edit one row behind tresor's back.
        let db = rusqlite::Connection::open(tv.db()).unwrap();
        let n = db
            .execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2", [])
            .unwrap();
        assert_eq!(n, 1);
        drop(db);
        let e = tv.fail(1, ["audit", "--verify"]);
        assert!(e.contains("BROKEN at entry 2"), "{e}");
        let o = tv.cmd().args(["audit", "--verify", "--json"]).code(1);
        let j = json(&String::from_utf8_lossy(&o.stdout));
        assert_eq!(j["ok"], false);
        assert_eq!(j["first_bad"], 2);
    }
);
}

// Local only (see tests/remote.rs).
local! {
tvtest!(audit_verify_detects_a_removed_row, |tv: TestVault| {
    tv.add("a", "e", "K", "v");
    tv.add("a", "e", "L", "v");
    let db = rusqlite::Connection::open(tv.db()).unwrap();
    db.execute("DELETE FROM audit WHERE seq = 3", []).unwrap();
    drop(db);
    let e = tv.fail(1, ["audit", "--verify"]);
    assert!(e.contains("BROKEN"), "{e}");
    // The tail row removed: detected too? (a chain alone cannot see truncation)
    let tv = TestVault::new();
    tv.add("a", "e", "K", "v");
    let db = rusqlite::Connection::open(tv.db()).unwrap();
    db.execute(
        "UPDATE audit SET detail = detail || ' ' WHERE seq = (SELECT MAX(seq) FROM audit)",
        [],
    )
    .unwrap();
    drop(db);
    tv.fail(1, ["audit", "--verify"]);
});
}
