//! What a server tells a client about itself: Discover Versions (the protocol versions both
//! speak) and Query (its operations, object types, vendor and server information).

use super::{Payload, PayloadError, Request, opt_text, push_opt};
use crate::enums::{ObjectType, Operation, QueryFunction};
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// The `Protocol Version` fields of `p` that can be read (others are skipped).
fn versions_of(p: &Ttlv) -> Vec<ProtocolVersion> {
    p.find_all(Tag::PROTOCOL_VERSION)
        .filter_map(|t| ProtocolVersion::from_ttlv(t).ok())
        .collect()
}

/// Defines a payload holding a list of protocol versions.
macro_rules! versions_payload {
    ($tag:expr, $doc:literal, $name:ident) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            /// The versions, most preferred first.
            pub protocol_versions: Vec<ProtocolVersion>,
        }

        impl Payload for $name {
            const TAG: Tag = $tag;

            fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
                Ok($name {
                    protocol_versions: versions_of(p),
                })
            }

            fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
                self.protocol_versions.iter().map(|v| v.to_ttlv()).collect()
            }
        }
    };
}

versions_payload!(
    Tag::REQUEST_PAYLOAD,
    "A Discover Versions request: the versions the client speaks (none: ask for all).",
    DiscoverVersionsRequest
);

impl DiscoverVersionsRequest {
    /// A Discover Versions listing every version tresor speaks.
    pub fn supported() -> Self {
        DiscoverVersionsRequest {
            protocol_versions: ProtocolVersion::SUPPORTED.to_vec(),
        }
    }
}

impl Request for DiscoverVersionsRequest {
    const OPERATION: Operation = Operation::DISCOVER_VERSIONS;
    type Response = DiscoverVersionsResponse;
}

versions_payload!(
    Tag::RESPONSE_PAYLOAD,
    "A Discover Versions response: the versions both sides speak, the server's preferred first.",
    DiscoverVersionsResponse
);

/// A Query request: what the client wants to know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryRequest {
    /// The Query Functions (Query Operations, Query Objects, Query Server Information, ...).
    pub query_functions: Vec<QueryFunction>,
}

impl QueryRequest {
    /// A Query of `functions`.
    pub fn new(functions: impl IntoIterator<Item = QueryFunction>) -> Self {
        QueryRequest {
            query_functions: functions.into_iter().collect(),
        }
    }

    /// Returns true if and only if the request asks for `f`.
    pub fn asks(&self, f: QueryFunction) -> bool {
        self.query_functions.contains(&f)
    }
}

impl Payload for QueryRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    /// Reads every Query Function that is an enumeration (others are skipped).
    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(QueryRequest {
            query_functions: p
                .find_all(Tag::QUERY_FUNCTION)
                .filter_map(Ttlv::as_enumeration)
                .map(QueryFunction)
                .collect(),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        self.query_functions
            .iter()
            .map(|f| Ttlv::enumeration(Tag::QUERY_FUNCTION, *f))
            .collect()
    }
}

impl Request for QueryRequest {
    const OPERATION: Operation = Operation::QUERY;
    type Response = QueryResponse;
}

/// A Query response. The fields KMIP adds after Server Information (Application
/// Namespaces, Extension Information, Profile and Capability Information, ...) are not
/// modelled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryResponse {
    /// The operations the server supports (Query Operations).
    pub operations: Vec<Operation>,
    /// The object types it supports (Query Objects).
    pub object_types: Vec<ObjectType>,
    /// Its vendor (Query Server Information).
    pub vendor_identification: Option<String>,
    /// The fields of its `Server Information` structure (Query Server Information; their
    /// contents are the vendor's choice).
    pub server_information: Option<Vec<Ttlv>>,
}

impl QueryResponse {
    /// The Server Name of the Server Information, if it has one (tresor's: `tresor VERSION
    /// (KMIP VERSION)`).
    pub fn server_name(&self) -> Option<&str> {
        self.server_information
            .as_deref()?
            .iter()
            .find(|t| t.tag == Tag::SERVER_NAME)
            .and_then(Ttlv::as_text)
    }
}

