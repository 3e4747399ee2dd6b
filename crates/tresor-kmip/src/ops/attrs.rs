//! KMIP attributes ⇄ the store's JSON attributes.
//!
//! Every KMIP attribute is kept in the object's attribute map under its KMIP name
//! (`"Cryptographic Algorithm"`), custom ones under their own name (`"x-owner"`, or
//! `"vendor:name"` for 2.x vendor attributes). Enumerations are stored by name (`"AES"`),
//! integers and dates as numbers, structures as objects keyed by field tag name
//! (`{"LinkType": "PublicKeyLink", "LinkedObjectIdentifier": "..."}`). Multi-instance
//! attributes (`Name`, `Link`, `Object Group`...) are arrays. The store indexes scalars,
//! array elements and one level of object fields, so Locate is answered from the index.
//! Values with no natural JSON form (byte strings, long integers, intervals, big integers,
//! custom dates) are objects `{"$t": "<ItemType>", "v": ...}`.

use serde_json::{Map, Value as Json, json};

use crate::attributes::{Attribute, AttributeName};
use crate::enums;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// Attributes that may have several instances; stored as arrays.
pub(crate) const MULTI: &[Tag] = &[
    Tag::NAME,
    Tag::OBJECT_GROUP,
    Tag::APPLICATION_SPECIFIC_INFORMATION,
    Tag::LINK,
    Tag::ALTERNATIVE_NAME,
    Tag::KEY_VALUE_LOCATION,
    Tag::CRYPTOGRAPHIC_PARAMETERS,
    Tag::CRYPTOGRAPHIC_DOMAIN_PARAMETERS,
    Tag::DIGEST,
    Tag::X_509_CERTIFICATE_IDENTIFIER,
];

/// Attributes only the server sets.
pub(crate) const READ_ONLY: &[Tag] = &[
    Tag::UNIQUE_IDENTIFIER,
    Tag::OBJECT_TYPE,
    Tag::CRYPTOGRAPHIC_ALGORITHM,
    Tag::CRYPTOGRAPHIC_LENGTH,
    Tag::STATE,
    Tag::INITIAL_DATE,
    Tag::LAST_CHANGE_DATE,
    Tag::DIGEST,
    Tag::DESTROY_DATE,
    Tag::COMPROMISE_DATE,
    Tag::COMPROMISE_OCCURRENCE_DATE,
    Tag::REVOCATION_REASON,
    Tag::ORIGINAL_CREATION_DATE,
    Tag::KEY_FORMAT_TYPE,
    Tag::ALWAYS_SENSITIVE,
    Tag::NEVER_EXTRACTABLE,
    Tag::FRESH,
    // Derived from a registered certificate (`certificate.rs`).
    Tag::CERTIFICATE_TYPE,
    Tag::CERTIFICATE_LENGTH,
    Tag::X_509_CERTIFICATE_IDENTIFIER,
    Tag::X_509_CERTIFICATE_SUBJECT,
    Tag::X_509_CERTIFICATE_ISSUER,
    Tag::CERTIFICATE_IDENTIFIER,
    Tag::CERTIFICATE_SUBJECT,
    Tag::CERTIFICATE_ISSUER,
    Tag::DIGITAL_SIGNATURE_ALGORITHM,
    Tag::CERTIFICATE_SUBJECT_CN,
    Tag::CERTIFICATE_SUBJECT_O,
    Tag::CERTIFICATE_SUBJECT_OU,
    Tag::CERTIFICATE_SUBJECT_EMAIL,
    Tag::CERTIFICATE_SUBJECT_C,
    Tag::CERTIFICATE_SUBJECT_ST,
    Tag::CERTIFICATE_SUBJECT_L,
    Tag::CERTIFICATE_SUBJECT_UID,
    Tag::CERTIFICATE_SUBJECT_SERIAL_NUMBER,
    Tag::CERTIFICATE_SUBJECT_TITLE,
    Tag::CERTIFICATE_SUBJECT_DC,
    Tag::CERTIFICATE_SUBJECT_DN_QUALIFIER,
    Tag::CERTIFICATE_ISSUER_CN,
    Tag::CERTIFICATE_ISSUER_O,
    Tag::CERTIFICATE_ISSUER_OU,
    Tag::CERTIFICATE_ISSUER_EMAIL,
    Tag::CERTIFICATE_ISSUER_C,
    Tag::CERTIFICATE_ISSUER_ST,
    Tag::CERTIFICATE_ISSUER_L,
    Tag::CERTIFICATE_ISSUER_UID,
    Tag::CERTIFICATE_ISSUER_SERIAL_NUMBER,
    Tag::CERTIFICATE_ISSUER_TITLE,
    Tag::CERTIFICATE_ISSUER_DC,
    Tag::CERTIFICATE_ISSUER_DN_QUALIFIER,
];

