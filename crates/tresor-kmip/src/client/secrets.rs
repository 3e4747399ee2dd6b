//! [`SecretsClient`]: vault secrets (`app:env:KEY`) on a `tresor kmip serve` server, over a
//! [`BlockingKmipClient`] (KMIP 1.4, one request message per call).
//!
//! It builds the requests and reads the answers of the vault's remote mode
//! (`tresor --server`): a secret is a Secret Data object whose Name is `app:env:KEY`;
//! Locate finds names and attributes; tresor's vendor operations ([`crate::vendor`])
//! describe objects and their versions (Versions), add versions (Add Version), remove them
//! for good (Purge) and read many names at once (Read Names). Every multi-item write is sent
//! with Batch Error Continuation Option *Undo*, so the server runs it in one store transaction
//! and a failure leaves nothing written. It prints nothing and decides nothing about the
//! vault's names (filters, reserved prefixes): the caller does.
//!
//! Errors are [`KmipError`]s, which name the server and the operation refused.

use tresor_crypto::SecretBytes;
use tresor_store::VersionInfo;

use super::BlockingKmipClient;
use crate::ProtocolVersion;
use crate::attributes::{Attribute, AttributeName, AttributeSet};
use crate::enums::{
    BatchErrorContinuationOption, NameType, ObjectType, Operation, ResultReason, ResultStatus,
    RevocationReasonCode, SecretDataType, State,
};
use crate::error::{KmipError, PayloadError};
use crate::message::{RequestBatchItem, RequestHeader, RequestMessage, ResponseBatchItem};
use crate::payload::get::GetRequest;
use crate::payload::lifecycle::{DestroyRequest, RevocationReason, RevokeRequest};
use crate::payload::locate::LocateRequest;
use crate::payload::register::{RegisterRequest, SecretData};
use crate::payload::vendor::{
    AddVersionRequest, AddVersionResponse, PurgeRequest, VersionsRequest, VersionsResponse,
};
use crate::payload::{Payload, Request, UidRef};
use crate::tags::Tag;
use crate::ttlv::{Limits, Ttlv, Value};
use crate::vendor;
use crate::vendor::read_names::{self, ReadNamesAnswer, ReadNamesRequest, ReadNamesResponse};

/// What the server says about one object (tresor's vendor Versions operation).
#[derive(Debug)]
#[non_exhaustive]
pub struct SecretDescription {
    /// The object's Unique Identifier.
    pub uid: String,
    /// Its store name (`app:env:KEY` for a vault secret).
    pub name: Option<String>,
    /// The vault's kind of value (`str`, ...), when it has one.
    pub kind: Option<String>,
    /// The identity owning the object.
    pub owner: Option<String>,
    /// The identity the server sees this client as.
    pub caller: Option<String>,
    /// The Object Type's name (`SecretData`, `Unknown` when absent).
    pub object_type: String,
    /// The State's name (`Active`, `Unknown` when absent).
    pub state: String,
    /// The Last Change Date (Unix seconds; 0 when absent).
    pub updated: i64,
    /// The current version (0 when absent).
    pub version: u32,
    /// Every version.
    pub versions: Vec<VersionInfo>,
    /// The value of the version asked for, when one was.
    pub value: Option<SecretBytes>,
}

/// One Locate condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The object holds this Name.
    Name(String),
    /// The object has the custom text attribute `name` (`app`, `env`, `key`) with `value`.
    Text {
        /// The attribute's name.
        name: String,
        /// Its value.
        value: String,
    },
}

impl Condition {
    fn to_attribute(&self) -> Attribute {
        match self {
            Condition::Name(n) => Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING),
            Condition::Text { name, value } => Attribute {
                name: AttributeName::Custom {
                    vendor: None,
                    name: name.clone(),
                },
                index: None,
                value: Value::TextString(value.clone()),
            },
        }
    }
}

/// A secret to remove: its uid, and whether it is Active (then it is revoked first).
#[derive(Debug, Clone, Copy)]
pub struct Removal<'a> {
    /// The object's Unique Identifier.
    pub uid: &'a str,
    /// True if and only if the object is Active.
    pub active: bool,
}

/// Vault secrets on a tresor KMIP server (the KMIP half of `tresor --server`: Locate, Get, Read Names, Register, Add Version).
///
/// # Examples
/// ```no_run
/// use tresor_kmip::client::{BlockingKmipClient, ClientConfig, SecretsClient};
/// let cfg = ClientConfig::from_pykmip_conf("pykmip.conf".as_ref(), "client")?;
/// let c = SecretsClient::new(BlockingKmipClient::new(cfg)?, "kmip.example:5696");
/// let uid = c.locate_names(&["app:dev:DB".to_owned()])?.remove(0);
/// if let Some(uid) = uid {
///     let value = c.get_value(&uid)?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SecretsClient {
    client: BlockingKmipClient,
    server: String,
    on_request: Option<fn()>,
}

