//! The second door: KMIP's JSON encoding over HTTPS (`tresor kmip serve --http-listen`).
//!
//! `POST /kmip/2_1` (or `/kmip`) with a JSON TTLV body, over the same mutual TLS as the
//! binary listener: the same handshake (and its refusal log lines), the same client
//! identity rules, the same connection and per-identity limits, the same codec limits
//! (the body is read up to [`Limits::max_message`](crate::Limits) bytes, then bounded in depth,
//! items and string lengths by [`crate::json`]), the same store and the same operations.
//!
//! Two request shapes are answered:
//! - a full `RequestMessage` (the KMIP 2.1 HTTPS/JSON profile): the answer is the
//!   `ResponseMessage`, exactly what the binary door answers, in JSON;
//! - a bare operation payload whose tag is the operation's name (`{"tag":"Create",
//!   "value":[...]}`, as Cosmian's clients send to `/kmip/2_1`): it runs as a one-item KMIP
//!   2.1 request; success answers `{"tag":"CreateResponse","value":[payload]}`, a failure
//!   HTTP 422 with the result reason and message.
//!
//! `GET /version` answers `"tresor VERSION"` (a JSON string, what Cosmian's `ckms server
//! version` reads). Anything else gets an HTTP error naming what was wrong: 404 (path), 405 (method), 413
//! (body over the limit), 408 (body too slow), 400 (not JSON TTLV).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::Shared;
use super::accounting::{OpenConnection, count_refusal};
use super::answer::handle;
use super::connection::{client_identity, reads_only};
use super::handshake::{self, Refusal};
use crate::enums::{Operation, ResultStatus};
use crate::error::KmipError;
use crate::json::{JsonError, from_json, parse_value, to_json};
use crate::message::{ProtocolVersion, RequestMessage, ResponseMessage};
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// The paths KMIP JSON requests are posted to.
pub const PATHS: [&str; 2] = ["/kmip/2_1", "/kmip"];

/// `GET` here answers the server's name and version as a JSON string (Cosmian's path).
pub const VERSION_PATH: &str = "/version";

