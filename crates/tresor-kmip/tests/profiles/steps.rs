//! The request building blocks the appliance profiles are written in: one client speaking
//! one protocol version, each step asserting the result the appliance needs.
#![allow(dead_code)]

use tresor_kmip::attributes::{Attribute, AttributeName, AttributeSet, Container};
use tresor_kmip::client::KmipClient;
use tresor_kmip::enums::{
    CryptographicAlgorithm, CryptographicUsageMask, KeyFormatType, NameType, ObjectType, Operation,
    ResultReason, ResultStatus, SecretDataType,
};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::payload::register::SecretData;
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

/// A profile's client: which product, which version.
pub struct Appliance {
    pub who: &'static str,
    pub v: ProtocolVersion,
    pub c: KmipClient,
}

/// A text Name attribute.
pub fn name(n: &str) -> Attribute {
    Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING)
}

/// A 1.x custom attribute `x-…` with a text value.
pub fn custom(n: &str, value: &str) -> Attribute {
    Attribute {
        name: AttributeName::Custom {
            vendor: None,
            name: n.to_owned(),
        },
        index: None,
        value: Value::TextString(value.to_owned()),
    }
}

/// A Cryptographic Usage Mask attribute.
pub fn mask(m: CryptographicUsageMask) -> Attribute {
    Attribute::standard(Tag::CRYPTOGRAPHIC_USAGE_MASK, Value::Integer(m.0 as i32))
}

/// A Boolean attribute (Fresh, Sensitive...).
pub fn flag(t: Tag, b: bool) -> Attribute {
    Attribute::standard(t, Value::Boolean(b))
}

impl Appliance {
    /// Sends one operation; returns the batch item whatever its status.
    pub async fn send(&self, op: Operation, payload: Vec<Ttlv>) -> ResponseBatchItem {
        self.c
            .call(op, payload)
            .await
            .unwrap_or_else(|e| panic!("{} (KMIP {}): {op} did not answer: {e}", self.who, self.v))
    }

    /// Sends one operation that must succeed.
    pub async fn must(&self, what: &str, op: Operation, payload: Vec<Ttlv>) -> ResponseBatchItem {
        let item = self.send(op, payload).await;
        assert_eq!(
            item.result_status,
            ResultStatus::SUCCESS,
            "{} (KMIP {}): {what} failed: {:?} {:?}",
            self.who,
            self.v,
            item.result_reason,
            item.result_message
        );
        item
    }

    /// Sends one operation that must fail with `reason`.
    pub async fn refused(
        &self,
        what: &str,
        op: Operation,
        payload: Vec<Ttlv>,
        reason: ResultReason,
    ) {
        let item = self.send(op, payload).await;
        assert_eq!(
            (item.result_status, item.result_reason),
            (ResultStatus::OPERATION_FAILED, Some(reason)),
            "{} (KMIP {}): {what}: {:?}",
            self.who,
            self.v,
            item.result_message
        );
    }

    fn set(&self, attrs: Vec<Attribute>) -> Ttlv {
        AttributeSet {
            attributes: attrs,
            template_names: Vec::new(),
        }
        .to_ttlv(self.v, Container::Template)
    }

    /// Create an AES key of `bits` with `attrs`; returns its identifier.
    pub async fn create_aes(&self, bits: i32, mut attrs: Vec<Attribute>) -> String {
        attrs.push(Attribute::standard(
            Tag::CRYPTOGRAPHIC_ALGORITHM,
            Value::Enumeration(CryptographicAlgorithm::AES.0),
        ));
        attrs.push(Attribute::standard(
            Tag::CRYPTOGRAPHIC_LENGTH,
            Value::Integer(bits),
        ));
        let item = self
            .must(
                "create",
                Operation::CREATE,
                vec![
                    Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
                    self.set(attrs),
                ],
            )
            .await;
        uid_of(&item)
    }

