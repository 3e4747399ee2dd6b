//! Which attributes each KMIP version defines, and the compatibility rule for Get
//! Attributes without attribute names ("all attributes").
//!
//! **Defined per version** (KMIP 1.0 §3, 1.1 §3, 1.2 §3, 1.3 §3, 1.4 §3, 2.0 §4): a response
//! in version V carries only attributes V defines. 1.1 adds Certificate Length, the X.509
//! certificate attributes, Digital Signature Algorithm and Fresh; 1.2 Alternative Name, Key
//! Value Present/Location and Original Creation Date; 1.3 Random Number Generator; 1.4
//! PKCS#12 Friendly Name, Description, Comment, Sensitive, Always Sensitive, Extractable and
//! Never Extractable; 2.0 Key Format Type, the certificate subject/issuer fields, NIST Key
//! Type, Opaque Data Type, the protection attributes, Quantum Safe and Short Unique
//! Identifier, and drops Certificate Identifier/Subject/Issuer, Operation Policy Name and
//! Custom Attribute (2.0's Vendor Attribute replaces it). Attributes this table does not name
//! (2.1's Rotate attributes, Secret Data Type...) are treated as 2.1 attributes.
//!
//! **All attributes, readable by PyKMIP 0.11** (the compatibility rule, documented in
//! docs/kmip-conformance.md): PyKMIP's client decodes every attribute of a Get Attributes
//! response and raises on the first one it has no decoder for, losing the whole answer
//! (`No value type for KEY_FORMAT_TYPE` in 1.x, `Unrecognized attribute type:
//! Tags.ALWAYS_SENSITIVE` in 2.0). When a Get Attributes names no attributes, tresor answers
//! with the attributes the version defines *and* PyKMIP 0.11 can decode in that version —
//! the same set PyKMIP's own server returns at most. A request naming attributes gets every
//! named attribute the version defines; Get Attribute List names them all.

use crate::attributes::AttributeName;
use crate::message::ProtocolVersion;
use crate::tags::Tag;

/// The first version defining standard attribute `t` (`None`: not an attribute tresor
/// knows the history of; treated as 2.1).
fn since(t: Tag) -> ProtocolVersion {
    use ProtocolVersion as V;
    match t {
        Tag::UNIQUE_IDENTIFIER
        | Tag::NAME
        | Tag::OBJECT_TYPE
        | Tag::CRYPTOGRAPHIC_ALGORITHM
        | Tag::CRYPTOGRAPHIC_LENGTH
        | Tag::CRYPTOGRAPHIC_PARAMETERS
        | Tag::CRYPTOGRAPHIC_DOMAIN_PARAMETERS
        | Tag::CERTIFICATE_TYPE
        | Tag::CERTIFICATE_IDENTIFIER
        | Tag::CERTIFICATE_SUBJECT
        | Tag::CERTIFICATE_ISSUER
        | Tag::DIGEST
        | Tag::OPERATION_POLICY_NAME
        | Tag::CRYPTOGRAPHIC_USAGE_MASK
        | Tag::LEASE_TIME
        | Tag::USAGE_LIMITS
        | Tag::STATE
        | Tag::INITIAL_DATE
        | Tag::ACTIVATION_DATE
        | Tag::PROCESS_START_DATE
        | Tag::PROTECT_STOP_DATE
        | Tag::DEACTIVATION_DATE
        | Tag::DESTROY_DATE
        | Tag::COMPROMISE_OCCURRENCE_DATE
        | Tag::COMPROMISE_DATE
        | Tag::REVOCATION_REASON
        | Tag::ARCHIVE_DATE
        | Tag::OBJECT_GROUP
        | Tag::LINK
        | Tag::APPLICATION_SPECIFIC_INFORMATION
        | Tag::CONTACT_INFORMATION
        | Tag::LAST_CHANGE_DATE
        | Tag::CUSTOM_ATTRIBUTE => V::V1_0,
        Tag::CERTIFICATE_LENGTH
        | Tag::X_509_CERTIFICATE_IDENTIFIER
        | Tag::X_509_CERTIFICATE_SUBJECT
        | Tag::X_509_CERTIFICATE_ISSUER
        | Tag::DIGITAL_SIGNATURE_ALGORITHM
        | Tag::FRESH => V::V1_1,
        Tag::ALTERNATIVE_NAME
        | Tag::KEY_VALUE_PRESENT
        | Tag::KEY_VALUE_LOCATION
        | Tag::ORIGINAL_CREATION_DATE => V::V1_2,
        Tag::RANDOM_NUMBER_GENERATOR => V::V1_3,
        Tag::PKCS_12_FRIENDLY_NAME
        | Tag::DESCRIPTION
        | Tag::COMMENT
        | Tag::SENSITIVE
        | Tag::ALWAYS_SENSITIVE
        | Tag::EXTRACTABLE
        | Tag::NEVER_EXTRACTABLE => V::V1_4,
        Tag::KEY_FORMAT_TYPE
        | Tag::NIST_KEY_TYPE
        | Tag::OPAQUE_DATA_TYPE
        | Tag::PROTECTION_LEVEL
        | Tag::PROTECTION_PERIOD
        | Tag::PROTECTION_STORAGE_MASK
        | Tag::QUANTUM_SAFE
        | Tag::SHORT_UNIQUE_IDENTIFIER => V::V2_0,
        t if super::certificate::is_v2_only(t) => V::V2_0,
        _ => V::V2_1,
    }
}

