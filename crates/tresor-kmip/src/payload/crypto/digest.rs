//! RNG Retrieve (random bytes from the server) and Hash (the digest of data): the two
//! cryptographic operations without a managed key.

use std::fmt;

use super::{CorrelationValue, CryptographicParameters, Redacted, bool_item, bytes_item};
use crate::enums::Operation;
use crate::message::ProtocolVersion;
use crate::payload::{Payload, PayloadError, Request, opt_integer, push_opt};
use crate::payload::{opt_bool, opt_bytes};
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// An RNG Retrieve request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RngRetrieveRequest {
    /// How many random bytes.
    pub data_length: Option<i32>,
}

impl RngRetrieveRequest {
    /// A request for `n` random bytes.
    pub fn new(n: i32) -> Self {
        RngRetrieveRequest {
            data_length: Some(n),
        }
    }
}

impl Payload for RngRetrieveRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(RngRetrieveRequest {
            data_length: opt_integer(p, Tag::DATA_LENGTH),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = Vec::new();
        push_opt(
            &mut out,
            self.data_length.map(|n| Ttlv::integer(Tag::DATA_LENGTH, n)),
        );
        out
    }
}

impl Request for RngRetrieveRequest {
    const OPERATION: Operation = Operation::RNG_RETRIEVE;
    type Response = RngRetrieveResponse;
}

/// An RNG Retrieve response. `Debug` prints the bytes' length only (they may become a key).
#[derive(Clone, PartialEq, Eq)]
pub struct RngRetrieveResponse {
    /// The random bytes.
    pub data: Vec<u8>,
}

impl fmt::Debug for RngRetrieveResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RngRetrieveResponse")
            .field("data", &Redacted(Some(&self.data)))
            .finish()
    }
}

impl Payload for RngRetrieveResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(RngRetrieveResponse {
            data: opt_bytes(p, Tag::DATA).ok_or(PayloadError::Missing {
                parent: p.tag,
                field: Tag::DATA,
            })?,
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        vec![Ttlv::bytes(Tag::DATA, self.data.clone())]
    }
}

/// A Hash request (KMIP 1.2 and later).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashRequest {
    /// The Hashing Algorithm to use (the server needs it).
    pub cryptographic_parameters: Option<CryptographicParameters>,
    /// The data to hash.
    pub data: Option<Vec<u8>>,
    /// The stream this part continues.
    pub correlation_value: Option<CorrelationValue>,
    /// This part starts a stream.
    pub init_indicator: Option<bool>,
    /// This part ends a stream.
    pub final_indicator: Option<bool>,
}

impl HashRequest {
    /// The hash of `data` with `algorithm`, in one request.
    pub fn new(algorithm: crate::enums::HashingAlgorithm, data: Vec<u8>) -> Self {
        HashRequest {
            cryptographic_parameters: Some(CryptographicParameters {
                hashing_algorithm: Some(algorithm),
                ..CryptographicParameters::default()
            }),
            data: Some(data),
            ..HashRequest::default()
        }
    }
}

impl Payload for HashRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(HashRequest {
            cryptographic_parameters: CryptographicParameters::of(p),
            data: opt_bytes(p, Tag::DATA),
            correlation_value: CorrelationValue::of(p),
            init_indicator: opt_bool(p, Tag::INIT_INDICATOR),
            final_indicator: opt_bool(p, Tag::FINAL_INDICATOR),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = Vec::new();
        push_opt(
            &mut out,
            self.cryptographic_parameters
                .as_ref()
                .map(CryptographicParameters::to_ttlv),
        );
        push_opt(&mut out, bytes_item(Tag::DATA, self.data.as_ref()));
        push_opt(
            &mut out,
            self.correlation_value
                .as_ref()
                .map(CorrelationValue::to_ttlv),
        );
        push_opt(
            &mut out,
            bool_item(Tag::INIT_INDICATOR, self.init_indicator),
        );
        push_opt(
            &mut out,
            bool_item(Tag::FINAL_INDICATOR, self.final_indicator),
        );
        out
    }
}

impl Request for HashRequest {
    const OPERATION: Operation = Operation::HASH;
    type Response = HashResponse;
}

/// A Hash response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashResponse {
    /// The digest (absent for a non-final part of a stream).
    pub data: Option<Vec<u8>>,
    /// The stream's Correlation Value, for every part but the final one.
    pub correlation_value: Option<Vec<u8>>,
}

impl Payload for HashResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(HashResponse {
            data: opt_bytes(p, Tag::DATA),
            correlation_value: opt_bytes(p, Tag::CORRELATION_VALUE),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = Vec::new();
        push_opt(&mut out, bytes_item(Tag::DATA, self.data.as_ref()));
        push_opt(
            &mut out,
            bytes_item(Tag::CORRELATION_VALUE, self.correlation_value.as_ref()),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::payload::crypto::params::tests::params;
    use crate::payload::crypto::strategies::{bytes, correlation};
    use crate::payload::testing;

    proptest! {
        #[test]
        fn rng_round_trips(
            n in proptest::option::of(any::<i32>()),
            data in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let v = ProtocolVersion::V1_4;
            let req = RngRetrieveRequest { data_length: n };
            prop_assert_eq!(RngRetrieveRequest::from_ttlv(&req.to_ttlv(v))?, req);
            let resp = RngRetrieveResponse { data };
            prop_assert_eq!(RngRetrieveResponse::from_ttlv(&resp.to_ttlv(v))?, resp);
        }

        #[test]
        fn hash_round_trips(
            cp in proptest::option::of(params()),
            (data, out) in (bytes(), bytes()),
            c in correlation(),
            init in proptest::option::of(any::<bool>()),
            fin in proptest::option::of(any::<bool>()),
            back in bytes(),
        ) {
            let v = ProtocolVersion::V2_1;
            let req = HashRequest {
                cryptographic_parameters: cp,
                data,
                correlation_value: c,
                init_indicator: init,
                final_indicator: fin,
            };
            prop_assert_eq!(HashRequest::from_ttlv(&req.to_ttlv(v))?, req);
            let resp = HashResponse { data: out, correlation_value: back };
            prop_assert_eq!(HashResponse::from_ttlv(&resp.to_ttlv(v))?, resp);
        }

        #[test]
        fn never_panics(p in testing::payload()) {
            let _ = RngRetrieveRequest::from_ttlv(&p);
            let _ = RngRetrieveResponse::from_ttlv(&p);
            let _ = HashRequest::from_ttlv(&p);
            let _ = HashResponse::from_ttlv(&p);
        }
    }

    #[test]
    fn rng_response_needs_its_data() {
        let empty = Ttlv::structure(Tag::RESPONSE_PAYLOAD, vec![]);
        assert_eq!(
            RngRetrieveResponse::from_ttlv(&empty),
            Err(PayloadError::Missing {
                parent: Tag::RESPONSE_PAYLOAD,
                field: Tag::DATA
            })
        );
    }
}
