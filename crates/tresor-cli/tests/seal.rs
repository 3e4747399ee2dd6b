//! Sealed files through the real `tresor` binary, real git (merge and diff drivers) and the
//! real dotenvx (node) when `TRESOR_NODE_DOTENV_DIR` is set.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

struct Env {
    dir: tempfile::TempDir,
    alice: PathBuf,
    alice_pub: String,
    bob: PathBuf,
    bob_pub: String,
}

fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let id = age::x25519::Identity::generate();
    let alice = keys.join("alice.txt");
    {
        use age::secrecy::ExposeSecret;
        std::fs::write(&alice, format!("{}\n", id.to_string().expose_secret())).unwrap();
    }
    let alice_pub = id.to_public().to_string();
    let bob = keys.join("bob_ed25519");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "bob@example", "-f"])
        .arg(&bob)
        .status()
        .unwrap();
    assert!(st.success());
    let bob_pub = std::fs::read_to_string(bob.with_extension("pub"))
        .unwrap()
        .trim()
        .to_owned();
    Env {
        dir,
        alice,
        alice_pub,
        bob,
        bob_pub,
    }
}

impl Env {
    fn path(&self, p: &str) -> PathBuf {
        self.repo().join(p)
    }

    fn repo(&self) -> PathBuf {
        let r = self.dir.path().join("repo");
        std::fs::create_dir_all(&r).unwrap();
        r
    }

    fn tresor(&self, id: Option<&Path>) -> Command {
        let mut c = Command::cargo_bin("tresor").unwrap();
        c.current_dir(self.repo());
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("HOME", self.dir.path())
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"));
        std::fs::create_dir_all(self.dir.path().join("run")).unwrap();
        if let Some(i) = id {
            c.env("TRESOR_IDENTITY", i);
        }
        c
    }

