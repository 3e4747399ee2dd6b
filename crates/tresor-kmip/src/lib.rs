//! The KMIP protocol layer of tresor.
//!
//! Which type fits which job:
//! - [`Ttlv`], [`Value`], [`Tag`]: the binary TTLV encoding, bounded by [`Limits`]
//!   ([`ttlv`] module; [`ttlv::stream`] reads one length-prefixed message off a connection).
//! - [`tags`] and [`enums`]: KMIP 1.0–2.1 tag and enumeration tables, names <-> numbers.
//! - [`message`]: typed request and response messages ([`RequestMessage`],
//!   [`ResponseMessage`]) over [`Ttlv`] payloads, for a server to dispatch on.
//! - [`payload`]: typed request and response payloads per operation family (Get, Get
//!   Attributes, Register, Locate, Activate/Revoke/Destroy/Check), read and written by the
//!   server and the client alike ([`client::KmipClient::perform`]).
//! - [`attributes`]: one neutral [`AttributeSet`] for KMIP 1.x `TemplateAttribute` and
//!   KMIP 2.x `Attributes`.
//! - [`client`]: a mutual-TLS KMIP client with a PyKMIP-compatible config loader.
//! - [`apps`]: app policies, who may create names under an app.
//! - [`certs`]: a development CA with server and client certificates.
//! - [`server`]: the mutual-TLS KMIP server over the tresor store; [`ops`] holds the
//!   operations it runs (one store transaction per request message).
//! - `xml` (feature `xml`): the KMIP XML encoding used by the OASIS test vectors.
//!
//! # Examples
//! ```
//! use tresor_kmip::{message::*, enums::Operation, ProtocolVersion, Tag, Ttlv};
//! let req = RequestMessage::single(ProtocolVersion::V2_1, Operation::QUERY, vec![]);
//! let bytes = req.to_ttlv().encode();
//! let back = RequestMessage::from_ttlv(&Ttlv::decode(&bytes)?)?;
//! assert_eq!(back.batch_items[0].operation, Operation::QUERY);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod apps;
pub mod attributes;
pub mod certs;
pub mod client;
mod der;
pub mod json;
pub mod ops;
pub mod server;

pub mod enums;
mod error;
pub mod message;
pub mod payload;
pub mod tags;
pub mod ttlv;
pub mod vendor;
#[cfg(any(test, feature = "xml"))]
pub mod xml;

#[doc(hidden)]
pub mod fuzzing;

pub use attributes::{Attribute, AttributeName, AttributeSet};
pub use error::{KmipError, PayloadError, TtlvError};
pub use message::{ProtocolVersion, RequestMessage, ResponseMessage};
pub use tags::Tag;
pub use ttlv::{ItemType, Limits, Ttlv, Value};
