//! `tresor s3 …` (s3keyring's commands) against moto, and `import-s3keyring` of a bucket
//! written by s3keyring 0.3.0 itself.
//!
//! Needs `TRESOR_TEST_S3_ENDPOINT` (tests/peers/moto/start.sh) and `TRESOR_S3KEYRING`
//! (tests/peers/moto/setup.sh); both are required under `CI=true`.
#![cfg(feature = "s3")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn need(var: &str, how: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{var} is not set under CI: scripts/test.sh must run {how}"
            );
            eprintln!("SKIPPED: {var} not set; run {how}");
            None
        }
    }
}

/// moto's S3 + KMS, seen from a test.
struct Moto {
    endpoint: String,
}

/// moto checks that a request names credentials, not its signature: plain curl requests
/// stand for "any S3 client" with this header.
const S3_AUTH: &str = "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";
const KMS_AUTH: &str = "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00";

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Moto {
    fn get() -> Option<Moto> {
        need("TRESOR_TEST_S3_ENDPOINT", "tests/peers/moto/start.sh")
            .map(|endpoint| Moto { endpoint })
    }

    fn curl(&self, args: &[&str]) -> Output {
        Command::new("curl").args(args).output().expect("run curl")
    }

    fn bucket(&self, tag: &str) -> String {
        let name = format!(
            "s3c-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let o = self.curl(&["-sf", "-X", "PUT", &format!("{}/{name}", self.endpoint)]);
        assert!(o.status.success(), "create bucket {name}: {o:?}");
        name
    }

    fn kms_key(&self) -> String {
        let o = self.curl(&[
            "-sf",
            "-X",
            "POST",
            &format!("{}/", self.endpoint),
            "-H",
            "X-Amz-Target: TrentService.CreateKey",
            "-H",
            "Content-Type: application/x-amz-json-1.1",
            "-H",
            KMS_AUTH,
            "-d",
            "{}",
        ]);
        assert!(o.status.success(), "CreateKey: {o:?}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
    }

    /// Every key of `bucket` (plain ListObjectsV2).
    fn keys(&self, bucket: &str) -> Vec<String> {
        let o = self.curl(&[
            "-sf",
            "-H",
            S3_AUTH,
            &format!("{}/{bucket}?list-type=2", self.endpoint),
        ]);
        assert!(o.status.success(), "list {bucket}: {o:?}");
        let text = String::from_utf8(o.stdout).unwrap();
        text.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_owned()))
            .collect()
    }

    /// The raw body of `bucket/key` (no tresor code involved).
    fn raw(&self, bucket: &str, key: &str) -> Vec<u8> {
        let path: String = key
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let o = self.curl(&[
            "-sf",
            "-H",
            S3_AUTH,
            &format!("{}/{bucket}/{path}", self.endpoint),
        ]);
        assert!(o.status.success(), "GET {bucket}/{key}: {o:?}");
        o.stdout
    }
}

/// A user with their own HOME and AWS settings pointing at moto.
struct User {
    home: tempfile::TempDir,
    endpoint: String,
}

impl User {
    fn new(m: &Moto) -> User {
        User {
            home: tempfile::tempdir().unwrap(),
            endpoint: m.endpoint.clone(),
        }
    }

