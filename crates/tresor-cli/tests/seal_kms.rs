//! Sealed files with an AWS KMS recipient (`awskms:KEY`), against the real moto KMS
//! (`TRESOR_TEST_S3_ENDPOINT`): the data key is wrapped by KMS Encrypt and opened by KMS
//! Decrypt with no identity; a file sealed to KMS and an age key opens with either; a wrapped
//! key handed to another KMS key, a tampered key id or an unreachable KMS are refused;
//! removing the KMS recipient by name rotates the data key.

mod seal_common;

use std::process::Command;

use seal_common::{Env, setup};

fn endpoint() -> Option<String> {
    let ep = std::env::var("TRESOR_TEST_S3_ENDPOINT").ok();
    if ep.is_none() {
        eprintln!("skipped: set TRESOR_TEST_S3_ENDPOINT (moto; ./scripts/test.sh starts it)");
    }
    ep
}

fn kms_call(ep: &str, target: &str, body: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            &format!("{ep}/"),
            "-H",
            &format!("X-Amz-Target: TrentService.{target}"),
            "-H",
            "Content-Type: application/x-amz-json-1.1",
            "-H",
            "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00",
            "-d",
            body,
        ])
        .output()
        .expect("curl");
    assert!(out.status.success(), "KMS {target}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn create_key(ep: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&kms_call(ep, "CreateKey", "{}")).unwrap();
    v["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
}

/// `tresor ARGS` with the AWS environment for moto (and `TRESOR_IDENTITY` when `id`).
fn aws(e: &Env, ep: &str, id: Option<&std::path::Path>, args: &[&str]) -> std::process::Output {
    e.tresor(id)
        .env("AWS_ENDPOINT_URL", ep)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn err(o: std::process::Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(2),
        "expected a refusal: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8(o.stderr).unwrap()
}

const PLAIN: &str = "# db\nDB_PASS=\"s3cr3t kms\"\nAPI=ak_9\n";

#[test]
fn aws_kms_recipient_wraps_and_opens_the_data_key() {
    let Some(ep) = endpoint() else { return };
    let e = setup();
    let arn = create_key(&ep);
    let kms = format!("awskms:{arn}");
    e.write(".env", PLAIN);
    ok(aws(
        &e,
        &ep,
        None,
        &[
            "seal",
            ".env",
            "-r",
            &format!("{kms} ci"),
            "-r",
            &e.alice_pub,
        ],
    ));
    let sealed = e.read(".env");
    assert!(!sealed.contains("s3cr3t"));
    assert!(
        sealed.contains(&format!("# tresor-recipient: {kms} ci\n")),
        "{sealed}"
    );
    assert!(
        sealed.contains(&format!("# tresor-wrap: {kms} ")),
        "{sealed}"
    );

    // KMS alone (no identity anywhere) opens it; so does alice's age key alone (no AWS).
    assert_eq!(ok(aws(&e, &ep, None, &["unseal", ".env"])), PLAIN);
    assert_eq!(e.ok(Some(&e.alice), &["unseal", ".env"]), PLAIN);
    // Neither (KMS unreachable, no identity): refused, naming the KMS recipient tried.
    let m = err(aws(&e, "http://127.0.0.1:1", None, &["unseal", ".env"]));
    assert!(m.contains(&kms), "{m}");

    // JSON too (the header is a member of the object there).
    e.write("c.json", "{\n  \"db\": {\"pass\": \"s3cr3t kms\"}\n}\n");
    ok(aws(&e, &ep, None, &["seal", "c.json", "-r", &kms]));
    let v: serde_json::Value =
        serde_json::from_str(&ok(aws(&e, &ep, None, &["unseal", "c.json", "--json"]))).unwrap();
    assert_eq!(v["values"]["db.pass"], "s3cr3t kms");

    // A wrapped key bound to another data key id (the KMS encryption context) is refused.
    let tampered = sealed
        .lines()
        .map(
            |l| match l.strip_prefix(&format!("# tresor-wrap: {kms} ")) {
                Some(t) => {
                    let (id, b64) = t.split_once('.').unwrap();
                    let other: String = id
                        .chars()
                        .map(|c| if c == '0' { '1' } else { '0' })
                        .collect();
                    format!("# tresor-wrap: {kms} {other}.{b64}")
                }
                None => l.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    e.write("t.env", &tampered);
    let m = err(aws(&e, &ep, None, &["unseal", "t.env"]));
    assert!(!m.contains("s3cr3t"), "{m}");

    // The wrapped key handed to another KMS key (KMS Decrypt checks the key): refused with
    // KMS's answer (moto does not model disabled keys, so this is the real-KMS refusal
    // tested); alice still opens the file.
    let arn2 = create_key(&ep);
    let kms2 = format!("awskms:{arn2}");
    e.write(
        "w.env",
        &sealed.replace(
            &format!("# tresor-wrap: {kms} "),
            &format!("# tresor-wrap: {kms2} "),
        ),
    );
    let m = err(aws(&e, &ep, None, &["unseal", "w.env"]));
    assert!(m.contains("KMS") && m.contains(&kms2), "{m}");
    assert_eq!(e.ok(Some(&e.alice), &["unseal", ".env"]), PLAIN);

    // rm the KMS recipient by name: a new data key, no wrapped-key line left.
    ok(aws(
        &e,
        &ep,
        Some(&e.alice),
        &["recipients", "rm", ".env", "ci"],
    ));
    let after = e.read(".env");
    assert!(!after.contains("tresor-wrap"), "{after}");
    let m = err(aws(&e, &ep, None, &["unseal", ".env"]));
    assert!(
        m.contains("no identity") || m.contains("none of the identities"),
        "{m}"
    );
    // and add it back (same data key wrapped by KMS anew): opens with KMS alone again
    ok(aws(
        &e,
        &ep,
        Some(&e.alice),
        &["recipients", "add", ".env", "--name", "ci", &kms],
    ));
    assert_eq!(ok(aws(&e, &ep, None, &["unseal", ".env"])), PLAIN);
}
