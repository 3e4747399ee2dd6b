//! Object lifecycle: `check`, `activate`, `revoke`, `destroy`, `re-key`.

use std::process::ExitCode;

use super::Conn;
use crate::kmip::args::{ConnArgs, enum_value};
use crate::kmip::usage;
use tresor_kmip::KmipError;
use tresor_kmip::enums;
use tresor_kmip::payload::create::ReKeyRequest;
use tresor_kmip::payload::lifecycle::{
    ActivateRequest, CheckRequest, DestroyRequest, RevocationReason, RevokeRequest,
};
use tresor_kmip::payload::{Request, UidRef};

/// Connects, sends `req` and prints the Unique Identifier of the answer.
async fn simple<R: Request>(c: &ConnArgs, req: &R) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    conn.call_uid(req).await
}

/// `check UID [--usage MASK]`.
pub(super) async fn check(
    c: &ConnArgs,
    u: &str,
    mask: Option<String>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let cryptographic_usage_mask = match mask {
        Some(m) => Some(
            enums::CryptographicUsageMask::DEF
                .parse_mask(&m)
                .ok_or_else(|| usage(format!("'{m}' is not a usage mask")))? as i32,
        ),
        None => None,
    };
    conn.call_print(&CheckRequest {
        unique_identifier: Some(UidRef::text(u)),
        cryptographic_usage_mask,
    })
    .await
}

/// `activate UID`.
pub(super) async fn activate(c: &ConnArgs, u: &str) -> Result<ExitCode, KmipError> {
    simple(c, &ActivateRequest::new(u)).await
}

/// `destroy UID`.
pub(super) async fn destroy(c: &ConnArgs, u: &str) -> Result<ExitCode, KmipError> {
    simple(c, &DestroyRequest::new(u)).await
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
    simple(
        c,
        &RevokeRequest {
            unique_identifier: Some(UidRef::text(u)),
            revocation_reason: RevocationReason {
                code: enums::RevocationReasonCode(code),
                message,
            },
            compromise_occurrence_date: compromise_date,
        },
    )
    .await
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
    conn.call_uid(&req).await
}