    fn cmd(&self, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(program);
        c.args(args)
            .env_clear()
            .current_dir(self.home.path())
            .env("HOME", self.home.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    fn tresor(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.cmd(&tresor_bin(), args, env)
            .stdin(Stdio::null())
            .output()
            .expect("run tresor")
    }

    fn tresor_in(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
        use std::io::Write as _;
        let mut child = self
            .cmd(&tresor_bin(), args, env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tresor");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let o = self.tresor(args, env);
        assert!(
            o.status.success(),
            "tresor {args:?} failed ({:?}): {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    fn ini(&self) -> PathBuf {
        self.home.path().join(".s3keyring.ini")
    }

    fn s3keyring(&self, bin: &str, args: &[&str]) -> String {
        let o = self
            .cmd(Path::new(bin), args, &[])
            .output()
            .expect("run s3keyring");
        assert!(
            o.status.success(),
            "s3keyring {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
}

fn tresor_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin!("tresor").to_path_buf()
}

fn err_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn configure_writes_the_profile_file_and_commands_read_it() {
    let Some(m) = Moto::get() else { return };
    let (bucket, key) = (m.bucket("conf"), m.kms_key());
    let u = User::new(&m);
    // --no-ask: from s3keyring's variables, like `s3keyring configure --no-ask`.
    u.ok(
        &["s3", "configure", "--no-ask"],
        &[
            ("S3KEYRING_BUCKET", &bucket),
            ("S3KEYRING_KMS_KEY_ID", &key),
            ("S3KEYRING_NAMESPACE", "team"),
        ],
    );
    let text = std::fs::read_to_string(u.ini()).unwrap();
    assert!(text.contains("[profile:default]"), "{text}");
    assert!(text.contains(&format!("bucket = {bucket}")), "{text}");
    assert!(text.contains(&format!("kms_key_id = {key}")), "{text}");
    assert!(text.contains("namespace = team"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(u.ini()).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // No variables now: everything comes from the file.
    u.ok(&["s3", "set", "github", "bob", "hunter2"], &[]);
    assert_eq!(u.ok(&["s3", "get", "github", "bob"], &[]), "hunter2\n");
    assert_eq!(
        u.ok(&["s3", "get_password", "github", "bob"], &[]),
        "hunter2\n"
    );

    // --ask: one answer per setting, an empty answer keeps the value shown.
    let o = u.tresor_in(
        &["s3", "--profile", "admins", "configure"],
        &[],
        &format!("\n{bucket}\n{key}\nadmins\nno\n"),
    );
    assert!(o.status.success(), "{}", err_of(&o));
    assert!(
        err_of(&o).contains("Aws Profile [default]: "),
        "{}",
        err_of(&o)
    );
    let text = std::fs::read_to_string(u.ini()).unwrap();
    assert!(
        text.contains("[profile:default]") && text.contains("[profile:admins]"),
        "{text}"
    );
    assert!(text.contains("namespace = admins"), "{text}");
    u.ok(
        &[
            "s3",
            "--profile",
            "admins",
            "set",
            "github",
            "bob",
            "root-pw",
        ],
        &[],
    );
    assert_eq!(
        u.ok(&["s3", "--profile", "admins", "get", "github", "bob"], &[]),
        "root-pw\n"
    );
    assert_eq!(
        u.ok(&["s3", "get", "github", "bob"], &[]),
        "hunter2\n",
        "namespaces are apart"
    );

    // --ini: another file; configure refuses to write a profile without a KMS key.
    let other = u.home.path().join("elsewhere.ini");
    let o = u.tresor(
        &[
            "s3",
            "--ini",
            other.to_str().unwrap(),
            "configure",
            "--no-ask",
        ],
        &[("S3KEYRING_BUCKET", &bucket)],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err_of(&o));
    assert!(err_of(&o).contains("has no kms_key_id"), "{}", err_of(&o));
    assert!(
        err_of(&o).contains("S3KEYRING_KMS_KEY_ID"),
        "{}",
        err_of(&o)
    );
    assert!(!other.exists(), "nothing half-written");
}

#[test]
fn set_get_delete_list_round_trip_without_collisions_or_plaintext() {
    let Some(m) = Moto::get() else { return };
    let (bucket, key) = (m.bucket("rt"), m.kms_key());
    let u = User::new(&m);
    let env = [
        ("S3KEYRING_BUCKET", bucket.as_str()),
        ("S3KEYRING_KMS_KEY_ID", key.as_str()),
    ];
    // Two pairs s3keyring stores at one object key (a/b/c/secret.b64).
    u.ok(&["s3", "set", "a/b", "c", "first-Secret-1"], &env);
    u.ok(&["s3", "set", "a", "b/c", "second-Secret-2"], &env);
    let o = u.tresor_in(
        &["s3", "set", "svc.x", "us er", "-"],
        &env,
        "third Secret: 3\n",
    );
    assert!(o.status.success(), "{}", err_of(&o));
    assert_eq!(u.ok(&["s3", "get", "a/b", "c"], &env), "first-Secret-1\n");
    assert_eq!(u.ok(&["s3", "get", "a", "b/c"], &env), "second-Secret-2\n");
    assert_eq!(
        u.ok(&["s3", "get", "svc.x", "us er"], &env),
        "third Secret: 3\n"
    );
    let j: serde_json::Value =
        serde_json::from_str(&u.ok(&["s3", "get", "svc.x", "us er", "--json"], &env)).unwrap();
    assert_eq!(j["value"], "third Secret: 3");
    assert_eq!(j["name"], "svc.x:default:us%20er");
    // A new version, not a second secret.
    u.ok(&["s3", "set", "a", "b/c", "second-Secret-2b"], &env);
    assert_eq!(u.ok(&["s3", "get", "a", "b/c"], &env), "second-Secret-2b\n");

    assert_eq!(u.ok(&["s3", "list", "a"], &env), "b/c\n");
    assert_eq!(u.ok(&["s3", "list-keys", "a/b"], &env), "c\n");
    assert_eq!(
        u.ok(&["s3", "list"], &env),
        "a\tb/c\na/b\tc\nsvc.x\tus er\n"
    );
    let l: serde_json::Value =
        serde_json::from_str(&u.ok(&["s3", "list", "--json"], &env)).unwrap();
    assert_eq!(l.as_array().unwrap().len(), 3);
    assert_eq!(l[2]["service"], "svc.x");

    // The vault door reads the same secrets.
    let store = format!("s3://{bucket}/.tresor");
    let venv = [
        ("TRESOR_STORE", store.as_str()),
        ("TRESOR_KMS_KEY_ID", key.as_str()),
    ];
    assert_eq!(u.ok(&["get", "a/b:default:c"], &venv), "first-Secret-1");
    let listed = u.ok(&["list", ":default:", "--json"], &venv);
    assert!(
        listed.contains("svc.x") && listed.contains("us%20er"),
        "{listed}"
    );

    // Raw bodies hold no secret bytes (nor their base64).
    let keys = m.keys(&bucket);
    assert!(keys.iter().all(|k| k.starts_with(".tresor/")), "{keys:?}");
    assert!(
        keys.iter().any(|k| k.starts_with(".tresor/objects/")),
        "{keys:?}"
    );
    for k in &keys {
        let body = m.raw(&bucket, k);
        for s in ["first-Secret-1", "second-Secret-2", "third Secret: 3"] {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(s);
            assert!(!contains(&body, s.as_bytes()), "{k} holds '{s}'");
            assert!(
                !contains(&body, b64.as_bytes()),
                "{k} holds base64 of '{s}'"
            );
        }
    }

    u.ok(&["s3", "delete", "a/b", "c"], &env);
    let o = u.tresor(&["s3", "get", "a/b", "c"], &env);
    assert_eq!(o.status.code(), Some(1), "{}", err_of(&o));
    assert!(
        err_of(&o).contains("secret 'c' of service 'a/b' (namespace 'default') not found"),
        "{}",
        err_of(&o)
    );
    let o = u.tresor(&["s3", "delete", "a/b", "c"], &env);
    assert_eq!(o.status.code(), Some(1), "{}", err_of(&o));
    assert_eq!(u.ok(&["s3", "get", "a", "b/c"], &env), "second-Secret-2b\n");
    assert_eq!(u.ok(&["s3", "list"], &env), "a\tb/c\nsvc.x\tus er\n");
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn environment_overrides_the_profile_file() {
    let Some(m) = Moto::get() else { return };
    let (b1, b2, key) = (m.bucket("envfile"), m.bucket("envvar"), m.kms_key());
    let u = User::new(&m);
    std::fs::write(
        u.ini(),
        format!("[profile:default]\naws_profile = default\nbucket = {b1}\nkms_key_id = {key}\nnamespace = filens\n"),
    )
    .unwrap();
    u.ok(&["s3", "set", "svc", "u", "in-file-bucket"], &[]);
    // S3KEYRING_BUCKET beats the file; s3keyring's README variable KEYRING_NAMESPACE too.
    u.ok(
        &["s3", "set", "svc", "u", "in-env-bucket"],
        &[("S3KEYRING_BUCKET", &b2), ("KEYRING_NAMESPACE", "envns")],
    );
    assert_eq!(u.ok(&["s3", "get", "svc", "u"], &[]), "in-file-bucket\n");
    assert_eq!(
        u.ok(
            &["s3", "get", "svc", "u"],
            &[("KEYRING_BUCKET", &b2), ("S3KEYRING_NAMESPACE", "envns")]
        ),
        "in-env-bucket\n"
    );
    assert!(
        m.keys(&b2)
            .iter()
            .any(|k| k.starts_with(".tresor/names/svc/envns/"))
    );
    assert!(
        m.keys(&b1)
            .iter()
            .any(|k| k.starts_with(".tresor/names/svc/filens/"))
    );
    // S3KEYRING_* beats the README's names.
    let o = u.tresor(
        &["s3", "get", "svc", "u"],
        &[
            ("KEYRING_BUCKET", &b2),
            ("S3KEYRING_BUCKET", &b1),
            ("S3KEYRING_NAMESPACE", "filens"),
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "in-file-bucket\n",
        "{}",
        err_of(&o)
    );
}

#[test]
fn bad_input_is_a_clear_error_and_changes_nothing() {
    let Some(m) = Moto::get() else { return };
    let (bucket, key) = (m.bucket("bad"), m.kms_key());
    let u = User::new(&m);
    std::fs::write(
        u.ini(),
        format!("[profile:default]\nbucket = {bucket}\nkms_key_id = {key}\n\n[profile:nokms]\nbucket = {bucket}\nkms_key_id = \n"),
    )
    .unwrap();
    u.ok(&["s3", "set", "svc", "u", "v1"], &[]);
    let before = m.keys(&bucket);

    let o = u.tresor(&["s3", "--profile", "nope", "get", "svc", "u"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err_of(&o).contains("s3keyring profile 'nope' not found in"),
        "{}",
        err_of(&o)
    );
    assert!(
        err_of(&o).contains("(profiles: default, nokms)"),
        "{}",
        err_of(&o)
    );
    assert!(err_of(&o).contains("hint: "), "{}", err_of(&o));

    let o = u.tresor(&["s3", "--profile", "nokms", "set", "svc", "u", "v2"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err_of(&o).contains("s3keyring profile 'nokms' has no kms_key_id"),
        "{}",
        err_of(&o)
    );

    let o = u.tresor(
        &["s3", "set", "svc", "u", "v3"],
        &[("S3KEYRING_BUCKET", "s3c-no-such-bucket-q")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err_of(&o).contains("S3 bucket 's3c-no-such-bucket-q' does not exist"),
        "{}",
        err_of(&o)
    );

    // moto does not model IAM denials: a key alias that does not exist stands in for one.
    let o = u.tresor(
        &["s3", "set", "svc", "u", "v4"],
        &[("S3KEYRING_KMS_KEY_ID", "alias/s3c-missing")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err_of(&o).contains("alias/s3c-missing"), "{}", err_of(&o));
    let o = u.tresor(
        &["s3", "import-s3keyring"],
        &[("S3KEYRING_KMS_KEY_ID", "alias/s3c-missing")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err_of(&o));

    let o = u.tresor(&["s3", "--key-cache", "forever", "get", "svc", "u"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err_of(&o).contains("--key-cache / TRESOR_S3_KEY_CACHE 'forever'"),
        "{}",
        err_of(&o)
    );

    let bad_ini = u.home.path().join("bad.ini");
    std::fs::write(&bad_ini, "[profile:default]\nthis line is junk\n").unwrap();
    let o = u.tresor(
        &["s3", "--ini", bad_ini.to_str().unwrap(), "get", "svc", "u"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err_of(&o).contains("bad.ini: line 2"), "{}", err_of(&o));

    assert_eq!(
        m.keys(&bucket),
        before,
        "a failed command wrote to the bucket"
    );
    assert_eq!(u.ok(&["s3", "get", "svc", "u"], &[]), "v1\n");
    // With the kernel key cache, twice (the second run reads the keys from the keyring).
    for _ in 0..2 {
        assert_eq!(
            u.ok(&["s3", "get", "svc", "u"], &[("TRESOR_S3_KEY_CACHE", "1m")]),
            "v1\n"
        );
    }
}

#[test]
fn a_bucket_written_by_s3keyring_is_imported() {
    let Some(m) = Moto::get() else { return };
    let Some(s3k) = need("TRESOR_S3KEYRING", "tests/peers/moto/setup.sh") else {
        return;
    };
    let (bucket, key) = (m.bucket("imp"), m.kms_key());
    let u = User::new(&m);
    // s3keyring 0.3.0 writes its template file and our default profile.
    let vars = [
        ("S3KEYRING_BUCKET", bucket.as_str()),
        ("S3KEYRING_KMS_KEY_ID", key.as_str()),
        ("S3KEYRING_NAMESPACE", "legacy"),
    ];
    let o = u
        .cmd(Path::new(&s3k), &["configure", "--no-ask"], &vars)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err_of(&o));
    let pairs = [
        ("github", "bob@example.com", "gh-Token-1"),
        ("svc.x", "us er", "p@ss wörd 2"),
        ("db", "admin", "line1 Secret 3"),
    ];
    for (s, n, v) in pairs {
        u.s3keyring(&s3k, &["set", s, n, v]);
    }
    assert_eq!(
        u.s3keyring(&s3k, &["get", "svc.x", "us er"]),
        "p@ss wörd 2\n"
    );
    let originals: Vec<String> = m.keys(&bucket);
    assert!(
        originals.contains(&"legacy/svc_4602Xx/us_3202Xer/secret.b64".to_owned()),
        "{originals:?}"
    );

    // tresor reads s3keyring's own profile file (no variables).
    let r: serde_json::Value =
        serde_json::from_str(&u.ok(&["s3", "import-s3keyring", "--json"], &[])).unwrap();
    assert_eq!(
        (r["found"].as_u64(), r["added"].as_u64()),
        (Some(3), Some(3)),
        "{r}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&u.ok(&["s3", "import-s3keyring", "--json"], &[])).unwrap();
    assert_eq!(
        (r["added"].as_u64(), r["unchanged"].as_u64()),
        (Some(0), Some(3)),
        "idempotent: {r}"
    );

    let store = format!("s3://{bucket}/.tresor");
    let venv = [
        ("TRESOR_STORE", store.as_str()),
        ("TRESOR_KMS_KEY_ID", key.as_str()),
    ];
    for (s, n, v) in pairs {
        assert_eq!(u.ok(&["s3", "get", s, n], &[]), format!("{v}\n"));
    }
    assert_eq!(
        u.ok(&["get", "github:legacy:bob@example.com"], &venv),
        "gh-Token-1"
    );
    assert_eq!(u.ok(&["get", "svc.x:legacy:us%20er"], &venv), "p@ss wörd 2");

    // A value changed in tresor since is kept unless --update.
    u.ok(&["s3", "set", "db", "admin", "rotated"], &[]);
    let r: serde_json::Value =
        serde_json::from_str(&u.ok(&["s3", "import-s3keyring", "--json"], &[])).unwrap();
    assert_eq!(r["kept"], serde_json::json!(["db:legacy:admin"]), "{r}");
    assert_eq!(u.ok(&["s3", "get", "db", "admin"], &[]), "rotated\n");

    // The originals stay until asked; then each goes once its copy reads back.
    assert!(originals.iter().all(|k| m.keys(&bucket).contains(k)));
    let o = u.tresor(
        &["s3", "import-s3keyring", "--delete-originals", "--update"],
        &[],
    );
    assert!(o.status.success(), "{}", err_of(&o));
    assert!(
        err_of(&o).contains("3 original(s) deleted"),
        "{}",
        err_of(&o)
    );
    let left = m.keys(&bucket);
    assert!(left.iter().all(|k| k.starts_with(".tresor/")), "{left:?}");
    assert_eq!(u.ok(&["s3", "get", "db", "admin"], &[]), "line1 Secret 3\n");
    assert_eq!(
        u.s3keyring(&s3k, &["get", "github", "bob@example.com"])
            .trim(),
        "",
        "s3keyring no longer sees it"
    );
    for k in &left {
        let body = m.raw(&bucket, k);
        for (_, _, v) in pairs {
            assert!(!contains(&body, v.as_bytes()), "{k} holds '{v}'");
        }
    }
}
