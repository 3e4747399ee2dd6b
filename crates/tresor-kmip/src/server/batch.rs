//! Running the batch items of one request in one store transaction, under its Batch Error
//! Continuation Option.

use tresor_store::StoreError;

use super::Shared;
use crate::enums::{BatchErrorContinuationOption, Operation, ResultReason, ResultStatus};
use crate::message::{ProtocolVersion, RequestMessage, ResponseBatchItem};
use crate::ops::{OpError, Session};
use crate::ttlv::Ttlv;

/// Runs every batch item in one transaction; commits unless Undo rolled it back. Returns the
/// audit head the commit left, if it wrote audit entries.
pub(super) fn run_batch(
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
    session.key_cache = Some(&shared.key_cache);
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
    let changed = std::mem::take(&mut session.changed);
    let head = session.commit_head()?;
    // Prompt zeroization only: an entry of a changed object no longer matches its stored
    // state (its revision moved), so it would never be used again anyway.
    for uid in &changed {
        shared.key_cache.forget(uid);
    }
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
