//! The KMIP operations a server runs against the tresor store.
//!
//! A [`Session`] is one request message: one store transaction acting as the client identity,
//! the protocol version to answer in and the batch's ID Placeholder. [`Session::dispatch`]
//! runs one batch item and returns its response payload or an [`OpError`] carrying the
//! precise Result Reason.
//!
//! Modules: `attrs` (KMIP attributes ⇄ the store's JSON attributes), `objects` (managed
//! objects and key formats), `crypto` (aws-lc-rs), `query` (discover versions, query),
//! `create` (create, create key pair, register, re-key), `get`, `attribute_ops` (get, add,
//! set, modify and delete attributes), `lifecycle` (activate, revoke, destroy, check),
//! `locate`, `manage` (helpers those share), `table` (the one table of operations: handler,
//! read-only, minimum version), `usage` (encrypt, sign, MAC, RNG), `release`
//! (the one rule for material leaving the store), `reserved` (names and attributes only
//! tresor sets, refused from clients).

use std::fmt;

use tresor_store::{ObjectMeta, State, Store, StoreError, Txn};

use crate::enums::{Operation, ResultReason};
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::Ttlv;

pub mod access;
mod attr_versions;
mod attribute_ops;
pub(crate) mod attrs;
mod certificate;
mod ciphers;
mod create;
pub(crate) mod crypto;
mod derive;
mod get;
pub(crate) mod key_cache;
mod lifecycle;
mod locate;
mod manage;
pub(crate) mod objects;
mod query;
pub(crate) mod release;
mod reserved;
mod split_key;
mod storage;
mod stream;
pub(crate) mod table;
mod usage;
mod wrap;

pub use key_cache::{DEFAULT_KEY_CACHE_ENTRIES, KeyCache, MAX_CACHED_KEY_BYTES};
pub use stream::Streams;

/// A failed operation: the Result Reason and Result Message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// The KMIP result reason.
    pub reason: ResultReason,
    /// A lowercase message naming the object.
    pub message: String,
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.reason)
    }
}

impl std::error::Error for OpError {}

impl OpError {
    /// An error with a reason and message.
    pub fn new(reason: ResultReason, message: impl Into<String>) -> Self {
        OpError {
            reason,
            message: message.into(),
        }
    }

    pub(crate) fn missing(field: Tag, parent: Tag) -> Self {
        OpError::new(
            ResultReason::MISSING_DATA,
            format!("{parent} is missing its {field}"),
        )
    }

    pub(crate) fn invalid_field(msg: impl Into<String>) -> Self {
        OpError::new(ResultReason::INVALID_FIELD, msg)
    }

    /// No object `uid`: KMIP 2.x has a reason of its own (Object Not Found, BL-M-4-21), 1.x
    /// answers Item Not Found.
    pub(crate) fn not_found(uid: &str, version: ProtocolVersion) -> Self {
        OpError::new(
            if version.is_v2() {
                ResultReason::OBJECT_NOT_FOUND
            } else {
                ResultReason::ITEM_NOT_FOUND
            },
            format!("object '{uid}' not found"),
        )
    }
}

impl From<crate::payload::PayloadError> for OpError {
    fn from(e: crate::payload::PayloadError) -> Self {
        use crate::payload::PayloadError as P;
        match e {
            P::Missing { parent, field } => OpError::missing(field, parent),
            P::Invalid(msg) => OpError::invalid_field(msg),
        }
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        let reason = match &e {
            StoreError::NotFound(_) => ResultReason::ITEM_NOT_FOUND,
            StoreError::NameTaken(_) => ResultReason::ILLEGAL_OPERATION,
            StoreError::Invalid { .. } => ResultReason::WRONG_KEY_LIFECYCLE_STATE,
            StoreError::NoMaterial { .. } => ResultReason::KEY_VALUE_NOT_PRESENT,
            StoreError::Unavailable(_) => ResultReason::PROTECTION_STORAGE_UNAVAILABLE,
            _ => ResultReason::GENERAL_FAILURE,
        };
        OpError::new(reason, e.to_string())
    }
}

/// The attribute holding access grants: `{"bob": "get,locate,use"}`.
pub const GRANTS_ATTR: &str = tresor_store::secret_name::GRANTS;

/// The permissions a grant may hold.
pub const PERMISSIONS: &[&str] = &["get", "locate", "use", "modify", "destroy", "all"];

