use super::*;
use cbc::cipher::BlockEncryptMut;
use proptest::prelude::*;

/// Fernet-encrypts `plain` (test helper; seeqret's writer side).
fn fernet_encrypt(key: &[u8; 32], iv: [u8; 16], ts: u64, plain: &[u8]) -> String {
    let mut token = vec![0x80];
    token.extend_from_slice(&ts.to_be_bytes());
    token.extend_from_slice(&iv);
    let enc = cbc::Encryptor::<aes::Aes128>::new_from_slices(&key[16..], &iv).expect("key/iv");
    token.extend(enc.encrypt_padded_vec_mut::<Pkcs7>(plain));
    let mut mac = Hmac::<Sha256>::new_from_slice(&key[..16]).expect("hmac key");
    mac.update(&token);
    token.extend_from_slice(&mac.finalize().into_bytes());
    URL_SAFE.encode(token)
}

/// Seals `plain` as PyNaCl's `Box.encrypt` would (test helper).
fn box_seal(
    sender_secret: &[u8; 32],
    recipient_public: &[u8; 32],
    nonce: [u8; 24],
    plain: &str,
) -> String {
    let b = SalsaBox::new(
        &PublicKey::from_bytes(*recipient_public),
        &SecretKey::from_bytes(*sender_secret),
    );
    let ct = b.encrypt((&nonce).into(), plain.as_bytes()).expect("seal");
    let mut out = nonce.to_vec();
    out.extend(ct);
    STANDARD.encode(out)
}

fn public(secret: &[u8; 32]) -> [u8; 32] {
    decode_public_key(&seeqret_public_key(secret)).expect("own key")
}

fn secret(app: &str, env: &str, key: &str, value: &str) -> SeeqretSecret {
    SeeqretSecret {
        app: app.into(),
        env: env.into(),
        key: key.into(),
        value: Zeroizing::new(value.into()),
        value_type: "str".into(),
        updated_at: None,
    }
}

const ALICE: [u8; 32] = [1; 32];
const BOB: [u8; 32] = [2; 32];

fn command_line(s: &SeeqretSecret, nonce: u8) -> String {
    let b = box_seal(&ALICE, &public(&BOB), [nonce; 24], s.value());
    format!(
        "seeqret load -ualice@host -scommand -v1::{}:{}:{}:{}:{}:{}",
        fingerprint(s),
        s.app,
        s.env,
        s.key,
        s.value_type,
        b
    )
}

fn json_crypt(secrets: &[SeeqretSecret], to_public: &[u8; 32]) -> serde_json::Value {
    let user = |name: &str, pk: &[u8; 32]| {
        serde_json::json!({"username": name, "email": format!("{name}@x"), "pubkey": STANDARD.encode(pk),
                           "name": null, "slack_handle": null})
    };
    serde_json::json!({
        "version": 1,
        "from": user("alice", &public(&ALICE)),
        "to": user("bob", to_public),
        "secrets": secrets.iter().enumerate().map(|(i, s)| serde_json::json!({
            "app": s.app, "env": s.env, "key": s.key, "type": s.value_type, "updated_at": 17,
            "value": box_seal(&ALICE, to_public, [i as u8; 24], s.value()),
        })).collect::<Vec<_>>(),
        "signature": checksum(secrets),
    })
}

#[test]
fn fernet_spec_vector() {
    // From the Fernet specification's generate/verify test vectors.
    let key: [u8; 32] = URL_SAFE
        .decode("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")
        .expect("b64")
        .try_into()
        .expect("32");
    let token = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";
    assert_eq!(
        &*fernet_decrypt(&key, token.as_bytes()).expect("decrypt"),
        b"hello"
    );
    let iv: [u8; 16] = std::array::from_fn(|i| i as u8);
    assert_eq!(fernet_encrypt(&key, iv, 499162800, b"hello"), token);
}

#[test]
fn fernet_rejects_tampering() {
    let key = [9u8; 32];
    let token = fernet_encrypt(&key, [3; 16], 1, b"secret value");
    assert_eq!(
        &*fernet_decrypt(&key, token.as_bytes()).expect("ok"),
        b"secret value"
    );
    assert!(matches!(
        fernet_decrypt(&[8u8; 32], token.as_bytes()),
        Err(SeeqretError::Decrypt)
    ));
    let mut raw = URL_SAFE.decode(&token).expect("b64");
    raw[30] ^= 1;
    assert!(matches!(
        fernet_decrypt(&key, URL_SAFE.encode(&raw).as_bytes()),
        Err(SeeqretError::Decrypt)
    ));
    for bad in ["", "not base64!", "gAAAAA=="] {
        assert!(matches!(
            fernet_decrypt(&key, bad.as_bytes()),
            Err(SeeqretError::Decrypt)
        ));
    }
}

