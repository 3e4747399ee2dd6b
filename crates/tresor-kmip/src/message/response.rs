//! The response side of a message: [`ResponseHeader`], [`ResponseBatchItem`] and
//! [`ResponseMessage`].

use super::fields::{Fields, read_message};
use super::{ProtocolVersion, push_opt};
use crate::enums::{Operation, ResultReason, ResultStatus};
use crate::error::KmipError;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// The header of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeader {
    /// The protocol version of the response.
    pub protocol_version: ProtocolVersion,
    /// Server time, seconds since the epoch.
    pub time_stamp: i64,
    /// Client correlation value echoed (KMIP 1.4+).
    pub client_correlation_value: Option<String>,
    /// Server correlation value (KMIP 1.4+).
    pub server_correlation_value: Option<String>,
    /// The number of batch items.
    pub batch_count: i32,
    /// Header fields this layer does not model (`Nonce`, `AttestationType`), in order.
    pub extra: Vec<Ttlv>,
}

impl ResponseHeader {
    /// Encodes as a `ResponseHeader` structure, fields in spec order.
    pub fn to_ttlv(&self) -> Ttlv {
        let mut v = vec![
            self.protocol_version.to_ttlv(),
            Ttlv::new(Tag::TIME_STAMP, Value::DateTime(self.time_stamp)),
        ];
        v.extend(self.extra.iter().cloned());
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
        v.push(Ttlv::integer(Tag::BATCH_COUNT, self.batch_count));
        Ttlv::structure(Tag::RESPONSE_HEADER, v)
    }

    /// Decodes a `ResponseHeader` structure.
    ///
    /// # Errors
    /// [`KmipError`] when a required field is missing or a field has the wrong type.
    pub fn from_ttlv(t: &Ttlv) -> Result<Self, KmipError> {
        let mut f = Fields::new(t, Tag::RESPONSE_HEADER)?;
        let protocol_version = ProtocolVersion::from_ttlv(f.take_req(Tag::PROTOCOL_VERSION)?)?;
        let time_stamp = f
            .take_date_time(Tag::TIME_STAMP)?
            .ok_or(KmipError::MissingField {
                parent: Tag::RESPONSE_HEADER,
                field: Tag::TIME_STAMP,
            })?;
        let client_correlation_value = f.take_text(Tag::CLIENT_CORRELATION_VALUE)?;
        let server_correlation_value = f.take_text(Tag::SERVER_CORRELATION_VALUE)?;
        let batch_count = f
            .take_integer(Tag::BATCH_COUNT)?
            .ok_or(KmipError::MissingField {
                parent: Tag::RESPONSE_HEADER,
                field: Tag::BATCH_COUNT,
            })?;
        Ok(ResponseHeader {
            protocol_version,
            time_stamp,
            client_correlation_value,
            server_correlation_value,
            batch_count,
            extra: f.rest()?,
        })
    }
}

/// The result of one operation in a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseBatchItem {
    /// The operation answered (required when the request named one).
    pub operation: Option<Operation>,
    /// Echo of the request item's identifier.
    pub unique_batch_item_id: Option<Vec<u8>>,
    /// Success, failure, pending or undone.
    pub result_status: ResultStatus,
    /// Why it failed.
    pub result_reason: Option<ResultReason>,
    /// A human-readable explanation.
    pub result_message: Option<String>,
    /// For asynchronous (pending) results.
    pub asynchronous_correlation_value: Option<Vec<u8>>,
    /// The `ResponsePayload` structure.
    pub payload: Option<Ttlv>,
    /// Fields this layer does not model (`MessageExtension`), in order.
    pub extra: Vec<Ttlv>,
}

impl ResponseBatchItem {
    /// A successful result with the payload fields `payload`.
    pub fn success(operation: Operation, id: Option<Vec<u8>>, payload: Vec<Ttlv>) -> Self {
        ResponseBatchItem {
            operation: Some(operation),
            unique_batch_item_id: id,
            result_status: ResultStatus::SUCCESS,
            result_reason: None,
            result_message: None,
            asynchronous_correlation_value: None,
            payload: Some(Ttlv::structure(Tag::RESPONSE_PAYLOAD, payload)),
            extra: Vec::new(),
        }
    }

