//! The request side of a message: [`RequestHeader`], [`RequestBatchItem`] and
//! [`RequestMessage`].

use std::fmt;

use super::fields::{Fields, read_message};
use super::{ProtocolVersion, push_opt};
use crate::enums::{BatchErrorContinuationOption, Operation};
use crate::error::KmipError;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// The header of a request.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestHeader {
    /// The protocol version the client speaks.
    pub protocol_version: ProtocolVersion,
    /// The largest response the client accepts, in bytes.
    pub maximum_response_size: Option<i32>,
    /// Client correlation value (KMIP 1.4+).
    pub client_correlation_value: Option<String>,
    /// Server correlation value (KMIP 1.4+).
    pub server_correlation_value: Option<String>,
    /// Asynchronous indicator.
    pub asynchronous_indicator: Option<bool>,
    /// The `Authentication` structure, as sent. Redacted in `Debug`.
    pub authentication: Option<Ttlv>,
    /// What to do when a batch item fails.
    pub batch_error_continuation_option: Option<BatchErrorContinuationOption>,
    /// Whether batch items must be processed in order.
    pub batch_order_option: Option<bool>,
    /// Client time stamp, seconds since the epoch.
    pub time_stamp: Option<i64>,
    /// The number of batch items.
    pub batch_count: i32,
    /// Header fields this layer does not model, in order.
    pub extra: Vec<Ttlv>,
}

impl fmt::Debug for RequestHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestHeader")
            .field("protocol_version", &self.protocol_version)
            .field("maximum_response_size", &self.maximum_response_size)
            .field("client_correlation_value", &self.client_correlation_value)
            .field("server_correlation_value", &self.server_correlation_value)
            .field("asynchronous_indicator", &self.asynchronous_indicator)
            .field(
                "authentication",
                &self.authentication.as_ref().map(|_| "[REDACTED]"),
            )
            .field(
                "batch_error_continuation_option",
                &self.batch_error_continuation_option,
            )
            .field("batch_order_option", &self.batch_order_option)
            .field("time_stamp", &self.time_stamp)
            .field("batch_count", &self.batch_count)
            .field("extra", &self.extra)
            .finish()
    }
}

impl RequestHeader {
    /// A header for `batch_count` items and nothing else.
    pub fn new(protocol_version: ProtocolVersion, batch_count: i32) -> Self {
        RequestHeader {
            protocol_version,
            maximum_response_size: None,
            client_correlation_value: None,
            server_correlation_value: None,
            asynchronous_indicator: None,
            authentication: None,
            batch_error_continuation_option: None,
            batch_order_option: None,
            time_stamp: None,
            batch_count,
            extra: Vec::new(),
        }
    }

    /// Encodes as a `RequestHeader` structure, fields in spec order.
    pub fn to_ttlv(&self) -> Ttlv {
        let mut v = vec![self.protocol_version.to_ttlv()];
        push_opt(
            &mut v,
            self.maximum_response_size
                .map(|n| Ttlv::integer(Tag::MAXIMUM_RESPONSE_SIZE, n)),
        );
        push_opt(
            &mut v,
            self.client_correlation_value
                .as_ref()
                .map(|s| Ttlv::text(Tag::CLIENT_CORRELATION_VALUE, s.clone())),
        );
        push_opt(
            &mut v,
            self.server_correlation_value
                .as_ref()
                .map(|s| Ttlv::text(Tag::SERVER_CORRELATION_VALUE, s.clone())),
        );
        push_opt(
            &mut v,
            self.asynchronous_indicator
                .map(|b| Ttlv::new(Tag::ASYNCHRONOUS_INDICATOR, Value::Boolean(b))),
        );
        push_opt(&mut v, self.authentication.clone());
        push_opt(
            &mut v,
            self.batch_error_continuation_option
                .map(|o| Ttlv::enumeration(Tag::BATCH_ERROR_CONTINUATION_OPTION, o)),
        );
        push_opt(
            &mut v,
            self.batch_order_option
                .map(|b| Ttlv::new(Tag::BATCH_ORDER_OPTION, Value::Boolean(b))),
        );
        push_opt(
            &mut v,
            self.time_stamp
                .map(|t| Ttlv::new(Tag::TIME_STAMP, Value::DateTime(t))),
        );
        v.extend(self.extra.iter().cloned());
        v.push(Ttlv::integer(Tag::BATCH_COUNT, self.batch_count));
        Ttlv::structure(Tag::REQUEST_HEADER, v)
    }

