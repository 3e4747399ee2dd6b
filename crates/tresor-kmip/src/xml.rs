//! Reader for the KMIP XML encoding, as used by the OASIS KMIP test vectors.
//!
//! Each element is one item: its name is the tag (`<UniqueIdentifier>`, or a hex tag such as
//! `<0x540001>`-style names via `tag="0x..."`), `type` is the item type, and `value` the value.
//! An element without `type` is a Structure. Enumerations and masks are written by name
//! (`value="AES"`, `value="Encrypt Decrypt"`); inside a KMIP 1.x `Attribute` the enumeration
//! of an `AttributeValue` follows from its `AttributeName`, and a KMIP 2.x `AttributeReference`
//! names a tag.
//!
//! The vectors leave values the server chooses as placeholders. [`Placeholders`] fixes them:
//! `$NOW` (plus or minus seconds) becomes [`Placeholders::now`]; a Byte String placeholder
//! such as `$KEY_MATERIAL_0` becomes the bytes of its own text, and Text String placeholders
//! (`$UNIQUE_IDENTIFIER_0`) stay text. So every vector converts deterministically.

use roxmltree::{Document, Node};

use crate::enums::{self, EnumDef};
use crate::error::KmipError;
use crate::tags::Tag;
use crate::ttlv::{ItemType, Ttlv, Value};

/// How to fill in placeholders of the test vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholders {
    /// The value of `$NOW`, seconds since the epoch.
    pub now: i64,
}

impl Default for Placeholders {
    fn default() -> Self {
        // 2020-01-01T00:00:00Z: a fixed time so conversions are reproducible.
        Placeholders { now: 1_577_836_800 }
    }
}

/// Whether a message is a request or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// `<RequestMessage>`.
    Request,
    /// `<ResponseMessage>`.
    Response,
}

/// Reads every `<RequestMessage>` and `<ResponseMessage>` of a test-vector document, in order.
///
/// The document may be a single message or a `<KMIP>` element holding a conversation.
///
/// # Errors
/// [`KmipError::Xml`] naming the element and what is wrong with it.
pub fn parse_messages(xml: &str, ph: &Placeholders) -> Result<Vec<(MessageKind, Ttlv)>, KmipError> {
    let doc = Document::parse(xml).map_err(|e| KmipError::Xml(e.to_string()))?;
    let root = doc.root_element();
    let candidates: Vec<Node<'_, '_>> = if root.tag_name().name() == "KMIP" {
        root.children().filter(Node::is_element).collect()
    } else {
        vec![root]
    };
    candidates
        .into_iter()
        .map(|n| {
            let kind = match n.tag_name().name() {
                "RequestMessage" => MessageKind::Request,
                "ResponseMessage" => MessageKind::Response,
                other => return Err(KmipError::Xml(format!("unexpected element <{other}>"))),
            };
            Ok((kind, element(n, ph)?))
        })
        .collect()
}

/// Converts one element (and its children) to a [`Ttlv`].
///
/// # Errors
/// [`KmipError::Xml`] naming the element and what is wrong with it.
pub fn parse_item(xml: &str, ph: &Placeholders) -> Result<Ttlv, KmipError> {
    let doc = Document::parse(xml).map_err(|e| KmipError::Xml(e.to_string()))?;
    element(doc.root_element(), ph)
}

fn err(n: Node<'_, '_>, what: impl std::fmt::Display) -> KmipError {
    KmipError::Xml(format!(
        "<{}> at byte {}: {what}",
        n.tag_name().name(),
        n.range().start
    ))
}

