//! Encrypt and Decrypt: data through a symmetric key, in one request or as a stream of
//! parts (Init Indicator, Correlation Value, Final Indicator).

use std::fmt;

use super::{CorrelationValue, CryptographicParameters, Redacted, bool_item, bytes_item};
use crate::enums::Operation;
use crate::message::ProtocolVersion;
use crate::payload::{Payload, PayloadError, Request, UidRef, push_opt, req_text};
use crate::payload::{opt_bool, opt_bytes};
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// An Encrypt request. `Debug` prints the plain text's length only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncryptRequest {
    /// The key (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
    /// How to use the key (absent: the key's stored parameters).
    pub cryptographic_parameters: Option<CryptographicParameters>,
    /// The plain text.
    pub data: Option<Vec<u8>>,
    /// The IV/Counter/Nonce (absent: the server draws one and returns it).
    pub iv_counter_nonce: Option<Vec<u8>>,
    /// The stream this part continues.
    pub correlation_value: Option<CorrelationValue>,
    /// This part starts a stream.
    pub init_indicator: Option<bool>,
    /// This part ends a stream.
    pub final_indicator: Option<bool>,
    /// The additional authenticated data of an authenticated encryption.
    pub authenticated_encryption_additional_data: Option<Vec<u8>>,
}

impl fmt::Debug for EncryptRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptRequest")
            .field("unique_identifier", &self.unique_identifier)
            .field("cryptographic_parameters", &self.cryptographic_parameters)
            .field("data", &Redacted(self.data.as_ref()))
            .field("iv_counter_nonce", &self.iv_counter_nonce)
            .field("correlation_value", &self.correlation_value)
            .field("init_indicator", &self.init_indicator)
            .field("final_indicator", &self.final_indicator)
            .field(
                "authenticated_encryption_additional_data",
                &self.authenticated_encryption_additional_data,
            )
            .finish()
    }
}

impl Payload for EncryptRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(EncryptRequest {
            unique_identifier: UidRef::of(p),
            cryptographic_parameters: CryptographicParameters::of(p),
            data: opt_bytes(p, Tag::DATA),
            iv_counter_nonce: opt_bytes(p, Tag::IV_COUNTER_NONCE),
            correlation_value: CorrelationValue::of(p),
            init_indicator: opt_bool(p, Tag::INIT_INDICATOR),
            final_indicator: opt_bool(p, Tag::FINAL_INDICATOR),
            authenticated_encryption_additional_data: opt_bytes(
                p,
                Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA,
            ),
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
            self.cryptographic_parameters
                .as_ref()
                .map(CryptographicParameters::to_ttlv),
        );
        push_opt(&mut out, bytes_item(Tag::DATA, self.data.as_ref()));
        push_opt(
            &mut out,
            bytes_item(Tag::IV_COUNTER_NONCE, self.iv_counter_nonce.as_ref()),
        );
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
        push_opt(
            &mut out,
            bytes_item(
                Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA,
                self.authenticated_encryption_additional_data.as_ref(),
            ),
        );
        out
    }
}

impl Request for EncryptRequest {
    const OPERATION: Operation = Operation::ENCRYPT;
    type Response = EncryptResponse;
}

/// An Encrypt response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptResponse {
    /// The key's identifier.
    pub unique_identifier: String,
    /// The cipher text (of this part, for a stream).
    pub data: Option<Vec<u8>>,
    /// The IV/Counter/Nonce the server drew, when the request sent none.
    pub iv_counter_nonce: Option<Vec<u8>>,
    /// The stream's Correlation Value, for every part but the final one.
    pub correlation_value: Option<Vec<u8>>,
    /// The authentication tag of an authenticated encryption (the final part of a stream).
    pub authenticated_encryption_tag: Option<Vec<u8>>,
}

