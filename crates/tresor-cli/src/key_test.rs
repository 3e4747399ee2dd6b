//! The `tresor key` subcommand, driven through [`run_with_io`](super::run_with_io) (moved
//! here from tresor-keys' `tests/cli.rs` with the command itself).

use std::sync::Arc;

use clap::Parser;
use tresor_store::Store;

use super::{KeyCommand, run_with_io};

/// A temp SQLite store.
mod util {
    use super::*;

    pub(super) fn store() -> (tempfile::TempDir, Arc<Store>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let kek = Arc::new(tresor_crypto::LocalKek::generate().expect("kek"));
        let s = Store::open_sqlite(&dir.path().join("t.db"), kek, "tester").expect("store");
        (dir, Arc::new(s))
    }
}

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: KeyCommand,
}

struct Out {
    code: u8,
    stdout: String,
    stderr: String,
}

fn key(store: &Store, args: &[&str], stdin: &[u8], json: bool) -> Out {
    let cli = Cli::try_parse_from(std::iter::once("key").chain(args.iter().copied()))
        .expect("arguments parse");
    let (mut o, mut e) = (Vec::new(), Vec::new());
    let code = match run_with_io(cli.cmd, store, json, &mut &stdin[..], &mut o, &mut e) {
        Ok(c) => c,
        Err(err) => {
            e.extend_from_slice(format!("error: {err}\n").as_bytes());
            2
        }
    };
    Out {
        code,
        stdout: String::from_utf8_lossy(&o).into_owned(),
        stderr: String::from_utf8_lossy(&e).into_owned(),
    }
}

#[test]
fn create_encrypt_rotate_decrypt_rewrap_config_trim_show() {
    let (_d, store) = util::store();
    let s = &*store;
    let o = key(s, &["create", "pay"], b"", false);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("key pay (aes256-gcm)"), "{}", o.stdout);
    let ct1 = key(
        s,
        &["encrypt", "pay", "--aad", "order-1"],
        b"secret one",
        false,
    )
    .stdout;
    assert!(ct1.starts_with("tresor:pay:v1:"), "{ct1}");
    for _ in 0..3 {
        assert_eq!(key(s, &["rotate", "pay"], b"", false).code, 0);
    }
    let o = key(s, &["decrypt", "--aad", "order-1"], ct1.as_bytes(), false);
    assert_eq!((o.code, o.stdout.as_str()), (0, "secret one"));
    let o = key(s, &["decrypt"], ct1.as_bytes(), false);
    assert_eq!(o.code, 1, "wrong aad is a refusal");
    assert!(
        o.stderr.starts_with("error: decryption failed"),
        "{}",
        o.stderr
    );

    let re = key(s, &["rewrap", "--aad", "order-1"], ct1.as_bytes(), false).stdout;
    assert!(re.starts_with("tresor:pay:v4:"), "{re}");
    assert!(!re.contains("secret"));

    let o = key(
        s,
        &[
            "config",
            "pay",
            "--min-decryption-version",
            "3",
            "--auto-rotate",
            "30d",
        ],
        b"",
        true,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["min_decryption_version"], 3);
    assert_eq!(v["auto_rotate_secs"], 2_592_000);

    let o = key(s, &["decrypt", "--aad", "order-1"], ct1.as_bytes(), false);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("key 'pay' version 1 is below its minimum decryption version 3; refused"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("hint:"));
    assert_eq!(
        key(s, &["decrypt", "--aad", "order-1"], re.as_bytes(), false).stdout,
        "secret one"
    );

    let o = key(s, &["trim", "pay"], b"", false);
    assert_eq!(o.stdout, "key pay: destroyed 2 version(s)\n");
    let o = key(s, &["show", "pay"], b"", true);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let states: Vec<_> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        states,
        ["destroyed", "destroyed", "decrypt-only", "primary"]
    );
    let o = key(s, &["show", "pay"], b"", false);
    assert!(
        o.stdout
            .contains("primary version: 4\nmin decryption version: 3\nauto-rotate: 2592000s\n"),
        "{}",
        o.stdout
    );
    assert_eq!(key(s, &["list"], b"", true).stdout.trim(), "[\"pay\"]");
}

#[test]
fn not_found_and_errors_exit_codes() {
    let (_d, store) = util::store();
    let s = &*store;
    let o = key(s, &["show", "nope"], b"", false);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "error: key 'nope' is not defined\n")
    );
    assert_eq!(key(s, &["encrypt", "nope"], b"x", false).code, 1);
    assert_eq!(key(s, &["decrypt"], b"not a ciphertext", false).code, 2);
    assert_eq!(key(s, &["create", "bad name"], b"", false).code, 2);
    assert_eq!(key(s, &["create", "k"], b"", false).code, 0);
    assert_eq!(key(s, &["create", "k"], b"", false).code, 2);
    assert_eq!(
        key(
            s,
            &["config", "k", "--min-decryption-version", "5"],
            b"",
            false
        )
        .code,
        1
    );
    assert!(Cli::try_parse_from(["key", "config", "k", "--auto-rotate", "soon"]).is_err());
    assert!(Cli::try_parse_from(["key", "create", "k", "--type", "rsa"]).is_err());
}

#[test]
fn sign_and_verify_and_other_types() {
    let (_d, store) = util::store();
    let s = &*store;
    for t in ["hmac-sha256", "ed25519"] {
        let name = t.replace('-', "_");
        assert_eq!(key(s, &["create", &name, "--type", t], b"", false).code, 0);
        let sig = key(s, &["sign", &name], b"msg", false).stdout;
        assert!(sig.starts_with(&format!("tresor:{name}:v1:")));
        let o = key(s, &["verify", "--signature", sig.trim()], b"msg", false);
        assert_eq!((o.code, o.stdout.as_str()), (0, "valid\n"));
        let o = key(s, &["verify", "--signature", sig.trim()], b"msG", false);
        assert_eq!((o.code, o.stdout.as_str()), (1, "invalid\n"));
        assert_eq!(key(s, &["encrypt", &name], b"x", false).code, 2);
    }
    assert_eq!(
        key(
            s,
            &["create", "cc", "--type", "chacha20-poly1305"],
            b"",
            false
        )
        .code,
        0
    );
    let ct = key(s, &["encrypt", "cc"], b"chacha", false).stdout;
    assert_eq!(key(s, &["decrypt"], ct.as_bytes(), false).stdout, "chacha");
    assert_eq!(key(s, &["resume"], b"", false).code, 0);
}
