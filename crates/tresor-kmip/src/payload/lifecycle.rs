//! Lifecycle operations that name one object and answer with its identifier: Activate,
//! Revoke, Destroy, and Check (whether the object may be used with a usage mask).

use super::{Payload, PayloadError, Request, UidRef, opt_integer, opt_text, push_opt, req_enum};
use crate::enums::{Operation, RevocationReasonCode};
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// Defines a request naming one object and its response holding the identifier.
macro_rules! uid_operation {
    ($op:expr, $name:literal, $req:ident, $resp:ident) => {
        #[doc = concat!("A ", $name, " request.")]
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $req {
            /// The object (absent: the ID Placeholder).
            pub unique_identifier: Option<UidRef>,
        }

        impl $req {
            #[doc = concat!("A ", $name, " of object `uid`.")]
            pub fn new(uid: impl Into<String>) -> Self {
                $req {
                    unique_identifier: Some(UidRef::text(uid)),
                }
            }
        }

        impl Payload for $req {
            const TAG: Tag = Tag::REQUEST_PAYLOAD;

            fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
                Ok($req {
                    unique_identifier: UidRef::of(p),
                })
            }

            fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
                let mut out = Vec::new();
                push_opt(
                    &mut out,
                    self.unique_identifier.as_ref().map(UidRef::to_ttlv),
                );
                out
            }
        }

        impl Request for $req {
            const OPERATION: Operation = $op;
            type Response = $resp;
        }

        uid_response!($name, $resp);
    };
}

uid_operation!(
    Operation::ACTIVATE,
    "Activate",
    ActivateRequest,
    ActivateResponse
);

/// A Destroy request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestroyRequest {
    /// The object (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
    /// The type the object must have, or nothing is destroyed: Cosmian's
    /// `ExpectedObjectType` precondition (its clients send it with every Destroy; the JSON
    /// reader reads it as an Object Type field, which no KMIP version puts in a Destroy).
    pub expected_object_type: Option<u32>,
}

impl DestroyRequest {
    /// A Destroy of object `uid`.
    pub fn new(uid: impl Into<String>) -> Self {
        DestroyRequest {
            unique_identifier: Some(UidRef::text(uid)),
            expected_object_type: None,
        }
    }
}

impl Payload for DestroyRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        // A precondition that cannot be read refuses the Destroy rather than skip the check.
        let expected_object_type = match p.find(Tag::OBJECT_TYPE) {
            None => None,
            Some(t) => Some(t.as_enumeration().ok_or_else(|| {
                PayloadError::Invalid(
                    "a Destroy's expected Object Type must be an enumeration".into(),
                )
            })?),
        };
        Ok(DestroyRequest {
            unique_identifier: UidRef::of(p),
            expected_object_type,
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = Vec::new();
        push_opt(
            &mut out,
            self.unique_identifier.as_ref().map(UidRef::to_ttlv),
        );
        push_opt(
            &mut out,
            self.expected_object_type
                .map(|t| Ttlv::enumeration(Tag::OBJECT_TYPE, t)),
        );
        out
    }
}

impl Request for DestroyRequest {
    const OPERATION: Operation = Operation::DESTROY;
    type Response = DestroyResponse;
}

uid_response!("Destroy", DestroyResponse);

/// A Check request: may the object be used with this usage mask? (Usage Limits Count and
/// Lease Time are not modelled: the server checks only the mask.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckRequest {
    /// The object (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
    /// The Cryptographic Usage Mask the object must allow.
    pub cryptographic_usage_mask: Option<i32>,
}

impl Payload for CheckRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(CheckRequest {
            unique_identifier: UidRef::of(p),
            cryptographic_usage_mask: opt_integer(p, Tag::CRYPTOGRAPHIC_USAGE_MASK),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = Vec::new();
        push_opt(
            &mut out,
            self.unique_identifier.as_ref().map(UidRef::to_ttlv),
        );
        push_opt(
            &mut out,
            self.cryptographic_usage_mask
                .map(|m| Ttlv::integer(Tag::CRYPTOGRAPHIC_USAGE_MASK, m)),
        );
        out
    }
}

impl Request for CheckRequest {
    const OPERATION: Operation = Operation::CHECK;
    type Response = CheckResponse;
}

uid_response!("Check", CheckResponse);

/// Why an object is revoked (`RevocationReason` structure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationReason {
    /// The reason code (Key Compromise, Cessation of Operation, ...).
    pub code: RevocationReasonCode,
    /// A free-form message.
    pub message: Option<String>,
}

impl RevocationReason {
    /// Reads a `RevocationReason` structure.
    ///
    /// # Errors
    /// [`PayloadError::Missing`] without its Revocation Reason Code.
    pub fn from_ttlv(t: &Ttlv) -> Result<Self, PayloadError> {
        Ok(RevocationReason {
            code: RevocationReasonCode(req_enum(t, Tag::REVOCATION_REASON_CODE)?),
            message: opt_text(t, Tag::REVOCATION_MESSAGE),
        })
    }

