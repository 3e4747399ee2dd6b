//! Derive Key: a new Symmetric Key or Secret Data derived from the material of existing
//! objects, with a [`DerivationMethod`] and its [`DerivationParameters`].

use super::crypto::CryptographicParameters;
use super::register::container_attributes;
use super::{Payload, PayloadError, Request, UidRef, opt_bytes, opt_integer, push_opt, req_enum};
use crate::attributes::{AttributeSet, Container};
use crate::enums::{DerivationMethod, ObjectType, Operation};
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// The `DerivationParameters` structure: what a derivation method needs besides the key.
///
/// Every field is optional and read leniently (absent when of the wrong item type).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DerivationParameters {
    /// The Cryptographic Parameters (Hashing Algorithm for PBKDF2, HMAC and HKDF;
    /// Cryptographic Algorithm, Block Cipher Mode and Padding Method for Encrypt).
    pub cryptographic_parameters: Option<CryptographicParameters>,
    /// The Initialization Vector of the Encrypt method.
    pub initialization_vector: Option<Vec<u8>>,
    /// The Derivation Data (HKDF's info, the data to hash or encrypt).
    pub derivation_data: Option<Vec<u8>>,
    /// The Salt (PBKDF2, HKDF).
    pub salt: Option<Vec<u8>>,
    /// The Iteration Count (PBKDF2).
    pub iteration_count: Option<i32>,
}

impl DerivationParameters {
    /// Reads a `DerivationParameters` structure (never fails: every field is optional).
    pub fn from_ttlv(t: &Ttlv) -> Self {
        DerivationParameters {
            cryptographic_parameters: CryptographicParameters::of(t),
            initialization_vector: opt_bytes(t, Tag::INITIALIZATION_VECTOR),
            derivation_data: opt_bytes(t, Tag::DERIVATION_DATA),
            salt: opt_bytes(t, Tag::SALT),
            iteration_count: opt_integer(t, Tag::ITERATION_COUNT),
        }
    }

    /// The `DerivationParameters` structure.
    pub fn to_ttlv(&self) -> Ttlv {
        let mut items = Vec::new();
        push_opt(
            &mut items,
            self.cryptographic_parameters
                .as_ref()
                .map(CryptographicParameters::to_ttlv),
        );
        let bytes = |tag, b: &Option<Vec<u8>>| b.as_ref().map(|b| Ttlv::bytes(tag, b.clone()));
        push_opt(
            &mut items,
            bytes(Tag::INITIALIZATION_VECTOR, &self.initialization_vector),
        );
        push_opt(
            &mut items,
            bytes(Tag::DERIVATION_DATA, &self.derivation_data),
        );
        push_opt(&mut items, bytes(Tag::SALT, &self.salt));
        push_opt(
            &mut items,
            self.iteration_count
                .map(|n| Ttlv::integer(Tag::ITERATION_COUNT, n)),
        );
        Ttlv::structure(Tag::DERIVATION_PARAMETERS, items)
    }
}

/// A Derive Key request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeriveKeyRequest {
    /// The type of the new object (Symmetric Key or Secret Data).
    pub object_type: ObjectType,
    /// The objects derived from, in order: the first is the base key (none: the ID
    /// Placeholder); a later Secret Data may supply the Derivation Data.
    pub unique_identifiers: Vec<UidRef>,
    /// How to derive (PBKDF2, HMAC, HKDF, Hash, Encrypt, NIST800_108_C...).
    pub derivation_method: DerivationMethod,
    /// The method's inputs.
    pub derivation_parameters: DerivationParameters,
    /// The new object's attributes (its Cryptographic Length, and Algorithm for a key):
    /// read from every `TemplateAttribute` / `Attributes`, then from any
    /// `CommonTemplateAttribute` / `CommonAttributes` (which some clients send); written as
    /// a `TemplateAttribute` / `Attributes`.
    pub attributes: AttributeSet,
}

