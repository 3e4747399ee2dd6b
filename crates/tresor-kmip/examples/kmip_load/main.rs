//! A KMIP load generator on [`KmipClient`], for comparing KMIP servers (tresor, PyKMIP).
//!
//! ```text
//! kmip_load --server HOST:PORT --certs DIR [--version 1.4] [--label NAME] [--peer PEER] BENCH...
//!   create:N            N Creates (AES-256) over one connection
//!   get:N               N Gets of one key over one connection
//!   encrypt:N           N Encrypts (AES-256-GCM, 1 KiB, server-chosen IV) over one connection
//!   sign:ALG:N          N Signs of a 32-byte message over one connection; ALG is p256
//!                       (ECDSA P-256 with SHA-256) or ed25519 (a key pair created first,
//!                       then one untimed Sign whose signature size must fit ALG)
//!   seed:FROM:TO        Creates keys named load-FROM .. load-(TO-1), 100 per batch message
//!   locate:N:RANGE      N Locates by name of random load-<i>, i < RANGE, over one connection
//!   connect-get:N       N times: new connection (TCP + TLS handshake) and one Get
//!   concurrent:C:N      C connections in parallel, N Gets each
//!   concurrent-create:C:N  C connections in parallel, N Creates each
//!   concurrent-encrypt:C:N C connections in parallel, N Encrypts each (as encrypt:N, one key)
//!   concurrent-sign:ALG:C:N  C connections in parallel, N Signs each (as sign:ALG:N, one key)
//!   concurrent-discover:C:N  C connections in parallel, N Discover Versions each (the floor
//!                       of any request: TLS and TTLV, no store, no crypto)
//!   churn:N             N times: Create a key, then Destroy it (the store keeps its size;
//!                       2 N requests over one connection)
//! ```
//! `--server` may be given several times (servers sharing one database): the parallel
//! benches spread their connections round-robin over them; the others use the first.
//! `--peer` shapes the few requests a server takes only in its own form (default `tresor`,
//! whose standard requests are the ones above):
//! - `cosmian` (Cosmian KMS 5.x): the ECDSA key pair names its curve in a Cryptographic Domain
//!   Parameters attribute (its KMIP 1.4 parser refuses a Recommended Curve attribute, its
//!   KMIP 2.1 one ignores it and makes an X25519 key), and the Ed25519 key pair is created by
//!   a KMIP 2.1 request (Cosmian's KMIP 1.4 has no Ed25519); the timed Signs stay the same
//!   KMIP 1.4 requests;
//! - `pykmip` (PyKMIP 0.11): Encrypt names its Cryptographic Parameters (AES, GCM, 16-byte tag;
//!   PyKMIP takes no defaults from the key), and the key pair states a Cryptographic Length and
//!   no curve (PyKMIP parses neither Recommended Curve nor Cryptographic Domain Parameters).
//!
//! DIR holds `ca.crt`, `client.crt`, `client.key`. Prints one line per bench:
//! `RESULT label bench n secs ops_per_s p50_us p99_us`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, NameType, ObjectType, Operation, ResultStatus,
};
use tresor_kmip::message::{RequestBatchItem, RequestHeader, RequestMessage, ResponseBatchItem};
use tresor_kmip::ttlv::{HEADER_LEN, message_len};
use tresor_kmip::{Limits, ProtocolVersion, Tag, Ttlv, Value};

type Error = Box<dyn std::error::Error + Send + Sync>;

mod keys;
use keys::{encrypt_key, encrypt_payload, sign_key, sign_payload};

/// The server the requests are shaped for (`--peer`).
#[derive(Clone, Copy, PartialEq)]
enum Peer {
    Tresor,
    Cosmian,
    Pykmip,
}

struct Opts {
    host: String,
    port: u16,
    /// Every `--server`, for the parallel benches (the first is `host:port`).
    servers: Vec<(String, u16)>,
    certs: std::path::PathBuf,
    version: ProtocolVersion,
    label: String,
    peer: Peer,
}

impl Opts {
    fn client(&self) -> Result<KmipClient, Error> {
        self.client_to(&self.host, self.port)
    }

