//! Running `tresor kmip serve` as a service (issue 17): structured logs that carry the
//! access fields and never a secret, Prometheus metrics that count what the test did,
//! `/readyz` following PostgreSQL, `tresor.toml` and `tresor config check`, SIGHUP reloads,
//! SIGTERM drains and sd_notify. Drives the real binary over mutual TLS.

#[path = "common/test_logs.rs"]
mod test_logs;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, KeyFormatType, NameType, ObjectType, Operation,
    ResultStatus,
};
use tresor_kmip::message::{RequestBatchItem, RequestHeader, RequestMessage, ResponseBatchItem};
use tresor_kmip::{KmipError, ProtocolVersion, Tag, Ttlv, Value};

const V: ProtocolVersion = ProtocolVersion::V1_4;
const V2: ProtocolVersion = ProtocolVersion::V2_0;

// ---- processes ----------------------------------------------------------------------------

fn tresor(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tresor"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1");
    c
}

fn run_ok(mut c: Command) -> String {
    let out = c.output().expect("run tresor");
    assert!(
        out.status.success(),
        "tresor failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn certs(home: &Path, name: &str) -> PathBuf {
    let dir = home.join(name);
    let mut c = tresor(home);
    c.args(["kmip", "certs", "init"]).arg(&dir);
    run_ok(c);
    dir
}

/// A `tresor kmip serve` child; everything it prints (stdout and stderr) is kept.
struct Server {
    child: Child,
    port: u16,
    metrics: Option<String>,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `tresor [pre…] kmip serve --listen 127.0.0.1:0 [args…]` with `env`.
    fn spawn(home: &Path, pre: &[&str], args: &[String], env: &[(&str, String)]) -> Server {
        let mut c = tresor(home);
        c.args(pre)
            .args(["kmip", "serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("spawn tresor kmip serve");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        for stream in [
            Box::new(test_logs::tee(child.stderr.take().unwrap())) as Box<dyn Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let l = log.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(a) = line.strip_prefix("listening on ") {
                        let _ = tx.send(("kmip", a.trim().to_owned()));
                    }
                    if let Some(a) = line
                        .strip_prefix("kmip: metrics (/metrics, /healthz, /readyz) listening on ")
                    {
                        let _ = tx.send(("metrics", a.trim().to_owned()));
                    }
                    let mut l = l.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let mut metrics = None;
        let port = loop {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(("metrics", a)) => metrics = Some(a),
                Ok((_, a)) => break a.rsplit(':').next().unwrap().parse::<u16>().unwrap(),
                Err(e) => {
                    let _ = child.kill();
                    panic!("server did not start ({e}): {}", log.lock().unwrap());
                }
            }
        };
        Server {
            child,
            port,
            metrics,
            log,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (up to 60 s) for a line containing `text`.
    fn wait_for(&self, text: &str) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(60) {
            if self.log().contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no line with {text:?}; server log:\n{}", self.log());
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(st.success(), "kill {sig}");
    }

    /// Waits (up to `secs`) for the process to exit; its status.
    fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let t = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "server still running after {secs} s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_args(certs: &Path) -> Vec<String> {
    vec![
        "--cert".into(),
        certs.join("server.crt").display().to_string(),
        "--key".into(),
        certs.join("server.key").display().to_string(),
        "--ca".into(),
        certs.join("ca.crt").display().to_string(),
    ]
}

// ---- a blocking KMIP client -----------------------------------------------------------------

struct Kc {
    rt: tokio::runtime::Runtime,
    c: KmipClient,
}

impl Kc {
    /// A client with `dir`'s `name.crt`/`name.key`, trusting `dir`'s CA.
    fn new(dir: &Path, name: &str, port: u16, version: ProtocolVersion) -> Kc {
        let mut cfg = ClientConfig::new(
            "127.0.0.1",
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
            dir.join("ca.crt"),
        );
        cfg.port = port;
        cfg.protocol_version = version;
        cfg.connect_timeout = Duration::from_secs(5);
        cfg.request_timeout = Duration::from_secs(120);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Kc {
            rt,
            c: KmipClient::new(cfg).expect("client"),
        }
    }

    fn call(&self, op: Operation, payload: Vec<Ttlv>) -> Result<ResponseBatchItem, KmipError> {
        self.rt.block_on(self.c.call(op, payload))
    }

    fn ok(&self, op: Operation, payload: Vec<Ttlv>) -> ResponseBatchItem {
        let item = self.call(op, payload).expect("transport");
        assert_eq!(
            item.result_status,
            ResultStatus::SUCCESS,
            "{op}: {:?} {:?}",
            item.result_reason,
            item.result_message
        );
        item
    }

    fn batch(&self, items: Vec<RequestBatchItem>, v: ProtocolVersion) -> Vec<ResponseBatchItem> {
        let n = i32::try_from(items.len()).unwrap();
        let msg = RequestMessage {
            header: RequestHeader::new(v, n),
            batch_items: items,
        };
        self.rt
            .block_on(self.c.request(&msg))
            .expect("batch")
            .batch_items
    }
}

fn uid_of(item: &ResponseBatchItem) -> String {
    item.payload
        .as_ref()
        .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
        .and_then(Ttlv::as_text)
        .expect("unique identifier")
        .to_owned()
}

fn uid(u: &str) -> Ttlv {
    Ttlv::text(Tag::UNIQUE_IDENTIFIER, u)
}

fn create_payload(name: &str) -> Vec<Ttlv> {
    let mut set = AttributeSet::default();
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::AES.0),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(256),
    ));
    let mask = CryptographicUsageMask::ENCRYPT | CryptographicUsageMask::DECRYPT;
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_USAGE_MASK,
        Value::Integer(i32::try_from(mask.0).unwrap()),
    ));
    set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
        set.to_ttlv(V, Container::Template),
    ]
}

