//! KMIP 2.x's housekeeping operations: Interop (the test-case markers the OASIS vectors
//! send) and Log (a message for the server's log). Both answer with an empty payload.

use super::{Payload, PayloadError, Request, opt_text};
use crate::enums::{InteropFunction, Operation};
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// An Interop request: a test case begins, ends, or the server is to reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteropRequest {
    /// Begin, End or Reset.
    pub interop_function: InteropFunction,
    /// The test case (`BL-M-1-21`, ...).
    pub interop_identifier: String,
}

impl Payload for InteropRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    /// Reads the function, refusing one that is not Begin, End or Reset
    /// ([`PayloadError::Invalid`]), then the identifier.
    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        let f = p
            .find(Tag::INTEROP_FUNCTION)
            .and_then(Ttlv::as_enumeration)
            .ok_or(PayloadError::Missing {
                parent: Tag::REQUEST_PAYLOAD,
                field: Tag::INTEROP_FUNCTION,
            })?;
        if ![
            InteropFunction::BEGIN.0,
            InteropFunction::END.0,
            InteropFunction::RESET.0,
        ]
        .contains(&f)
        {
            return Err(PayloadError::Invalid(format!(
                "interop function {f:#x} is not Begin, End or Reset"
            )));
        }
        let interop_identifier =
            opt_text(p, Tag::INTEROP_IDENTIFIER).ok_or(PayloadError::Missing {
                parent: Tag::REQUEST_PAYLOAD,
                field: Tag::INTEROP_IDENTIFIER,
            })?;
        Ok(InteropRequest {
            interop_function: InteropFunction(f),
            interop_identifier,
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        vec![
            Ttlv::enumeration(Tag::INTEROP_FUNCTION, self.interop_function),
            Ttlv::text(Tag::INTEROP_IDENTIFIER, self.interop_identifier.clone()),
        ]
    }
}

impl Request for InteropRequest {
    const OPERATION: Operation = Operation::INTEROP;
    type Response = InteropResponse;
}

/// An Interop response (empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InteropResponse;

impl Payload for InteropResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(_: &Ttlv) -> Result<Self, PayloadError> {
        Ok(InteropResponse)
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        Vec::new()
    }
}

/// A Log request: one message for the server's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRequest {
    /// The message.
    pub log_message: String,
}

impl Payload for LogRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        // The refusal names the request payload, whatever tag the structure has.
        let log_message = opt_text(p, Tag::LOG_MESSAGE).ok_or(PayloadError::Missing {
            parent: Tag::REQUEST_PAYLOAD,
            field: Tag::LOG_MESSAGE,
        })?;
        Ok(LogRequest { log_message })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        vec![Ttlv::text(Tag::LOG_MESSAGE, self.log_message.clone())]
    }
}

impl Request for LogRequest {
    const OPERATION: Operation = Operation::LOG;
    type Response = LogResponse;
}

/// A Log response (empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogResponse;

impl Payload for LogResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(_: &Ttlv) -> Result<Self, PayloadError> {
        Ok(LogResponse)
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::payload::testing;

    proptest! {
        #[test]
        fn requests_round_trip(f in 1u32..=3, id in ".{0,16}", msg in ".{0,32}") {
            let v = ProtocolVersion::V2_1;
            let req = InteropRequest {
                interop_function: InteropFunction(f),
                interop_identifier: id,
            };
            prop_assert_eq!(InteropRequest::from_ttlv(&req.to_ttlv(v))?, req);
            let log = LogRequest { log_message: msg };
            prop_assert_eq!(LogRequest::from_ttlv(&log.to_ttlv(v))?, log);
        }

        #[test]
        fn responses_round_trip(_x in any::<bool>()) {
            let v = ProtocolVersion::V2_0;
            prop_assert_eq!(InteropResponse::from_ttlv(&InteropResponse.to_ttlv(v))?, InteropResponse);
            prop_assert_eq!(LogResponse::from_ttlv(&LogResponse.to_ttlv(v))?, LogResponse);
        }

        #[test]
        fn never_panics(p in testing::payload()) {
            let _ = InteropRequest::from_ttlv(&p);
            let _ = InteropResponse::from_ttlv(&p);
            let _ = LogRequest::from_ttlv(&p);
            let _ = LogResponse::from_ttlv(&p);
        }
    }

    /// The function is checked before the identifier is looked for.
    #[test]
    fn an_unknown_function_is_refused_first() {
        let p = Ttlv::structure(
            Tag::REQUEST_PAYLOAD,
            vec![Ttlv::enumeration(Tag::INTEROP_FUNCTION, 9u32)],
        );
        assert_eq!(
            InteropRequest::from_ttlv(&p),
            Err(PayloadError::Invalid(
                "interop function 0x9 is not Begin, End or Reset".into()
            ))
        );
    }
}
