//! Attacker A2: someone who can write the vault database (`sqlite3 tresor.db`) but holds no
//! key. Owner, current version and name rows edited behind tresor's back must make `get`,
//! `list` and `history` fail with "tampered" and a non-zero exit, never print the wrong value.

use crate::util::{TestVault, stderr};

/// The attacker's `sqlite3`.
fn sql(tv: &TestVault, sql: &str) {
    let c = rusqlite::Connection::open(tv.db()).expect("open the vault database");
    c.execute_batch(sql).expect("attacker's SQL");
}

/// `tresor ARGS` fails with exit 2, says "tampered", and prints none of `secrets`.
fn refused(tv: &TestVault, args: &[&str], secrets: &[&str]) {
    let o = tv.cmd().args(args).code(2);
    let err = stderr(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(err.contains("was tampered with"), "{args:?}: {err}");
    assert!(err.contains("hint:"), "{args:?}: {err}");
    for s in secrets {
        assert!(!out.contains(s), "{args:?} printed {s}: {out}");
        assert!(!err.contains(s), "{args:?} printed {s}: {err}");
    }
}

fn vault() -> TestVault {
    let tv = TestVault::new();
    tv.add("app", "dev", "A", "alpha-old");
    tv.run(["edit", "value", "app:dev:A", "alpha-new"]);
    tv.add("app", "dev", "B", "bravo");
    tv.add("app", "dev", "C", "charlie");
    tv
}

#[test]
fn db_writer_owner_change_is_refused() {
    let tv = vault();
    sql(
        &tv,
        "UPDATE objects SET owner='mallory' WHERE name='app:dev:A'",
    );
    refused(&tv, &["get", "app:dev:A"], &["alpha"]);
    refused(&tv, &["list"], &["alpha"]);
    refused(&tv, &["history", "app:dev:A"], &["alpha"]);
    // An object nobody touched still reads.
    assert_eq!(tv.get("app:dev:C").trim_end(), "charlie");
}

#[test]
fn db_writer_current_version_rollback_is_refused() {
    let tv = vault();
    sql(
        &tv,
        "UPDATE objects SET current_version=1 WHERE name='app:dev:A'",
    );
    refused(&tv, &["get", "app:dev:A"], &["alpha-old", "alpha-new"]);
    refused(&tv, &["list", "--reveal"], &["alpha-old"]);
    refused(&tv, &["history", "app:dev:A"], &["alpha-old"]);
    assert_eq!(tv.get("app:dev:B").trim_end(), "bravo");
}

#[test]
fn db_writer_name_pointed_at_another_secret_is_refused() {
    let tv = vault();
    sql(
        &tv,
        "UPDATE names SET uid=(SELECT uid FROM names WHERE name='app:dev:B') WHERE name='app:dev:A'",
    );
    refused(&tv, &["get", "app:dev:A"], &["bravo"]);
    refused(&tv, &["history", "app:dev:A"], &["bravo"]);
    assert_eq!(tv.get("app:dev:B").trim_end(), "bravo");
}

#[test]
fn db_writer_untouched_vault_still_works() {
    let tv = vault();
    assert_eq!(tv.get("app:dev:A").trim_end(), "alpha-new");
    tv.run(["list"]);
    tv.run(["history", "app:dev:A"]);
    tv.run(["audit", "--verify"]);
}
