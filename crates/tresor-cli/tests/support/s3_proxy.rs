//! The S3/KMS fault proxy (bench/faults/s3_fault_proxy.py in front of moto) and a user of one
//! fresh bucket reached through it: shared by the S3 and KMS fault tests (`faults_s3.rs`,
//! `faults_kms.rs`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// The fault proxy, killed on drop.
pub struct Proxy {
    child: Child,
    addr: String,
}

impl Proxy {
    pub fn start(upstream: &str) -> Proxy {
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

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn http(&self, method: &str, path: &str, body: &str) -> String {
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
    pub fn arm(&self, rule: serde_json::Value) {
        self.http("POST", "/__fault__", &rule.to_string());
    }

    pub fn disarm(&self) {
        self.http("DELETE", "/__fault__", "");
    }

    /// (method, path, fault, status) of every request seen.
    pub fn log(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.http("GET", "/__log__", "")).unwrap()
    }

    /// How many requests got fault `kind`.
    pub fn injected(&self, kind: &str) -> usize {
        self.log().iter().filter(|e| e["fault"] == kind).count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A user of one fresh bucket, through the proxy.
pub struct User {
    home: tempfile::TempDir,
    endpoint: String,
    store: String,
    kms_key: String,
}

pub fn curl(args: &[&str]) -> Output {
    Command::new("curl").args(args).output().expect("run curl")
}

impl User {
    pub fn new(moto: &str, proxy: &Proxy, tag: &str) -> User {
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

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = super::tresor(self.home.path());
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

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn add(&self, key: &str, value: &str) -> Output {
        self.run(&["add", "key", "--app", "app", "--env", "dev", key, value])
    }

    pub fn add_ok(&self, key: &str, value: &str) {
        let o = self.add(key, value);
        assert!(
            o.status.success(),
            "add {key}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Every name is stored once; the audit chain verifies and has `entries` entries; the
    /// names stored.
    pub fn sound(&self, entries: usize) -> Vec<String> {
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

    pub fn get(&self, key: &str) -> String {
        let o = self.run(&["get", &format!("app:dev:{key}")]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
