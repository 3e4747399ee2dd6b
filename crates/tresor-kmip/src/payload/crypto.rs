//! The cryptographic operations with a managed key, or none: Encrypt and Decrypt
//! ([`cipher`]), Sign, Signature Verify, MAC and MAC Verify ([`signing`]), RNG Retrieve and
//! Hash ([`digest`]), and the [`CryptographicParameters`] they share ([`params`]).
//!
//! Every field of these requests is optional when read: the server checks the ones an
//! operation needs itself, in the order it always has (the key first, then the data), so a
//! request lacking Data is refused only after its key was found and checked. The streaming
//! fields (Correlation Value, Init Indicator, Final Indicator) are read for every operation
//! that has them; the server streams Encrypt and Decrypt only.
//!
//! # Examples
//! ```
//! use tresor_kmip::payload::{Payload, UidRef};
//! use tresor_kmip::payload::crypto::{CryptographicParameters, EncryptRequest};
//! use tresor_kmip::enums::{BlockCipherMode, CryptographicAlgorithm};
//! use tresor_kmip::ProtocolVersion;
//! let req = EncryptRequest {
//!     unique_identifier: Some(UidRef::text("k1")),
//!     cryptographic_parameters: Some(CryptographicParameters {
//!         block_cipher_mode: Some(BlockCipherMode::GCM),
//!         cryptographic_algorithm: Some(CryptographicAlgorithm::AES),
//!         tag_length: Some(16),
//!         ..Default::default()
//!     }),
//!     data: Some(b"hello".to_vec()),
//!     ..Default::default()
//! };
//! let tree = req.to_ttlv(ProtocolVersion::V1_4);
//! assert_eq!(EncryptRequest::from_ttlv(&tree)?, req);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cipher;
pub mod digest;
pub mod params;
pub mod signing;

use std::fmt;

pub use cipher::{DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse};
pub use digest::{HashRequest, HashResponse, RngRetrieveRequest, RngRetrieveResponse};
pub use params::CryptographicParameters;
pub use signing::{
    MacRequest, MacResponse, MacVerifyRequest, MacVerifyResponse, SignRequest, SignResponse,
    SignatureVerifyRequest, SignatureVerifyResponse,
};

use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// A request's Correlation Value as sent: the bytes a server returned for an open stream,
/// or an item of another type (kept, not dropped: the server has always taken any
/// Correlation Value item as "this request continues a stream").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorrelationValue {
    /// The Correlation Value bytes.
    Bytes(Vec<u8>),
    /// A Correlation Value item that is not a byte string, kept as sent.
    Other(Value),
}

impl CorrelationValue {
    /// The Correlation Value of `payload`, if it has one (of any item type).
    pub fn of(payload: &Ttlv) -> Option<Self> {
        payload
            .find(Tag::CORRELATION_VALUE)
            .map(|t| match &t.value {
                Value::ByteString(b) => CorrelationValue::Bytes(b.clone()),
                other => CorrelationValue::Other(other.clone()),
            })
    }

    /// The bytes, when it is a byte string.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            CorrelationValue::Bytes(b) => Some(b),
            CorrelationValue::Other(_) => None,
        }
    }

    /// The Correlation Value item.
    pub fn to_ttlv(&self) -> Ttlv {
        match self {
            CorrelationValue::Bytes(b) => Ttlv::bytes(Tag::CORRELATION_VALUE, b.clone()),
            CorrelationValue::Other(v) => Ttlv::new(Tag::CORRELATION_VALUE, v.clone()),
        }
    }
}

/// A byte string item, when there are bytes.
pub(crate) fn bytes_item(tag: Tag, v: Option<&Vec<u8>>) -> Option<Ttlv> {
    v.map(|b| Ttlv::bytes(tag, b.clone()))
}

/// A boolean item, when there is a value.
pub(crate) fn bool_item(tag: Tag, v: Option<bool>) -> Option<Ttlv> {
    v.map(|b| Ttlv::new(tag, Value::Boolean(b)))
}

/// Prints a byte field that may be secret (plain text, random bytes) as its length only.
pub(crate) struct Redacted<'a>(pub(crate) Option<&'a Vec<u8>>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(b) => write!(f, "Some([REDACTED; {} bytes])", b.len()),
            None => f.write_str("None"),
        }
    }
}

#[cfg(test)]
pub(crate) mod strategies {
    //! Strategies the round-trip tests of the crypto payloads share.
    use proptest::prelude::*;

    use super::CorrelationValue;
    use crate::payload::UidRef;
    use crate::ttlv::Value;

    /// An optional Unique Identifier: text, or a 2.x reference to an earlier result.
    pub(crate) fn uid() -> impl Strategy<Value = Option<UidRef>> {
        proptest::option::of(prop_oneof![
            ".{0,16}".prop_map(UidRef::Text),
            any::<u32>().prop_map(|e| UidRef::Placeholder(Value::Enumeration(e))),
        ])
    }

    /// Optional bytes.
    pub(crate) fn bytes() -> impl Strategy<Value = Option<Vec<u8>>> {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40))
    }

    /// An optional Correlation Value: bytes, or an item of another type.
    pub(crate) fn correlation() -> impl Strategy<Value = Option<CorrelationValue>> {
        proptest::option::of(prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(CorrelationValue::Bytes),
            any::<i32>().prop_map(|i| CorrelationValue::Other(Value::Integer(i))),
            ".{0,8}".prop_map(|s| CorrelationValue::Other(Value::TextString(s))),
        ])
    }
}
