//! KMIP request payloads and response readers that several test targets send and read
//! (KMIP 1.4 attribute templates, as tresor's own tests use them).

use std::path::Path;
use std::time::Duration;
use tresor_kmip::attributes::{Attribute, AttributeSet};
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, NameType, ObjectType, SecretDataType,
};
use tresor_kmip::payload::Payload;
use tresor_kmip::payload::create::CreateRequest;
use tresor_kmip::payload::register::{RegisterRequest, SecretData};

use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{Operation, ResultStatus};
use tresor_kmip::message::{RequestBatchItem, RequestHeader, ResponseBatchItem};
use tresor_kmip::{KmipError, ProtocolVersion, RequestMessage, Tag, Ttlv, Value};

/// The protocol version of the templates built here.
pub const V: ProtocolVersion = ProtocolVersion::V1_4;

/// A Unique Identifier field.
pub fn uid(u: &str) -> Ttlv {
    Ttlv::text(Tag::UNIQUE_IDENTIFIER, u)
}

/// The Unique Identifier of a response (panics if it has none).
pub fn uid_of(item: &ResponseBatchItem) -> String {
    item.payload
        .as_ref()
        .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
        .and_then(Ttlv::as_text)
        .expect("unique identifier")
        .to_owned()
}

/// Create payload: an AES-256 key (Encrypt|Decrypt) named `name` (pre-active, so Destroy
/// needs no Revoke).
pub fn create_payload(name: &str) -> Vec<Ttlv> {
    aes_create(Some(name))
}

/// Create payload: an AES-256 key (Encrypt|Decrypt) without a name, built with the typed
/// [`CreateRequest`] the server parses.
pub fn create_unnamed_payload() -> Vec<Ttlv> {
    aes_create(None)
}

fn aes_create(name: Option<&str>) -> Vec<Ttlv> {
    let mut set = AttributeSet::default();
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::AES.0),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(256),
    ));
    let mask = CryptographicUsageMask::ENCRYPT | CryptographicUsageMask::DECRYPT;
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_USAGE_MASK,
        Value::Integer(i32::try_from(mask.0).unwrap()),
    ));
    if let Some(name) = name {
        set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
    }
    CreateRequest::new(ObjectType::SYMMETRIC_KEY, set).to_items(V)
}

/// Register payload: Secret Data (type Password, opaque key material `secret`) named `name`,
/// built with the typed [`RegisterRequest`] the server parses.
pub fn register_secret_payload(name: &str, secret: &[u8]) -> Vec<Ttlv> {
    let mut set = AttributeSet::default();
    set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
    let data = SecretData::new(SecretDataType::PASSWORD, secret.to_vec());
    RegisterRequest::secret_data(&data, set).to_items(V)
}

/// Appends every byte string under `t` to `out` (key material wherever the key format puts
/// it).
pub fn byte_strings(t: &Ttlv, out: &mut Vec<Vec<u8>>) {
    match &t.value {
        Value::ByteString(b) => out.push(b.clone()),
        Value::Structure(items) => items.iter().for_each(|i| byte_strings(i, out)),
        _ => {}
    }
}

/// tresor's KMIP client on a current-thread runtime, for plain test threads.
pub struct Client {
    rt: tokio::runtime::Runtime,
    c: KmipClient,
}

impl Client {
    /// A client with `dir`'s `cert.crt`/`cert.key`, trusting `dir`'s `ca.crt`, speaking
    /// `version` to `127.0.0.1:port`; 5 s to connect, `request_timeout` per request.
    ///
    /// # Errors
    /// [`KmipError`] if the certificate files cannot be used.
    pub fn new(
        dir: &Path,
        cert: &str,
        port: u16,
        version: ProtocolVersion,
        request_timeout: Duration,
    ) -> Result<Client, KmipError> {
        let mut cfg = ClientConfig::new(
            "127.0.0.1",
            dir.join(format!("{cert}.crt")),
            dir.join(format!("{cert}.key")),
            dir.join("ca.crt"),
        );
        cfg.port = port;
        cfg.protocol_version = version;
        cfg.connect_timeout = Duration::from_secs(5);
        cfg.request_timeout = request_timeout;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime");
        Ok(Client {
            rt,
            c: KmipClient::new(cfg)?,
        })
    }