#[test]
fn command_round_trip() {
    let s = secret("myapp", "dev", "DB_PASS", "p@ss w\"rd $x ✓");
    let line = command_line(&s, 5);
    let got = parse_command_line(&line, &BOB, &public(&ALICE)).expect("parse");
    assert_eq!(got.from_user.as_deref(), Some("alice@host"));
    assert_eq!(got.secret, s);
    // The bare value and a quoted -v work too.
    let v = line.split("-v").nth(1).expect("value");
    assert_eq!(
        parse_command_line(v, &BOB, &public(&ALICE))
            .expect("bare")
            .secret,
        s
    );
    let quoted = format!("seeqret load -v '{v}'");
    assert_eq!(
        parse_command_line(&quoted, &BOB, &public(&ALICE))
            .expect("quoted")
            .secret,
        s
    );
    let many = format!(
        "# from alice\n{line}\n\n{}\n",
        command_line(&secret("*", "*", "G", "g"), 6)
    );
    let all = parse_command_lines(&many, &BOB, &public(&ALICE)).expect("lines");
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].secret.app, "*");
}

#[test]
fn command_errors() {
    let s = secret("myapp", "dev", "DB_PASS", "v");
    let line = command_line(&s, 1);
    // Wrong sender key or wrong recipient: authentication fails.
    assert!(matches!(
        parse_command_line(&line, &BOB, &public(&BOB)),
        Err(SeeqretError::Decrypt)
    ));
    assert!(matches!(
        parse_command_line(&line, &ALICE, &public(&ALICE)),
        Err(SeeqretError::Decrypt)
    ));
    // Renaming the secret breaks the fingerprint.
    let renamed = line.replace(":DB_PASS:", ":DB_USER:");
    let e = parse_command_line(&renamed, &BOB, &public(&ALICE))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "fingerprint mismatch for seeqret secret 'myapp:dev:DB_USER'"
    );
    for bad in [
        "",
        "seeqret load -ux",
        "-v2::a:b:c:d:e:f",
        "-v1::a:b",
        "1:x:a:b:c:d:e:f",
    ] {
        assert!(
            matches!(
                parse_command_line(bad, &BOB, &public(&ALICE)),
                Err(SeeqretError::Format(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn json_crypt_round_trip() {
    let secrets = vec![
        secret("myapp", "dev", "B", "two\nlines"),
        secret("*", "*", "A", ""),
    ];
    let doc = json_crypt(&secrets, &public(&BOB));
    let text = doc.to_string();
    let got = parse_json_crypt(&text, &BOB, None).expect("parse");
    assert_eq!(got.from.username, "alice");
    assert_eq!(got.to.username, "bob");
    assert_eq!(got.secrets.len(), 2);
    assert_eq!(got.secrets[0].value(), "two\nlines");
    assert_eq!(got.secrets[1].value(), "");
    assert_eq!(got.secrets[1].updated_at, Some(17));
    // With the sender key given explicitly.
    assert!(parse_json_crypt(&text, &BOB, Some(&public(&ALICE))).is_ok());
    assert!(matches!(
        parse_json_crypt(&text, &BOB, Some(&public(&BOB))),
        Err(SeeqretError::Decrypt)
    ));
    // Wrapped in an envelope.
    let env = serde_json::json!({"v": 1, "kind": "secret", "payload": doc}).to_string();
    assert_eq!(
        parse_json_crypt(&env, &BOB, None)
            .expect("envelope")
            .secrets
            .len(),
        2
    );
    let other = serde_json::json!({"v": 1, "kind": "invite", "payload": {}}).to_string();
    assert!(matches!(
        parse_json_crypt(&other, &BOB, None),
        Err(SeeqretError::Format(_))
    ));
}

#[test]
fn json_crypt_errors() {
    let secrets = vec![secret("a", "dev", "X", "1"), secret("a", "dev", "Y", "2")];
    let doc = json_crypt(&secrets, &public(&BOB));
    // Addressed to someone else.
    let e = parse_json_crypt(&doc.to_string(), &ALICE, None)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "seeqret export is addressed to 'bob', not to this key"
    );
    // Swapping the names of two values breaks the checksum.
    let mut swapped = doc.clone();
    swapped["secrets"][0]["key"] = "Y".into();
    swapped["secrets"][1]["key"] = "X".into();
    assert!(matches!(
        parse_json_crypt(&swapped.to_string(), &BOB, None),
        Err(SeeqretError::Checksum)
    ));
    let mut v2 = doc.clone();
    v2["version"] = 2.into();
    assert!(matches!(
        parse_json_crypt(&v2.to_string(), &BOB, None),
        Err(SeeqretError::Format(_))
    ));
    for bad in ["", "{}", "[]", "{\"from\": 1}", "null"] {
        assert!(
            matches!(
                parse_json_crypt(bad, &BOB, None),
                Err(SeeqretError::Format(_))
            ),
            "{bad}"
        );
    }
    let e = parse_json_crypt("{\"secrets\": [", &BOB, None)
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().starts_with("invalid seeqret export: "), "{e}");
}

#[test]
fn debug_redacts_values() {
    let s = secret("a", "b", "c", "hunter2");
    assert!(!format!("{s:?}").contains("hunter2"));
}

/// A vault written the way seeqret 0.x's first migration left it (no
/// `type`, no `updated_at`, no `name`), to check older schemas read.
#[test]
fn reads_schema_v1_vault() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = dir.path().join("seeqret");
    std::fs::create_dir(&vault).expect("mkdir");
    let fkey = [4u8; 32];
    std::fs::write(vault.join("seeqret.key"), URL_SAFE.encode(fkey)).expect("key");
    std::fs::write(vault.join("private.key"), STANDARD.encode(ALICE)).expect("priv");
    std::fs::write(vault.join("public.key"), seeqret_public_key(&ALICE)).expect("pub");
    {
        let c = Connection::open(vault.join("seeqrets.db")).expect("db");
        c.execute_batch(
            "create table migrations (id integer primary key, version integer not null,
                applied_at datetime not null default(current_timestamp));
             insert into migrations (version) values (1);
             create table users (id integer primary key, username text not null,
                email text not null, pubkey text not null);
             create table secrets (id integer primary key, app text not null, env text not null,
                key text not null, value text not null, unique(app, env, key));",
        )
        .expect("schema");
        c.execute(
            "insert into users (username, email, pubkey) values ('alice', 'a@x', ?1)",
            [seeqret_public_key(&ALICE)],
        )
        .expect("user");
        c.execute(
            "insert into users (username, email, pubkey) values ('bob', 'b@x', ?1)",
            [seeqret_public_key(&BOB)],
        )
        .expect("user");
        // One value stored as text, one as a blob (as Python stores bytes).
        let t1 = fernet_encrypt(&fkey, [1; 16], 1, b"v1");
        let t2 = fernet_encrypt(&fkey, [2; 16], 2, "blåbær".as_bytes());
        c.execute(
            "insert into secrets (app, env, key, value) values ('z', 'dev', 'K', ?1)",
            [t1],
        )
        .expect("s1");
        c.execute(
            "insert into secrets (app, env, key, value) values ('*', '*', 'G', ?1)",
            [t2.into_bytes()],
        )
        .expect("s2");
    }
    // Opening the parent finds the seeqret/ subdirectory.
    let v = SeeqretVault::open(dir.path()).expect("open");
    assert_eq!(v.schema_version(), 1);
    assert_eq!(v.dir(), vault.as_path());
    let s = v.secrets().expect("secrets");
    assert_eq!(s.len(), 2);
    assert_eq!(
        (s[0].name().as_str(), s[0].value(), s[0].value_type.as_str()),
        ("*:*:G", "blåbær", "str")
    );
    assert_eq!((s[1].name().as_str(), s[1].value()), ("z:dev:K", "v1"));
    let users = v.users().expect("users");
    assert_eq!(users.len(), 2);
    assert_eq!(users[1].public_key().expect("pk"), public(&BOB));
    assert_eq!(
        v.owner().expect("owner").map(|u| u.username),
        Some("alice".into())
    );
    assert_eq!(*v.private_key().expect("priv"), ALICE);
    assert_eq!(v.public_key().expect("pub"), seeqret_public_key(&ALICE));
}

#[test]
fn open_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        SeeqretVault::open(dir.path()),
        Err(SeeqretError::NotAVault(_))
    ));
    std::fs::write(dir.path().join("seeqrets.db"), b"").expect("db");
    let e = SeeqretVault::open(dir.path()).map(|_| ()).unwrap_err();
    assert!(matches!(e, SeeqretError::Io { .. }), "{e}");
    std::fs::write(dir.path().join("seeqret.key"), "short").expect("key");
    assert!(matches!(
        SeeqretVault::open(dir.path()),
        Err(SeeqretError::BadKey(_))
    ));
    std::fs::write(dir.path().join("seeqret.key"), URL_SAFE.encode([0u8; 32])).expect("key");
    // An empty file is an empty SQLite database, without seeqret's tables.
    assert!(matches!(
        SeeqretVault::open(dir.path()),
        Err(SeeqretError::NotAVault(_))
    ));
}