    /// A failed result.
    pub fn failure(
        operation: Option<Operation>,
        id: Option<Vec<u8>>,
        reason: ResultReason,
        message: impl Into<String>,
    ) -> Self {
        ResponseBatchItem {
            operation,
            unique_batch_item_id: id,
            result_status: ResultStatus::OPERATION_FAILED,
            result_reason: Some(reason),
            result_message: Some(message.into()),
            asynchronous_correlation_value: None,
            payload: None,
            extra: Vec::new(),
        }
    }

    /// The payload's items (empty when there is no payload).
    pub fn payload_items(&self) -> &[Ttlv] {
        self.payload.as_ref().map(Ttlv::items).unwrap_or_default()
    }

    /// Encodes as a `BatchItem` structure.
    pub fn to_ttlv(&self) -> Ttlv {
        self.clone().into_ttlv()
    }

    /// [`ResponseBatchItem::to_ttlv`] consuming the item: the payload moves into the tree
    /// (a server answering a Get makes no second copy of the key material).
    pub fn into_ttlv(self) -> Ttlv {
        let mut v = Vec::new();
        push_opt(
            &mut v,
            self.operation.map(|o| Ttlv::enumeration(Tag::OPERATION, o)),
        );
        push_opt(
            &mut v,
            self.unique_batch_item_id
                .map(|b| Ttlv::bytes(Tag::UNIQUE_BATCH_ITEM_ID, b)),
        );
        v.push(Ttlv::enumeration(Tag::RESULT_STATUS, self.result_status));
        push_opt(
            &mut v,
            self.result_reason
                .map(|r| Ttlv::enumeration(Tag::RESULT_REASON, r)),
        );
        push_opt(
            &mut v,
            self.result_message
                .map(|s| Ttlv::text(Tag::RESULT_MESSAGE, s)),
        );
        push_opt(
            &mut v,
            self.asynchronous_correlation_value
                .map(|b| Ttlv::bytes(Tag::ASYNCHRONOUS_CORRELATION_VALUE, b)),
        );
        push_opt(&mut v, self.payload);
        v.extend(self.extra);
        Ttlv::structure(Tag::BATCH_ITEM, v)
    }

    /// Decodes a response `BatchItem` structure.
    ///
    /// # Errors
    /// [`KmipError`] when the result status is missing or a field has the wrong type.
    pub fn from_ttlv(t: &Ttlv) -> Result<Self, KmipError> {
        let mut f = Fields::new(t, Tag::BATCH_ITEM)?;
        let operation = f.take_enum(Tag::OPERATION)?.map(Operation);
        let unique_batch_item_id = f.take_bytes(Tag::UNIQUE_BATCH_ITEM_ID)?;
        let result_status = ResultStatus(f.take_enum(Tag::RESULT_STATUS)?.ok_or(
            KmipError::MissingField {
                parent: Tag::BATCH_ITEM,
                field: Tag::RESULT_STATUS,
            },
        )?);
        Ok(ResponseBatchItem {
            operation,
            unique_batch_item_id,
            result_status,
            result_reason: f.take_enum(Tag::RESULT_REASON)?.map(ResultReason),
            result_message: f.take_text(Tag::RESULT_MESSAGE)?,
            asynchronous_correlation_value: f.take_bytes(Tag::ASYNCHRONOUS_CORRELATION_VALUE)?,
            payload: f.take_struct(Tag::RESPONSE_PAYLOAD)?.cloned(),
            extra: f.rest()?,
        })
    }
}

/// A response message: a header and one result per request batch item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseMessage {
    /// The header.
    pub header: ResponseHeader,
    /// The results, in order.
    pub batch_items: Vec<ResponseBatchItem>,
}

