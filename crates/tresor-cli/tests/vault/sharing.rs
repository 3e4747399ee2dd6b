//! `export --to` → `load` between two vaults (two HOMEs), and imports that must be rejected.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::eqnice;
use crate::util::{TestVault, contains_all};

/// Alice and Bob, each knowing the other; Alice holds three secrets.
fn pair() -> (TestVault, TestVault) {
    let alice = TestVault::with_user("alice");
    let bob = TestVault::with_user("bob");
    alice.run([
        "add",
        "user",
        "--username",
        "bob",
        "--pubkey",
        &bob.public_key(),
    ]);
    bob.run([
        "add",
        "user",
        "--username",
        "alice",
        "--pubkey",
        &alice.public_key(),
    ]);
    alice.add("app", "dev", "DB_PASS", "multi\nline \"$x\"");
    alice.add("app", "dev", "DB_USER", "u");
    alice.add("app", "prod", "DB_PASS", "must not travel");
    (alice, bob)
}

/// Alice's export for Bob of `app:dev:`, as text.
fn export(alice: &TestVault) -> String {
    alice.run(["export", "--to", "bob", "-f", "app:dev:"])
}

fn load_text(bob: &TestVault, text: &str) -> std::process::Output {
    bob.write("in.tresor", text);
    bob.cmd()
        .args(["load", "in.tresor", "--from", "alice"])
        .output()
}

#[test]
fn export_then_load_between_two_vaults() {
    let (alice, bob) = pair();
    let out = alice.path("bob.tresor");
    alice
        .cmd()
        .args(["export", "--to", "bob", "-f", "app:dev:", "-o"])
        .arg(&out)
        .stdout();
    assert_eq!(crate::util::mode(&out), 0o600);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        !text.contains("multi") && !text.contains("DB_PASS"),
        "{text}"
    );
    let r = bob
        .cmd()
        .arg("load")
        .arg(&out)
        .args(["--from", "alice", "--json"])
        .stdout();
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert_eq!(
        r["added"],
        serde_json::json!(["app:dev:DB_PASS", "app:dev:DB_USER"])
    );
    eqnice!("multi\nline \"$x\"", bob.get("app:dev:DB_PASS"));
    eqnice!("u", bob.get("app:dev:DB_USER"));
    bob.fail(1, ["get", "app:prod:DB_PASS"]);
    // Loading again changes nothing; seeqret-style arguments work too (-f FILE, positional USER).
    let again = alice.run(["export", "bob", "-f", "app:dev:"]);
    bob.write("again.tresor", again);
    let r = bob.run(["load", "-f", "again.tresor", "--json"]);
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert_eq!(r["unchanged"].as_array().unwrap().len(), 2);
    // Both audit logs record it.
    assert!(alice.run(["audit"]).contains("export"));
    assert!(bob.run(["audit"]).contains("tresor export from alice"));
}

#[test]
fn tampered_truncated_or_wrongly_signed_exports_are_rejected() {
    let (alice, bob) = pair();
    let good = export(&alice);
    let before = bob.snapshot();

    // A byte flipped inside the payload.
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let mut payload = B64.decode(v["payload"].as_str().unwrap()).unwrap();
    let mid = payload.len() / 2;
    payload[mid] ^= 0x01;
    v["payload"] = B64.encode(&payload).into();
    let o = load_text(&bob, &v.to_string());
    assert_eq!(o.status.code(), Some(2));
    contains_all(
        &crate::util::stderr(&o),
        &[
            "rejected tresor export",
            "signature does not verify",
            "alice",
        ],
    );

    // The sender field rewritten.
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["signature"] = B64.encode([0u8; 64]).into();
    let o = load_text(&bob, &v.to_string());
    assert!(crate::util::stderr(&o).contains("signature does not verify"));

    // Truncated.
    for cut in [good.len() / 2, good.len() - 3, 10] {
        let o = load_text(&bob, &good[..cut]);
        assert_eq!(o.status.code(), Some(2));
        let e = crate::util::stderr(&o);
        assert!(
            e.contains("rejected") || e.contains("invalid"),
            "cut {cut}: {e}"
        );
    }

    // Signed by a third vault that claims to be alice.
    let mallory = TestVault::with_user("alice");
    mallory.run([
        "add",
        "user",
        "--username",
        "bob",
        "--pubkey",
        &bob.public_key(),
    ]);
    mallory.add("app", "dev", "DB_PASS", "evil");
    let forged = mallory.run(["export", "--to", "bob", "-f", "app:dev:"]);
    let o = load_text(&bob, &forged);
    assert_eq!(o.status.code(), Some(2));
    contains_all(
        &crate::util::stderr(&o),
        &["signature does not verify against 'alice''s key"],
    );

    // The wrong expected sender, and an unknown sender.
    bob.write("good.tresor", &good);
    let e = bob.fail(2, ["load", "good.tresor", "--from", "carol"]);
    assert!(e.contains("it is from 'alice', not 'carol'"), "{e}");
    assert_eq!(before, bob.snapshot(), "a rejected load changed the vault");
    bob.run(["rm", "user", "alice", "--yes"]);
    let e = bob.fail(2, ["load", "good.tresor"]);
    assert!(e.contains("unknown user 'alice'"), "{e}");
    bob.fail(1, ["get", "app:dev:DB_PASS"]);
}

#[test]
fn export_addressed_to_someone_else_is_rejected() {
    let (alice, bob) = pair();
    // Carol knows Bob's key under another name: the export is addressed to 'robert'.
    let carol = TestVault::with_user("carol");
    carol.run([
        "add",
        "user",
        "--username",
        "robert",
        "--pubkey",
        &bob.public_key(),
    ]);
    carol.add("a", "e", "K", "v");
    bob.run([
        "add",
        "user",
        "--username",
        "carol",
        "--pubkey",
        &carol.public_key(),
    ]);
    let text = carol.run(["export", "--to", "robert", "-f", "a:e:"]);
    let o = {
        bob.write("c.tresor", &text);
        bob.cmd().args(["load", "c.tresor"]).output()
    };
    assert_eq!(o.status.code(), Some(2));
    assert!(crate::util::stderr(&o).contains("addressed to 'robert'"));
    // An export for Bob cannot be loaded by Alice.
    let for_bob = export(&alice);
    alice.write("mine.tresor", for_bob);
    let e = alice.fail(2, ["load", "mine.tresor"]);
    assert!(e.contains("addressed to 'bob'"), "{e}");
    // Garbage is not an export.
    bob.write("junk", "hello world\n");
    let e = bob.fail(2, ["load", "junk", "--from", "alice"]);
    assert!(!e.is_empty());
    bob.fail(1, ["get", "a:e:K"]);
}
