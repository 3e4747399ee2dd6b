//! The aws-iam rotator against moto (`TRESOR_TEST_S3_ENDPOINT` serves IAM and STS too),
//! driven through the real `tresor` binary and checked with boto3 (`TRESOR_MOTO_PY`): the
//! access key rotated, the new key accepted by STS GetCallerIdentity, the old one deleted
//! after the grace period, never more than two keys.
#![cfg(feature = "s3")]

mod rotate_common;

use rotate_common::{Home, now};

fn moto() -> Option<(String, String)> {
    match (
        std::env::var("TRESOR_TEST_S3_ENDPOINT"),
        std::env::var("TRESOR_MOTO_PY"),
    ) {
        (Ok(e), Ok(p)) if !e.is_empty() && !p.is_empty() => Some((e, p)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "TRESOR_TEST_S3_ENDPOINT / TRESOR_MOTO_PY are not set under CI"
            );
            eprintln!("SKIPPED: moto not configured; run scripts/test.sh");
            None
        }
    }
}

const BOTO: &str = r#"
import boto3, json, os, sys
ep = os.environ["EP"]
def iam():
    return boto3.client("iam", endpoint_url=ep, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
cmd, user = sys.argv[1], sys.argv[2]
if cmd == "create":
    iam().create_user(UserName=user)
    k = iam().create_access_key(UserName=user)["AccessKey"]
    print(json.dumps({"Version": 1, "AccessKeyId": k["AccessKeyId"], "SecretAccessKey": k["SecretAccessKey"]}))
elif cmd == "keys":
    print(json.dumps(sorted(m["AccessKeyId"] for m in iam().list_access_keys(UserName=user)["AccessKeyMetadata"])))
elif cmd == "check":
    k = json.loads(sys.stdin.read())
    sts = boto3.client("sts", endpoint_url=ep, region_name="us-east-1",
                       aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])
    keys = sorted(m["AccessKeyId"] for m in iam().list_access_keys(UserName=user)["AccessKeyMetadata"])
    print(json.dumps({"keys": keys, "arn": sts.get_caller_identity()["Arn"]}))
elif cmd == "whoami":
    k = json.loads(sys.stdin.read())
    sts = boto3.client("sts", endpoint_url=ep, region_name="us-east-1",
                       aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])
    print(sts.get_caller_identity()["Arn"])
"#;

fn boto(py: &str, ep: &str, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write as _;
    let mut c = std::process::Command::new(py)
        .arg("-c")
        .arg(BOTO)
        .args(args)
        .env("EP", ep)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut i = c.stdin.take().unwrap();
    i.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(i);
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success(), "boto3 {args:?} failed");
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

fn key_id(v: &str) -> String {
    let j: serde_json::Value = serde_json::from_str(v).unwrap();
    j["AccessKeyId"].as_str().unwrap().to_owned()
}

