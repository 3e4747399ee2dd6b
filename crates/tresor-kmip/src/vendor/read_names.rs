//! The vendor Read Names operation: the values of many objects named exactly, in one batch
//! item — what `tresor inject` and `tresor run --server` need to resolve every reference of a
//! command in one request, whatever their number.
//!
//! # Request and response
//!
//! | | payload |
//! |---|---|
//! | request | ([`NAME`] [`VERSION`]?)… — 1 to [`MAX_NAMES`] names, [`MAX_NAME_BYTES`] bytes of names in all; a [`VERSION`] (≥ 1) right after a name asks for that version instead of the current one |
//! | response | one answer per name, in order: Unique Identifier then [`VALUE`], or a Result Reason |
//!
//! A request over a bound, empty, or holding anything else is refused whole (Invalid Field,
//! naming the bound), before anything is read.
//!
//! # The rule for each name
//!
//! All names are looked up in one read of the store (`Txn::get_many_by_name`: one SQL query
//! on SQLite and PostgreSQL), then each found object goes through the checks a Locate by
//! Name followed by a Get would apply, in the same order:
//! 1. no object holds the name, or the identity has no grant at all on it: the answer for an
//!    absent object (Item Not Found in 1.x, Object Not Found in 2.x) — the same answer either
//!    way, so a name the identity may not see reveals nothing;
//! 2. the identity may see the object but holds neither `locate` nor `get` on it (owner and
//!    admins hold both): Permission Denied, as Get answers it;
//! 3. release's rule (`ops::release::authorize`, as Get in clear): destroyed, not
//!    extractable, sensitive — each with Get's reason;
//! 4. no such version, or its material destroyed: Key Value Not Present.
//!
//! The server's audit stream records one line per name answered (the object's uid on
//! success, the reason on a refusal), under the operation name `ReadNames`.

use tresor_crypto::SecretBytes;

use super::{NAME, READ_NAMES, VALUE, VERSION};
use crate::enums::{Operation, ResultReason};
use crate::message::ProtocolVersion;
use crate::ops::access;
use crate::ops::release::{self, Export};
use crate::ops::{OpError, Session};
use crate::payload::{Payload, PayloadError, Request};
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// The most names one Read Names item may ask for (its response, two items per name, then
/// stays within the codec's 10,000 items per message).
pub const MAX_NAMES: usize = 4000;

/// The most bytes of names (their UTF-8 lengths summed) one Read Names item may carry.
pub const MAX_NAME_BYTES: usize = 512 << 10;

/// A Read Names request: names, each with a version (`0`: the current one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadNamesRequest {
    /// `(name, version)` pairs in the order answered.
    pub entries: Vec<(String, u32)>,
}

/// The answer for one name.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadNamesAnswer {
    /// The object's value.
    Value {
        /// The object holding the name.
        uid: String,
        /// The version's material.
        value: SecretBytes,
    },
    /// Not returned, and why (see the module's rule).
    Refused(ResultReason),
}

/// A Read Names response: one answer per requested name, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadNamesResponse {
    /// The answers.
    pub answers: Vec<ReadNamesAnswer>,
}

fn invalid(msg: impl Into<String>) -> PayloadError {
    PayloadError::Invalid(msg.into())
}

impl ReadNamesRequest {
    /// The request payload's items.
    pub fn to_payload(&self) -> Vec<Ttlv> {
        let mut out = Vec::with_capacity(self.entries.len() * 2);
        for (name, version) in &self.entries {
            out.push(Ttlv::text(NAME, name.clone()));
            if *version > 0 {
                out.push(Ttlv::integer(
                    VERSION,
                    i32::try_from(*version).unwrap_or(i32::MAX),
                ));
            }
        }
        out
    }

    /// Reads a request payload, enforcing the bounds (as [`Payload::from_ttlv`], the
    /// refusal as the server answers it).
    ///
    /// # Errors
    /// Missing Data without names; Invalid Field naming what is wrong: more than
    /// [`MAX_NAMES`] or [`MAX_NAME_BYTES`], a version not ≥ 1 or not after a name, any other
    /// item.
    pub fn from_payload(payload: &Ttlv) -> Result<Self, OpError> {
        Ok(Self::from_ttlv(payload)?)
    }
}

