//! KMIP's JSON encoding of TTLV (the KMIP 2.1 HTTPS/JSON profile), read into the same
//! [`Ttlv`] tree as the binary encoding and written back.
//!
//! Each item is an object `{"tag": T, "type": Y, "value": V}`: `T` is a tag name
//! (`"UniqueIdentifier"`) or a hex number (`"0x42000A"`); `Y` is the item type, omitted for a
//! Structure; `V` is an array of items (Structure), a number or `"0x…"` hex (Integer,
//! LongInteger, Interval, DateTimeExtended), `"0x…"` hex (BigInteger), a name, number or
//! `"0x…"` (Enumeration), `true`/`false` (Boolean), a string (TextString), hex without prefix
//! (ByteString), or an ISO 8601 UTC time or `"0x…"` (DateTime).
//!
//! Reading is bounded by the same [`Limits`] as the binary codec: the text length (checked
//! before parsing), the nesting depth, the number of items and the length of each text or
//! byte string. Writing uses names where the tables know them, so an unknown tag or
//! enumeration value survives a round trip as hex; enumeration names holding an underscore are
//! written as hex too (see [`to_json`]).
//!
//! For Cosmian's client (`ckms`), reading also takes enumeration names without the OASIS
//! underscores (`SHA256` for `SHA_256`) when that names one value, drops Cosmian's
//! `Cascade` Boolean, which no KMIP version defines, and reads its `ExpectedObjectType` as an
//! Object Type field (Destroy checks it).
//!
//! # Examples
//! ```
//! use tresor_kmip::json::{from_json, to_json};
//! use tresor_kmip::{Limits, Tag, Ttlv, Value};
//! let t = from_json(br#"{"tag":"ProtocolVersion","value":[
//!     {"tag":"ProtocolVersionMajor","type":"Integer","value":2},
//!     {"tag":"ProtocolVersionMinor","type":"Integer","value":1}]}"#, &Limits::default())?;
//! assert_eq!(t.find(Tag::PROTOCOL_VERSION_MAJOR).map(|v| &v.value), Some(&Value::Integer(2)));
//! assert_eq!(from_json(to_json(&t).to_string().as_bytes(), &Limits::default())?, t);
//! # Ok::<(), tresor_kmip::json::JsonError>(())
//! ```

use serde_json::{Map, Value as J, json};

use crate::enums;
use crate::tags::Tag;
use crate::ttlv::{Limits, Ttlv, Value};

/// Why a JSON TTLV text was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// The text is longer than [`Limits::max_message`].
    #[error("kmip json: {len} bytes exceed the limit of {max} bytes")]
    TooLarge {
        /// The text's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not JSON.
    #[error("kmip json: not JSON: {0}")]
    Syntax(String),
    /// Nested deeper than [`Limits::max_depth`].
    #[error("kmip json: nested deeper than {0} structures")]
    TooDeep(u8),
    /// More items than [`Limits::max_items`].
    #[error("kmip json: more than {0} items")]
    TooManyItems(u32),
    /// JSON, but not a TTLV item; `at` is the path of tags down to it.
    #[error("kmip json: {at}: {what}")]
    Invalid {
        /// Where: the tags from the top, joined by `/`.
        at: String,
        /// What is wrong.
        what: String,
    },
}

/// Parses one JSON TTLV item (bounded by `limits`).
///
/// # Errors
/// [`JsonError`] naming the limit or the item that is wrong.
pub fn from_json(text: &[u8], limits: &Limits) -> Result<Ttlv, JsonError> {
    let v = parse_value(text, limits)?;
    let mut items = 0u32;
    item(&v, limits, 0, &mut items, "")
}

/// Parses JSON text into a `serde_json::Value` after checking its length and, cheaply, its
/// bracket depth (serde_json's own recursion limit is 128; TTLV's is far lower).
pub(crate) fn parse_value(text: &[u8], limits: &Limits) -> Result<J, JsonError> {
    if text.len() > limits.max_message {
        return Err(JsonError::TooLarge {
            len: text.len(),
            max: limits.max_message,
        });
    }
    // Each TTLV Structure is two JSON levels (object, array): allow that plus the top.
    let max_brackets = usize::from(limits.max_depth) * 2 + 2;
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for &b in text {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max_brackets {
                    return Err(JsonError::TooDeep(limits.max_depth));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    serde_json::from_slice(text).map_err(|e| JsonError::Syntax(e.to_string()))
}

/// Cosmian's vendor tags that no KMIP version defines and that tresor reads as absent: a
/// Boolean `Cascade` in Revoke and Destroy (also revoke/destroy the linked keys; tresor never
/// cascades, so a request asking it to gets the single-object answer).
const IGNORED_EXTENSION_TAGS: &[(&str, &str)] = &[("Cascade", "Boolean")];

/// Cosmian's vendor tags that tresor reads as a KMIP field: `ExpectedObjectType` in a
/// Destroy (the type the object must have, else nothing is destroyed) is read as an Object
/// Type field, which the Destroy payload checks.
const EXTENSION_ALIASES: &[(&str, Tag)] = &[("ExpectedObjectType", Tag::OBJECT_TYPE)];

/// The tag [`EXTENSION_ALIASES`] reads `name` as.
fn extension_alias(name: &str) -> Option<Tag> {
    EXTENSION_ALIASES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, t)| t)
}

