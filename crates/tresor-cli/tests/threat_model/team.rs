//! Attacker A3 (a remote-mode teammate: an authenticated client of the same `tresor kmip
//! serve`) against team naming, through the real binaries: a server started as the remote
//! tests start it ([`TestVault::remote_with_apps`]) and several client identities.
//!
//! - creating a name under an app needs the app's permission (`tresor kmip apps allow`),
//!   so nobody takes `shop:prod:DB_PASSWORD` before its owner;
//! - a secret someone else owns is shown with its owner (`list`, `get --json`, `history`,
//!   a note on stderr for `get`), never taken silently as one's own; writing it needs an
//!   explicit `modify` grant;
//! - an identity with no grant learns nothing: get/history/edit/rm/add/list of an existing
//!   name answer exactly as for an absent one.

use std::process::Output;

use crate::util::{TestVault, contains_all, stderr};

/// `tresor --vault SERVER-VAULT kmip ARGS` on the server's store (the server's owner).
fn on_server(tv: &TestVault, args: &[&str]) -> String {
    let r = tv.server().expect("remote vault");
    tv.cmd()
        .arg("--vault")
        .arg(&r.vault)
        .arg("kmip")
        .args(args)
        .stdout()
}

fn uid_of(tv: &TestVault, name: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&tv.run(["list", name, "--json"])).expect("list --json");
    v[0]["uid"].as_str().expect("uid").to_owned()
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// Mallory creates `shop:prod:DB_PASSWORD` before alice: refused until the server's owner
/// allows her under `shop`; once she owns it and shares it, alice sees whose it is and
/// cannot write into it.
#[test]
fn squatting_an_app_name_is_refused_or_shown_with_its_owner() {
    let tv = TestVault::remote_with_apps(&[]);
    tv.act_as("mallory");
    let add = [
        "add",
        "key",
        "DB_PASSWORD",
        "squatted-7e1f",
        "--app",
        "shop",
        "--env",
        "prod",
    ];
    let e = tv.fail(2, add);
    contains_all(
        &e,
        &[
            "may not create names under app 'shop'",
            "tresor kmip apps allow shop mallory",
        ],
    );
    // Closed by default: `apps list` says so.
    let o = {
        let r = tv.server().unwrap();
        tv.cmd()
            .arg("--vault")
            .arg(&r.vault)
            .args(["kmip", "apps", "list"])
            .code(0)
    };
    contains_all(&stderr(&o), &["no app policies", "only admins"]);

    on_server(&tv, &["apps", "allow", "shop", "mallory"]);
    tv.run(add);
    let uid = uid_of(&tv, "shop:prod:DB_PASSWORD");
    on_server(&tv, &["grant", &uid, "alice", "get,locate"]);

    tv.act_as("alice");
    // Alice sees the name is taken (she was granted it), may not create under shop, and
    // --force would write into mallory's object: refused without a modify grant.
    let mut alice_add = vec![
        "add",
        "key",
        "DB_PASSWORD",
        "alice-real-0c4d",
        "--app",
        "shop",
        "--env",
        "prod",
    ];
    contains_all(&tv.fail(2, &alice_add), &["already exists"]);
    alice_add.push("--force");
    contains_all(
        &tv.fail(2, &alice_add),
        &["owned by 'mallory'", "PermissionDenied"],
    );
    let e = tv.fail(
        2,
        ["add", "key", "NEW", "x", "--app", "shop", "--env", "prod"],
    );
    contains_all(&e, &["may not create names under app 'shop'"]);
    // Her get says whose value it is.
    let o: Output = tv.cmd().args(["get", "shop:prod:DB_PASSWORD"]).code(0);
    crate::eqnice!("squatted-7e1f", String::from_utf8_lossy(&o.stdout));
    contains_all(
        &stderr(&o),
        &[
            "'shop:prod:DB_PASSWORD'",
            "owned by 'mallory', not by you ('alice')",
        ],
    );
    let g = json(&tv.run(["get", "shop:prod:DB_PASSWORD", "--json"]));
    assert_eq!(g["owner"], "mallory", "{g}");
    let l = json(&tv.run(["list", "--json"]));
    assert_eq!(l[0]["owner"], "mallory", "{l}");
    contains_all(&tv.run(["list"]), &["OWNER", "mallory"]);
    let h = json(&tv.run(["history", "shop:prod:DB_PASSWORD", "--json"]));
    assert_eq!(h["owner"], "mallory", "{h}");
    contains_all(
        &tv.run(["history", "shop:prod:DB_PASSWORD"]),
        &["shop:prod:DB_PASSWORD (owner: mallory)"],
    );
    // Writing into mallory's object needs an explicit modify grant.
    let e = tv.fail(
        2,
        ["edit", "value", "shop:prod:DB_PASSWORD", "alice-real-0c4d"],
    );
    contains_all(&e, &["PermissionDenied", "owned by 'mallory'"]);
    let e = tv.fail(2, ["rm", "key", "shop:prod:DB_PASSWORD", "--yes"]);
    contains_all(&e, &["PermissionDenied"]);
    tv.act_as("mallory");
    crate::eqnice!("squatted-7e1f", tv.get("shop:prod:DB_PASSWORD"));
    // Her own secret carries no note.
    let o: Output = tv.cmd().args(["get", "shop:prod:DB_PASSWORD"]).code(0);
    assert!(!stderr(&o).contains("owned by"), "{}", stderr(&o));

    // The owner of the server lists and changes the policy.
    assert_eq!(on_server(&tv, &["apps", "list"]), "shop\tmallory\n");
    on_server(&tv, &["apps", "allow", "shop", "alice"]);
    let l = json(&on_server(&tv, &["apps", "list", "--json"]));
    assert_eq!(
        l[0]["allow"],
        serde_json::json!(["alice", "mallory"]),
        "{l}"
    );
    on_server(&tv, &["apps", "deny", "shop", "mallory"]);
    let e = tv.fail(
        2,
        ["add", "key", "OTHER", "x", "--app", "shop", "--env", "prod"],
    );
    contains_all(&e, &["may not create names under app 'shop'"]);
    tv.act_as("alice");
    tv.add("shop", "prod", "OTHER", "alice-other");
    crate::eqnice!("alice-other", tv.get("shop:prod:OTHER"));
    // Bad arguments: a usage error, nothing written.
    let r = tv.server().unwrap();
    for bad in [
        &["allow", "a:b", "x"][..],
        &["allow", "shop", ""],
        &["deny", "", "x"],
    ] {
        let o = tv
            .cmd()
            .arg("--vault")
            .arg(&r.vault)
            .args(["kmip", "apps"])
            .args(bad)
            .code(2);
        assert!(!stderr(&o).is_empty());
    }
}