fn register_secret_payload(name: &str, secret: &[u8]) -> Vec<Ttlv> {
    let obj = Ttlv::structure(
        Tag::SECRET_DATA,
        vec![
            Ttlv::enumeration(Tag::SECRET_DATA_TYPE, 1u32),
            Ttlv::structure(
                Tag::KEY_BLOCK,
                vec![
                    Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, KeyFormatType::OPAQUE),
                    Ttlv::structure(
                        Tag::KEY_VALUE,
                        vec![Ttlv::bytes(Tag::KEY_MATERIAL, secret.to_vec())],
                    ),
                ],
            ),
        ],
    );
    let mut set = AttributeSet::default();
    set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SECRET_DATA),
        set.to_ttlv(V, Container::Template),
        obj,
    ]
}

/// Every byte string in `t` (the key material of a Get response).
fn byte_strings(t: &Ttlv, out: &mut Vec<Vec<u8>>) {
    match &t.value {
        Value::ByteString(b) => out.push(b.clone()),
        Value::Structure(items) => items.iter().for_each(|i| byte_strings(i, out)),
        _ => {}
    }
}

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

// ---- HTTP ------------------------------------------------------------------------------------

/// `GET path` on `addr` (HTTP/1.0): (status, body).
fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect metrics");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// The value of the sample `name` with `labels` in an exposition text (parsed by
/// prometheus-parse).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("metrics parse");
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(h) => h.iter().map(|c| c.count).fold(0.0, f64::max),
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
}

// ---- PostgreSQL -----------------------------------------------------------------------------

fn skip_or_fail(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why} under CI: scripts/test.sh must provide PostgreSQL"
    );
    eprintln!("SKIPPED: {why}; run scripts/test.sh");
}

fn pg_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh")
}