/// Returns true if and only if version `v` defines attribute `name`.
pub(crate) fn defined_in(name: &AttributeName, v: ProtocolVersion) -> bool {
    match name {
        AttributeName::Standard(t) => {
            let removed_in_2 = matches!(
                *t,
                Tag::CERTIFICATE_IDENTIFIER
                    | Tag::CERTIFICATE_SUBJECT
                    | Tag::CERTIFICATE_ISSUER
                    | Tag::OPERATION_POLICY_NAME
                    | Tag::CUSTOM_ATTRIBUTE
            );
            since(*t) <= v && !(v.is_v2() && removed_in_2)
        }
        // 1.x custom attributes are text-named (`x-…` by clients, `y-…` by servers; tresor's
        // own, such as `app` or `tresor.role`, too); 2.x vendor attributes name their vendor.
        AttributeName::Custom { vendor: None, .. } => true,
        AttributeName::Custom {
            vendor: Some(_), ..
        } => v.is_v2(),
    }
}

/// Returns true if and only if a Get Attributes in `v` that names `name` answers it (when
/// the object has it): any attribute of the same major version — a 1.0 request naming Fresh
/// (1.1) gets it, a 1.x request naming Key Format Type (2.0) does not.
pub(crate) fn named_in(name: &AttributeName, v: ProtocolVersion) -> bool {
    let newest = if v.is_v2() {
        ProtocolVersion::V2_1
    } else {
        ProtocolVersion::V1_4
    };
    defined_in(name, newest)
}