    /// Register a raw AES key.
    pub async fn register_aes(&self, key: &[u8], attrs: Vec<Attribute>) -> String {
        let block = Ttlv::structure(
            Tag::KEY_BLOCK,
            vec![
                Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, KeyFormatType::RAW),
                Ttlv::structure(
                    Tag::KEY_VALUE,
                    vec![Ttlv::bytes(Tag::KEY_MATERIAL, key.to_vec())],
                ),
                Ttlv::enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm::AES),
                Ttlv::integer(Tag::CRYPTOGRAPHIC_LENGTH, (key.len() * 8) as i32),
            ],
        );
        let item = self
            .must(
                "register symmetric key",
                Operation::REGISTER,
                vec![
                    Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
                    self.set(attrs),
                    Ttlv::structure(Tag::SYMMETRIC_KEY, vec![block]),
                ],
            )
            .await;
        uid_of(&item)
    }

    /// Register Secret Data (type Seed, 0x02... here Password 0x01 or Seed 0x02).
    pub async fn register_secret(&self, secret: &[u8], kind: u32, attrs: Vec<Attribute>) -> String {
        let item = self
            .must(
                "register secret data",
                Operation::REGISTER,
                vec![
                    Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SECRET_DATA),
                    self.set(attrs),
                    SecretData::new(SecretDataType(kind), secret.to_vec()).to_ttlv(),
                ],
            )
            .await;
        uid_of(&item)
    }

    /// Get: the object's key material.
    pub async fn material(&self, uid: &str) -> Vec<u8> {
        let item = self
            .must(
                "get",
                Operation::GET,
                vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)],
            )
            .await;
        find_material(item.payload_items())
            .unwrap_or_else(|| panic!("{}: get answered no key material", self.who))
    }

    /// Get Attributes for one standard attribute; its value(s).
    pub async fn attribute(&self, uid: &str, t: Tag) -> Vec<Value> {
        let r = if self.v.is_v2() {
            Ttlv::enumeration(Tag::ATTRIBUTE_REFERENCE, t.value())
        } else {
            Ttlv::text(
                Tag::ATTRIBUTE_NAME,
                t.attribute_name()
                    .expect("a standard attribute")
                    .to_string(),
            )
        };
        let item = self
            .must(
                "get attributes",
                Operation::GET_ATTRIBUTES,
                vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid), r],
            )
            .await;
        values_of(&item, &AttributeName::Standard(t))
    }

    /// Get Attributes for a custom (1.x `x-…`) attribute by name.
    pub async fn custom_attribute(&self, uid: &str, n: &str) -> Vec<Value> {
        let item = self
            .must(
                "get attributes (custom)",
                Operation::GET_ATTRIBUTES,
                vec![
                    Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid),
                    Ttlv::text(Tag::ATTRIBUTE_NAME, n),
                ],
            )
            .await;
        values_of(
            &item,
            &AttributeName::Custom {
                vendor: None,
                name: n.to_owned(),
            },
        )
    }

    /// Get Attributes with no names: the attribute names answered.
    pub async fn all_attribute_names(&self, uid: &str) -> Vec<String> {
        let item = self
            .must(
                "get attributes (all)",
                Operation::GET_ATTRIBUTES,
                vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)],
            )
            .await;
        item.payload_items()
            .iter()
            .filter(|t| t.tag == Tag::ATTRIBUTE)
            .filter_map(|a| a.find(Tag::ATTRIBUTE_NAME).and_then(Ttlv::as_text))
            .map(str::to_owned)
            .collect()
    }

    /// Locate by name (plus optional object type); the identifiers found.
    pub async fn locate_name(&self, n: &str, t: Option<ObjectType>) -> Vec<String> {
        let mut attrs = vec![name(n)];
        if let Some(t) = t {
            attrs.push(Attribute::standard(
                Tag::OBJECT_TYPE,
                Value::Enumeration(t.0),
            ));
        }
        let payload = if self.v.is_v2() {
            vec![self.set(attrs)]
        } else {
            attrs.iter().map(Attribute::to_v1).collect()
        };
        let item = self.must("locate", Operation::LOCATE, payload).await;
        item.payload_items()
            .iter()
            .filter(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
            .filter_map(|t| t.as_text().map(str::to_owned))
            .collect()
    }

    /// Add Attribute (1.x form); the Attribute Index the server assigned.
    pub async fn add_attribute(&self, uid: &str, a: Attribute) -> Option<i32> {
        let item = self
            .must(
                "add attribute",
                Operation::ADD_ATTRIBUTE,
                vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid), a.to_v1()],
            )
            .await;
        item.payload_items()
            .iter()
            .find(|t| t.tag == Tag::ATTRIBUTE)
            .and_then(|a| a.find(Tag::ATTRIBUTE_INDEX))
            .and_then(Ttlv::as_integer)
    }

    /// Activate.
    pub async fn activate(&self, uid: &str) {
        self.must(
            "activate",
            Operation::ACTIVATE,
            vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)],
        )
        .await;
    }

    /// Revoke with reason Cessation Of Operation.
    pub async fn revoke(&self, uid: &str) {
        self.must(
            "revoke",
            Operation::REVOKE,
            vec![
                Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid),
                Ttlv::structure(
                    Tag::REVOCATION_REASON,
                    vec![Ttlv::enumeration(Tag::REVOCATION_REASON_CODE, 5u32)],
                ),
            ],
        )
        .await;
    }

    /// Destroy.
    pub async fn destroy(&self, uid: &str) {
        self.must(
            "destroy",
            Operation::DESTROY,
            vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)],
        )
        .await;
    }
}

/// The payload's Unique Identifier.
pub fn uid_of(item: &ResponseBatchItem) -> String {
    item.payload_items()
        .iter()
        .find(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
        .and_then(Ttlv::as_text)
        .expect("a unique identifier")
        .to_owned()
}

fn find_material(items: &[Ttlv]) -> Option<Vec<u8>> {
    for t in items {
        if t.tag == Tag::KEY_MATERIAL {
            return t.as_bytes().map(<[u8]>::to_vec);
        }
        if let Value::Structure(inner) = &t.value
            && let Some(m) = find_material(inner)
        {
            return Some(m);
        }
    }
    None
}

/// Every value of attribute `n` in a Get Attributes answer (1.x Attribute structures or the
/// 2.x Attributes structure).
pub fn values_of(item: &ResponseBatchItem, n: &AttributeName) -> Vec<Value> {
    let mut out = Vec::new();
    for t in item.payload_items() {
        match t.tag {
            Tag::ATTRIBUTE => {
                if let Ok(a) = Attribute::from_v1(t)
                    && &a.name == n
                {
                    out.push(a.value);
                }
            }
            Tag::ATTRIBUTES => {
                for i in t.items() {
                    if let Ok(a) = Attribute::from_v2(i)
                        && &a.name == n
                    {
                        out.push(a.value);
                    }
                }
            }
            _ => {}
        }
    }
    out
}