impl ResponseMessage {
    /// A response holding `batch_items`, stamped `time_stamp`.
    pub fn new(
        version: ProtocolVersion,
        time_stamp: i64,
        batch_items: Vec<ResponseBatchItem>,
    ) -> Self {
        ResponseMessage {
            header: ResponseHeader {
                protocol_version: version,
                time_stamp,
                client_correlation_value: None,
                server_correlation_value: None,
                batch_count: i32::try_from(batch_items.len()).unwrap_or(i32::MAX),
                extra: Vec::new(),
            },
            batch_items,
        }
    }

    /// Encodes as a `ResponseMessage` structure.
    pub fn to_ttlv(&self) -> Ttlv {
        self.clone().into_ttlv()
    }

    /// [`ResponseMessage::to_ttlv`] consuming the message (payloads move, not copied).
    pub fn into_ttlv(self) -> Ttlv {
        let mut v = vec![self.header.to_ttlv()];
        v.extend(
            self.batch_items
                .into_iter()
                .map(ResponseBatchItem::into_ttlv),
        );
        Ttlv::structure(Tag::RESPONSE_MESSAGE, v)
    }

    /// Decodes a `ResponseMessage` structure.
    ///
    /// # Errors
    /// [`KmipError`] when the tree is not a well-formed response.
    pub fn from_ttlv(t: &Ttlv) -> Result<Self, KmipError> {
        let (header, batch_items) = read_message(
            t,
            Tag::RESPONSE_MESSAGE,
            Tag::RESPONSE_HEADER,
            ResponseHeader::from_ttlv,
            ResponseBatchItem::from_ttlv,
        )?;
        Ok(ResponseMessage {
            header,
            batch_items,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `cargo fuzz run ttlv` (session 4, after ~45 million inputs): a response header
    /// with a second `BatchCount` (and `Time Stamp`) decoded with the duplicates as extras,
    /// and its re-encoding decoded differently. A repeated single field is now an error.
    #[test]
    fn a_repeated_single_header_field_is_refused() {
        let data: Vec<u8> = vec![
            66, 0, 123, 1, 0, 0, 0, 160, 66, 0, 122, 1, 0, 0, 0, 152, 66, 0, 105, 1, 0, 0, 0, 32,
            66, 0, 106, 2, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 0, 66, 0, 107, 2, 0, 0, 0, 4, 0, 0, 0,
            1, 0, 0, 0, 0, 66, 0, 146, 9, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 66, 0, 13, 2, 0, 0,
            0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 66, 59, 15, 1, 0, 0, 0, 0, 66, 0, 107, 2, 0, 0, 0, 4, 0,
            0, 0, 1, 0, 0, 0, 0, 66, 0, 146, 9, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 66, 0, 13, 2,
            0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 66, 59, 15, 1, 0, 0, 0, 0, 0, 0, 5, 5, 0, 0, 0, 4,
            0, 66, 0, 141, 0, 0, 0, 0,
        ];
        let t = Ttlv::decode(&data).unwrap();
        let e = ResponseMessage::from_ttlv(&t).unwrap_err();
        assert!(e.to_string().contains("more than once"), "{e}");
        crate::fuzzing::fuzz_ttlv(&data);
    }

    #[test]
    fn response_round_trip() {
        let m = ResponseMessage::new(
            ProtocolVersion::V2_1,
            1_700_000_000,
            vec![
                ResponseBatchItem::success(
                    Operation::CREATE,
                    Some(vec![7]),
                    vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, "x")],
                ),
                ResponseBatchItem::failure(
                    Some(Operation::GET),
                    None,
                    ResultReason::ITEM_NOT_FOUND,
                    "object 'y' not found",
                ),
            ],
        );
        let t = m.to_ttlv();
        let back = ResponseMessage::from_ttlv(&t).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.header.batch_count, 2);
        assert_eq!(
            back.batch_items[1].result_status,
            ResultStatus::OPERATION_FAILED
        );
    }
}
