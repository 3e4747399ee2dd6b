//! The KMIP server: tokio + rustls with mutual TLS, one store transaction per request.
//!
//! [`Server::bind`] loads the certificates and binds the listener; [`Server::serve`] accepts
//! connections until the shutdown future resolves, then stops accepting, lets in-flight
//! requests finish (bounded by a grace period) and returns.
//!
//! Each connection reads one message at a time, bounded by [`Limits`]. A message that is not
//! valid TTLV, too large or too deep closes only that connection (logged to stderr); a
//! well-formed message that is not a valid request gets an error response.
//!
//! What one client may ask is bounded by [`ServerLimits`] (batch items, response size,
//! connections overall and per identity, requests per second, read/write timeouts, RNG bytes,
//! key pairs): a request over a bound gets a KMIP error naming it, and a log line. The client
//! certificate may be checked against a CRL ([`ServerConfig::crl`]); [`Reloader::reload`]
//! (SIGHUP in `tresor kmip serve`) re-reads the certificate, key, CA and CRL for new
//! handshakes while open connections go on.
//!
//! # Examples
//! ```no_run
//! use std::sync::Arc;
//! use tresor_kmip::server::{Server, ServerConfig};
//! # async fn demo(store: Arc<tresor_store::Store>) -> Result<(), tresor_kmip::KmipError> {
//! let config = ServerConfig::new("server.crt", "server.key", "ca.crt");
//! let server = Server::bind(config, store).await?;
//! eprintln!("listening on {}", server.local_addr());
//! server.serve(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tresor_store::{Store, StoreError};

use crate::enums::{BatchErrorContinuationOption, Operation, ResultReason, ResultStatus};
use crate::error::KmipError;
use crate::message::{ProtocolVersion, RequestMessage, ResponseBatchItem, ResponseMessage};
use crate::ops::{OpError, Session};
use crate::ttlv::stream::{read_message_bytes, write_message};
use crate::ttlv::{Limits, Ttlv};

mod audit_log;
pub(crate) mod conf;
pub mod config_file;
mod handshake;
pub mod http;
pub(crate) use handshake::unix as unix_time;
mod limits;
pub mod logging;
mod metrics;
mod tls;

pub use audit_log::{AuditLog, AuditReads, DEFAULT_READS};
pub use conf::from_pykmip_server_conf;
pub use limits::ServerLimits;

/// Where the server reads a client's identity from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdentitySource {
    /// The first subject common name encoded as UTF8String or PrintableString.
    #[default]
    CommonName,
    /// The first e-mail (rfc822Name) subject alternative name.
    SanEmail,
    /// The first URI subject alternative name.
    SanUri,
}

impl std::str::FromStr for IdentitySource {
    type Err = KmipError;

    fn from_str(s: &str) -> Result<Self, KmipError> {
        match s {
            "cn" => Ok(IdentitySource::CommonName),
            "san-email" => Ok(IdentitySource::SanEmail),
            "san-uri" => Ok(IdentitySource::SanUri),
            _ => Err(KmipError::Tls(format!(
                "identity source '{s}' is not cn, san-email or san-uri"
            ))),
        }
    }
}

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5696";

/// How the server listens and authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Server certificate chain (PEM).
    pub cert: PathBuf,
    /// Server private key (PEM).
    pub key: PathBuf,
    /// CA certificates client certificates must chain to (PEM).
    pub ca: PathBuf,
    /// Require the clientAuth extended key usage on client certificates (PyKMIP's
    /// `enable_tls_client_auth`).
    pub require_client_auth_eku: bool,
    /// A CRL (PEM) of the CA: client certificates it lists are refused at the handshake.
    pub crl: Option<PathBuf>,
    /// Where a client's identity comes from.
    pub identity_from: IdentitySource,
    /// What one client may ask of the server.
    pub server_limits: ServerLimits,
    /// Identities that may use every object.
    pub admins: Vec<String>,
    /// Codec limits for requests.
    pub limits: Limits,
    /// How long an idle connection is kept.
    pub idle_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
}

impl ServerConfig {
    /// A configuration on [`DEFAULT_LISTEN`] with these certificate files.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>, ca: impl Into<PathBuf>) -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN.to_owned(),
            cert: cert.into(),
            key: key.into(),
            ca: ca.into(),
            require_client_auth_eku: true,
            crl: None,
            identity_from: IdentitySource::CommonName,
            server_limits: ServerLimits::default(),
            admins: Vec::new(),
            limits: Limits::default(),
            idle_timeout: Duration::from_secs(300),
            shutdown_grace: Duration::from_millis(800),
        }
    }
}