/// True for an item of [`IGNORED_EXTENSION_TAGS`] (name and type both match).
fn is_ignored_extension(v: &J) -> bool {
    let (Some(tag), Some(ty)) = (
        v.get("tag").and_then(J::as_str),
        v.get("type").and_then(J::as_str),
    ) else {
        return false;
    };
    IGNORED_EXTENSION_TAGS.contains(&(tag, ty))
}

fn invalid(at: &str, what: impl Into<String>) -> JsonError {
    JsonError::Invalid {
        at: if at.is_empty() {
            "/".to_owned()
        } else {
            at.to_owned()
        },
        what: what.into(),
    }
}

/// The tag of a JSON item's `"tag"` field.
pub(crate) fn tag_of(s: &str) -> Option<Tag> {
    Tag::from_name(s)
}

fn hex_u64(s: &str) -> Option<u64> {
    let h = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    if h.is_empty() || h.len() > 16 {
        return None;
    }
    u64::from_str_radix(h, 16).ok()
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// One item at `depth` (0 for the top).
fn item(v: &J, limits: &Limits, depth: u8, items: &mut u32, at: &str) -> Result<Ttlv, JsonError> {
    *items += 1;
    if *items > limits.max_items {
        return Err(JsonError::TooManyItems(limits.max_items));
    }
    let o = v
        .as_object()
        .ok_or_else(|| invalid(at, "an item must be an object with tag, type and value"))?;
    if let Some(k) = o
        .keys()
        .find(|k| !matches!(k.as_str(), "tag" | "type" | "value"))
    {
        return Err(invalid(
            at,
            format!("unknown field '{k}' (tag, type, value)"),
        ));
    }
    let tag_s = o
        .get("tag")
        .and_then(J::as_str)
        .ok_or_else(|| invalid(at, "'tag' must be a tag name or 0x hex"))?;
    let here = format!("{at}/{tag_s}");
    let tag = tag_of(tag_s)
        .or_else(|| extension_alias(tag_s))
        .ok_or_else(|| invalid(&here, "unknown tag"))?;
    let ty = match o.get("type") {
        None => "Structure",
        Some(J::String(s)) => s.as_str(),
        Some(_) => return Err(invalid(&here, "'type' must be a string")),
    };
    let val = o
        .get("value")
        .ok_or_else(|| invalid(&here, "missing 'value'"))?;
    let bad = |what: &str| invalid(&here, format!("a {ty} value must be {what}"));
    let max_string = limits.max_string as usize;
    let value = match ty {
        "Structure" => {
            if depth + 1 > limits.max_depth {
                return Err(JsonError::TooDeep(limits.max_depth));
            }
            let arr = val.as_array().ok_or_else(|| bad("an array of items"))?;
            let mut out = Vec::with_capacity(arr.len().min(64));
            for c in arr {
                if is_ignored_extension(c) {
                    *items += 1;
                    if *items > limits.max_items {
                        return Err(JsonError::TooManyItems(limits.max_items));
                    }
                    continue;
                }
                out.push(item(c, limits, depth + 1, items, &here)?);
            }
            Value::Structure(out)
        }
        "Integer" => Value::Integer(match val {
            J::Number(n) => n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| bad("a 32-bit integer"))?,
            J::String(s) => match hex_u64(s) {
                Some(h) => u32::try_from(h).map_err(|_| bad("0x and 8 hex digits"))? as i32,
                // Masks may be written as names: "Sign|Verify".
                None => enums::for_tag(tag)
                    .and_then(|d| d.parse_mask(s))
                    .map(|m| m as i32)
                    .ok_or_else(|| bad("a number, 0x hex or mask names"))?,
            },
            _ => return Err(bad("a number or 0x hex")),
        }),
        "LongInteger" => Value::LongInteger(match val {
            J::Number(n) => n.as_i64().ok_or_else(|| bad("a 64-bit integer"))?,
            J::String(s) => hex_u64(s).ok_or_else(|| bad("0x hex"))? as i64,
            _ => return Err(bad("a number or 0x hex")),
        }),
        "BigInteger" => {
            let s = val.as_str().ok_or_else(|| bad("0x hex"))?;
            let h = s
                .strip_prefix("0x")
                .or_else(|| s.strip_prefix("0X"))
                .ok_or_else(|| bad("0x hex"))?;
            let mut b = hex_bytes(h).ok_or_else(|| bad("0x and an even number of hex digits"))?;
            if b.len() > max_string {
                return Err(bad("at most the string limit long"));
            }
            // The wire form is a multiple of 8 bytes: sign-extend on the left.
            let pad = (8 - b.len() % 8) % 8;
            let fill = if b.first().is_some_and(|f| f & 0x80 != 0) {
                0xFF
            } else {
                0
            };
            if b.is_empty() {
                b = vec![0; 8];
            } else if pad > 0 {
                let mut v = vec![fill; pad];
                v.extend_from_slice(&b);
                b = v;
            }
            Value::BigInteger(b)
        }
        "Enumeration" => Value::Enumeration(match val {
            J::Number(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad("a 32-bit unsigned number"))?,
            J::String(s) => match hex_u64(s) {
                Some(h) => u32::try_from(h).map_err(|_| bad("0x and 8 hex digits"))?,
                None => enums::for_tag(tag)
                    .and_then(|d| d.value_of_loose(s))
                    .ok_or_else(|| invalid(&here, format!("unknown enumeration name '{s}'")))?,
            },
            _ => return Err(bad("a name, number or 0x hex")),
        }),
        "Boolean" => Value::Boolean(match val {
            J::Bool(b) => *b,
            J::String(s) => match hex_u64(s) {
                Some(0) => false,
                Some(1) => true,
                _ => return Err(bad("true, false, 0x0 or 0x1")),
            },
            _ => return Err(bad("true or false")),
        }),
        "TextString" => {
            let s = val.as_str().ok_or_else(|| bad("a string"))?;
            if s.len() > max_string {
                return Err(invalid(
                    &here,
                    format!("text longer than {max_string} bytes"),
                ));
            }
            Value::TextString(s.to_owned())
        }
        "ByteString" => {
            let s = val.as_str().ok_or_else(|| bad("hex"))?;
            if s.len() / 2 > max_string {
                return Err(invalid(&here, format!("bytes longer than {max_string}")));
            }
            Value::ByteString(hex_bytes(s).ok_or_else(|| bad("an even number of hex digits"))?)
        }
        "DateTime" => Value::DateTime(match val {
            J::Number(n) => n.as_i64().ok_or_else(|| bad("seconds"))?,
            J::String(s) => match hex_u64(s) {
                Some(h) => h as i64,
                None => parse_time(s).ok_or_else(|| bad("ISO 8601 (2024-01-31T12:00:00Z)"))?,
            },
            _ => return Err(bad("an ISO 8601 time")),
        }),
        "Interval" => Value::Interval(match val {
            J::Number(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad("a 32-bit unsigned number"))?,
            J::String(s) => hex_u64(s)
                .and_then(|h| u32::try_from(h).ok())
                .ok_or_else(|| bad("0x hex"))?,
            _ => return Err(bad("a number")),
        }),
        "DateTimeExtended" => Value::DateTimeExtended(match val {
            J::Number(n) => n.as_i64().ok_or_else(|| bad("microseconds"))?,
            J::String(s) => hex_u64(s).ok_or_else(|| bad("0x hex"))? as i64,
            _ => return Err(bad("a number or 0x hex")),
        }),
        other => return Err(invalid(&here, format!("unknown type '{other}'"))),
    };
    Ok(Ttlv::new(tag, value))
}

