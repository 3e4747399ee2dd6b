//! Output for other programs: shell completions, and `--json` on every read command. Local
//! only (see tests/remote.rs).

#[allow(unused_imports)] // named only by local-only tests (see tests/remote.rs)
use super::json;
#[allow(unused_imports)] // named only by local-only tests (see tests/remote.rs)
use crate::tvtest;
#[allow(unused_imports)] // named only by local-only tests (see tests/remote.rs)
use crate::util::{TestVault, contains_all};

// ---- completions, --json -------------------------------------------------------------------

// Local only (see tests/remote.rs).
local! {
#[test]
fn completions_for_every_shell() {
    let tv = TestVault::empty();
    for (shell, marker) in [
        ("bash", "complete"),
        ("zsh", "#compdef"),
        ("fish", "complete -c tresor"),
    ] {
        let out = tv.run(["completions", shell]);
        contains_all(&out, &[marker, "importenv", "public-key"]);
    }
    tv.fail(2, ["completions", "tcsh"]);
}
}

// Local only (see tests/remote.rs).
local! {
tvtest!(json_on_every_read_command, |tv: TestVault| {
    tv.add("a", "e", "K", "v");
    let g = json(&tv.run(["get", "a:e:K", "--json"]));
    assert_eq!(g["value"], "v");
    assert_eq!(g["name"], "a:e:K");
    for args in [
        &["list", "--json"][..],
        &["list", "--json", "--reveal"],
        &["users", "--json"],
        &["owner", "--json"],
        &["whoami", "--json"],
        &["info", "--json"],
        &["history", "a:e:K", "--json"],
        &["history", "a:e:K", "--json", "--reveal"],
        &["audit", "--json"],
        &["audit", "--verify", "--json"],
    ] {
        let out = tv.run(args);
        let v = json(&out);
        assert!(v.is_object() || v.is_array(), "{args:?}: {out}");
    }
    tv.write("x.env", "N=1\n");
    let j = json(&tv.run(["importenv", "x.env", "--json"]));
    assert_eq!(j["added"], serde_json::json!(["*:*:N"]));
});
}
