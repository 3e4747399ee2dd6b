//! Typed KMIP payloads: each operation's request and response as a struct, read from and
//! written to the `RequestPayload` / `ResponsePayload` tree by one pair of functions.
//!
//! Like rustls' `Codec` (`rustls/src/msgs/codec.rs`), reading can fail and writing cannot:
//! [`Payload::from_ttlv`] checks the fields a payload needs and returns a
//! [`PayloadError`]; [`Payload::to_items`] writes them back. The server's operations parse
//! their request once, at the top, and answer with the response type; the client
//! ([`crate::client::KmipClient::perform`]) sends the request type and reads the response
//! type, so both sides share one description of each message.
//!
//! Reading follows what the server has always accepted: fields it does not model are
//! ignored, and an optional field of the wrong item type reads as absent. A required field
//! that is missing is [`PayloadError::Missing`] (Result Reason Missing Data on the server).
//!
//! One module per operation family: [`get`], [`attributes`] (Get Attributes), [`lifecycle`]
//! (Activate, Revoke, Destroy, Check), [`locate`], [`register`] (Register, with a typed
//! [`register::SecretData`]), [`create`] (Create, Create Key Pair, Re-Key), [`derive`](mod@derive)
//! (Derive Key), [`object`] (the managed objects a Register carries), [`crypto`] (Encrypt,
//! Decrypt, Sign, Signature Verify, MAC, MAC Verify, RNG Retrieve, Hash, with a typed
//! [`crypto::CryptographicParameters`]), [`attribute_ops`] (Add, Set, Modify and Delete
//! Attribute, Get Attribute List), [`query`] (Query, Discover Versions), [`interop`] (Interop,
//! Log) and [`vendor`] (tresor's vendor operations): every operation the server offers.
//!
//! # Examples
//! ```
//! use tresor_kmip::payload::{Payload, UidRef, lifecycle::DestroyRequest};
//! use tresor_kmip::ProtocolVersion;
//! let req = DestroyRequest { unique_identifier: Some(UidRef::text("k1")), ..Default::default() };
//! let tree = req.to_ttlv(ProtocolVersion::V1_4);
//! assert_eq!(DestroyRequest::from_ttlv(&tree)?, req);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// Defines a response holding the object's identifier: `uid_response!("Destroy",
/// DestroyResponse)`. Defined before the modules below, so each of them can use it.
macro_rules! uid_response {
    ($name:literal, $resp:ident) => {
        #[doc = concat!("A ", $name, " response: the object's identifier.")]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $resp {
            /// The object's identifier.
            pub unique_identifier: String,
        }

        impl $crate::payload::Payload for $resp {
            const TAG: $crate::tags::Tag = $crate::tags::Tag::RESPONSE_PAYLOAD;

            fn from_ttlv(p: &$crate::ttlv::Ttlv) -> Result<Self, $crate::payload::PayloadError> {
                Ok($resp {
                    unique_identifier: $crate::payload::req_text(
                        p,
                        $crate::tags::Tag::UNIQUE_IDENTIFIER,
                    )?,
                })
            }

            fn to_items(&self, _: $crate::message::ProtocolVersion) -> Vec<$crate::ttlv::Ttlv> {
                vec![$crate::ttlv::Ttlv::text(
                    $crate::tags::Tag::UNIQUE_IDENTIFIER,
                    self.unique_identifier.clone(),
                )]
            }
        }
    };
}

pub mod attribute_ops;
pub mod attributes;
pub mod create;
pub mod crypto;
pub mod derive;
pub mod get;
pub mod interop;
pub mod lifecycle;
pub mod locate;
pub mod object;
pub mod query;
pub mod register;
pub mod vendor;

use crate::enums::Operation;
pub use crate::error::PayloadError;
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// A request or response payload of one operation.
pub trait Payload: Sized {
    /// The payload structure's tag: [`Tag::REQUEST_PAYLOAD`] or [`Tag::RESPONSE_PAYLOAD`].
    const TAG: Tag;

    /// Reads the payload from its structure (the tag itself is not checked: the server
    /// hands operations an empty structure when a request has no payload).
    ///
    /// # Errors
    /// [`PayloadError`] for a missing required field or an invalid one.
    fn from_ttlv(payload: &Ttlv) -> Result<Self, PayloadError>;

    /// The payload's fields in `version`'s encoding, in order.
    fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv>;

    /// The payload structure in `version`'s encoding.
    fn to_ttlv(&self, version: ProtocolVersion) -> Ttlv {
        Ttlv::structure(Self::TAG, self.to_items(version))
    }
}