/// Writes one item as JSON TTLV.
pub fn to_json(t: &Ttlv) -> J {
    let tag = t
        .tag
        .name()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("0x{:06X}", t.tag.value()));
    let (ty, value) = match &t.value {
        Value::Structure(items) => {
            let mut m = Map::new();
            m.insert("tag".into(), J::String(tag));
            m.insert(
                "value".into(),
                J::Array(items.iter().map(to_json).collect()),
            );
            return J::Object(m);
        }
        Value::Integer(i) => ("Integer", json!(i)),
        Value::LongInteger(i) => ("LongInteger", json!(format!("0x{:016X}", *i as u64))),
        Value::BigInteger(b) => ("BigInteger", json!(format!("0x{}", upper_hex(b)))),
        Value::Enumeration(e) => (
            "Enumeration",
            // Names with an underscore (`SHA_256`, `P_256`, `HMAC_SHA256`) go out as hex, which
            // the profile allows: Cosmian's client, the KMIP JSON client most used, spells
            // them without the underscore and refuses the OASIS name.
            match enums::for_tag(t.tag).and_then(|d| d.name_of(*e)) {
                Some(n) if !n.contains('_') => json!(n),
                _ => json!(format!("0x{e:08X}")),
            },
        ),
        Value::Boolean(b) => ("Boolean", json!(b)),
        Value::TextString(s) => ("TextString", json!(s)),
        Value::ByteString(b) => ("ByteString", json!(upper_hex(b))),
        Value::DateTime(s) => ("DateTime", json!(format_time(*s))),
        Value::Interval(i) => ("Interval", json!(i)),
        Value::DateTimeExtended(u) => ("DateTimeExtended", json!(format!("0x{:016X}", *u as u64))),
    };
    json!({"tag": tag, "type": ty, "value": value})
}

