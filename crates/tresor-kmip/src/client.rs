//! A KMIP client over mutual TLS (tokio + rustls).
//!
//! [`KmipClient`] keeps one TLS connection open and reuses it for every request; a request
//! that finds the connection closed by the server reconnects once. Every connect, handshake
//! and request is bounded by a timeout, and responses are read with the [`Limits`] of the
//! TTLV codec, so a misbehaving server cannot make the client allocate without bound.
//!
//! [`BlockingKmipClient`] is the same client without an async runtime, for callers that
//! wait for each answer anyway (the Python wheel): it saves the runtime's readiness polling
//! (one `epoll_wait` and its wake-up per request).
//!
//! [`ClientConfig::from_pykmip_conf`] reads the `[client]` section of a PyKMIP `pykmip.conf`
//! so existing PyKMIP setups work unchanged.
//!
//! # Examples
//! ```no_run
//! use tresor_kmip::client::{ClientConfig, KmipClient};
//! use tresor_kmip::enums::Operation;
//! # async fn demo() -> Result<(), tresor_kmip::KmipError> {
//! let config = ClientConfig::from_pykmip_conf("pykmip.conf".as_ref(), "client")?;
//! let client = KmipClient::new(config)?;
//! let item = client.call(Operation::DISCOVER_VERSIONS, vec![]).await?;
//! println!("{:?}", item.result_status);
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::enums::{Operation, ResultStatus};
use crate::error::KmipError;
use crate::message::{ProtocolVersion, RequestMessage, ResponseBatchItem, ResponseMessage};
use crate::payload::{Payload, Request};
use crate::ttlv::stream::{read_message_bytes, write_message};
use crate::ttlv::{Limits, Ttlv};

mod blocking;
mod secrets;
pub use blocking::BlockingKmipClient;
pub use secrets::{Condition, Removal, SecretDescription, SecretsClient};

/// The KMIP port registered with IANA.
pub const DEFAULT_PORT: u16 = 5696;

/// Where and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Server host name or IP address.
    pub host: String,
    /// Server port (default 5696).
    pub port: u16,
    /// The name to verify the server certificate against (default: `host`).
    pub server_name: Option<String>,
    /// Client certificate chain (PEM).
    pub certfile: PathBuf,
    /// Client private key (PEM, PKCS#8, PKCS#1 or SEC1).
    pub keyfile: PathBuf,
    /// CA certificates that sign the server certificate (PEM).
    pub ca_certs: PathBuf,
    /// Timeout for TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Timeout for one request and its response.
    pub request_timeout: Duration,
    /// Protocol version for requests built by [`KmipClient::call`].
    pub protocol_version: ProtocolVersion,
    /// Bounds on responses.
    pub limits: Limits,
}

