//! Shared helpers for the PyKMIP interop and security tests: locating the PyKMIP venv,
//! starting a real `pykmip-server`, and building KMIP request payloads for
//! [`KmipClient::call`].
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{
    BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, HashingAlgorithm, NameType,
    ObjectType, Operation, PaddingMethod, ResultStatus, SecretDataType,
};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::payload::register::SecretData;
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};
use tresor_testkit::{TestServer, cli};

/// The venv python from `TRESOR_PYKMIP_PY`, or `None` (with a loud notice) when unset.
///
/// # Panics
/// When unset and `CI=true`: interop must not be skipped silently in CI.
pub fn pykmip_python() -> Option<PathBuf> {
    match std::env::var_os("TRESOR_PYKMIP_PY") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            assert!(
                p.exists(),
                "TRESOR_PYKMIP_PY={} does not exist",
                p.display()
            );
            Some(p)
        }
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "TRESOR_PYKMIP_PY is not set and CI=true: run tests/peers/pykmip/setup.sh \
                     and export what it prints"
                );
            }
            // Written to the real stderr, not eprintln!, so libtest does not capture it.
            let _ = writeln!(
                std::io::stderr(),
                "\n========================================================================\n\
                 SKIPPED: TRESOR_PYKMIP_PY is not set, PyKMIP interop NOT tested.\n\
                 Run `eval $(tests/peers/pykmip/setup.sh)` to enable it.\n\
                 ========================================================================\n"
            );
            None
        }
    }
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    l.local_addr().expect("local address").port()
}

/// Waits until something accepts TCP connections on `port`, or the child exits.
pub fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running `pykmip-server` with its own certificates, config, policy directory and
/// database in a temporary directory; killed on drop.
pub struct PyKmipServer {
    /// The temporary directory (certs in `certs/`).
    pub dir: tempfile::TempDir,
    /// The port it listens on.
    pub port: u16,
    child: Child,
}