/// A PostgreSQL cluster of this test's own (scripts/pg.sh), removed on drop.
struct Cluster {
    dir: String,
    url: String,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        let out = Command::new("bash")
            .arg(pg_script())
            .arg("start")
            .output()
            .expect("run scripts/pg.sh");
        if !out.status.success() {
            skip_or_fail(&format!(
                "scripts/pg.sh start failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            return None;
        }
        let text = String::from_utf8(out.stdout).unwrap();
        let mut vars = BTreeMap::new();
        for part in text.split([';', '\n']) {
            if let Some((k, v)) = part
                .trim()
                .strip_prefix("export ")
                .and_then(|s| s.split_once('='))
            {
                vars.insert(k.to_owned(), v.to_owned());
            }
        }
        Some(Cluster {
            dir: vars["TRESOR_PG_DIR"].clone(),
            url: vars["TRESOR_TEST_PG_URL"].clone(),
        })
    }

    fn verb(&self, verb: &str) {
        let st = Command::new("bash")
            .arg(pg_script())
            .args([verb, &self.dir])
            .status()
            .expect("run scripts/pg.sh");
        assert!(st.success(), "scripts/pg.sh {verb} failed");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(pg_script())
            .args(["stop", &self.dir])
            .status();
    }
}

// ---- tests ----------------------------------------------------------------------------------

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
    let kc = Kc::new(&certs, "client", server.port, V);
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
    let stranger = Kc::new(&strange, "client", server.port, V);
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

/// `/metrics` parses as Prometheus text and counts the requests made; `/healthz` answers;
/// `/readyz` turns unready when PostgreSQL stops and ready again when it is back.
#[test]
fn metrics_count_requests_and_readyz_follows_postgres() {
    let Some(pg) = Cluster::start() else { return };
    let home = tempfile::tempdir().unwrap();
    let certs = certs(home.path(), "certs");
    let vault = home.path().join("vault");
    let mut init = tresor(home.path());
    init.arg("--vault")
        .arg(&vault)
        .args(["--store", &pg.url, "init", "--user", "server@test"]);
    run_ok(init);
    let mut args = serve_args(&certs);
    args.extend(["--metrics-listen".into(), "127.0.0.1:0".into()]);
    let server = Server::spawn(
        home.path(),
        &["--vault", vault.to_str().unwrap(), "--store", &pg.url],
        &args,
        &[],
    );
    let maddr = server.metrics.clone().expect("metrics address");
    let kc = Kc::new(&certs, "client", server.port, V);
    let mut uids = Vec::new();
    for i in 0..5 {
        uids.push(uid_of(
            &kc.ok(Operation::CREATE, create_payload(&format!("m{i}"))),
        ));
    }
    for u in &uids[..3] {
        kc.ok(Operation::GET_ATTRIBUTES, vec![uid(u)]);
    }
    // A failure: Get of an object that does not exist.
    let missing = kc
        .call(Operation::GET, vec![uid("no-such-object")])
        .unwrap();
    assert_eq!(missing.result_status, ResultStatus::OPERATION_FAILED);

    let (status, text) = http_get(&maddr, "/metrics");
    assert_eq!(status, 200, "{text}");
    let count = |op, result| {
        sample(
            &text,
            "tresor_kmip_requests_total",
            &[("operation", op), ("result", result)],
        )
    };
    assert_eq!(count("Create", "Success"), Some(5.0), "{text}");
    assert_eq!(count("GetAttributes", "Success"), Some(3.0), "{text}");
    assert_eq!(count("Get", "ItemNotFound"), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "tresor_kmip_open_connections", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "tresor_kmip_request_duration_seconds_count",
            &[("operation", "Create"), ("result", "Success")]
        ),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "tresor_store_commit_duration_seconds_count", &[]),
        Some(5.0),
        "{text}"
    );
    assert!(
        sample(&text, "tresor_audit_chain_length", &[]).unwrap() >= 5.0,
        "{text}"
    );
    assert_eq!(http_get(&maddr, "/healthz").0, 200);
    let (s, body) = http_get(&maddr, "/readyz");
    assert_eq!(s, 200, "{body}");

    // PostgreSQL stops: not ready (the process still lives); back: ready again.
    pg.verb("stop-keep");
    let t = Instant::now();
    loop {
        let (s, body) = http_get(&maddr, "/readyz");
        if s == 503 {
            assert!(body.contains("store"), "{body}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "still ready: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(http_get(&maddr, "/healthz").0, 200);
    pg.verb("start-existing");
    let t = Instant::now();
    loop {
        let (s, body) = http_get(&maddr, "/readyz");
        if s == 200 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "not ready again: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(server);
}

/// `tresor config check` names the line of a bad key or value; a good file passes; `kmip
/// serve --config` refuses the bad one the same way and serves from the good one (with an
/// environment variable over the file).
#[test]
fn config_file_errors_name_the_line() {
    let home = tempfile::tempdir().unwrap();
    let certs = certs(home.path(), "certs");
    let bad = home.path().join("bad.toml");
    std::fs::write(
        &bad,
        "# tresor KMIP server\n[server]\nlisten = \"127.0.0.1:0\"\nmax_conections = 5\n",
    )
    .unwrap();
    let out = tresor(home.path())
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("max_conections"), "{err}");
    assert!(err.contains("bad.toml"), "{err}");
    let out = tresor(home.path())
        .args(["kmip", "serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 4"));
    // A bad value.
    std::fs::write(&bad, "[log]\nformat = \"json\"\nlevel = \"info,[[\"\n").unwrap();
    let out = tresor(home.path())
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3"));

    let good = certs.join("tresor.toml");
    std::fs::write(
        &good,
        "[server]\nlisten = \"127.0.0.1:0\"\ncert = \"server.crt\"\nkey = \"server.key\"\n\
         ca = \"ca.crt\"\n\n[limits]\nmax_batch_items = 2\n\n[log]\nformat = \"json\"\nlevel = \"info\"\n",
    )
    .unwrap();
    let out = tresor(home.path())
        .args(["config", "check", "--json"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["kind"], "tresor.toml");
    // Served from the file: JSON logs, the file's level (plain `info` turns the access lines
    // on), the file's batch limit, except where an environment variable says otherwise.
    let vault = home.path().join("vault");
    let server = Server::spawn(
        home.path(),
        &["--vault", vault.to_str().unwrap()],
        &["--config".into(), good.display().to_string()],
        &[("TRESOR_KMIP_MAX_BATCH_ITEMS", "3".into())],
    );
    let kc = Kc::new(&certs, "client", server.port, V2);
    let q = || RequestBatchItem::new(Operation::QUERY, vec![]);
    let r = kc.batch(vec![q(), q(), q()], V2);
    assert!(r.iter().all(|i| i.result_status == ResultStatus::SUCCESS));
    let r = kc.batch(vec![q(), q(), q(), q()], V2);
    assert!(r.iter().all(|i| i.result_status != ResultStatus::SUCCESS));
    server.wait_for("\"target\":\"tresor::kmip::access\"");
}

/// SIGHUP with new certificate files: a new connection gets the new certificate (and CA),
/// an open connection keeps working, the new limits apply; a bad new file is logged and the
/// old configuration kept.
#[test]
fn sighup_reloads_certificates_and_limits_without_dropping_connections() {
    let home = tempfile::tempdir().unwrap();
    let a = certs(home.path(), "certs-a");
    let b = certs(home.path(), "certs-b");
    let live = home.path().join("live");
    std::fs::create_dir(&live).unwrap();
    let copy = |from: &Path| {
        for f in ["server.crt", "server.key", "ca.crt"] {
            std::fs::copy(from.join(f), live.join(f)).unwrap();
        }
    };
    copy(&a);
    let conf = live.join("tresor.toml");
    let write_conf = |max: u32| {
        std::fs::write(
            &conf,
            format!(
                "[server]\ncert = \"server.crt\"\nkey = \"server.key\"\nca = \"ca.crt\"\n\
                 [limits]\nmax_batch_items = {max}\n"
            ),
        )
        .unwrap();
    };
    write_conf(64);
    let vault = home.path().join("vault");
    let server = Server::spawn(
        home.path(),
        &["--vault", vault.to_str().unwrap()],
        &["--config".into(), conf.display().to_string()],
        &[],
    );
    let old = Kc::new(&a, "client", server.port, V2);
    let q = || RequestBatchItem::new(Operation::QUERY, vec![]);
    assert!(
        old.batch(vec![q(), q(), q()], V2)
            .iter()
            .all(|i| i.result_status == ResultStatus::SUCCESS)
    );
    // Before the reload, CA B's client is a stranger.
    assert!(
        Kc::new(&b, "client", server.port, V2)
            .call(Operation::QUERY, vec![])
            .is_err()
    );

    copy(&b);
    write_conf(2);
    server.signal("-HUP");
    server.wait_for("reloaded the certificates and CRL");
    // The open connection goes on (a reconnect would fail: its CA is no longer the server's)
    // and the new limit applies to it.
    old.ok(Operation::QUERY, vec![]);
    let r = old.batch(vec![q(), q(), q()], V2);
    assert!(
        r.iter().all(|i| i.result_status != ResultStatus::SUCCESS),
        "the new max_batch_items = 2 applies: {r:?}"
    );
    old.ok(Operation::QUERY, vec![]);
    // A new connection gets the new certificate: CA B's client is served, CA A's is not.
    Kc::new(&b, "client", server.port, V2).ok(Operation::QUERY, vec![]);
    assert!(
        Kc::new(&a, "client", server.port, V2)
            .call(Operation::QUERY, vec![])
            .is_err()
    );

    // A bad new file: logged, the old (B) configuration kept.
    std::fs::write(live.join("server.crt"), "not a certificate\n").unwrap();
    server.signal("-HUP");
    server.wait_for("reload failed");
    Kc::new(&b, "client", server.port, V2).ok(Operation::QUERY, vec![]);
    old.ok(Operation::QUERY, vec![]);
}

fn key_pair(bits: i32) -> RequestBatchItem {
    let mut set = AttributeSet::default();
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::RSA.0),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(bits),
    ));
    RequestBatchItem::new(
        Operation::CREATE_KEY_PAIR,
        vec![set.to_ttlv(V2, Container::Common)],
    )
}

