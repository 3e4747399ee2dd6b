//! Discover Versions and Query: what the server tells a client about itself (the
//! protocol versions, operations and object types it supports, its name).

use super::Session;
use crate::enums::{ObjectType as KmipType, QueryFunction};
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// Discover Versions: the supported versions the client also lists, newest first.
pub(crate) fn discover_versions(payload: &Ttlv) -> Vec<Ttlv> {
    let asked: Vec<ProtocolVersion> = payload
        .find_all(Tag::PROTOCOL_VERSION)
        .filter_map(|t| ProtocolVersion::from_ttlv(t).ok())
        .collect();
    ProtocolVersion::SUPPORTED
        .iter()
        .filter(|v| asked.is_empty() || asked.contains(v))
        .map(|v| v.to_ttlv())
        .collect()
}

/// Query: operations, object types and server information, truthfully.
pub(crate) fn query(s: &Session<'_>, payload: &Ttlv) -> Vec<Ttlv> {
    let mut out = Vec::new();
    let functions: Vec<u32> = payload
        .find_all(Tag::QUERY_FUNCTION)
        .filter_map(Ttlv::as_enumeration)
        .collect();
    if functions.contains(&QueryFunction::QUERY_OPERATIONS.0) {
        let listed = super::table::TABLE
            .iter()
            .filter(|e| !super::table::is_vendor(e.op) && e.since <= s.version);
        for e in listed {
            out.push(Ttlv::enumeration(Tag::OPERATION, e.op));
        }
    }
    if functions.contains(&QueryFunction::QUERY_OBJECTS.0) {
        for t in [
            KmipType::CERTIFICATE,
            KmipType::SYMMETRIC_KEY,
            KmipType::PUBLIC_KEY,
            KmipType::PRIVATE_KEY,
            KmipType::SECRET_DATA,
            KmipType::OPAQUE_OBJECT,
        ] {
            out.push(Ttlv::enumeration(Tag::OBJECT_TYPE, t));
        }
    }
    if functions.contains(&QueryFunction::QUERY_SERVER_INFORMATION.0) {
        out.push(Ttlv::text(Tag::VENDOR_IDENTIFICATION, "tresor"));
        out.push(Ttlv::structure(
            Tag::SERVER_INFORMATION,
            vec![Ttlv::text(
                Tag::SERVER_NAME,
                format!("tresor {} (KMIP {})", env!("CARGO_PKG_VERSION"), s.version),
            )],
        ));
    }
    out
}