    /// Decodes a `RequestHeader` structure.
    ///
    /// # Errors
    /// [`KmipError`] when a required field is missing or a field has the wrong type.
    pub fn from_ttlv(t: &Ttlv) -> Result<Self, KmipError> {
        let mut f = Fields::new(t, Tag::REQUEST_HEADER)?;
        let h = RequestHeader {
            protocol_version: ProtocolVersion::from_ttlv(f.take_req(Tag::PROTOCOL_VERSION)?)?,
            maximum_response_size: f.take_integer(Tag::MAXIMUM_RESPONSE_SIZE)?,
            client_correlation_value: f.take_text(Tag::CLIENT_CORRELATION_VALUE)?,
            server_correlation_value: f.take_text(Tag::SERVER_CORRELATION_VALUE)?,
            asynchronous_indicator: f.take_bool(Tag::ASYNCHRONOUS_INDICATOR)?,
            authentication: f.take(Tag::AUTHENTICATION).cloned(),
            batch_error_continuation_option: f
                .take_enum(Tag::BATCH_ERROR_CONTINUATION_OPTION)?
                .map(BatchErrorContinuationOption),
            batch_order_option: f.take_bool(Tag::BATCH_ORDER_OPTION)?,
            time_stamp: f.take_date_time(Tag::TIME_STAMP)?,
            batch_count: f
                .take_integer(Tag::BATCH_COUNT)?
                .ok_or(KmipError::MissingField {
                    parent: Tag::REQUEST_HEADER,
                    field: Tag::BATCH_COUNT,
                })?,
            extra: Vec::new(),
        };
        Ok(RequestHeader {
            extra: f.rest()?,
            ..h
        })
    }
}

/// One operation in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestBatchItem {
    /// The operation.
    pub operation: Operation,
    /// KMIP 2.x `Ephemeral` indicator.
    pub ephemeral: Option<bool>,
    /// Identifies the item in a batch of several.
    pub unique_batch_item_id: Option<Vec<u8>>,
    /// The `RequestPayload` structure (its items are the operation's fields).
    pub payload: Option<Ttlv>,
    /// Fields this layer does not model (`MessageExtension`), in order.
    pub extra: Vec<Ttlv>,
}

impl RequestBatchItem {
    /// A batch item for `operation` with the payload fields `payload`.
    pub fn new(operation: Operation, payload: Vec<Ttlv>) -> Self {
        RequestBatchItem {
            operation,
            ephemeral: None,
            unique_batch_item_id: None,
            payload: Some(Ttlv::structure(Tag::REQUEST_PAYLOAD, payload)),
            extra: Vec::new(),
        }
    }

    /// The payload's items (empty when there is no payload).
    pub fn payload_items(&self) -> &[Ttlv] {
        self.payload.as_ref().map(Ttlv::items).unwrap_or_default()
    }

    /// Encodes as a `BatchItem` structure.
    pub fn to_ttlv(&self) -> Ttlv {
        let mut v = vec![Ttlv::enumeration(Tag::OPERATION, self.operation)];
        push_opt(
            &mut v,
            self.ephemeral
                .map(|b| Ttlv::new(Tag::EPHEMERAL, Value::Boolean(b))),
        );
        push_opt(
            &mut v,
            self.unique_batch_item_id
                .as_ref()
                .map(|b| Ttlv::bytes(Tag::UNIQUE_BATCH_ITEM_ID, b.clone())),
        );
        push_opt(&mut v, self.payload.clone());
        v.extend(self.extra.iter().cloned());
        Ttlv::structure(Tag::BATCH_ITEM, v)
    }

    /// Decodes a request `BatchItem` structure.
    ///
    /// # Errors
    /// [`KmipError`] when the operation is missing or a field has the wrong type.
    pub fn from_ttlv(t: &Ttlv) -> Result<Self, KmipError> {
        let mut f = Fields::new(t, Tag::BATCH_ITEM)?;
        let operation = Operation(
            f.take_enum(Tag::OPERATION)?
                .ok_or(KmipError::MissingField {
                    parent: Tag::BATCH_ITEM,
                    field: Tag::OPERATION,
                })?,
        );
        let ephemeral = f.take_bool(Tag::EPHEMERAL)?;
        let unique_batch_item_id = f.take_bytes(Tag::UNIQUE_BATCH_ITEM_ID)?;
        let payload = f.take_struct(Tag::REQUEST_PAYLOAD)?.cloned();
        Ok(RequestBatchItem {
            operation,
            ephemeral,
            unique_batch_item_id,
            payload,
            extra: f.rest()?,
        })
    }
}

/// A request message: a header and one or more batch items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMessage {
    /// The header.
    pub header: RequestHeader,
    /// The operations, in order.
    pub batch_items: Vec<RequestBatchItem>,
}

impl RequestMessage {
    /// A request with one batch item.
    pub fn single(version: ProtocolVersion, operation: Operation, payload: Vec<Ttlv>) -> Self {
        RequestMessage {
            header: RequestHeader::new(version, 1),
            batch_items: vec![RequestBatchItem::new(operation, payload)],
        }
    }