fn element(n: Node<'_, '_>, ph: &Placeholders) -> Result<Ttlv, KmipError> {
    let name = n.tag_name().name();
    let tag = match n.attribute("tag") {
        Some(hex) => Tag::from_name(hex),
        None => Tag::from_name(name),
    }
    .ok_or_else(|| err(n, "unknown tag"))?;
    let Some(ty) = n.attribute("type") else {
        let items = n
            .children()
            .filter(Node::is_element)
            .map(|c| element(c, ph))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Ttlv::structure(tag, items));
    };
    let ty = ItemType::from_name(ty).ok_or_else(|| err(n, format!("unknown type '{ty}'")))?;
    let text = n.attribute("value").unwrap_or("");
    let value = match ty {
        ItemType::Structure => {
            let items = n
                .children()
                .filter(Node::is_element)
                .map(|c| element(c, ph))
                .collect::<Result<Vec<_>, _>>()?;
            Value::Structure(items)
        }
        ItemType::Integer => {
            let v = match parse_i64(text) {
                Some(v) => i32::try_from(v)
                    .or_else(|_| u32::try_from(v).map(|u| u as i32))
                    .map_err(|_| err(n, "integer out of range"))?,
                None => {
                    let def = enum_def(n, tag).filter(|d| d.mask).ok_or_else(|| {
                        err(
                            n,
                            format!("integer '{text}' is not a number or a known mask"),
                        )
                    })?;
                    def.parse_mask(text)
                        .ok_or_else(|| err(n, format!("unknown {} bits '{text}'", def.name)))?
                        as i32
                }
            };
            Value::Integer(v)
        }
        ItemType::LongInteger => {
            Value::LongInteger(parse_i64(text).ok_or_else(|| err(n, "bad long integer"))?)
        }
        ItemType::BigInteger => {
            Value::BigInteger(big_integer(text).ok_or_else(|| err(n, "bad big integer"))?)
        }
        ItemType::Enumeration => Value::Enumeration(enumeration(n, tag, text)?),
        ItemType::Boolean => Value::Boolean(match text {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(err(n, format!("bad boolean '{text}'"))),
        }),
        ItemType::TextString => Value::TextString(text.to_owned()),
        ItemType::ByteString => Value::ByteString(if text.starts_with('$') {
            text.as_bytes().to_vec()
        } else {
            hex(text).ok_or_else(|| err(n, "bad hex byte string"))?
        }),
        ItemType::DateTime => Value::DateTime(
            date_time(text, ph).ok_or_else(|| err(n, format!("bad date-time '{text}'")))?,
        ),
        ItemType::Interval => Value::Interval(
            parse_i64(text)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| err(n, "bad interval"))?,
        ),
        ItemType::DateTimeExtended => Value::DateTimeExtended(
            parse_i64(text)
                .or_else(|| date_time(text, ph).map(|s| s * 1_000_000))
                .ok_or_else(|| err(n, "bad date-time extended"))?,
        ),
    };
    Ok(Ttlv::new(tag, value))
}

/// The enumeration or mask table for an item: by its tag, or for a 1.x `AttributeValue`, by
/// the sibling `AttributeName`.
fn enum_def(n: Node<'_, '_>, tag: Tag) -> Option<&'static EnumDef> {
    if tag == Tag::ATTRIBUTE_VALUE {
        let name = n
            .parent()?
            .children()
            .find(|c| c.tag_name().name() == "AttributeName")?
            .attribute("value")?;
        return enums::for_tag(Tag::from_attribute_name(name)?);
    }
    enums::for_tag(tag)
}

fn enumeration(n: Node<'_, '_>, tag: Tag, text: &str) -> Result<u32, KmipError> {
    if let Some(h) = text.strip_prefix("0x") {
        return u32::from_str_radix(h, 16).map_err(|_| err(n, "bad hex enumeration"));
    }
    if tag == Tag::ATTRIBUTE_REFERENCE {
        return Tag::from_name(text)
            .map(Tag::value)
            .ok_or_else(|| err(n, format!("unknown attribute reference '{text}'")));
    }
    let def = enum_def(n, tag).ok_or_else(|| err(n, "no enumeration table for this tag"))?;
    def.value_of(text)
        .ok_or_else(|| err(n, format!("unknown {} value '{text}'", def.name)))
}

fn parse_i64(text: &str) -> Option<i64> {
    let t = text.trim();
    match t.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok().map(|u| u as i64),
        None => t.parse().ok(),
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if t.len() % 2 != 0 {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| t.get(i..i + 2).and_then(|s| u8::from_str_radix(s, 16).ok()))
        .collect()
}

/// A hex big integer, sign-extended on the left to a multiple of 8 bytes.
fn big_integer(text: &str) -> Option<Vec<u8>> {
    let t = text.trim().trim_start_matches("0x");
    let t = if t.len() % 2 == 1 {
        format!("0{t}")
    } else {
        t.to_owned()
    };
    let mut b = hex(&t)?;
    if b.is_empty() {
        b.push(0);
    }
    let fill = if b.first().is_some_and(|&x| x & 0x80 != 0) {
        0xFF
    } else {
        0
    };
    let pad = (8 - b.len() % 8) % 8;
    let mut out = vec![fill; pad];
    out.append(&mut b);
    Some(out)
}

/// `$NOW`, `$NOW+N`, `$NOW-N`, or ISO 8601 `YYYY-MM-DDTHH:MM:SS(Z|+HH:MM|-HH:MM)`.
fn date_time(text: &str, ph: &Placeholders) -> Option<i64> {
    if let Some(rest) = text.strip_prefix("$NOW") {
        if rest.is_empty() {
            return Some(ph.now);
        }
        let (sign, num) = rest.split_at(1);
        let n: i64 = num.parse().ok()?;
        return match sign {
            "+" => ph.now.checked_add(n),
            "-" => ph.now.checked_sub(n),
            _ => None,
        };
    }
    if let Some(v) = parse_i64(text) {
        return Some(v);
    }
    let num = |r: std::ops::Range<usize>| text.get(r).and_then(|s| s.parse::<i64>().ok());
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if text.get(4..5) != Some("-") || text.get(10..11) != Some("T") {
        return None;
    }
    let mut rest = text.get(19..)?;
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "" => 0,
        _ => {
            let sign = match rest.get(0..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[path = "xml_test.rs"]
mod tests;