impl Payload for ReadNamesRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    /// Reads a request payload, enforcing the bounds.
    ///
    /// # Errors
    /// [`PayloadError::Invalid`] naming what is wrong: more than [`MAX_NAMES`] or
    /// [`MAX_NAME_BYTES`], a version not ≥ 1 or not after a name, any other item;
    /// [`PayloadError::Missing`] for no names.
    fn from_ttlv(payload: &Ttlv) -> Result<Self, PayloadError> {
        let mut entries: Vec<(String, u32)> = Vec::new();
        let mut bytes = 0usize;
        let mut versioned = false;
        for item in payload.items() {
            match item.tag {
                NAME => {
                    let name = item
                        .as_text()
                        .ok_or_else(|| invalid("read names: a name is not a text string"))?;
                    if entries.len() == MAX_NAMES {
                        return Err(invalid(format!(
                            "read names: more than {MAX_NAMES} names in one request; split it"
                        )));
                    }
                    bytes += name.len();
                    if bytes > MAX_NAME_BYTES {
                        return Err(invalid(format!(
                            "read names: the names exceed {MAX_NAME_BYTES} bytes in one \
                             request; split it"
                        )));
                    }
                    entries.push((name.to_owned(), 0));
                    versioned = false;
                }
                VERSION => {
                    let v = item
                        .as_integer()
                        .ok_or_else(|| invalid("read names: a version is not an integer"))?;
                    let Some(last) = entries.last_mut().filter(|_| !versioned) else {
                        return Err(invalid(
                            "read names: a version must follow the name it applies to",
                        ));
                    };
                    last.1 = u32::try_from(v).ok().filter(|v| *v >= 1).ok_or_else(|| {
                        invalid(format!(
                            "read names: version {v} of '{}' is not ≥ 1",
                            last.0
                        ))
                    })?;
                    versioned = true;
                }
                other => {
                    return Err(invalid(format!(
                        "read names: unexpected {other} in the request (names and versions only)"
                    )));
                }
            }
        }
        if entries.is_empty() {
            return Err(PayloadError::Missing {
                parent: Tag::REQUEST_PAYLOAD,
                field: NAME,
            });
        }
        Ok(ReadNamesRequest { entries })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        self.to_payload()
    }
}

impl Request for ReadNamesRequest {
    const OPERATION: Operation = READ_NAMES;
    type Response = ReadNamesResponse;
}

impl ReadNamesResponse {
    /// The response payload's items.
    pub fn to_payload(&self) -> Vec<Ttlv> {
        let mut out = Vec::with_capacity(self.answers.len() * 2);
        for a in &self.answers {
            match a {
                ReadNamesAnswer::Value { uid, value } => {
                    out.push(Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid.clone()));
                    out.push(Ttlv::bytes(VALUE, value.expose().to_vec()));
                }
                ReadNamesAnswer::Refused(r) => {
                    out.push(Ttlv::enumeration(Tag::RESULT_REASON, *r));
                }
            }
        }
        out
    }

    /// Reads a response payload's items (a client's side).
    ///
    /// # Errors
    /// A message naming the item that does not fit the layout.
    pub fn from_items(items: &[Ttlv]) -> Result<Self, String> {
        let mut answers = Vec::new();
        let mut it = items.iter();
        while let Some(item) = it.next() {
            match item.tag {
                Tag::UNIQUE_IDENTIFIER => {
                    let uid = item
                        .as_text()
                        .ok_or("read names: a unique identifier is not text")?
                        .to_owned();
                    let value = it
                        .next()
                        .filter(|v| v.tag == VALUE)
                        .and_then(Ttlv::as_bytes)
                        .ok_or("read names: a unique identifier is not followed by its value")?;
                    answers.push(ReadNamesAnswer::Value {
                        uid,
                        value: SecretBytes::new(value.to_vec()),
                    });
                }
                Tag::RESULT_REASON => {
                    let r = item
                        .as_enumeration()
                        .ok_or("read names: a result reason is not an enumeration")?;
                    answers.push(ReadNamesAnswer::Refused(ResultReason(r)));
                }
                other => return Err(format!("read names: unexpected {other} in the response")),
            }
        }
        Ok(ReadNamesResponse { answers })
    }
}

impl Payload for ReadNamesResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    /// Reads a response payload ([`ReadNamesResponse::from_items`]).
    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Self::from_items(p.items()).map_err(PayloadError::Invalid)
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        self.to_payload()
    }
}

/// Runs Read Names (see the module's rule).
pub(crate) fn read_names(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = ReadNamesRequest::from_ttlv(payload)?;
    let wanted: Vec<(&str, u32)> = req.entries.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    // One read of the store for every name.
    let found = s.txn.get_many_by_name(&wanted)?;
    let mut answers = Vec::with_capacity(found.len());
    for ((name, _), f) in req.entries.iter().zip(found) {
        answers.push(match answer(s, name, f) {
            Ok(a) => a,
            Err(e) => ReadNamesAnswer::Refused(e.reason),
        });
    }
    Ok(ReadNamesResponse { answers }.to_items(s.version))
}

fn answer(
    s: &mut Session<'_>,
    name: &str,
    found: Option<tresor_store::Found>,
) -> Result<ReadNamesAnswer, OpError> {
    let Some((meta, version)) = found else {
        return Err(OpError::not_found(name, s.version));
    };
    let uid = meta.uid.clone();
    // Locate by Name's permission, with Get's answers (absent unless visible).
    access::not_found_unless_visible(s, &uid, &meta, "locate")?;
    // Get's rule, in clear: permission `get`, state, Extractable, Sensitive.
    let meta = release::authorize(s, &uid, Export::Clear)?;
    let version = version
        .filter(|v| v.sealed.is_some())
        .ok_or_else(|| OpError::new(ResultReason::KEY_VALUE_NOT_PRESENT, "no such version"))?;
    let value = s.store.open_sealed(&meta, &version)?;
    Ok(ReadNamesAnswer::Value { uid, value })
}