    /// A client for connection `k` of a parallel bench: server `k` modulo their number.
    fn client_for(&self, k: usize) -> Result<KmipClient, Error> {
        let (h, p) = &self.servers[k % self.servers.len()];
        self.client_to(h, *p)
    }

    fn client_to(&self, host: &str, port: u16) -> Result<KmipClient, Error> {
        Ok(KmipClient::new(self.config_to(host, port, self.version))?)
    }

    /// A client to the first server speaking `version` (for set-up requests only).
    fn client_version(&self, version: ProtocolVersion) -> Result<KmipClient, Error> {
        Ok(KmipClient::new(
            self.config_to(&self.host, self.port, version),
        )?)
    }

    fn config_to(&self, host: &str, port: u16, version: ProtocolVersion) -> ClientConfig {
        let mut c = ClientConfig::new(
            host.to_owned(),
            self.certs.join("client.crt"),
            self.certs.join("client.key"),
            self.certs.join("ca.crt"),
        );
        c.port = port;
        c.protocol_version = version;
        c.request_timeout = Duration::from_secs(300);
        c
    }
}

/// One connection of the Get and Create benches, lean on the load generator's side: the
/// request is encoded once, each response is read into one reused buffer and decoded only to
/// check it ([`check_answer`]). [`KmipClient::call`] builds a request tree and encodes it,
/// allocates a buffer for every response and turns it into a `ResponseMessage`, and arms a
/// timer per call: load-generator CPU on the same cores as the server (~60 µs per Create,
/// ~5× a lean call's), which a server benchmark should not spend.
struct LeanConn {
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    request: Vec<u8>,
    expect: Expect,
    buf: Vec<u8>,
    limits: Limits,
}

/// What a lean connection sends, and what each answer must be.
#[derive(Clone)]
enum Expect {
    /// Get of this object: a successful Get naming it.
    Get(String),
    /// Create of an AES-256 key ([`create_payload`]): a successful Create naming a new
    /// object (a non-empty identifier).
    Create,
}

impl Expect {
    fn operation(&self) -> Operation {
        match self {
            Expect::Get(_) => Operation::GET,
            Expect::Create => Operation::CREATE,
        }
    }
}

impl LeanConn {
    /// Connects (TCP, TLS) to server `k` of the parallel benches, to send `expect`'s request.
    async fn open(o: &Opts, k: usize, expect: Expect) -> Result<LeanConn, Error> {
        let (host, port) = &o.servers[k % o.servers.len()];
        let config = o.config_to(host, *port, o.version);
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config.tls_config()?));
        let tcp = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
        tcp.set_nodelay(true)?;
        let stream = connector.connect(config.tls_server_name()?, tcp).await?;
        let payload = match &expect {
            Expect::Get(id) => vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, id)],
            Expect::Create => create_payload(o.version, None),
        };
        let request = RequestMessage::single(o.version, expect.operation(), payload)
            .to_ttlv()
            .encode();
        Ok(LeanConn {
            stream,
            request,
            expect,
            buf: Vec::new(),
            limits: config.limits,
        })
    }

    /// One request: writes it, reads the whole response, checks it.
    async fn call(&mut self) -> Result<(), Error> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.stream.write_all(&self.request).await?;
        self.stream.flush().await?;
        let mut header = [0u8; HEADER_LEN];
        self.stream.read_exact(&mut header).await?;
        let len = message_len(&header, &self.limits)?;
        self.buf.clear();
        self.buf.extend_from_slice(&header);
        self.buf.resize(HEADER_LEN + len, 0);
        let body = self.buf.get_mut(HEADER_LEN..).unwrap_or_default();
        self.stream.read_exact(body).await?;
        check_answer(&Ttlv::decode_with(&self.buf, &self.limits)?, &self.expect)
    }

    /// Sends the TLS close_notify.
    async fn close(mut self) {
        // Best effort: the connection is dropped either way.
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut self.stream).await;
    }
}

