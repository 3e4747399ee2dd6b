//! Bad input: each case must give a clear message naming what was wrong, a non-zero exit,
//! no panic (checked by `TestCommand::output` for every command), and change nothing.

use crate::util::{TestVault, contains_all, seeqret_python, stderr};
use crate::{eqnice, tvtest};

#[test]
fn missing_vault() {
    let tv = TestVault::empty();
    for args in [
        &["get", "K"][..],
        &["list"],
        &["add", "key", "K", "v"],
        &["audit", "--verify"],
        &["backup", "-o", "b"],
    ] {
        let e = tv.fail(2, args);
        contains_all(
            &e,
            &[
                &format!("no vault at '{}'", tv.dir().display()),
                "hint: run 'tresor init'",
            ],
        );
    }
    assert!(
        !tv.dir().exists(),
        "a failed command created the vault folder"
    );
    let e = tv.fail(2, ["--vault", "/nonexistent/vault", "list"]);
    assert!(e.contains("no vault at '/nonexistent/vault'"), "{e}");
}

#[test]
fn wrong_passphrase() {
    let tv = TestVault::empty();
    tv.cmd()
        .env("TRESOR_PASSPHRASE", "right")
        .args(["init", "--passphrase"])
        .stdout();
    tv.cmd()
        .env("TRESOR_PASSPHRASE", "right")
        .args(["add", "key", "K", "v"])
        .stdout();
    let before = tv.files();
    for args in [
        &["get", "K"][..],
        &["add", "key", "L", "w"],
        &["rm", "key", "K", "--yes"],
    ] {
        let o = tv
            .cmd()
            .env("TRESOR_PASSPHRASE", "wrong")
            .args(args)
            .code(2);
        let e = crate::util::stderr(&o);
        contains_all(&e, &["wrong passphrase", "nothing was changed"]);
        assert!(o.stdout.is_empty());
    }
    let pf = tv.write("p", "wrong\n");
    let e = tv
        .cmd()
        .arg("--passphrase-file")
        .arg(&pf)
        .args(["get", "K"])
        .code(2);
    assert!(crate::util::stderr(&e).contains("wrong passphrase"));
    let e = tv.fail(2, ["--passphrase-file", "/no/such/file", "get", "K"]);
    contains_all(&e, &["cannot read passphrase file", "/no/such/file"]);
    assert_eq!(before, tv.files());
}

tvtest!(key_file_missing, |tv: TestVault| {
    tv.add("a", "e", "K", "v");
    let key = tv.dir().join("vault.key");
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let db_before = std::fs::read(tv.db()).unwrap();
    let e = tv.fail(2, ["get", "a:e:K"]);
    contains_all(
        &e,
        &[
            &format!("key file '{}' is missing", key.display()),
            "hint: restore the key file",
        ],
    );
    // Not mistaken for "no vault": init must not make a new key for the old database.
    let e = tv.fail(2, ["init"]);
    assert!(e.contains("already exists"), "{e}");
    assert!(!key.exists());
    assert_eq!(db_before, std::fs::read(tv.db()).unwrap());
    std::fs::write(&key, saved).unwrap();
    eqnice!("v", tv.get("a:e:K"));
});

