//! `init`: where the vault goes, its owner, a passphrase, and a second init refused.
//! Local only (see tests/remote.rs).

#[allow(unused_imports)] // named only by local-only tests (see tests/remote.rs)
use super::json;
#[allow(unused_imports)] // named only by local-only tests (see tests/remote.rs)
use crate::eqnice;
#[allow(unused_imports)] // named only by local-only tests (see tests/remote.rs)
use crate::util::{TestVault, contains_all, mode, stderr};

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