fn upper_hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02X}"));
    }
    s
}

/// Seconds since the epoch as ISO 8601 UTC; times outside years 0..=9999 as 0x hex.
fn format_time(secs: i64) -> String {
    let (y, _, _) = civil_from_days(secs.div_euclid(86_400));
    if !(0..=9999).contains(&y) {
        return format!("0x{:016X}", secs as u64);
    }
    rfc3339(secs).as_str().to_owned()
}

/// `2026-12-06T05:40:01Z` for Unix seconds `t` (proleptic Gregorian, UTC; a year outside
/// 0..=9999 is clamped to it). Written digit by digit into a fixed buffer: the KMIP server's
/// audit stream stamps every audited request with it, and `format!` cost more there than the
/// rest of the line's fields together.
pub(crate) fn rfc3339(t: i64) -> Rfc3339 {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut b = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, v: i64| {
        let mut v = v.clamp(0, 10_i64.pow(width as u32) - 1);
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, secs / 3600);
    put(14, 2, secs % 3600 / 60);
    put(17, 2, secs % 60);
    Rfc3339(b)
}

/// Unix seconds `t` as `2026-12-06T05:40:01Z` (UTC, proleptic Gregorian; a year outside
/// 0..=9999 is clamped to it), the form of KMIP's JSON Date-Time values: how `tresor kmip
/// doctor` prints certificate dates.
///
/// # Examples
/// ```
/// assert_eq!(tresor_kmip::json::unix_to_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
/// ```
pub fn unix_to_rfc3339(t: i64) -> String {
    rfc3339(t).as_str().to_owned()
}

/// A timestamp as [`rfc3339`] writes it: ASCII digits and separators only.
pub(crate) struct Rfc3339([u8; 20]);

impl Rfc3339 {
    pub(crate) fn as_str(&self) -> &str {
        // Every byte is an ASCII digit or one of `-T:Z`.
        std::str::from_utf8(&self.0).unwrap_or("0000-00-00T00:00:00Z")
    }
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian; Howard Hinnant's
/// algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`.
fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b.get(16) != Some(&b':')
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || se > 60
    {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let offset = match s.get(i..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && tz.as_bytes()[3] == b':' => {
            let sign = match tz.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = tz.get(1..3)?.parse().ok()?;
            let om: i64 = tz.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

#[cfg(test)]
#[path = "json_test.rs"]
mod tests;

/// The `kmip_json` fuzz target's entry point: any text [`from_json`] accepts must write back
/// ([`to_json`]) to a text that reads to the same tree, and that tree must survive the
/// binary codec.
///
/// # Panics
/// When one of those round trips does not hold (that is the finding).
#[doc(hidden)]
pub fn fuzz_json(data: &[u8]) {
    let limits = Limits::default();
    let Ok(t) = from_json(data, &limits) else {
        return;
    };
    let text = to_json(&t).to_string();
    let back = from_json(text.as_bytes(), &limits).expect("to_json output reads back");
    assert_eq!(back, t, "JSON round trip");
    let bytes = t.encode();
    if bytes.len() <= limits.max_message {
        assert_eq!(Ttlv::decode(&bytes).expect("binary round trip"), t);
    }
}