impl Payload for QueryResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    /// Reads the enumerations among Operation and Object Type fields (others are skipped)
    /// and the first Vendor Identification and Server Information.
    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        let enums = |tag| p.find_all(tag).filter_map(Ttlv::as_enumeration);
        Ok(QueryResponse {
            operations: enums(Tag::OPERATION).map(Operation).collect(),
            object_types: enums(Tag::OBJECT_TYPE).map(ObjectType).collect(),
            vendor_identification: opt_text(p, Tag::VENDOR_IDENTIFICATION),
            server_information: p.find(Tag::SERVER_INFORMATION).map(|s| s.items().to_vec()),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out: Vec<Ttlv> = self
            .operations
            .iter()
            .map(|o| Ttlv::enumeration(Tag::OPERATION, *o))
            .collect();
        out.extend(
            self.object_types
                .iter()
                .map(|t| Ttlv::enumeration(Tag::OBJECT_TYPE, *t)),
        );
        push_opt(
            &mut out,
            self.vendor_identification
                .as_ref()
                .map(|v| Ttlv::text(Tag::VENDOR_IDENTIFICATION, v.clone())),
        );
        push_opt(
            &mut out,
            self.server_information
                .as_ref()
                .map(|s| Ttlv::structure(Tag::SERVER_INFORMATION, s.clone())),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::payload::testing;

    fn version() -> impl Strategy<Value = ProtocolVersion> {
        (any::<i32>(), any::<i32>()).prop_map(|(a, b)| ProtocolVersion::new(a, b))
    }

    proptest! {
        #[test]
        fn discover_versions_round_trips(vs in proptest::collection::vec(version(), 0..8)) {
            let v = ProtocolVersion::V1_2;
            let req = DiscoverVersionsRequest { protocol_versions: vs.clone() };
            prop_assert_eq!(DiscoverVersionsRequest::from_ttlv(&req.to_ttlv(v))?, req);
            let resp = DiscoverVersionsResponse { protocol_versions: vs };
            prop_assert_eq!(DiscoverVersionsResponse::from_ttlv(&resp.to_ttlv(v))?, resp);
        }

        #[test]
        fn query_round_trips(
            fs in proptest::collection::vec(any::<u32>(), 0..6),
            ops in proptest::collection::vec(any::<u32>(), 0..12),
            types in proptest::collection::vec(any::<u32>(), 0..6),
            vendor in proptest::option::of(".{0,12}"),
            name in proptest::option::of(".{0,24}"),
        ) {
            let v = ProtocolVersion::V2_1;
            let req = QueryRequest::new(fs.into_iter().map(QueryFunction));
            prop_assert_eq!(QueryRequest::from_ttlv(&req.to_ttlv(v))?, req);
            let resp = QueryResponse {
                operations: ops.into_iter().map(Operation).collect(),
                object_types: types.into_iter().map(ObjectType).collect(),
                vendor_identification: vendor,
                server_information: name.map(|n| vec![Ttlv::text(Tag::SERVER_NAME, n)]),
            };
            prop_assert_eq!(QueryResponse::from_ttlv(&resp.to_ttlv(v))?, resp);
        }

        #[test]
        fn never_panics(p in testing::payload()) {
            let _ = DiscoverVersionsRequest::from_ttlv(&p);
            let _ = DiscoverVersionsResponse::from_ttlv(&p);
            let _ = QueryRequest::from_ttlv(&p);
            let _ = QueryResponse::from_ttlv(&p).map(|r| r.server_name().map(str::len));
        }
    }

    #[test]
    fn the_server_name_is_read_from_server_information() {
        let resp = QueryResponse {
            server_information: Some(vec![Ttlv::text(Tag::SERVER_NAME, "tresor")]),
            ..QueryResponse::default()
        };
        assert_eq!(resp.server_name(), Some("tresor"));
        assert_eq!(QueryResponse::default().server_name(), None);
    }
}