impl ClientConfig {
    /// A config with default port, timeouts (10 s connect, 30 s request) and KMIP 1.4.
    pub fn new(
        host: impl Into<String>,
        certfile: impl Into<PathBuf>,
        keyfile: impl Into<PathBuf>,
        ca_certs: impl Into<PathBuf>,
    ) -> Self {
        ClientConfig {
            host: host.into(),
            port: DEFAULT_PORT,
            server_name: None,
            certfile: certfile.into(),
            keyfile: keyfile.into(),
            ca_certs: ca_certs.into(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            protocol_version: ProtocolVersion::V1_4,
            // Responses up to the server's default maximum response size (8 MiB).
            limits: Limits {
                max_message: 8 << 20,
                ..Limits::default()
            },
        }
    }

    /// Reads section `section` (usually `client`) of a PyKMIP `pykmip.conf`.
    ///
    /// Understood keys: `host`, `port`, `certfile`, `keyfile`, `ca_certs`, `timeout`
    /// (seconds), `kmip_version` (`1.0`..`2.1`), `server_name`. PyKMIP's `cert_reqs`,
    /// `ssl_version`, `do_handshake_on_connect` and `suppress_ragged_eofs` are accepted and
    /// ignored: certificates are always required and TLS 1.2+ is always used. `username` and
    /// `password` are not supported (mutual TLS identifies the client). Relative paths are
    /// relative to the file's directory.
    ///
    /// # Errors
    /// [`KmipError::Io`] if the file cannot be read, [`KmipError::Config`] for a missing
    /// section or key, or an invalid value.
    pub fn from_pykmip_conf(path: &Path, section: &str) -> Result<Self, KmipError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| KmipError::io(format!("reading '{}'", path.display()), e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_pykmip_str(&text, section, base, &path.display().to_string())
    }

    pub(crate) fn from_pykmip_str(
        text: &str,
        section: &str,
        base: &Path,
        origin: &str,
    ) -> Result<Self, KmipError> {
        let cfg_err = |reason: String| KmipError::Config {
            path: origin.to_owned(),
            reason,
        };
        let mut current: Option<String> = None;
        let mut found = false;
        let mut kv: Vec<(String, String)> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                current = Some(name.trim().to_owned());
                found |= name.trim() == section;
                continue;
            }
            if current.as_deref() != Some(section) {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .or_else(|| line.split_once(':'))
                .ok_or_else(|| cfg_err(format!("line {}: expected 'key = value'", n + 1)))?;
            kv.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        if !found {
            return Err(cfg_err(format!("no [{section}] section")));
        }
        let get = |k: &str| {
            kv.iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let need = |k: &str| get(k).ok_or_else(|| cfg_err(format!("[{section}] has no '{k}'")));
        let path_of = |v: &str| {
            let p = PathBuf::from(v);
            if p.is_absolute() { p } else { base.join(p) }
        };
        let mut c = ClientConfig::new(
            need("host")?,
            path_of(need("certfile")?),
            path_of(need("keyfile")?),
            path_of(need("ca_certs")?),
        );
        if let Some(p) = get("port") {
            c.port = p
                .parse()
                .map_err(|_| cfg_err(format!("port '{p}' is not a port number")))?;
        }
        if let Some(t) = get("timeout") {
            let secs: f64 = t
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s < 86_400.0)
                .ok_or_else(|| cfg_err(format!("timeout '{t}' is not a number of seconds")))?;
            c.request_timeout = Duration::from_secs_f64(secs);
            c.connect_timeout = Duration::from_secs_f64(secs);
        }
        if let Some(v) = get("kmip_version") {
            c.protocol_version = ProtocolVersion::SUPPORTED
                .into_iter()
                .find(|pv| pv.to_string() == v)
                .ok_or_else(|| cfg_err(format!("kmip_version '{v}' is not 1.0-2.1")))?;
        }
        if let Some(s) = get("server_name") {
            c.server_name = Some(s.to_owned());
        }
        if get("username").is_some() || get("password").is_some() {
            return Err(cfg_err(
                "username/password authentication is not supported; use client certificates"
                    .to_owned(),
            ));
        }
        Ok(c)
    }

    /// The name the server's certificate must carry: `server_name`, else `host`.
    ///
    /// # Errors
    /// [`KmipError::Tls`] if it is neither a DNS name nor an IP address.
    pub fn tls_server_name(&self) -> Result<ServerName<'static>, KmipError> {
        let name = self.server_name.as_deref().unwrap_or(&self.host);
        ServerName::try_from(name.to_owned())
            .map_err(|e| KmipError::Tls(format!("server name '{name}': {e}")))
    }

