//! Sign, Signature Verify, MAC and MAC Verify: a signature or MAC of data with a managed
//! key, and its check (answered with a Validity Indicator).

use super::{CorrelationValue, CryptographicParameters, bool_item, bytes_item};
use crate::enums::{Operation, ValidityIndicator};
use crate::message::ProtocolVersion;
use crate::payload::{Payload, PayloadError, Request, UidRef, opt_enum, push_opt, req_text};
use crate::payload::{opt_bool, opt_bytes};
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// The streaming fields every one of these requests may carry.
#[derive(Default)]
struct Stream {
    correlation_value: Option<CorrelationValue>,
    init_indicator: Option<bool>,
    final_indicator: Option<bool>,
}

impl Stream {
    fn of(p: &Ttlv) -> Self {
        Stream {
            correlation_value: CorrelationValue::of(p),
            init_indicator: opt_bool(p, Tag::INIT_INDICATOR),
            final_indicator: opt_bool(p, Tag::FINAL_INDICATOR),
        }
    }

    fn push(self, out: &mut Vec<Ttlv>) {
        push_opt(
            out,
            self.correlation_value
                .as_ref()
                .map(CorrelationValue::to_ttlv),
        );
        push_opt(out, bool_item(Tag::INIT_INDICATOR, self.init_indicator));
        push_opt(out, bool_item(Tag::FINAL_INDICATOR, self.final_indicator));
    }
}

/// The key and parameters every one of these requests starts with.
fn head(uid: Option<&UidRef>, cp: Option<&CryptographicParameters>) -> Vec<Ttlv> {
    let mut out = Vec::new();
    push_opt(&mut out, uid.map(UidRef::to_ttlv));
    push_opt(&mut out, cp.map(CryptographicParameters::to_ttlv));
    out
}

/// The response's Unique Identifier item.
fn uid_item(uid: &str) -> Ttlv {
    Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)
}