    fn ok(&self, id: Option<&Path>, args: &[&str]) -> String {
        let o = self.tresor(id).args(args).output().unwrap();
        assert!(
            o.status.success(),
            "tresor {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    fn git(&self, args: &[&str]) -> std::process::Output {
        Command::new("git")
            .current_dir(self.repo())
            .env("HOME", self.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("TRESOR_IDENTITY", &self.alice)
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .output()
            .unwrap()
    }

    fn git_ok(&self, args: &[&str]) -> String {
        let o = self.git(args);
        assert!(
            o.status.success(),
            "git {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// An $EDITOR that records the temp file's and folder's modes, then runs `sed -i EXPR`.
    fn editor(&self, expr: &str) -> String {
        let script = self.dir.path().join(format!("editor-{}.sh", expr.len()));
        let log = self.dir.path().join("editor.log");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nstat -c '%a' \"$1\" \"$(dirname \"$1\")\" >> {}\nsed -i '{expr}' \"$1\"\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script.display().to_string()
    }
}

const PLAIN: &[(&str, &str)] = &[
    (
        ".env",
        "# database\nDB_USER=admin\nDB_PASS=\"s3cr3t pass\" # rotated monthly\nAPI_KEY=ak_live_123\n",
    ),
    (
        "config.json",
        "{\n  \"db\": {\n    \"user\": \"admin\",\n    \"pass\": \"s3cr3t pass\"\n  },\n  \"port\": 5432\n}\n",
    ),
    (
        "config.yaml",
        "# app\ndb:\n  user: admin\n  pass: 's3cr3t pass' # rotated\nports:\n  - 5432\n",
    ),
    (
        "config.toml",
        "# app\n[db]\nuser = \"admin\"\npass = \"s3cr3t pass\" # rotated\nport = 5432\n",
    ),
];

#[test]
fn seal_round_trip_each_format() {
    let e = setup();
    for (name, plain) in PLAIN {
        let p = e.path(name);
        std::fs::write(&p, plain).unwrap();
        e.ok(None, &["seal", name, "-r", &e.alice_pub, "-r", &e.bob_pub]);
        let sealed = std::fs::read_to_string(&p).unwrap();
        assert!(
            !sealed.contains("s3cr3t") && !sealed.contains("admin"),
            "{sealed}"
        );
        assert!(sealed.contains("db") || sealed.contains("DB_USER"));
        assert!(sealed.contains("rotated") || *name == "config.json");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // both recipient kinds open it
        assert_eq!(e.ok(Some(&e.alice), &["unseal", name]), *plain, "{name}");
        assert_eq!(e.ok(Some(&e.bob), &["unseal", name]), *plain, "{name}");
        // sealing a sealed file is refused, nothing written
        let o = e
            .tresor(None)
            .args(["seal", name, "-r", &e.alice_pub])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("already sealed"));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), sealed);
    }
    // --json: every value by key path
    let j: serde_json::Value =
        serde_json::from_str(&e.ok(Some(&e.alice), &["unseal", "config.yaml", "--json"])).unwrap();
    assert_eq!(j["values"]["db.pass"], "s3cr3t pass");
    assert_eq!(j["values"]["ports.0"], "5432");
    // the textconv driver shows the file as is to someone who is not a recipient
    let carol = e.dir.path().join("keys/carol.txt");
    {
        use age::secrecy::ExposeSecret;
        let id = age::x25519::Identity::generate();
        std::fs::write(&carol, format!("{}\n", id.to_string().expose_secret())).unwrap();
    }
    let raw = std::fs::read_to_string(e.path(".env")).unwrap();
    assert_eq!(e.ok(Some(&carol), &["git", "textconv", ".env"]), raw);
    assert_eq!(
        e.ok(Some(&e.alice), &["git", "textconv", ".env"]),
        PLAIN[0].1
    );
    // run --file passes the top-level values (--no-mask: the output is not concealed)
    let out = e.ok(
        Some(&e.alice),
        &[
            "run",
            "--no-mask",
            "--file",
            ".env",
            "--",
            "sh",
            "-c",
            "printf '%s|%s' \"$DB_PASS\" \"$TRESOR_IDENTITY\"",
        ],
    );
    assert_eq!(out, "s3cr3t pass|");
}

#[test]
fn edit_changes_one_value_line_and_the_mac_line() {
    let e = setup();
    e.git_ok(&["init", "-q"]);
    let p = e.path(".env");
    let plain: String = (0..20).map(|i| format!("KEY_{i}=value-{i}\n")).collect();
    std::fs::write(&p, &plain).unwrap();
    e.ok(None, &["seal", ".env", "-r", &e.alice_pub]);
    e.git_ok(&["add", ".env"]);
    e.git_ok(&["commit", "-qm", "sealed"]);
    let ed = e.editor("s/^KEY_7=value-7$/KEY_7=changed/");
    let o = e
        .tresor(Some(&e.alice))
        .env("EDITOR", &ed)
        .args(["edit", ".env"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let numstat = e.git_ok(&["diff", "--numstat", "--", ".env"]);
    let (added, removed): (u32, u32) = {
        let f: Vec<&str> = numstat.split_whitespace().collect();
        (f[0].parse().unwrap(), f[1].parse().unwrap())
    };
    assert_eq!((added, removed), (2, 2), "{numstat}");
    let diff = e.git_ok(&["diff", "--no-textconv", "-U0", "--", ".env"]);
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    assert!(
        changed[0].starts_with("+KEY_7=tresor:v1:") && changed[1].starts_with("+# tresor-mac: "),
        "{diff}"
    );
    assert!(
        e.ok(Some(&e.alice), &["unseal", ".env"])
            .contains("KEY_7=changed\n")
    );
    // the editor saw a 0600 file in a 0700 folder, which is gone now
    let log = std::fs::read_to_string(e.dir.path().join("editor.log")).unwrap();
    assert_eq!(log, "600\n700\n");
    assert_eq!(
        std::fs::read_dir(e.dir.path().join("run")).unwrap().count(),
        0
    );
    // the textconv driver shows the plaintext change
    e.ok(None, &["git", "setup", ".env"]);
    let diff = e.git_ok(&["diff", "--", ".env"]);
    assert!(
        diff.contains("-KEY_7=value-7") && diff.contains("+KEY_7=changed"),
        "{diff}"
    );
}

fn branchy(e: &Env, name: &str, base: &str, a: &str, b: &str) -> std::process::Output {
    e.git_ok(&["init", "-q"]);
    std::fs::write(e.path(name), base).unwrap();
    e.ok(None, &["seal", name, "-r", &e.alice_pub]);
    e.ok(None, &["git", "setup", name]);
    e.git_ok(&["add", "."]);
    e.git_ok(&["commit", "-qm", "base"]);
    e.git_ok(&["checkout", "-qb", "feature"]);
    let ed = e.editor(b);
    let o = e
        .tresor(Some(&e.alice))
        .env("EDITOR", &ed)
        .args(["edit", name])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    e.git_ok(&["commit", "-qam", "feature"]);
    e.git_ok(&["checkout", "-q", "main"]);
    let ed = e.editor(a);
    let o = e
        .tresor(Some(&e.alice))
        .env("EDITOR", &ed)
        .args(["edit", name])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    e.git_ok(&["commit", "-qam", "main"]);
    e.git(&["merge", "-q", "--no-edit", "feature"])
}

#[test]
fn git_merge_of_different_keys_succeeds_per_format() {
    for (name, base, a, b, want) in [
        (
            ".env",
            "A=1\nB=2\nC=3\n",
            "s/^A=1/A=10/",
            "s/^C=3/C=30/",
            "A=10\nB=2\nC=30\n",
        ),
        (
            "c.yaml",
            "a: 1\nb: 2\nc: 3\n",
            "s/^a: 1/a: 10/",
            "s/^c: 3/c: 30/",
            "a: 10\nb: 2\nc: 30\n",
        ),
        (
            "c.toml",
            "a = 1\nb = 2\nc = 3\n",
            "s/^a = 1/a = 10/",
            "s/^c = 3/c = 30/",
            "a = 10\nb = 2\nc = 30\n",
        ),
        (
            "c.json",
            "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3\n}\n",
            "s/\"a\": 1,/\"a\": 10,/",
            "s/\"c\": 3$/\"c\": 30/",
            "{\n  \"a\": 10,\n  \"b\": 2,\n  \"c\": 30\n}\n",
        ),
    ] {
        let e = setup();
        let o = branchy(&e, name, base, a, b);
        assert!(
            o.status.success(),
            "{name}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(e.ok(Some(&e.alice), &["unseal", name]), want, "{name}");
        let raw = std::fs::read_to_string(e.path(name)).unwrap();
        assert!(!raw.contains("<<<<<<<"));
    }
}

#[test]
fn git_merge_of_the_same_key_gives_markers_on_the_plaintext() {
    let e = setup();
    let o = branchy(
        &e,
        ".env",
        "A=1\nB=2\n",
        "s/^A=1/A=ours/",
        "s/^A=1/A=theirs/",
    );
    assert!(!o.status.success(), "the merge should conflict");
    let raw = std::fs::read_to_string(e.path(".env")).unwrap();
    assert!(
        !raw.contains("<<<<<<<") && !raw.contains("ours") && !raw.contains("theirs"),
        "{raw}"
    );
    assert!(raw.contains("# tresor-conflict: "));
    let view = e.ok(Some(&e.alice), &["unseal", ".env"]);
    assert_eq!(
        view,
        "<<<<<<< ours\nA=ours\n=======\nA=theirs\n>>>>>>> theirs\nB=2\n"
    );
    // run refuses a conflicted file; edit resolves it
    let o = e
        .tresor(Some(&e.alice))
        .args(["run", "--file", ".env", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let ed = e.editor("/^<<<<<<< ours$/,/^=======$/d;/^>>>>>>> theirs$/d");
    let o = e
        .tresor(Some(&e.alice))
        .env("EDITOR", &ed)
        .args(["edit", ".env"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(e.ok(Some(&e.alice), &["unseal", ".env"]), "A=theirs\nB=2\n");
    e.git_ok(&["commit", "-qam", "resolved"]);
}

#[test]
fn a_flipped_byte_anywhere_is_refused() {
    let e = setup();
    for (name, plain) in PLAIN {
        let p = e.path(name);
        std::fs::write(&p, plain).unwrap();
        e.ok(None, &["seal", name, "-r", &e.alice_pub]);
        let sealed = std::fs::read(&p).unwrap();
        let step = (sealed.len() / 40).max(1);
        for i in (0..sealed.len()).step_by(step) {
            let mut t = sealed.clone();
            t[i] ^= 0x02;
            if std::str::from_utf8(&t).is_err() {
                continue;
            }
            let f = e
                .path("flipped")
                .with_extension(Path::new(name).extension().unwrap_or_default());
            let f = if *name == ".env" {
                e.path("flipped.env")
            } else {
                f
            };
            std::fs::write(&f, &t).unwrap();
            let o = e
                .tresor(Some(&e.alice))
                .arg("unseal")
                .arg(&f)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(2), "{name}: flip at {i} accepted");
            assert!(o.stdout.is_empty());
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains("line")
                    || err.contains("MAC")
                    || err.contains("truncated")
                    || err.contains("identit"),
                "{err}"
            );
        }
        // truncated
        std::fs::write(e.path("cut.env"), &sealed[..sealed.len() * 2 / 3]).unwrap();
        let o = e
            .tresor(Some(&e.alice))
            .args([
                "unseal",
                "cut.env",
                "--format",
                Path::new(name)
                    .extension()
                    .and_then(|x| x.to_str())
                    .unwrap_or("dotenv"),
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
    }
}

#[test]
fn recipients_rm_rotates_the_data_key() {
    let e = setup();
    e.git_ok(&["init", "-q"]);
    std::fs::write(e.path(".env"), "A=1\nB=2\n").unwrap();
    e.ok(
        None,
        &["seal", ".env", "-r", &e.alice_pub, "-r", &e.bob_pub],
    );
    e.git_ok(&["add", "."]);
    e.git_ok(&["commit", "-qm", "shared with bob"]);
    let before = std::fs::read_to_string(e.path(".env")).unwrap();
    let list: serde_json::Value =
        serde_json::from_str(&e.ok(Some(&e.alice), &["recipients", "list", ".env", "--json"]))
            .unwrap();
    let key1 = list[0]["data_key_id"].as_str().unwrap().to_owned();
    assert_eq!(list[0]["recipients"].as_array().unwrap().len(), 2);
    let o = e
        .tresor(Some(&e.alice))
        .args(["recipients", "rm", ".env", "-r", &e.bob_pub])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("can still decrypt every older copy"), "{err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("shared with bob"));
    let after = std::fs::read_to_string(e.path(".env")).unwrap();
    // every value re-encrypted
    for (a, b) in before.lines().zip(after.lines()).take(2) {
        assert_ne!(a, b);
    }
    let o = e
        .tresor(Some(&e.bob))
        .args(["unseal", ".env"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("none of the identities"));
    let list: serde_json::Value =
        serde_json::from_str(&e.ok(Some(&e.alice), &["recipients", "list", ".env", "--json"]))
            .unwrap();
    assert_ne!(list[0]["data_key_id"].as_str().unwrap(), key1);
    assert_eq!(list[0]["recipients"], serde_json::json!([e.alice_pub]));
    assert_eq!(e.ok(Some(&e.alice), &["unseal", ".env"]), "A=1\nB=2\n");
    // add brings bob back without touching values
    let o = e
        .tresor(Some(&e.alice))
        .args(["recipients", "add", ".env", "-r", &e.bob_pub])
        .output()
        .unwrap();
    assert!(o.status.success());
    let again = std::fs::read_to_string(e.path(".env")).unwrap();
    assert_eq!(
        again.lines().take(2).collect::<Vec<_>>(),
        after.lines().take(2).collect::<Vec<_>>()
    );
    assert_eq!(e.ok(Some(&e.bob), &["unseal", ".env"]), "A=1\nB=2\n");
}

fn dotenvx() -> Option<PathBuf> {
    let Some(d) = std::env::var_os("TRESOR_NODE_DOTENV_DIR") else {
        eprintln!(
            "skipped: set TRESOR_NODE_DOTENV_DIR (tests/peers/seeqret/setup.sh installs dotenvx)"
        );
        return None;
    };
    Some(PathBuf::from(d).join("node_modules/.bin/dotenvx"))
}

const DOTENV: &str = "# app\nHELLO=world\nPASSWORD=\"p@ss word #1\"\nEMPTY=\nUNICODE=\"ünï ✓\"\n";

fn values_by_dotenvx(bin: &Path, dir: &Path, file: &str, key: &str) -> serde_json::Value {
    let o = Command::new(bin)
        .current_dir(dir)
        .env("DOTENV_PRIVATE_KEY", key)
        .args(["get", "-f", file])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "dotenvx get: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn private_key(keys: &Path) -> String {
    let t = std::fs::read_to_string(keys).unwrap();
    t.lines()
        .find_map(|l| l.strip_prefix("DOTENV_PRIVATE_KEY="))
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

#[test]
fn dotenvx_files_are_imported() {
    let Some(bin) = dotenvx() else { return };
    let e = setup();
    let dir = e.repo();
    std::fs::write(dir.join(".env"), DOTENV).unwrap();
    let o = Command::new(&bin)
        .current_dir(&dir)
        .args(["encrypt", "-f", ".env"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "dotenvx encrypt: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let enc = std::fs::read_to_string(dir.join(".env")).unwrap();
    assert!(enc.contains("encrypted:") && !enc.contains("p@ss"));
    let key = private_key(&dir.join(".env.keys"));
    let mut want = values_by_dotenvx(&bin, &dir, ".env", &key);
    want.as_object_mut().unwrap().remove("DOTENV_PUBLIC_KEY");
    // with .env.keys beside the file
    let plain = e.ok(None, &["import-dotenvx", ".env", "--stdout"]);
    let parsed: serde_json::Map<String, serde_json::Value> = plain
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (
                k.to_owned(),
                serde_json::Value::String(v.trim_matches('"').to_owned()),
            )
        })
        .collect();
    assert_eq!(serde_json::Value::Object(parsed.clone()), want, "{plain}");
    assert_eq!(want["PASSWORD"], "p@ss word #1");
    // with DOTENV_PRIVATE_KEY in the environment only, straight into a sealed file
    std::fs::rename(dir.join(".env.keys"), e.dir.path().join("keys.bak")).unwrap();
    let o = e
        .tresor(None)
        .env("DOTENV_PRIVATE_KEY", &key)
        .args([
            "import-dotenvx",
            ".env",
            "-r",
            &e.alice_pub,
            "-o",
            "sealed.env",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = e.ok(Some(&e.alice), &["unseal", "sealed.env"]);
    assert!(
        v.contains("PASSWORD=\"p@ss word #1\"") && v.contains("HELLO=world"),
        "{v}"
    );
    // no key: refused, nothing printed
    let o = e
        .tresor(None)
        .args(["import-dotenvx", ".env", "--stdout"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
}

#[test]
fn tresor_dotenvx_files_are_decrypted_by_dotenvx() {
    let Some(bin) = dotenvx() else { return };
    let e = setup();
    let dir = e.repo();
    std::fs::write(dir.join(".env"), DOTENV).unwrap();
    e.ok(None, &["seal", ".env", "--format", "dotenvx"]);
    let enc = std::fs::read_to_string(dir.join(".env")).unwrap();
    assert!(
        enc.contains("DOTENV_PUBLIC_KEY=") && !enc.contains("p@ss"),
        "{enc}"
    );
    let keys = dir.join(".env.keys");
    assert_eq!(
        std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let key = private_key(&keys);
    let got = values_by_dotenvx(&bin, &dir, ".env", &key);
    assert_eq!(
        got,
        serde_json::json!({"HELLO": "world", "PASSWORD": "p@ss word #1", "EMPTY": "", "UNICODE": "ünï ✓", "DOTENV_PUBLIC_KEY": got["DOTENV_PUBLIC_KEY"]})
    );
    // and back: tresor imports what it wrote
    let plain = e.ok(None, &["import-dotenvx", ".env", "--stdout"]);
    assert!(plain.contains("PASSWORD=\"p@ss word #1\""), "{plain}");
}

#[test]
fn git_merge_with_a_key_added_on_one_side_and_a_value_changed_on_the_other() {
    let e = setup();
    let o = branchy(
        &e,
        ".env",
        "# top\nA=1\nB=2\nC=3\n",
        "s/^A=1/A=10/",
        "s/^C=3/C=3\\nD=4/",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        e.ok(Some(&e.alice), &["unseal", ".env"]),
        "# top\nA=10\nB=2\nC=3\nD=4\n"
    );
    // the unchanged values kept their ciphertexts through the merge
    let base = e.git_ok(&["show", "HEAD~2:.env"]);
    let merged = std::fs::read_to_string(e.path(".env")).unwrap();
    let line = |t: &str, k: &str| t.lines().find(|l| l.starts_with(k)).unwrap().to_owned();
    assert_eq!(line(&base, "B="), line(&merged, "B="));
    assert_eq!(line(&base, "C="), line(&merged, "C="));
    assert_ne!(line(&base, "A="), line(&merged, "A="));
}