proptest! {
    #[test]
    fn command_parse_never_panics(line in any::<String>()) {
        let _ = parse_command_line(&line, &BOB, &public(&ALICE));
    }

    #[test]
    fn command_parse_never_panics_structured(line in "(seeqret load |-u[a-z]{0,3} |-v|1::|[a-f0-9]{0,5}:|[A-Za-z0-9+/=]{0,60}|:| ){0,12}") {
        let _ = parse_command_line(&line, &BOB, &public(&ALICE));
    }

    #[test]
    fn json_parse_never_panics(text in any::<String>()) {
        let _ = parse_json_crypt(&text, &BOB, None);
    }

    #[test]
    fn fernet_never_panics(token in proptest::collection::vec(any::<u8>(), 0..120)) {
        let _ = fernet_decrypt(&[1; 32], &token);
        let _ = fernet_decrypt(&[1; 32], URL_SAFE.encode(&token).as_bytes());
    }
}

/// Reads a vault and exports made by the real seeqret 1.0.5, when
/// `TRESOR_SEEQRET_PY` names the python of a venv with seeqret installed.
#[test]
fn real_seeqret_vault_and_exports() {
    let Some(py) = std::env::var_os("TRESOR_SEEQRET_PY") else {
        eprintln!("skipped: set TRESOR_SEEQRET_PY to a venv python with seeqret==1.0.5");
        return;
    };
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers/seeqret/make_fixture.py");
    let dir = tempfile::tempdir().expect("tempdir");
    let mine = [42u8; 32];
    let out = std::process::Command::new(py)
        .arg(&script)
        .arg(dir.path())
        .args([
            "--to-pubkey",
            &seeqret_public_key(&mine),
            "--to-username",
            "tresor-test",
        ])
        .output()
        .expect("run make_fixture.py");
    assert!(
        out.status.success(),
        "make_fixture.py failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("expected.json")).expect("expected.json"),
    )
    .expect("json");
    let want: Vec<(String, String, String, String)> = {
        let mut v: Vec<_> = expected["secrets"]
            .as_array()
            .expect("secrets")
            .iter()
            .map(|s| {
                let f = |k: &str| s[k].as_str().expect("str").to_owned();
                (f("app"), f("env"), f("key"), f("value"))
            })
            .collect();
        v.sort();
        v
    };
    let tuples = |s: &[SeeqretSecret]| {
        let mut v: Vec<_> = s
            .iter()
            .map(|s| {
                (
                    s.app.clone(),
                    s.env.clone(),
                    s.key.clone(),
                    s.value().to_owned(),
                )
            })
            .collect();
        v.sort();
        v
    };

    // The vault itself.
    let vault = SeeqretVault::open(dir.path()).expect("open vault");
    assert_eq!(vault.schema_version(), 7);
    let secrets = vault.secrets().expect("secrets");
    assert_eq!(tuples(&secrets), want);
    assert!(
        secrets
            .iter()
            .all(|s| s.value_type == "str" && s.updated_at.is_some())
    );
    let owner = vault.owner().expect("owner").expect("has owner");
    assert_eq!(
        owner.username,
        expected["owner"]["username"].as_str().expect("owner")
    );
    assert_eq!(owner.pubkey, vault.public_key().expect("public.key"));
    assert_eq!(
        seeqret_public_key(&vault.private_key().expect("private.key")),
        owner.pubkey
    );
    let users = vault.users().expect("users");
    let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, [owner.username.as_str(), "tresor-test"]);
    assert_eq!(users[1].public_key().expect("pk"), public(&mine));

    // The json-crypt export, with and without the sender key given.
    let text = std::fs::read_to_string(dir.path().join("export.json")).expect("export.json");
    let exp = parse_json_crypt(&text, &mine, None).expect("json-crypt");
    assert_eq!(exp.from.username, owner.username);
    assert_eq!(exp.to.username, "tresor-test");
    assert_eq!(tuples(&exp.secrets), want);
    let sender = owner.public_key().expect("owner pk");
    assert!(parse_json_crypt(&text, &mine, Some(&sender)).is_ok());
    assert!(matches!(
        parse_json_crypt(&text, &[43u8; 32], None),
        Err(SeeqretError::NotForMe(_))
    ));

    // The command export.
    let cmds = std::fs::read_to_string(dir.path().join("export.cmd")).expect("export.cmd");
    let lines = parse_command_lines(&cmds, &mine, &sender).expect("command lines");
    assert!(
        lines
            .iter()
            .all(|l| l.from_user.as_deref() == Some(owner.username.as_str()))
    );
    let got: Vec<SeeqretSecret> = lines.into_iter().map(|l| l.secret).collect();
    assert_eq!(tuples(&got), want);
}
