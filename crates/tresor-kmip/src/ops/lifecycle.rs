//! Lifecycle operations: Activate, Revoke and Destroy (state transitions), and Check
//! (whether an object may be used with a usage mask).

use serde_json::{Value as Json, json};
use tresor_store::State;

use super::attrs;
use super::manage::touch;
use super::{OpError, Session};
use crate::enums::{CryptographicUsageMask, ResultReason, RevocationReasonCode};
use crate::payload::Payload;
use crate::payload::lifecycle::{
    ActivateRequest, ActivateResponse, CheckRequest, CheckResponse, DestroyRequest,
    DestroyResponse, RevokeRequest, RevokeResponse,
};
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// Activate: Pre-Active → Active.
pub(crate) fn activate(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = ActivateRequest::from_ttlv(payload)?;
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
    let meta = s.load(&uid, "modify")?;
    if meta.state != State::PreActive {
        // KMIP 1.x (Activate errors): "object is not in Pre-Active state" is Permission
        // Denied; 2.x (Activate errors) answers Wrong Key Lifecycle State.
        return Err(OpError::new(
            if s.version.is_v2() {
                ResultReason::WRONG_KEY_LIFECYCLE_STATE
            } else {
                ResultReason::PERMISSION_DENIED
            },
            format!(
                "object '{uid}' is {}, only a pre-active object can be activated",
                meta.state
            ),
        ));
    }
    let now = tresor_store::now();
    s.txn.update(&uid, "activate", |m| {
        m.state = State::Active;
        m.attributes.insert("Activation Date".into(), json!(now));
        touch(m);
        Ok(())
    })?;
    s.placeholder = Some(uid.clone());
    Ok(ActivateResponse {
        unique_identifier: uid,
    }
    .to_items(s.version))
}

/// Revoke: to Deactivated, or to Compromised for a key or CA compromise.
pub(crate) fn revoke(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = RevokeRequest::from_ttlv(payload)?;
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
    let code = req.revocation_reason.code;
    let occurred = req.compromise_occurrence_date;
    let meta = s.load(&uid, "modify")?;
    let compromise = matches!(
        code,
        RevocationReasonCode::KEY_COMPROMISE | RevocationReasonCode::CA_COMPROMISE
    );
    let now = tresor_store::now();
    let to = if compromise {
        match meta.state {
            State::PreActive | State::Active | State::Deactivated => State::Compromised,
            State::Destroyed => State::DestroyedCompromised,
            s => s,
        }
    } else {
        match meta.state {
            State::Active => State::Deactivated,
            st => {
                return Err(OpError::new(
                    ResultReason::WRONG_KEY_LIFECYCLE_STATE,
                    format!(
                        "object '{uid}' is {st}; only an active object can be revoked for reason {code}"
                    ),
                ));
            }
        }
    };
    if to != meta.state {
        tresor_store::check_transition(&uid, meta.state, to)?;
    }
    let reason_json = attrs::to_json(
        Some(Tag::REVOCATION_REASON),
        &req.revocation_reason.to_ttlv().value,
    );
    s.txn.update(&uid, &format!("revoke {code}"), |m| {
        m.state = to;
        m.attributes
            .insert("Revocation Reason".into(), reason_json.clone());
        if compromise {
            m.attributes.insert("Compromise Date".into(), json!(now));
            m.attributes.insert(
                "Compromise Occurrence Date".into(),
                json!(occurred.unwrap_or(now)),
            );
        } else {
            m.attributes.insert("Deactivation Date".into(), json!(now));
        }
        touch(m);
        Ok(())
    })?;
    s.placeholder = Some(uid.clone());
    Ok(RevokeResponse {
        unique_identifier: uid,
    }
    .to_items(s.version))
}

/// Destroy: erases the material (metadata kept); refused for an active object.
pub(crate) fn destroy(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = DestroyRequest::from_ttlv(payload)?;
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
    let meta = s.load(&uid, "destroy")?;
    if let Some(want) = req.expected_object_type
        && super::objects::kmip_type(meta.object_type).0 != want
    {
        return Err(OpError::new(
            ResultReason::INVALID_OBJECT_TYPE,
            format!(
                "object '{uid}' is a {}, not the expected {}; nothing was destroyed",
                meta.object_type,
                crate::enums::ObjectType(want)
            ),
        ));
    }
    let to = match meta.state {
        State::PreActive | State::Deactivated => State::Destroyed,
        State::Compromised => State::DestroyedCompromised,
        State::Active => {
            // The 2.1 vectors (SKLC-M-2-21, AKLC-M-2-21) expect Wrong Key Lifecycle State,
            // the 1.4 ones (SKLC-M-2-14) Permission Denied.
            return Err(OpError::new(
                if s.version.is_v2() {
                    ResultReason::WRONG_KEY_LIFECYCLE_STATE
                } else {
                    ResultReason::PERMISSION_DENIED
                },
                format!("object '{uid}' is active and cannot be destroyed; revoke it first"),
            ));
        }
        st => {
            return Err(OpError::new(
                if s.version.is_v2() {
                    ResultReason::OBJECT_DESTROYED
                } else {
                    ResultReason::WRONG_KEY_LIFECYCLE_STATE
                },
                format!("object '{uid}' is already {st}"),
            ));
        }
    };
    let now = tresor_store::now();
    s.txn.destroy_material(&uid, None)?;
    s.txn.update(&uid, "destroy", |m| {
        m.state = to;
        m.attributes.insert("Destroy Date".into(), json!(now));
        touch(m);
        Ok(())
    })?;
    s.placeholder = Some(uid.clone());
    Ok(DestroyResponse {
        unique_identifier: uid,
    }
    .to_items(s.version))
}

/// Check: whether the object could be used with the given usage mask.
pub(crate) fn check(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = CheckRequest::from_ttlv(payload)?;
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
    let meta = s.load(&uid, "get")?;
    if let Some(mask) = req.cryptographic_usage_mask {
        let have = meta
            .attributes
            .get("Cryptographic Usage Mask")
            .and_then(Json::as_i64)
            .unwrap_or(0) as u32;
        if !CryptographicUsageMask(have).allows(CryptographicUsageMask(mask as u32)) {
            return Err(OpError::new(
                if s.version.is_v2() {
                    ResultReason::INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
                } else {
                    ResultReason::ILLEGAL_OPERATION
                },
                format!("object '{uid}' does not allow usage mask {mask}"),
            ));
        }
    }
    s.placeholder = Some(uid.clone());
    // The usage mask, usage limits count and lease time come back only when the server
    // rejects them, which is reported as a failure above (BL-M-3-21 expects just the id).
    Ok(CheckResponse {
        unique_identifier: uid,
    }
    .to_items(s.version))
}