/// A bound KMIP server.
pub struct Server {
    listener: TcpListener,
    /// The HTTPS/JSON listener ([`Server::with_http`]), if any.
    http: Option<TcpListener>,
    /// The plain-HTTP metrics and health listener ([`Server::with_metrics`]), if any.
    metrics: Option<TcpListener>,
    acceptor: Arc<RwLock<TlsAcceptor>>,
    shared: Arc<Shared>,
}

/// Re-reads the server's certificate, key, CA and CRL files (see [`Server::reloader`]).
#[derive(Clone)]
pub struct Reloader {
    acceptor: Arc<RwLock<TlsAcceptor>>,
    config: ServerConfig,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("crl", &self.config.crl)
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// Builds a new TLS configuration from the files and uses it for the handshakes that
    /// follow; connections already open keep theirs. On error the old configuration stays.
    ///
    /// # Errors
    /// [`KmipError::Tls`] for unusable files.
    pub fn reload(&self) -> Result<(), KmipError> {
        self.reload_with(&self.config)
    }

    /// Like [`Reloader::reload`] with the certificate, key, CA and CRL files named by `new`
    /// (a re-read configuration file), and `new`'s server limits for the requests and
    /// connections that follow. Nothing changes unless the new TLS files all load.
    ///
    /// # Errors
    /// [`KmipError::Tls`] for unusable files (the old configuration stays).
    pub fn reload_with(&self, new: &ServerConfig) -> Result<(), KmipError> {
        let tls = tls::server_config(&new.cert, &new.key, &new.ca, new.crl.as_deref())?;
        let mut a = self
            .acceptor
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *a = TlsAcceptor::from(Arc::new(tls));
        drop(a);
        self.shared.set_bounds(new.server_limits);
        Ok(())
    }
}

struct Shared {
    store: Arc<Store>,
    config: ServerConfig,
    /// Connection counts and request buckets.
    gate: Arc<limits::Gate>,
    /// Open streaming Encrypt/Decrypt operations (bounded, expiring).
    streams: crate::ops::Streams,
    /// The audit stream, if one is written ([`Server::with_audit_log`]).
    audit_log: Option<AuditLog>,
    /// The server limits in force (replaced by a reload).
    bounds: RwLock<ServerLimits>,
    /// The metrics, when a metrics listener is open ([`Server::with_metrics`]).
    metrics: Option<Arc<metrics::Metrics>>,
}

