//! `tresor kmip doctor`: checks a KMIP server connection step by step and says what is wrong.
//!
//! Rows, in order: `files` (the client's certificate, key and CA files), `tcp`, `tls`
//! (version and suite negotiated), `server-certificate` (chain to the CA given, dates),
//! `hostname` (the name connected to is in the server certificate), `client-certificate`
//! (dates, clientAuth extended key usage), `discover-versions`, `query`. A failed row has a
//! hint; rows after a failure that makes them meaningless are `skip`. The server's
//! certificate is checked but the handshake is finished even when it fails, so that the
//! version and suite can be shown; no KMIP request is sent to a server whose certificate
//! did not verify.
//!
//! Exit code: 0 when every row passed, 1 when one failed, 2 for a usage error.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::CertificateError;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::args::ConnArgs;
use tresor_kmip::KmipError;
use tresor_kmip::client::ClientConfig;
use tresor_kmip::enums::{QueryFunction, ResultStatus};
use tresor_kmip::message::{ProtocolVersion, RequestMessage, ResponseBatchItem, ResponseMessage};
use tresor_kmip::payload::query::{
    DiscoverVersionsRequest, DiscoverVersionsResponse, QueryRequest, QueryResponse,
};
use tresor_kmip::payload::{Payload, Request};
use tresor_kmip::tags::Tag;
use tresor_kmip::ttlv::Ttlv;
use tresor_kmip::ttlv::stream::{read_message_bytes, write_message};

mod certs;
mod hints;
mod report;

/// A UNIX time as `YYYY-MM-DDTHH:MM:SSZ` (certificate times: X.509 years end at 9999).
fn unix_time(secs: u64) -> String {
    tresor_kmip::json::unix_to_rfc3339(i64::try_from(secs).unwrap_or(i64::MAX))
}

use certs::{Recording, facts, now, read_files};
use hints::io_detail;
use report::{Report, print};

/// Sends one request on `stream` and reads the response.
///
/// The error is (what happened, a hint).
async fn exchange<S>(
    stream: &mut S,
    msg: &RequestMessage,
) -> Result<ResponseMessage, (String, String)>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let closed = || {
        "the server closed the connection: it may have refused the client certificate (TLS \
         1.3 sends that refusal with the first answer); its log says why"
            .to_owned()
    };
    let kmip_err = |e: KmipError| match &e {
        KmipError::Io { source, .. } => io_detail(source),
        other => (other.to_string(), closed()),
    };
    let limits = tresor_kmip::ttlv::Limits::default();
    write_message(stream, &msg.to_ttlv())
        .await
        .map_err(kmip_err)?;
    let bytes = read_message_bytes(stream, &limits)
        .await
        .map_err(kmip_err)?
        .ok_or_else(|| {
            (
                "the server closed the connection without an answer".to_owned(),
                closed(),
            )
        })?;
    let t = Ttlv::decode_with(&bytes, &limits)
        .map_err(|e| (e.to_string(), "not a KMIP answer".to_owned()))?;
    ResponseMessage::from_ttlv(&t).map_err(|e| (e.to_string(), "not a KMIP answer".to_owned()))
}

