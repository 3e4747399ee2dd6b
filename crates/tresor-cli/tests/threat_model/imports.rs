//! Imports write vault secrets only (issue 13, item 4): an export, a seeqret file or a `.env`
//! naming `tresor:identity:*`, `tresor:user:*` or an object that is not a vault secret is
//! refused as a whole, and the vault is left exactly as it was.
//!
//! The attacker is a known teammate (A3/A4): they control their own vault, so they can put any
//! object in it with the library and sign an export of it.

use crate::util::{TestVault, contains_all};

/// Opens `tv`'s vault with the library (no passphrase) to plant objects the CLI refuses to make.
fn open(tv: &TestVault) -> tresor_vault::Vault {
    tresor_vault::Vault::open(&tv.dir(), &mut || {
        Err(tresor_vault::VaultError::PassphraseRequired)
    })
    .expect("open test vault")
}

/// Plants an object named `app:env:key`, with the secret role (so `export` sends it) or, with
/// `role = None`, as a bare object as made over KMIP.
fn plant(tv: &TestVault, app: &str, env: &str, key: &str, value: &[u8], role: Option<&str>) {
    let v = open(tv);
    let mut n = tresor_store::NewObject::new(tresor_store::ObjectType::SecretData);
    n.names.push(format!("{app}:{env}:{key}"));
    if let Some(role) = role {
        for (k, val) in [
            ("app", app),
            ("env", env),
            ("key", key),
            (tresor_vault::ROLE, role),
        ] {
            n.attributes.insert(k.into(), val.into());
        }
    }
    n.material = Some(value.to_vec());
    v.store().create(n).expect("plant object");
}

/// Alice (the attacker) and Bob, each knowing the other.
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
    alice.add("app", "dev", "DB_PASS", "fine");
    bob.add("app", "dev", "KEEP", "bob's");
    (alice, bob)
}

/// Bob loads `text` from Alice; the load must fail naming `refused` and change nothing.
fn load_is_refused(bob: &TestVault, text: &str, refused: &str) {
    let before = (
        bob.snapshot(),
        bob.run(["owner", "--json"]),
        bob.public_key(),
    );
    bob.write("in.tresor", text);
    let err = bob.fail(2, ["load", "in.tresor", "--from", "alice"]);
    contains_all(&err, &["refused", refused]);
    let after = (
        bob.snapshot(),
        bob.run(["owner", "--json"]),
        bob.public_key(),
    );
    assert_eq!(before, after, "a refused load changed the vault");
    assert!(
        !bob.secrets().contains_key("app:dev:DB_PASS"),
        "partial import"
    );
}

#[test]
fn load_of_an_export_carrying_bobs_identity_is_refused() {
    let (alice, bob) = pair();
    // Alice's export overwrites Bob's private identity with keys she knows.
    let alice_identity = open(&alice)
        .store()
        .read_by_name("tresor:identity:alice")
        .unwrap()
        .expect("alice's identity")
        .1;
    plant(
        &alice,
        "tresor",
        "identity",
        "bob",
        alice_identity.expose(),
        Some("secret"),
    );
    let text = alice.run([
        "export",
        "--to",
        "bob",
        "-f",
        "app:dev:",
        "-f",
        "tresor:identity:bob",
    ]);
    load_is_refused(&bob, &text, "tresor:identity:bob");
}

#[test]
fn load_of_an_export_carrying_a_user_record_is_refused() {
    let (alice, bob) = pair();
    // Any case: TRESOR:user:… is the same namespace.
    plant(
        &alice,
        "TRESOR",
        "user",
        "carol",
        b"age1attacker",
        Some("secret"),
    );
    plant(
        &alice,
        "tresor",
        "user",
        "dave",
        b"age1attacker",
        Some("secret"),
    );
    let text = alice.run([
        "export",
        "--to",
        "bob",
        "-f",
        "app:dev:",
        "-f",
        "tresor:user:dave",
    ]);
    load_is_refused(&bob, &text, "tresor:user:dave");
    let text = alice.run(["export", "--to", "bob", "-f", "TRESOR:user:carol"]);
    load_is_refused(&bob, &text, "TRESOR:user:carol");
}

#[test]
fn load_into_an_object_that_is_not_a_vault_secret_is_refused() {
    let (alice, bob) = pair();
    // Bob's vault holds `app:dev:DB_PASS` made over KMIP (no vault role): not a secret to import into.
    plant(&bob, "app", "dev", "DB_PASS", b"kmip object", None);
    let text = alice.run(["export", "--to", "bob", "-f", "app:dev:"]);
    load_is_refused_keeping(&bob, &text, "app:dev:DB_PASS");
}

/// As [`load_is_refused`] when the refused name already exists in Bob's vault.
fn load_is_refused_keeping(bob: &TestVault, text: &str, refused: &str) {
    let before = bob.snapshot();
    bob.write("in.tresor", text);
    let err = bob.fail(2, ["load", "in.tresor", "--from", "alice"]);
    contains_all(&err, &["refused", refused, "not a vault secret"]);
    assert_eq!(before, bob.snapshot(), "a refused load changed the vault");
}

#[test]
fn importenv_update_of_a_reserved_name_is_refused() {
    let tv = TestVault::new();
    let before = (tv.snapshot(), tv.public_key());
    tv.write("id.env", "alice=stolen\n");
    for (app, env) in [
        ("tresor", "identity"),
        ("Tresor", "user"),
        ("tresor-key", "x"),
    ] {
        let err = tv.fail(
            2,
            [
                "importenv",
                "id.env",
                "--app",
                app,
                "--env",
                env,
                "--update",
            ],
        );
        contains_all(&err, &["refused", &format!("{app}:{env}:alice")]);
    }
    assert_eq!(before, (tv.snapshot(), tv.public_key()));
}

#[test]
fn importenv_update_of_a_non_secret_object_is_refused_as_a_whole() {
    let tv = TestVault::new();
    plant(&tv, "shop", "prod", "SIGNING", b"kmip key", None);
    let before = tv.snapshot();
    tv.write("up.env", "NEW=1\nSIGNING=attacker\n");
    let err = tv.fail(
        2,
        [
            "importenv",
            "up.env",
            "--app",
            "shop",
            "--env",
            "prod",
            "--update",
        ],
    );
    contains_all(
        &err,
        &["refused", "shop:prod:SIGNING", "not a vault secret"],
    );
    assert_eq!(before, tv.snapshot());
    assert!(
        !tv.secrets().contains_key("shop:prod:NEW"),
        "partial import"
    );
}

#[test]
fn add_force_never_writes_tresors_own_objects() {
    let tv = TestVault::new();
    let before = (tv.snapshot(), tv.public_key());
    let err = tv.fail(
        2,
        [
            "add", "key", "alice", "x", "--app", "tresor", "--env", "identity", "--force",
        ],
    );
    contains_all(&err, &["refused", "tresor:identity:alice"]);
    plant(&tv, "shop", "prod", "K", b"kmip", None);
    let err = tv.fail(
        2,
        [
            "add", "key", "K", "x", "--app", "shop", "--env", "prod", "--force",
        ],
    );
    contains_all(&err, &["refused", "shop:prod:K"]);
    assert_eq!(before.1, tv.public_key());
}
