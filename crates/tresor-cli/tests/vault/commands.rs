//! Every vault command, driven through the real binary.

#[allow(unused_imports)] // TestVault is named only by local-only tests (see tests/remote.rs)
use crate::util::{TestVault, contains_all, mode, stderr};
use crate::{eqnice, tvtest};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

// ---- init ----------------------------------------------------------------------------------

// Local only (see tests/remote.rs).
local! {
#[test]
fn init_default_dir_under_home() {
    let tv = TestVault::empty();
    let out = tv.run(["init"]);
    let dir = tv.dir();
    contains_all(&out, &[&dir.display().to_string(), "age1"]);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("vault.key")), 0o600);
    assert_eq!(mode(&dir.join("tresor.db")), 0o600);
    // USER=tester in the test environment: the default owner is tester@host.
    let who = json(&tv.run(["whoami", "--json"]));
    assert!(
        who["user"].as_str().unwrap().starts_with("tester@"),
        "{who}"
    );
}
}

// Local only (see tests/remote.rs).
local! {
#[test]
fn init_explicit_dir_user_email() {
    let tv = TestVault::empty();
    let dir = tv.path("vaults/work");
    let out = tv.run([
        "init".as_ref(),
        dir.as_os_str(),
        "--user".as_ref(),
        "bob@laptop".as_ref(),
        "--email".as_ref(),
        "bob@example.org".as_ref(),
    ]);
    assert!(out.contains(&dir.display().to_string()), "{out}");
    assert!(dir.join("vault.key").exists());
    assert!(!tv.dir().exists(), "the default folder must stay untouched");
    let who = tv
        .cmd()
        .arg("--vault")
        .arg(&dir)
        .args(["whoami", "--json"])
        .stdout();
    let who = json(&who);
    assert_eq!(who["user"], "bob@laptop");
    assert_eq!(who["email"], "bob@example.org");
    let text = tv.cmd().arg("--vault").arg(&dir).arg("whoami").stdout();
    eqnice!("bob@laptop <bob@example.org>\n", text);
}
}

// Local only (see tests/remote.rs).
local! {
#[test]
fn init_honours_tresor_vault_and_xdg_data_home() {
    let tv = TestVault::empty();
    let xdg = tv.path("xdg");
    tv.cmd().env("XDG_DATA_HOME", &xdg).arg("init").stdout();
    assert!(xdg.join("tresor/vault.key").exists());
    let tvv = tv.path("by-env");
    tv.cmd().env("TRESOR_VAULT", &tvv).arg("init").stdout();
    assert!(tvv.join("vault.key").exists());
    // TRESOR_VAULT wins over XDG_DATA_HOME.
    tv.cmd()
        .env("TRESOR_VAULT", &tvv)
        .env("XDG_DATA_HOME", &xdg)
        .args(["add", "key", "K", "v"])
        .stdout();
    let got = tv
        .cmd()
        .env("TRESOR_VAULT", &tvv)
        .args(["get", "K"])
        .stdout();
    eqnice!("v", got);
    tv.cmd()
        .env("XDG_DATA_HOME", &xdg)
        .args(["get", "K"])
        .code(1);
}
}

// Local only (see tests/remote.rs).
local! {
#[test]
fn init_with_passphrase_from_env_and_file() {
    let tv = TestVault::empty();
    tv.cmd()
        .env("TRESOR_PASSPHRASE", "correct horse")
        .args(["init", "--passphrase"])
        .stdout();
    let key = std::fs::read_to_string(tv.dir().join("vault.key")).unwrap();
    assert!(!key.contains("correct horse"));
    // Without a passphrase source (stdin is not a terminal): a clear refusal.
    let e = tv.fail(2, ["add", "key", "K", "v"]);
    contains_all(
        &e,
        &["protected by a passphrase", "hint:", "TRESOR_PASSPHRASE"],
    );
    tv.cmd()
        .env("TRESOR_PASSPHRASE", "correct horse")
        .args(["add", "key", "K", "v"])
        .stdout();
    let pf = tv.write("pass.txt", "correct horse\n");
    let got = tv
        .cmd()
        .arg("--passphrase-file")
        .arg(&pf)
        .args(["get", "K"])
        .stdout();
    eqnice!("v", got);
    let info = tv
        .cmd()
        .env("TRESOR_PASSPHRASE", "correct horse")
        .args(["info", "--json"])
        .stdout();
    assert_eq!(json(&info)["passphrase"], true);
}
}

// Local only (see tests/remote.rs).
local! {
#[test]
fn second_init_is_refused_and_the_vault_untouched() {
    let tv = TestVault::new();
    tv.add("app", "dev", "K", "v1");
    let before = tv.files();
    let e = tv.fail(2, ["init"]);
    contains_all(&e, &["already exists", "untouched"]);
    let e = tv.fail(2, ["init", "--user", "mallory"]);
    assert!(e.contains("already exists"), "{e}");
    let e = tv
        .cmd()
        .env("TRESOR_PASSPHRASE", "x")
        .args(["init", "--passphrase"])
        .code(2);
    assert!(stderr(&e).contains("already exists"));
    assert_eq!(before, tv.files(), "a refused init changed the vault files");
    eqnice!("v1", tv.get("app:dev:K"));
}
}

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

