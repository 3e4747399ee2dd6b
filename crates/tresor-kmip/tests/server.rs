//! The KMIP server in-process on 127.0.0.1:0, driven by [`KmipClient`]:
//! `cargo test -p tresor-kmip --test server`.
//!
//! The tests are in `tests/server/`, by concept; the helpers they share are here.
//! - `protocol.rs`: versions, batches, error reasons, malformed messages, runtimes.
//! - `access.rs`: identities from certificates, other identities and grants.
//! - `objects.rs`: the object lifecycle, secret data, Locate.
//! - `crypto.rs`: Encrypt/Decrypt, key pairs, streaming GCM, usage limits, Hash.
//! - `key_cache.rs`: the key cache of the cryptographic operations against other writers.
//! - `key_wrapping.rs`: Get wrapped, Register of a wrapped key block.
//! - `make_objects.rs`: the object-making operations with their typed requests.

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::KmipClient;
use tresor_kmip::enums::{
    BatchErrorContinuationOption, CryptographicAlgorithm, CryptographicUsageMask, NameType,
    ObjectType, Operation,
};
use tresor_kmip::message::{RequestBatchItem, RequestHeader, RequestMessage, ResponseBatchItem};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

mod common;

use common::*;

#[path = "server/access.rs"]
mod access;
#[path = "server/crypto.rs"]
mod crypto;
#[path = "server/key_cache.rs"]
mod key_cache;
#[path = "server/key_wrapping.rs"]
mod key_wrapping;
#[path = "server/make_objects.rs"]
mod make_objects;
#[path = "server/objects.rs"]
mod objects;
#[path = "server/protocol.rs"]
mod protocol;

fn aes_template(v: ProtocolVersion, name: Option<&str>, mask: u32) -> Ttlv {
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
        Value::Integer(mask as i32),
    ));
    if let Some(n) = name {
        set.push(Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING));
    }
    set.to_ttlv(v, Container::Template)
}

fn create_payload(v: ProtocolVersion, name: Option<&str>) -> Vec<Ttlv> {
    let mask = CryptographicUsageMask::ENCRYPT | CryptographicUsageMask::DECRYPT;
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
        aes_template(v, name, mask.0),
    ]
}

async fn create(c: &KmipClient, v: ProtocolVersion, name: Option<&str>) -> String {
    let item = c
        .call(Operation::CREATE, create_payload(v, name))
        .await
        .expect("create");
    ok(&item);
    text(&item, Tag::UNIQUE_IDENTIFIER)
}

async fn state_of(c: &KmipClient, u: &str) -> u32 {
    let item = c
        .call(Operation::GET_ATTRIBUTES, vec![uid(u)])
        .await
        .expect("get attributes");
    ok(&item);
    let attrs: Vec<Attribute> = match item
        .payload_items()
        .iter()
        .find(|t| t.tag == Tag::ATTRIBUTES)
    {
        Some(a) => AttributeSet::from_ttlv(a).expect("attributes").attributes,
        None => item
            .payload_items()
            .iter()
            .filter(|t| t.tag == Tag::ATTRIBUTE)
            .map(|t| Attribute::from_v1(t).expect("attribute"))
            .collect(),
    };
    attrs
        .iter()
        .find(|a| a.name == tresor_kmip::AttributeName::Standard(Tag::STATE))
        .and_then(|a| match a.value {
            Value::Enumeration(e) => Some(e),
            _ => None,
        })
        .expect("state attribute")
}

fn locate_by_name(v: ProtocolVersion, name: &str) -> Vec<Ttlv> {
    let mut set = AttributeSet::default();
    set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
    if v.is_v2() {
        vec![set.to_ttlv(v, Container::Template)]
    } else {
        set.attributes.iter().map(Attribute::to_v1).collect()
    }
}

fn located(item: &ResponseBatchItem) -> Vec<String> {
    item.payload_items()
        .iter()
        .filter(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
        .filter_map(|t| t.as_text().map(str::to_owned))
        .collect()
}

fn batch(
    v: ProtocolVersion,
    option: Option<BatchErrorContinuationOption>,
    items: Vec<RequestBatchItem>,
) -> RequestMessage {
    let mut header = RequestHeader::new(v, items.len() as i32);
    header.batch_error_continuation_option = option;
    RequestMessage {
        header,
        batch_items: items,
    }
}

fn item(op: Operation, payload: Vec<Ttlv>, id: u8) -> RequestBatchItem {
    let mut i = RequestBatchItem::new(op, payload);
    i.unique_batch_item_id = Some(vec![id]);
    i
}
