//! `tresor import-dotenvx FILE --app A --env E` imports a file written by the real dotenvx
//! (`@dotenvx/dotenvx`, `TRESOR_NODE_DOTENV_DIR`) into the vault in one transaction, with
//! `importenv`'s `--update` and `--dry-run` semantics, on a local vault and on a
//! `tresor kmip serve` vault (`--server`, mutual TLS).

const REMOTE: bool = false;

#[path = "vault/macros.rs"]
#[allow(unused_macros)]
mod macros;
#[path = "vault/util.rs"]
#[allow(dead_code)]
mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

use util::{TestVault, stderr};

fn dotenvx() -> Option<PathBuf> {
    let Some(d) = std::env::var_os("TRESOR_NODE_DOTENV_DIR") else {
        eprintln!(
            "skipped: set TRESOR_NODE_DOTENV_DIR (tests/peers/seeqret/setup.sh installs dotenvx)"
        );
        return None;
    };
    Some(PathBuf::from(d).join("node_modules/.bin/dotenvx"))
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Writes `plain` as `name` in `dir` and encrypts it with the real dotenvx.
fn encrypt(bin: &Path, dir: &Path, name: &str, plain: &str) {
    std::fs::write(dir.join(name), plain).unwrap();
    let o = Command::new(bin)
        .current_dir(dir)
        .args(["encrypt", "-f", name])
        .output()
        .unwrap();
    assert!(o.status.success(), "dotenvx encrypt: {}", stderr(&o));
    let enc = std::fs::read_to_string(dir.join(name)).unwrap();
    assert!(
        enc.contains("encrypted:") && enc.contains("DOTENV_PUBLIC_KEY"),
        "{enc}"
    );
}

fn check(tv: &TestVault, bin: &Path) {
    let home = tv.home().to_path_buf();
    encrypt(
        bin,
        &home,
        ".env",
        "# app\nHELLO=world\nPASSWORD=\"p@ss word #1\"\nUNICODE=\"ünï ✓\"\n",
    );
    let enc = std::fs::read_to_string(home.join(".env")).unwrap();
    assert!(!enc.contains("p@ss"));
    let out = tv.run(["import-dotenvx", ".env", "--app", "shop", "--env", "prod"]);
    util::contains_all(
        &out,
        &[
            "added shop:prod:HELLO",
            "added shop:prod:PASSWORD",
            "added shop:prod:UNICODE",
        ],
    );
    assert!(!out.contains("DOTENV_PUBLIC_KEY"), "{out}");
    assert_eq!(tv.get("shop:prod:PASSWORD"), "p@ss word #1");
    assert_eq!(tv.get("shop:prod:UNICODE"), "ünï ✓");
    assert_eq!(tv.get("shop:prod:HELLO"), "world");
    let secrets = tv.secrets();
    assert!(!secrets.keys().any(|k| k.contains("DOTENV")), "{secrets:?}");

    // A new file (new dotenvx key pair): one changed value, one new key, one unchanged.
    std::fs::remove_file(home.join(".env.keys")).unwrap();
    encrypt(
        bin,
        &home,
        ".env",
        "HELLO=world\nPASSWORD=rotated-2\nNEW_KEY=n3w\n",
    );
    // Without --update: refused, nothing written (not even NEW_KEY).
    let before = tv.snapshot();
    let e = tv.fail(
        2,
        ["import-dotenvx", ".env", "--app", "shop", "--env", "prod"],
    );
    assert!(e.contains("already exists"), "{e}");
    assert_eq!(before, tv.snapshot());
    // --dry-run: says what it would do, writes nothing.
    let j = json(&tv.run([
        "import-dotenvx",
        ".env",
        "--app",
        "shop",
        "--env",
        "prod",
        "--update",
        "--dry-run",
        "--json",
    ]));
    assert_eq!(j["dry_run"], true);
    assert_eq!(j["added"], serde_json::json!(["shop:prod:NEW_KEY"]));
    assert_eq!(j["updated"], serde_json::json!(["shop:prod:PASSWORD"]));
    assert_eq!(j["unchanged"], serde_json::json!(["shop:prod:HELLO"]));
    assert_eq!(before, tv.snapshot());
    // --update: done.
    tv.run([
        "import-dotenvx",
        ".env",
        "--app",
        "shop",
        "--env",
        "prod",
        "--update",
    ]);
    assert_eq!(tv.get("shop:prod:PASSWORD"), "rotated-2");
    assert_eq!(tv.get("shop:prod:NEW_KEY"), "n3w");

    // No private key: refused before the vault is touched.
    std::fs::rename(home.join(".env.keys"), home.join("keys.bak")).unwrap();
    let before = tv.snapshot();
    let e = tv.fail(
        2,
        [
            "import-dotenvx",
            ".env",
            "--app",
            "shop",
            "--env",
            "prod",
            "--update",
        ],
    );
    assert!(e.contains("DOTENV_PRIVATE_KEY"), "{e}");
    assert_eq!(before, tv.snapshot());
    // The key in the environment works as dotenvx's does.
    let keys = std::fs::read_to_string(home.join("keys.bak")).unwrap();
    let key = keys
        .lines()
        .find_map(|l| l.strip_prefix("DOTENV_PRIVATE_KEY="))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let plain = tv
        .cmd()
        .env("DOTENV_PRIVATE_KEY", &key)
        .args(["import-dotenvx", ".env", "--stdout"])
        .stdout();
    assert!(plain.contains("PASSWORD=rotated-2"), "{plain}");
}

#[test]
fn dotenvx_file_is_imported_into_the_local_vault() {
    let Some(bin) = dotenvx() else { return };
    check(&TestVault::with_user("alice"), &bin);
}

#[test]
fn dotenvx_file_is_imported_into_a_server_vault() {
    let Some(bin) = dotenvx() else { return };
    check(&TestVault::remote(), &bin);
}
