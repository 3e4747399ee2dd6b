//! Object lifecycle: `check`, `activate`, `revoke`, `destroy`, `re-key`.

use std::process::ExitCode;

use super::{Conn, uid};
use crate::kmip::args::{ConnArgs, enum_value};
use crate::kmip::usage;
use tresor_kmip::KmipError;
use tresor_kmip::enums::{self, Operation};
use tresor_kmip::payload::Payload;
use tresor_kmip::payload::create::ReKeyRequest;
use tresor_kmip::tags::Tag;
use tresor_kmip::ttlv::{Ttlv, Value};

/// Connects, calls `op` and prints the Unique Identifier of the answer.
async fn simple(c: &ConnArgs, op: Operation, payload: Vec<Ttlv>) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    conn.call_uid(op, payload).await
}

/// `check UID [--usage MASK]`.
pub(super) async fn check(
    c: &ConnArgs,
    u: &str,
    mask: Option<String>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let mut payload = vec![uid(u)];
    if let Some(m) = mask {
        let v = enums::CryptographicUsageMask::DEF
            .parse_mask(&m)
            .ok_or_else(|| usage(format!("'{m}' is not a usage mask")))?;
        payload.push(Ttlv::integer(Tag::CRYPTOGRAPHIC_USAGE_MASK, v as i32));
    }
    conn.call_print(Operation::CHECK, payload).await
}

/// `activate UID`.
pub(super) async fn activate(c: &ConnArgs, u: &str) -> Result<ExitCode, KmipError> {
    simple(c, Operation::ACTIVATE, vec![uid(u)]).await
}

/// `destroy UID`.
pub(super) async fn destroy(c: &ConnArgs, u: &str) -> Result<ExitCode, KmipError> {
    simple(c, Operation::DESTROY, vec![uid(u)]).await
}

/// `revoke UID [--reason R] [--message M] [--compromise-date SECONDS]`.
pub(super) async fn revoke(
    c: &ConnArgs,
    u: &str,
    reason: &str,
    message: Option<String>,
    compromise_date: Option<i64>,
) -> Result<ExitCode, KmipError> {
    let code = enum_value(
        &enums::RevocationReasonCode::DEF,
        "revocation reason",
        reason,
    )?;
    let mut r = vec![Ttlv::enumeration(Tag::REVOCATION_REASON_CODE, code)];
    if let Some(m) = message {
        r.push(Ttlv::text(Tag::REVOCATION_MESSAGE, m));
    }
    let mut payload = vec![uid(u), Ttlv::structure(Tag::REVOCATION_REASON, r)];
    if let Some(d) = compromise_date {
        payload.push(Ttlv::new(
            Tag::COMPROMISE_OCCURRENCE_DATE,
            Value::DateTime(d),
        ));
    }
    simple(c, Operation::REVOKE, payload).await
}

/// `re-key UID [--offset SECONDS]`.
pub(super) async fn re_key(
    c: &ConnArgs,
    u: &str,
    offset: Option<u32>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let req = ReKeyRequest {
        offset,
        ..ReKeyRequest::new(u)
    };
    conn.call_uid(Operation::RE_KEY, req.to_items(conn.version))
        .await
}