#[test]
fn iam_access_key_rotated_verified_with_sts_old_deleted_after_grace() {
    let Some((ep, py)) = moto() else { return };
    let user = format!("tresor-rot-{}", std::process::id());
    let first = boto(&py, &ep, &["create", &user], None);
    let first_id = key_id(&first);
    let keys = |label: &str| -> Vec<String> {
        let k: Vec<String> = serde_json::from_str(&boto(&py, &ep, &["keys", &user], None)).unwrap();
        assert!(k.len() <= 2, "{label}: more than two keys: {k:?}");
        k
    };
    let whoami = |v: &str| boto(&py, &ep, &["whoami", &user], Some(v));
    assert!(whoami(&first).ends_with(&format!(":user/{user}")));

    let h = Home::new();
    h.add("app:prod:AWS_KEY", &first);
    h.ok(&[
        "rotator",
        "set",
        "app:prod:AWS_KEY",
        "aws-iam",
        "--user",
        &user,
        "--endpoint",
        &ep,
        "--grace",
        "1h",
    ]);
    let out = h.ok(&["rotate", "app:prod:AWS_KEY"]);
    assert!(
        out.contains("rotated app:prod:AWS_KEY (aws-iam): v1 -> v2"),
        "{out}"
    );
    assert!(!out.contains("retired"), "{out}");
    let second = h.get("app:prod:AWS_KEY");
    let second_id = key_id(&second);
    assert_ne!(second_id, first_id);
    // The new key works against STS; during the grace period both keys exist.
    assert!(whoami(&second).ends_with(&format!(":user/{user}")));
    let mut both = vec![first_id.clone(), second_id.clone()];
    both.sort();
    assert_eq!(keys("grace"), both);
    // Before the grace period ends, --due retires nothing.
    h.ok(&["rotate", "--due"]);
    assert_eq!(keys("still grace"), both);
    // Two hours later the old key is deleted.
    let later = (now() + 2 * 3_600).to_string();
    let out = h.ok_env(
        &["rotate", "--due"],
        &[("TRESOR_ROTATE_CLOCK", later.as_str())],
    );
    assert!(out.contains("retired v1"), "{out}");
    assert_eq!(keys("after grace"), std::slice::from_ref(&second_id));
    // Rotating again within a grace period retires the previous old key first: never three.
    h.ok(&["rotate", "app:prod:AWS_KEY"]);
    assert_eq!(keys("third").len(), 2);
    h.ok(&["rotate", "app:prod:AWS_KEY"]);
    let fourth = h.get("app:prod:AWS_KEY");
    let k = keys("fourth");
    assert_eq!(k.len(), 2);
    assert!(k.contains(&key_id(&fourth)));
    assert!(!k.contains(&second_id));
    assert!(whoami(&fourth).ends_with(&format!(":user/{user}")));
    let audit = h.ok(&["audit", "--json"]);
    assert!(
        audit.contains("rotator=aws-iam outcome=ok versions=v1->v2"),
        "{audit}"
    );
    assert!(audit.contains("rotator=aws-iam retired=v1"), "{audit}");
    // No secret access key in the audit or the rotator listing.
    let list = h.ok(&["rotator", "list", "--json"]);
    let secret = |v: &str| -> String {
        let j: serde_json::Value = serde_json::from_str(v).unwrap();
        j["SecretAccessKey"].as_str().unwrap().to_owned()
    };
    for v in [&first, &second, &fourth] {
        assert!(!audit.contains(&secret(v)));
        assert!(!list.contains(&secret(v)));
    }
}

#[test]
fn iam_rotation_interrupted_after_create_leaves_no_extra_key() {
    let Some((ep, py)) = moto() else { return };
    let user = format!("tresor-rot-k-{}", std::process::id());
    let first = boto(&py, &ep, &["create", &user], None);
    let h = Home::new();
    h.add("app:prod:AWS_KEY", &first);
    h.ok(&[
        "rotator",
        "set",
        "app:prod:AWS_KEY",
        "aws-iam",
        "--user",
        &user,
        "--endpoint",
        &ep,
        "--grace",
        "0s",
    ]);
    let mut rng = rotate_common::Rng::seeded();
    for _ in 0..10 {
        let mut child = h
            .cmd(&["rotate", "app:prod:AWS_KEY"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(rng.below(400)));
        let _ = child.kill();
        let _ = child.wait();
        let o = h.run(&["rotate", "--resume"], &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let current = h.get("app:prod:AWS_KEY");
        let c: serde_json::Value =
            serde_json::from_str(&boto(&py, &ep, &["check", &user], Some(&current))).unwrap();
        let k: Vec<&str> = c["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert!(k.len() <= 2, "{k:?}");
        assert!(k.contains(&key_id(&current).as_str()), "{k:?}");
        assert!(
            c["arn"]
                .as_str()
                .unwrap()
                .ends_with(&format!(":user/{user}"))
        );
    }
}