tvtest!(key_file_readable_by_others_warns, |tv: TestVault| {
    use std::os::unix::fs::PermissionsExt as _;
    tv.add("a", "e", "K", "v");
    let key = tv.dir().join("vault.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = tv.cmd().args(["get", "a:e:K"]).code(0);
    assert_eq!(o.stdout, b"v");
    contains_all(
        &crate::util::stderr(&o),
        &["warning:", &key.display().to_string(), "0644", "chmod 600"],
    );
    std::fs::set_permissions(tv.dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = tv.cmd().args(["list"]).code(0);
    assert!(crate::util::stderr(&o).contains("chmod 700"));
});

/// The vault refuses a damaged database with a message about the database, exit 2,
/// and leaves the file as it was (no "repair" over the evidence).
fn refuses_damaged_db(tv: &TestVault) {
    let damaged = std::fs::read(tv.db()).unwrap();
    for args in [
        &["get", "a:e:K"][..],
        &["list"],
        &["add", "key", "N", "v"],
        &["audit", "--verify"],
    ] {
        let e = tv.fail(2, args);
        assert!(
            e.contains(&tv.db().display().to_string()) || e.contains("database"),
            "the message should name the database: {e}"
        );
    }
    assert_eq!(
        damaged,
        std::fs::read(tv.db()).unwrap(),
        "the damaged db was rewritten"
    );
}

tvtest!(garbage_database, |tv: TestVault| {
    tv.add("a", "e", "K", "v");
    let len = std::fs::metadata(tv.db()).unwrap().len() as usize;
    let garbage: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(tv.db(), garbage).unwrap();
    refuses_damaged_db(&tv);
});

tvtest!(truncated_database, |tv: TestVault| {
    for i in 0..20 {
        tv.add("a", "e", &format!("K{i}"), &"x".repeat(2000));
    }
    tv.add("a", "e", "K", "v");
    let bytes = std::fs::read(tv.db()).unwrap();
    // Cut in the middle of a page, after the header.
    std::fs::write(tv.db(), &bytes[..bytes.len() / 3 + 100]).unwrap();
    refuses_damaged_db(&tv);
});

// A zero-length or deleted database used to be replaced, silently, by a fresh empty store:
// the owner identity and the audit trail were gone and `audit --verify` said "intact".
tvtest!(empty_or_deleted_database, |tv: TestVault| {
    tv.add("a", "e", "K", "v");
    std::fs::write(tv.db(), b"").unwrap();
    refuses_damaged_db(&tv);
    assert_eq!(std::fs::metadata(tv.db()).unwrap().len(), 0);
    std::fs::remove_file(tv.db()).unwrap();
    let e = tv.fail(2, ["add", "key", "N", "v"]);
    contains_all(&e, &["tresor.db' is missing", "restore"]);
    assert!(
        !tv.db().exists(),
        "a fresh database was made in place of the lost one"
    );
});

tvtest!(malformed_filter, |tv: TestVault| {
    let before = tv.snapshot();
    let e = tv.fail(2, ["get", "app:dev:KEY:extra"]);
    eqnice!(
        "error: error parsing filter 'app:dev:KEY:extra': too many ':' parts at column 12\n",
        e
    );
    let e = tv.fail(2, ["edit", "value", "[oops", "v"]);
    assert!(e.contains("unclosed character class"), "{e}");
    assert_eq!(before, tv.snapshot());
});

tvtest!(unknown_user, |tv: TestVault| {
    tv.add("a", "e", "K", "v");
    let before = tv.snapshot();
    let e = tv.fail(2, ["export", "--to", "nobody", "-f", "a:e:"]);
    contains_all(&e, &["unknown user 'nobody'", "hint: 'tresor users'"]);
    let e = tv.fail(2, ["rm", "user", "nobody", "--yes"]);
    assert!(e.contains("unknown user 'nobody'"), "{e}");
    assert_eq!(before, tv.snapshot());
    let e = tv.fail(
        2,
        ["add", "user", "--username", "x", "--pubkey", "not-a-key"],
    );
    assert!(e.contains("invalid public key"), "{e}");
    let e = tv.fail(
        2,
        [
            "add",
            "user",
            "--username",
            "a:b",
            "--pubkey",
            &tv.public_key(),
        ],
    );
    assert!(e.contains("invalid user name"), "{e}");
    assert_eq!(before, tv.snapshot());
});

tvtest!(env_template_unknown_directive, |tv: TestVault| {
    tv.add("a", "e", "K", "v");
    tv.write("env.template", "a:e:K\n@include other\n");
    let e = tv.fail(2, ["env"]);
    contains_all(&e, &["line 2", "unknown directive '@include other'"]);
    assert!(!tv.path(".env").exists());
    let e = tv.fail(2, ["run", "-t", "env.template", "--", "true"]);
    assert!(e.contains("unknown directive"), "{e}");
});

const TRICKY: &str =
    "line one\nline \"two\" it's $HOME ${PATH} `id` \\n \\ # not a comment\n\ttab=";

tvtest!(
    value_with_newline_quote_dollar_round_trips,
    |tv: TestVault| {
        tv.add("a", "e", "TRICKY", TRICKY);
        eqnice!(TRICKY, tv.get("a:e:TRICKY"));
        tv.run_stdin(["add", "text", "T2", "--app", "a", "--env", "e"], TRICKY);
        eqnice!(TRICKY, tv.get("a:e:T2"));
        // Through run: the child sees the exact bytes.
        let out = tv.run([
            "run",
            "--no-mask",
            "-f",
            "a:e:TRICKY",
            "--",
            "sh",
            "-c",
            "printf %s \"$TRICKY\"",
        ]);
        eqnice!(TRICKY, out);
        // Through env and back through tresor's own .env reader.
        tv.write("env.template", "a:e:TRICKY\n");
        tv.run(["env"]);
        tv.run(["importenv", ".env", "--app", "back", "--env", "e"]);
        eqnice!(TRICKY, tv.get("back:e:TRICKY"));
        // And through a real dotenv parser (python-dotenv in the peers venv), when present.
        let Some(py) =
            seeqret_python("value_with_newline_quote_dollar_round_trips (python-dotenv)")
        else {
            return;
        };
        let o = std::process::Command::new(py)
            .args([
                "-c",
                // python-dotenv expands ${NAME} in every value, even single-quoted ones, unless
                // told not to: a hazard tresor documents (tresor_vault::dotenv, Hazards).
                "import sys, dotenv; \
             sys.stdout.write(dotenv.dotenv_values(sys.argv[1], interpolate=False)['TRICKY'])",
            ])
            .arg(tv.path(".env"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        eqnice!(TRICKY, String::from_utf8(o.stdout).unwrap());
    }
);

tvtest!(name_with_colon_or_control_is_refused, |tv: TestVault| {
    let before = tv.snapshot();
    let e = tv.fail(2, ["add", "key", "A:B", "v"]);
    contains_all(&e, &["invalid", "'A:B'", "must not contain ':'"]);
    let e = tv.fail(2, ["add", "key", "K", "v", "--app", "x:y"]);
    contains_all(&e, &["'x:y'", "must not contain ':'"]);
    let e = tv.fail(2, ["add", "key", "", "v"]);
    assert!(e.contains("must not be empty"), "{e}");
    let e = tv.fail(2, ["add", "key", "K\tX", "v"]);
    assert!(e.contains("control characters"), "{e}");
    let e = tv
        .cmd()
        .args(["importenv", "-", "--app", "a:b"])
        .stdin("X=1\n")
        .code(2);
    let e = crate::util::stderr(&e);
    assert!(e.contains("must not contain ':'"), "{e}");
    assert_eq!(before, tv.snapshot());
});

tvtest!(importenv_missing_or_binary_file, |tv: TestVault| {
    let e = tv.fail(2, ["importenv", "nope.env"]);
    contains_all(&e, &["cannot open 'nope.env'"]);
    tv.write("bin.env", [0xffu8, 0xfe, b'=', b'\n']);
    let e = tv.fail(2, ["importenv", "bin.env"]);
    assert!(e.contains("not UTF-8"), "{e}");
    let e = tv.fail(2, ["load", "nope.tresor"]);
    assert!(e.contains("nope.tresor"), "{e}");
});

// The hint for a damaged database must lead somewhere: `restore` cannot open the damaged
// vault, so the way out is a restore into a clean folder with the old key file.
tvtest!(
    damaged_database_recovers_by_following_the_hint,
    |tv: TestVault| {
        tv.add("a", "e", "K", "v");
        let bak = tv.path("b.backup");
        tv.cmd().arg("backup").arg("-o").arg(&bak).stdout();
        std::fs::write(
            tv.db(),
            b"SQLite format 3\0 but then garbage, garbage, garbage",
        )
        .unwrap();
        let e = tv.fail(2, ["get", "a:e:K"]);
        contains_all(&e, &["hint:", "--key-file"]);
        // `restore` in place cannot open the damaged vault.
        tv.cmd().arg("restore").arg(&bak).arg("--yes").code(2);
        let old = tv.path("damaged-vault");
        std::fs::rename(tv.dir(), &old).unwrap();
        tv.cmd()
            .arg("restore")
            .arg(&bak)
            .arg("--key-file")
            .arg(old.join("vault.key"))
            .stdout();
        eqnice!("v", tv.get("a:e:K"));
        assert!(tv.run(["audit", "--verify"]).contains("intact"));
    }
);

// Issue 3: a filter whose parts are all empty matches every secret; `rm key` refuses it like
// the empty filter, unless --all says so (and then still asks, or needs --yes).
tvtest!(r3_rm_key_all_empty_parts_is_refused, |tv: TestVault| {
    tv.add("a", "e", "K1", "v1");
    tv.add("b", "f", "K2", "v2");
    let before = tv.secrets();
    for f in ["", "::", ":", " "] {
        let e = tv.fail(2, ["rm", "key", f, "--yes"]);
        contains_all(&e, &["would remove every secret", "--all"]);
        assert_eq!(before, tv.secrets(), "rm key '{f}' --yes removed something");
    }
    // --all without --yes and without a terminal still removes nothing.
    let e = tv.fail(2, ["rm", "key", "::", "--all"]);
    contains_all(&e, &["no terminal", "--yes"]);
    assert_eq!(before, tv.secrets());
    tv.run(["rm", "key", "::", "--all", "--yes"]);
    assert!(tv.secrets().is_empty());
});

// Issue 3: the app and env options are checked before any input is read, so an invalid app
// fails even when the input is empty.
tvtest!(
    r3_importenv_invalid_app_with_empty_input,
    |tv: TestVault| {
        let before = tv.secrets();
        let o = tv
            .cmd()
            .args(["importenv", "-", "--app", "a:b"])
            .stdin("")
            .code(2);
        contains_all(&stderr(&o), &["APP", "a:b"]);
        let o = tv
            .cmd()
            .args(["importenv", "-", "--app", "a", "--env", "e:v"])
            .stdin("")
            .code(2);
        contains_all(&stderr(&o), &["ENV", "e:v"]);
        let o = tv
            .cmd()
            .args(["add", "file", "-", "--app", "a:b"])
            .stdin("")
            .code(2);
        contains_all(&stderr(&o), &["APP", "a:b"]);
        assert_eq!(before, tv.secrets());
    }
);

// Issue 3: an I/O error names its cause once (the error chain and the message that already
// embeds the cause used to print it twice).
tvtest!(r3_io_error_cause_printed_once, |tv: TestVault| {
    tv.add("a", "e", "K", "v");
    let cause = "No such file or directory";
    let missing = tv.path("nonexistent/file");
    let missing_dir_file = tv.path("nonexistent/dir/out");
    let key_file = tv.path("nonexistent/vault.key");
    let cases: Vec<Vec<std::ffi::OsString>> = vec![
        vec!["importenv".into(), missing.clone().into()],
        vec!["env".into(), "--template".into(), missing.clone().into()],
        vec![
            "backup".into(),
            "-o".into(),
            missing_dir_file.clone().into(),
        ],
        vec!["restore".into(), missing.clone().into(), "--yes".into()],
        vec![
            "restore".into(),
            missing.clone().into(),
            "--key-file".into(),
            key_file.into(),
            "--vault".into(),
            tv.path("fresh").into(),
        ],
        vec![
            "--passphrase-file".into(),
            missing.clone().into(),
            "init".into(),
            tv.path("other").into(),
            "--passphrase".into(),
        ],
    ];
    for args in cases {
        let o = tv.cmd().args(&args).code(2);
        let e = stderr(&o);
        assert_eq!(
            e.matches(cause).count(),
            1,
            "{args:?}: the cause should appear exactly once in:\n{e}"
        );
        assert!(e.starts_with("error: "), "{args:?}: {e}");
    }
});