impl PyKmipServer {
    /// Starts a server from the venv of `python`.
    pub fn start(python: &Path) -> PyKmipServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = dir.path().join("certs");
        tresor_kmip::certs::init(&certs).expect("writing certificates");
        let policies = dir.path().join("policies");
        std::fs::create_dir(&policies).expect("policy dir");
        let port = free_port();
        let conf = dir.path().join("server.conf");
        std::fs::write(
            &conf,
            format!(
                "[server]\nhostname=127.0.0.1\nport={port}\n\
                 certificate_path={c}/server.crt\nkey_path={c}/server.key\nca_path={c}/ca.crt\n\
                 auth_suite=TLS1.2\npolicy_path={p}\nenable_tls_client_auth=True\n\
                 logging_level=WARNING\ndatabase_path={d}/pykmip.db\n",
                c = certs.display(),
                p = policies.display(),
                d = dir.path().display(),
            ),
        )
        .expect("server.conf");
        let server = python.with_file_name("pykmip-server");
        // Its own process group: pykmip-server forks helpers that must die with it.
        let mut child =
            std::os::unix::process::CommandExt::process_group(&mut Command::new(&server), 0)
                .arg("-f")
                .arg(&conf)
                .arg("-l")
                .arg(dir.path().join("server.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", server.display()));
        wait_for_port(port, &mut child, "pykmip-server");
        PyKmipServer { dir, port, child }
    }

    /// The certificate directory.
    pub fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    /// The server log so far (for failure messages).
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.path().join("server.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for PyKmipServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client for `127.0.0.1:port` with certificate `name` from `certs`.
pub fn client(certs: &Path, name: &str, port: u16, version: ProtocolVersion) -> KmipClient {
    let mut cfg = ClientConfig::new(
        "127.0.0.1",
        certs.join(format!("{name}.crt")),
        certs.join(format!("{name}.key")),
        certs.join("ca.crt"),
    );
    cfg.port = port;
    cfg.protocol_version = version;
    cfg.request_timeout = Duration::from_secs(60);
    KmipClient::new(cfg).expect("client config")
}

/// Panics with the result reason and message unless `item` succeeded.
pub fn ok(what: &str, item: &ResponseBatchItem) {
    assert_eq!(
        item.result_status,
        ResultStatus::SUCCESS,
        "{what} failed: {:?} {:?}",
        item.result_reason,
        item.result_message
    );
}

/// The first payload field tagged `tag`.
pub fn field(item: &ResponseBatchItem, tag: Tag) -> Option<&Ttlv> {
    item.payload_items().iter().find(|t| t.tag == tag)
}

/// The payload's `UniqueIdentifier` text.
pub fn uid_of(item: &ResponseBatchItem) -> String {
    field(item, Tag::UNIQUE_IDENTIFIER)
        .and_then(Ttlv::as_text)
        .unwrap_or_else(|| panic!("no unique identifier in {:?}", item.payload))
        .to_owned()
}

/// Every `UniqueIdentifier` in the payload (Locate).
pub fn uids_of(item: &ResponseBatchItem) -> Vec<String> {
    item.payload_items()
        .iter()
        .filter(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
        .filter_map(|t| t.as_text().map(str::to_owned))
        .collect()
}

/// Builds request payloads for one protocol version.
#[derive(Debug, Clone, Copy)]
pub struct Req(pub ProtocolVersion);

fn enum_attr(tag: Tag, v: impl Into<u32>) -> Attribute {
    Attribute::standard(tag, Value::Enumeration(v.into()))
}

fn int_attr(tag: Tag, v: i32) -> Attribute {
    Attribute::standard(tag, Value::Integer(v))
}

fn mask_attr(mask: CryptographicUsageMask) -> Attribute {
    // The mask is a 32-bit integer on the wire; the high bits are not used here.
    int_attr(Tag::CRYPTOGRAPHIC_USAGE_MASK, mask.0 as i32)
}

impl Req {
    fn set(self, attrs: Vec<Attribute>, container: Container) -> Ttlv {
        AttributeSet {
            attributes: attrs,
            template_names: Vec::new(),
        }
        .to_ttlv(self.0, container)
    }

    /// Create payload: a symmetric key.
    pub fn create_symmetric(
        self,
        alg: CryptographicAlgorithm,
        bits: i32,
        mask: CryptographicUsageMask,
        name: Option<&str>,
    ) -> Vec<Ttlv> {
        let mut a = vec![
            enum_attr(Tag::CRYPTOGRAPHIC_ALGORITHM, alg),
            int_attr(Tag::CRYPTOGRAPHIC_LENGTH, bits),
            mask_attr(mask),
        ];
        if let Some(n) = name {
            a.push(Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING));
        }
        vec![
            Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
            self.set(a, Container::Template),
        ]
    }

    /// CreateKeyPair payload: RSA of `bits`, private key Sign, public key Verify.
    pub fn create_rsa_pair(self, bits: i32, name: &str) -> Vec<Ttlv> {
        vec![
            self.set(
                vec![
                    enum_attr(Tag::CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm::RSA),
                    int_attr(Tag::CRYPTOGRAPHIC_LENGTH, bits),
                ],
                Container::Common,
            ),
            self.set(
                vec![
                    Attribute::name(format!("{name}-priv"), NameType::UNINTERPRETED_TEXT_STRING),
                    mask_attr(CryptographicUsageMask::SIGN),
                ],
                Container::PrivateKey,
            ),
            self.set(
                vec![
                    Attribute::name(format!("{name}-pub"), NameType::UNINTERPRETED_TEXT_STRING),
                    mask_attr(CryptographicUsageMask::VERIFY),
                ],
                Container::PublicKey,
            ),
        ]
    }

    fn key_block(format: u32, material: &[u8], alg: Option<(CryptographicAlgorithm, i32)>) -> Ttlv {
        let mut v = vec![
            Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, format),
            Ttlv::structure(
                Tag::KEY_VALUE,
                vec![Ttlv::bytes(Tag::KEY_MATERIAL, material.to_vec())],
            ),
        ];
        if let Some((a, len)) = alg {
            v.push(Ttlv::enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM, a));
            v.push(Ttlv::integer(Tag::CRYPTOGRAPHIC_LENGTH, len));
        }
        Ttlv::structure(Tag::KEY_BLOCK, v)
    }

    fn register(self, object_type: ObjectType, attrs: Vec<Attribute>, object: Ttlv) -> Vec<Ttlv> {
        vec![
            Ttlv::enumeration(Tag::OBJECT_TYPE, object_type),
            self.set(attrs, Container::Template),
            object,
        ]
    }

    /// Register payload: a raw symmetric key.
    pub fn register_symmetric(
        self,
        alg: CryptographicAlgorithm,
        key: &[u8],
        mask: CryptographicUsageMask,
        name: &str,
    ) -> Vec<Ttlv> {
        let bits = i32::try_from(key.len() * 8).expect("key length");
        self.register(
            ObjectType::SYMMETRIC_KEY,
            vec![
                mask_attr(mask),
                Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING),
            ],
            Ttlv::structure(
                Tag::SYMMETRIC_KEY,
                vec![Self::key_block(1, key, Some((alg, bits)))],
            ),
        )
    }

    /// Register payload: a password secret (SecretData, key format Opaque).
    pub fn register_secret(self, secret: &[u8], name: &str) -> Vec<Ttlv> {
        self.register(
            ObjectType::SECRET_DATA,
            vec![
                mask_attr(CryptographicUsageMask::DERIVE_KEY),
                Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING),
            ],
            SecretData::new(SecretDataType::PASSWORD, secret.to_vec()).to_ttlv(),
        )
    }

    /// Register payload: an opaque object.
    pub fn register_opaque(self, data: &[u8], name: &str) -> Vec<Ttlv> {
        self.register(
            ObjectType::OPAQUE_OBJECT,
            vec![Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING)],
            Ttlv::structure(
                Tag::OPAQUE_OBJECT,
                vec![
                    Ttlv::enumeration(Tag::OPAQUE_DATA_TYPE, 0x8000_0000u32),
                    Ttlv::bytes(Tag::OPAQUE_DATA_VALUE, data.to_vec()),
                ],
            ),
        )
    }

    /// Register payload: an X.509 certificate (DER).
    pub fn register_certificate(self, der: &[u8], name: &str) -> Vec<Ttlv> {
        self.register(
            ObjectType::CERTIFICATE,
            vec![
                mask_attr(CryptographicUsageMask::VERIFY),
                Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING),
            ],
            Ttlv::structure(
                Tag::CERTIFICATE,
                vec![
                    Ttlv::enumeration(Tag::CERTIFICATE_TYPE, 1u32),
                    Ttlv::bytes(Tag::CERTIFICATE_VALUE, der.to_vec()),
                ],
            ),
        )
    }

    /// Locate payload: by name, optionally object type, with maximum items.
    pub fn locate(
        self,
        name: Option<&str>,
        object_type: Option<ObjectType>,
        alg: Option<CryptographicAlgorithm>,
        max: Option<i32>,
    ) -> Vec<Ttlv> {
        let mut v = Vec::new();
        if let Some(m) = max {
            v.push(Ttlv::integer(Tag::MAXIMUM_ITEMS, m));
        }
        let mut attrs = Vec::new();
        if let Some(t) = object_type {
            attrs.push(enum_attr(Tag::OBJECT_TYPE, t));
        }
        if let Some(a) = alg {
            attrs.push(enum_attr(Tag::CRYPTOGRAPHIC_ALGORITHM, a));
        }
        if let Some(n) = name {
            attrs.push(Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING));
        }
        if self.0.is_v2() {
            v.push(self.set(attrs, Container::Template));
        } else {
            v.extend(attrs.iter().map(|a| a.to_version(self.0)));
        }
        v
    }

    /// A payload of just the unique identifier (Get, Activate, Destroy, GetAttributeList).
    pub fn uid(self, uid: &str) -> Vec<Ttlv> {
        vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)]
    }

    /// Get payload asking for a key format.
    pub fn get_as(self, uid: &str, key_format: u32) -> Vec<Ttlv> {
        vec![
            Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid),
            Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, key_format),
        ]
    }

    /// GetAttributes payload for the named attributes (1.x names, 2.x references).
    pub fn get_attributes(self, uid: &str, names: &[Tag]) -> Vec<Ttlv> {
        let mut v = vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)];
        for t in names {
            if self.0.is_v2() {
                v.push(Ttlv::enumeration(Tag::ATTRIBUTE_REFERENCE, t.value()));
            } else {
                let n = t.attribute_name().expect("standard attribute").to_string();
                v.push(Ttlv::text(Tag::ATTRIBUTE_NAME, n));
            }
        }
        v
    }

    /// Revoke payload with a reason code (and a compromise date for KeyCompromise).
    pub fn revoke(self, uid: &str, reason: u32, compromise_date: Option<i64>) -> Vec<Ttlv> {
        let mut v = vec![
            Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid),
            Ttlv::structure(
                Tag::REVOCATION_REASON,
                vec![
                    Ttlv::enumeration(Tag::REVOCATION_REASON_CODE, reason),
                    Ttlv::text(Tag::REVOCATION_MESSAGE, "interop test"),
                ],
            ),
        ];
        if let Some(d) = compromise_date {
            v.push(Ttlv::new(
                Tag::COMPROMISE_OCCURRENCE_DATE,
                Value::DateTime(d),
            ));
        }
        v
    }

    /// Query payload for operations and objects.
    pub fn query(self) -> Vec<Ttlv> {
        vec![
            Ttlv::enumeration(Tag::QUERY_FUNCTION, 1u32),
            Ttlv::enumeration(Tag::QUERY_FUNCTION, 2u32),
        ]
    }

    /// Cryptographic parameters structure (fields in spec order).
    pub fn params(
        mode: Option<BlockCipherMode>,
        padding: Option<PaddingMethod>,
        hash: Option<HashingAlgorithm>,
        alg: Option<CryptographicAlgorithm>,
    ) -> Ttlv {
        let mut v = Vec::new();
        if let Some(m) = mode {
            v.push(Ttlv::enumeration(Tag::BLOCK_CIPHER_MODE, m));
        }
        if let Some(p) = padding {
            v.push(Ttlv::enumeration(Tag::PADDING_METHOD, p));
        }
        if let Some(h) = hash {
            v.push(Ttlv::enumeration(Tag::HASHING_ALGORITHM, h));
        }
        if let Some(a) = alg {
            v.push(Ttlv::enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM, a));
        }
        Ttlv::structure(Tag::CRYPTOGRAPHIC_PARAMETERS, v)
    }

    /// Encrypt/Decrypt/Sign/MAC payload: uid, parameters, data, optional IV.
    pub fn crypto(self, uid: &str, params: Ttlv, data: &[u8], iv: Option<&[u8]>) -> Vec<Ttlv> {
        let mut v = vec![
            Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid),
            params,
            Ttlv::bytes(Tag::DATA, data.to_vec()),
        ];
        if let Some(iv) = iv {
            v.push(Ttlv::bytes(Tag::IV_COUNTER_NONCE, iv.to_vec()));
        }
        v
    }

    /// SignatureVerify payload.
    pub fn verify(self, uid: &str, params: Ttlv, data: &[u8], signature: &[u8]) -> Vec<Ttlv> {
        vec![
            Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid),
            params,
            Ttlv::bytes(Tag::DATA, data.to_vec()),
            Ttlv::bytes(Tag::SIGNATURE_DATA, signature.to_vec()),
        ]
    }
}

