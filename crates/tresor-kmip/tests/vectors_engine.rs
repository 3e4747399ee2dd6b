//! The replay engine of the OASIS KMIP test-vector harness: loading a vector file, putting
//! the server's own values into later requests, and comparing a response with the expected
//! one.
//!
//! What a server may choose itself, and so is not compared literally:
//! - Text placeholders (`$UNIQUE_IDENTIFIER_0`, `$CORRELATION_VALUE`) and Byte String
//!   placeholders (`$IV_COUNTER_NONCE`, `$DATA_0`): the first response that holds one binds it
//!   to the server's value; later responses must repeat that value, and later requests carry it.
//! - Date-Times written as `$NOW±N`: any value within [`NOW_TOLERANCE`] seconds.
//! - Random bytes: in a batch item about an object the server generated (Create,
//!   CreateKeyPair, ReKey...), a RNGRetrieve, or an Encrypt where the server chose the IV, Byte
//!   Strings and Big Integers need only the same type and length (key material, digests,
//!   cipher text).
//!   A request placeholder that no response bound (CS-BC-M-13-14 writes the reference
//!   server's random IV literally) takes the last random value received under its tag.
//! - The response header's TimeStamp and correlation values, and the text of a ResultMessage
//!   (present when expected, but free text).
//! - The payload of a successful Query (the server's self-description).
//! - A Located Items count in a Locate response (optional since KMIP 1.3; the vectors omit it).
//! - The content of the Random Number Generator attribute (the server's own RNG).
//! - Order of attributes: 1.x `Attribute` lists, 2.x `Attributes` structures, and runs of
//!   `UniqueIdentifier` / `AttributeReference` / `AttributeName` compare as multisets. When a
//!   GetAttributes request names no attribute, the server may return more than expected.
//!
//! Everything else (tags, types, Result Status / Reason, Operation, Unique Batch Item ID,
//! enumerations, integers, literal dates, literal bytes) must be equal.
//!
//! The comparison is in `vectors_engine/compare.rs`, the engine's own tests in
//! `vectors_engine/tests.rs`.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use tresor_kmip::xml::{self, MessageKind, Placeholders};
use tresor_kmip::{Tag, Ttlv, Value};

/// How far (seconds) a `$NOW`-derived date may be from the expected one.
pub const NOW_TOLERANCE: i64 = 600;

/// The offset used to find which Date-Times of a vector come from `$NOW`.
const SHIFT: i64 = 10_000_000;

/// One request with its expected response.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request as written in the vector (placeholders not yet filled).
    pub request: Ttlv,
    /// The expected response, `$NOW` = the load time.
    pub expected: Ttlv,
    /// The expected response parsed with `$NOW` shifted: where it differs from `expected`,
    /// the value is `$NOW`-derived.
    pub shifted: Ttlv,
}

/// A vector file: its conversation.
#[derive(Debug, Clone)]
pub struct VectorFile {
    /// Path of the XML file.
    pub path: PathBuf,
    /// File name without `.xml`, e.g. `SKLC-M-1-14`.
    pub name: String,
    /// `v1.4` or `v2.1`.
    pub version: String,
    /// `mandatory` or `optional`.
    pub kind: String,
    /// Request/response pairs in order.
    pub exchanges: Vec<Exchange>,
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Loads one vector file with `$NOW` = `now`.
///
/// # Errors
/// A message naming the file when it cannot be read or parsed, or requests and responses do
/// not alternate.
pub fn load(path: &Path, now: i64) -> Result<VectorFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let a = xml::parse_messages(&text, &Placeholders { now })
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let b = xml::parse_messages(&text, &Placeholders { now: now + SHIFT })
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut exchanges = Vec::new();
    let mut it = a.into_iter().zip(b);
    while let Some(((k1, request), _)) = it.next() {
        let Some(((k2, expected), (_, shifted))) = it.next() else {
            return Err(format!("{}: request without response", path.display()));
        };
        if k1 != MessageKind::Request || k2 != MessageKind::Response {
            return Err(format!(
                "{}: messages do not alternate request/response",
                path.display()
            ));
        }
        exchanges.push(Exchange {
            request,
            expected,
            shifted,
        });
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = |p: Option<&Path>| {
        p.and_then(Path::file_name)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let kind = parent(path.parent());
    let version = parent(path.parent().and_then(Path::parent));
    Ok(VectorFile {
        path: path.to_owned(),
        name,
        version,
        kind,
        exchanges,
    })
}

/// The first difference between an expected and a received response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Where, e.g. `BatchItem[0]/ResponsePayload/Attribute[2]/AttributeValue`.
    pub path: String,
    /// The expected item, shortened.
    pub expected: String,
    /// The received item, shortened.
    pub got: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.path, self.expected, self.got
        )
    }
}

/// Values the server chose, learned while replaying one file.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    text: HashMap<String, String>,
    bytes: HashMap<Vec<u8>, Vec<u8>>,
    /// The last server-chosen (random) Byte String seen under each tag.
    random_by_tag: HashMap<u32, Vec<u8>>,
}

/// The state of one replay: bindings and what the server generated.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// Placeholder values.
    pub bindings: Bindings,
    /// Unique identifiers of objects the server generated (random material).
    pub generated: HashSet<String>,
}

fn is_placeholder_str(s: &str) -> bool {
    s.strip_prefix('$').is_some_and(|r| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    })
}

fn placeholder_bytes(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b)
        .ok()
        .filter(|s| is_placeholder_str(s))
}

