//! The one table of operations the server runs: for each, its handler, whether it only
//! reads the store, and the KMIP version that introduced it.
//!
//! Dispatch ([`super::Session::dispatch`]), Query's operation list ([`super::OPERATIONS`]),
//! the set of messages run inline ([`is_read_only`]) and the version check (`since`) are
//! all read from [`TABLE`]; an operation is added to the server by adding one row.
//!
//! The Operation enumeration grew in order: 0x01–0x1C are KMIP 1.0 (Create … Put), 0x1D
//! Re-key Key Pair and 0x1E Discover Versions came with 1.1, 0x1F–0x29 (Encrypt, Decrypt,
//! Sign, Signature Verify, MAC, MAC Verify, RNG Retrieve/Seed, Hash, Create/Join Split Key)
//! with 1.2, Import/Export (0x2A–0x2B) with 1.4, Log … PKCS#11 (0x2C–0x33, Set Attribute
//! among them) with 2.0, and Interop … Ping (0x34–0x3B) with 2.1. A request in an older
//! version than an operation's `since` is refused with Operation Not Supported, as that
//! version's specification has no such operation (PyKMIP's server does the same).

use super::{
    OpError, Session, attribute_ops, create, derive, get, lifecycle, locate, query, usage,
};
use crate::enums::Operation;
use crate::message::ProtocolVersion;
use crate::ttlv::Ttlv;
use crate::vendor;

/// Runs one operation: the request payload in, the response payload fields out.
pub(crate) type Handler = fn(&mut Session<'_>, &Ttlv) -> Result<Vec<Ttlv>, OpError>;

/// One operation the server implements.
pub(crate) struct OpEntry {
    /// The operation.
    pub(crate) op: Operation,
    /// What runs it.
    pub(crate) handler: Handler,
    /// Reads the store only, so a message made of such items runs inline. Such an operation
    /// seldom commits: Get once per object, the first time it is served (its Fresh flag),
    /// and a cryptographic operation on an object with Usage Limits (its count); such a
    /// commit then runs on the worker too.
    pub(crate) read_only: bool,
    /// The first KMIP version defining it (vendor operations: 1.0, never gated).
    pub(crate) since: ProtocolVersion,
}

const fn entry(
    op: Operation,
    handler: Handler,
    read_only: bool,
    since: ProtocolVersion,
) -> OpEntry {
    OpEntry {
        op,
        handler,
        read_only,
        since,
    }
}

const V1_0: ProtocolVersion = ProtocolVersion::V1_0;
const V1_2: ProtocolVersion = ProtocolVersion::V1_2;
const V2_0: ProtocolVersion = ProtocolVersion::V2_0;
const V2_1: ProtocolVersion = ProtocolVersion::V2_1;
const READ: bool = true;
const WRITE: bool = false;

/// Every operation, in the order Query lists them; tresor's vendor operations last.
pub(crate) const TABLE: &[OpEntry] = &[
    entry(Operation::CREATE, create::create, WRITE, V1_0),
    entry(
        Operation::CREATE_KEY_PAIR,
        create::create_key_pair,
        WRITE,
        V1_0,
    ),
    entry(Operation::REGISTER, create::register, WRITE, V1_0),
    entry(Operation::RE_KEY, create::rekey, WRITE, V1_0),
    entry(Operation::DERIVE_KEY, derive::derive_key, WRITE, V1_0),
    entry(Operation::LOCATE, locate::locate, READ, V1_0),
    entry(Operation::CHECK, lifecycle::check, READ, V1_0),
    entry(Operation::GET, get::get, READ, V1_0),
    entry(
        Operation::GET_ATTRIBUTES,
        attribute_ops::get_attributes,
        READ,
        V1_0,
    ),
    entry(
        Operation::GET_ATTRIBUTE_LIST,
        attribute_ops::get_attribute_list,
        READ,
        V1_0,
    ),
    entry(
        Operation::ADD_ATTRIBUTE,
        attribute_ops::add_attribute,
        WRITE,
        V1_0,
    ),
    entry(
        Operation::MODIFY_ATTRIBUTE,
        attribute_ops::modify_attribute,
        WRITE,
        V1_0,
    ),
    entry(
        Operation::DELETE_ATTRIBUTE,
        attribute_ops::delete_attribute,
        WRITE,
        V1_0,
    ),
    entry(
        Operation::SET_ATTRIBUTE,
        attribute_ops::set_attribute,
        WRITE,
        V2_0,
    ),
    entry(Operation::ACTIVATE, lifecycle::activate, WRITE, V1_0),
    entry(Operation::REVOKE, lifecycle::revoke, WRITE, V1_0),
    entry(Operation::DESTROY, lifecycle::destroy, WRITE, V1_0),
    entry(Operation::QUERY, |s, p| query::query(s, p), READ, V1_0),
    // KMIP 1.1, but answered in every version: a client bootstraps with it under the lowest
    // header it knows, and PyKMIP's client fails on the refusal (it reads the missing
    // payload).
    entry(
        Operation::DISCOVER_VERSIONS,
        |s, p| query::discover_versions(s, p),
        READ,
        V1_0,
    ),
    entry(Operation::ENCRYPT, usage::encrypt, READ, V1_2),
    entry(Operation::DECRYPT, usage::decrypt, READ, V1_2),
    entry(Operation::SIGN, usage::sign, READ, V1_2),
    entry(Operation::SIGNATURE_VERIFY, usage::verify, READ, V1_2),
    entry(Operation::MAC, usage::mac, READ, V1_2),
    entry(Operation::MAC_VERIFY, usage::mac_verify, READ, V1_2),
    entry(
        Operation::RNG_RETRIEVE,
        |_, p| usage::rng_retrieve(p),
        READ,
        V1_2,
    ),
    entry(Operation::HASH, |_, p| usage::hash(p), READ, V1_2),
    entry(Operation::INTEROP, |_, p| super::interop(p), WRITE, V2_1),
    entry(Operation::LOG, |_, p| super::log(p), WRITE, V2_0),
    entry(vendor::ADD_VERSION, vendor::add_version, WRITE, V1_0),
    entry(vendor::VERSIONS, vendor::versions, WRITE, V1_0),
    entry(vendor::PURGE, vendor::purge, WRITE, V1_0),
    entry(
        vendor::READ_NAMES,
        vendor::read_names::read_names,
        WRITE,
        V1_0,
    ),
];

/// The row of `op`, if the server implements it.
pub(crate) fn lookup(op: Operation) -> Option<&'static OpEntry> {
    TABLE.iter().find(|e| e.op == op)
}

