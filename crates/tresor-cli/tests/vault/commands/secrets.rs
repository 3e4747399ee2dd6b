//! The secrets themselves: `add key/text/file`, `get`, `list`, `edit value`, `rm key`,
//! `history` and `rollback`.

use super::json;
use crate::util::{contains_all, stderr};
use crate::{eqnice, tvtest};

// ---- add / get -----------------------------------------------------------------------------

tvtest!(
    add_key_get_value_only,
    |tv: TestVault, mut cmd: TestCommand| {
        tv.run(["add", "key", "DB", "x", "--app", "app", "--env", "dev"]);
        eqnice!("x", cmd.args(["get", "app:dev:DB"]).stdout());
        // The default app and env are '*'.
        tv.run(["add", "key", "GLOBAL", "g"]);
        eqnice!("g", tv.get("*:*:GLOBAL"));
        eqnice!("g", tv.get("GLOBAL"));
    }
);

tvtest!(add_key_from_stdin, |tv: TestVault| {
    tv.run_stdin(
        ["add", "key", "PW", "-", "--app", "a", "--env", "e"],
        "from stdin\n",
    );
    eqnice!("from stdin", tv.get("a:e:PW"));
    tv.run_stdin(["add", "key", "PW2", "--app", "a", "--env", "e"], "no dash");
    eqnice!("no dash", tv.get("a:e:PW2"));
});

tvtest!(add_existing_needs_force, |tv: TestVault| {
    tv.add("a", "e", "K", "one");
    let e = tv.fail(2, ["add", "key", "K", "two", "--app", "a", "--env", "e"]);
    contains_all(&e, &["'a:e:K' already exists", "--force"]);
    eqnice!("one", tv.get("a:e:K"));
    tv.run([
        "add", "key", "K", "two", "--app", "a", "--env", "e", "--force",
    ]);
    eqnice!("two", tv.get("a:e:K"));
});

// Local only (see tests/remote.rs).
local! {
tvtest!(add_text_keeps_every_byte, |tv: TestVault| {
    let text = "-----BEGIN KEY-----\nline 2\n\n  indented $HOME \"q\"\n-----END KEY-----\n";
    tv.run_stdin(["add", "text", "CERT", "--app", "a", "--env", "e"], text);
    eqnice!(text, tv.get("a:e:CERT"));
    let l = json(&tv.run(["list", "a:e:CERT", "--json"]));
    assert_eq!(l[0]["type"], "text");
});
}

tvtest!(add_file_imports_every_entry, |tv: TestVault| {
    let f = tv.write(
        "in.env",
        "# c\nA=1\nexport B=\"two words\"\nC='$NOT_EXPANDED'\n",
    );
    tv.cmd()
        .arg("add")
        .arg("file")
        .arg(&f)
        .args(["--app", "a", "--env", "e"])
        .stdout();
    eqnice!("1", tv.get("a:e:A"));
    eqnice!("two words", tv.get("a:e:B"));
    eqnice!("$NOT_EXPANDED", tv.get("a:e:C"));
    // Again without --update: refused, nothing changes.
    tv.write("in.env", "A=changed\n");
    let before = tv.snapshot();
    let o = tv
        .cmd()
        .arg("add")
        .arg("file")
        .arg(&f)
        .args(["--app", "a", "--env", "e"])
        .code(2);
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(before, tv.snapshot());
    tv.cmd()
        .arg("add")
        .arg("file")
        .arg(&f)
        .args(["--app", "a", "--env", "e", "--update"])
        .stdout();
    eqnice!("changed", tv.get("a:e:A"));
});

tvtest!(get_exit_codes, |tv: TestVault| {
    tv.add("app", "dev", "DB_PASS", "d");
    tv.add("app", "prod", "DB_PASS", "p");
    let e = tv.fail(1, ["get", "app:dev:NOPE"]);
    contains_all(&e, &["no secret matches 'app:dev:NOPE'", "hint:"]);
    let o = tv.cmd().args(["get", "DB_PASS"]).code(3);
    assert!(
        o.stdout.is_empty(),
        "no value may be printed for an ambiguous filter"
    );
    contains_all(
        &stderr(&o),
        &["matches 2 secrets", "app:dev:DB_PASS", "app:prod:DB_PASS"],
    );
    eqnice!("p", tv.get("app:prod:DB_PASS"));
    eqnice!("p", tv.get(":prod:DB_*"));
});

// ---- list ----------------------------------------------------------------------------------