/// One request message being processed: a transaction as the client identity.
pub struct Session<'s> {
    pub(crate) store: &'s Store,
    pub(crate) txn: Txn<'s>,
    pub(crate) identity: String,
    pub(crate) version: ProtocolVersion,
    pub(crate) placeholder: Option<String>,
    pub(crate) admins: &'s [String],
    /// The server's open Encrypt/Decrypt streams (none: streaming is refused).
    pub(crate) streams: Option<&'s Streams>,
    /// The server's cache of unsealed keys for the cryptographic operations (none: every use
    /// unseals).
    pub(crate) key_cache: Option<&'s KeyCache>,
    /// Objects the items of this batch wrote (the request's Unique Identifier and the ones
    /// answered): their key-cache entries are dropped once the batch commits.
    pub(crate) changed: Vec<String>,
    /// Objects earlier items of this batch created or changed (uncommitted: Locate checks
    /// them itself, since the store's indexes hold only committed rows).
    pub(crate) written: Vec<String>,
}

impl fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("identity", &self.identity)
            .field("version", &self.version)
            .field("placeholder", &self.placeholder)
            .finish_non_exhaustive()
    }
}

/// The KMIP operations this server implements (what Query reports), from the table of operations (`ops/table.rs`)
/// (tresor's vendor operations are not listed).
pub const OPERATIONS: &[Operation] = &table::STANDARD;

/// KMIP 2.1 Interop: the test-case markers (Begin / End / Reset with an identifier) that
/// every OASIS BL vector sends. Nothing to do beyond checking the request; answers with an
/// empty payload.
fn interop(payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    use crate::payload::Payload;
    use crate::payload::interop::{InteropRequest, InteropResponse};
    InteropRequest::from_ttlv(payload)?;
    Ok(InteropResponse.to_items(ProtocolVersion::V2_1))
}

/// KMIP 2.1 Log: writes the client's Log Message to the server log (stderr), one line,
/// control characters escaped.
fn log(payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    use crate::payload::Payload;
    use crate::payload::interop::{LogRequest, LogResponse};
    let req = LogRequest::from_ttlv(payload)?;
    eprintln!("kmip: log: {}", req.log_message.escape_debug());
    Ok(LogResponse.to_items(ProtocolVersion::V2_1))
}

impl<'s> Session<'s> {
    /// Starts a session: one transaction on `store` acting as `identity`, answering in
    /// `version`. `admins` may use every object.
    pub fn new(
        store: &'s Store,
        identity: &str,
        version: ProtocolVersion,
        admins: &'s [String],
    ) -> Self {
        Session {
            store,
            txn: store.begin_as(identity),
            identity: identity.to_owned(),
            version,
            placeholder: None,
            admins,
            streams: None,
            key_cache: None,
            changed: Vec::new(),
            written: Vec::new(),
        }
    }

    /// Commits the session's changes.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if another writer changed a touched object first.
    pub fn commit(self) -> Result<(), StoreError> {
        self.txn.commit()
    }

    /// As [`Session::commit`], returning the store's audit head after the commit (`None` if
    /// nothing was written).
    ///
    /// # Errors
    /// As [`Session::commit`].
    pub fn commit_head(self) -> Result<Option<tresor_store::AuditHead>, StoreError> {
        self.txn.commit_head()
    }

    /// Runs one operation with its request payload; returns the response payload fields.
    ///
    /// # Errors
    /// [`OpError`] with the Result Reason to send.
    pub fn dispatch(&mut self, op: Operation, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
        let pending = self.txn.pending();
        let out = self.dispatch_op(op, payload);
        if self.txn.pending() == pending {
            return out;
        }
        // This item wrote: its objects' key-cache entries go once the batch commits, and
        // Locate must see the objects it answered.
        let cached = self.key_cache.is_some();
        if cached && let Some(crate::payload::UidRef::Text(u)) = crate::payload::UidRef::of(payload)
        {
            self.changed.push(u);
        }
        if let Ok(items) = &out {
            let ids = items.iter().filter(|t| {
                matches!(
                    t.tag,
                    Tag::UNIQUE_IDENTIFIER
                        | Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER
                        | Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER
                )
            });
            for uid in ids.filter_map(Ttlv::as_text) {
                if cached {
                    self.changed.push(uid.to_owned());
                }
                if !self.written.iter().any(|w| w == uid) {
                    self.written.push(uid.to_owned());
                }
            }
        }
        out
    }

