//! Typed KMIP request and response messages over [`Ttlv`] payloads.
//!
//! The headers and batch items are typed; each operation's payload stays a [`Ttlv`] so a
//! server can dispatch on [`RequestBatchItem::operation`] and read the payload fields it
//! needs. Fields this layer does not model are kept in `extra` and written back, so
//! `from_ttlv` then `to_ttlv` gives back the same tree for well-ordered messages.

use std::fmt;

use crate::error::KmipError;
use crate::tags::Tag;
use crate::ttlv::Ttlv;

mod fields;
mod request;
mod response;

pub(crate) use fields::Fields;
pub use request::{RequestBatchItem, RequestHeader, RequestMessage};
pub use response::{ResponseBatchItem, ResponseHeader, ResponseMessage};

/// A KMIP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolVersion {
    /// Major version.
    pub major: i32,
    /// Minor version.
    pub minor: i32,
}

impl ProtocolVersion {
    /// KMIP 1.0.
    pub const V1_0: Self = Self::new(1, 0);
    /// KMIP 1.1.
    pub const V1_1: Self = Self::new(1, 1);
    /// KMIP 1.2.
    pub const V1_2: Self = Self::new(1, 2);
    /// KMIP 1.3.
    pub const V1_3: Self = Self::new(1, 3);
    /// KMIP 1.4.
    pub const V1_4: Self = Self::new(1, 4);
    /// KMIP 2.0.
    pub const V2_0: Self = Self::new(2, 0);
    /// KMIP 2.1.
    pub const V2_1: Self = Self::new(2, 1);
    /// The versions this crate speaks, newest first (the order of a Discover Versions answer).
    pub const SUPPORTED: [Self; 7] = [
        Self::V2_1,
        Self::V2_0,
        Self::V1_4,
        Self::V1_3,
        Self::V1_2,
        Self::V1_1,
        Self::V1_0,
    ];

    /// Makes a version.
    pub const fn new(major: i32, minor: i32) -> Self {
        ProtocolVersion { major, minor }
    }

    /// Returns true if and only if this version uses the KMIP 2.x attribute encoding.
    pub const fn is_v2(self) -> bool {
        self.major >= 2
    }

    /// Encodes as a `ProtocolVersion` structure.
    pub fn to_ttlv(self) -> Ttlv {
        Ttlv::structure(
            Tag::PROTOCOL_VERSION,
            vec![
                Ttlv::integer(Tag::PROTOCOL_VERSION_MAJOR, self.major),
                Ttlv::integer(Tag::PROTOCOL_VERSION_MINOR, self.minor),
            ],
        )
    }

    /// Decodes a `ProtocolVersion` structure.
    ///
    /// # Errors
    /// [`KmipError::MissingField`] or [`KmipError::InvalidField`] for a malformed structure.
    pub fn from_ttlv(t: &Ttlv) -> Result<Self, KmipError> {
        let f = Fields::new(t, Tag::PROTOCOL_VERSION)?;
        Ok(ProtocolVersion {
            major: f.integer(Tag::PROTOCOL_VERSION_MAJOR)?,
            minor: f.integer(Tag::PROTOCOL_VERSION_MINOR)?,
        })
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

fn push_opt(v: &mut Vec<Ttlv>, t: Option<Ttlv>) {
    v.extend(t);
}