/// A request payload: the operation it belongs to and the payload answering it.
pub trait Request: Payload {
    /// The operation.
    const OPERATION: Operation;
    /// The response payload of a successful answer.
    type Response: Payload;
}

/// The Unique Identifier a request names: text, or (KMIP 2.x) an enumeration or integer
/// that refers to an earlier result of the batch (resolved to the ID Placeholder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UidRef {
    /// An object's identifier.
    Text(String),
    /// A reference to an earlier result, kept as sent (any item type but text).
    Placeholder(Value),
}

impl UidRef {
    /// A text identifier.
    pub fn text(uid: impl Into<String>) -> Self {
        UidRef::Text(uid.into())
    }

    /// The Unique Identifier of `payload`, if it has one.
    pub fn of(payload: &Ttlv) -> Option<Self> {
        payload
            .find(Tag::UNIQUE_IDENTIFIER)
            .map(|t| match &t.value {
                Value::TextString(s) => UidRef::Text(s.clone()),
                other => UidRef::Placeholder(other.clone()),
            })
    }

    /// The Unique Identifier item.
    pub fn to_ttlv(&self) -> Ttlv {
        match self {
            UidRef::Text(s) => Ttlv::text(Tag::UNIQUE_IDENTIFIER, s.clone()),
            UidRef::Placeholder(v) => Ttlv::new(Tag::UNIQUE_IDENTIFIER, v.clone()),
        }
    }
}

/// The text of the first `tag` field (`None` when absent or not text).
pub(crate) fn opt_text(p: &Ttlv, tag: Tag) -> Option<String> {
    p.find(tag).and_then(Ttlv::as_text).map(str::to_owned)
}

/// The first `tag` field as an enumeration (`None` when absent or not an enumeration).
pub(crate) fn opt_enum(p: &Ttlv, tag: Tag) -> Option<u32> {
    p.find(tag).and_then(Ttlv::as_enumeration)
}

/// The first `tag` field as an integer (`None` when absent or not an integer).
pub(crate) fn opt_integer(p: &Ttlv, tag: Tag) -> Option<i32> {
    p.find(tag).and_then(Ttlv::as_integer)
}

/// The bytes of the first `tag` field (`None` when absent or not a byte string).
pub(crate) fn opt_bytes(p: &Ttlv, tag: Tag) -> Option<Vec<u8>> {
    p.find(tag).and_then(Ttlv::as_bytes).map(<[u8]>::to_vec)
}

/// The first `tag` field as a boolean (`None` when absent or not a boolean).
pub(crate) fn opt_bool(p: &Ttlv, tag: Tag) -> Option<bool> {
    p.find(tag).and_then(Ttlv::as_bool)
}

/// The text of the required `tag` field of `p`.
pub(crate) fn req_text(p: &Ttlv, tag: Tag) -> Result<String, PayloadError> {
    opt_text(p, tag).ok_or(PayloadError::Missing {
        parent: p.tag,
        field: tag,
    })
}

/// The required `tag` enumeration of `p`.
pub(crate) fn req_enum(p: &Ttlv, tag: Tag) -> Result<u32, PayloadError> {
    opt_enum(p, tag).ok_or(PayloadError::Missing {
        parent: p.tag,
        field: tag,
    })
}

/// Pushes `item` when there is one.
pub(crate) fn push_opt(out: &mut Vec<Ttlv>, item: Option<Ttlv>) {
    if let Some(t) = item {
        out.push(t);
    }
}

