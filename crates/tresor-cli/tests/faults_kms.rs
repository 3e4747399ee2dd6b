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

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::skip_or_fail;

/// The fault proxy, killed on drop.
struct Proxy {
    child: Child,
    addr: String,
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/faults/s3_fault_proxy.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(upstream)
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python3 bench/faults/s3_fault_proxy.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("proxy did not start: {line:?}"))
            .to_owned();
        Proxy { child, addr }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn http(&self, method: &str, path: &str, body: &str) -> String {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    }

    /// Arms a fault (see the proxy's doc).
    fn arm(&self, rule: serde_json::Value) {
        self.http("POST", "/__fault__", &rule.to_string());
    }

    fn disarm(&self) {
        self.http("DELETE", "/__fault__", "");
    }

    /// (method, path, fault, status) of every request seen.
    fn log(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.http("GET", "/__log__", "")).unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A user of one fresh bucket, through the proxy.
struct User {
    home: tempfile::TempDir,
    endpoint: String,
    store: String,
    kms_key: String,
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl").args(args).output().expect("run curl")
}

impl User {
    fn new(moto: &str, proxy: &Proxy, tag: &str) -> User {
        let bucket = format!("faults-{tag}-{}", std::process::id());
        let o = curl(&["-sf", "-X", "PUT", &format!("{moto}/{bucket}")]);
        assert!(o.status.success(), "create bucket {bucket}: {o:?}");
        let o = curl(&[
            "-sf",
            "-X",
            "POST",
            &format!("{moto}/"),
            "-H",
            "X-Amz-Target: TrentService.CreateKey",
            "-H",
            "Content-Type: application/x-amz-json-1.1",
            "-H",
            "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00",
            "-d",
            "{}",
        ]);
        assert!(o.status.success(), "CreateKey: {o:?}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        User {
            home: tempfile::tempdir().unwrap(),
            endpoint: proxy.endpoint(),
            store: format!("s3://{bucket}/.tresor"),
            kms_key: v["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = support::tresor(self.home.path());
        c.args(args)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("TRESOR_STORE", &self.store)
            .env("TRESOR_KMS_KEY_ID", &self.kms_key)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn add(&self, key: &str, value: &str) -> Output {
        self.run(&["add", "key", "--app", "app", "--env", "dev", key, value])
    }

    fn add_ok(&self, key: &str, value: &str) {
        let o = self.add(key, value);
        assert!(
            o.status.success(),
            "add {key}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Every name is stored once; the audit chain verifies and has `entries` entries; the
    /// names stored.
    fn sound(&self, entries: usize) -> Vec<String> {
        let o = self.run(&["audit", "--verify"]);
        let out =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "audit --verify: {out}");
        assert!(
            out.contains(&format!("{entries} entries verified")),
            "expected {entries} audit entries: {out}"
        );
        let o = self.run(&["list", "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let all: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
        let mut names: Vec<String> = all
            .iter()
            .map(|s| s["key"].as_str().unwrap().to_owned())
            .collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(n, names.len(), "a name is stored twice: {all:?}");
        names
    }

    fn get(&self, key: &str) -> String {
        let o = self.run(&["get", &format!("app:dev:{key}")]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

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
