//! One connection on the binary KMIP listener: the TLS handshake, the client identity, the
//! message loop, the refusal of a connection the server will not serve, and which requests
//! run inline.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::accounting::{OpenConnection, count_refusal};
use super::answer::{fail_every_item, handle};
use super::{ServerLimits, Shared, handshake, limits, tls};
use crate::enums::{Operation, ResultReason};
use crate::error::KmipError;
use crate::message::{ProtocolVersion, RequestMessage, ResponseBatchItem, ResponseMessage};
use crate::ttlv::stream::{read_message_bytes, write_message};
use crate::ttlv::{Limits, Ttlv};

pub(super) async fn connection(
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
        // read. A request that writes waits for its commit's fsync: see `blocking` for where
        // it runs.
        let response = if reads_only(&request) {
            handle(&shared, &identity, &request)
        } else {
            let lone = shared.gate.open_now() <= 1;
            shared
                .inline_writes
                .run(lone, || handle(&shared, &identity, &request))
        };
        tokio::time::timeout(bounds.write_timeout, write_message(&mut stream, &response))
            .await
            .map_err(|_| KmipError::Timeout("writing a response"))??;
    }
}

/// The client identity of a finished handshake (the certificate's CN or SAN, as
/// configured), refused when it names the store's local actor.
pub(super) fn client_identity(
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

/// Returns true if and only if every batch item of `request` names an operation of
/// the operation table marks read-only (a message that is not a valid request answers an
/// error: no write).
pub(super) fn reads_only(request: &Ttlv) -> bool {
    request
        .find_all(crate::tags::Tag::BATCH_ITEM)
        .filter_map(|item| item.find(crate::tags::Tag::OPERATION))
        .all(|op| {
            op.as_enumeration()
                .is_some_and(|op| crate::ops::table::is_read_only(Operation(op)))
        })
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