/// Defines a request of these operations: `$bytes` are its byte string fields after the
/// Cryptographic Parameters, in the specification's order, then the streaming fields.
macro_rules! request {
    ($op:expr, $name:literal, $req:ident, $resp:ident, { $($(#[$doc:meta])* $field:ident: $tag:expr,)* }) => {
        #[doc = concat!("A ", $name, " request.")]
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $req {
            /// The key (absent: the ID Placeholder).
            pub unique_identifier: Option<UidRef>,
            /// How to use the key (absent: the key's stored parameters).
            pub cryptographic_parameters: Option<CryptographicParameters>,
            $($(#[$doc])* pub $field: Option<Vec<u8>>,)*
            /// The stream this part continues.
            pub correlation_value: Option<CorrelationValue>,
            /// This part starts a stream.
            pub init_indicator: Option<bool>,
            /// This part ends a stream.
            pub final_indicator: Option<bool>,
        }

        impl Payload for $req {
            const TAG: Tag = Tag::REQUEST_PAYLOAD;

            fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
                let s = Stream::of(p);
                Ok($req {
                    unique_identifier: UidRef::of(p),
                    cryptographic_parameters: CryptographicParameters::of(p),
                    $($field: opt_bytes(p, $tag),)*
                    correlation_value: s.correlation_value,
                    init_indicator: s.init_indicator,
                    final_indicator: s.final_indicator,
                })
            }

            fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
                let mut out = head(
                    self.unique_identifier.as_ref(),
                    self.cryptographic_parameters.as_ref(),
                );
                $(push_opt(&mut out, bytes_item($tag, self.$field.as_ref()));)*
                Stream {
                    correlation_value: self.correlation_value.clone(),
                    init_indicator: self.init_indicator,
                    final_indicator: self.final_indicator,
                }
                .push(&mut out);
                out
            }
        }

        impl Request for $req {
            const OPERATION: Operation = $op;
            type Response = $resp;
        }
    };
}

request!(Operation::SIGN, "Sign", SignRequest, SignResponse, {
    /// The data to sign.
    data: Tag::DATA,
    /// The digest of the data, signed instead of hashing Data (KMIP 1.4 and later).
    digested_data: Tag::DIGESTED_DATA,
});

request!(
    Operation::SIGNATURE_VERIFY,
    "Signature Verify",
    SignatureVerifyRequest,
    SignatureVerifyResponse,
    {
        /// The signed data.
        data: Tag::DATA,
        /// The digest of the signed data (KMIP 1.4 and later).
        digested_data: Tag::DIGESTED_DATA,
        /// The signature to check.
        signature_data: Tag::SIGNATURE_DATA,
    }
);

request!(Operation::MAC, "MAC", MacRequest, MacResponse, {
    /// The data to MAC.
    data: Tag::DATA,
});

request!(
    Operation::MAC_VERIFY,
    "MAC Verify",
    MacVerifyRequest,
    MacVerifyResponse,
    {
        /// The data the MAC is of.
        data: Tag::DATA,
        /// The MAC to check.
        mac_data: Tag::MAC_DATA,
    }
);

/// A Sign response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignResponse {
    /// The key's identifier.
    pub unique_identifier: String,
    /// The signature (absent for a non-final part of a stream).
    pub signature_data: Option<Vec<u8>>,
    /// The stream's Correlation Value, for every part but the final one.
    pub correlation_value: Option<Vec<u8>>,
}

impl Payload for SignResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(SignResponse {
            unique_identifier: req_text(p, Tag::UNIQUE_IDENTIFIER)?,
            signature_data: opt_bytes(p, Tag::SIGNATURE_DATA),
            correlation_value: opt_bytes(p, Tag::CORRELATION_VALUE),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = vec![uid_item(&self.unique_identifier)];
        push_opt(
            &mut out,
            bytes_item(Tag::SIGNATURE_DATA, self.signature_data.as_ref()),
        );
        push_opt(
            &mut out,
            bytes_item(Tag::CORRELATION_VALUE, self.correlation_value.as_ref()),
        );
        out
    }
}

/// A MAC response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacResponse {
    /// The key's identifier.
    pub unique_identifier: String,
    /// The MAC (absent for a non-final part of a stream).
    pub mac_data: Option<Vec<u8>>,
    /// The stream's Correlation Value, for every part but the final one.
    pub correlation_value: Option<Vec<u8>>,
}

impl Payload for MacResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(MacResponse {
            unique_identifier: req_text(p, Tag::UNIQUE_IDENTIFIER)?,
            mac_data: opt_bytes(p, Tag::MAC_DATA),
            correlation_value: opt_bytes(p, Tag::CORRELATION_VALUE),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = vec![uid_item(&self.unique_identifier)];
        push_opt(&mut out, bytes_item(Tag::MAC_DATA, self.mac_data.as_ref()));
        push_opt(
            &mut out,
            bytes_item(Tag::CORRELATION_VALUE, self.correlation_value.as_ref()),
        );
        out
    }
}

/// Defines the response of a verification: the key, the Validity Indicator, the stream's
/// Correlation Value.
macro_rules! verify_response {
    ($name:literal, $resp:ident) => {
        #[doc = concat!("A ", $name, " response.")]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $resp {
            /// The key's identifier.
            pub unique_identifier: String,
            /// Whether the check passed (absent for a non-final part of a stream).
            pub validity_indicator: Option<ValidityIndicator>,
            /// The stream's Correlation Value, for every part but the final one.
            pub correlation_value: Option<Vec<u8>>,
        }

        impl $resp {
            /// Returns true if and only if the Validity Indicator is Valid.
            pub fn is_valid(&self) -> bool {
                self.validity_indicator == Some(ValidityIndicator::VALID)
            }
        }

        impl Payload for $resp {
            const TAG: Tag = Tag::RESPONSE_PAYLOAD;

            fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
                Ok($resp {
                    unique_identifier: req_text(p, Tag::UNIQUE_IDENTIFIER)?,
                    validity_indicator: opt_enum(p, Tag::VALIDITY_INDICATOR).map(ValidityIndicator),
                    correlation_value: opt_bytes(p, Tag::CORRELATION_VALUE),
                })
            }

            fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
                let mut out = vec![uid_item(&self.unique_identifier)];
                push_opt(
                    &mut out,
                    self.validity_indicator
                        .map(|v| Ttlv::enumeration(Tag::VALIDITY_INDICATOR, v)),
                );
                push_opt(
                    &mut out,
                    bytes_item(Tag::CORRELATION_VALUE, self.correlation_value.as_ref()),
                );
                out
            }
        }
    };
}