// ---- env -----------------------------------------------------------------------------------

const TEMPLATE: &str = "\
# a comment, then pins
@tresor>=0.1
@seeqret>=1.0

app:dev:DB_*
PGPASS=app:prod:DB_PASS
MODE=dev
GREETING=\"hello world\"
";

tvtest!(env_template_grammar, |tv: TestVault| {
    tv.add("app", "dev", "DB_PASS", "pw-dev");
    tv.add("app", "dev", "DB_USER", "u");
    tv.add("app", "prod", "DB_PASS", "pw-prod");
    tv.write("env.template", TEMPLATE);
    tv.run(["env"]);
    let out = tv.path(".env");
    assert_eq!(mode(&out), 0o600, ".env must be private");
    eqnice!(
        "DB_PASS='pw-dev'\nDB_USER='u'\nPGPASS='pw-prod'\nMODE='dev'\nGREETING='hello world'\n",
        std::fs::read_to_string(&out).unwrap()
    );
    // An existing world-readable .env is replaced by a private one.
    std::fs::set_permissions(&out, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    tv.run(["env"]);
    assert_eq!(mode(&out), 0o600);
    // -o - prints; -t picks another template.
    tv.write("t2", "X=app:dev:DB_USER\n");
    eqnice!("X='u'\n", tv.run(["env", "-t", "t2", "-o", "-"]));
});

tvtest!(env_errors_write_nothing, |tv: TestVault| {
    tv.add("app", "dev", "DB_PASS", "d");
    tv.add("app", "prod", "DB_PASS", "p");
    let cases = [
        (
            "app:dev:DB_PASS\napp:prod:DB_PASS\n",
            "duplicate output name 'DB_PASS'",
        ),
        ("X=1\nX=2\n", "line 2: duplicate output name 'X'"),
        ("# ok\n@foo>=1\n", "line 2: unknown directive '@foo>=1'"),
        ("@tresor>=99\n", "template requires tresor>=99"),
        ("PG=app:*:DB_PASS\n", "must match one secret, but matched 2"),
        ("PG=app:dev:NOPE\n", "must match one secret, but matched 0"),
        ("a:b:c:d\n", "too many ':' parts"),
    ];
    for (template, msg) in cases {
        tv.write("env.template", template);
        let e = tv.fail(2, ["env"]);
        assert!(
            e.contains(msg),
            "template {template:?}: expected {msg:?} in {e}"
        );
        assert!(!tv.path(".env").exists(), "a failed env wrote .env");
    }
    let e = tv.fail(2, ["env", "-t", "missing.template"]);
    assert!(e.contains("missing.template"), "{e}");
});

// ---- importenv -----------------------------------------------------------------------------

tvtest!(
    importenv_update_dry_run_and_one_transaction,
    |tv: TestVault| {
        let f = tv.write("a.env", "A=1\nB=\"two words\"\nC='$x'\n");
        let out = tv.run(["importenv", "a.env", "--app", "a", "--env", "e"]);
        contains_all(&out, &["added a:e:A", "added a:e:B", "added a:e:C"]);
        eqnice!("two words", tv.get("a:e:B"));

        // Existing keys without --update: refused, nothing written (not even the new key D).
        std::fs::write(&f, "D=4\nA=1\nB=changed\n").unwrap();
        let before = tv.snapshot();
        let e = tv.fail(2, ["importenv", "a.env", "--app", "a", "--env", "e"]);
        assert!(e.contains("'a:e:A' already exists"), "{e}");
        assert_eq!(before, tv.snapshot());

        // --dry-run writes nothing, says what it would do.
        let j = json(&tv.run([
            "importenv",
            "a.env",
            "--app",
            "a",
            "--env",
            "e",
            "--update",
            "--dry-run",
            "--json",
        ]));
        assert_eq!(j["dry_run"], true);
        assert_eq!(j["added"], serde_json::json!(["a:e:D"]));
        assert_eq!(j["updated"], serde_json::json!(["a:e:B"]));
        assert_eq!(j["unchanged"], serde_json::json!(["a:e:A"]));
        let text = tv.run([
            "importenv",
            "a.env",
            "--app",
            "a",
            "--env",
            "e",
            "--update",
            "--dry-run",
        ]);
        contains_all(&text, &["would add a:e:D", "would update a:e:B"]);
        assert_eq!(before, tv.snapshot());

        tv.run(["importenv", "a.env", "--app", "a", "--env", "e", "--update"]);
        eqnice!("changed", tv.get("a:e:B"));
        eqnice!("4", tv.get("a:e:D"));
        let h = json(&tv.run(["history", "a:e:A", "--json"]));
        assert_eq!(
            h["versions"].as_array().unwrap().len(),
            1,
            "unchanged keeps its version"
        );

        // A bad line anywhere: nothing imported.
        tv.write("bad.env", "NEW1=1\nNEW2=2\nthis line is bad\nNEW3=3\n");
        let before = tv.snapshot();
        let e = tv.fail(2, ["importenv", "bad.env", "--app", "a", "--env", "e"]);
        contains_all(&e, &["line 3"]);
        assert_eq!(before, tv.snapshot());
        // So does a bad name, after good ones.
        tv.write("bad.env", "NEW1=1\nNEW2=2\nBAD:NAME=3\n");
        tv.fail(2, ["importenv", "bad.env", "--app", "a", "--env", "e"]);
        assert_eq!(before, tv.snapshot());
        // stdin.
        tv.run_stdin(
            ["importenv", "-", "--app", "s", "--env", "e"],
            "FROM_STDIN=yes\n",
        );
        eqnice!("yes", tv.get("s:e:FROM_STDIN"));
    }
);

// ---- run -----------------------------------------------------------------------------------

tvtest!(run_passes_secrets_and_exit_code, |tv: TestVault| {
    tv.add("app", "dev", "DB_PASS", "pw with 'quotes' and $dollar");
    tv.add("app", "dev", "DB_USER", "u");
    tv.add("app", "prod", "DB_PASS", "prod");
    let files_before = list_tree(tv.home());
    let out = tv.run([
        "run",
        "--no-mask",
        "-f",
        "app:dev:",
        "--",
        "sh",
        "-c",
        "printf '%s|%s|%s' \"$DB_PASS\" \"$DB_USER\" \"${HOME:+home}\"",
    ]);
    eqnice!("pw with 'quotes' and $dollar|u|home", out);
    assert_eq!(files_before, list_tree(tv.home()), "run wrote a file");
    // The child's exit code is passed through.
    let o = tv
        .cmd()
        .args(["run", "-f", "app:dev:", "--", "sh", "-c", "exit 7"])
        .output();
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    // A template, and a filter set that names the same KEY twice.
    tv.write("env.template", "PG=app:prod:DB_PASS\n");
    let out = tv.run([
        "run",
        "--no-mask",
        "-t",
        "env.template",
        "--",
        "sh",
        "-c",
        "printf %s \"$PG\"",
    ]);
    eqnice!("prod", out);
    let e = tv.fail(2, ["run", "-f", "DB_PASS", "--", "true"]);
    assert!(e.contains("DB_PASS"), "{e}");
    let e = tv.fail(2, ["run", "-f", "app:dev:", "--", "/no/such/program"]);
    assert!(e.contains("cannot run '/no/such/program'"), "{e}");
});

fn list_tree(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            // The vault folder's SQLite side files may come and go.
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with("-wal") || name.ends_with("-shm") {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(root).unwrap().display().to_string());
        }
    }
    out.sort();
    out
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