/// The key material bytes of a Get response (any key-block object).
pub fn key_material(item: &ResponseBatchItem) -> Option<Vec<u8>> {
    let obj = item.payload_items().iter().find(|t| {
        matches!(
            t.tag,
            Tag::SYMMETRIC_KEY | Tag::SECRET_DATA | Tag::PRIVATE_KEY | Tag::PUBLIC_KEY
        )
    })?;
    let value = obj.find(Tag::KEY_BLOCK)?.find(Tag::KEY_VALUE)?;
    let material = value.find(Tag::KEY_MATERIAL)?;
    match &material.value {
        Value::ByteString(b) => Some(b.clone()),
        // Transparent symmetric key: the Key field.
        Value::Structure(_) => material
            .find(Tag::KEY)
            .and_then(Ttlv::as_bytes)
            .map(<[u8]>::to_vec),
        _ => None,
    }
}

/// Runs `op` and returns the result item, panicking on transport errors.
pub async fn call(c: &KmipClient, op: Operation, payload: Vec<Ttlv>) -> ResponseBatchItem {
    c.call(op, payload)
        .await
        .unwrap_or_else(|e| panic!("{op:?}: transport error {e}"))
}

/// The attributes of a GetAttributes response, in either encoding.
pub fn attributes_of(item: &ResponseBatchItem) -> AttributeSet {
    let mut set = AttributeSet::default();
    for t in item.payload_items() {
        if t.tag == Tag::ATTRIBUTES {
            let s = AttributeSet::from_ttlv(t).expect("2.x attributes");
            set.attributes.extend(s.attributes);
        } else if t.tag == Tag::ATTRIBUTE {
            set.attributes
                .push(Attribute::from_v1(t).expect("1.x attribute"));
        }
    }
    set
}