    /// One operation.
    ///
    /// # Errors
    /// The client's transport or decoding error.
    pub fn call(&self, op: Operation, payload: Vec<Ttlv>) -> Result<ResponseBatchItem, KmipError> {
        self.rt.block_on(self.c.call(op, payload))
    }

    /// An operation that must succeed (panics otherwise, naming the reason).
    pub fn ok(&self, op: Operation, payload: Vec<Ttlv>) -> ResponseBatchItem {
        let item = self.call(op, payload).expect("transport");
        assert_eq!(
            item.result_status,
            ResultStatus::SUCCESS,
            "{op}: {:?} {:?}",
            item.result_reason,
            item.result_message
        );
        item
    }

    /// `items` in one request message of version `v` (panics on a transport error).
    pub fn batch(
        &self,
        items: Vec<RequestBatchItem>,
        v: ProtocolVersion,
    ) -> Vec<ResponseBatchItem> {
        let n = i32::try_from(items.len()).expect("batch size");
        let msg = RequestMessage {
            header: RequestHeader::new(v, n),
            batch_items: items,
        };
        self.rt
            .block_on(self.c.request(&msg))
            .expect("batch")
            .batch_items
    }
}

#[cfg(test)]
mod tests {
    use tresor_kmip::attributes::Container;
    use tresor_kmip::enums::KeyFormatType;

    use super::*;

    /// The payload this module built by hand before the typed request existed.
    fn by_hand(name: &str, secret: &[u8]) -> Vec<Ttlv> {
        let obj = Ttlv::structure(
            Tag::SECRET_DATA,
            vec![
                Ttlv::enumeration(Tag::SECRET_DATA_TYPE, 1u32),
                Ttlv::structure(
                    Tag::KEY_BLOCK,
                    vec![
                        Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, KeyFormatType::OPAQUE),
                        Ttlv::structure(
                            Tag::KEY_VALUE,
                            vec![Ttlv::bytes(Tag::KEY_MATERIAL, secret.to_vec())],
                        ),
                    ],
                ),
            ],
        );
        let mut set = AttributeSet::default();
        set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
        vec![
            Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SECRET_DATA),
            set.to_ttlv(V, Container::Template),
            obj,
        ]
    }

    /// The Create payload as this module built it by hand.
    #[test]
    fn create_payload_is_the_hand_built_one() {
        let mut set = AttributeSet::default();
        set.push(Attribute::standard(
            Tag::CRYPTOGRAPHIC_ALGORITHM,
            Value::Enumeration(CryptographicAlgorithm::AES.0),
        ));
        set.push(Attribute::standard(
            Tag::CRYPTOGRAPHIC_LENGTH,
            Value::Integer(256),
        ));
        set.push(Attribute::standard(
            Tag::CRYPTOGRAPHIC_USAGE_MASK,
            Value::Integer(12),
        ));
        let unnamed = vec![
            Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
            set.to_ttlv(V, Container::Template),
        ];
        assert_eq!(create_unnamed_payload(), unnamed);
        set.push(Attribute::name("k", NameType::UNINTERPRETED_TEXT_STRING));
        let named = vec![
            Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
            set.to_ttlv(V, Container::Template),
        ];
        assert_eq!(create_payload("k"), named);
    }

    #[test]
    fn register_secret_payload_is_the_hand_built_one() {
        assert_eq!(
            register_secret_payload("app:dev:DB", b"s3cret"),
            by_hand("app:dev:DB", b"s3cret")
        );
    }
}