/// NOTIFY_SOCKET receives READY=1 once the server listens; SIGTERM during a long batch: no
/// new connection is taken, the batch finishes and is answered, STOPPING=1 is sent and the
/// process exits 0.
#[test]
fn sigterm_drains_an_in_flight_batch_and_sd_notify_is_told() {
    let home = tempfile::tempdir().unwrap();
    let certs = certs(home.path(), "certs");
    let sock_path = home.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut args = serve_args(&certs);
    args.extend([
        "--max-key-pairs".into(),
        "16".into(),
        "--drain-timeout".into(),
        "120".into(),
    ]);
    let vault = home.path().join("vault");
    let mut server = Server::spawn(
        home.path(),
        &["--vault", vault.to_str().unwrap()],
        &args,
        &[("NOTIFY_SOCKET", sock_path.display().to_string())],
    );
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("a notification");
    let first = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(first.lines().any(|l| l == "READY=1"), "{first}");

    let port = server.port;
    let dir = certs.clone();
    let batch = std::thread::spawn(move || {
        let kc = Kc::new(&dir, "client", port, V2);
        kc.ok(Operation::QUERY, vec![]);
        let sent = Instant::now();
        let items = kc.batch((0..12).map(|_| key_pair(4096)).collect(), V2);
        (sent, Instant::now(), items)
    });
    // Let the batch reach the server, then ask the server to stop.
    std::thread::sleep(Duration::from_millis(700));
    let term = Instant::now();
    server.signal("-TERM");
    server.wait_for("draining");
    // No new connection is taken while it drains.
    let refused = Kc::new(&certs, "client", port, V2).call(Operation::QUERY, vec![]);
    assert!(
        refused.is_err(),
        "a new connection was served while draining"
    );
    let (sent, answered, items) = batch.join().unwrap();
    assert!(sent < term, "the batch was sent before SIGTERM");
    assert!(
        answered > term,
        "the batch was answered before SIGTERM: make it longer"
    );
    assert_eq!(items.len(), 12);
    for i in &items {
        assert_eq!(i.result_status, ResultStatus::SUCCESS, "{i:?}");
    }
    let st = server.wait_exit(120);
    assert!(st.success(), "{st:?}: {}", server.log());
    let mut stopping = false;
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    while let Ok(n) = sock.recv(&mut buf) {
        if String::from_utf8_lossy(&buf[..n])
            .lines()
            .any(|l| l == "STOPPING=1")
        {
            stopping = true;
            break;
        }
    }
    assert!(stopping, "no STOPPING=1");
}