/// Display name of a tag.
fn tag_name(t: Tag) -> String {
    t.name().map_or_else(|| t.to_string(), str::to_owned)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A short one-line rendering of an item for reports.
pub fn show(t: &Ttlv) -> String {
    let mut s = String::new();
    render(t, &mut s);
    if s.len() > 160 {
        let mut cut = 157;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// The whole item on one line, for traces.
pub fn show_full(t: &Ttlv) -> String {
    let mut s = String::new();
    render(t, &mut s);
    s
}

fn render(t: &Ttlv, out: &mut String) {
    out.push_str(&tag_name(t.tag));
    match &t.value {
        Value::Structure(items) => {
            out.push('{');
            for (i, c) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                render(c, out);
            }
            out.push('}');
        }
        Value::Integer(v) => out.push_str(&format!("={v}")),
        Value::LongInteger(v) => out.push_str(&format!("={v}L")),
        Value::BigInteger(b) => out.push_str(&format!("=0x{}", hex(b))),
        Value::Enumeration(v) => {
            match tresor_kmip::enums::for_tag(t.tag).and_then(|d| d.name_of(*v)) {
                Some(n) => out.push_str(&format!("={n}")),
                None => out.push_str(&format!("=0x{v:08x}")),
            }
        }
        Value::Boolean(b) => out.push_str(&format!("={b}")),
        Value::TextString(s) => out.push_str(&format!("={s:?}")),
        Value::ByteString(b) => match placeholder_bytes(b) {
            Some(p) => out.push_str(&format!("={p}")),
            None => out.push_str(&format!("=h'{}'", hex(b))),
        },
        Value::DateTime(v) => out.push_str(&format!("=@{v}")),
        Value::Interval(v) => out.push_str(&format!("={v}s")),
        Value::DateTimeExtended(v) => out.push_str(&format!("=@{v}us")),
    }
}

#[path = "vectors_engine/compare.rs"]
mod compare;

#[cfg(test)]
#[path = "vectors_engine/tests.rs"]
mod engine_tests;

impl Session {
    /// A request with every bound placeholder replaced by the server's value.
    pub fn prepare(&self, request: &Ttlv) -> Ttlv {
        let value = match &request.value {
            Value::Structure(items) => {
                Value::Structure(items.iter().map(|c| self.prepare(c)).collect())
            }
            Value::TextString(s) => match self.bindings.text.get(s) {
                Some(v) => Value::TextString(v.clone()),
                None => Value::TextString(s.clone()),
            },
            Value::ByteString(b) => match self.bindings.bytes.get(b) {
                Some(v) => Value::ByteString(v.clone()),
                // A placeholder no response bound: the vector wrote the reference server's
                // random value literally (CS-BC-M-13-14); use ours for the same tag.
                None => match self.bindings.random_by_tag.get(&request.tag.value()) {
                    Some(v) if placeholder_bytes(b).is_some() => Value::ByteString(v.clone()),
                    _ => Value::ByteString(b.clone()),
                },
            },
            other => other.clone(),
        };
        Ttlv::new(request.tag, value)
    }

    /// Compares a received response with the expected one, learning the server's values.
    ///
    /// `request` is the request as sent (after [`Session::prepare`]).
    ///
    /// # Errors
    /// The first [`Mismatch`].
    pub fn check(
        &mut self,
        request: &Ttlv,
        expected: &Ttlv,
        shifted: &Ttlv,
        got: &Ttlv,
    ) -> Result<(), Mismatch> {
        let mism = |path: &str, e: String, g: String| Mismatch {
            path: path.to_owned(),
            expected: e,
            got: g,
        };
        if got.tag != Tag::RESPONSE_MESSAGE {
            return Err(mism("", show(expected), show(got)));
        }
        // Header: protocol version and batch count.
        let (Some(eh), Some(gh)) = (
            expected.find(Tag::RESPONSE_HEADER),
            got.find(Tag::RESPONSE_HEADER),
        ) else {
            return Err(mism("ResponseHeader", show(expected), show(got)));
        };
        for tag in [Tag::PROTOCOL_VERSION, Tag::BATCH_COUNT] {
            let e = eh.find(tag);
            let g = gh.find(tag);
            if e != g {
                return Err(mism(
                    &format!("ResponseHeader/{}", tag_name(tag)),
                    e.map_or("nothing".into(), show),
                    g.map_or("nothing".into(), show),
                ));
            }
        }
        let req_items: Vec<&Ttlv> = request.find_all(Tag::BATCH_ITEM).collect();
        let exp_items: Vec<&Ttlv> = expected.find_all(Tag::BATCH_ITEM).collect();
        let shf_items: Vec<&Ttlv> = shifted.find_all(Tag::BATCH_ITEM).collect();
        let got_items: Vec<&Ttlv> = got.find_all(Tag::BATCH_ITEM).collect();
        if exp_items.len() != got_items.len() {
            return Err(mism(
                "BatchItem",
                format!("{} batch items", exp_items.len()),
                format!("{} batch items", got_items.len()),
            ));
        }
        let mut last_uid: Option<String> = None;
        for (i, ((e, s), g)) in exp_items.iter().zip(&shf_items).zip(&got_items).enumerate() {
            let path = format!("BatchItem[{i}]");
            let req = req_items.get(i).copied();
            self.check_item(req, e, s, g, &path, &last_uid)?;
            if let Some(uid) = g
                .find(Tag::RESPONSE_PAYLOAD)
                .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
                .and_then(Ttlv::as_text)
            {
                last_uid = Some(uid.to_owned());
            }
        }
        Ok(())
    }
}