impl Payload for DeriveKeyRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    /// Reads, in this order, the required Object Type, Derivation Method and Derivation
    /// Parameters ([`PayloadError::Missing`] for the first one absent), then the attributes.
    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        let object_type = ObjectType(req_enum(p, Tag::OBJECT_TYPE)?);
        let derivation_method = DerivationMethod(req_enum(p, Tag::DERIVATION_METHOD)?);
        let params = p
            .find(Tag::DERIVATION_PARAMETERS)
            .ok_or(PayloadError::Missing {
                parent: p.tag,
                field: Tag::DERIVATION_PARAMETERS,
            })?;
        let mut attributes = container_attributes(p, Container::Template)?;
        attributes.merge(&container_attributes(p, Container::Common)?);
        Ok(DeriveKeyRequest {
            object_type,
            unique_identifiers: p
                .find_all(Tag::UNIQUE_IDENTIFIER)
                .map(|t| match &t.value {
                    Value::TextString(s) => UidRef::Text(s.clone()),
                    other => UidRef::Placeholder(other.clone()),
                })
                .collect(),
            derivation_method,
            derivation_parameters: DerivationParameters::from_ttlv(params),
            attributes,
        })
    }

    fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = vec![Ttlv::enumeration(Tag::OBJECT_TYPE, self.object_type)];
        out.extend(self.unique_identifiers.iter().map(UidRef::to_ttlv));
        out.push(Ttlv::enumeration(
            Tag::DERIVATION_METHOD,
            self.derivation_method,
        ));
        out.push(self.derivation_parameters.to_ttlv());
        out.push(self.attributes.to_ttlv(version, Container::Template));
        out
    }
}

impl Request for DeriveKeyRequest {
    const OPERATION: Operation = Operation::DERIVE_KEY;
    type Response = DeriveKeyResponse;
}

uid_response!("Derive Key", DeriveKeyResponse);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::enums::HashingAlgorithm;
    use crate::payload::create::tests::{VERSIONS, attributes};
    use crate::payload::testing;

    fn bytes() -> impl Strategy<Value = Option<Vec<u8>>> {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..24))
    }

    fn params() -> impl Strategy<Value = DerivationParameters> {
        (
            proptest::option::of(any::<u32>()),
            bytes(),
            bytes(),
            bytes(),
            proptest::option::of(any::<i32>()),
        )
            .prop_map(|(h, iv, data, salt, n)| DerivationParameters {
                cryptographic_parameters: h.map(|h| CryptographicParameters {
                    hashing_algorithm: Some(HashingAlgorithm(h)),
                    ..Default::default()
                }),
                initialization_vector: iv,
                derivation_data: data,
                salt,
                iteration_count: n,
            })
    }

    proptest! {
        #[test]
        fn request_round_trips(
            t in any::<u32>(),
            uids in proptest::collection::vec(
                prop_oneof![
                    ".{0,12}".prop_map(UidRef::Text),
                    any::<u32>().prop_map(|e| UidRef::Placeholder(Value::Enumeration(e))),
                ],
                0..3,
            ),
            method in any::<u32>(),
            derivation_parameters in params(),
            attributes in attributes(),
        ) {
            let req = DeriveKeyRequest {
                object_type: ObjectType(t),
                unique_identifiers: uids,
                derivation_method: DerivationMethod(method),
                derivation_parameters,
                attributes,
            };
            for v in VERSIONS {
                prop_assert_eq!(DeriveKeyRequest::from_ttlv(&req.to_ttlv(v))?, req.clone());
            }
        }

        #[test]
        fn response_round_trips(u in ".{0,16}") {
            let r = DeriveKeyResponse { unique_identifier: u };
            prop_assert_eq!(DeriveKeyResponse::from_ttlv(&r.to_ttlv(ProtocolVersion::V2_1))?, r);
        }

        #[test]
        fn never_panics(p in testing::payload(), t in testing::tree()) {
            let _ = DeriveKeyRequest::from_ttlv(&p);
            let _ = DeriveKeyResponse::from_ttlv(&p);
            let _ = DerivationParameters::from_ttlv(&t);
        }
    }

    /// The required fields are asked for in the order the server always checked them.
    #[test]
    fn required_fields_in_order() {
        let missing = |items: Vec<Ttlv>| {
            DeriveKeyRequest::from_ttlv(&Ttlv::structure(Tag::REQUEST_PAYLOAD, items))
        };
        let field = |f| {
            Err(PayloadError::Missing {
                parent: Tag::REQUEST_PAYLOAD,
                field: f,
            })
        };
        assert_eq!(missing(vec![]), field(Tag::OBJECT_TYPE));
        let ot = Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SECRET_DATA);
        assert_eq!(missing(vec![ot.clone()]), field(Tag::DERIVATION_METHOD));
        let m = Ttlv::enumeration(Tag::DERIVATION_METHOD, DerivationMethod::HASH);
        assert_eq!(missing(vec![ot, m]), field(Tag::DERIVATION_PARAMETERS));
    }
}