/// The HTTPS/JSON door's connection line carries the same fields as the binary door's:
/// peer, identity, TLS version and suite (and `door=https`).
#[test]
fn https_door_connection_lines_carry_tls_version_suite_and_identity() {
    let home = tempfile::tempdir().unwrap();
    let certs = certs(home.path(), "certs");
    let mut args = serve_args(&certs);
    args.extend(["--log-format".into(), "json".into()]);
    args.extend(["--http-listen".into(), "127.0.0.1:0".into()]);
    let vault = home.path().join("vault");
    let mut server = Server::spawn(
        home.path(),
        &["--vault", vault.to_str().unwrap()],
        &args,
        &[("TRESOR_LOG", "info".into())],
    );
    let https = server
        .log()
        .lines()
        .find_map(|l| {
            l.strip_prefix("kmip: HTTPS/JSON (POST /kmip/2_1) listening on ")
                .map(|a| a.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no HTTPS address in the log:\n{}", server.log()));
    // One KMIP JSON request over mutual TLS with the client certificate.
    let tls = ClientConfig::new(
        "127.0.0.1",
        certs.join("client.crt"),
        certs.join("client.key"),
        certs.join("ca.crt"),
    )
    .tls_config()
    .expect("client TLS configuration");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(tls), name).unwrap();
    let tcp = std::net::TcpStream::connect(&https).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let body = r#"{"tag":"Query","value":[]}"#;
    write!(
        s,
        "POST /kmip/2_1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.wait_for("\"door\":\"https\"");
    server.signal("-TERM");
    assert!(server.wait_exit(60).success());
    let log = server.log();
    let line = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"))
        })
        .find(|v| {
            v["target"] == "tresor::kmip::conn"
                && v["message"] == "connection"
                && v["door"] == "https"
        })
        .unwrap_or_else(|| panic!("no HTTPS connection line:\n{log}"));
    assert_eq!(line["identity"], "client", "{line}");
    assert!(
        line["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{line}"
    );
    assert!(
        line["tls_version"].as_str().unwrap().starts_with("TLSv1_"),
        "{line}"
    );
    assert!(
        line["tls_suite"].as_str().unwrap().starts_with("TLS"),
        "{line}"
    );
}

/// Reads one HTTP/1.1 response (headers, then `Content-Length` bytes) from `s`, leaving the
/// connection open.
fn read_http_response(s: &mut impl Read) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).expect("read response head"), 1, "eof");
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("content-length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("read response body");
    head + &String::from_utf8_lossy(&body)
}