    /// Builds the rustls configuration: the CA roots, the client certificate and key.
    ///
    /// # Errors
    /// [`KmipError::Tls`] naming the file that could not be used.
    pub fn tls_config(&self) -> Result<rustls::ClientConfig, KmipError> {
        let tls = |what: &str, p: &Path, e: &dyn std::fmt::Display| {
            KmipError::Tls(format!("{what} '{}': {e}", p.display()))
        };
        let mut roots = rustls::RootCertStore::empty();
        let cas = CertificateDer::pem_file_iter(&self.ca_certs)
            .map_err(|e| tls("reading CA file", &self.ca_certs, &e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| tls("parsing CA file", &self.ca_certs, &e))?;
        if cas.is_empty() {
            return Err(tls("CA file", &self.ca_certs, &"no certificate"));
        }
        for ca in cas {
            roots
                .add(ca)
                .map_err(|e| tls("adding CA from", &self.ca_certs, &e))?;
        }
        let chain = CertificateDer::pem_file_iter(&self.certfile)
            .map_err(|e| tls("reading certificate file", &self.certfile, &e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| tls("parsing certificate file", &self.certfile, &e))?;
        if chain.is_empty() {
            return Err(tls("certificate file", &self.certfile, &"no certificate"));
        }
        let key = PrivateKeyDer::from_pem_file(&self.keyfile)
            .map_err(|e| tls("reading key file", &self.keyfile, &e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| KmipError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| tls("using key", &self.keyfile, &e))
    }
}

/// A KMIP client holding one reusable mutual-TLS connection.
pub struct KmipClient {
    config: ClientConfig,
    connector: TlsConnector,
    server_name: ServerName<'static>,
    conn: Mutex<Option<TlsStream<TcpStream>>>,
}

impl std::fmt::Debug for KmipClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmipClient")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .finish_non_exhaustive()
    }
}

impl KmipClient {
    /// Makes a client; no connection is opened until the first request.
    ///
    /// # Errors
    /// [`KmipError::Tls`] if the certificate files cannot be used or the server name is
    /// invalid.
    pub fn new(config: ClientConfig) -> Result<Self, KmipError> {
        Ok(KmipClient {
            connector: TlsConnector::from(Arc::new(config.tls_config()?)),
            server_name: config.tls_server_name()?,
            conn: Mutex::new(None),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    async fn connect(&self) -> Result<TlsStream<TcpStream>, KmipError> {
        let addr = (self.config.host.as_str(), self.config.port);
        let fut = async {
            let tcp = TcpStream::connect(addr).await.map_err(|e| {
                KmipError::io(
                    format!("connecting to {}:{}", self.config.host, self.config.port),
                    e,
                )
            })?;
            tcp.set_nodelay(true)
                .map_err(|e| KmipError::io("setting TCP_NODELAY", e))?;
            self.connector
                .connect(self.server_name.clone(), tcp)
                .await
                .map_err(|e| KmipError::io("TLS handshake", e))
        };
        tokio::time::timeout(self.config.connect_timeout, fut)
            .await
            .map_err(|_| KmipError::Timeout("connect"))?
    }

    /// Sends one request message and reads one response message, reusing the connection.
    ///
    /// If the kept connection turns out to be closed before any response byte arrives, the
    /// client reconnects and sends once more.
    ///
    /// # Errors
    /// [`KmipError::Io`], [`KmipError::Timeout`], or a decoding error for a bad response.
    pub async fn send(&self, request: &Ttlv) -> Result<Ttlv, KmipError> {
        let mut guard = self.conn.lock().await;
        for attempt in 0..2 {
            let reused = guard.is_some();
            let mut stream = match guard.take() {
                Some(s) => s,
                None => self.connect().await?,
            };
            let round = async {
                write_message(&mut stream, request).await?;
                read_message_bytes(&mut stream, &self.config.limits).await
            };
            let result = tokio::time::timeout(self.config.request_timeout, round)
                .await
                .map_err(|_| KmipError::Timeout("request"))?;
            match Round::of(result, reused && attempt == 0, &self.config.limits)? {
                Round::Answered(t) => {
                    *guard = Some(stream);
                    return Ok(t);
                }
                Round::Again => {}
            }
        }
        Err(Round::gave_up())
    }

    /// Sends a typed request and parses the response.
    ///
    /// # Errors
    /// As [`KmipClient::send`], plus [`KmipError`] for a malformed response.
    pub async fn request(&self, msg: &RequestMessage) -> Result<ResponseMessage, KmipError> {
        ResponseMessage::from_ttlv(&self.send(&msg.to_ttlv()).await?)
    }

    /// Runs one operation with the payload fields `payload` and returns its result item.
    ///
    /// # Errors
    /// As [`KmipClient::request`]; a response without batch items is
    /// [`KmipError::MissingField`].
    pub async fn call(
        &self,
        operation: Operation,
        payload: Vec<Ttlv>,
    ) -> Result<ResponseBatchItem, KmipError> {
        let msg = RequestMessage::single(self.config.protocol_version, operation, payload);
        first_item(self.request(&msg).await?)
    }

    /// Runs a typed request ([`crate::payload`]) in the configured protocol version and
    /// reads its typed response.
    ///
    /// # Errors
    /// As [`KmipClient::call`]; [`KmipError::Failed`] when the server answers with a failure,
    /// [`KmipError::Payload`] when its response payload does not fit the response type.
    ///
    /// # Examples
    /// ```no_run
    /// use tresor_kmip::client::KmipClient;
    /// use tresor_kmip::payload::get::GetRequest;
    /// # async fn demo(client: &KmipClient) -> Result<(), tresor_kmip::KmipError> {
    /// let got = client.perform(&GetRequest::new("42")).await?;
    /// let secret = got.secret_data()?;
    /// # Ok(()) }
    /// ```
    pub async fn perform<R: Request>(&self, request: &R) -> Result<R::Response, KmipError> {
        let payload = request.to_items(self.config.protocol_version);
        typed_response::<R>(&self.call(R::OPERATION, payload).await?)
    }

    /// Closes the kept connection, if any (with a TLS close_notify).
    pub async fn close(&self) {
        if let Some(mut s) = self.conn.lock().await.take() {
            use tokio::io::AsyncWriteExt;
            // Closing is best effort: the connection is dropped either way.
            let _ = s.shutdown().await;
        }
    }
}

/// The outcome of one write-then-read round on a connection.
enum Round {
    /// The response message.
    Answered(Ttlv),
    /// The kept connection was closed by the server before any response byte: send once
    /// more on a fresh one.
    Again,
}

impl Round {
    /// Decides on the `result` of a round; `may_retry` is true on the first try over a kept
    /// (not a fresh) connection.
    fn of(
        result: Result<Option<Vec<u8>>, KmipError>,
        may_retry: bool,
        limits: &Limits,
    ) -> Result<Round, KmipError> {
        match result {
            Ok(Some(bytes)) => Ok(Round::Answered(Ttlv::decode_with(&bytes, limits)?)),
            Ok(None) | Err(KmipError::Io { .. }) if may_retry => Ok(Round::Again),
            Ok(None) => Err(KmipError::io(
                "reading a response",
                std::io::ErrorKind::UnexpectedEof.into(),
            )),
            Err(e) => Err(e),
        }
    }

    /// The error after both tries found a closed connection.
    fn gave_up() -> KmipError {
        KmipError::io(
            "reading a response",
            std::io::ErrorKind::ConnectionReset.into(),
        )
    }
}

/// The typed response of `R` in a result item: its payload when the operation succeeded,
/// else [`KmipError::Failed`] with the Result Reason and Message.
pub(crate) fn typed_response<R: Request>(
    item: &ResponseBatchItem,
) -> Result<R::Response, KmipError> {
    if item.result_status != ResultStatus::SUCCESS {
        return Err(KmipError::Failed {
            operation: R::OPERATION
                .name()
                .map_or_else(|| R::OPERATION.to_string(), str::to_owned),
            reason: item
                .result_reason
                .map(|r| r.name().map_or_else(|| r.to_string(), str::to_owned))
                .unwrap_or_else(|| "unknown".into()),
            message: item.result_message.clone().unwrap_or_default(),
        });
    }
    let empty = Ttlv::structure(crate::tags::Tag::RESPONSE_PAYLOAD, Vec::new());
    Ok(R::Response::from_ttlv(
        item.payload.as_ref().unwrap_or(&empty),
    )?)
}

/// The result item of a one-item response.
fn first_item(resp: ResponseMessage) -> Result<ResponseBatchItem, KmipError> {
    resp.batch_items
        .into_iter()
        .next()
        .ok_or(KmipError::MissingField {
            parent: crate::tags::Tag::RESPONSE_MESSAGE,
            field: crate::tags::Tag::BATCH_ITEM,
        })
}

#[cfg(test)]
#[path = "client_test.rs"]
mod tests;
