//! Users and the vault's own description: `add user`, `rm user`, `public-key`, `users`,
//! `owner`, `whoami`, `info`, `upgrade`, `serializers`. Local only (see tests/remote.rs).

#[allow(unused_imports)] // named only by local-only tests (see tests/remote.rs)
use super::json;
#[allow(unused_imports)] // named only by local-only tests (see tests/remote.rs)
use crate::util::{TestVault, contains_all};
#[allow(unused_imports)] // named only by local-only tests (see tests/remote.rs)
use crate::{eqnice, tvtest};

// Local only (see tests/remote.rs).
local! {
#[test]
fn add_user_and_rm_user() {
    let alice = TestVault::with_user("alice");
    let bob = TestVault::with_user("bob");
    let bob_key = bob.public_key();
    alice.run([
        "add",
        "user",
        "--username",
        "bob",
        "--email",
        "bob@example.org",
        "--pubkey",
        &bob_key,
    ]);
    let users = json(&alice.run(["users", "--json"]));
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"], "owner first");
    assert_eq!(users[0]["owner"], true);
    assert_eq!(users[1]["owner"], false);
    let text = alice.run(["users"]);
    contains_all(&text, &["bob@example.org", &bob_key]);
    // The same name twice is refused.
    let e = alice.fail(
        2,
        ["add", "user", "--username", "bob", "--pubkey", &bob_key],
    );
    assert!(e.contains("user 'bob' already exists"), "{e}");
    // rm user asks; without a terminal and --yes it refuses and removes nothing.
    let e = alice.fail(2, ["rm", "user", "bob"]);
    contains_all(&e, &["no terminal", "--yes"]);
    assert_eq!(
        json(&alice.run(["users", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    alice.run(["rm", "user", "bob", "--yes"]);
    assert_eq!(
        json(&alice.run(["users", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Unknown user, and the owner, are refused.
    let e = alice.fail(2, ["rm", "user", "bob", "--yes"]);
    contains_all(&e, &["unknown user 'bob'", "hint:"]);
    let e = alice.fail(2, ["rm", "user", "alice", "--yes"]);
    assert!(e.contains("owner cannot be removed"), "{e}");
}
}

// ---- public-key, users, owner, whoami, info, upgrade, serializers --------------------------

// Local only (see tests/remote.rs).
local! {
tvtest!(public_key_formats, |tv: TestVault| {
    let k = tv.public_key();
    let (age, ed) = k.split_once(':').expect("age1…:BASE64");
    assert!(age.starts_with("age1") && age.len() > 50, "{k}");
    use base64::Engine as _;
    let ed = base64::engine::general_purpose::STANDARD
        .decode(ed)
        .unwrap();
    assert_eq!(ed.len(), 32);
    let s = tv.run(["public-key", "--seeqret"]);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap();
    assert_eq!(raw.len(), 32);
    let owner = json(&tv.run(["owner", "--json"]));
    assert_eq!(owner[0]["seeqret"], s.trim());
    assert_eq!(owner[0]["age"], age);
});
}

// Local only (see tests/remote.rs).
local! {
tvtest!(
    users_owner_whoami_info_upgrade_serializers,
    |tv: TestVault| {
        tv.add("a", "e", "K", "v");
        contains_all(
            &tv.run(["owner"]),
            &["USERNAME", "alice", "alice@example.org"],
        );
        let o = json(&tv.run(["owner", "--json"]));
        assert_eq!(o[0]["username"], "alice");
        eqnice!("alice <alice@example.org>\n", tv.run(["whoami"]));
        let w = json(&tv.run(["whoami", "--json"]));
        assert_eq!(w["vault"], tv.dir().display().to_string());
        let info = json(&tv.run(["info", "--json"]));
        assert_eq!(info["secrets"], 1);
        assert_eq!(info["users"], 1);
        assert_eq!(info["passphrase"], false);
        assert_eq!(info["user"], "alice");
        assert!(info["schema_version"].as_u64().unwrap() >= 1);
        contains_all(&tv.run(["info"]), &["secrets", "commands:", "importenv"]);
        assert!(tv.run(["upgrade"]).contains("schema is at version"));
        contains_all(
            &tv.run(["serializers"]),
            &["tresor-export/1", "json-crypt", "command", "backup/1"],
        );
        // upgrade changed nothing.
        eqnice!("v", tv.get("a:e:K"));
    }
);
}