/// Serves one HTTPS connection.
pub(super) async fn connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), KmipError> {
    let _ = tcp.set_nodelay(true);
    let bounds = shared.bounds();
    // Counted and logged as the binary door counts and logs them (server.rs): connections
    // accepted, refused handshakes by reason, open connections, and a line when one closes.
    if let Some(m) = &shared.metrics {
        m.connections.inc();
    }
    let handshake = handshake::accept(tcp, peer, acceptor.config().clone(), bounds.read_timeout);
    let (stream, hello) = tokio::select! {
        r = handshake => match r {
            Ok(s) => s,
            Err(refusal) => {
                count_refusal(&shared, refusal.code);
                return Ok(());
            }
        },
        _ = stop.changed() => return Ok(()),
    };
    let identity = match client_identity(&shared, &stream) {
        Ok(id) => id,
        Err(e) => {
            let text = e.to_string();
            let code = if text.contains("clientAuth") {
                "missing-client-auth-eku"
            } else {
                "client-identity-refused"
            };
            count_refusal(&shared, code);
            handshake::log(peer, Some(&hello), &Refusal { code, detail: text });
            return Ok(());
        }
    };
    let _identity_slot = match shared.gate.identity(&identity) {
        Ok(slot) => slot,
        Err(open) => {
            tracing::warn!(
                target: "tresor::kmip::conn",
                %peer,
                identity = %identity,
                door = "https",
                "connection refused: the identity already holds {open} connections \
                 (--max-connections-per-identity)"
            );
            return Ok(());
        }
    };
    {
        // The same fields as the binary door's connection line (server.rs).
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
            door = "https",
            "connection"
        );
    }
    let _open = OpenConnection::new(&shared);
    let served = Arc::new(AtomicU64::new(0));
    let closed = {
        let (identity, served) = (identity.clone(), served.clone());
        move || {
            tracing::debug!(
                target: "tresor::kmip::conn",
                %peer,
                identity = %identity,
                requests = served.load(Ordering::Relaxed),
                door = "https",
                "connection closed"
            );
        }
    };
    let svc = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let identity = identity.clone();
        served.fetch_add(1, Ordering::Relaxed);
        async move { Ok::<_, Infallible>(answer(&shared, &identity, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(bounds.read_timeout)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => r.map_err(|e| KmipError::Tls(format!("http: {e}")))?,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
    // On an error the caller logs "connection closed on an error" instead.
    closed();
    Ok(())
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: StatusCode, message: impl Into<String>) -> Response<Full<Bytes>> {
    reply(status, json!({"error": message.into()}))
}

/// Answers one HTTP request as `identity`.
async fn answer(shared: &Shared, identity: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    // Cosmian's clients ask `GET /version` (`ckms server version`) for a JSON string; only a
    // client that passed the mutual-TLS handshake gets here.
    if req.uri().path() == VERSION_PATH && req.method() == Method::GET {
        return reply(
            StatusCode::OK,
            json!(format!("tresor {}", env!("CARGO_PKG_VERSION"))),
        );
    }
    if !PATHS.contains(&req.uri().path()) {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "no such path '{}': POST KMIP JSON to /kmip/2_1",
                req.uri().path()
            ),
        );
    }
    if req.method() != Method::POST {
        let mut r = error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} is not allowed: POST KMIP JSON", req.method()),
        );
        r.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("POST"),
        );
        return r;
    }
    let limits = shared.config.limits;
    let bounds = shared.bounds();
    let body = Limited::new(req.into_body(), limits.max_message).collect();
    let bytes = match tokio::time::timeout(bounds.read_timeout, body).await {
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body took longer than {:?} to arrive (--read-timeout)",
                    bounds.read_timeout
                ),
            );
        }
        Ok(Err(e)) => {
            return if e.is::<http_body_util::LengthLimitError>() {
                error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the body is larger than {} bytes (the message limit)",
                        limits.max_message
                    ),
                )
            } else {
                error(StatusCode::BAD_REQUEST, format!("reading the body: {e}"))
            };
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    let bad = |e: JsonError| error(StatusCode::BAD_REQUEST, e.to_string());
    let top = match parse_value(&bytes, &limits) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let top_tag = top.get("tag").and_then(serde_json::Value::as_str);
    let bare_op = top_tag
        .filter(|t| Tag::from_name(t) != Some(Tag::REQUEST_MESSAGE))
        .and_then(Operation::from_name);
    match bare_op {
        None => {
            let request = match from_json(&bytes, &limits) {
                Ok(t) => t,
                Err(e) => return bad(e),
            };
            if request.tag != Tag::REQUEST_MESSAGE {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "the body is a {} item: send a RequestMessage, or an operation's payload \
                         tagged with the operation's name",
                        top_tag.unwrap_or("?")
                    ),
                );
            }
            let response = run(shared, identity, &request);
            reply(StatusCode::OK, to_json(&response))
        }
        Some(op) => {
            // The payload's own tag is the operation's name, not a TTLV tag: read it as a
            // RequestPayload.
            let mut as_payload = top.clone();
            if let Some(o) = as_payload.as_object_mut() {
                o.insert("tag".into(), json!("RequestPayload"));
            }
            let text = as_payload.to_string();
            let payload = match from_json(text.as_bytes(), &limits) {
                Ok(t) => t,
                Err(e) => return bad(e),
            };
            let items = match payload.value {
                crate::ttlv::Value::Structure(items) => items,
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "an operation's payload must be a structure",
                    );
                }
            };
            let msg = RequestMessage::single(ProtocolVersion::V2_1, op, items);
            let response = run(shared, identity, &msg.to_ttlv());
            let name = op.name().unwrap_or("Operation");
            match ResponseMessage::from_ttlv(&response)
                .ok()
                .and_then(|r| r.batch_items.into_iter().next())
            {
                Some(b) if b.result_status == ResultStatus::SUCCESS => reply(
                    StatusCode::OK,
                    json!({
                        "tag": format!("{name}Response"),
                        "value": b.payload_items().iter().map(to_json).collect::<Vec<_>>(),
                    }),
                ),
                Some(b) => {
                    let reason = b.result_reason.and_then(|r| r.name());
                    let message = b.result_message.unwrap_or_default();
                    reply(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        json!({
                            "error": format!(
                                "{name}: {}: {message}",
                                reason.unwrap_or("OperationFailed")
                            ),
                            "result_reason": reason,
                            "result_message": message,
                        }),
                    )
                }
                None => error(StatusCode::INTERNAL_SERVER_ERROR, "no result"),
            }
        }
    }
}

/// Runs a request message exactly as the binary door does (reads inline, writes as
/// [`super::blocking`] decides).
fn run(shared: &Shared, identity: &str, request: &Ttlv) -> Ttlv {
    if reads_only(request) {
        handle(shared, identity, request)
    } else {
        shared
            .inline_writes
            .run(false, || handle(shared, identity, request))
    }
}