/// Returns true if and only if PyKMIP 0.11's client decodes attribute `name` in a Get
/// Attributes response of version `v` (its `AttributeValueFactory`: 1.x by name, 2.0 by
/// tag, with the attributes it raises `NotImplementedError` or `ValueError` for left out).
pub(crate) fn pykmip_reads(name: &AttributeName, v: ProtocolVersion) -> bool {
    let AttributeName::Standard(t) = name else {
        // 1.x: `x-` names become Custom Attributes; 2.0: no vendor attribute decoder.
        return !v.is_v2()
            && matches!(name, AttributeName::Custom { vendor: None, name } if name.starts_with("x-"));
    };
    let both = matches!(
        *t,
        Tag::UNIQUE_IDENTIFIER
            | Tag::NAME
            | Tag::OBJECT_TYPE
            | Tag::CRYPTOGRAPHIC_ALGORITHM
            | Tag::CRYPTOGRAPHIC_LENGTH
            | Tag::CRYPTOGRAPHIC_PARAMETERS
            | Tag::CERTIFICATE_LENGTH
            | Tag::DIGEST
            | Tag::OPERATION_POLICY_NAME
            | Tag::CRYPTOGRAPHIC_USAGE_MASK
            | Tag::LEASE_TIME
            | Tag::STATE
            | Tag::INITIAL_DATE
            | Tag::ACTIVATION_DATE
            | Tag::PROCESS_START_DATE
            | Tag::PROTECT_STOP_DATE
            | Tag::DEACTIVATION_DATE
            | Tag::DESTROY_DATE
            | Tag::COMPROMISE_OCCURRENCE_DATE
            | Tag::COMPROMISE_DATE
            | Tag::ARCHIVE_DATE
            | Tag::OBJECT_GROUP
            | Tag::FRESH
            | Tag::APPLICATION_SPECIFIC_INFORMATION
            | Tag::CONTACT_INFORMATION
            | Tag::LAST_CHANGE_DATE
            | Tag::SENSITIVE
    );
    let v1_only = matches!(
        *t,
        Tag::CERTIFICATE_TYPE
            | Tag::ALWAYS_SENSITIVE
            | Tag::EXTRACTABLE
            | Tag::NEVER_EXTRACTABLE
            | Tag::ORIGINAL_CREATION_DATE
    );
    both || (v1_only && !v.is_v2())
}

/// The rule for a Get Attributes naming no attributes: defined in `v` and readable by
/// PyKMIP 0.11 (see the module documentation).
pub(crate) fn in_all_attributes(name: &AttributeName, v: ProtocolVersion) -> bool {
    defined_in(name, v) && pykmip_reads(name, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std(t: Tag) -> AttributeName {
        AttributeName::Standard(t)
    }

    #[test]
    fn key_format_type_is_a_2x_attribute() {
        assert!(!defined_in(
            &std(Tag::KEY_FORMAT_TYPE),
            ProtocolVersion::V1_4
        ));
        assert!(defined_in(
            &std(Tag::KEY_FORMAT_TYPE),
            ProtocolVersion::V2_0
        ));
    }

    #[test]
    fn attributes_appear_in_the_version_that_added_them() {
        let fresh = std(Tag::FRESH);
        assert!(!defined_in(&fresh, ProtocolVersion::V1_0));
        assert!(defined_in(&fresh, ProtocolVersion::V1_1));
        let ocd = std(Tag::ORIGINAL_CREATION_DATE);
        assert!(!defined_in(&ocd, ProtocolVersion::V1_1));
        assert!(defined_in(&ocd, ProtocolVersion::V1_2));
        let sens = std(Tag::SENSITIVE);
        assert!(!defined_in(&sens, ProtocolVersion::V1_3));
        assert!(defined_in(&sens, ProtocolVersion::V1_4));
        let opn = std(Tag::OPERATION_POLICY_NAME);
        assert!(defined_in(&opn, ProtocolVersion::V1_4));
        assert!(!defined_in(&opn, ProtocolVersion::V2_0));
    }

    #[test]
    fn all_attributes_leave_out_what_pykmip_cannot_decode() {
        let v2 = ProtocolVersion::V2_0;
        assert!(!in_all_attributes(&std(Tag::ALWAYS_SENSITIVE), v2));
        assert!(in_all_attributes(&std(Tag::SENSITIVE), v2));
        assert!(!in_all_attributes(&std(Tag::LINK), ProtocolVersion::V1_4));
        assert!(in_all_attributes(&std(Tag::STATE), ProtocolVersion::V1_0));
        let custom = |n: &str| AttributeName::Custom {
            vendor: None,
            name: n.to_owned(),
        };
        assert!(in_all_attributes(&custom("x-owner"), ProtocolVersion::V1_2));
        assert!(!in_all_attributes(
            &custom(tresor_store::secret_name::GRANTS),
            ProtocolVersion::V1_2
        ));
    }
}