/// Checks a response message: its (first) batch item is the expected operation, its Result
/// Status is Success and its payload names the object asked for (Get) or a new one (Create).
fn check_answer(resp: &Ttlv, expect: &Expect) -> Result<(), Error> {
    let what = expect.operation();
    let item = resp
        .find(Tag::BATCH_ITEM)
        .ok_or_else(|| format!("{what}: a response without a batch item"))?;
    let op = item.find(Tag::OPERATION).and_then(Ttlv::as_enumeration);
    let status = item.find(Tag::RESULT_STATUS).and_then(Ttlv::as_enumeration);
    if op != Some(what.0) || status != Some(ResultStatus::SUCCESS.0) {
        let message = item.find(Tag::RESULT_MESSAGE).and_then(Ttlv::as_text);
        return Err(
            format!("{what}: operation {op:?}, result status {status:?}: {message:?}").into(),
        );
    }
    let got = item
        .find(Tag::RESPONSE_PAYLOAD)
        .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
        .and_then(Ttlv::as_text);
    match (expect, got) {
        (Expect::Get(id), Some(got)) if got == id => Ok(()),
        (Expect::Create, Some(got)) if !got.is_empty() => Ok(()),
        _ => Err(format!("{what} answered identifier {got:?}").into()),
    }
}

/// `n` requests over one [`LeanConn`], connected and sent one untimed request before the
/// clock starts.
async fn one_lean(o: &Opts, n: usize, expect: Expect) -> Result<Stats, Error> {
    let mut c = LeanConn::open(o, 0, expect).await?;
    c.call().await?;
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        c.call().await?;
        lat.push(t.elapsed());
    }
    let s = Stats {
        n,
        wall: start.elapsed(),
        lat,
    };
    c.close().await;
    Ok(s)
}

/// `conns` [`LeanConn`]s in parallel (spread over the servers), `n` requests each; the wall
/// clock starts before the connections are made (each connects with its first request's
/// clock running, as [`Connect::WithFirstCall`]). Each connection is bounded by 300 s.
async fn parallel_lean(
    o: &Arc<Opts>,
    conns: usize,
    n: usize,
    expect: Expect,
) -> Result<Stats, Error> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..conns {
        let (o, expect) = (o.clone(), expect.clone());
        tasks.push(tokio::spawn(async move {
            let what = expect.operation();
            let run = async {
                let mut lat = Vec::with_capacity(n);
                let mut t = Instant::now();
                let mut c = LeanConn::open(&o, k, expect).await?;
                for _ in 0..n {
                    c.call().await?;
                    let now = Instant::now();
                    lat.push(now - t);
                    t = now;
                }
                c.close().await;
                Ok::<_, Error>(lat)
            };
            tokio::time::timeout(Duration::from_secs(300), run)
                .await
                .map_err(|_| format!("{what}: a connection took more than 300 s"))?
        }));
    }
    gather(tasks, start).await
}

/// Every connection's latencies in one [`Stats`], the wall clock from `start` to the last.
async fn gather(
    tasks: Vec<tokio::task::JoinHandle<Result<Vec<Duration>, Error>>>,
    start: Instant,
) -> Result<Stats, Error> {
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    Ok(Stats {
        n: lat.len(),
        wall: start.elapsed(),
        lat,
    })
}

/// Creates one AES-256 key ([`create_payload`]) over a connection of its own (untimed set-up
/// of the Get benches) and returns its identifier.
async fn new_key(o: &Opts) -> Result<String, Error> {
    let setup = o.client()?;
    let created = setup
        .call(Operation::CREATE, create_payload(o.version, None))
        .await?;
    check("create", &created)?;
    let id = uid(&created)?;
    setup.close().await;
    Ok(id)
}

fn create_payload(version: ProtocolVersion, name: Option<String>) -> Vec<Ttlv> {
    let mut attrs = AttributeSet::default();
    attrs.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::AES.0),
    ));
    attrs.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(256),
    ));
    let mask = CryptographicUsageMask::ENCRYPT | CryptographicUsageMask::DECRYPT;
    attrs.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_USAGE_MASK,
        Value::Integer(i32::try_from(mask.0).unwrap_or(0)),
    ));
    if let Some(n) = name {
        attrs.push(Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING));
    }
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
        attrs.to_ttlv(version, Container::Template),
    ]
}

