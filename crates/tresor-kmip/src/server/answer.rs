//! Answering one decoded request message: the protocol version, the server's bounds, the
//! batch (run again when it lost a race with another writer), the audit stream and the
//! response size limits.

use tresor_store::StoreError;

use super::accounting::account;
use super::batch::run_batch;
use super::{Shared, limits};
use crate::enums::ResultReason;
use crate::message::{ProtocolVersion, RequestMessage, ResponseBatchItem, ResponseMessage};
use crate::ops::OpError;
use crate::ttlv::{Limits, Ttlv};

/// Answers one decoded request message as `identity`; writes its access line and counts it.
pub(super) fn handle(shared: &Shared, identity: &str, request: &Ttlv) -> Ttlv {
    let start = std::time::Instant::now();
    let response = answer(shared, identity, request);
    let access = tracing::enabled!(target: "tresor::kmip::access", tracing::Level::INFO);
    if access || shared.metrics.is_some() {
        account(shared, identity, &response, start.elapsed(), access);
    }
    response
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
pub(super) fn fail_every_item(
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
