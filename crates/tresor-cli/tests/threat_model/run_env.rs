//! `tresor run` and `tresor env` (issue 13, item 9): the child of `run` (A6) gets the secrets
//! asked for and none of tresor's own credentials, and a secret whose name is not a variable
//! name (`PATH=/x #`) never becomes a variable.

use crate::util::{TestVault, contains_all};

/// Every credential `tresor` reads from its environment, with a recognisable value.
const CREDENTIALS: &[(&str, &str)] = &[
    ("TRESOR_PASSPHRASE", "pass-7f3a91c2"),
    ("PGPASSWORD", "pgpw-7f3a91c2"),
    ("PGPASSFILE", "/nonexistent/pgpass-7f3a91c2"),
    ("TRESOR_PG_PASSWORD", "tpgpw-7f3a91c2"),
    ("TRESOR_PG_PASSWORD_FILE", "/nonexistent/pgpwfile-7f3a91c2"),
    ("TRESOR_CLIENT_KEY", "/nonexistent/client-7f3a91c2.key"),
    ("TRESOR_CLIENT_CERT", "/nonexistent/client-7f3a91c2.crt"),
];

#[test]
fn run_child_gets_secrets_but_no_credentials() {
    let tv = TestVault::empty();
    tv.cmd()
        .env("TRESOR_PASSPHRASE", "pass-7f3a91c2")
        .args(["init", "--user", "alice", "--passphrase"])
        .stdout();
    tv.cmd()
        .env("TRESOR_PASSPHRASE", "pass-7f3a91c2")
        .args([
            "add",
            "key",
            "DB_PASS",
            "db-secret-1",
            "--app",
            "shop",
            "--env",
            "dev",
        ])
        .stdout();
    let mut c = tv.cmd();
    c.args(["run", "--no-mask", "-f", "shop:dev:", "--", "env"])
        .env("UNRELATED_SETTING", "kept");
    for (k, v) in CREDENTIALS {
        c.env(k, v);
    }
    let env = c.stdout();
    contains_all(&env, &["DB_PASS=db-secret-1", "UNRELATED_SETTING=kept"]);
    for (k, v) in CREDENTIALS {
        assert!(
            !env.lines().any(|l| l.starts_with(&format!("{k}="))) && !env.contains(v),
            "the child of `tresor run` sees {k}:\n{env}"
        );
    }
}

/// A vault holding `shop:dev:PATH=/x #` (a valid tresor key, not a variable name) and a
/// normal secret.
fn vault_with_bad_name() -> TestVault {
    let tv = TestVault::new();
    tv.add("shop", "dev", "PATH=/x #", "evil");
    tv.add("shop", "dev", "GOOD", "fine");
    tv
}

#[test]
fn run_refuses_a_secret_that_is_not_a_variable_name() {
    let tv = vault_with_bad_name();
    let err = tv.fail(2, ["run", "-f", "shop:dev:", "--", "env"]);
    contains_all(&err, &["shop:dev:PATH=/x #", "not a valid variable name"]);
    // The same through a template.
    tv.write("env.template", "shop:dev:*\n");
    let err = tv.fail(2, ["run", "--template", "env.template", "--", "env"]);
    contains_all(&err, &["shop:dev:PATH=/x #", "not a valid variable name"]);
}

#[test]
fn env_refuses_a_secret_that_is_not_a_variable_name() {
    let tv = vault_with_bad_name();
    tv.write("env.template", "shop:dev:*\n");
    let err = tv.fail(2, ["env", "--out", ".env"]);
    contains_all(&err, &["shop:dev:PATH=/x #", "not a valid variable name"]);
    assert!(!tv.path(".env").exists(), "a .env was written");
    let err = tv.fail(2, ["env", "--out", "-"]);
    contains_all(&err, &["not a valid variable name"]);
    // A template naming the variable itself is checked too.
    tv.write("env.template", "BAD NAME=shop:dev:GOOD\n");
    let o = tv.cmd().args(["env", "--out", "-"]).output();
    assert_ne!(
        o.status.code(),
        Some(0),
        "a template entry 'BAD NAME' was rendered"
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains("BAD NAME="));
}