    /// The `RevocationReason` structure.
    pub fn to_ttlv(&self) -> Ttlv {
        let mut items = vec![Ttlv::enumeration(Tag::REVOCATION_REASON_CODE, self.code)];
        push_opt(
            &mut items,
            self.message
                .as_ref()
                .map(|m| Ttlv::text(Tag::REVOCATION_MESSAGE, m.clone())),
        );
        Ttlv::structure(Tag::REVOCATION_REASON, items)
    }
}

/// A Revoke request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeRequest {
    /// The object (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
    /// Why.
    pub revocation_reason: RevocationReason,
    /// When a compromise happened (seconds since the epoch).
    pub compromise_occurrence_date: Option<i64>,
}

impl Payload for RevokeRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        let reason = p
            .find(Tag::REVOCATION_REASON)
            .ok_or(PayloadError::Missing {
                parent: p.tag,
                field: Tag::REVOCATION_REASON,
            })?;
        Ok(RevokeRequest {
            unique_identifier: UidRef::of(p),
            revocation_reason: RevocationReason::from_ttlv(reason)?,
            compromise_occurrence_date: p
                .find(Tag::COMPROMISE_OCCURRENCE_DATE)
                .and_then(Ttlv::as_date_time),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = Vec::new();
        push_opt(
            &mut out,
            self.unique_identifier.as_ref().map(UidRef::to_ttlv),
        );
        out.push(self.revocation_reason.to_ttlv());
        push_opt(
            &mut out,
            self.compromise_occurrence_date.map(|d| {
                Ttlv::new(
                    Tag::COMPROMISE_OCCURRENCE_DATE,
                    crate::ttlv::Value::DateTime(d),
                )
            }),
        );
        out
    }
}

impl Request for RevokeRequest {
    const OPERATION: Operation = Operation::REVOKE;
    type Response = RevokeResponse;
}

uid_response!("Revoke", RevokeResponse);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::payload::testing;
    use crate::ttlv::Value;

    fn uid() -> impl Strategy<Value = Option<UidRef>> {
        proptest::option::of(prop_oneof![
            ".{0,16}".prop_map(UidRef::Text),
            any::<u32>().prop_map(|e| UidRef::Placeholder(Value::Enumeration(e))),
        ])
    }

    proptest! {
        #[test]
        fn requests_round_trip(u in uid(), t in proptest::option::of(any::<u32>())) {
            let v = ProtocolVersion::V2_1;
            let a = ActivateRequest { unique_identifier: u.clone() };
            prop_assert_eq!(ActivateRequest::from_ttlv(&a.to_ttlv(v))?, a);
            let d = DestroyRequest { unique_identifier: u, expected_object_type: t };
            prop_assert_eq!(DestroyRequest::from_ttlv(&d.to_ttlv(v))?, d);
        }

        #[test]
        fn check_round_trips(u in uid(), mask in proptest::option::of(any::<i32>())) {
            let c = CheckRequest { unique_identifier: u, cryptographic_usage_mask: mask };
            prop_assert_eq!(CheckRequest::from_ttlv(&c.to_ttlv(ProtocolVersion::V1_4))?, c);
        }

        #[test]
        fn revoke_round_trips(
            u in uid(),
            code in any::<u32>(),
            message in proptest::option::of(".{0,16}"),
            date in proptest::option::of(any::<i64>()),
        ) {
            let r = RevokeRequest {
                unique_identifier: u,
                revocation_reason: RevocationReason {
                    code: RevocationReasonCode(code),
                    message,
                },
                compromise_occurrence_date: date,
            };
            prop_assert_eq!(RevokeRequest::from_ttlv(&r.to_ttlv(ProtocolVersion::V2_1))?, r);
        }

        #[test]
        fn responses_round_trip(u in ".{0,16}") {
            let v = ProtocolVersion::V1_4;
            let a = ActivateResponse { unique_identifier: u.clone() };
            prop_assert_eq!(ActivateResponse::from_ttlv(&a.to_ttlv(v))?, a);
            let d = DestroyResponse { unique_identifier: u };
            prop_assert_eq!(DestroyResponse::from_ttlv(&d.to_ttlv(v))?, d);
        }

        #[test]
        fn never_panics(p in testing::payload()) {
            let _ = ActivateRequest::from_ttlv(&p);
            let _ = ActivateResponse::from_ttlv(&p);
            let _ = DestroyRequest::from_ttlv(&p);
            let _ = DestroyResponse::from_ttlv(&p);
            let _ = CheckRequest::from_ttlv(&p);
            let _ = RevokeRequest::from_ttlv(&p);
            let _ = RevokeResponse::from_ttlv(&p);
        }
    }

    #[test]
    fn a_response_needs_its_identifier() {
        let empty = Ttlv::structure(Tag::RESPONSE_PAYLOAD, vec![]);
        assert_eq!(
            DestroyResponse::from_ttlv(&empty),
            Err(PayloadError::Missing {
                parent: Tag::RESPONSE_PAYLOAD,
                field: Tag::UNIQUE_IDENTIFIER
            })
        );
    }
}