tvtest!(list_masks_reveals_json_env, |tv: TestVault| {
    tv.add("app", "dev", "DB_PASS", "s3cret-value");
    tv.add("app", "dev", "DB_USER", "alice");
    let masked = tv.run(["list"]);
    contains_all(&masked, &["APP", "DB_PASS", "DB_USER", "********", "v1"]);
    assert!(
        !masked.contains("s3cret-value") && !masked.contains("alice"),
        "{masked}"
    );
    let shown = tv.run(["list", "--reveal"]);
    contains_all(&shown, &["s3cret-value", "alice"]);

    let j = json(&tv.run(["list", "--json"]));
    assert_eq!(j.as_array().unwrap().len(), 2);
    assert!(
        j[0].get("value").is_none(),
        "--json without --reveal leaks: {j}"
    );
    assert_eq!(j[0]["name"], "app:dev:DB_PASS");
    let j = json(&tv.run(["list", "--json", "--reveal"]));
    assert_eq!(j[0]["value"], "s3cret-value");

    eqnice!(
        "DB_PASS=********\nDB_USER=********\n",
        tv.run(["list", "--env"])
    );
    eqnice!(
        "DB_PASS='s3cret-value'\nDB_USER='alice'\n",
        tv.run(["list", "--env", "--reveal"])
    );
    // Filters (positional and -f), OR'ed; no match with a filter exits 1.
    let j = json(&tv.run(["list", "DB_USER", "-f", "app:dev:DB_PASS", "--json"]));
    assert_eq!(j.as_array().unwrap().len(), 2);
    tv.fail(1, ["list", "NOPE"]);
});

// ---- edit ----------------------------------------------------------------------------------

tvtest!(edit_value_one_and_all, |tv: TestVault| {
    tv.add("app", "dev", "DB_PASS", "d");
    tv.add("app", "prod", "DB_PASS", "p");
    tv.run(["edit", "value", "app:dev:DB_PASS", "d2"]);
    eqnice!("d2", tv.get("app:dev:DB_PASS"));
    // Several matches need --all; nothing changes otherwise.
    let before = tv.snapshot();
    let e = tv.fail(3, ["edit", "value", "DB_PASS", "both"]);
    assert!(e.contains("--all"), "{e}");
    assert_eq!(before, tv.snapshot());
    tv.run(["edit", "value", "DB_PASS", "both", "--all"]);
    eqnice!("both", tv.get("app:dev:DB_PASS"));
    eqnice!("both", tv.get("app:prod:DB_PASS"));
    let h = json(&tv.run(["history", "app:prod:DB_PASS", "--json"]));
    assert_eq!(h["versions"].as_array().unwrap().len(), 2);
    // From stdin.
    tv.run_stdin(["edit", "value", "app:dev:DB_PASS", "-"], "piped\n");
    eqnice!("piped", tv.get("app:dev:DB_PASS"));
    tv.fail(1, ["edit", "value", "NOPE", "x", "--all"]);
});

// ---- rm key --------------------------------------------------------------------------------

tvtest!(
    rm_key_asks_refuses_empty_and_deletes_with_yes,
    |tv: TestVault| {
        tv.add("app", "dev", "A", "1");
        tv.add("app", "dev", "B", "2");
        tv.add("app", "prod", "A", "3");
        let before = tv.snapshot();
        // No terminal, no --yes: nothing deleted, non-zero.
        let e = tv.fail(2, ["rm", "key", "app:dev:A"]);
        contains_all(&e, &["no terminal", "--yes"]);
        // An empty filter would match everything: refused, even with --yes.
        for empty in ["", "  "] {
            let e = tv.fail(2, ["rm", "key", empty, "--yes"]);
            assert!(e.contains("empty filter"), "{e}");
        }
        assert_eq!(before, tv.snapshot());
        tv.fail(1, ["rm", "key", "app:dev:NOPE", "--yes"]);
        tv.run(["rm", "key", "app:dev:A", "--yes"]);
        let names: Vec<String> = tv.secrets().into_keys().collect();
        assert_eq!(names, ["app:dev:B", "app:prod:A"]);
        tv.run(["rm", "key", "A,B", "-y"]);
        assert!(tv.secrets().is_empty());
    }
);

// ---- history / rollback --------------------------------------------------------------------

tvtest!(history_and_rollback, |tv: TestVault| {
    tv.add("a", "e", "K", "one");
    tv.run([
        "add", "key", "K", "two", "--app", "a", "--env", "e", "--force",
    ]);
    tv.run(["edit", "value", "a:e:K", "three"]);
    let h = json(&tv.run(["history", "a:e:K", "--json", "--reveal"]));
    let vals: Vec<&str> = h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(vals, ["one", "two", "three"]);
    assert_eq!(h["versions"][2]["current"], true);
    let masked = tv.run(["history", "a:e:K"]);
    contains_all(&masked, &["a:e:K", "v1", "v3*", &tv.actor(), "********"]);
    assert!(!masked.contains("two"), "{masked}");
    tv.run(["rollback", "a:e:K", "--to", "1"]);
    eqnice!("one", tv.get("a:e:K"));
    let h = json(&tv.run(["history", "a:e:K", "--json"]));
    assert_eq!(
        h["versions"].as_array().unwrap().len(),
        4,
        "rollback is a new version"
    );
    let e = tv.fail(2, ["rollback", "a:e:K", "--to", "9"]);
    assert!(!e.is_empty());
    eqnice!("one", tv.get("a:e:K"));
    tv.fail(1, ["history", "a:e:NOPE"]);
});
