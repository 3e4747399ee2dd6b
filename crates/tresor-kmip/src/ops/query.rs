//! Discover Versions and Query: what the server tells a client about itself (the
//! protocol versions, operations and object types it supports, its name).

use super::{OpError, Session};
use crate::enums::{ObjectType as KmipType, QueryFunction};
use crate::message::ProtocolVersion;
use crate::payload::Payload;
use crate::payload::query::{
    DiscoverVersionsRequest, DiscoverVersionsResponse, QueryRequest, QueryResponse,
};
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// Discover Versions: the supported versions the client also lists, newest first.
pub(crate) fn discover_versions(s: &Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let asked = DiscoverVersionsRequest::from_ttlv(payload)?.protocol_versions;
    Ok(DiscoverVersionsResponse {
        protocol_versions: ProtocolVersion::SUPPORTED
            .into_iter()
            .filter(|v| asked.is_empty() || asked.contains(v))
            .collect(),
    }
    .to_items(s.version))
}

/// Query: operations, object types and server information, truthfully.
pub(crate) fn query(s: &Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = QueryRequest::from_ttlv(payload)?;
    let mut resp = QueryResponse::default();
    if req.asks(QueryFunction::QUERY_OPERATIONS) {
        resp.operations = super::table::TABLE
            .iter()
            .filter(|e| !super::table::is_vendor(e.op) && e.since <= s.version)
            .map(|e| e.op)
            .collect();
    }
    if req.asks(QueryFunction::QUERY_OBJECTS) {
        resp.object_types = vec![
            KmipType::CERTIFICATE,
            KmipType::SYMMETRIC_KEY,
            KmipType::PUBLIC_KEY,
            KmipType::PRIVATE_KEY,
            KmipType::SECRET_DATA,
            KmipType::OPAQUE_OBJECT,
        ];
    }
    if req.asks(QueryFunction::QUERY_SERVER_INFORMATION) {
        resp.vendor_identification = Some("tresor".to_owned());
        resp.server_information = Some(vec![Ttlv::text(
            Tag::SERVER_NAME,
            format!("tresor {} (KMIP {})", env!("CARGO_PKG_VERSION"), s.version),
        )]);
    }
    Ok(resp.to_items(s.version))
}
