//! tresor's vendor operations ([`crate::vendor`]): Add Version, Versions and Purge, and
//! (defined with its bounds in [`crate::vendor::read_names`]) Read Names.

use tresor_crypto::SecretBytes;
use tresor_store::VersionInfo;

use super::register::SecretData;
use super::{Payload, PayloadError, Request, UidRef, opt_enum, opt_integer, opt_text, push_opt};
use crate::enums::{ObjectType, Operation, State};
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};
pub use crate::vendor::read_names::{ReadNamesAnswer, ReadNamesRequest, ReadNamesResponse};
use crate::vendor::{
    ADD_VERSION, CALLER, CREATED, CREATED_BY, DESTROYED, KIND, NAME, OWNER, PURGE, VALUE, VERSION,
    VERSION_INFO, VERSIONS,
};

/// A version number as the Integer it travels as (beyond `i32::MAX`: `i32::MAX`).
fn version_item(v: u32) -> Ttlv {
    Ttlv::integer(VERSION, i32::try_from(v).unwrap_or(i32::MAX))
}

/// The first [`VERSION`] of `p` that is a non-negative integer.
fn opt_version(p: &Ttlv) -> Option<u32> {
    opt_integer(p, VERSION).and_then(|v| u32::try_from(v).ok())
}

fn uid_items(uid: Option<&UidRef>) -> Vec<Ttlv> {
    let mut out = Vec::new();
    push_opt(&mut out, uid.map(UidRef::to_ttlv));
    out
}

/// An Add Version request: a new version of a Secret Data object's material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddVersionRequest {
    /// The object (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
    /// The `SecretData` structure holding the new material (required: the server refuses
    /// its absence with Missing Data once it has checked the object).
    pub secret_data: Option<Ttlv>,
}

impl AddVersionRequest {
    /// A new version `data` of object `uid`.
    pub fn new(uid: impl Into<String>, data: &SecretData) -> Self {
        AddVersionRequest {
            unique_identifier: Some(UidRef::text(uid)),
            secret_data: Some(data.to_ttlv()),
        }
    }
}

impl Payload for AddVersionRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(AddVersionRequest {
            unique_identifier: UidRef::of(p),
            secret_data: p.find(Tag::SECRET_DATA).cloned(),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = uid_items(self.unique_identifier.as_ref());
        push_opt(&mut out, self.secret_data.clone());
        out
    }
}

impl Request for AddVersionRequest {
    const OPERATION: Operation = ADD_VERSION;
    type Response = AddVersionResponse;
}

/// An Add Version response: the object and the number of the version stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddVersionResponse {
    /// The object's identifier.
    pub unique_identifier: String,
    /// The new version's number.
    pub version: u32,
}

impl Payload for AddVersionResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(AddVersionResponse {
            unique_identifier: super::req_text(p, Tag::UNIQUE_IDENTIFIER)?,
            version: opt_version(p).ok_or(PayloadError::Missing {
                parent: p.tag,
                field: VERSION,
            })?,
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        vec![
            Ttlv::text(Tag::UNIQUE_IDENTIFIER, self.unique_identifier.clone()),
            version_item(self.version),
        ]
    }
}

/// A Versions request: an object's description and versions, optionally one version's
/// value, optionally checking the object holds a store name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionsRequest {
    /// The object (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
    /// The version whose value to return (0: the current one; negative: refused).
    pub version: Option<i32>,
    /// The store name the object must hold, or the request fails.
    pub name: Option<String>,
}

impl VersionsRequest {
    /// The description of object `uid`.
    pub fn new(uid: impl Into<String>) -> Self {
        VersionsRequest {
            unique_identifier: Some(UidRef::text(uid)),
            ..VersionsRequest::default()
        }
    }
}

impl Payload for VersionsRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(VersionsRequest {
            unique_identifier: UidRef::of(p),
            version: opt_integer(p, VERSION),
            name: opt_text(p, NAME),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = uid_items(self.unique_identifier.as_ref());
        push_opt(&mut out, self.version.map(|v| Ttlv::integer(VERSION, v)));
        push_opt(
            &mut out,
            self.name.as_ref().map(|n| Ttlv::text(NAME, n.clone())),
        );
        out
    }
}

impl Request for VersionsRequest {
    const OPERATION: Operation = VERSIONS;
    type Response = VersionsResponse;
}