/// Returns true if and only if attribute `tag` may have several instances.
pub(crate) fn is_multi(name: &AttributeName) -> bool {
    match name {
        AttributeName::Standard(t) => MULTI.contains(t),
        AttributeName::Custom { .. } => true,
    }
}

/// The key an attribute is stored under.
pub(crate) fn key_of(name: &AttributeName) -> String {
    match name {
        AttributeName::Standard(t) => t.attribute_name().unwrap_or_else(|| t.to_string()),
        AttributeName::Custom { vendor: None, name } => name.clone(),
        AttributeName::Custom {
            vendor: Some(v),
            name,
        } => format!("{v}:{name}"),
    }
}

/// The attribute a stored key names, if it is a KMIP attribute (tresor's own keys such as
/// `tresor.role` or `app` are not).
pub(crate) fn name_of_key(key: &str) -> Option<AttributeName> {
    if key.starts_with("x-") || key.starts_with("y-") {
        return Some(AttributeName::Custom {
            vendor: None,
            name: key.to_owned(),
        });
    }
    if let Some(t) = Tag::from_attribute_name(key) {
        return Some(AttributeName::Standard(t));
    }
    match key.split_once(':') {
        Some((v, n)) if !v.is_empty() && !n.is_empty() && !v.contains('.') => {
            Some(AttributeName::Custom {
                vendor: Some(v.to_owned()),
                name: n.to_owned(),
            })
        }
        _ => None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn is_date_tag(tag: Option<Tag>) -> bool {
    tag.and_then(Tag::name)
        .is_some_and(|n| n.contains("Date") || n == "TimeStamp")
}

/// Converts a TTLV value to JSON; `tag` (when standard) picks enumeration names.
pub(crate) fn to_json(tag: Option<Tag>, v: &Value) -> Json {
    let typed = |t: &str, v: Json| json!({"$t": t, "v": v});
    match v {
        Value::Integer(i) => json!(i),
        Value::LongInteger(i) => typed("LongInteger", json!(i)),
        Value::BigInteger(b) => typed("BigInteger", json!(hex(b))),
        Value::Enumeration(e) => match tag.and_then(enums::for_tag).and_then(|d| d.name_of(*e)) {
            Some(n) => json!(n),
            None => json!(e),
        },
        Value::Boolean(b) => json!(b),
        Value::TextString(s) => json!(s),
        Value::ByteString(b) => typed("ByteString", json!(hex(b))),
        Value::DateTime(d) if is_date_tag(tag) => json!(d),
        Value::DateTime(d) => typed("DateTime", json!(d)),
        Value::Interval(i) => typed("Interval", json!(i)),
        Value::DateTimeExtended(d) => typed("DateTimeExtended", json!(d)),
        Value::Structure(items) => {
            let mut m = Map::new();
            for it in items {
                let k = it
                    .tag
                    .name()
                    .map(str::to_owned)
                    .unwrap_or_else(|| it.tag.to_string());
                let j = to_json(Some(it.tag), &it.value);
                match m.get_mut(&k) {
                    Some(Json::Array(a)) => a.push(j),
                    Some(prev) => {
                        let p = prev.take();
                        *prev = Json::Array(vec![p, j]);
                    }
                    None => {
                        m.insert(k, j);
                    }
                }
            }
            Json::Object(m)
        }
    }
}

/// Converts JSON back to a TTLV value for attribute or field `tag`.
pub(crate) fn from_json(tag: Option<Tag>, j: &Json) -> Option<Value> {
    Some(match j {
        Json::Bool(b) => Value::Boolean(*b),
        Json::String(s) => match tag.and_then(enums::for_tag) {
            // Loose: a name stored by an older tresor (`SEED`) still reads.
            Some(d) if !d.mask => Value::Enumeration(d.value_of_loose(s)?),
            _ => Value::TextString(s.clone()),
        },
        Json::Number(n) => {
            let i = n.as_i64()?;
            if is_date_tag(tag) {
                Value::DateTime(i)
            } else if tag.and_then(enums::for_tag).is_some_and(|d| !d.mask) {
                Value::Enumeration(u32::try_from(i).ok()?)
            } else {
                Value::Integer(i32::try_from(i).ok()?)
            }
        }
        Json::Object(m) if m.contains_key("$t") => {
            let v = m.get("v")?;
            match m.get("$t")?.as_str()? {
                "LongInteger" => Value::LongInteger(v.as_i64()?),
                "BigInteger" => Value::BigInteger(unhex(v.as_str()?)?),
                "ByteString" => Value::ByteString(unhex(v.as_str()?)?),
                "DateTime" => Value::DateTime(v.as_i64()?),
                "Interval" => Value::Interval(u32::try_from(v.as_i64()?).ok()?),
                "DateTimeExtended" => Value::DateTimeExtended(v.as_i64()?),
                _ => return None,
            }
        }
        Json::Object(m) => {
            let mut items = Vec::new();
            for (k, v) in m {
                let t = Tag::from_name(k)?;
                match v {
                    Json::Array(a) => {
                        for x in a {
                            items.push(Ttlv::new(t, from_json(Some(t), x)?));
                        }
                    }
                    _ => items.push(Ttlv::new(t, from_json(Some(t), v)?)),
                }
            }
            // Keep spec field order where the tag numbers give it.
            items.sort_by_key(|i| field_rank(tag, i.tag));
            Value::Structure(items)
        }
        Json::Array(_) | Json::Null => return None,
    })
}

/// Orders known structure fields as the spec does; others by tag number.
fn field_rank(parent: Option<Tag>, t: Tag) -> u32 {
    let order: &[Tag] = match parent {
        Some(Tag::NAME) => &[Tag::NAME_VALUE, Tag::NAME_TYPE],
        Some(Tag::LINK) => &[Tag::LINK_TYPE, Tag::LINKED_OBJECT_IDENTIFIER],
        Some(Tag::APPLICATION_SPECIFIC_INFORMATION) => {
            &[Tag::APPLICATION_NAMESPACE, Tag::APPLICATION_DATA]
        }
        Some(Tag::DIGEST) => &[
            Tag::HASHING_ALGORITHM,
            Tag::DIGEST_VALUE,
            Tag::KEY_FORMAT_TYPE,
        ],
        Some(Tag::REVOCATION_REASON) => &[Tag::REVOCATION_REASON_CODE, Tag::REVOCATION_MESSAGE],
        _ => &[],
    };
    match order.iter().position(|&x| x == t) {
        Some(p) => p as u32,
        None => 0x100 + t.value(),
    }
}

/// The JSON stored for one attribute value. Names of type "Uninterpreted Text String" are
/// plain strings, so Locate by name is one index lookup.
pub(crate) fn attr_to_json(a: &Attribute) -> Json {
    if a.name == AttributeName::Standard(Tag::NAME)
        && let Value::Structure(items) = &a.value
    {
        let value = items
            .iter()
            .find(|i| i.tag == Tag::NAME_VALUE)
            .and_then(Ttlv::as_text);
        let ty = items
            .iter()
            .find(|i| i.tag == Tag::NAME_TYPE)
            .and_then(Ttlv::as_enumeration);
        if let (Some(v), None | Some(1)) = (value, ty) {
            return json!(v);
        }
    }
    let tag = match &a.name {
        AttributeName::Standard(t) => Some(*t),
        AttributeName::Custom { .. } => None,
    };
    to_json(tag, &a.value)
}

/// The attribute values stored under `key` (one per instance).
pub(crate) fn attrs_from_json(key: &str, j: &Json) -> Vec<Attribute> {
    let Some(name) = name_of_key(key) else {
        return Vec::new();
    };
    let tag = match &name {
        AttributeName::Standard(t) => Some(*t),
        AttributeName::Custom { .. } => None,
    };
    let one = |x: &Json| -> Option<Attribute> {
        let value = match (tag, x) {
            (Some(Tag::NAME), Json::String(s)) => Value::Structure(vec![
                Ttlv::text(Tag::NAME_VALUE, s.clone()),
                Ttlv::enumeration(Tag::NAME_TYPE, 1u32),
            ]),
            _ => from_json(tag, x)?,
        };
        Some(Attribute {
            name: name.clone(),
            index: None,
            value,
        })
    };
    match j {
        Json::Array(a) => a.iter().filter_map(one).collect(),
        x => one(x).into_iter().collect(),
    }
}

/// The index values a stored JSON value is found under, as [`tresor_store::AttrCond`] pairs
/// (`("Link.LinkType", "PublicKeyLink")`).
pub(crate) fn index_pairs(key: &str, j: &Json) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let scalar = |v: &Json| match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match j {
        Json::Object(m) => {
            for (k, v) in m {
                if let Some(s) = scalar(v) {
                    out.push((format!("{key}.{k}"), s));
                }
            }
        }
        other => {
            if let Some(s) = scalar(other) {
                out.push((key.to_owned(), s));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::{CryptographicAlgorithm, LinkType};

    #[test]
    fn enumerations_are_names() {
        let a = Attribute::standard(
            Tag::CRYPTOGRAPHIC_ALGORITHM,
            Value::Enumeration(CryptographicAlgorithm::AES.0),
        );
        let j = attr_to_json(&a);
        assert_eq!(j, json!("AES"));
        assert_eq!(attrs_from_json("Cryptographic Algorithm", &j), vec![a]);
    }

    #[test]
    fn structures_round_trip() {
        let a = Attribute::standard(
            Tag::LINK,
            Value::Structure(vec![
                Ttlv::enumeration(Tag::LINK_TYPE, LinkType::PUBLIC_KEY_LINK),
                Ttlv::text(Tag::LINKED_OBJECT_IDENTIFIER, "u1"),
            ]),
        );
        let j = attr_to_json(&a);
        assert_eq!(j["LinkType"], json!("PublicKeyLink"));
        assert_eq!(attrs_from_json("Link", &json!([j.clone()])), vec![a]);
        assert!(
            index_pairs("Link", &j).contains(&("Link.LinkType".into(), "PublicKeyLink".into()))
        );
    }

    #[test]
    fn names_dates_and_bytes() {
        let n = Attribute::name("k1", crate::enums::NameType::UNINTERPRETED_TEXT_STRING);
        assert_eq!(attr_to_json(&n), json!("k1"));
        assert_eq!(attrs_from_json("Name", &json!(["k1"])), vec![n]);
        let d = Attribute::standard(Tag::ACTIVATION_DATE, Value::DateTime(1_700_000_000));
        assert_eq!(attr_to_json(&d), json!(1_700_000_000));
        assert_eq!(
            attrs_from_json("Activation Date", &json!(1_700_000_000)),
            vec![d]
        );
        let x = Attribute {
            name: AttributeName::Custom {
                vendor: None,
                name: "x-blob".into(),
            },
            index: None,
            value: Value::ByteString(vec![1, 2, 255]),
        };
        let j = attr_to_json(&x);
        assert_eq!(attrs_from_json("x-blob", &j), vec![x]);
        assert!(attrs_from_json(tresor_store::secret_name::ROLE, &json!("secret")).is_empty());
        assert!(name_of_key("app").is_none());
    }
}