impl std::fmt::Debug for SecretsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsClient")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl SecretsClient {
    /// A client for the server `server` (its address, as errors name it) over `client`.
    pub fn new(client: BlockingKmipClient, server: impl Into<String>) -> SecretsClient {
        SecretsClient {
            client,
            server: server.into(),
            on_request: None,
        }
    }

    /// Calls `f` before each request message is sent (e.g. to count round trips).
    #[must_use]
    pub fn on_request(mut self, f: fn()) -> SecretsClient {
        self.on_request = Some(f);
        self
    }

    /// The server's address.
    pub fn server(&self) -> &str {
        &self.server
    }

    fn send(&self, msg: &RequestMessage) -> Result<crate::ResponseMessage, KmipError> {
        if let Some(f) = self.on_request {
            f();
        }
        self.client
            .request(msg)
            .map_err(|source| KmipError::Remote {
                server: self.server.clone(),
                source: Box::new(source),
            })
    }

    fn bad_answer(&self, detail: String) -> KmipError {
        KmipError::BadAnswer {
            server: self.server.clone(),
            detail,
        }
    }

    /// Sends `items` in one request message; every item must succeed (with `undo`, a
    /// failure rolls the whole message back on the server).
    fn batch(
        &self,
        items: Vec<RequestBatchItem>,
        undo: bool,
    ) -> Result<Vec<ResponseBatchItem>, KmipError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let n = items.len();
        let mut header =
            RequestHeader::new(ProtocolVersion::V1_4, i32::try_from(n).unwrap_or(i32::MAX));
        if undo {
            header.batch_error_continuation_option = Some(BatchErrorContinuationOption::UNDO);
        }
        let msg = RequestMessage {
            header,
            batch_items: items,
        };
        let ops: Vec<Operation> = msg.batch_items.iter().map(|i| i.operation).collect();
        let resp = self.send(&msg)?;
        for (i, item) in resp.batch_items.iter().enumerate() {
            if item.result_status != ResultStatus::SUCCESS
                && item.result_status != ResultStatus::OPERATION_UNDONE
            {
                let reason = item.result_reason.unwrap_or(ResultReason::GENERAL_FAILURE);
                let op = ops.get(i).copied().unwrap_or(Operation::LOCATE);
                let operation = match op {
                    vendor::ADD_VERSION => "add version".to_owned(),
                    vendor::VERSIONS => "versions".to_owned(),
                    vendor::PURGE => "purge".to_owned(),
                    vendor::READ_NAMES => "read names".to_owned(),
                    o => o.name().unwrap_or("operation").to_owned(),
                };
                return Err(KmipError::Refused {
                    server: self.server.clone(),
                    operation,
                    message: item.result_message.clone().unwrap_or_default(),
                    reason,
                });
            }
        }
        if resp.batch_items.len() != n {
            return Err(self.bad_answer(format!(
                " answered {} of {n} operations",
                resp.batch_items.len()
            )));
        }
        Ok(resp.batch_items)
    }

    fn uids(item: &ResponseBatchItem) -> Vec<String> {
        item.payload_items()
            .iter()
            .filter(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
            .filter_map(|t| t.as_text().map(str::to_owned))
            .collect()
    }

    /// One Locate per condition set, all in one request message: the uids each finds
    /// (objects the identity owns or may locate), in order.
    ///
    /// # Errors
    /// [`KmipError`] if the request fails or the server refuses one Locate.
    pub fn locate(&self, queries: &[Vec<Condition>]) -> Result<Vec<Vec<String>>, KmipError> {
        let items = queries
            .iter()
            .map(|q| {
                let mut attributes = AttributeSet::default();
                for c in q {
                    attributes.push(c.to_attribute());
                }
                typed_item(&LocateRequest::new(attributes))
            })
            .collect();
        Ok(self.batch(items, false)?.iter().map(Self::uids).collect())
    }

    /// The uid holding exactly each name (if the identity may see it), in one request message.
    ///
    /// # Errors
    /// As [`SecretsClient::locate`].
    pub fn locate_names(&self, names: &[String]) -> Result<Vec<Option<String>>, KmipError> {
        let queries: Vec<Vec<Condition>> = names
            .iter()
            .map(|n| vec![Condition::Name(n.clone())])
            .collect();
        Ok(self
            .locate(&queries)?
            .into_iter()
            .map(|u| u.into_iter().next())
            .collect())
    }

    /// Describes `uids` (vendor Versions, one request message): names, owner, state,
    /// versions, and with `version` that version's value.
    ///
    /// # Errors
    /// [`KmipError`] if the request fails or the server refuses one object.
    pub fn describe(
        &self,
        uids: &[String],
        version: Option<u32>,
    ) -> Result<Vec<SecretDescription>, KmipError> {
        let items = uids
            .iter()
            .map(|u| {
                typed_item(&VersionsRequest {
                    unique_identifier: Some(UidRef::text(u.as_str())),
                    version: version.map(|v| i32::try_from(v).unwrap_or(0)),
                    name: None,
                })
            })
            .collect();
        let mut out = Vec::with_capacity(uids.len());
        for (u, r) in uids.iter().zip(self.batch(items, false)?) {
            let resp = typed_payload::<VersionsResponse>(&r)
                .map_err(|e| self.bad_answer(format!(": {e}")))?;
            out.push(description(u, resp));
        }
        Ok(out)
    }

    /// The current value of `uid` (Get), `None` if the answer holds no key material.
    ///
    /// # Errors
    /// [`KmipError`] if the request fails or the server refuses the Get.
    pub fn get_value(&self, uid: &str) -> Result<Option<SecretBytes>, KmipError> {
        let mut r = self.batch(vec![typed_item(&GetRequest::new(uid))], false)?;
        Ok(material_of(&r.remove(0)))
    }

    /// The answers of vendor Read Names for `entries` (`(name, version)`, 0: current), in
    /// order: one request message per [`read_names::MAX_NAMES`] names (or
    /// [`read_names::MAX_NAME_BYTES`] bytes of names), each answered from one store read. A
    /// response over what this client reads (1 MiB) is refused by the server before it is
    /// sent; the names are then asked again in two halves.
    ///
    /// # Errors
    /// [`KmipError::NameTooLong`], a failed request, or a refused Read Names.
    pub fn read_names(&self, entries: &[(String, u32)]) -> Result<Vec<ReadNamesAnswer>, KmipError> {
        let mut out = Vec::with_capacity(entries.len());
        let mut start = 0;
        while start < entries.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < entries.len()
                && end - start < read_names::MAX_NAMES
                && bytes + entries[end].0.len() <= read_names::MAX_NAME_BYTES
            {
                bytes += entries[end].0.len();
                end += 1;
            }
            if end == start {
                return Err(KmipError::NameTooLong(entries[start].0.clone()));
            }
            out.extend(self.read_names_once(&entries[start..end])?);
            start = end;
        }
        Ok(out)
    }

    fn read_names_once(
        &self,
        entries: &[(String, u32)],
    ) -> Result<Vec<ReadNamesAnswer>, KmipError> {
        let req = ReadNamesRequest {
            entries: entries.to_vec(),
        };
        let mut header = RequestHeader::new(ProtocolVersion::V1_4, 1);
        let limit = Limits::default().max_message;
        header.maximum_response_size = Some(i32::try_from(limit).unwrap_or(i32::MAX));
        let msg = RequestMessage {
            header,
            batch_items: vec![typed_item(&req)],
        };
        let resp = self.send(&msg)?;
        let [item] = resp.batch_items.as_slice() else {
            return Err(self.bad_answer(format!(
                " answered {} items to one Read Names",
                resp.batch_items.len()
            )));
        };
        if item.result_status != ResultStatus::SUCCESS {
            let reason = item.result_reason.unwrap_or(ResultReason::GENERAL_FAILURE);
            if reason == ResultReason::RESPONSE_TOO_LARGE && entries.len() > 1 {
                let (a, b) = entries.split_at(entries.len() / 2);
                let mut out = self.read_names_once(a)?;
                out.extend(self.read_names_once(b)?);
                return Ok(out);
            }
            return Err(KmipError::ReadRefused {
                server: self.server.clone(),
                count: entries.len(),
                message: item.result_message.clone().unwrap_or_default(),
                reason,
            });
        }
        let r = typed_payload::<ReadNamesResponse>(item)
            .map_err(|e| self.bad_answer(format!(": {e}")))?;
        if r.answers.len() != entries.len() {
            return Err(self.bad_answer(format!(
                " answered {} of {} names",
                r.answers.len(),
                entries.len()
            )));
        }
        Ok(r.answers)
    }

    /// Registers new secrets (`(name, value)`: Secret Data, Active at once) and stores new
    /// versions (`(uid, value)`, vendor Add Version), all in one message the server runs
    /// all-or-nothing. Each Register is followed by a vendor Versions of its name, which
    /// fails (and so undoes everything) unless the new object really holds the name: it may
    /// belong to an object this identity cannot see. Returns the version numbers the new
    /// versions got, in order.
    ///
    /// # Errors
    /// [`KmipError`] if the request fails or the server refuses any item (nothing is
    /// written then).
    pub fn write(
        &self,
        new: &[(String, &[u8])],
        versions: &[(String, &[u8])],
    ) -> Result<Vec<u32>, KmipError> {
        let now = tresor_store::now();
        let mut items = Vec::new();
        for (name, value) in new {
            let mut attributes = AttributeSet::default();
            attributes.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
            attributes.push(Attribute::standard(
                Tag::ACTIVATION_DATE,
                Value::DateTime(now),
            ));
            let data = SecretData::new(SecretDataType::PASSWORD, value.to_vec());
            items.push(typed_item(&RegisterRequest::secret_data(&data, attributes)));
            items.push(typed_item(&VersionsRequest {
                name: Some(name.clone()),
                ..VersionsRequest::default()
            }));
        }
        for (uid, value) in versions {
            let data = SecretData::new(SecretDataType::PASSWORD, value.to_vec());
            items.push(typed_item(&AddVersionRequest::new(uid.as_str(), &data)));
        }
        let r = self.batch(items, true)?;
        Ok(r.iter()
            .filter(|i| i.operation == Some(vendor::ADD_VERSION))
            .map(|i| typed_payload::<AddVersionResponse>(i).map_or(0, |a| a.version))
            .collect())
    }

    /// Removes secrets for good, all in one message the server runs all-or-nothing: Revoke
    /// (Cessation of Operation) when Active, Destroy, then vendor Purge.
    ///
    /// # Errors
    /// [`KmipError`] if the request fails or the server refuses any item (nothing is
    /// removed then).
    pub fn remove(&self, targets: &[Removal<'_>]) -> Result<(), KmipError> {
        let mut items = Vec::new();
        for t in targets {
            if t.active {
                items.push(typed_item(&RevokeRequest {
                    unique_identifier: Some(UidRef::text(t.uid)),
                    revocation_reason: RevocationReason {
                        code: RevocationReasonCode::CESSATION_OF_OPERATION,
                        message: None,
                    },
                    compromise_occurrence_date: None,
                }));
            }
            items.push(typed_item(&DestroyRequest::new(t.uid)));
            items.push(typed_item(&PurgeRequest::new(t.uid)));
        }
        self.batch(items, true)?;
        Ok(())
    }
}