/// The attribute names of a GetAttributeList response (1.x names or 2.x references).
pub fn attribute_names_of(item: &ResponseBatchItem) -> Vec<String> {
    item.payload_items()
        .iter()
        .filter_map(|t| match (t.tag, &t.value) {
            (Tag::ATTRIBUTE_NAME, Value::TextString(s)) => Some(s.clone()),
            (Tag::ATTRIBUTE_REFERENCE, Value::Enumeration(v)) => Tag::new(*v)
                .and_then(Tag::attribute_name)
                .or_else(|| Some(format!("0x{v:06X}"))),
            (Tag::ATTRIBUTE_REFERENCE, Value::Structure(_)) => t
                .find(Tag::ATTRIBUTE_NAME)
                .and_then(Ttlv::as_text)
                .map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// The command that runs `tresor kmip`: `TRESOR_KMIP_CMD` (whitespace-separated, e.g.
/// `target/debug/tresor kmip`), else the `tresor` binary of the test's target directory if
/// it has the `kmip serve` subcommand (`cargo build -p tresor-cli`).
pub fn tresor_kmip_cmd() -> Vec<String> {
    static CHOICE: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    CHOICE.get_or_init(choose_tresor_kmip_cmd).clone()
}

fn choose_tresor_kmip_cmd() -> Vec<String> {
    if let Ok(c) = std::env::var("TRESOR_KMIP_CMD") {
        return c.split_whitespace().map(str::to_owned).collect();
    }
    // current_exe: <target>/<profile>/deps/<test>-<hash>
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile directory");
    let candidates = [vec![
        profile_dir.join("tresor").display().to_string(),
        "kmip".to_owned(),
    ]];
    for c in candidates {
        if serve_parses(&c) {
            let _ = writeln!(std::io::stderr(), "tresor KMIP server command: {c:?}");
            return c;
        }
        let _ = writeln!(std::io::stderr(), "NOTE: {c:?} cannot run 'serve'");
    }
    panic!("no tresor KMIP server binary: `cargo build -p tresor-cli`, or set TRESOR_KMIP_CMD");
}

/// True if `cmd serve` really starts (prints `listening on`) with fresh certificates and
/// a fresh `--store` directory.
fn serve_parses(cmd: &[String]) -> bool {
    let Ok(dir) = tempfile::tempdir() else {
        return false;
    };
    let certs = dir.path().join("certs");
    if tresor_kmip::certs::init(&certs).is_err() {
        return false;
    }
    match TresorServer::try_start(cmd, &certs, &dir.path().join("store"), &[], Stdio::null()) {
        Ok(_server) => true,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "NOTE: {e}");
            false
        }
    }
}

/// Opens every app to every client on the store in `store` (`kmip apps --store DIR allow '*'
/// '*'`): interop peers create vault-shaped names, which a server refuses by default.
pub fn allow_all_apps(store: &Path) {
    let cmd = tresor_kmip_cmd();
    let out = Command::new(&cmd[0])
        .args(&cmd[1..])
        .arg("apps")
        .arg("--store")
        .arg(store)
        .args(["allow", "*", "*"])
        .output()
        .expect("running kmip apps allow");
    assert!(
        out.status.success(),
        "kmip apps allow: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `tresor kmip serve` on an ephemeral port: a [`TestServer`] (its stderr kept,
/// and printed if the test fails; killed on drop) with the address and store.
pub struct TresorServer {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// The store directory.
    pub store: PathBuf,
    server: TestServer,
}

impl TresorServer {
    /// Starts `serve --listen 127.0.0.1:0` with the server certificate from `certs`, the
    /// store in `store`, and `extra` arguments; waits for `listening on ADDR` on stderr.
    pub fn start(certs: &Path, store: &Path, extra: &[&str]) -> TresorServer {
        let cmd = tresor_kmip_cmd();
        Self::try_start(&cmd, certs, store, extra, Stdio::null()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts `cmd serve ...` (see [`TresorServer::start`]); the error has the server's output.
    pub fn try_start(
        cmd: &[String],
        certs: &Path,
        store: &Path,
        extra: &[&str],
        stdin: Stdio,
    ) -> Result<TresorServer, String> {
        let mut c = Command::new(&cmd[0]);
        // `cmd` runs `tresor kmip` (or the `kmip` example): `serve --listen 127.0.0.1:0`.
        c.args(&cmd[1..])
            .args(&cli::KMIP_SERVE[1..])
            .args(cli::serve_args(certs))
            .arg("--store")
            .arg(store)
            .args(extra)
            .env("TRESOR_LOG", "info")
            .stdin(stdin)
            .stdout(Stdio::null());
        let mut server = TestServer::try_start_with(&mut c, Duration::from_secs(60), |e| e)?;
        server.log_on_panic("tresor server log");
        let addr = server
            .addr()
            .parse()
            .map_err(|e| format!("{cmd:?} serve: listening on {:?}: {e}", server.addr()))?;
        Ok(TresorServer {
            addr,
            store: store.to_owned(),
            server,
        })
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        self.server.running()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.server.terminate()
    }
}