/// A Versions response. Only the identifier is required; the other fields read as absent
/// when missing or of another type.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionsResponse {
    /// The object's identifier.
    pub unique_identifier: String,
    /// Its (first) store name.
    pub name: Option<String>,
    /// The vault's kind of value (`str`, `text`, `file`).
    pub kind: Option<String>,
    /// The identity owning it.
    pub owner: Option<String>,
    /// The identity the server authenticated for the request.
    pub caller: Option<String>,
    /// Its Object Type.
    pub object_type: Option<ObjectType>,
    /// Its State.
    pub state: Option<State>,
    /// Its Last Change Date (seconds since the epoch).
    pub last_change_date: Option<i64>,
    /// The current version.
    pub version: Option<u32>,
    /// Every version.
    pub versions: Vec<VersionInfo>,
    /// The value of the version asked for.
    pub value: Option<SecretBytes>,
}

impl VersionsResponse {
    /// A response for object `uid` with nothing else known.
    pub fn new(uid: impl Into<String>) -> Self {
        VersionsResponse {
            unique_identifier: uid.into(),
            name: None,
            kind: None,
            owner: None,
            caller: None,
            object_type: None,
            state: None,
            last_change_date: None,
            version: None,
            versions: Vec::new(),
            value: None,
        }
    }
}

/// Reads a [`VERSION_INFO`] structure (missing fields: 0, empty, false).
fn version_info(t: &Ttlv) -> VersionInfo {
    VersionInfo {
        version: opt_version(t).unwrap_or(0),
        created: t.find(CREATED).and_then(Ttlv::as_date_time).unwrap_or(0),
        created_by: opt_text(t, CREATED_BY).unwrap_or_default(),
        destroyed: t.find(DESTROYED).and_then(Ttlv::as_bool).unwrap_or(false),
    }
}

fn version_info_item(v: &VersionInfo) -> Ttlv {
    Ttlv::structure(
        VERSION_INFO,
        vec![
            version_item(v.version),
            Ttlv::new(CREATED, Value::DateTime(v.created)),
            Ttlv::text(CREATED_BY, v.created_by.clone()),
            Ttlv::new(DESTROYED, Value::Boolean(v.destroyed)),
        ],
    )
}

impl Payload for VersionsResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(VersionsResponse {
            unique_identifier: super::req_text(p, Tag::UNIQUE_IDENTIFIER)?,
            name: opt_text(p, NAME),
            kind: opt_text(p, KIND),
            owner: opt_text(p, OWNER),
            caller: opt_text(p, CALLER),
            object_type: opt_enum(p, Tag::OBJECT_TYPE).map(ObjectType),
            state: opt_enum(p, Tag::STATE).map(State),
            last_change_date: p.find(Tag::LAST_CHANGE_DATE).and_then(Ttlv::as_date_time),
            version: opt_version(p),
            versions: p.find_all(VERSION_INFO).map(version_info).collect(),
            value: p
                .find(VALUE)
                .and_then(Ttlv::as_bytes)
                .map(|b| SecretBytes::new(b.to_vec())),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let text = |tag, v: &Option<String>| v.as_ref().map(|s| Ttlv::text(tag, s.clone()));
        let mut out = vec![Ttlv::text(
            Tag::UNIQUE_IDENTIFIER,
            self.unique_identifier.clone(),
        )];
        push_opt(&mut out, text(NAME, &self.name));
        push_opt(&mut out, text(KIND, &self.kind));
        push_opt(&mut out, text(OWNER, &self.owner));
        push_opt(&mut out, text(CALLER, &self.caller));
        push_opt(
            &mut out,
            self.object_type
                .map(|t| Ttlv::enumeration(Tag::OBJECT_TYPE, t)),
        );
        push_opt(
            &mut out,
            self.state.map(|s| Ttlv::enumeration(Tag::STATE, s)),
        );
        push_opt(
            &mut out,
            self.last_change_date
                .map(|d| Ttlv::new(Tag::LAST_CHANGE_DATE, Value::DateTime(d))),
        );
        push_opt(&mut out, self.version.map(version_item));
        out.extend(self.versions.iter().map(version_info_item));
        push_opt(
            &mut out,
            self.value
                .as_ref()
                .map(|v| Ttlv::bytes(VALUE, v.expose().clone())),
        );
        out
    }
}

/// A Purge request: the record of a destroyed object goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeRequest {
    /// The object (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
}

impl PurgeRequest {
    /// A Purge of object `uid`.
    pub fn new(uid: impl Into<String>) -> Self {
        PurgeRequest {
            unique_identifier: Some(UidRef::text(uid)),
        }
    }
}

impl Payload for PurgeRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(PurgeRequest {
            unique_identifier: UidRef::of(p),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        uid_items(self.unique_identifier.as_ref())
    }
}

impl Request for PurgeRequest {
    const OPERATION: Operation = PURGE;
    type Response = PurgeResponse;
}

uid_response!("Purge", PurgeResponse);

#[cfg(test)]
#[path = "vendor_test.rs"]
mod tests;