/// The tag of the managed-object structure for a KMIP object type.
pub(crate) fn object_tag(t: crate::enums::ObjectType) -> Option<Tag> {
    use crate::enums::ObjectType as T;
    Some(match t {
        T::CERTIFICATE => Tag::CERTIFICATE,
        T::SYMMETRIC_KEY => Tag::SYMMETRIC_KEY,
        T::PUBLIC_KEY => Tag::PUBLIC_KEY,
        T::PRIVATE_KEY => Tag::PRIVATE_KEY,
        T::SPLIT_KEY => Tag::SPLIT_KEY,
        T::SECRET_DATA => Tag::SECRET_DATA,
        T::OPAQUE_OBJECT => Tag::OPAQUE_OBJECT,
        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod testing {
    //! Arbitrary trees for the never-panics tests of each payload module.
    use proptest::prelude::*;

    use crate::tags::Tag;
    use crate::ttlv::{Ttlv, Value};

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i32>().prop_map(Value::Integer),
            any::<i64>().prop_map(Value::LongInteger),
            any::<u32>().prop_map(Value::Enumeration),
            any::<bool>().prop_map(Value::Boolean),
            ".{0,12}".prop_map(Value::TextString),
            proptest::collection::vec(any::<u8>(), 0..24).prop_map(Value::ByteString),
            any::<i64>().prop_map(Value::DateTime),
        ]
    }

    /// Tags the payloads read, so arbitrary trees reach their parsers' branches.
    fn tag() -> impl Strategy<Value = Tag> {
        prop_oneof![
            Just(Tag::UNIQUE_IDENTIFIER),
            Just(Tag::OBJECT_TYPE),
            Just(Tag::KEY_FORMAT_TYPE),
            Just(Tag::KEY_WRAPPING_SPECIFICATION),
            Just(Tag::SECRET_DATA),
            Just(Tag::SECRET_DATA_TYPE),
            Just(Tag::KEY_BLOCK),
            Just(Tag::KEY_VALUE),
            Just(Tag::KEY_MATERIAL),
            Just(Tag::TEMPLATE_ATTRIBUTE),
            Just(Tag::ATTRIBUTES),
            Just(Tag::ATTRIBUTE),
            Just(Tag::ATTRIBUTE_NAME),
            Just(Tag::ATTRIBUTE_VALUE),
            Just(Tag::NAME),
            Just(Tag::MAXIMUM_ITEMS),
            Just(Tag::OFFSET_ITEMS),
            Just(Tag::STORAGE_STATUS_MASK),
            Just(Tag::LOCATED_ITEMS),
            Just(Tag::ATTRIBUTE_REFERENCE),
            Just(Tag::VENDOR_IDENTIFICATION),
            Just(Tag::CRYPTOGRAPHIC_USAGE_MASK),
            Just(Tag::CRYPTOGRAPHIC_PARAMETERS),
            Just(Tag::BLOCK_CIPHER_MODE),
            Just(Tag::HASHING_ALGORITHM),
            Just(Tag::TAG_LENGTH),
            Just(Tag::RANDOM_IV),
            Just(Tag::DATA),
            Just(Tag::DATA_LENGTH),
            Just(Tag::IV_COUNTER_NONCE),
            Just(Tag::CORRELATION_VALUE),
            Just(Tag::INIT_INDICATOR),
            Just(Tag::FINAL_INDICATOR),
            Just(Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA),
            Just(Tag::AUTHENTICATED_ENCRYPTION_TAG),
            Just(Tag::SIGNATURE_DATA),
            Just(Tag::MAC_DATA),
            Just(Tag::VALIDITY_INDICATOR),
            Just(Tag::DERIVATION_PARAMETERS),
            Just(Tag::COMMON_TEMPLATE_ATTRIBUTE),
            Just(Tag::SYMMETRIC_KEY),
            Just(Tag::NEW_ATTRIBUTE),
            Just(Tag::CURRENT_ATTRIBUTE),
            Just(Tag::ATTRIBUTE_INDEX),
            Just(Tag::QUERY_FUNCTION),
            Just(Tag::OPERATION),
            Just(Tag::SERVER_INFORMATION),
            Just(Tag::SERVER_NAME),
            Just(Tag::PROTOCOL_VERSION),
            Just(Tag::PROTOCOL_VERSION_MAJOR),
            Just(Tag::PROTOCOL_VERSION_MINOR),
            Just(Tag::INTEROP_FUNCTION),
            Just(Tag::INTEROP_IDENTIFIER),
            Just(Tag::LOG_MESSAGE),
            Just(Tag::RESULT_REASON),
            Just(crate::vendor::NAME),
            Just(crate::vendor::VERSION),
            Just(crate::vendor::VERSION_INFO),
            Just(crate::vendor::VALUE),
            (0u32..=Tag::MAX).prop_map(|v| Tag::new(v).unwrap_or(Tag::ATTRIBUTE)),
        ]
    }

    /// An arbitrary tree, most of it made of the tags payloads read.
    pub(crate) fn tree() -> impl Strategy<Value = Ttlv> {
        let leaf = (tag(), leaf()).prop_map(|(t, v)| Ttlv::new(t, v));
        leaf.prop_recursive(5, 48, 6, |inner| {
            (tag(), proptest::collection::vec(inner, 0..6)).prop_map(|(t, v)| Ttlv::structure(t, v))
        })
    }

    /// An arbitrary payload: a Request Payload holding arbitrary fields.
    pub(crate) fn payload() -> impl Strategy<Value = Ttlv> {
        proptest::collection::vec(tree(), 0..6)
            .prop_map(|items| Ttlv::structure(Tag::REQUEST_PAYLOAD, items))
    }
}