impl Payload for EncryptResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(EncryptResponse {
            unique_identifier: req_text(p, Tag::UNIQUE_IDENTIFIER)?,
            data: opt_bytes(p, Tag::DATA),
            iv_counter_nonce: opt_bytes(p, Tag::IV_COUNTER_NONCE),
            correlation_value: opt_bytes(p, Tag::CORRELATION_VALUE),
            authenticated_encryption_tag: opt_bytes(p, Tag::AUTHENTICATED_ENCRYPTION_TAG),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = vec![Ttlv::text(
            Tag::UNIQUE_IDENTIFIER,
            self.unique_identifier.clone(),
        )];
        push_opt(&mut out, bytes_item(Tag::DATA, self.data.as_ref()));
        push_opt(
            &mut out,
            bytes_item(Tag::IV_COUNTER_NONCE, self.iv_counter_nonce.as_ref()),
        );
        push_opt(
            &mut out,
            bytes_item(Tag::CORRELATION_VALUE, self.correlation_value.as_ref()),
        );
        push_opt(
            &mut out,
            bytes_item(
                Tag::AUTHENTICATED_ENCRYPTION_TAG,
                self.authenticated_encryption_tag.as_ref(),
            ),
        );
        out
    }
}

/// A Decrypt request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecryptRequest {
    /// The key (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
    /// How to use the key (absent: the key's stored parameters).
    pub cryptographic_parameters: Option<CryptographicParameters>,
    /// The cipher text.
    pub data: Option<Vec<u8>>,
    /// The IV/Counter/Nonce the encryption used.
    pub iv_counter_nonce: Option<Vec<u8>>,
    /// The stream this part continues.
    pub correlation_value: Option<CorrelationValue>,
    /// This part starts a stream.
    pub init_indicator: Option<bool>,
    /// This part ends a stream.
    pub final_indicator: Option<bool>,
    /// The additional authenticated data of an authenticated encryption.
    pub authenticated_encryption_additional_data: Option<Vec<u8>>,
    /// The authentication tag to check (the final part of a stream).
    pub authenticated_encryption_tag: Option<Vec<u8>>,
}

impl Payload for DecryptRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(DecryptRequest {
            unique_identifier: UidRef::of(p),
            cryptographic_parameters: CryptographicParameters::of(p),
            data: opt_bytes(p, Tag::DATA),
            iv_counter_nonce: opt_bytes(p, Tag::IV_COUNTER_NONCE),
            correlation_value: CorrelationValue::of(p),
            init_indicator: opt_bool(p, Tag::INIT_INDICATOR),
            final_indicator: opt_bool(p, Tag::FINAL_INDICATOR),
            authenticated_encryption_additional_data: opt_bytes(
                p,
                Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA,
            ),
            authenticated_encryption_tag: opt_bytes(p, Tag::AUTHENTICATED_ENCRYPTION_TAG),
        })
    }

    fn to_items(&self, v: ProtocolVersion) -> Vec<Ttlv> {
        // The fields an Encrypt request has, in the same order, then the tag.
        let mut out = EncryptRequest {
            unique_identifier: self.unique_identifier.clone(),
            cryptographic_parameters: self.cryptographic_parameters.clone(),
            data: self.data.clone(),
            iv_counter_nonce: self.iv_counter_nonce.clone(),
            correlation_value: self.correlation_value.clone(),
            init_indicator: self.init_indicator,
            final_indicator: self.final_indicator,
            authenticated_encryption_additional_data: self
                .authenticated_encryption_additional_data
                .clone(),
        }
        .to_items(v);
        push_opt(
            &mut out,
            bytes_item(
                Tag::AUTHENTICATED_ENCRYPTION_TAG,
                self.authenticated_encryption_tag.as_ref(),
            ),
        );
        out
    }
}

impl Request for DecryptRequest {
    const OPERATION: Operation = Operation::DECRYPT;
    type Response = DecryptResponse;
}

/// A Decrypt response. `Debug` prints the plain text's length only.
#[derive(Clone, PartialEq, Eq)]
pub struct DecryptResponse {
    /// The key's identifier.
    pub unique_identifier: String,
    /// The plain text (of this part, for a stream).
    pub data: Option<Vec<u8>>,
    /// The stream's Correlation Value, for every part but the final one.
    pub correlation_value: Option<Vec<u8>>,
}

