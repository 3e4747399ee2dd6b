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

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tresor_store::Store;

use crate::error::KmipError;
use crate::ttlv::Limits;

mod accounting;
mod answer;
mod audit_log;
mod batch;
pub mod blocking;
pub(crate) mod conf;
pub mod config_file;
mod connection;
mod handshake;
pub mod http;
mod limits;
pub mod logging;
mod metrics;
mod tls;

pub(crate) use answer::within_item_limit;
pub use audit_log::{AuditLog, AuditReads, DEFAULT_READS};
pub use conf::from_pykmip_server_conf;
use connection::connection;
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
    /// Most keys whose unsealed material the server keeps for Encrypt, Decrypt, Sign,
    /// Signature Verify, MAC and MAC Verify (0: unseal on every use); see
    /// [`crate::ops::KeyCache`].
    pub key_cache_entries: usize,
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
            key_cache_entries: crate::ops::DEFAULT_KEY_CACHE_ENTRIES,
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
    /// (a re-read configuration file), `new`'s server limits for the requests and
    /// connections that follow, and `new`'s bound on the key cache
    /// ([`ServerConfig::key_cache_entries`]; a smaller bound evicts, and the evicted material
    /// is zeroized once no request holds it). Nothing changes unless the new TLS files all
    /// load.
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
        self.shared.key_cache.set_capacity(new.key_cache_entries);
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
    /// Unsealed keys of the cryptographic operations ([`ServerConfig::key_cache_entries`]).
    key_cache: crate::ops::KeyCache,
    /// The audit stream, if one is written ([`Server::with_audit_log`]).
    audit_log: Option<AuditLog>,
    /// The server limits in force (replaced by a reload).
    bounds: RwLock<ServerLimits>,
    /// The metrics, when a metrics listener is open ([`Server::with_metrics`]).
    metrics: Option<Arc<metrics::Metrics>>,
    /// Writes waiting for their commit on a worker now ([`blocking`]).
    inline_writes: blocking::InlineWrites,
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
                key_cache: crate::ops::KeyCache::new(config.key_cache_entries),
                config,
                streams: crate::ops::Streams::default(),
                audit_log: None,
                metrics: None,
                inline_writes: blocking::InlineWrites::default(),
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

/// Accepts on the HTTPS/JSON listener, or never when there is none.
async fn accept_http(l: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
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
    use crate::ops::key_cache::{Stamp, UnsealedKey};

    /// A reload (SIGHUP in `tresor kmip serve`) carries the re-read `key_cache_entries` to
    /// the server's cache: a smaller bound evicts at once, a larger one is used after.
    #[tokio::test]
    async fn a_reload_sets_the_key_cache_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = crate::certs::init(&dir.path().join("certs")).expect("certs");
        let kek = Arc::new(tresor_crypto::LocalKek::generate().expect("kek"));
        let store =
            Arc::new(Store::open_sqlite(&dir.path().join("t.db"), kek, "s").expect("store"));
        let mut config = ServerConfig::new(&files.server_cert, &files.server_key, &files.ca_cert);
        config.listen = "127.0.0.1:0".into();
        config.key_cache_entries = 64;
        let server = Server::bind(config.clone(), store).await.expect("bind");
        let cache = &server.shared.key_cache;
        let fill = || {
            for i in 0..500 {
                let m = Arc::new(UnsealedKey::new(tresor_crypto::SecretBytes::new(vec![
                    1;
                    32
                ])));
                cache.put(&format!("k{i}"), Stamp::for_test(1), m);
            }
        };
        fill();
        assert_eq!(cache.len(), 64);
        let reloader = server.reloader();
        for (entries, held) in [(8, 8), (0, 0), (100, 100)] {
            config.key_cache_entries = entries;
            reloader.reload_with(&config).expect("reload");
            assert_eq!(cache.capacity(), entries);
            assert!(cache.len() <= entries, "{entries}: {} held", cache.len());
            fill();
            assert_eq!(cache.len(), held, "after a reload to {entries}");
        }
        // A reload whose TLS files do not load changes nothing, the bound included.
        config.key_cache_entries = 1;
        config.cert = dir.path().join("missing.crt");
        assert!(reloader.reload_with(&config).is_err());
        assert_eq!(cache.capacity(), 100);
    }
}