/// The HTTPS/JSON door is counted like the binary door: an open HTTPS connection shows in
/// `tresor_kmip_open_connections` (and in `tresor_kmip_connections_total`) while it is open
/// and leaves it when it closes, with a "connection closed" line (door=https, the identity and
/// the number of requests it carried); a refused handshake on it is counted by reason.
#[test]
fn https_door_is_counted_in_open_connections_and_logs_its_close() {
    let home = tempfile::tempdir().unwrap();
    let certs = certs(home.path(), "certs");
    let mut args = serve_args(&certs);
    args.extend(["--log-format".into(), "json".into()]);
    args.extend(["--http-listen".into(), "127.0.0.1:0".into()]);
    args.extend(["--metrics-listen".into(), "127.0.0.1:0".into()]);
    let vault = home.path().join("vault");
    let mut server = Server::spawn(
        home.path(),
        &["--vault", vault.to_str().unwrap()],
        &args,
        &[("TRESOR_LOG", "info,tresor::kmip::conn=debug".into())],
    );
    let maddr = server.metrics.clone().expect("metrics address");
    let https = server
        .log()
        .lines()
        .find_map(|l| {
            l.strip_prefix("kmip: HTTPS/JSON (POST /kmip/2_1) listening on ")
                .map(|a| a.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no HTTPS address in the log:\n{}", server.log()));
    let gauge = || {
        let (status, text) = http_get(&maddr, "/metrics");
        assert_eq!(status, 200, "{text}");
        (
            sample(&text, "tresor_kmip_open_connections", &[]).unwrap_or(0.0),
            sample(&text, "tresor_kmip_connections_total", &[]).unwrap_or(0.0),
            sample(
                &text,
                "tresor_kmip_handshake_failures_total",
                &[("reason", "closed-during-handshake")],
            )
            .unwrap_or(0.0),
        )
    };
    // Waits (up to 30 s) until `want` holds for the metrics.
    let until = |what: &str, want: &dyn Fn((f64, f64, f64)) -> bool| {
        let t = Instant::now();
        loop {
            let g = gauge();
            if want(g) {
                return g;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{what}: metrics stayed at (open, total, refused) = {g:?}; log:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert_eq!(gauge(), (0.0, 0.0, 0.0), "nothing connected yet");

    let tls = ClientConfig::new(
        "127.0.0.1",
        certs.join("client.crt"),
        certs.join("client.key"),
        certs.join("ca.crt"),
    )
    .tls_config()
    .expect("client TLS configuration");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(tls), name).unwrap();
    let tcp = std::net::TcpStream::connect(&https).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let body = r#"{"tag":"Query","value":[]}"#;
    for _ in 0..2 {
        // Two requests on one kept-alive connection.
        write!(
            s,
            "POST /kmip/2_1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        s.flush().unwrap();
        let answer = read_http_response(&mut s);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let open = until("the HTTPS connection is open", &|g| g.0 == 1.0);
    assert_eq!(open.1, 1.0, "one connection accepted in all: {open:?}");

    // Closing it takes it out of the gauge and logs its close.
    s.conn.send_close_notify();
    let _ = s.flush();
    drop(s);
    until("the HTTPS connection closed", &|g| g.0 == 0.0);
    server.wait_for("\"message\":\"connection closed\"");

    // A client that hangs up during the handshake is a refused handshake, by reason.
    drop(std::net::TcpStream::connect(&https).unwrap());
    let g = until("the refused handshake is counted", &|g| g.2 == 1.0);
    assert_eq!((g.0, g.1), (0.0, 2.0), "{g:?}");

    server.signal("-TERM");
    assert!(server.wait_exit(60).success());
    let log = server.log();
    let closed: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"))
        })
        .filter(|v| v["target"] == "tresor::kmip::conn" && v["message"] == "connection closed")
        .collect();
    assert_eq!(closed.len(), 1, "one close line:\n{log}");
    let line = &closed[0];
    assert_eq!(line["door"], "https", "{line}");
    assert_eq!(line["identity"], "client", "{line}");
    assert_eq!(line["requests"], 2, "{line}");
    assert!(
        line["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{line}"
    );
}
