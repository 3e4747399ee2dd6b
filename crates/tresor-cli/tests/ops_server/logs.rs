//! Structured (JSON) logs: they carry the access, connection and refused-handshake fields,
//! and no secret in any spelling.

use std::path::{Path, PathBuf};

use tresor_kmip::enums::Operation;
use tresor_kmip::{Tag, Ttlv};

use super::support::*;
use super::test_logs;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The spellings of `secret` a log line could carry: raw text, hex (both cases), base64.
fn spellings(secret: &[u8]) -> Vec<String> {
    use base64::Engine;
    let mut v = vec![
        hex(secret),
        hex(secret).to_uppercase(),
        base64::engine::general_purpose::STANDARD.encode(secret),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret),
    ];
    if let Ok(s) = std::str::from_utf8(secret) {
        v.push(s.to_owned());
    }
    // A middle part of the hex too (a truncated dump).
    let h = hex(secret);
    if h.len() >= 24 {
        v.push(h[4..24].to_owned());
    }
    v
}

/// JSON log lines parse and carry the access fields (identity, operation, uid, result,
/// duration, batch size), the connection fields (peer, TLS version and suite, identity) and
/// the refused-handshake fields; and nothing the server printed in a representative session
/// at the most verbose level (vault passphrase, registered secret, created key's material,
/// encrypted plaintext) contains a secret, in any spelling.
#[test]
fn json_logs_carry_the_fields_and_no_secret() {
    let home = tempfile::tempdir().unwrap();
    let certs = certs(home.path(), "certs");
    let other = certs_other(home.path());
    let passphrase = "pass-SENTINEL-Zq81vX-phrase";
    let secret = b"secret-SENTINEL-Kd93mPq7-value".to_vec();
    let plaintext = b"plain-SENTINEL-Ww28rTu5-text".to_vec();
    let mut args = serve_args(&certs);
    args.extend(["--log-format".into(), "json".into()]);
    args.extend([
        "--audit-log".into(),
        "-".into(),
        "--audit-reads".into(),
        "all".into(),
    ]);
    args.extend(["--metrics-listen".into(), "127.0.0.1:0".into()]);
    let vault = home.path().join("vault");
    let mut server = Server::spawn(
        home.path(),
        &["--vault", vault.to_str().unwrap()],
        &args,
        &[
            ("TRESOR_LOG", "trace".into()),
            ("TRESOR_PASSPHRASE", passphrase.into()),
        ],
    );
    let kc = kmip_client(&certs, "client", server.port, V);
    let reg = kc.ok(
        Operation::REGISTER,
        register_secret_payload("ops-secret", &secret),
    );
    let secret_uid = uid_of(&reg);
    let got = kc.ok(Operation::GET, vec![uid(&secret_uid)]);
    let mut seen = Vec::new();
    byte_strings(got.payload.as_ref().unwrap(), &mut seen);
    assert!(seen.contains(&secret), "Get returned the secret");
    let created = kc.ok(Operation::CREATE, create_payload("ops-key"));
    let key_uid = uid_of(&created);
    // Active for Encrypt (already active when the server creates keys active).
    let _ = kc.call(Operation::ACTIVATE, vec![uid(&key_uid)]);
    let got = kc.ok(Operation::GET, vec![uid(&key_uid)]);
    let mut key_material = Vec::new();
    byte_strings(got.payload.as_ref().unwrap(), &mut key_material);
    let key_material = key_material
        .into_iter()
        .find(|b| b.len() == 32)
        .expect("AES-256 key material");
    let enc = kc.ok(
        Operation::ENCRYPT,
        vec![uid(&key_uid), Ttlv::bytes(Tag::DATA, plaintext.clone())],
    );
    let mut enc_bytes = Vec::new();
    byte_strings(enc.payload.as_ref().unwrap(), &mut enc_bytes);
    // A refused handshake: a client certificate of another CA (trusting the server's).
    let strange = home.path().join("stranger");
    std::fs::create_dir(&strange).unwrap();
    for f in ["client.crt", "client.key"] {
        std::fs::copy(other.join(f), strange.join(f)).unwrap();
    }
    std::fs::copy(certs.join("ca.crt"), strange.join("ca.crt")).unwrap();
    let stranger = kmip_client(&strange, "client", server.port, V);
    assert!(stranger.call(Operation::QUERY, vec![]).is_err());
    server.wait_for("\"reason\":\"unknown-ca\"");
    server.wait_for("\"operation\":\"Encrypt\"");
    drop(kc);
    server.signal("-TERM");
    assert!(server.wait_exit(60).success());
    let log = server.log();

    // Every line that looks like JSON parses; the access lines carry their fields.
    let mut access = Vec::new();
    let mut conns = Vec::new();
    let mut refused = Vec::new();
    for line in log.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        match v["target"].as_str() {
            Some("tresor::kmip::access") => access.push(v),
            Some("tresor::kmip::conn") if v["message"] == "connection" => conns.push(v),
            Some("tresor::kmip::handshake") => refused.push(v),
            _ => {}
        }
    }
    let find = |op: &str| {
        access
            .iter()
            .find(|a| a["operation"] == op)
            .unwrap_or_else(|| panic!("no access line for {op}: {access:#?}"))
    };
    for (op, u) in [
        ("Register", &secret_uid),
        ("Get", &secret_uid),
        ("Create", &key_uid),
        ("Encrypt", &key_uid),
    ] {
        let a = find(op);
        assert_eq!(a["identity"], "client", "{a}");
        assert_eq!(a["result"], "Success", "{a}");
        assert_eq!(a["status"], "success", "{a}");
        assert_eq!(a["batch"], 1, "{a}");
        assert!(a["duration_us"].as_u64().is_some(), "{a}");
        assert!(a["timestamp"].as_str().is_some(), "{a}");
        assert_eq!(a["level"], "INFO", "{a}");
        assert_eq!(a["uid"].as_str(), Some(u.as_str()), "{a}");
    }
    let c = &conns[0];
    assert_eq!(c["identity"], "client", "{c}");
    assert!(c["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{c}");
    assert!(
        c["tls_version"].as_str().unwrap().starts_with("TLSv1_"),
        "{c}"
    );
    assert!(c["tls_suite"].as_str().unwrap().starts_with("TLS"), "{c}");
    let r = &refused[0];
    assert_eq!(r["reason"], "unknown-ca", "{r}");
    assert!(
        r["peer"].as_str().is_some() && r["detail"].as_str().is_some(),
        "{r}"
    );

    // No secret in anything the server printed.
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("passphrase", passphrase.as_bytes().to_vec()),
        ("registered secret", secret.clone()),
        ("created key material", key_material.clone()),
        ("encrypted plaintext", plaintext.clone()),
    ];
    for (_, s) in &secrets {
        test_logs::secret(s);
    }
    // The ciphertext is not secret, but its plaintext must not show up either way.
    assert!(enc_bytes.iter().all(|b| b != &plaintext));
    for (what, s) in &secrets {
        for sp in spellings(s) {
            assert!(
                !log.contains(&sp),
                "the server printed the {what} ({sp}):\n{log}"
            );
        }
    }
    // The check can fail: the secret spelled as a log would carry it is found by it.
    let planted = format!("{log}\n{{\"leak\":\"{}\"}}", hex(&secret));
    assert!(spellings(&secret).iter().any(|sp| planted.contains(sp)));
}

/// A second development CA (its client is a stranger to the first).
fn certs_other(home: &Path) -> PathBuf {
    certs(home, "other-ca")
}
