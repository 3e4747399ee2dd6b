//! Prometheus metrics and health checks on a separate plain-HTTP listener
//! (`tresor kmip serve --metrics-listen 127.0.0.1:9464`, off by default).
//!
//! - `GET /metrics`: the Prometheus text exposition format (written by the `prometheus-client`
//!   crate): request counts and latency per operation and result, open connections, refused
//!   handshakes by reason, store commit and read latency, the audit chain's length.
//! - `GET /healthz`: `200 ok` while the process serves.
//! - `GET /readyz`: `200 ready` when the store answers a query and its key opens the audit
//!   key; `503` with the reason otherwise (a stopped database, a wrong key).
//!
//! The listener speaks plain HTTP and serves no object and no secret: bind it to a loopback or
//! an operations network only (see docs/SERVER.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tresor_store::Store;

/// The labels of a request counter or latency: the KMIP operation and its result (`Success`
/// or the result reason's name).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OpLabels {
    /// The operation's name (`Get`, `Create`, … or `Batch` for a message of several
    /// operations in the latency histogram).
    pub operation: &'static str,
    /// `Success` or the result reason's name.
    pub result: &'static str,
}

/// The label of a refused handshake: its reason code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabel {
    /// One of the handshake refusal codes (`unknown-ca`, `old-tls-version`, …).
    pub reason: &'static str,
}

/// Every metric the server keeps.
pub(crate) struct Metrics {
    registry: Registry,
    /// Batch items answered, per operation and result.
    pub requests: Family<OpLabels, Counter>,
    /// Request messages' latency (decode to response), per operation and result.
    pub latency: Family<OpLabels, Histogram>,
    /// Connections open now (after the handshake).
    pub open_connections: Gauge<i64, AtomicI64>,
    /// Connections accepted since the start.
    pub connections: Counter<u64, AtomicU64>,
    /// Refused handshakes per reason.
    pub handshake_failures: Family<ReasonLabel, Counter>,
    /// Store commit latency.
    pub store_commit: Histogram,
    /// Latency of the store work of a request that only reads.
    pub store_read: Histogram,
    /// The audit chain's length after the last commit seen by this server.
    pub audit_chain_length: Gauge<i64, AtomicI64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 20 µs to ~10 s.
    Histogram::new(exponential_buckets(0.000_02, 2.0, 20))
}

impl Metrics {
    /// A registry with every metric at zero.
    pub(crate) fn new() -> Arc<Metrics> {
        let mut registry = Registry::default();
        let requests = Family::<OpLabels, Counter>::default();
        let latency =
            Family::<OpLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        let open_connections = Gauge::<i64, AtomicI64>::default();
        let connections = Counter::<u64, AtomicU64>::default();
        let handshake_failures = Family::<ReasonLabel, Counter>::default();
        let store_commit = latency_histogram();
        let store_read = latency_histogram();
        let audit_chain_length = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "tresor_kmip_requests",
            "KMIP batch items answered, by operation and result",
            requests.clone(),
        );
        registry.register(
            "tresor_kmip_request_duration_seconds",
            "Time from a decoded KMIP request message to its response, by operation and result",
            latency.clone(),
        );
        registry.register(
            "tresor_kmip_open_connections",
            "KMIP connections open now (after the TLS handshake)",
            open_connections.clone(),
        );
        registry.register(
            "tresor_kmip_connections",
            "KMIP connections accepted since the start",
            connections.clone(),
        );
        registry.register(
            "tresor_kmip_handshake_failures",
            "Refused TLS handshakes, by reason",
            handshake_failures.clone(),
        );
        registry.register(
            "tresor_store_commit_duration_seconds",
            "Time a store commit takes (with its audit entries)",
            store_commit.clone(),
        );
        registry.register(
            "tresor_store_read_duration_seconds",
            "Time the store work of a request that only reads takes",
            store_read.clone(),
        );
        registry.register(
            "tresor_audit_chain_length",
            "The audit chain's length after the last commit this server made",
            audit_chain_length.clone(),
        );
        Arc::new(Metrics {
            registry,
            requests,
            latency,
            open_connections,
            connections,
            handshake_failures,
            store_commit,
            store_read,
            audit_chain_length,
        })
    }

    /// The exposition text of every metric.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` until `stop` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    store: Arc<Store>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (tcp, _peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(target: "tresor::kmip", error = %e, "metrics accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let metrics = metrics.clone();
        let store = store.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                let store = store.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&req, &metrics, store).await) }
            });
            let io = hyper_util::rt::TokioIo::new(tcp);
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(io, svc);
            let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
        });
    }
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn answer(
    req: &Request<hyper::body::Incoming>,
    metrics: &Metrics,
    store: Arc<Store>,
) -> Response<Full<Bytes>> {
    if req.method() != hyper::Method::GET {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "use GET\n".into(),
        );
    }
    match req.uri().path() {
        "/metrics" => text(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode(),
        ),
        "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" => match ready(store).await {
            Ok(()) => text(StatusCode::OK, "text/plain", "ready\n".into()),
            Err(why) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!("not ready: {why}\n"),
            ),
        },
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics, /healthz or /readyz\n".into(),
        ),
    }
}

/// The store answers a query and its key opens the audit key, within 5 seconds.
async fn ready(store: Arc<Store>) -> Result<(), String> {
    let check = tokio::task::spawn_blocking(move || {
        store
            .count()
            .map_err(|e| format!("the store does not answer: {e}"))?;
        store
            .check_key()
            .map_err(|e| format!("the store's key does not open it: {e}"))
    });
    match tokio::time::timeout(Duration::from_secs(5), check).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(format!("the store check failed: {e}")),
        Err(_) => Err("the store did not answer within 5 s".into()),
    }
}