/// Runs the checks against the server of `cfg`.
async fn diagnose(cfg: &ClientConfig, timeout: Duration) -> Report {
    let mut r = Report::default();
    let all_after_files = [
        "tcp",
        "tls",
        "server-certificate",
        "hostname",
        "client-certificate",
        "discover-versions",
        "query",
    ];
    let Some((roots, client)) = read_files(cfg, &mut r) else {
        r.skip(&all_after_files, "the files could not be read");
        return r;
    };
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let t0 = Instant::now();
    let tcp = match tokio::time::timeout(timeout, TcpStream::connect((cfg.host.as_str(), cfg.port)))
        .await
    {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            r.fail(
                "tcp",
                format!("{addr}: {e}"),
                "is the server running and listening on this address? (tresor kmip serve \
                 --listen; a firewall?)",
            );
            r.skip(&all_after_files[1..], "no TCP connection");
            return r;
        }
        Err(_) => {
            r.fail(
                "tcp",
                format!("{addr}: no answer within {timeout:?}"),
                "a firewall dropping packets, or the wrong host",
            );
            r.skip(&all_after_files[1..], "no TCP connection");
            return r;
        }
    };
    r.ok(
        "tcp",
        format!(
            "{addr} connected in {:.1} ms",
            t0.elapsed().as_secs_f64() * 1e3
        ),
    );
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = match WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
    {
        Ok(v) => v,
        Err(e) => {
            r.fail("tls", e.to_string(), "the CA file cannot be used");
            r.skip(&all_after_files[2..], "no TLS");
            return r;
        }
    };
    let recording = Arc::new(Recording {
        inner,
        verdict: Mutex::new(None),
        leaf: Mutex::new(None),
    });
    let client_leaf = client.as_ref().and_then(|(c, _)| c.first().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .and_then(|b| {
            let b = b
                .dangerous()
                .with_custom_certificate_verifier(recording.clone());
            match client {
                Some((chain, key)) => b
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| e.to_string()),
                None => Ok(b.with_no_client_auth()),
            }
        });
    let tls = match tls {
        Ok(t) => t,
        Err(e) => {
            r.fail(
                "tls",
                e,
                "the client key does not match the certificate, or is of an unsupported kind",
            );
            r.skip(&all_after_files[2..], "no TLS");
            return r;
        }
    };
    let host = cfg.server_name.clone().unwrap_or_else(|| cfg.host.clone());
    let Ok(name) = ServerName::try_from(host.clone()) else {
        r.fail(
            "tls",
            format!("'{host}' is not a valid server name"),
            "give a DNS name or an IP address",
        );
        r.skip(&all_after_files[2..], "no TLS");
        return r;
    };
    let connected = tokio::time::timeout(
        timeout,
        TlsConnector::from(Arc::new(tls)).connect(name, tcp),
    )
    .await;
    let mut stream = match connected {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let (detail, hint) = io_detail(&e);
            r.fail("tls", detail, hint);
            r.skip(&all_after_files[2..], "no TLS");
            return r;
        }
        Err(_) => {
            r.fail(
                "tls",
                format!("no handshake within {timeout:?}"),
                "is this a TLS port? a server that waits for plaintext never answers",
            );
            r.skip(&all_after_files[2..], "no TLS");
            return r;
        }
    };
    {
        let (_, conn) = stream.get_ref();
        let version = conn
            .protocol_version()
            .and_then(|v| v.as_str())
            .unwrap_or("?");
        let suite = conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .unwrap_or("?");
        r.ok("tls", format!("{version}, {suite}"));
    }
    let verdict = recording
        .verdict
        .lock()
        .ok()
        .and_then(|mut v| v.take())
        .unwrap_or(Ok(()));
    let leaf = recording.leaf.lock().ok().and_then(|mut l| l.take());
    let server_facts = leaf.as_ref().map(|l| facts(l.as_ref()));
    let t = now();
    let mut trusted = true;
    match (&verdict, &server_facts) {
        (Err(rustls::Error::InvalidCertificate(c)), _)
            if !matches!(
                c,
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ) =>
        {
            trusted = false;
            let (detail, hint) = match c {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => (
                    "not signed by the CA you gave".to_owned(),
                    format!(
                        "use the CA that issued the server's certificate as ca_certs/--ca \
                         (now {})",
                        cfg.ca_certs.display()
                    ),
                ),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                    format!(
                        "expired{}",
                        match &server_facts {
                            Some(Ok(f)) => format!(" at {}", unix_time(f.not_after)),
                            _ => String::new(),
                        }
                    ),
                    "the server's certificate must be renewed (or the client's clock is wrong)"
                        .to_owned(),
                ),
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                    "not valid yet".to_owned(),
                    "check the clocks of client and server".to_owned(),
                ),
                CertificateError::InvalidPurpose
                | CertificateError::InvalidPurposeContext { .. } => (
                    "its extended key usage lacks serverAuth".to_owned(),
                    "the server uses a certificate not made for servers".to_owned(),
                ),
                other => (
                    format!("{other:?}"),
                    "the server's certificate is unusable".to_owned(),
                ),
            };
            r.fail("server-certificate", detail, hint);
        }
        (_, Some(Ok(f))) => r.ok(
            "server-certificate",
            format!(
                "{}, signed by your CA, valid {} to {}",
                f.subject,
                unix_time(f.not_before),
                unix_time(f.not_after)
            ),
        ),
        (Err(e), _) => {
            trusted = false;
            r.fail(
                "server-certificate",
                e.to_string(),
                "the server's certificate did not verify",
            );
        }
        (Ok(()), _) => r.ok("server-certificate", "signed by your CA"),
    }
    // The name: webpki checks it only once the chain verified; otherwise compare with the
    // certificate's names ourselves.
    let names = match &server_facts {
        Some(Ok(f)) => f.names.join(", "),
        _ => String::new(),
    };
    let name_ok = match &verdict {
        Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => false,
        Ok(()) => true,
        Err(_) => match &server_facts {
            Some(Ok(f)) => f.names.iter().any(|n| n.eq_ignore_ascii_case(&host)),
            _ => false,
        },
    };
    if name_ok {
        r.ok(
            "hostname",
            format!("'{host}' is in the server certificate ({names})"),
        );
    } else {
        trusted = false;
        r.fail(
            "hostname",
            format!("'{host}' is not in the server certificate's names ({names})"),
            "connect with a name the certificate holds (or set server_name), or reissue the \
             server certificate with this name as a subject alternative name",
        );
    }
    match client_leaf.as_ref().map(|c| facts(c.as_ref())) {
        Some(Ok(f)) => {
            if f.not_after < t {
                r.fail(
                    "client-certificate",
                    format!("{} expired at {}", f.subject, unix_time(f.not_after)),
                    "issue a new client certificate (tresor kmip certs client DIR NAME)",
                );
            } else if f.not_before > t {
                r.fail(
                    "client-certificate",
                    format!(
                        "{} is valid only from {}",
                        f.subject,
                        unix_time(f.not_before)
                    ),
                    "check the clocks",
                );
            } else if f.client_auth == Some(false) {
                r.fail(
                    "client-certificate",
                    format!("{}: its extended key usage lacks clientAuth", f.subject),
                    "KMIP servers (tresor, PyKMIP) refuse it: issue a client certificate \
                     (tresor kmip certs client DIR NAME)",
                );
            } else {
                r.ok(
                    "client-certificate",
                    format!(
                        "{}, {}, valid until {}",
                        f.subject,
                        if f.client_auth == Some(true) {
                            "clientAuth"
                        } else {
                            "no extended key usage"
                        },
                        unix_time(f.not_after)
                    ),
                );
            }
        }
        Some(Err(e)) => r.fail(
            "client-certificate",
            format!("cannot be parsed: {e}"),
            "give a PEM X.509 certificate",
        ),
        None => r.fail(
            "client-certificate",
            "none given",
            "KMIP servers require one: give --cert and --key (certfile and keyfile in \
             pykmip.conf)",
        ),
    }
    if !trusted {
        use tokio::io::AsyncWriteExt;
        let _ = stream.shutdown().await;
        r.skip(
            &["discover-versions", "query"],
            "no KMIP request is sent to a server whose certificate did not verify",
        );
        return r;
    }
    let asked = cfg.protocol_version;
    let msg = request(asked, &DiscoverVersionsRequest::supported());
    let mut version = asked;
    match tokio::time::timeout(timeout, exchange(&mut stream, &msg)).await {
        Ok(Ok(resp)) => match resp.batch_items.first() {
            Some(b) if b.result_status == ResultStatus::SUCCESS => {
                let vs: Vec<ProtocolVersion> = answer::<DiscoverVersionsResponse>(b)
                    .map(|r| r.protocol_versions)
                    .unwrap_or_default();
                if let Some(v) = vs.first() {
                    version = *v;
                }
                r.ok(
                    "discover-versions",
                    vs.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                );
            }
            Some(b) => {
                r.fail(
                    "discover-versions",
                    format!("refused: {}", b.result_message.clone().unwrap_or_default()),
                    "the server refused this client (identity or permissions); its log says why",
                );
                r.skip(&["query"], "discover-versions failed");
                return r;
            }
            None => {
                r.fail(
                    "discover-versions",
                    "an empty response",
                    "not a KMIP server?",
                );
                r.skip(&["query"], "discover-versions failed");
                return r;
            }
        },
        Ok(Err((e, hint))) => {
            r.fail("discover-versions", e, hint);
            r.skip(&["query"], "discover-versions failed");
            return r;
        }
        Err(_) => {
            r.fail(
                "discover-versions",
                format!("no answer within {timeout:?}"),
                "is this a KMIP server? (an HTTP or other TLS server never answers TTLV)",
            );
            r.skip(&["query"], "discover-versions failed");
            return r;
        }
    }
    let msg = request(
        version,
        &QueryRequest::new([
            QueryFunction::QUERY_OPERATIONS,
            QueryFunction::QUERY_OBJECTS,
            QueryFunction::QUERY_SERVER_INFORMATION,
        ]),
    );
    match tokio::time::timeout(timeout, exchange(&mut stream, &msg)).await {
        Ok(Ok(resp)) => {
            match resp.batch_items.first() {
                Some(b) if b.result_status == ResultStatus::SUCCESS => {
                    let q = answer::<QueryResponse>(b).unwrap_or_default();
                    let ops = q.operations.len();
                    let objs = q.object_types.len();
                    let vendor = q.vendor_identification.as_deref().unwrap_or("?");
                    r.ok(
                    "query",
                    format!("KMIP {version}: {ops} operations, {objs} object types, vendor '{vendor}'"),
                );
                }
                Some(b) => r.fail(
                    "query",
                    format!("refused: {}", b.result_message.clone().unwrap_or_default()),
                    "the server refused Query for this client",
                ),
                None => r.fail("query", "an empty response", "not a KMIP server?"),
            }
        }
        Ok(Err((e, hint))) => r.fail("query", e, hint),
        Err(_) => r.fail(
            "query",
            format!("no answer within {timeout:?}"),
            "see the server's log",
        ),
    }
    use tokio::io::AsyncWriteExt;
    let _ = stream.shutdown().await;
    r
}

/// A one-item request message in `version` carrying typed request `req`.
fn request<R: Request>(version: ProtocolVersion, req: &R) -> RequestMessage {
    RequestMessage::single(version, R::OPERATION, req.to_items(version))
}

/// The payload of the successful answer `b`, read as `P`.
fn answer<P: Payload>(b: &ResponseBatchItem) -> Option<P> {
    let empty = Ttlv::structure(Tag::RESPONSE_PAYLOAD, Vec::new());
    P::from_ttlv(b.payload.as_ref().unwrap_or(&empty)).ok()
}

/// `tresor kmip doctor`.
pub(super) async fn doctor(c: &ConnArgs) -> Result<ExitCode, KmipError> {
    // A doctor also runs without a client certificate, to show what the server says.
    let cfg = if c.config.is_none() && c.cert.is_none() && c.key.is_none() {
        let mut with = c.clone();
        with.cert = Some(std::path::PathBuf::new());
        with.key = Some(std::path::PathBuf::new());
        super::client::client_config(&with)?
    } else {
        super::client::client_config(c)?
    };
    let timeout = Duration::from_secs(c.timeout.unwrap_or(10));
    let report = diagnose(&cfg, timeout).await;
    print(&report, c.json);
    Ok(if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