    /// Encodes as a `RequestMessage` structure.
    pub fn to_ttlv(&self) -> Ttlv {
        let mut v = vec![self.header.to_ttlv()];
        v.extend(self.batch_items.iter().map(RequestBatchItem::to_ttlv));
        Ttlv::structure(Tag::REQUEST_MESSAGE, v)
    }

    /// Decodes a `RequestMessage` structure.
    ///
    /// # Errors
    /// [`KmipError`] when the tree is not a well-formed request.
    pub fn from_ttlv(t: &Ttlv) -> Result<Self, KmipError> {
        let (header, batch_items) = read_message(
            t,
            Tag::REQUEST_MESSAGE,
            Tag::REQUEST_HEADER,
            RequestHeader::from_ttlv,
            RequestBatchItem::from_ttlv,
        )?;
        // A request needs an item; a response is read without that check, as before.
        if batch_items.is_empty() {
            return Err(KmipError::MissingField {
                parent: Tag::REQUEST_MESSAGE,
                field: Tag::BATCH_ITEM,
            });
        }
        Ok(RequestMessage {
            header,
            batch_items,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RequestMessage {
        let mut m = RequestMessage::single(
            ProtocolVersion::V1_4,
            Operation::GET,
            vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, "uid-1")],
        );
        m.header.maximum_response_size = Some(4096);
        m.header.batch_error_continuation_option = Some(BatchErrorContinuationOption::STOP);
        m.header.authentication = Some(Ttlv::structure(
            Tag::AUTHENTICATION,
            vec![Ttlv::text(Tag::CREDENTIAL_VALUE, "hunter2")],
        ));
        m.batch_items[0].unique_batch_item_id = Some(vec![1, 2]);
        m
    }

    /// Requests and responses share one reader: both refuse a field that is neither the
    /// header nor a batch item, naming it; only a request needs a batch item.
    #[test]
    fn both_messages_refuse_an_unexpected_field() {
        use crate::message::ResponseMessage;
        let mut req = request().to_ttlv();
        if let Value::Structure(items) = &mut req.value {
            items.push(Ttlv::text(Tag::COMMENT, "x"));
        }
        let resp = ResponseMessage::new(ProtocolVersion::V1_4, 0, Vec::new()).to_ttlv();
        let mut bad_resp = resp.clone();
        if let Value::Structure(items) = &mut bad_resp.value {
            items.push(Ttlv::text(Tag::COMMENT, "x"));
        }
        for err in [
            RequestMessage::from_ttlv(&req).map(|_| ()),
            ResponseMessage::from_ttlv(&bad_resp).map(|_| ()),
        ] {
            assert!(
                matches!(
                    err,
                    Err(KmipError::InvalidField {
                        field: Tag::COMMENT,
                        reason: "unexpected field",
                        ..
                    })
                ),
                "{err:?}"
            );
        }
        assert!(ResponseMessage::from_ttlv(&resp).is_ok());
    }

    #[test]
    fn request_round_trip() {
        let m = request();
        let t = m.to_ttlv();
        let back = RequestMessage::from_ttlv(&Ttlv::decode(&t.encode()).unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.to_ttlv(), t);
        assert_eq!(
            back.batch_items[0].payload_items()[0].as_text(),
            Some("uid-1")
        );
    }

    #[test]
    fn authentication_is_redacted() {
        let d = format!("{:?}", request());
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("[REDACTED]"));
    }

    #[test]
    fn unknown_header_fields_are_kept() {
        let mut m = request();
        let vendor = Ttlv::text(Tag::new(0x54_0001).unwrap_or(Tag::ATTRIBUTE), "v");
        m.header.extra.push(vendor.clone());
        let back = RequestMessage::from_ttlv(&m.to_ttlv()).unwrap();
        assert_eq!(back.header.extra, vec![vendor]);
    }

    #[test]
    fn malformed_requests_are_errors() {
        let no_items = Ttlv::structure(
            Tag::REQUEST_MESSAGE,
            vec![RequestHeader::new(ProtocolVersion::V1_0, 0).to_ttlv()],
        );
        assert!(matches!(
            RequestMessage::from_ttlv(&no_items),
            Err(KmipError::MissingField { .. })
        ));
        let wrong = Ttlv::structure(
            Tag::REQUEST_MESSAGE,
            vec![
                RequestHeader::new(ProtocolVersion::V1_0, 1).to_ttlv(),
                Ttlv::structure(Tag::BATCH_ITEM, vec![Ttlv::text(Tag::OPERATION, "Get")]),
            ],
        );
        let err = RequestMessage::from_ttlv(&wrong).unwrap_err();
        assert_eq!(
            err.to_string(),
            "kmip: Operation in BatchItem is invalid: not an enumeration"
        );
        assert!(matches!(
            RequestMessage::from_ttlv(&Ttlv::integer(Tag::REQUEST_MESSAGE, 1)),
            Err(KmipError::InvalidField { .. })
        ));
    }
}