    fn dispatch_op(&mut self, op: Operation, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
        let Some(entry) = table::lookup(op) else {
            return Err(OpError::new(
                ResultReason::OPERATION_NOT_SUPPORTED,
                format!("operation {op} is not supported"),
            ));
        };
        if self.version < entry.since {
            return Err(OpError::new(
                ResultReason::OPERATION_NOT_SUPPORTED,
                format!(
                    "operation {op} is not part of KMIP {}; it needs KMIP {} or later",
                    self.version, entry.since
                ),
            ));
        }
        (entry.handler)(self, payload)
    }

    /// The object a request names: its Unique Identifier, else the ID Placeholder.
    pub(crate) fn target_uid(&self, payload: &Ttlv) -> Result<String, OpError> {
        self.resolve_uid(crate::payload::UidRef::of(payload).as_ref())
    }

    /// The object a typed request names: its text Unique Identifier, else (a 2.x reference
    /// to an earlier result, or none) the ID Placeholder.
    pub(crate) fn resolve_uid(
        &self,
        uid: Option<&crate::payload::UidRef>,
    ) -> Result<String, OpError> {
        use crate::payload::UidRef;
        match uid {
            Some(UidRef::Text(s)) => Ok(s.clone()),
            // 2.x Unique Identifier enumerations all refer to a previous result.
            Some(UidRef::Placeholder(_)) => self.placeholder.clone().ok_or_else(|| {
                OpError::new(ResultReason::MISSING_DATA, "no id placeholder is set")
            }),
            None => self.placeholder.clone().ok_or_else(|| {
                OpError::new(
                    ResultReason::MISSING_DATA,
                    "the request names no unique identifier and no id placeholder is set",
                )
            }),
        }
    }

    /// Returns true if and only if the session identity may use `meta` for `perm`
    /// ([`access::may`]).
    pub(crate) fn may(&self, meta: &ObjectMeta, perm: &str) -> bool {
        access::may(self, meta, perm)
    }

    /// Loads an object the identity may use for `perm`, with its effective state.
    pub(crate) fn load(&mut self, uid: &str, perm: &str) -> Result<ObjectMeta, OpError> {
        let mut meta = self
            .txn
            .get(uid)?
            .ok_or_else(|| OpError::not_found(uid, self.version))?;
        access::not_found_unless_visible(self, uid, &meta, perm)?;
        let eff = effective_state(&meta, tresor_store::now());
        if eff != meta.state {
            meta = self.txn.update(uid, "scheduled state change", |m| {
                m.state = eff;
                Ok(())
            })?;
        }
        Ok(meta)
    }
}

/// The state an object is in now, honouring its Activation and Deactivation Dates.
pub(crate) fn effective_state(meta: &ObjectMeta, now: i64) -> State {
    let date = |k: &str| meta.attributes.get(k).and_then(|v| v.as_i64());
    match meta.state {
        State::PreActive => match (date("Activation Date"), date("Deactivation Date")) {
            (_, Some(d)) if d <= now => State::Deactivated,
            (Some(a), _) if a <= now => State::Active,
            _ => State::PreActive,
        },
        State::Active => match date("Deactivation Date") {
            Some(d) if d <= now => State::Deactivated,
            _ => State::Active,
        },
        s => s,
    }
}

/// The KMIP State enumeration of a store state.
pub(crate) fn kmip_state(s: State) -> crate::enums::State {
    use crate::enums::State as K;
    match s {
        State::PreActive => K::PRE_ACTIVE,
        State::Active => K::ACTIVE,
        State::Deactivated => K::DEACTIVATED,
        State::Compromised => K::COMPROMISED,
        State::Destroyed => K::DESTROYED,
        _ => K::DESTROYED_COMPROMISED,
    }
}

/// The store state of a KMIP State enumeration.
pub(crate) fn store_state(s: crate::enums::State) -> Option<State> {
    use crate::enums::State as K;
    Some(match s {
        K::PRE_ACTIVE => State::PreActive,
        K::ACTIVE => State::Active,
        K::DEACTIVATED => State::Deactivated,
        K::COMPROMISED => State::Compromised,
        K::DESTROYED => State::Destroyed,
        K::DESTROYED_COMPROMISED => State::DestroyedCompromised,
        _ => return None,
    })
}