// ---- audit ---------------------------------------------------------------------------------

// Local only (see tests/remote.rs).
local! {
tvtest!(
    audit_log_and_verify_detects_an_edited_row,
    |tv: TestVault| {
        tv.add("a", "e", "K", "v");
        tv.run(["edit", "value", "a:e:K", "w"]);
        let log = json(&tv.run(["audit", "--json"]));
        let actions: Vec<&str> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(actions.len() >= 4, "{actions:?}");
        assert!(!tv.run(["audit"]).contains("\"w\""));
        let ok = tv.run(["audit", "--verify"]);
        assert!(ok.contains("audit chain intact"), "{ok}");
        let j = json(&tv.run(["audit", "--verify", "--json"]));
        assert_eq!(j["ok"], true);

        // Edit one row behind tresor's back.
        let db = rusqlite::Connection::open(tv.db()).unwrap();
        let n = db
            .execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2", [])
            .unwrap();
        assert_eq!(n, 1);
        drop(db);
        let e = tv.fail(1, ["audit", "--verify"]);
        assert!(e.contains("BROKEN at entry 2"), "{e}");
        let o = tv.cmd().args(["audit", "--verify", "--json"]).code(1);
        let j = json(&String::from_utf8_lossy(&o.stdout));
        assert_eq!(j["ok"], false);
        assert_eq!(j["first_bad"], 2);
    }
);
}

// Local only (see tests/remote.rs).
local! {
tvtest!(audit_verify_detects_a_removed_row, |tv: TestVault| {
    tv.add("a", "e", "K", "v");
    tv.add("a", "e", "L", "v");
    let db = rusqlite::Connection::open(tv.db()).unwrap();
    db.execute("DELETE FROM audit WHERE seq = 3", []).unwrap();
    drop(db);
    let e = tv.fail(1, ["audit", "--verify"]);
    assert!(e.contains("BROKEN"), "{e}");
    // The tail row removed: detected too? (a chain alone cannot see truncation)
    let tv = TestVault::new();
    tv.add("a", "e", "K", "v");
    let db = rusqlite::Connection::open(tv.db()).unwrap();
    db.execute(
        "UPDATE audit SET detail = detail || ' ' WHERE seq = (SELECT MAX(seq) FROM audit)",
        [],
    )
    .unwrap();
    drop(db);
    tv.fail(1, ["audit", "--verify"]);
});
}

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