impl Shared {
    /// The server limits in force now.
    fn bounds(&self) -> ServerLimits {
        *self
            .bounds
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replaces the server limits (a reload).
    fn set_bounds(&self, b: ServerLimits) {
        *self
            .bounds
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = b;
        self.gate.set_limits(b);
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listen", &self.local_addr())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Loads the TLS files and binds the listener.
    ///
    /// # Errors
    /// [`KmipError::Tls`] for unusable certificate files, [`KmipError::Io`] if binding fails.
    pub async fn bind(config: ServerConfig, store: Arc<Store>) -> Result<Self, KmipError> {
        let tls = tls::server_config(&config.cert, &config.key, &config.ca, config.crl.as_deref())?;
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|e| KmipError::io(format!("binding {}", config.listen), e))?;
        Ok(Server {
            listener,
            http: None,
            metrics: None,
            acceptor: Arc::new(RwLock::new(TlsAcceptor::from(Arc::new(tls)))),
            shared: Arc::new(Shared {
                store,
                gate: limits::Gate::new(config.server_limits),
                bounds: RwLock::new(config.server_limits),
                config,
                streams: crate::ops::Streams::default(),
                audit_log: None,
                metrics: None,
            }),
        })
    }

    /// Adds a plain-HTTP listener on `addr` serving `/metrics` (Prometheus text format),
    /// `/healthz` and `/readyz` (see the `metrics` module docs), and starts counting.
    ///
    /// # Errors
    /// [`KmipError::Io`] if binding fails.
    pub async fn with_metrics(mut self, addr: &str) -> Result<Self, KmipError> {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| KmipError::io(format!("binding {addr} (--metrics-listen)"), e))?;
        self.metrics = Some(l);
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.metrics = Some(metrics::Metrics::new());
        }
        Ok(self)
    }

    /// The address the metrics listener bound, if there is one.
    pub fn metrics_local_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Writes an audit stream ([`AuditLog`]): one JSON line per audited operation.
    pub fn with_audit_log(mut self, log: AuditLog) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.audit_log = Some(log);
        }
        self
    }

    /// A handle that re-reads the TLS files (certificate, key, CA, CRL) for new handshakes.
    pub fn reloader(&self) -> Reloader {
        Reloader {
            acceptor: self.acceptor.clone(),
            config: self.shared.config.clone(),
            shared: self.shared.clone(),
        }
    }

    /// Adds a second listener on `addr` speaking KMIP's JSON encoding over HTTPS (`POST
    /// /kmip/2_1`, the KMIP 2.1 HTTPS/JSON profile): the same mutual TLS, identities,
    /// limits, store and operations as the binary listener (see [`http`]).
    ///
    /// # Errors
    /// [`KmipError::Io`] if binding fails.
    pub async fn with_http(mut self, addr: &str) -> Result<Self, KmipError> {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| KmipError::io(format!("binding {addr} (--http-listen)"), e))?;
        self.http = Some(l);
        Ok(self)
    }

    /// The address the HTTPS/JSON listener bound, if there is one.
    pub fn http_local_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The address actually bound (the real port for `127.0.0.1:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves until `shutdown` resolves; then stops accepting, waits up to the grace period
    /// for in-flight requests and returns.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        if let (Some(l), Some(m)) = (self.metrics, self.shared.metrics.clone()) {
            tokio::spawn(metrics::serve(
                l,
                m,
                self.shared.store.clone(),
                stop_rx.clone(),
            ));
        }
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = accept_http(self.http.as_ref()) => match accepted {
                    Ok((tcp, peer)) => {
                        let Some(slot) = self.shared.gate.connection() else {
                            tracing::warn!(
                                target: "tresor::kmip::conn",
                                %peer,
                                door = "https",
                                "connection refused: the server holds {} connections \
                                 (--max-connections)",
                                self.shared.bounds().max_connections
                            );
                            drop(tcp);
                            continue;
                        };
                        let acceptor = self
                            .acceptor
                            .read()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .clone();
                        let shared = self.shared.clone();
                        let stop = stop_rx.clone();
                        tasks.spawn(async move {
                            let _slot = slot;
                            if let Err(e) = http::connection(tcp, peer, acceptor, shared, stop).await {
                                tracing::info!(
                                    target: "tresor::kmip::conn",
                                    %peer,
                                    door = "https",
                                    error = %e,
                                    "connection closed on an error"
                                );
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(target: "tresor::kmip", error = %e, "https accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                accepted = self.listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        let Some(slot) = self.shared.gate.connection() else {
                            tracing::warn!(
                                target: "tresor::kmip::conn",
                                %peer,
                                "connection refused: the server holds {} connections \
                                 (--max-connections)",
                                self.shared.bounds().max_connections
                            );
                            drop(tcp);
                            continue;
                        };
                        let acceptor = self
                            .acceptor
                            .read()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .clone();
                        let shared = self.shared.clone();
                        let stop = stop_rx.clone();
                        tasks.spawn(async move {
                            let _slot = slot;
                            if let Err(e) = connection(tcp, peer, acceptor, shared, stop).await {
                                tracing::info!(
                                    target: "tresor::kmip::conn",
                                    %peer,
                                    error = %e,
                                    "connection closed on an error"
                                );
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(target: "tresor::kmip", error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        drop(self.listener);
        drop(self.http);
        let _ = stop_tx.send(true);
        let grace = self.shared.config.shutdown_grace;
        let open = tasks.len();
        tracing::info!(
            target: "tresor::kmip",
            connections = open,
            "draining: no new connections; in-flight requests finish within {grace:?} \
             (--drain-timeout)"
        );
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, drain).await.is_err() {
            tracing::warn!(
                target: "tresor::kmip",
                connections = tasks.len(),
                "drain timeout reached: closing the connections still busy"
            );
            tasks.abort_all();
        }
    }
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), KmipError> {
    let _ = tcp.set_nodelay(true);
    let bounds = shared.bounds();
    if let Some(m) = &shared.metrics {
        m.connections.inc();
    }
    // A refused handshake is logged (one line, with the reason in plain words) by
    // handshake::accept.
    let handshake = handshake::accept(tcp, peer, acceptor.config().clone(), bounds.read_timeout);
    let (mut stream, hello) = tokio::select! {
        r = handshake => match r {
            Ok(s) => s,
            Err(refusal) => {
                count_refusal(&shared, refusal.code);
                return Ok(());
            }
        },
        _ = stop.changed() => return Ok(()),
    };
    let identity = client_identity(&shared, &stream);
    let identity = match identity {
        Ok(id) => id,
        Err(e) => {
            let text = e.to_string();
            let code = if text.contains("clientAuth") {
                "missing-client-auth-eku"
            } else {
                "client-identity-refused"
            };
            count_refusal(&shared, code);
            handshake::log(
                peer,
                Some(&hello),
                &handshake::Refusal { code, detail: text },
            );
            refuse(&mut stream, &bounds, &|_| {
                (ResultReason::AUTHENTICATION_NOT_SUCCESSFUL, e.to_string())
            })
            .await;
            return Ok(());
        }
    };
    let _identity_slot = match shared.gate.identity(&identity) {
        Ok(slot) => slot,
        Err(open) => {
            let message = format!(
                "identity '{identity}' already holds {open} connections \
                 (--max-connections-per-identity)"
            );
            tracing::warn!(
                target: "tresor::kmip::conn",
                %peer,
                identity = %identity,
                "connection refused: {message}"
            );
            refuse(&mut stream, &bounds, &|v| {
                (
                    limits::limit_reason(v, ResultReason::PERMISSION_DENIED),
                    message.clone(),
                )
            })
            .await;
            return Ok(());
        }
    };
    let limits = shared.config.limits;
    {
        let (_, conn) = stream.get_ref();
        tracing::info!(
            target: "tresor::kmip::conn",
            %peer,
            identity = %identity,
            tls_version = conn
                .protocol_version()
                .and_then(|v| v.as_str())
                .unwrap_or("unknown"),
            tls_suite = conn
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str())
                .unwrap_or("unknown"),
            door = "kmip",
            "connection"
        );
    }
    let _open = OpenConnection::new(&shared);
    let mut served: u64 = 0;
    let closed = |served: u64| {
        tracing::debug!(
            target: "tresor::kmip::conn",
            %peer,
            identity = %identity,
            requests = served,
            "connection closed"
        );
    };
    loop {
        // Idle between messages up to idle_timeout; once a message has started, the rest of
        // it must arrive within read_timeout (a client trickling bytes is dropped).
        let mut first = [0u8; 1];
        let idle = tokio::time::timeout(shared.config.idle_timeout, stream.read(&mut first));
        let n = tokio::select! {
            r = idle => match r {
                Err(_) => {
                    closed(served);
                    return Ok(());
                }
                Ok(Ok(n)) => n,
                // A peer that hangs up between messages without close_notify is not an error.
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    closed(served);
                    return Ok(());
                }
                Ok(Err(e)) => return Err(KmipError::io("reading a message header", e)),
            },
            _ = stop.changed() => {
                closed(served);
                return Ok(());
            }
        };
        if n == 0 {
            closed(served);
            return Ok(());
        }
        served += 1;
        let mut rest = (&first[..]).chain(&mut stream);
        let read =
            tokio::time::timeout(bounds.read_timeout, read_message_bytes(&mut rest, &limits));
        let bytes = tokio::select! {
            r = read => match r {
                Err(_) => {
                    return Err(KmipError::Tls(format!(
                        "dropped '{identity}': a message took longer than {:?} to arrive \
                         (--read-timeout)",
                        bounds.read_timeout
                    )));
                }
                Ok(Ok(Some(b))) => b,
                Ok(Ok(None)) => return Ok(()),
                Ok(Err(e)) => return Err(e),
            },
            _ = stop.changed() => return Ok(()),
        };
        // A malformed message closes this connection only; the caller logs why.
        let request = Ttlv::decode_with(&bytes, &limits)?;
        // The store is synchronous. A request that only reads (a Get is ~10 µs of work) runs
        // inline on this worker: block_in_place would hand the worker's core to another
        // thread and back on every request, several futex wake-ups that cost more than the
        // read. A request that writes waits for its commit's fsync, so on a multi-thread
        // runtime it runs under block_in_place (the other connections keep a worker); on a
        // current-thread runtime block_in_place is not allowed, so it is called inline too.
        let multi_thread = tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread;
        let response = if multi_thread && !reads_only(&request) {
            tokio::task::block_in_place(|| handle(&shared, &identity, &request))
        } else {
            handle(&shared, &identity, &request)
        };
        tokio::time::timeout(bounds.write_timeout, write_message(&mut stream, &response))
            .await
            .map_err(|_| KmipError::Timeout("writing a response"))??;
    }
}

/// The client identity of a finished handshake (the certificate's CN or SAN, as
/// configured), refused when it names the store's local actor.
fn client_identity(
    shared: &Shared,
    stream: &tokio_rustls::server::TlsStream<TcpStream>,
) -> Result<String, KmipError> {
    {
        let (_, conn) = stream.get_ref();
        conn.peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| KmipError::Tls("client presented no certificate".into()))
            .and_then(|cert| {
                tls::identity(
                    cert,
                    shared.config.require_client_auth_eku,
                    shared.config.identity_from,
                )
            })
            .and_then(|id| {
                // The store's local actor owns what the CLI and the vault write: a client
                // named like it would own those objects.
                if id.eq_ignore_ascii_case(shared.store.actor()) {
                    Err(KmipError::Tls(format!(
                        "client certificate refused: its identity '{id}' is the store's local \
                         actor"
                    )))
                } else {
                    Ok(id)
                }
            })
    }
}

/// Accepts on the HTTPS/JSON listener, or never when there is none.
async fn accept_http(l: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Answers the next request on a connection the server will not serve (every batch item
/// fails with `why(version)`), then closes it. Waits at most the read timeout for the request.
async fn refuse<S>(
    stream: &mut S,
    bounds: &ServerLimits,
    why: &(dyn Fn(ProtocolVersion) -> (ResultReason, String) + Sync),
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let limits = Limits::default();
    let answer = async {
        let Ok(Some(bytes)) = read_message_bytes(stream, &limits).await else {
            return;
        };
        let Ok(request) = Ttlv::decode_with(&bytes, &limits) else {
            return;
        };
        let response = refusal(&request, why);
        let _ = write_message(stream, &response).await;
    };
    let _ = tokio::time::timeout(bounds.read_timeout + bounds.write_timeout, answer).await;
    let _ = tokio::io::AsyncWriteExt::shutdown(stream).await;
}

/// A response failing every batch item of `request` with `why(version)`.
fn refusal(
    request: &Ttlv,
    why: &(dyn Fn(ProtocolVersion) -> (ResultReason, String) + Sync),
) -> Ttlv {
    let now = tresor_store::now();
    match RequestMessage::from_ttlv(request) {
        Ok(msg) => {
            let version = answer_version(msg.header.protocol_version);
            let (reason, message) = why(version);
            let items = fail_every_item(&msg, reason, message);
            let mut resp = ResponseMessage::new(version, now, items);
            resp.header.client_correlation_value = msg.header.client_correlation_value.clone();
            resp.into_ttlv()
        }
        Err(_) => {
            let (reason, message) = why(ProtocolVersion::V1_0);
            let item = ResponseBatchItem::failure(None, None, reason, message);
            ResponseMessage::new(ProtocolVersion::V1_0, now, vec![item]).into_ttlv()
        }
    }
}

/// The version to answer `asked` in: itself when supported, else the closest one spoken.
fn answer_version(asked: ProtocolVersion) -> ProtocolVersion {
    if ProtocolVersion::SUPPORTED.contains(&asked) {
        return asked;
    }
    ProtocolVersion::SUPPORTED
        .iter()
        .copied()
        .find(|v| v.major == asked.major && *v <= asked)
        .unwrap_or(ProtocolVersion::V1_0)
}

/// Operations that read the store, run inline. They seldom commit: Get once per object, the
/// first time it is served (its Fresh flag), and a cryptographic operation on an object with
/// Usage Limits (its count); such a commit then runs on the worker too.
const READ_OPERATIONS: &[Operation] = &[
    Operation::GET,
    Operation::GET_ATTRIBUTES,
    Operation::GET_ATTRIBUTE_LIST,
    Operation::LOCATE,
    Operation::CHECK,
    Operation::QUERY,
    Operation::DISCOVER_VERSIONS,
    Operation::ENCRYPT,
    Operation::DECRYPT,
    Operation::SIGN,
    Operation::SIGNATURE_VERIFY,
    Operation::MAC,
    Operation::MAC_VERIFY,
    Operation::RNG_RETRIEVE,
    Operation::HASH,
];

/// Returns true if and only if every batch item of `request` names an operation of
/// [`READ_OPERATIONS`] (a message that is not a valid request answers an error: no write).
fn reads_only(request: &Ttlv) -> bool {
    request
        .find_all(crate::tags::Tag::BATCH_ITEM)
        .filter_map(|item| item.find(crate::tags::Tag::OPERATION))
        .all(|op| {
            op.as_enumeration()
                .is_some_and(|op| READ_OPERATIONS.contains(&Operation(op)))
        })
}

/// Answers one decoded request message as `identity`; writes its access line and counts it.
fn handle(shared: &Shared, identity: &str, request: &Ttlv) -> Ttlv {
    let start = std::time::Instant::now();
    let response = answer(shared, identity, request);
    let access = tracing::enabled!(target: "tresor::kmip::access", tracing::Level::INFO);
    if access || shared.metrics.is_some() {
        account(shared, identity, &response, start.elapsed(), access);
    }
    response
}

/// One batch item of a response, as the access line and the metrics see it.
struct ItemSummary<'a> {
    operation: &'static str,
    result: &'static str,
    uid: Option<&'a str>,
}

/// Reads what the access line and the metrics need from a response: each item's operation,
/// result (`Success` or the reason) and first unique identifier. Never a payload's value.
fn summarize(response: &Ttlv) -> Vec<ItemSummary<'_>> {
    use crate::tags::Tag;
    response
        .find_all(Tag::BATCH_ITEM)
        .map(|item| {
            let operation = item
                .find(Tag::OPERATION)
                .and_then(Ttlv::as_enumeration)
                .and_then(|o| Operation(o).name())
                .unwrap_or("Unknown");
            let status = item
                .find(Tag::RESULT_STATUS)
                .and_then(Ttlv::as_enumeration)
                .map(ResultStatus);
            let result = if status == Some(ResultStatus::SUCCESS) {
                "Success"
            } else {
                item.find(Tag::RESULT_REASON)
                    .and_then(Ttlv::as_enumeration)
                    .and_then(|r| ResultReason(r).name())
                    .or_else(|| status.and_then(ResultStatus::name))
                    .unwrap_or("Unknown")
            };
            let uid = item
                .find(Tag::RESPONSE_PAYLOAD)
                .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
                .and_then(Ttlv::as_text);
            ItemSummary {
                operation,
                result,
                uid,
            }
        })
        .collect()
}

/// Writes the access line of one request message and counts it in the metrics.
fn account(shared: &Shared, identity: &str, response: &Ttlv, elapsed: Duration, access: bool) {
    let items = summarize(response);
    let first = items.first();
    let operation = match first {
        Some(f) if items.iter().all(|i| i.operation == f.operation) => f.operation,
        Some(_) => "Batch",
        None => "Unknown",
    };
    let failed = items.iter().find(|i| i.result != "Success");
    let result = failed.map_or("Success", |i| i.result);
    if let Some(m) = &shared.metrics {
        for i in &items {
            m.requests
                .get_or_create(&metrics::OpLabels {
                    operation: i.operation,
                    result: i.result,
                })
                .inc();
        }
        m.latency
            .get_or_create(&metrics::OpLabels { operation, result })
            .observe(elapsed.as_secs_f64());
    }
    if access {
        let ops = if items.len() == 1 {
            operation.to_owned()
        } else {
            items
                .iter()
                .map(|i| i.operation)
                .collect::<Vec<_>>()
                .join(",")
        };
        let uid = items.iter().find_map(|i| i.uid).unwrap_or("-");
        tracing::info!(
            target: "tresor::kmip::access",
            identity = %identity,
            operation = %ops,
            uid = %uid,
            result = %result,
            status = if failed.is_some() { "failure" } else { "success" },
            batch = items.len(),
            duration_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "request"
        );
    }
}

/// Counts one refused handshake in the metrics.
fn count_refusal(shared: &Shared, code: &'static str) {
    if let Some(m) = &shared.metrics {
        m.handshake_failures
            .get_or_create(&metrics::ReasonLabel { reason: code })
            .inc();
    }
}

/// Counts a connection open (after its handshake) until dropped.
struct OpenConnection(Option<Arc<metrics::Metrics>>);

impl OpenConnection {
    fn new(shared: &Shared) -> Self {
        if let Some(m) = &shared.metrics {
            m.open_connections.inc();
        }
        OpenConnection(shared.metrics.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        if let Some(m) = &self.0 {
            m.open_connections.dec();
        }
    }
}

/// Answers one decoded request message as `identity`.
fn answer(shared: &Shared, identity: &str, request: &Ttlv) -> Ttlv {
    let now = tresor_store::now();
    let msg = match RequestMessage::from_ttlv(request) {
        Ok(m) => m,
        Err(e) => {
            let version = request
                .find(crate::tags::Tag::REQUEST_HEADER)
                .and_then(|h| h.find(crate::tags::Tag::PROTOCOL_VERSION))
                .and_then(|v| ProtocolVersion::from_ttlv(v).ok())
                .filter(|v| ProtocolVersion::SUPPORTED.contains(v))
                .unwrap_or(ProtocolVersion::V1_0);
            let item = ResponseBatchItem::failure(
                None,
                None,
                ResultReason::INVALID_MESSAGE,
                format!("invalid request message: {e}"),
            );
            return ResponseMessage::new(version, now, vec![item]).into_ttlv();
        }
    };
    let asked = msg.header.protocol_version;
    if !ProtocolVersion::SUPPORTED.contains(&asked) {
        // Answer in the closest version we speak, as the spec asks.
        let version = ProtocolVersion::SUPPORTED
            .iter()
            .copied()
            .find(|v| v.major == asked.major && *v <= asked)
            .unwrap_or(ProtocolVersion::V1_0);
        let items = fail_every_item(
            &msg,
            ResultReason::UNSUPPORTED_PROTOCOL_VERSION,
            format!("protocol version {asked} is not supported"),
        );
        return ResponseMessage::new(version, now, items).into_ttlv();
    }
    if let Some(refused) = over_limits(shared, identity, &msg) {
        return refused;
    }
    let mut response = None;
    let mut head = None;
    for _attempt in 0..3 {
        match run_batch(shared, identity, &msg) {
            Ok((r, h)) => {
                response = Some(r);
                head = h;
                break;
            }
            // Lost a race with another writer (another connection or another server on the
            // same database): run the request again, so that it answers as it would have
            // after the other writer — a name taken in between is then seen by the operation
            // itself (Register keeps the Name attribute without the store name).
            Err(StoreError::Conflict(_) | StoreError::NameTaken(_)) => continue,
            Err(e) => {
                // The store's own reason (an unreachable database: Protection Storage
                // Unavailable).
                let message = format!("the store could not commit the request: {e}");
                let reason = OpError::from(e).reason;
                response = Some(fail_every_item(&msg, reason, message));
                break;
            }
        }
    }
    let items = response.unwrap_or_else(|| {
        fail_every_item(
            &msg,
            ResultReason::GENERAL_FAILURE,
            "the request conflicted with concurrent writers; retry",
        )
    });
    if let Some(log) = &shared.audit_log {
        log.record(identity, &msg.batch_items, &items, head.as_ref());
    }
    let mut resp = ResponseMessage::new(asked, now, items);
    resp.header.client_correlation_value = msg.header.client_correlation_value.clone();
    let mut out = resp.into_ttlv();
    let server_max = shared.bounds().max_response_size;
    let client_max = msg
        .header
        .maximum_response_size
        .map(|m| usize::try_from(m).unwrap_or(0));
    let max = match (client_max, server_max) {
        (Some(c), 0) => Some(c),
        (Some(c), s) => Some(c.min(s)),
        (None, 0) => None,
        (None, s) => Some(s),
    };
    let len;
    (out, len) = within_item_limit(&msg, asked, now, out);
    if let Some(max) = max
        && len > max
    {
        if client_max.is_none_or(|c| c > max) {
            tracing::warn!(
                target: "tresor::kmip",
                identity = %identity,
                "refused a request: its response of {} bytes exceeds {max} bytes \
                 (--max-response-size)",
                len
            );
        }
        let items = fail_every_item(
            &msg,
            ResultReason::RESPONSE_TOO_LARGE,
            format!("the response exceeds the maximum response size of {max} bytes"),
        );
        out = ResponseMessage::new(asked, now, items).into_ttlv();
    }
    out
}

/// `out`, or, when it holds more items than a KMIP decoder here (tresor's own client
/// included) reads back, a Response Too Large failure for every batch item; with the encoded
/// length of what is returned (measured once: the caller checks it against the maximum
/// response size). A Locate is capped at 5,000 identifiers (`ops::locate::MAX_LOCATED`), but a
/// batch of Locates is not.
pub(crate) fn within_item_limit(
    msg: &RequestMessage,
    version: ProtocolVersion,
    now: i64,
    out: Ttlv,
) -> (Ttlv, usize) {
    let max = Limits::default().max_items;
    let len = out.encoded_len();
    if !out.item_count_exceeds_len(max, len) {
        return (out, len);
    }
    let items = fail_every_item(
        msg,
        ResultReason::RESPONSE_TOO_LARGE,
        format!(
            "the response would hold more than {max} items; ask for fewer (Maximum Items and \
             Offset Items page a Locate; or send fewer batch items per request)"
        ),
    );
    let refusal = ResponseMessage::new(version, now, items).into_ttlv();
    let len = refusal.encoded_len();
    (refusal, len)
}

/// The refusal of a request over the identity's request rate or one of the server's bounds
/// (batch items, RNG bytes, key pairs): every batch item fails, nothing runs.
fn over_limits(shared: &Shared, identity: &str, msg: &RequestMessage) -> Option<Ttlv> {
    let version = msg.header.protocol_version;
    let bounds = &shared.bounds();
    let error = if shared.gate.allow_request(identity) {
        limits::over_bounds(bounds, msg)?
    } else {
        OpError::new(
            limits::limit_reason(version, ResultReason::PERMISSION_DENIED),
            format!(
                "identity '{identity}' sends more than {} requests per second \
                 (--max-requests-per-second)",
                bounds.requests_per_second
            ),
        )
    };
    tracing::warn!(
        target: "tresor::kmip",
        identity = %identity,
        "refused a request: {}",
        error.message
    );
    let items = fail_every_item(msg, error.reason, error.message);
    let mut resp = ResponseMessage::new(version, tresor_store::now(), items);
    resp.header.client_correlation_value = msg.header.client_correlation_value.clone();
    Some(resp.into_ttlv())
}

/// The answer to a request refused as a whole: every batch item fails with `reason` and
/// `message`, echoing its operation and batch item id.
fn fail_every_item(
    msg: &RequestMessage,
    reason: ResultReason,
    message: impl Into<String>,
) -> Vec<ResponseBatchItem> {
    let message = message.into();
    msg.batch_items
        .iter()
        .map(|b| {
            ResponseBatchItem::failure(
                Some(b.operation),
                b.unique_batch_item_id.clone(),
                reason,
                message.clone(),
            )
        })
        .collect()
}

/// Runs every batch item in one transaction; commits unless Undo rolled it back. Returns the
/// audit head the commit left, if it wrote audit entries.
fn run_batch(
    shared: &Shared,
    identity: &str,
    msg: &RequestMessage,
) -> Result<(Vec<ResponseBatchItem>, Option<tresor_store::AuditHead>), StoreError> {
    let version = msg.header.protocol_version;
    let option = msg
        .header
        .batch_error_continuation_option
        .unwrap_or(BatchErrorContinuationOption::STOP);
    let began = shared.metrics.as_ref().map(|_| std::time::Instant::now());
    let mut session = Session::new(&shared.store, identity, version, &shared.config.admins);
    session.streams = Some(&shared.streams);
    let mut items: Vec<ResponseBatchItem> = Vec::with_capacity(msg.batch_items.len());
    let mut failed = false;
    let empty = Ttlv::structure(crate::tags::Tag::REQUEST_PAYLOAD, Vec::new());
    for item in &msg.batch_items {
        if failed && option != BatchErrorContinuationOption::CONTINUE {
            break;
        }
        let payload = item.payload.as_ref().unwrap_or(&empty);
        let result = if item.operation == Operation::DISCOVER_VERSIONS
            || item.operation == Operation::QUERY
            || ProtocolVersion::SUPPORTED.contains(&version)
        {
            session.dispatch(item.operation, payload)
        } else {
            Err(OpError::new(
                ResultReason::UNSUPPORTED_PROTOCOL_VERSION,
                "unsupported protocol version",
            ))
        };
        match result {
            Ok(p) => items.push(ResponseBatchItem::success(
                item.operation,
                item.unique_batch_item_id.clone(),
                p,
            )),
            Err(e) => {
                failed = true;
                items.push(ResponseBatchItem::failure(
                    Some(item.operation),
                    item.unique_batch_item_id.clone(),
                    e.reason,
                    e.message,
                ));
            }
        }
    }
    if failed && option == BatchErrorContinuationOption::UNDO {
        // Dropping the session drops its transaction: nothing of this batch is stored.
        drop(session);
        for it in &mut items {
            // The payload stays (BL-M-2-21 expects the undone items' identifiers).
            if it.result_status == ResultStatus::SUCCESS {
                it.result_status = ResultStatus::OPERATION_UNDONE;
            }
        }
        return Ok((items, None));
    }
    let started = shared.metrics.as_ref().map(|_| std::time::Instant::now());
    let head = session.commit_head()?;
    if let (Some(m), Some(t), Some(b)) = (&shared.metrics, started, began) {
        match &head {
            // A write: the commit's own time.
            Some(h) => {
                m.store_commit.observe(t.elapsed().as_secs_f64());
                m.audit_chain_length
                    .set(i64::try_from(h.seq).unwrap_or(i64::MAX));
            }
            // A read: the whole store work of the batch.
            None => m.store_read.observe(b.elapsed().as_secs_f64()),
        }
    }
    Ok((items, head))
}

/// Reads the PEM certificate at `path` and returns the identity the server would derive.
///
/// # Errors
/// [`KmipError::Tls`] if the file holds no certificate or no usable name.
pub fn identity_of_cert_file(path: &Path) -> Result<String, KmipError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_file(path)
        .map_err(|e| KmipError::Tls(format!("reading '{}': {e}", path.display())))?;
    tls::identity(&der, false, IdentitySource::CommonName)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::Tag;

    fn request(ops: &[Operation]) -> Ttlv {
        let mut items = vec![Ttlv::structure(Tag::REQUEST_HEADER, Vec::new())];
        for op in ops {
            items.push(Ttlv::structure(
                Tag::BATCH_ITEM,
                vec![Ttlv::enumeration(Tag::OPERATION, op.0)],
            ));
        }
        Ttlv::structure(Tag::REQUEST_MESSAGE, items)
    }

    /// Only a batch made of reads runs inline; one write anywhere in it sends the whole
    /// message to block_in_place.
    #[test]
    fn reads_only_needs_every_item_to_read() {
        assert!(reads_only(&request(&[Operation::GET])));
        assert!(reads_only(&request(&[
            Operation::LOCATE,
            Operation::GET_ATTRIBUTES,
            Operation::ENCRYPT,
        ])));
        assert!(!reads_only(&request(&[Operation::CREATE])));
        assert!(!reads_only(&request(&[Operation::GET, Operation::DESTROY])));
        assert!(!reads_only(&request(&[
            Operation::LOCATE,
            Operation::ACTIVATE
        ])));
        assert!(!reads_only(&request(&[Operation(0x7777)])));
    }
}
