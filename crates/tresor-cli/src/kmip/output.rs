//! Printing responses: `Tag: value` lines (hex for bytes) or JSON with `--json`.

use std::process::ExitCode;

use serde_json::{Value as Json, json};

use tresor_kmip::attributes::{Attribute, AttributeName};
use tresor_kmip::enums;
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::tags::Tag;
use tresor_kmip::ttlv::{Ttlv, Value};

/// Lower-case hex.
pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Prints a payload: JSON, or `Tag: value` lines.
pub(super) fn print_payload(json: bool, item: &ResponseBatchItem) {
    let items = item.payload_items();
    if json {
        let j =
            tresor_kmip::attributes::value_to_store_json(None, &Value::Structure(items.to_vec()));
        println!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
    } else {
        for t in items {
            print_ttlv(t, 0);
        }
    }
}

/// Prints the payload as JSON, or just its Unique Identifier.
pub(super) fn print_uid(json: bool, item: &ResponseBatchItem) {
    if json {
        print_payload(json, item);
    } else if let Some(u) = first_text(item, Tag::UNIQUE_IDENTIFIER) {
        println!("{u}");
    }
}

/// Prints the Validity Indicator of a verify response: exit code 0 if valid, 1 if not.
pub(super) fn print_validity(json: bool, item: &ResponseBatchItem) -> ExitCode {
    let valid = item
        .payload_items()
        .iter()
        .find(|t| t.tag == Tag::VALIDITY_INDICATOR)
        .and_then(Ttlv::as_enumeration)
        == Some(enums::ValidityIndicator::VALID.0);
    if json {
        println!("{}", json!({"valid": valid}));
    } else {
        println!("{}", if valid { "valid" } else { "invalid" });
    }
    if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Prints one item as `Tag: value`, a structure as `Tag:` and its items indented below.
fn print_ttlv(t: &Ttlv, depth: usize) {
    let name = t
        .tag
        .name()
        .map(str::to_owned)
        .unwrap_or_else(|| t.tag.to_string());
    let pad = "  ".repeat(depth);
    match &t.value {
        Value::Structure(items) => {
            // 1.x attributes print as "Name: value".
            if t.tag == Tag::ATTRIBUTE
                && let Ok(a) = Attribute::from_v1(t).or_else(|_| Attribute::from_v2(t))
            {
                println!("{pad}{}: {}", a.name, show_value(a.name_tag(), &a.value));
                return;
            }
            println!("{pad}{name}:");
            for i in items {
                print_ttlv(i, depth + 1);
            }
        }
        v => println!("{pad}{name}: {}", show_value(Some(t.tag), v)),
    }
}

/// One value as text: hex for bytes, enumeration and mask names, JSON for structures.
fn show_value(tag: Option<Tag>, v: &Value) -> String {
    match v {
        Value::Structure(_) => tresor_kmip::attributes::value_to_store_json(tag, v).to_string(),
        Value::ByteString(b) | Value::BigInteger(b) => hex(b),
        Value::TextString(s) => s.clone(),
        other => match tresor_kmip::attributes::value_to_store_json(tag, other) {
            Json::String(s) => s,
            j => j.to_string(),
        },
    }
}

trait NameTag {
    fn name_tag(&self) -> Option<Tag>;
}

impl NameTag for Attribute {
    fn name_tag(&self) -> Option<Tag> {
        match self.name {
            AttributeName::Standard(t) => Some(t),
            AttributeName::Custom { .. } => None,
        }
    }
}

/// The first text item tagged `tag` in a payload.
pub(super) fn first_text(item: &ResponseBatchItem, tag: Tag) -> Option<String> {
    item.payload_items()
        .iter()
        .find(|t| t.tag == tag)
        .and_then(Ttlv::as_text)
        .map(str::to_owned)
}

/// The first byte-string item tagged `tag` in a payload.
pub(super) fn first_bytes(item: &ResponseBatchItem, tag: Tag) -> Option<Vec<u8>> {
    item.payload_items()
        .iter()
        .find(|t| t.tag == tag)
        .and_then(Ttlv::as_bytes)
        .map(<[u8]>::to_vec)
}
