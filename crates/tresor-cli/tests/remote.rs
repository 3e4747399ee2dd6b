//! The vault CLI's integration tests again, in remote mode: every `TestVault::new()` vault is
//! a fresh `tresor kmip serve` (certificates from `tresor kmip certs init`) that the commands
//! reach with `--server` settings (`TRESOR_SERVER`, `TRESOR_CLIENT_CERT/KEY/CA`), through the
//! same helpers and test bodies as `tests/tests.rs`.
//!
//! Left out (inside `local! { … }` in the shared modules, or whole modules not included here):
//! `init`, users, public keys, whoami/info/upgrade, audit, completions, export/load (sharing),
//! backup/restore, unlock, seeqret import, crash and at-rest tests, bad input on vault files —
//! they act on the local vault's files or on commands that `--server` refuses (which
//! `remote_refuses_local_only_commands` checks). `add text`'s vault type (`text`) is not
//! carried over KMIP, so `add_text_keeps_every_byte` stays local too.

/// The shared test bodies run against a server.
const REMOTE: bool = true;

/// Local-only tests are dropped in this binary.
macro_rules! local {
    ($($item:item)*) => {};
}

#[path = "vault/macros.rs"]
mod macros;
#[path = "vault/util.rs"]
#[allow(dead_code)]
mod util;

#[path = "vault/commands.rs"]
mod commands;
#[path = "vault/filters.rs"]
mod filters;

mod remote_only {
    use crate::util::{TestVault, contains_all};

    /// Users A and B on one server: B cannot read, list or change A's secret until it is
    /// granted (`tresor kmip grant`), then reads it through `tresor --server`.
    #[test]
    fn grants_decide_who_reads_a_secret() {
        let tv = TestVault::remote();
        tv.act_as("alice");
        tv.add("shop", "prod", "API_TOKEN", "alice-secret-91c2");
        crate::eqnice!("alice-secret-91c2", tv.get("shop:prod:API_TOKEN"));
        let uid = {
            let v: serde_json::Value =
                serde_json::from_str(&tv.run(["list", "shop:prod:API_TOKEN", "--json"])).unwrap();
            v[0]["uid"].as_str().unwrap().to_owned()
        };

        tv.act_as("bob");
        let e = tv.fail(1, ["get", "shop:prod:API_TOKEN"]);
        contains_all(&e, &["no secret matches 'shop:prod:API_TOKEN'"]);
        tv.fail(1, ["list", "shop:"]);
        // Bob cannot take the name either: the server keeps it for alice's object.
        let e = tv.fail(
            2,
            [
                "add",
                "key",
                "API_TOKEN",
                "bob",
                "--app",
                "shop",
                "--env",
                "prod",
            ],
        );
        contains_all(&e, &["belongs to another object"]);

        let r = tv.server().unwrap();
        tv.cmd()
            .arg("--vault")
            .arg(&r.vault)
            .args(["kmip", "grant", &uid, "bob", "get,locate"])
            .stdout();
        crate::eqnice!("alice-secret-91c2", tv.get("shop:prod:API_TOKEN"));
        // get and locate do not include modify or destroy.
        let e = tv.fail(2, ["edit", "value", "shop:prod:API_TOKEN", "bob-was-here"]);
        contains_all(&e, &["PermissionDenied"]);
        let e = tv.fail(2, ["rm", "key", "shop:prod:API_TOKEN", "--yes"]);
        contains_all(&e, &["PermissionDenied"]);

        tv.act_as("alice");
        crate::eqnice!("alice-secret-91c2", tv.get("shop:prod:API_TOKEN"));
        let h: serde_json::Value =
            serde_json::from_str(&tv.run(["history", "shop:prod:API_TOKEN", "--json"])).unwrap();
        assert_eq!(h["versions"].as_array().unwrap().len(), 1, "{h}");
    }

    /// Commands that act on the local vault's files say so under --server and touch nothing.
    #[test]
    fn remote_refuses_local_only_commands() {
        let tv = TestVault::remote();
        tv.add("a", "e", "K", "v");
        for args in [
            &["init"][..],
            &["backup", "-o", "x.bak"],
            &["restore", "x.bak", "--yes"],
            &["export", "--to", "bob", "-f", "a:e:"],
            &["load", "x"],
            &["users"],
            &["unlock"],
            &["migrate", "--from", "a", "--to", "b"],
            &["audit"],
            &["rm", "user", "bob", "--yes"],
        ] {
            let e = tv.fail(2, args);
            contains_all(&e, &["works on a local vault; drop --server"]);
        }
        assert!(!tv.path(".local/share/tresor").exists());
        assert!(!tv.path("x.bak").exists());
        crate::eqnice!("v", tv.get("a:e:K"));
    }

    /// What the server stores is what the local vault on the server machine shows: a secret
    /// added with --server is a vault secret there, with its versions.
    #[test]
    fn remote_secrets_are_vault_secrets_on_the_server() {
        let tv = TestVault::remote();
        tv.add("app", "dev", "DB", "one");
        tv.run(["edit", "value", "app:dev:DB", "two"]);
        let r = tv.server().unwrap();
        let local = |args: &[&str]| {
            let mut c = tv.cmd();
            c.command().env_remove("TRESOR_SERVER");
            c.arg("--vault").arg(&r.vault).args(args).stdout()
        };
        crate::eqnice!("two", local(&["get", "app:dev:DB"]));
        let h: serde_json::Value =
            serde_json::from_str(&local(&["history", "app:dev:DB", "--json"])).unwrap();
        assert_eq!(h["versions"].as_array().unwrap().len(), 2, "{h}");
        tv.run(["rm", "key", "app:dev:DB", "--yes"]);
        let l: serde_json::Value = serde_json::from_str(&local(&["list", "--json"])).unwrap();
        assert!(l.as_array().unwrap().is_empty(), "{l}");
        // The name is free again.
        tv.add("app", "dev", "DB", "three");
        crate::eqnice!("three", local(&["get", "app:dev:DB"]));
    }

    /// Bad --server settings: a clear error, exit 2.
    #[test]
    fn bad_server_settings() {
        let tv = TestVault::empty();
        let e = tv.fail(2, ["--server", "127.0.0.1:1", "get", "a:b:c"]);
        contains_all(&e, &["--server needs a client certificate", "--cert"]);
        let e = tv.fail(
            2,
            [
                "--server",
                "127.0.0.1:notaport",
                "--cert",
                "c",
                "--key",
                "k",
                "--ca",
                "a",
                "list",
            ],
        );
        contains_all(&e, &["'notaport' is not a port number"]);
        let remote = TestVault::remote();
        let r = remote.server().unwrap();
        // A server that is not listening.
        let e = tv.fail(
            2,
            [
                "--server".as_ref(),
                "127.0.0.1:1".as_ref(),
                "--cert".as_ref(),
                r.certs.join("client.crt").as_os_str(),
                "--key".as_ref(),
                r.certs.join("client.key").as_os_str(),
                "--ca".as_ref(),
                r.certs.join("ca.crt").as_os_str(),
                "list".as_ref(),
            ] as [&std::ffi::OsStr; 9],
        );
        contains_all(&e, &["127.0.0.1:1"]);
    }
}