/// The batch item of typed request `r` (in KMIP 1.4, the version every message is sent in).
fn typed_item<R: Request>(r: &R) -> RequestBatchItem {
    RequestBatchItem::new(R::OPERATION, r.to_items(ProtocolVersion::V1_4))
}

/// The payload of response `item` read as `P` (no payload: an empty one).
fn typed_payload<P: Payload>(item: &ResponseBatchItem) -> Result<P, PayloadError> {
    let empty = Ttlv::structure(Tag::RESPONSE_PAYLOAD, Vec::new());
    P::from_ttlv(item.payload.as_ref().unwrap_or(&empty))
}

/// The key material (or vendor value) bytes of a response.
fn material_of(item: &ResponseBatchItem) -> Option<SecretBytes> {
    fn walk(t: &Ttlv) -> Option<&[u8]> {
        if t.tag == Tag::KEY_MATERIAL
            && let Some(b) = t.as_bytes()
        {
            return Some(b);
        }
        t.items().iter().find_map(walk)
    }
    item.payload_items()
        .iter()
        .find_map(walk)
        .map(|b| SecretBytes::new(b.to_vec()))
}

/// A vendor Versions answer read into a [`SecretDescription`].
fn description(uid: &str, r: VersionsResponse) -> SecretDescription {
    SecretDescription {
        uid: uid.to_owned(),
        name: r.name,
        kind: r.kind,
        owner: r.owner,
        caller: r.caller,
        object_type: r
            .object_type
            .and_then(ObjectType::name)
            .unwrap_or("Unknown")
            .to_owned(),
        state: r
            .state
            .and_then(State::name)
            .unwrap_or("Unknown")
            .to_owned(),
        updated: r.last_change_date.unwrap_or(0),
        version: r.version.unwrap_or(0),
        versions: r.versions,
        value: r.value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_round_trips_through_its_payload() {
        let item = ResponseBatchItem::success(
            Operation::GET,
            None,
            vec![SecretData::new(SecretDataType::PASSWORD, b"s3cret".to_vec()).to_ttlv()],
        );
        assert_eq!(material_of(&item).unwrap().expose().as_slice(), b"s3cret");
    }

    #[test]
    fn errors_name_the_server_and_the_operation() {
        let e = KmipError::Refused {
            server: "kmip:5696".into(),
            operation: "register".into(),
            message: "name taken".into(),
            reason: ResultReason::GENERAL_FAILURE,
        };
        let reason = ResultReason::GENERAL_FAILURE.name().unwrap();
        assert_eq!(
            e.to_string(),
            format!("the server kmip:5696 refused register: name taken ({reason})")
        );
        let e = KmipError::ReadRefused {
            server: "s".into(),
            count: 2,
            message: "m".into(),
            reason: ResultReason::OPERATION_NOT_SUPPORTED,
        };
        assert!(
            e.to_string()
                .ends_with("(the server predates Read Names: upgrade it)")
        );
    }
}