fn locate_payload(version: ProtocolVersion, name: &str) -> Vec<Ttlv> {
    let attr = Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING);
    if version.is_v2() {
        let mut set = AttributeSet::default();
        set.push(attr);
        vec![set.to_ttlv(version, Container::Template)]
    } else {
        vec![attr.to_version(version)]
    }
}

fn check(what: &str, item: &ResponseBatchItem) -> Result<(), Error> {
    if item.result_status == ResultStatus::SUCCESS {
        Ok(())
    } else {
        Err(format!(
            "{what}: {} {:?} {:?}",
            item.result_status, item.result_reason, item.result_message
        )
        .into())
    }
}

fn uid(item: &ResponseBatchItem) -> Result<String, Error> {
    item.payload_items()
        .iter()
        .find(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
        .and_then(Ttlv::as_text)
        .map(str::to_owned)
        .ok_or_else(|| "response without a unique identifier".into())
}

/// Latencies and wall time of one bench.
struct Stats {
    n: usize,
    wall: Duration,
    lat: Vec<Duration>,
}

impl Stats {
    fn print(&mut self, label: &str, bench: &str) {
        self.lat.sort();
        let pct = |p: f64| {
            self.lat
                .get(((self.lat.len() as f64 * p) as usize).min(self.lat.len().saturating_sub(1)))
                .map_or(0, |d| d.as_micros())
        };
        let secs = self.wall.as_secs_f64();
        println!(
            "RESULT {label} {bench} {} {:.3} {:.1} {} {}",
            self.n,
            secs,
            self.n as f64 / secs,
            pct(0.5),
            pct(0.99)
        );
    }
}

async fn timed<F, Fut>(n: usize, mut f: F) -> Result<Stats, Error>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        f(i).await?;
        lat.push(t.elapsed());
    }
    Ok(Stats {
        n,
        wall: start.elapsed(),
        lat,
    })
}

/// xorshift64*: enough to spread Locate names, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as usize
    }
}

/// `n` calls of `op` with `payload` over one connection, timed.
async fn one_connection(
    c: &KmipClient,
    n: usize,
    op: Operation,
    payload: Vec<Ttlv>,
) -> Result<Stats, Error> {
    timed(n, |_| {
        let (c, p) = (c, payload.clone());
        async move { check(&op.to_string(), &c.call(op, p).await?) }
    })
    .await
}

/// Whether each connection of [`parallel`] connects (TCP + TLS, by a Discover Versions)
/// before its first timed call, so that no call's latency holds the handshake.
#[derive(Clone, Copy, PartialEq)]
enum Connect {
    First,
    WithFirstCall,
}

/// `conns` connections in parallel (spread over the servers), `n` calls of `op` with
/// `payload` each; the wall clock starts before the connections are made.
async fn parallel(
    o: &Arc<Opts>,
    conns: usize,
    n: usize,
    op: Operation,
    payload: Vec<Ttlv>,
    connect: Connect,
) -> Result<Stats, Error> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..conns {
        let (o, payload) = (o.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            let c = o.client_for(k)?;
            if connect == Connect::First {
                check(
                    "discover",
                    &c.call(Operation::DISCOVER_VERSIONS, vec![]).await?,
                )?;
            }
            let s = one_connection(&c, n, op, payload).await?;
            c.close().await;
            Ok::<_, Error>(s.lat)
        }));
    }
    gather(tasks, start).await
}

fn num(s: Option<&str>, what: &str) -> Result<usize, Error> {
    s.ok_or_else(|| format!("{what} missing"))?
        .parse()
        .map_err(|_| format!("{what} is not a number").into())
}

