//! Feeds every committed fuzz seed (`fuzz/seeds/<target>/`) through its fuzz entry point
//! (`tresor_vault::fuzzing`), so `cargo test` runs the same code the fuzzers do, and checks
//! that the fuzzers' own framing (the signed export, the sealed backup) still matches the real
//! formats.
//!
//! `TRESOR_WRITE_FUZZ_SEEDS=1 cargo test -p tresor-vault --test fuzz_seeds` rewrites the
//! generated seeds first (the hand-written ones, dotenv/template/filter, are kept as they are).

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use crypto_box::aead::Aead;
use crypto_box::{PublicKey, SalsaBox, SecretKey};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tresor_vault::filter::FilterSet;
use tresor_vault::fuzzing::{self, SEEQRET_RECIPIENT, SEEQRET_SENDER};
use tresor_vault::{InitOptions, Vault, seeqret};

fn seed_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target)
}

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = seed_dir(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .map(|p| {
            let b = std::fs::read(&p).expect("seed");
            (p, b)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

fn writing() -> bool {
    std::env::var_os("TRESOR_WRITE_FUZZ_SEEDS").is_some()
}

fn write_seed(target: &str, name: &str, data: &[u8]) {
    let dir = seed_dir(target);
    std::fs::create_dir_all(&dir).expect("seed dir");
    std::fs::write(dir.join(name), data).expect("writing a seed");
}

fn public(secret: &[u8; 32]) -> [u8; 32] {
    seeqret::decode_public_key(&seeqret::seeqret_public_key(secret)).expect("own key")
}

/// PyNaCl's `Box.encrypt`: base64 of nonce ‖ tag ‖ ciphertext.
fn box_seal(nonce: u8, plain: &str) -> String {
    let b = SalsaBox::new(
        &PublicKey::from_bytes(public(&SEEQRET_RECIPIENT)),
        &SecretKey::from_bytes(SEEQRET_SENDER),
    );
    let n = [nonce; 24];
    let ct = b.encrypt((&n).into(), plain.as_bytes()).expect("seal");
    let mut out = n.to_vec();
    out.extend(ct);
    STANDARD.encode(out)
}

fn hex_sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const SECRETS: &[(&str, &str, &str, &str)] = &[
    ("app", "dev", "DB_PASSWORD", "hunter2"),
    ("app", "prod", "TOKEN", "t'\"\n$x"),
];

fn write_seeqret_export_seeds() {
    let mut lines = String::new();
    let mut checksum_text = String::new();
    let mut secrets = Vec::new();
    for (i, (app, env, key, value)) in SECRETS.iter().enumerate() {
        let full = format!("{app}:{env}:{key}:str:{value}");
        let fp = hex_sha256(&full);
        let b = box_seal(i as u8 + 1, value);
        lines.push_str(&format!(
            "seeqret load -ualice -scommand -v1::{}:{app}:{env}:{key}:str:{b}\n",
            &fp[fp.len() - 5..]
        ));
        checksum_text.push_str(&full);
        checksum_text.push('\n');
        secrets.push(serde_json::json!({
            "app": app, "env": env, "key": key, "value": b, "type": "str", "updated_at": 1,
        }));
    }
    let export = serde_json::json!({
        "version": 1,
        "from": {"username": "alice", "email": "a@x",
                 "pubkey": seeqret::seeqret_public_key(&SEEQRET_SENDER)},
        "to": {"username": "bob", "email": "b@x",
               "pubkey": seeqret::seeqret_public_key(&SEEQRET_RECIPIENT)},
        "secrets": secrets,
        "signature": hex_sha256(&checksum_text),
    });
    write_seed(
        "seeqret_export",
        "json-crypt.json",
        export.to_string().as_bytes(),
    );
    let envelope = serde_json::json!({"v": 1, "kind": "secret", "payload": export});
    write_seed(
        "seeqret_export",
        "envelope.json",
        envelope.to_string().as_bytes(),
    );
    write_seed("seeqret_export", "command.txt", lines.as_bytes());
    write_seed(
        "load",
        "seeqret-json-crypt",
        &[&[0u8][..], export.to_string().as_bytes()].concat(),
    );
}

fn fernet(plain: &str, iv: u8) -> String {
    let key = URL_SAFE
        .decode(fuzzing::SEEQRET_FERNET_KEY)
        .expect("fernet key");
    let mut token = vec![0x80];
    token.extend_from_slice(&1u64.to_be_bytes());
    token.extend_from_slice(&[iv; 16]);
    let enc = cbc::Encryptor::<aes::Aes128>::new_from_slices(&key[16..], &[iv; 16]).expect("iv");
    token.extend(enc.encrypt_padded_vec_mut::<Pkcs7>(plain.as_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(&key[..16]).expect("hmac");
    mac.update(&token);
    token.extend_from_slice(&mac.finalize().into_bytes());
    URL_SAFE.encode(token)
}

fn write_seeqret_vault_seeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("seeqrets.db");
    let c = rusqlite::Connection::open(&p).expect("db");
    c.execute_batch(
        "pragma page_size = 512; pragma journal_mode = delete;
         create table migrations (id integer primary key, version integer not null);
         insert into migrations (version) values (3);
         create table users (id integer primary key, username text not null,
            email text not null, pubkey text not null, name text);
         create table secrets (id integer primary key, app text not null, env text not null,
            key text not null, value text not null, type text, updated_at integer);",
    )
    .expect("schema");
    c.execute(
        "insert into users (username, email, pubkey, name) values ('alice', 'a@x', ?1, 'A')",
        [seeqret::seeqret_public_key(&SEEQRET_SENDER)],
    )
    .expect("user");
    for (i, (app, env, key, value)) in SECRETS.iter().enumerate() {
        c.execute(
            "insert into secrets (app, env, key, value, type, updated_at) values (?1, ?2, ?3, ?4, 'str', 5)",
            [*app, *env, *key, &fernet(value, i as u8)],
        )
        .expect("secret");
    }
    c.execute_batch("vacuum").expect("vacuum");
    drop(c);
    write_seed(
        "seeqret_vault",
        "v3.db",
        &std::fs::read(&p).expect("db bytes"),
    );
}

fn inner_export(key: &str) -> Vec<u8> {
    let inner = serde_json::json!({
        "format": "tresor-export/1", "from": fuzzing::FUZZ_SENDER, "to": "bob", "created": 1,
        "secrets": [
            {"app": "app", "env": "dev", "key": key, "type": "str", "value": "aHVudGVyMg=="},
            {"app": "app", "env": "prod", "key": "TOKEN", "value": "dAo="},
        ],
    });
    serde_json::to_vec(&inner).expect("json")
}

fn write_load_seeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = |u: &str| InitOptions {
        user: Some(u.into()),
        ..InitOptions::default()
    };
    let alice = Vault::init(&dir.path().join("a"), opts("alice")).expect("alice");
    let bob = Vault::init(&dir.path().join("b"), opts("bob")).expect("bob");
    let bob_key = bob.owner().expect("bob").public_key();
    alice.add_user("bob", "", &bob_key).expect("add bob");
    alice
        .add("app", "dev", "DB_PASSWORD", b"hunter2", "str", false)
        .expect("add");
    let (text, _) = alice.export("bob", &FilterSet::empty()).expect("export");
    write_seed(
        "load",
        "tresor-export",
        &[&[0u8][..], text.as_bytes()].concat(),
    );
    write_seed(
        "load",
        "inner",
        &[&[1u8][..], &inner_export("DB_PASSWORD")[..]].concat(),
    );
}

fn write_backup_seeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = Vault::init(&dir.path().join("v"), InitOptions::default()).expect("vault");
    v.add("app", "dev", "K", b"v", "str", false).expect("add");
    let p = dir.path().join("b.backup");
    v.backup(&p).expect("backup");
    let file = std::fs::read(&p).expect("backup bytes");
    write_seed("backup", "file", &[&[0u8][..], &file[..]].concat());
    let body = fuzzing::sample_backup_body().expect("body");
    write_seed("backup", "body", &[&[1u8][..], &body[..]].concat());
}

#[test]
fn dotenv_seeds_run() {
    for (_, d) in seeds("dotenv") {
        fuzzing::fuzz_dotenv(&d);
    }
}

#[test]
fn template_seeds_run() {
    for (_, d) in seeds("template") {
        fuzzing::fuzz_template(&d);
    }
}

#[test]
fn filter_seeds_run() {
    for (_, d) in seeds("filter") {
        fuzzing::fuzz_filter(&d);
    }
}

#[test]
fn seeqret_export_seeds_run_and_decrypt() {
    if writing() {
        write_seeqret_export_seeds();
    }
    let sender = public(&SEEQRET_SENDER);
    let mut opened = 0;
    for (p, d) in seeds("seeqret_export") {
        fuzzing::fuzz_seeqret_export(&d);
        let text = String::from_utf8_lossy(&d);
        let ok = seeqret::parse_json_crypt(&text, &SEEQRET_RECIPIENT, Some(&sender))
            .map(|e| e.secrets.len())
            .or_else(|_| {
                seeqret::parse_command_lines(&text, &SEEQRET_RECIPIENT, &sender).map(|l| l.len())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        opened += ok;
    }
    // The seeds decrypt: the fuzzer starts past the box and checksum checks.
    assert!(opened >= 4, "{opened}");
}

#[test]
fn seeqret_vault_seeds_run_and_import() {
    if writing() {
        write_seeqret_vault_seeds();
    }
    for (p, d) in seeds("seeqret_vault") {
        fuzzing::fuzz_seeqret_vault(&d);
        // The seed is a readable vault with the fixed key: its secrets decrypt.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("seeqrets.db"), &d).expect("db");
        std::fs::write(dir.path().join("seeqret.key"), fuzzing::SEEQRET_FERNET_KEY).expect("key");
        let v = seeqret::SeeqretVault::open(dir.path())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let n = v.secrets().map(|s| s.len());
        assert_eq!(n.ok(), Some(SECRETS.len()), "{}", p.display());
        drop(v);
        fuzzing::import_seeqret(dir.path()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
}

#[test]
fn load_seeds_run_and_the_signed_framing_matches() {
    if writing() {
        write_seeqret_export_seeds();
        write_load_seeds();
    }
    for (_, d) in seeds("load") {
        fuzzing::fuzz_load(&d);
    }
    // Mode 1 must produce files `load` accepts, or the fuzzer never gets past the signature.
    let r = fuzzing::load_signed_inner(&inner_export("FRESH_KEY")).expect("a signed export");
    assert!(r.added.iter().any(|n| n.ends_with("FRESH_KEY")), "{r:?}");
}

#[test]
fn backup_seeds_run_and_the_sealed_framing_matches() {
    if writing() {
        write_backup_seeds();
    }
    for (_, d) in seeds("backup") {
        fuzzing::fuzz_backup(&d);
    }
    // Mode 1 must seal bodies the way backups are, or the fuzzer never reaches the JSON.
    let body = fuzzing::sample_backup_body().expect("body");
    let report = fuzzing::restore_sealed_body(&body).expect("a sealed body restores");
    assert!(report.objects >= 2, "{report:?}");
}
