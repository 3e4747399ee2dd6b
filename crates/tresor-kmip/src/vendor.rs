//! tresor's vendor-extension operations: what the vault needs and KMIP lacks.
//!
//! KMIP has no notion of versions of one object's material, nor of removing a destroyed
//! object's record. The vault (`tresor --server`) needs both for `edit value`, `add --force`,
//! `history` and `rm`, so the server offers three operations in the KMIP extension range
//! (operation values `0x8000_7401`..`0x8000_7403`, tags `0x54_74xx`). Each acts on the
//! store exactly as the local vault does and honours the same per-object grants as the
//! standard operations (`modify`, `get`, `destroy`).
//!
//! | operation | request | response |
//! |---|---|---|
//! | [`ADD_VERSION`] | Unique Identifier, Secret Data | Unique Identifier, [`VERSION`] |
//! | [`VERSIONS`] | Unique Identifier, optional [`VERSION`] (0: current), optional [`NAME`] | Unique Identifier, [`NAME`]?, [`KIND`]?, [`OWNER`], [`CALLER`], Object Type, State, Last Change Date, [`VERSION`] (current), [`VERSION_INFO`]…, [`VALUE`]? |
//! | [`PURGE`] | Unique Identifier of a destroyed object | Unique Identifier |
//! | [`READ_NAMES`] | ([`NAME`] [`VERSION`]?)… (≤ [`read_names::MAX_NAMES`]) | per name: Unique Identifier and [`VALUE`], or Result Reason ([`read_names`]) |
//!
//! [`VERSIONS`] returns a [`VALUE`] only under the rule Get follows for material in clear
//! (`ops::release`): a non-extractable or sensitive object's value never leaves this way.
//!
//! [`VERSIONS`] with [`NAME`] fails unless the object holds that store name (so a client can
//! check, in an Undo batch after Register, that it really got the name it asked for).

pub mod read_names;

use crate::enums::{Operation, ResultReason};
use crate::ops::release::{self, Export};
use crate::ops::{OpError, Session};
use crate::payload::Payload;
use crate::payload::vendor::{
    AddVersionRequest, AddVersionResponse, PurgeRequest, PurgeResponse, VersionsRequest,
    VersionsResponse,
};
use crate::tags::Tag;
use crate::ttlv::Ttlv;

const fn tag(v: u32) -> Tag {
    match Tag::new(v) {
        Some(t) => t,
        None => panic!("tag out of range"),
    }
}

/// Stores a new version of a Secret Data object's material.
pub const ADD_VERSION: Operation = Operation(0x8000_7401);
/// Lists an object's versions, optionally with one version's value.
pub const VERSIONS: Operation = Operation(0x8000_7402);
/// Removes the record of a destroyed object (its name becomes free).
pub const PURGE: Operation = Operation(0x8000_7403);
/// The values of many objects named exactly, in one item ([`read_names`]).
pub const READ_NAMES: Operation = Operation(0x8000_7404);

/// A version number (Integer).
pub const VERSION: Tag = tag(0x54_7401);
/// One version: [`VERSION`], [`CREATED`], [`CREATED_BY`], [`DESTROYED`] (Structure).
pub const VERSION_INFO: Tag = tag(0x54_7402);
/// When a version was written (Date-Time).
pub const CREATED: Tag = tag(0x54_7403);
/// Who wrote a version (Text String).
pub const CREATED_BY: Tag = tag(0x54_7404);
/// Whether a version's material was destroyed (Boolean).
pub const DESTROYED: Tag = tag(0x54_7405);
/// The value of the requested version (Byte String).
pub const VALUE: Tag = tag(0x54_7406);
/// The object's store name (Text String).
pub const NAME: Tag = tag(0x54_7407);
/// The vault's type of a secret: `str`, `text`, `file` (Text String).
pub const KIND: Tag = tag(0x54_7408);
/// The identity owning the object (Text String).
pub const OWNER: Tag = tag(0x54_7409);
/// The identity the server authenticated for the request (Text String): a client compares
/// it with [`OWNER`] to tell its own objects from ones shared with it.
pub const CALLER: Tag = tag(0x54_740A);

pub(crate) fn add_version(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = AddVersionRequest::from_ttlv(payload)?;
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
    let meta = s.load(&uid, "modify")?;
    if meta.object_type != tresor_store::ObjectType::SecretData {
        return Err(OpError::new(
            ResultReason::ILLEGAL_OPERATION,
            format!(
                "object '{uid}' is a {}; only secret data takes new versions",
                meta.object_type
            ),
        ));
    }
    if meta.state.is_destroyed() {
        return Err(OpError::new(
            ResultReason::WRONG_KEY_LIFECYCLE_STATE,
            format!("object '{uid}' is destroyed"),
        ));
    }
    let obj = req
        .secret_data
        .ok_or_else(|| OpError::missing(Tag::SECRET_DATA, Tag::REQUEST_PAYLOAD))?;
    let inc = crate::ops::objects::read_object(&obj)?;
    let v = s.txn.put_material(&uid, &inc.material)?;
    s.placeholder = Some(uid.clone());
    Ok(AddVersionResponse {
        unique_identifier: uid,
        version: v,
    }
    .to_items(s.version))
}

pub(crate) fn versions(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = VersionsRequest::from_ttlv(payload)?;
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
    let meta = s.load(&uid, "get")?;
    if let Some(want) = &req.name
        && !meta.names.iter().any(|n| n == want)
    {
        return Err(OpError::new(
            ResultReason::ILLEGAL_OPERATION,
            format!("the name '{want}' belongs to another object"),
        ));
    }
    let mut resp = VersionsResponse::new(uid.clone());
    resp.name = meta.names.first().cloned();
    resp.kind = meta
        .attr_str(tresor_store::secret_name::TYPE)
        .map(Into::into);
    resp.owner = Some(meta.owner.clone());
    resp.caller = Some(s.identity.clone());
    resp.object_type = Some(crate::ops::objects::kmip_type(meta.object_type));
    resp.state = Some(crate::ops::kmip_state(crate::ops::effective_state(
        &meta,
        tresor_store::now(),
    )));
    resp.last_change_date = Some(meta.updated);
    resp.version = Some(meta.current_version);
    resp.versions = s.store.versions(&uid)?;
    if let Some(want) = req.version {
        let version = u32::try_from(want)
            .map_err(|_| OpError::invalid_field(format!("version {want} is negative")))?;
        // The same rule as Get (permission, state, Extractable, Sensitive): a value is
        // returned in clear only when Get would return it in clear.
        let (_, material) = release::material(s, &uid, version, Export::Clear)?;
        resp.value = Some(material);
    }
    s.placeholder = Some(uid);
    Ok(resp.to_items(s.version))
}

pub(crate) fn purge(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = PurgeRequest::from_ttlv(payload)?;
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
    let meta = s.load(&uid, "destroy")?;
    if !meta.state.is_destroyed() {
        return Err(OpError::new(
            ResultReason::WRONG_KEY_LIFECYCLE_STATE,
            format!(
                "object '{uid}' is {}; destroy it before purging",
                meta.state
            ),
        ));
    }
    s.txn.delete(&uid)?;
    Ok(PurgeResponse {
        unique_identifier: uid,
    }
    .to_items(s.version))
}
