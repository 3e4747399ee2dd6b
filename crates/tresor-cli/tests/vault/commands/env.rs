//! Secrets into programs: `env` (templates), `importenv` and `run`.

use super::json;
use crate::util::{contains_all, mode, stderr};
use crate::{eqnice, tvtest};

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
