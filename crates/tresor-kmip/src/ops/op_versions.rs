//! The KMIP version that introduced each operation: a request in an older version is
//! refused with Operation Not Supported, as that version's specification has no such
//! operation (PyKMIP's server does the same).
//!
//! The Operation enumeration grew in order: 0x01–0x1C are KMIP 1.0 (Create … Put), 0x1D
//! Re-key Key Pair and 0x1E Discover Versions came with 1.1, 0x1F–0x29 (Encrypt, Decrypt,
//! Sign, Signature Verify, MAC, MAC Verify, RNG Retrieve/Seed, Hash, Create/Join Split Key)
//! with 1.2, Import/Export (0x2A–0x2B) with 1.4, Log … PKCS#11 (0x2C–0x33, Set Attribute
//! among them) with 2.0, and Interop … Ping (0x34–0x3B) with 2.1.

use crate::enums::Operation;
use crate::message::ProtocolVersion;

/// The first version defining `op` (`None`: a vendor extension, not gated here).
pub(crate) fn introduced(op: Operation) -> Option<ProtocolVersion> {
    Some(match op.0 {
        0x01..=0x1C => ProtocolVersion::V1_0,
        0x1D..=0x1E => ProtocolVersion::V1_1,
        0x1F..=0x29 => ProtocolVersion::V1_2,
        0x2A..=0x2B => ProtocolVersion::V1_4,
        0x2C..=0x33 => ProtocolVersion::V2_0,
        0x34..=0x3B => ProtocolVersion::V2_1,
        _ => return None,
    })
}

/// Returns true if and only if `op` exists in version `v`. Discover Versions (1.1) is
/// answered in every version: a client bootstraps with it under the lowest header it knows,
/// and PyKMIP's client fails on the refusal (it reads the missing payload).
pub(crate) fn exists_in(op: Operation, v: ProtocolVersion) -> bool {
    op == Operation::DISCOVER_VERSIONS || introduced(op).is_none_or(|first| first <= v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_appear_in_their_version() {
        assert!(!exists_in(Operation::ENCRYPT, ProtocolVersion::V1_1));
        assert!(exists_in(Operation::ENCRYPT, ProtocolVersion::V1_2));
        assert!(exists_in(
            Operation::DISCOVER_VERSIONS,
            ProtocolVersion::V1_0
        ));
        assert!(!exists_in(
            Operation::RE_KEY_KEY_PAIR,
            ProtocolVersion::V1_0
        ));
        assert!(exists_in(Operation::DERIVE_KEY, ProtocolVersion::V1_0));
        assert!(!exists_in(Operation::SET_ATTRIBUTE, ProtocolVersion::V1_4));
        assert!(exists_in(Operation::SET_ATTRIBUTE, ProtocolVersion::V2_0));
        assert!(!exists_in(Operation::INTEROP, ProtocolVersion::V2_0));
        assert!(exists_in(Operation(0x8000_0001), ProtocolVersion::V1_0));
    }
}
