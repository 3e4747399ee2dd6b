//! Sealed files with a KMIP recipient (`kmip://HOST:PORT/UID`): the data key is wrapped by
//! KMIP Encrypt (AES-256-GCM) with a symmetric key on a real `tresor kmip serve`, over mutual
//! TLS with the client certificate `--server` uses, and opened by KMIP Decrypt. A file sealed
//! to the KMIP key and an age key opens with either; no client certificate, a tampered
//! wrapped key, a revoked server key are refused; `recipients rm` by name rotates the data key.

const REMOTE: bool = false;

#[path = "vault/macros.rs"]
#[allow(unused_macros)]
mod macros;
mod seal_common;
#[path = "vault/util.rs"]
#[allow(dead_code)]
mod util;

use std::path::Path;

use util::{TestVault, stderr};

const PLAIN: &str = "# db\nDB_PASS=\"s3cr3t kmip\"\nAPI=ak_9\n";

fn conn(tv: &TestVault) -> Vec<String> {
    let s = tv.server().unwrap();
    vec![
        "--server".into(),
        s.addr.clone(),
        "--cert".into(),
        s.certs.join("client.crt").display().to_string(),
        "--key".into(),
        s.certs.join("client.key").display().to_string(),
        "--ca".into(),
        s.certs.join("ca.crt").display().to_string(),
    ]
}

/// `tresor ARGS` with the client certificate in the environment (and `TRESOR_IDENTITY`).
fn t(tv: &TestVault, id: Option<&Path>, args: &[&str]) -> std::process::Output {
    let mut c = tv.cmd();
    if let Some(i) = id {
        c.env("TRESOR_IDENTITY", i);
    }
    c.args(args).output()
}

fn ok(o: std::process::Output) -> String {
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn refused(o: std::process::Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(2),
        "expected a refusal: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(o.stdout.is_empty());
    stderr(&o)
}

#[test]
fn kmip_recipient_wraps_and_opens_the_data_key_over_mtls() {
    let tv = TestVault::remote();
    let c = conn(&tv);
    let uid = tv
        .cmd()
        .args(["kmip", "create", "--algorithm", "AES", "--length", "256"])
        .args(&c)
        .stdout()
        .trim()
        .to_owned();
    tv.cmd().args(["kmip", "activate", &uid]).args(&c).stdout();
    let addr = tv.server().unwrap().addr.clone();
    let kmip = format!("kmip://{addr}/{uid}");
    let alice = tv.home().join("alice.txt");
    let alice_pub = seal_common::age_identity(&alice);
    tv.write(".env", PLAIN);
    ok(t(
        &tv,
        None,
        &[
            "seal",
            ".env",
            "-r",
            &format!("{kmip} team-kms"),
            "-r",
            &alice_pub,
        ],
    ));
    let sealed = std::fs::read_to_string(tv.path(".env")).unwrap();
    assert!(!sealed.contains("s3cr3t"));
    assert!(
        sealed.contains(&format!("# tresor-recipient: {kmip} team-kms\n")),
        "{sealed}"
    );
    assert!(
        sealed.contains(&format!("# tresor-wrap: {kmip} ")),
        "{sealed}"
    );

    // The KMIP server alone (no identity) opens it; alice's age key alone too.
    assert_eq!(ok(t(&tv, None, &["unseal", ".env"])), PLAIN);
    let mut no_cert = tv.cmd();
    no_cert
        .command()
        .env_remove("TRESOR_CLIENT_CERT")
        .env_remove("TRESOR_CLIENT_KEY")
        .env_remove("TRESOR_CLIENT_CA")
        .env_remove("TRESOR_SERVER");
    let o = no_cert
        .env("TRESOR_IDENTITY", &alice)
        .args(["unseal", ".env"])
        .output();
    assert_eq!(ok(o), PLAIN);
    // run --file with no identity: the value reaches the child through KMIP.
    let out = ok(t(
        &tv,
        None,
        &[
            "run",
            "--no-mask",
            "--file",
            ".env",
            "--",
            "sh",
            "-c",
            "printf %s \"$DB_PASS\"",
        ],
    ));
    assert_eq!(out, "s3cr3t kmip");

    // No client certificate and no identity: refused, saying what is missing.
    let mut no_cert = tv.cmd();
    no_cert
        .command()
        .env_remove("TRESOR_CLIENT_CERT")
        .env_remove("TRESOR_CLIENT_KEY")
        .env_remove("TRESOR_CLIENT_CA");
    let m = refused(no_cert.args(["unseal", ".env"]).output());
    assert!(m.contains("client certificate"), "{m}");

    // A wrapped key moved to another data key id (KMIP authenticated data) is refused.
    let tampered: String = sealed
        .lines()
        .map(
            |l| match l.strip_prefix(&format!("# tresor-wrap: {kmip} ")) {
                Some(tok) => {
                    let (id, b64) = tok.split_once('.').unwrap();
                    let other: String = id
                        .chars()
                        .map(|c| if c == '0' { '1' } else { '0' })
                        .collect();
                    format!("# tresor-wrap: {kmip} {other}.{b64}\n")
                }
                None => format!("{l}\n"),
            },
        )
        .collect();
    tv.write("t.env", &tampered);
    let m = refused(t(&tv, None, &["unseal", "t.env"]));
    assert!(!m.contains("s3cr3t") && m.contains(&kmip), "{m}");

    // rm the KMIP recipient by name: new data key, the server alone no longer opens it.
    ok(t(
        &tv,
        Some(&alice),
        &["recipients", "rm", ".env", "team-kms"],
    ));
    let after = std::fs::read_to_string(tv.path(".env")).unwrap();
    assert!(
        !after.contains("tresor-wrap") && !after.contains("kmip://"),
        "{after}"
    );
    refused(t(&tv, None, &["unseal", ".env"]));
    assert_eq!(ok(t(&tv, Some(&alice), &["unseal", ".env"])), PLAIN);

    // Sealed to the KMIP key only; once the server key is revoked and destroyed, refused.
    tv.write("k.env", PLAIN);
    ok(t(&tv, None, &["seal", "k.env", "-r", &kmip]));
    assert_eq!(ok(t(&tv, None, &["unseal", "k.env"])), PLAIN);
    tv.cmd().args(["kmip", "revoke", &uid]).args(&c).stdout();
    tv.cmd().args(["kmip", "destroy", &uid]).args(&c).stdout();
    let m = refused(t(&tv, None, &["unseal", "k.env"]));
    assert!(m.contains(&kmip), "{m}");
}
