//! Filters through the CLI, including the seeqret `LIKE` pitfalls that must not recur:
//! seeqret turned `*` into SQL `%` and left `_` and `%` as wildcards, matched case-insensitively,
//! and ignored `?` and `[..]`.

use crate::tvtest;
use crate::util::{TestVault, contains_all};

/// Names `tresor list FILTER --json` prints.
fn names(tv: &TestVault, filters: &[&str]) -> Vec<String> {
    let mut args = vec!["list", "--json"];
    args.extend_from_slice(filters);
    let out = tv.cmd().args(&args).output();
    if out.status.code() == Some(1) {
        return Vec::new();
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

fn fixture() -> TestVault {
    let tv = TestVault::new();
    tv.write(
        "f.env",
        "DB_PASS=1\nDBXPASS=2\ndb_pass=3\nDB_USER=4\nDB%PASS=5\nAPI_KEY=6\nAPI_KEZ=7\nAPIKEY=8\n",
    );
    tv.run(["importenv", "f.env", "--app", "app", "--env", "dev"]);
    tv.write("g.env", "DB_PASS=9\n");
    tv.run(["importenv", "g.env", "--app", "app", "--env", "prod"]);
    tv.run(["importenv", "g.env", "--app", "other", "--env", "dev"]);
    tv
}

#[test]
fn star_does_not_behave_like_sql_like() {
    let tv = fixture();
    // `DB_*`: the `_` is a literal, matching is case-sensitive.
    assert_eq!(
        names(&tv, &["app:dev:DB_*"]),
        ["app:dev:DB_PASS", "app:dev:DB_USER"]
    );
    // `%` is a literal too.
    assert_eq!(names(&tv, &["app:dev:DB%PASS"]), ["app:dev:DB%PASS"]);
    assert_eq!(names(&tv, &["app:dev:DB_PAS"]), Vec::<String>::new());
    // get with an exact name is not a prefix or LIKE match.
    crate::eqnice!("1", tv.get("app:dev:DB_PASS"));
    crate::eqnice!("3", tv.get("app:dev:db_pass"));
    tv.fail(1, ["get", "app:dev:DB_PAS"]);
}

#[test]
fn question_mark_and_classes_match() {
    let tv = fixture();
    assert_eq!(
        names(&tv, &["app:dev:API_KE?"]),
        ["app:dev:API_KEY", "app:dev:API_KEZ"]
    );
    assert_eq!(names(&tv, &["app:dev:API_KE[Y]"]), ["app:dev:API_KEY"]);
    assert_eq!(names(&tv, &["app:dev:API_KE[!Y]"]), ["app:dev:API_KEZ"]);
    assert_eq!(
        names(&tv, &["app:dev:API_KE[X-Z]"]),
        ["app:dev:API_KEY", "app:dev:API_KEZ"]
    );
    assert_eq!(names(&tv, &["app:dev:DB[_]PASS"]), ["app:dev:DB_PASS"]);
    // `?` is exactly one character.
    assert_eq!(names(&tv, &["app:dev:APIKEY?"]), Vec::<String>::new());
}

#[test]
fn comma_is_or_and_empty_parts_match_anything() {
    let tv = fixture();
    assert_eq!(
        names(&tv, &["app,other:dev:DB_PASS"]),
        ["app:dev:DB_PASS", "other:dev:DB_PASS"]
    );
    assert_eq!(
        names(&tv, &[":dev,prod:DB_PASS"]),
        ["app:dev:DB_PASS", "app:prod:DB_PASS", "other:dev:DB_PASS"]
    );
    assert_eq!(
        names(&tv, &["app:dev:API_KEY,APIKEY"]),
        ["app:dev:APIKEY", "app:dev:API_KEY"]
    );
    // KEY alone is any app and env; APP:ENV is every key there.
    assert_eq!(names(&tv, &["DB_PASS"]).len(), 3);
    assert_eq!(names(&tv, &["other:dev"]), ["other:dev:DB_PASS"]);
    assert_eq!(names(&tv, &["::"]).len(), 10);
    assert_eq!(names(&tv, &[]).len(), 10);
    // Several filters are OR'ed, without duplicates.
    assert_eq!(names(&tv, &["DB_PASS", "app:prod:"]).len(), 3);
}

#[test]
fn fourth_part_and_bad_globs_point_at_the_column() {
    let tv = TestVault::new();
    for (filter, msg) in [
        (
            "a:b:c:d",
            "error parsing filter 'a:b:c:d': too many ':' parts at column 6",
        ),
        ("app:dev:KEY:x", "too many ':' parts at column 12"),
        (
            "app:dev:[abc",
            "unclosed character class; missing ']' at column 9",
        ),
        ("app:,x:K", "empty alternative"),
        ("app:dev:[z-a]", "invalid character range 'z-a'"),
    ] {
        for cmd in [
            &["get", filter][..],
            &["list", filter],
            &["rm", "key", filter, "--yes"],
        ] {
            let e = tv.fail(2, cmd);
            contains_all(&e, &[msg]);
        }
    }
    let e = tv.fail(2, ["export", "--to", "alice", "-f", "a:b:c:d"]);
    if crate::REMOTE {
        // export works on a local vault only, and says so before reading its filters.
        assert!(e.contains("works on a local vault; drop --server"), "{e}");
    } else {
        assert!(e.contains("column 6"), "{e}");
    }
}

tvtest!(filter_is_case_sensitive_everywhere, |tv: TestVault| {
    tv.add("App", "Dev", "Key", "v");
    tv.fail(1, ["get", "app:dev:key"]);
    tv.fail(1, ["list", "app:*:*"]);
    crate::eqnice!("v", tv.get("App:Dev:Key"));
    crate::eqnice!("v", tv.get("A*:D?v:K[e]y"));
});
