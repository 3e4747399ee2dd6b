//! Fault campaign (issue 17), KMS: an `s3://` store whose data keys are wrapped by an AWS KMS
//! key (moto's KMS on the same endpoint), reached through bench/faults/s3_fault_proxy.py, which
//! injects faults into the KMS calls only (matched by their `X-Amz-Target`: `Encrypt` when a
//! write wraps its new data key, `Decrypt` when a read or a commit unwraps one): a 500 (retried),
//! a connection reset before KMS sees the call and one after KMS answered it (retried: KMS
//! calls change nothing), a 2 s stall (waited for), and a run of 500s that outlasts the
//! retries (a clear error naming KMS, nothing written). After all of them: every name is
//! stored once, each value reads back, the audit chain verifies with one entry per
//! acknowledged write.
//!
//! Needs `TRESOR_TEST_S3_ENDPOINT` (tests/peers/moto/start.sh; required under CI) and python3.
#![cfg(feature = "s3")]

mod support;

use std::time::{Duration, Instant};

use support::s3_proxy::{Proxy, User, err};
use support::skip_or_fail;

/// KMS calls of this process's store seen by the proxy with fault `kind` (any kind: None).
fn kms_calls(proxy: &Proxy, op: &str, kind: Option<&str>) -> usize {
    proxy
        .log()
        .iter()
        .filter(|e| e["target"].as_str().is_some_and(|t| t.ends_with(op)))
        .filter(|e| kind.is_none_or(|k| e["fault"] == k))
        .count()
}

fn kms_rule(kind: &str, op: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut r = serde_json::json!({"kind": kind, "target": format!("TrentService.{op}")});
    if let (Some(r), Some(extra)) = (r.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            r.insert(k.clone(), v.clone());
        }
    }
    r
}

#[test]
fn kms_faults_of_each_kind() {
    let Some(moto) = std::env::var("TRESOR_TEST_S3_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        skip_or_fail("TRESOR_TEST_S3_ENDPOINT not set (tests/peers/moto/start.sh)");
        return;
    };
    let proxy = Proxy::start(&moto);
    let u = User::new(&moto, &proxy, "kms");
    u.add_ok("K0", "v0");
    let mut entries = 1;
    assert!(
        kms_calls(&proxy, "Encrypt", None) > 0,
        "the store wrapped no key with KMS: {:?}",
        proxy.log()
    );
    let none = serde_json::json!({});

    // A 500 on the Encrypt that wraps a new data key: the SDK retries it.
    proxy.arm(kms_rule("500", "Encrypt", none.clone()));
    u.add_ok("K500", "v-500");
    entries += 1;
    assert_eq!(kms_calls(&proxy, "Encrypt", Some("500")), 1);

    // A 500 on a Decrypt that unwraps a data key for a read: retried.
    proxy.arm(kms_rule("500", "Decrypt", none.clone()));
    assert_eq!(u.get("K500"), "v-500");
    assert_eq!(kms_calls(&proxy, "Decrypt", Some("500")), 1);

    // A reset before KMS sees the call, and one after KMS answered it (the answer is lost):
    // retried, and a retried Encrypt only makes another wrapping of the same data key, of
    // which one is stored.
    for (k, kind, op) in [
        ("Kreset-enc", "reset", "Encrypt"),
        ("Kafter-enc", "reset-after", "Encrypt"),
    ] {
        proxy.arm(kms_rule(kind, op, none.clone()));
        u.add_ok(k, k);
        entries += 1;
    }
    for kind in ["reset", "reset-after"] {
        proxy.arm(kms_rule(kind, "Decrypt", none.clone()));
        assert_eq!(u.get("Kreset-enc"), "Kreset-enc");
    }
    assert_eq!(kms_calls(&proxy, "Encrypt", Some("reset")), 1);
    assert_eq!(kms_calls(&proxy, "Encrypt", Some("reset-after")), 1);
    assert_eq!(kms_calls(&proxy, "Decrypt", Some("reset")), 1);
    assert_eq!(kms_calls(&proxy, "Decrypt", Some("reset-after")), 1);

    // A 2 s stall on each: waited for.
    proxy.arm(kms_rule("stall", "Encrypt", serde_json::json!({"secs": 2})));
    let t = Instant::now();
    u.add_ok("Kstall", "v-stall");
    entries += 1;
    assert!(t.elapsed() >= Duration::from_secs(2));
    proxy.arm(kms_rule("stall", "Decrypt", serde_json::json!({"secs": 2})));
    let t = Instant::now();
    assert_eq!(u.get("Kstall"), "v-stall");
    assert!(t.elapsed() >= Duration::from_secs(2));

    // KMS down (500s outlasting the retries) while a write wraps its key: a clear error
    // naming KMS, no panic, nothing written.
    proxy.arm(kms_rule(
        "500",
        "Encrypt",
        serde_json::json!({"count": 100}),
    ));
    let t = Instant::now();
    let o = u.add("Kdown", "v");
    let e = err(&o);
    assert!(!o.status.success(), "added while KMS was down");
    assert!(
        e.contains("KMS") && !e.contains("panicked"),
        "unclear error: {e}"
    );
    eprintln!(
        "KMS Encrypt 500 × {} in {:.1} s: {}",
        kms_calls(&proxy, "Encrypt", Some("500")) - 1,
        t.elapsed().as_secs_f64(),
        e.trim()
    );
    proxy.disarm();

    // KMS down while a read unwraps: a clear error too.
    proxy.arm(kms_rule(
        "500",
        "Decrypt",
        serde_json::json!({"count": 100}),
    ));
    let o = u.run(&["get", "app:dev:K0"]);
    let e = err(&o);
    assert!(!o.status.success(), "read while KMS was down");
    assert!(
        e.contains("KMS") && !e.contains("panicked"),
        "unclear error: {e}"
    );
    assert!(o.stdout.is_empty(), "a value printed without its key");
    eprintln!("KMS Decrypt down: {}", e.trim());
    proxy.disarm();

    // Nothing lost, nothing doubled, nothing half-written.
    let names = u.sound(entries);
    let want = ["K0", "K500", "Kafter-enc", "Kreset-enc", "Kstall"];
    assert_eq!(names, want, "lost or extra names");
    for (k, v) in [
        ("K0", "v0"),
        ("Kafter-enc", "Kafter-enc"),
        ("Kstall", "v-stall"),
    ] {
        assert_eq!(u.get(k), v);
    }
    // With KMS back, the refused write goes through.
    u.add_ok("Kdown", "v");
    assert_eq!(u.sound(entries + 1).len(), want.len() + 1);
    eprintln!(
        "RESULT kms_faults encrypt_calls={} decrypt_calls={} faults={}",
        kms_calls(&proxy, "Encrypt", None),
        kms_calls(&proxy, "Decrypt", None),
        proxy.log().iter().filter(|e| !e["fault"].is_null()).count()
    );
}
