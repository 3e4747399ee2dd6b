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
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

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
    let uid = s.target_uid(payload)?;
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
    let obj = payload
        .find(Tag::SECRET_DATA)
        .ok_or_else(|| OpError::missing(Tag::SECRET_DATA, Tag::REQUEST_PAYLOAD))?;
    let inc = crate::ops::objects::read_object(obj)?;
    let v = s.txn.put_material(&uid, &inc.material)?;
    s.placeholder = Some(uid.clone());
    Ok(vec![
        Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid),
        Ttlv::integer(VERSION, i32::try_from(v).unwrap_or(i32::MAX)),
    ])
}

pub(crate) fn versions(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let meta = s.load(&uid, "get")?;
    if let Some(want) = payload.find(NAME).and_then(Ttlv::as_text)
        && !meta.names.iter().any(|n| n == want)
    {
        return Err(OpError::new(
            ResultReason::ILLEGAL_OPERATION,
            format!("the name '{want}' belongs to another object"),
        ));
    }
    let mut out = vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid.clone())];
    if let Some(n) = meta.names.first() {
        out.push(Ttlv::text(NAME, n.clone()));
    }
    if let Some(k) = meta.attr_str(tresor_store::secret_name::TYPE) {
        out.push(Ttlv::text(KIND, k));
    }
    out.push(Ttlv::text(OWNER, meta.owner.clone()));
    out.push(Ttlv::text(CALLER, s.identity.clone()));
    out.push(Ttlv::enumeration(
        Tag::OBJECT_TYPE,
        crate::ops::objects::kmip_type(meta.object_type),
    ));
    out.push(Ttlv::enumeration(
        Tag::STATE,
        crate::ops::kmip_state(crate::ops::effective_state(&meta, tresor_store::now())),
    ));
    out.push(Ttlv::new(
        Tag::LAST_CHANGE_DATE,
        Value::DateTime(meta.updated),
    ));
    let int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    out.push(Ttlv::integer(VERSION, int(meta.current_version)));
    for v in s.store.versions(&uid)? {
        out.push(Ttlv::structure(
            VERSION_INFO,
            vec![
                Ttlv::integer(VERSION, int(v.version)),
                Ttlv::new(CREATED, Value::DateTime(v.created)),
                Ttlv::text(CREATED_BY, v.created_by),
                Ttlv::new(DESTROYED, Value::Boolean(v.destroyed)),
            ],
        ));
    }
    if let Some(want) = payload.find(VERSION).and_then(Ttlv::as_integer) {
        let version = u32::try_from(want)
            .map_err(|_| OpError::invalid_field(format!("version {want} is negative")))?;
        // The same rule as Get (permission, state, Extractable, Sensitive): a value is
        // returned in clear only when Get would return it in clear.
        let (_, material) = release::material(s, &uid, version, Export::Clear)?;
        out.push(Ttlv::bytes(VALUE, material.expose().to_vec()));
    }
    s.placeholder = Some(uid);
    Ok(out)
}

pub(crate) fn purge(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
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
    Ok(vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)])
}