async fn run(o: Arc<Opts>, bench: &str) -> Result<(), Error> {
    let mut parts = bench.split(':');
    let kind = parts.next().unwrap_or_default();
    let v = o.version;
    match kind {
        "create" => {
            let n = num(parts.next(), "N")?;
            let mut s = one_lean(&o, n, Expect::Create).await?;
            s.print(&o.label, bench);
        }
        "get" => {
            let n = num(parts.next(), "N")?;
            let id = new_key(&o).await?;
            let mut s = one_lean(&o, n, Expect::Get(id)).await?;
            s.print(&o.label, bench);
        }
        "encrypt" => {
            // N AES-256-GCM Encrypts of 1 KiB under one key (IV chosen by the server).
            let n = num(parts.next(), "N")?;
            let c = o.client()?;
            let id = encrypt_key(&c, v).await?;
            let mut s =
                one_connection(&c, n, Operation::ENCRYPT, encrypt_payload(o.peer, &id)).await?;
            s.print(&o.label, bench);
            c.close().await;
        }
        "sign" => {
            let alg = parts.next().unwrap_or_default();
            let n = num(parts.next(), "N")?;
            let c = o.client()?;
            let id = sign_key(&o, &c, alg).await?;
            let mut s = one_connection(&c, n, Operation::SIGN, sign_payload(&id)).await?;
            s.print(&o.label, bench);
            c.close().await;
        }
        "concurrent-discover" => {
            // The floor under every operation: Discover Versions (TLS, TTLV, the server's
            // dispatch; no store, no crypto) on C connections.
            let conns = num(parts.next(), "C")?;
            let n = num(parts.next(), "N")?;
            let mut s = parallel(
                &o,
                conns,
                n,
                Operation::DISCOVER_VERSIONS,
                vec![],
                Connect::WithFirstCall,
            )
            .await?;
            s.print(&o.label, &format!("discover-{conns}-connections"));
        }
        "concurrent-encrypt" => {
            let conns = num(parts.next(), "C")?;
            let n = num(parts.next(), "N")?;
            let setup = o.client()?;
            let id = encrypt_key(&setup, v).await?;
            setup.close().await;
            let mut s = parallel(
                &o,
                conns,
                n,
                Operation::ENCRYPT,
                encrypt_payload(o.peer, &id),
                Connect::WithFirstCall,
            )
            .await?;
            s.print(&o.label, &format!("encrypt-{conns}-connections"));
        }
        "concurrent-sign" => {
            let alg = parts.next().unwrap_or_default();
            let conns = num(parts.next(), "C")?;
            let n = num(parts.next(), "N")?;
            let setup = o.client()?;
            let id = sign_key(&o, &setup, alg).await?;
            setup.close().await;
            let mut s = parallel(
                &o,
                conns,
                n,
                Operation::SIGN,
                sign_payload(&id),
                Connect::WithFirstCall,
            )
            .await?;
            s.print(&o.label, &format!("sign-{alg}-{conns}-connections"));
        }
        "seed" => {
            let from = num(parts.next(), "FROM")?;
            let to = num(parts.next(), "TO")?;
            let c = o.client()?;
            let start = Instant::now();
            let mut i = from;
            while i < to {
                let end = (i + 100).min(to);
                let msg = RequestMessage {
                    header: RequestHeader::new(v, i32::try_from(end - i)?),
                    batch_items: (i..end)
                        .map(|k| {
                            let mut item = RequestBatchItem::new(
                                Operation::CREATE,
                                create_payload(v, Some(format!("load-{k}"))),
                            );
                            // Batches of more than one item need item ids (PyKMIP insists).
                            item.unique_batch_item_id = Some((k as u64).to_be_bytes().to_vec());
                            item
                        })
                        .collect(),
                };
                let resp = c.request(&msg).await?;
                for item in &resp.batch_items {
                    check("seed create", item)?;
                }
                i = end;
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "SEED {} {from}..{to} in {secs:.1} s ({:.0} creates/s)",
                o.label,
                (to - from) as f64 / secs
            );
            c.close().await;
        }
        "locate" => {
            let n = num(parts.next(), "N")?;
            let range = num(parts.next(), "RANGE")?;
            let c = o.client()?;
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
            let names: Vec<String> = (0..n)
                .map(|_| format!("load-{}", rng.below(range)))
                .collect();
            let mut s = timed(n, |i| {
                let (c, name) = (&c, names[i].clone());
                async move {
                    let item = c.call(Operation::LOCATE, locate_payload(v, &name)).await?;
                    check("locate", &item)?;
                    let found = item
                        .payload_items()
                        .iter()
                        .filter(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
                        .count();
                    if found == 1 {
                        Ok(())
                    } else {
                        Err(format!("locate {name}: {found} objects, expected 1").into())
                    }
                }
            })
            .await?;
            s.print(&o.label, &format!("locate-by-name@{range}"));
            c.close().await;
        }
        "churn" => {
            // Create then Destroy (keys are created pre-active: Destroy needs no Revoke).
            let n = num(parts.next(), "N")?;
            let c = o.client()?;
            let mut s = timed(n, |_| {
                let c = &c;
                async move {
                    let created = c.call(Operation::CREATE, create_payload(v, None)).await?;
                    check("create", &created)?;
                    let id = uid(&created)?;
                    let item = c
                        .call(
                            Operation::DESTROY,
                            vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, id)],
                        )
                        .await?;
                    check("destroy", &item)
                }
            })
            .await?;
            s.print(&o.label, bench);
            c.close().await;
        }
        "connect-get" => {
            let n = num(parts.next(), "N")?;
            let id = new_key(&o).await?;
            let mut s = timed(n, |_| {
                let (o, id) = (o.clone(), id.clone());
                async move {
                    let c = o.client()?;
                    let item = c
                        .call(Operation::GET, vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, id)])
                        .await?;
                    c.close().await;
                    check("get", &item)
                }
            })
            .await?;
            s.print(&o.label, bench);
        }
        "concurrent" => {
            let conns = num(parts.next(), "C")?;
            let n = num(parts.next(), "N")?;
            let id = new_key(&o).await?;
            let mut s = parallel_lean(&o, conns, n, Expect::Get(id)).await?;
            s.print(&o.label, &format!("get-{conns}-connections"));
        }
        "concurrent-create" => {
            let conns = num(parts.next(), "C")?;
            let n = num(parts.next(), "N")?;
            let mut s = parallel_lean(&o, conns, n, Expect::Create).await?;
            s.print(&o.label, &format!("create-{conns}-connections"));
        }
        _ => return Err(format!("unknown bench '{bench}'").into()),
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mut servers: Vec<String> = Vec::new();
    let mut certs = None;
    let mut version = ProtocolVersion::V1_4;
    let mut label = "server".to_owned();
    let mut peer = Peer::Tresor;
    let mut benches = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--server" => servers.extend(args.next()),
            "--certs" => certs = args.next(),
            "--label" => label = args.next().ok_or("--label needs a value")?,
            "--peer" => {
                peer = match args.next().as_deref() {
                    Some("tresor") => Peer::Tresor,
                    Some("cosmian") => Peer::Cosmian,
                    Some("pykmip") => Peer::Pykmip,
                    _ => return Err("--peer must be tresor, cosmian or pykmip".into()),
                }
            }
            "--version" => {
                let s = args.next().ok_or("--version needs a value")?;
                version = ProtocolVersion::SUPPORTED
                    .into_iter()
                    .find(|p| p.to_string() == s)
                    .ok_or("version must be 1.0-2.1")?;
            }
            b => benches.push(b.to_owned()),
        }
    }
    let mut parsed = Vec::new();
    for server in &servers {
        let (host, port) = server
            .rsplit_once(':')
            .ok_or("--server must be HOST:PORT")?;
        parsed.push((host.to_owned(), port.parse::<u16>()?));
    }
    let (host, port) = parsed
        .first()
        .cloned()
        .ok_or("--server HOST:PORT is required")?;
    let opts = Arc::new(Opts {
        host,
        port,
        servers: parsed,
        certs: certs.ok_or("--certs DIR is required")?.into(),
        version,
        label,
        peer,
    });
    // The parallel benches need worker threads; the one-connection benches run on a
    // current-thread runtime. On the multi-thread runtime a one-connection request cost two
    // context switches in the load generator (a worker polls the socket, then wakes the
    // `block_on` thread): a second cross-core wake-up (~25 µs on these VMs) on every round
    // trip, added to the server's latency (`perf stat`: 2.0 switches per Get, 1.0 now).
    let parallel = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for b in &benches {
        let rt = if b.starts_with("concurrent") {
            &parallel
        } else {
            &single
        };
        rt.block_on(run(opts.clone(), b))?;
    }
    Ok(())
}