impl fmt::Debug for DecryptResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptResponse")
            .field("unique_identifier", &self.unique_identifier)
            .field("data", &Redacted(self.data.as_ref()))
            .field("correlation_value", &self.correlation_value)
            .finish()
    }
}

impl Payload for DecryptResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(DecryptResponse {
            unique_identifier: req_text(p, Tag::UNIQUE_IDENTIFIER)?,
            data: opt_bytes(p, Tag::DATA),
            correlation_value: opt_bytes(p, Tag::CORRELATION_VALUE),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = vec![Ttlv::text(
            Tag::UNIQUE_IDENTIFIER,
            self.unique_identifier.clone(),
        )];
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
            (data, iv, aad, tag) in (bytes(), bytes(), bytes(), bytes()),
            c in correlation(),
            (init, fin) in (flag(), flag()),
        ) {
            let d = DecryptRequest {
                unique_identifier: u,
                cryptographic_parameters: cp,
                data,
                iv_counter_nonce: iv,
                correlation_value: c,
                init_indicator: init,
                final_indicator: fin,
                authenticated_encryption_additional_data: aad,
                authenticated_encryption_tag: tag,
            };
            let v = ProtocolVersion::V2_1;
            prop_assert_eq!(DecryptRequest::from_ttlv(&d.to_ttlv(v))?, d.clone());
            let e = EncryptRequest {
                unique_identifier: d.unique_identifier,
                cryptographic_parameters: d.cryptographic_parameters,
                data: d.data,
                iv_counter_nonce: d.iv_counter_nonce,
                correlation_value: d.correlation_value,
                init_indicator: d.init_indicator,
                final_indicator: d.final_indicator,
                authenticated_encryption_additional_data: d.authenticated_encryption_additional_data,
            };
            prop_assert_eq!(EncryptRequest::from_ttlv(&e.to_ttlv(v))?, e);
        }

        #[test]
        fn responses_round_trip(
            u in ".{0,16}",
            (data, iv, c, tag) in (bytes(), bytes(), bytes(), bytes()),
        ) {
            let v = ProtocolVersion::V1_4;
            let e = EncryptResponse {
                unique_identifier: u.clone(),
                data: data.clone(),
                iv_counter_nonce: iv,
                correlation_value: c.clone(),
                authenticated_encryption_tag: tag,
            };
            prop_assert_eq!(EncryptResponse::from_ttlv(&e.to_ttlv(v))?, e);
            let d = DecryptResponse { unique_identifier: u, data, correlation_value: c };
            prop_assert_eq!(DecryptResponse::from_ttlv(&d.to_ttlv(v))?, d);
        }

        #[test]
        fn never_panics(p in testing::payload()) {
            let _ = EncryptRequest::from_ttlv(&p);
            let _ = EncryptResponse::from_ttlv(&p);
            let _ = DecryptRequest::from_ttlv(&p);
            let _ = DecryptResponse::from_ttlv(&p);
        }
    }

    /// The fields come in the specification's order (what the server has always sent).
    #[test]
    fn encrypt_response_order() {
        let e = EncryptResponse {
            unique_identifier: "k".into(),
            data: Some(vec![1]),
            iv_counter_nonce: Some(vec![2]),
            correlation_value: None,
            authenticated_encryption_tag: Some(vec![3]),
        };
        let tags: Vec<Tag> = e
            .to_items(ProtocolVersion::V1_4)
            .iter()
            .map(|t| t.tag)
            .collect();
        assert_eq!(
            tags,
            [
                Tag::UNIQUE_IDENTIFIER,
                Tag::DATA,
                Tag::IV_COUNTER_NONCE,
                Tag::AUTHENTICATED_ENCRYPTION_TAG
            ]
        );
    }

    #[test]
    fn debug_hides_plain_text() {
        let e = EncryptRequest {
            data: Some(b"secret".to_vec()),
            ..EncryptRequest::default()
        };
        assert!(!format!("{e:?}").contains("115"));
        assert!(format!("{e:?}").contains("6 bytes"));
    }
}