/// Returns true if and only if `op` is a vendor extension (the top bit set), not one of the
/// operations KMIP defines.
pub(crate) const fn is_vendor(op: Operation) -> bool {
    op.0 & 0x8000_0000 != 0
}

/// Returns true if and only if the server implements `op` and it only reads the store.
pub(crate) fn is_read_only(op: Operation) -> bool {
    lookup(op).is_some_and(|e| e.read_only)
}

/// The number of KMIP-defined (not vendor) operations in [`TABLE`].
const fn standard_count() -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < TABLE.len() {
        if !is_vendor(TABLE[i].op) {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The KMIP-defined operations of [`TABLE`], in its order (what Query reports).
pub(crate) const STANDARD: [Operation; standard_count()] = {
    let mut out = [Operation(0); standard_count()];
    let mut n = 0;
    let mut i = 0;
    while i < TABLE.len() {
        if !is_vendor(TABLE[i].op) {
            out[n] = TABLE[i].op;
            n += 1;
        }
        i += 1;
    }
    out
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_operation_appears_twice() {
        for (i, e) in TABLE.iter().enumerate() {
            assert!(
                TABLE[i + 1..].iter().all(|o| o.op != e.op),
                "{} appears twice",
                e.op
            );
        }
    }

    /// The set run inline is the one `server::connection` listed before the table existed.
    #[test]
    fn read_only_set_is_unchanged() {
        let was = [
            Operation::GET,
            Operation::GET_ATTRIBUTES,
            Operation::GET_ATTRIBUTE_LIST,
            Operation::LOCATE,
            Operation::CHECK,
            Operation::QUERY,
            Operation::DISCOVER_VERSIONS,
            Operation::ENCRYPT,
            Operation::DECRYPT,
            Operation::SIGN,
            Operation::SIGNATURE_VERIFY,
            Operation::MAC,
            Operation::MAC_VERIFY,
            Operation::RNG_RETRIEVE,
            Operation::HASH,
        ];
        let now: Vec<Operation> = TABLE.iter().filter(|e| e.read_only).map(|e| e.op).collect();
        assert_eq!(now.len(), was.len());
        assert!(was.iter().all(|op| now.contains(op)));
    }

    /// Each `since` is the version whose Operation range holds the value (Discover Versions
    /// excepted, answered in every version).
    #[test]
    fn since_follows_the_enumeration_ranges() {
        for e in TABLE {
            let want = match e.op.0 {
                _ if e.op == Operation::DISCOVER_VERSIONS => ProtocolVersion::V1_0,
                0x01..=0x1C => ProtocolVersion::V1_0,
                0x1D..=0x1E => ProtocolVersion::V1_1,
                0x1F..=0x29 => ProtocolVersion::V1_2,
                0x2A..=0x2B => ProtocolVersion::V1_4,
                0x2C..=0x33 => ProtocolVersion::V2_0,
                0x34..=0x3B => ProtocolVersion::V2_1,
                _ => {
                    assert!(is_vendor(e.op), "{}", e.op);
                    ProtocolVersion::V1_0
                }
            };
            assert_eq!(e.since, want, "{}", e.op);
        }
    }

    #[test]
    fn standard_lists_every_kmip_operation_in_order() {
        let want: Vec<Operation> = TABLE
            .iter()
            .map(|e| e.op)
            .filter(|op| !is_vendor(*op))
            .collect();
        assert_eq!(STANDARD.to_vec(), want);
        assert_eq!(STANDARD.len(), 29);
        assert!(!STANDARD.contains(&vendor::READ_NAMES));
    }

    #[test]
    fn operations_appear_in_their_version() {
        let runs = |op, v| lookup(op).is_some_and(|e| e.since <= v);
        assert!(!runs(Operation::ENCRYPT, ProtocolVersion::V1_1));
        assert!(runs(Operation::ENCRYPT, ProtocolVersion::V1_2));
        assert!(runs(Operation::DISCOVER_VERSIONS, ProtocolVersion::V1_0));
        assert!(runs(Operation::DERIVE_KEY, ProtocolVersion::V1_0));
        assert!(!runs(Operation::SET_ATTRIBUTE, ProtocolVersion::V1_4));
        assert!(runs(Operation::SET_ATTRIBUTE, ProtocolVersion::V2_0));
        assert!(!runs(Operation::INTEROP, ProtocolVersion::V2_0));
        assert!(runs(vendor::VERSIONS, ProtocolVersion::V1_0));
        assert!(lookup(Operation::ARCHIVE).is_none());
    }
}