/// What one command shows: exit code, stdout and stderr, with the secret's key replaced.
fn answer(tv: &TestVault, args: &[&str], key: &str) -> (Option<i32>, String, String) {
    let o = tv.cmd().args(args).output();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).replace(key, "KEY"),
        String::from_utf8_lossy(&o.stderr).replace(key, "KEY"),
    )
}

/// Bob has no grant on alice's `shop:prod:API_TOKEN`: every vault command answers exactly as
/// for the absent `shop:prod:API_TOKEX` (same exit code, same bytes modulo the name).
#[test]
fn no_grant_learns_nothing_about_a_name() {
    let tv = TestVault::remote_with_apps(&[("shop", "alice")]);
    tv.act_as("alice");
    tv.add("shop", "prod", "API_TOKEN", "alice-secret-5d0e");
    tv.act_as("bob");
    for args in [
        &["get", "shop:prod:{}"][..],
        &["get", "shop:prod:{}", "--json"],
        &["history", "shop:prod:{}"],
        &["history", "shop:prod:{}", "--json"],
        &["edit", "value", "shop:prod:{}", "bob-was-here"],
        &["rm", "key", "shop:prod:{}", "--yes"],
        &["list", "shop:prod:{}"],
        &["list", "shop:prod:{}", "--json"],
        &[
            "add",
            "key",
            "{}",
            "bob-value",
            "--app",
            "shop",
            "--env",
            "prod",
        ],
    ] {
        let with =
            |key: &str| -> Vec<String> { args.iter().map(|a| a.replace("{}", key)).collect() };
        let existing = with("API_TOKEN");
        let absent = with("API_TOKEX");
        let a: Vec<&str> = existing.iter().map(String::as_str).collect();
        let b: Vec<&str> = absent.iter().map(String::as_str).collect();
        let got = answer(&tv, &a, "API_TOKEN");
        let none = answer(&tv, &b, "API_TOKEX");
        assert_ne!(got.0, Some(0), "{args:?} succeeded for bob: {got:?}");
        assert_eq!(
            got, none,
            "{args:?}: bob tells an existing name from an absent one"
        );
    }
    tv.act_as("alice");
    crate::eqnice!("alice-secret-5d0e", tv.get("shop:prod:API_TOKEN"));
    let h = json(&tv.run(["history", "shop:prod:API_TOKEN", "--json"]));
    assert_eq!(h["versions"].as_array().unwrap().len(), 1, "{h}");
}