verify_response!("Signature Verify", SignatureVerifyResponse);
verify_response!("MAC Verify", MacVerifyResponse);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::payload::crypto::params::tests::params;
    use crate::payload::crypto::strategies::{bytes, correlation, uid};
    use crate::payload::testing;

    fn flag() -> impl Strategy<Value = Option<bool>> {
        proptest::option::of(any::<bool>())
    }

    proptest! {
        #[test]
        fn requests_round_trip(
            u in uid(),
            cp in proptest::option::of(params()),
            (data, digest, sig) in (bytes(), bytes(), bytes()),
            c in correlation(),
            (init, fin) in (flag(), flag()),
        ) {
            let v = ProtocolVersion::V1_4;
            let verify = SignatureVerifyRequest {
                unique_identifier: u.clone(),
                cryptographic_parameters: cp.clone(),
                data: data.clone(),
                digested_data: digest.clone(),
                signature_data: sig.clone(),
                correlation_value: c.clone(),
                init_indicator: init,
                final_indicator: fin,
            };
            prop_assert_eq!(SignatureVerifyRequest::from_ttlv(&verify.to_ttlv(v))?, verify);
            let sign = SignRequest {
                unique_identifier: u.clone(),
                cryptographic_parameters: cp.clone(),
                data: data.clone(),
                digested_data: digest,
                correlation_value: c.clone(),
                init_indicator: init,
                final_indicator: fin,
            };
            prop_assert_eq!(SignRequest::from_ttlv(&sign.to_ttlv(v))?, sign);
            let mac = MacRequest {
                unique_identifier: u.clone(),
                cryptographic_parameters: cp.clone(),
                data: data.clone(),
                correlation_value: c.clone(),
                init_indicator: init,
                final_indicator: fin,
            };
            prop_assert_eq!(MacRequest::from_ttlv(&mac.to_ttlv(v))?, mac);
            let mv = MacVerifyRequest {
                unique_identifier: u,
                cryptographic_parameters: cp,
                data,
                mac_data: sig,
                correlation_value: c,
                init_indicator: init,
                final_indicator: fin,
            };
            prop_assert_eq!(MacVerifyRequest::from_ttlv(&mv.to_ttlv(v))?, mv);
        }

        #[test]
        fn responses_round_trip(
            u in ".{0,16}",
            (out, c) in (bytes(), bytes()),
            validity in proptest::option::of(any::<u32>()),
        ) {
            let v = ProtocolVersion::V2_1;
            let s = SignResponse {
                unique_identifier: u.clone(),
                signature_data: out.clone(),
                correlation_value: c.clone(),
            };
            prop_assert_eq!(SignResponse::from_ttlv(&s.to_ttlv(v))?, s);
            let m = MacResponse {
                unique_identifier: u.clone(),
                mac_data: out,
                correlation_value: c.clone(),
            };
            prop_assert_eq!(MacResponse::from_ttlv(&m.to_ttlv(v))?, m);
            let sv = SignatureVerifyResponse {
                unique_identifier: u.clone(),
                validity_indicator: validity.map(ValidityIndicator),
                correlation_value: c.clone(),
            };
            prop_assert_eq!(SignatureVerifyResponse::from_ttlv(&sv.to_ttlv(v))?, sv);
            let mv = MacVerifyResponse {
                unique_identifier: u,
                validity_indicator: validity.map(ValidityIndicator),
                correlation_value: c,
            };
            prop_assert_eq!(MacVerifyResponse::from_ttlv(&mv.to_ttlv(v))?, mv);
        }

        #[test]
        fn never_panics(p in testing::payload()) {
            let _ = SignRequest::from_ttlv(&p);
            let _ = SignResponse::from_ttlv(&p);
            let _ = SignatureVerifyRequest::from_ttlv(&p);
            let _ = SignatureVerifyResponse::from_ttlv(&p);
            let _ = MacRequest::from_ttlv(&p);
            let _ = MacResponse::from_ttlv(&p);
            let _ = MacVerifyRequest::from_ttlv(&p);
            let _ = MacVerifyResponse::from_ttlv(&p);
        }
    }

    /// Signature Verify's fields come in the specification's order.
    #[test]
    fn verify_request_order() {
        let r = SignatureVerifyRequest {
            unique_identifier: Some(UidRef::text("k")),
            cryptographic_parameters: Some(CryptographicParameters::default()),
            data: Some(vec![1]),
            signature_data: Some(vec![2]),
            final_indicator: Some(true),
            ..SignatureVerifyRequest::default()
        };
        let tags: Vec<Tag> = r
            .to_items(ProtocolVersion::V1_4)
            .iter()
            .map(|t| t.tag)
            .collect();
        assert_eq!(
            tags,
            [
                Tag::UNIQUE_IDENTIFIER,
                Tag::CRYPTOGRAPHIC_PARAMETERS,
                Tag::DATA,
                Tag::SIGNATURE_DATA,
                Tag::FINAL_INDICATOR
            ]
        );
    }
}
