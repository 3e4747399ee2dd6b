//! What each request and connection leaves behind: the access log line and the metrics
//! counts (requests, latency, refused handshakes, open connections).

use std::sync::Arc;
use std::time::Duration;

use super::{Shared, metrics};
use crate::enums::{Operation, ResultReason, ResultStatus};
use crate::ttlv::Ttlv;

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
pub(super) fn account(
    shared: &Shared,
    identity: &str,
    response: &Ttlv,
    elapsed: Duration,
    access: bool,
) {
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
pub(super) fn count_refusal(shared: &Shared, code: &'static str) {
    if let Some(m) = &shared.metrics {
        m.handshake_failures
            .get_or_create(&metrics::ReasonLabel { reason: code })
            .inc();
    }
}

/// Counts a connection open (after its handshake) until dropped.
pub(super) struct OpenConnection(Option<Arc<metrics::Metrics>>);

impl OpenConnection {
    pub(super) fn new(shared: &Shared) -> Self {
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
