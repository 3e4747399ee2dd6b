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
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use tresor_kmip::enums::Operation;
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

/// Tags whose runs of siblings may come in any order.
fn unordered_member(t: Tag) -> bool {
    [
        Tag::ATTRIBUTE,
        Tag::UNIQUE_IDENTIFIER,
        Tag::ATTRIBUTE_NAME,
        Tag::ATTRIBUTE_REFERENCE,
    ]
    .contains(&t)
}

/// Structures whose members may come in any order (KMIP 2.x attribute containers).
fn unordered_struct(t: Tag) -> bool {
    [
        Tag::ATTRIBUTES,
        Tag::COMMON_ATTRIBUTES,
        Tag::PRIVATE_KEY_ATTRIBUTES,
        Tag::PUBLIC_KEY_ATTRIBUTES,
    ]
    .contains(&t)
}

/// How to compare inside one batch item.
#[derive(Debug, Clone, Copy, Default)]
struct Ctx {
    /// Byte Strings and Big Integers are random: same type and length suffice.
    random: bool,
    /// The server may return attributes beyond the expected ones.
    extra_attributes: bool,
}

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

    fn check_item(
        &mut self,
        req: Option<&Ttlv>,
        e: &Ttlv,
        s: &Ttlv,
        g: &Ttlv,
        path: &str,
        last_uid: &Option<String>,
    ) -> Result<(), Mismatch> {
        let op = e.find(Tag::OPERATION).and_then(Ttlv::as_enumeration);
        let req_payload = req.and_then(|r| r.find(Tag::REQUEST_PAYLOAD));
        let req_uid = req_payload
            .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
            .and_then(Ttlv::as_text)
            .map(str::to_owned)
            .or_else(|| last_uid.clone());
        // Locate's Located Items is optional (KMIP 1.3+: a server may always return it);
        // the vectors leave it out.
        let stripped;
        let mut got_payload = g.find(Tag::RESPONSE_PAYLOAD);
        if let Some(p) = got_payload.filter(|p| {
            op == Some(Operation::LOCATE.0)
                && p.find(Tag::LOCATED_ITEMS).is_some()
                && e.find(Tag::RESPONSE_PAYLOAD)
                    .is_none_or(|ep| ep.find(Tag::LOCATED_ITEMS).is_none())
        }) {
            stripped = Ttlv::structure(
                p.tag,
                p.items()
                    .iter()
                    .filter(|c| c.tag != Tag::LOCATED_ITEMS)
                    .cloned()
                    .collect(),
            );
            got_payload = Some(&stripped);
        }
        let server_iv = got_payload.is_some_and(|p| p.find(Tag::IV_COUNTER_NONCE).is_some())
            && req_payload.is_some_and(|p| p.find(Tag::IV_COUNTER_NONCE).is_none());
        let about_generated = req_uid.as_ref().is_some_and(|u| self.generated.contains(u))
            || got_payload
                .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
                .and_then(Ttlv::as_text)
                .is_some_and(|u| self.generated.contains(u));
        let ctx = Ctx {
            random: about_generated || server_iv || op == Some(Operation::RNG_RETRIEVE.0),
            extra_attributes: op == Some(Operation::GET_ATTRIBUTES.0)
                && req_payload.is_some_and(|p| {
                    p.find(Tag::ATTRIBUTE_NAME).is_none()
                        && p.find(Tag::ATTRIBUTE_REFERENCE).is_none()
                }),
        };
        let Value::Structure(e_items) = &e.value else {
            return Err(Mismatch {
                path: path.to_owned(),
                expected: show(e),
                got: show(g),
            });
        };
        let empty = Vec::new();
        let s_items = match &s.value {
            Value::Structure(v) => v,
            _ => &empty,
        };
        for tag in [
            Tag::OPERATION,
            Tag::UNIQUE_BATCH_ITEM_ID,
            Tag::RESULT_STATUS,
            Tag::RESULT_REASON,
        ] {
            let ev = e.find(tag);
            let gv = g.find(tag);
            if ev != gv {
                // Say why the server failed: its Result Reason and Message.
                let mut got = gv.map_or("nothing".into(), show);
                if tag == Tag::RESULT_STATUS || tag == Tag::RESULT_REASON {
                    for t in [Tag::RESULT_REASON, Tag::RESULT_MESSAGE] {
                        if let Some(x) = g.find(t).filter(|_| t != tag) {
                            got.push_str(&format!(" ({})", show(x)));
                        }
                    }
                }
                return Err(Mismatch {
                    path: format!("{path}/{}", tag_name(tag)),
                    expected: ev.map_or("nothing".into(), show),
                    got,
                });
            }
        }
        if e.find(Tag::RESULT_MESSAGE).is_some() && g.find(Tag::RESULT_MESSAGE).is_none() {
            return Err(Mismatch {
                path: format!("{path}/ResultMessage"),
                expected: "a ResultMessage".into(),
                got: "nothing".into(),
            });
        }
        let ep = e_items.iter().position(|c| c.tag == Tag::RESPONSE_PAYLOAD);
        // A Query answer describes the server (its operations, object types, vendor): the
        // vectors hold the reference server's; ours is checked by the server's own tests.
        if op == Some(Operation::QUERY.0) {
            return Ok(());
        }
        match (ep, got_payload) {
            (None, None) => {}
            (Some(i), Some(gp)) => {
                let sp = s_items.get(i).unwrap_or(&e_items[i]);
                let mut b = self.bindings.clone();
                cmp(
                    &e_items[i],
                    sp,
                    gp,
                    &format!("{path}/ResponsePayload"),
                    ctx,
                    &mut b,
                )?;
                self.bindings = b;
            }
            // An empty expected payload and none received (or the reverse) are the same.
            (Some(i), None) if e_items[i].items().is_empty() => {}
            (None, Some(gp)) if gp.items().is_empty() => {}
            (ei, gp) => {
                return Err(Mismatch {
                    path: format!("{path}/ResponsePayload"),
                    expected: ei.map_or("nothing".into(), |i| show(&e_items[i])),
                    got: gp.map_or("nothing".into(), show),
                });
            }
        }
        // Objects the server generated: their material and everything derived is random.
        if [
            Operation::CREATE.0,
            Operation::CREATE_KEY_PAIR.0,
            Operation::RE_KEY.0,
            Operation::RE_KEY_KEY_PAIR.0,
            Operation::DERIVE_KEY.0,
        ]
        .contains(&op.unwrap_or(0))
        {
            if let Some(p) = got_payload {
                for tag in [
                    Tag::UNIQUE_IDENTIFIER,
                    Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER,
                    Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER,
                ] {
                    if let Some(u) = p.find(tag).and_then(Ttlv::as_text) {
                        self.generated.insert(u.to_owned());
                    }
                }
            }
        }
        Ok(())
    }
}

fn mismatch(path: &str, e: &Ttlv, g: &Ttlv) -> Mismatch {
    Mismatch {
        path: path.to_owned(),
        expected: show(e),
        got: show(g),
    }
}

/// The key that pairs an expected with a received member of an unordered run: its tag, and
/// for a 1.x `Attribute` its name.
fn member_key(t: &Ttlv) -> (Tag, Option<String>) {
    let name = if t.tag == Tag::ATTRIBUTE {
        t.find(Tag::ATTRIBUTE_NAME)
            .and_then(Ttlv::as_text)
            .map(str::to_owned)
    } else {
        None
    };
    (t.tag, name)
}

/// Compares `e` (with its `$NOW`-shifted twin `s`) to `g`, binding placeholders in `b`.
fn cmp(
    e: &Ttlv,
    s: &Ttlv,
    g: &Ttlv,
    path: &str,
    ctx: Ctx,
    b: &mut Bindings,
) -> Result<(), Mismatch> {
    if e.tag != g.tag || e.value.item_type() != g.value.item_type() {
        return Err(mismatch(path, e, g));
    }
    // Which random number generator the server uses is its own (the vectors name the
    // reference server's ANSI X9.31): present, any content.
    if e.tag == Tag::RANDOM_NUMBER_GENERATOR
        || (e.tag == Tag::ATTRIBUTE
            && member_key(e).1.as_deref() == Some("Random Number Generator"))
    {
        return Ok(());
    }
    match (&e.value, &g.value) {
        (Value::Structure(ei), Value::Structure(gi)) => {
            let empty = Vec::new();
            let si = match &s.value {
                Value::Structure(v) if v.len() == ei.len() => v,
                _ => &empty,
            };
            cmp_children(e.tag, ei, si, gi, path, ctx, b)
        }
        (Value::TextString(et), Value::TextString(gt)) => {
            if is_placeholder_str(et) {
                match b.text.get(et) {
                    Some(v) if v == gt => Ok(()),
                    Some(v) => Err(Mismatch {
                        path: path.to_owned(),
                        expected: format!("{et} (= {v:?})"),
                        got: show(g),
                    }),
                    None => {
                        b.text.insert(et.clone(), gt.clone());
                        Ok(())
                    }
                }
            } else if et == gt {
                Ok(())
            } else {
                Err(mismatch(path, e, g))
            }
        }
        (Value::ByteString(eb), Value::ByteString(gb)) => {
            if placeholder_bytes(eb).is_some() {
                match b.bytes.get(eb) {
                    Some(v) if v == gb => Ok(()),
                    Some(_) => Err(mismatch(path, e, g)),
                    None => {
                        b.bytes.insert(eb.clone(), gb.clone());
                        Ok(())
                    }
                }
            } else if eb == gb || (ctx.random && eb.len() == gb.len()) {
                if ctx.random {
                    b.random_by_tag.insert(g.tag.value(), gb.clone());
                }
                Ok(())
            } else {
                Err(mismatch(path, e, g))
            }
        }
        (Value::BigInteger(eb), Value::BigInteger(gb)) => {
            if eb == gb || ctx.random {
                Ok(())
            } else {
                Err(mismatch(path, e, g))
            }
        }
        (Value::DateTime(ev), Value::DateTime(gv)) => {
            let from_now = s.value != e.value;
            if ev == gv || (from_now && (ev - gv).abs() <= NOW_TOLERANCE) {
                Ok(())
            } else {
                Err(mismatch(path, e, g))
            }
        }
        (ev, gv) => {
            if ev == gv {
                Ok(())
            } else {
                Err(mismatch(path, e, g))
            }
        }
    }
}

fn cmp_children(
    parent: Tag,
    ei: &[Ttlv],
    si: &[Ttlv],
    gi: &[Ttlv],
    path: &str,
    ctx: Ctx,
    b: &mut Bindings,
) -> Result<(), Mismatch> {
    let shifted = |i: usize| si.get(i).unwrap_or(&ei[i]);
    let child_path = |items: &[Ttlv], i: usize| {
        let tag = items[i].tag;
        let n = items[..i].iter().filter(|c| c.tag == tag).count();
        let many = items.iter().filter(|c| c.tag == tag).count() > 1;
        if many {
            format!("{path}/{}[{n}]", tag_name(tag))
        } else {
            format!("{path}/{}", tag_name(tag))
        }
    };
    if unordered_struct(parent) {
        return cmp_multiset(
            &(0..ei.len()).collect::<Vec<_>>(),
            ei,
            si,
            gi,
            &(0..gi.len()).collect::<Vec<_>>(),
            path,
            ctx,
            b,
            ctx.extra_attributes,
        );
    }
    // Ordered, except that runs of unordered members compare as multisets.
    let (mut i, mut j) = (0, 0);
    while i < ei.len() {
        let tag = ei[i].tag;
        if unordered_member(tag) {
            let e_run: Vec<usize> = (i..ei.len()).take_while(|&k| ei[k].tag == tag).collect();
            let g_run: Vec<usize> = (j..gi.len()).take_while(|&k| gi[k].tag == tag).collect();
            let extra = ctx.extra_attributes && tag == Tag::ATTRIBUTE;
            cmp_multiset(&e_run, ei, si, gi, &g_run, path, ctx, b, extra)?;
            i += e_run.len();
            j += g_run.len();
            continue;
        }
        let Some(g) = gi.get(j) else {
            return Err(Mismatch {
                path: child_path(ei, i),
                expected: show(&ei[i]),
                got: "nothing".into(),
            });
        };
        cmp(&ei[i], shifted(i), g, &child_path(ei, i), ctx, b)?;
        i += 1;
        j += 1;
    }
    if let Some(g) = gi.get(j) {
        return Err(Mismatch {
            path: child_path(gi, j),
            expected: "nothing".into(),
            got: show(g),
        });
    }
    Ok(())
}

/// Matches the expected members `e_idx` with the received `g_idx` in any order.
#[allow(clippy::too_many_arguments)]
fn cmp_multiset(
    e_idx: &[usize],
    ei: &[Ttlv],
    si: &[Ttlv],
    gi: &[Ttlv],
    g_idx: &[usize],
    path: &str,
    ctx: Ctx,
    b: &mut Bindings,
    allow_extra: bool,
) -> Result<(), Mismatch> {
    let mut used = vec![false; g_idx.len()];
    for &k in e_idx {
        let e = &ei[k];
        let s = si.get(k).unwrap_or(e);
        let p = format!("{path}/{}", show_key(e));
        let mut found = false;
        for (u, &gk) in g_idx.iter().enumerate() {
            if used[u] {
                continue;
            }
            let mut trial = b.clone();
            if cmp(e, s, &gi[gk], &p, ctx, &mut trial).is_ok() {
                *b = trial;
                used[u] = true;
                found = true;
                break;
            }
        }
        if !found {
            // Report against the received member of the same kind, if any.
            let key = member_key(e);
            let same = g_idx
                .iter()
                .enumerate()
                .find(|(u, gk)| !used[*u] && member_key(&gi[**gk]) == key);
            return Err(match same {
                Some((_, &gk)) => {
                    let mut trial = b.clone();
                    cmp(e, s, &gi[gk], &p, ctx, &mut trial)
                        .err()
                        .unwrap_or_else(|| mismatch(&p, e, &gi[gk]))
                }
                None => Mismatch {
                    path: p,
                    expected: show(e),
                    got: "nothing".into(),
                },
            });
        }
    }
    if !allow_extra {
        if let Some(u) = used.iter().position(|x| !x) {
            let g = &gi[g_idx[u]];
            return Err(Mismatch {
                path: format!("{path}/{}", show_key(g)),
                expected: "nothing".into(),
                got: show(g),
            });
        }
    }
    Ok(())
}

/// A path element for an unordered member: the tag, and the 1.x attribute name.
fn show_key(t: &Ttlv) -> String {
    match member_key(t) {
        (tag, Some(name)) => format!("{}[{name}]", tag_name(tag)),
        (tag, None) => tag_name(tag),
    }
}

#[cfg(test)]
mod engine_tests {
    use super::*;
    use tresor_kmip::xml::parse_item;

    fn at(xml: &str, now: i64) -> Ttlv {
        parse_item(xml, &Placeholders { now }).unwrap()
    }

    /// A response message around one batch item body.
    fn response(item: &str) -> String {
        format!(
            r#"<ResponseMessage><ResponseHeader><ProtocolVersion>
            <ProtocolVersionMajor type="Integer" value="2"/><ProtocolVersionMinor type="Integer" value="1"/>
            </ProtocolVersion><TimeStamp type="DateTime" value="$NOW"/>
            <BatchCount type="Integer" value="1"/></ResponseHeader>
            <BatchItem>{item}</BatchItem></ResponseMessage>"#
        )
    }

    fn request(item: &str) -> String {
        format!(
            r#"<RequestMessage><RequestHeader><ProtocolVersion>
            <ProtocolVersionMajor type="Integer" value="2"/><ProtocolVersionMinor type="Integer" value="1"/>
            </ProtocolVersion><BatchCount type="Integer" value="1"/></RequestHeader>
            <BatchItem>{item}</BatchItem></RequestMessage>"#
        )
    }

    fn expect(item: &str, now: i64) -> (Ttlv, Ttlv) {
        let x = response(item);
        (at(&x, now), at(&x, now + SHIFT))
    }

    const CREATE_OK: &str = r#"<Operation type="Enumeration" value="Create"/>
        <ResultStatus type="Enumeration" value="Success"/>
        <ResponsePayload><ObjectType type="Enumeration" value="SymmetricKey"/>
        <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/></ResponsePayload>"#;

    /// The expected response as a conforming server would send it: its own identifiers and
    /// placeholder bytes, its clock a few seconds off.
    fn as_server_would(t: &Ttlv) -> Ttlv {
        let value = match &t.value {
            Value::Structure(items) => {
                Value::Structure(items.iter().map(as_server_would).collect())
            }
            Value::TextString(s) if is_placeholder_str(s) => {
                Value::TextString(format!("srv-{}", s.to_lowercase()))
            }
            Value::ByteString(b) if placeholder_bytes(b).is_some() => {
                Value::ByteString(b.iter().rev().copied().collect())
            }
            Value::DateTime(d) => Value::DateTime(d + 3),
            other => other.clone(),
        };
        Ttlv::new(t.tag, value)
    }

    /// Every vector file passes against a server answering exactly the expected responses
    /// with its own identifiers: the rules reject nothing a conforming server may do here.
    #[test]
    fn a_conforming_server_passes_every_file() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kmip-vectors");
        let mut files = 0;
        for v in ["v1.4", "v2.1"] {
            for kind in ["mandatory", "optional"] {
                for f in std::fs::read_dir(dir.join(v).join(kind)).unwrap().flatten() {
                    let file = load(&f.path(), 1_700_000_000).unwrap();
                    let mut s = Session::default();
                    for (i, ex) in file.exchanges.iter().enumerate() {
                        let sent = s.prepare(&ex.request);
                        let got = as_server_would(&ex.expected);
                        if let Err(m) = s.check(&sent, &ex.expected, &ex.shifted, &got) {
                            panic!("{} request {i}: {m}", file.name);
                        }
                        // Later requests carry the server's identifiers, never a placeholder
                        // that an earlier response bound.
                        for (k, v) in &s.bindings.text {
                            assert_ne!(k, v);
                        }
                    }
                    files += 1;
                }
            }
        }
        assert_eq!(files, 168);
    }

    #[test]
    fn binds_identifier_and_fills_later_requests() {
        let mut s = Session::default();
        let req = at(
            &request(r#"<Operation type="Enumeration" value="Create"/>"#),
            0,
        );
        let (e, sh) = expect(CREATE_OK, 1000);
        let got_xml = response(CREATE_OK).replace("$UNIQUE_IDENTIFIER_0", "key-17");
        let got = at(&got_xml, 1005);
        s.check(&req, &e, &sh, &got).unwrap();
        assert!(s.generated.contains("key-17"));
        let next = at(
            &request(
                r#"<Operation type="Enumeration" value="Get"/><RequestPayload>
                <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/></RequestPayload>"#,
            ),
            0,
        );
        let sent = s.prepare(&next);
        let uid = sent
            .find(Tag::BATCH_ITEM)
            .and_then(|b| b.find(Tag::REQUEST_PAYLOAD))
            .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
            .and_then(Ttlv::as_text);
        assert_eq!(uid, Some("key-17"));
        // A later response naming another identifier for the same placeholder is a mismatch.
        let other = at(&got_xml.replace("key-17", "key-18"), 1005);
        let m = s.check(&req, &e, &sh, &other).unwrap_err();
        assert_eq!(m.path, "BatchItem[0]/ResponsePayload/UniqueIdentifier");
        assert!(m.got.contains("key-18"), "{m}");
    }

    #[test]
    fn result_reason_and_status_are_exact() {
        let mut s = Session::default();
        let req = at(
            &request(r#"<Operation type="Enumeration" value="Destroy"/>"#),
            0,
        );
        let exp = r#"<Operation type="Enumeration" value="Destroy"/>
            <ResultStatus type="Enumeration" value="OperationFailed"/>
            <ResultReason type="Enumeration" value="WrongKeyLifecycleState"/>
            <ResultMessage type="TextString" value="DENIED"/>"#;
        let (e, sh) = expect(exp, 0);
        // Different message text is fine.
        let got = at(&response(&exp.replace("DENIED", "object 3 is active")), 0);
        s.check(&req, &e, &sh, &got).unwrap();
        let got = at(
            &response(&exp.replace("WrongKeyLifecycleState", "PermissionDenied")),
            0,
        );
        let m = s.check(&req, &e, &sh, &got).unwrap_err();
        assert_eq!(m.path, "BatchItem[0]/ResultReason");
        assert_eq!(m.expected, "ResultReason=WrongKeyLifecycleState");
        assert_eq!(
            m.got,
            "ResultReason=PermissionDenied (ResultMessage=\"DENIED\")"
        );
    }

    #[test]
    fn attributes_in_any_order_dates_near_now_and_random_digests() {
        let mut s = Session::default();
        s.generated.insert("k1".into());
        let req = at(
            &request(
                r#"<Operation type="Enumeration" value="GetAttributes"/><RequestPayload>
                <UniqueIdentifier type="TextString" value="k1"/>
                <AttributeReference type="Enumeration" value="State"/>
                <AttributeReference type="Enumeration" value="InitialDate"/>
                <AttributeReference type="Enumeration" value="Digest"/></RequestPayload>"#,
            ),
            0,
        );
        let exp = r#"<Operation type="Enumeration" value="GetAttributes"/>
            <ResultStatus type="Enumeration" value="Success"/>
            <ResponsePayload><UniqueIdentifier type="TextString" value="k1"/><Attributes>
              <State type="Enumeration" value="PreActive"/>
              <InitialDate type="DateTime" value="$NOW"/>
              <Digest><HashingAlgorithm type="Enumeration" value="SHA_256"/>
                <DigestValue type="ByteString" value="bc12861408b8ac72"/>
                <KeyFormatType type="Enumeration" value="Raw"/></Digest>
            </Attributes></ResponsePayload>"#;
        let (e, sh) = expect(exp, 1_000_000);
        let got_ok = r#"<Operation type="Enumeration" value="GetAttributes"/>
            <ResultStatus type="Enumeration" value="Success"/>
            <ResponsePayload><UniqueIdentifier type="TextString" value="k1"/><Attributes>
              <Digest><HashingAlgorithm type="Enumeration" value="SHA_256"/>
                <DigestValue type="ByteString" value="0011223344556677"/>
                <KeyFormatType type="Enumeration" value="Raw"/></Digest>
              <InitialDate type="DateTime" value="$NOW"/>
              <State type="Enumeration" value="PreActive"/>
            </Attributes></ResponsePayload>"#;
        s.check(&req, &e, &sh, &at(&response(got_ok), 1_000_030))
            .unwrap();
        // A date far from now fails, naming the attribute.
        let m = s
            .check(
                &req,
                &e,
                &sh,
                &at(&response(got_ok), 1_000_000 + 2 * NOW_TOLERANCE),
            )
            .unwrap_err();
        assert_eq!(
            m.path,
            "BatchItem[0]/ResponsePayload/Attributes/InitialDate"
        );
        // A wrong state fails.
        let bad = got_ok.replace("PreActive", "Active");
        let m = s
            .check(&req, &e, &sh, &at(&response(&bad), 1_000_000))
            .unwrap_err();
        assert_eq!(m.path, "BatchItem[0]/ResponsePayload/Attributes/State");
        assert_eq!(m.got, "State=Active");
        // A digest of another length fails even for a generated key.
        let short = got_ok.replace("0011223344556677", "0011");
        let m = s
            .check(&req, &e, &sh, &at(&response(&short), 1_000_000))
            .unwrap_err();
        assert!(m.path.ends_with("Digest/DigestValue"), "{m}");
        // For a registered (not generated) key the digest must be the expected one.
        s.generated.clear();
        let m = s
            .check(&req, &e, &sh, &at(&response(got_ok), 1_000_000))
            .unwrap_err();
        assert!(m.path.ends_with("Digest/DigestValue"), "{m}");
        // An extra attribute nobody asked for fails.
        s.generated.insert("k1".into());
        let extra = got_ok.replace(
            "<State ",
            r#"<CryptographicLength type="Integer" value="256"/><State "#,
        );
        let m = s
            .check(&req, &e, &sh, &at(&response(&extra), 1_000_000))
            .unwrap_err();
        assert_eq!(m.expected, "nothing");
        assert_eq!(m.got, "CryptographicLength=256");
    }

    #[test]
    fn legacy_attribute_lists_match_by_name() {
        let mut s = Session::default();
        let req = at(
            &request(
                r#"<Operation type="Enumeration" value="GetAttributes"/><RequestPayload>
                <UniqueIdentifier type="TextString" value="k"/></RequestPayload>"#,
            ),
            0,
        );
        let attr = |n: &str, v: &str| {
            format!(
                r#"<Attribute><AttributeName type="TextString" value="{n}"/>
                <AttributeValue type="Integer" value="{v}"/></Attribute>"#
            )
        };
        let body = |attrs: &str| {
            format!(
                r#"<Operation type="Enumeration" value="GetAttributes"/>
                <ResultStatus type="Enumeration" value="Success"/>
                <ResponsePayload><UniqueIdentifier type="TextString" value="k"/>{attrs}</ResponsePayload>"#
            )
        };
        let exp = body(&(attr("Cryptographic Length", "256") + &attr("x-ID", "7")));
        let (e, sh) = expect(&exp, 0);
        // No names asked: extra attributes are allowed, order is free.
        let got = body(
            &(attr("x-ID", "7") + &attr("Lease Time", "5") + &attr("Cryptographic Length", "256")),
        );
        s.check(&req, &e, &sh, &at(&response(&got), 0)).unwrap();
        // A missing one is named.
        let got = body(&attr("Cryptographic Length", "256"));
        let m = s.check(&req, &e, &sh, &at(&response(&got), 0)).unwrap_err();
        assert_eq!(m.path, "BatchItem[0]/ResponsePayload/Attribute[x-ID]");
        assert_eq!(m.got, "nothing");
        // A wrong value is reported inside the attribute.
        let got = body(&(attr("x-ID", "8") + &attr("Cryptographic Length", "256")));
        let m = s.check(&req, &e, &sh, &at(&response(&got), 0)).unwrap_err();
        assert_eq!(
            m.path,
            "BatchItem[0]/ResponsePayload/Attribute[x-ID]/AttributeValue"
        );
        assert_eq!(m.expected, "AttributeValue=7");
    }

    #[test]
    fn byte_placeholders_bind_and_fill() {
        let mut s = Session::default();
        let req = at(
            &request(
                r#"<Operation type="Enumeration" value="Encrypt"/><RequestPayload>
            <UniqueIdentifier type="TextString" value="k"/></RequestPayload>"#,
            ),
            0,
        );
        let exp = r#"<Operation type="Enumeration" value="Encrypt"/>
            <ResultStatus type="Enumeration" value="Success"/>
            <ResponsePayload><UniqueIdentifier type="TextString" value="k"/>
            <Data type="ByteString" value="$DATA_0"/>
            <IVCounterNonce type="ByteString" value="$IV_COUNTER_NONCE"/></ResponsePayload>"#;
        let (e, sh) = expect(exp, 0);
        let got = exp
            .replace("$DATA_0", "aabbcc")
            .replace("$IV_COUNTER_NONCE", "000102");
        s.check(&req, &e, &sh, &at(&response(&got), 0)).unwrap();
        let next = at(
            &request(
                r#"<Operation type="Enumeration" value="Decrypt"/><RequestPayload>
            <Data type="ByteString" value="$DATA_0"/><IVCounterNonce type="ByteString" value="$IV_COUNTER_NONCE"/>
            </RequestPayload>"#,
            ),
            0,
        );
        let sent = s.prepare(&next);
        let p = sent
            .find(Tag::BATCH_ITEM)
            .and_then(|b| b.find(Tag::REQUEST_PAYLOAD))
            .unwrap();
        assert_eq!(
            p.find(Tag::DATA).and_then(Ttlv::as_bytes),
            Some(&[0xaa, 0xbb, 0xcc][..])
        );
        assert_eq!(
            p.find(Tag::IV_COUNTER_NONCE).and_then(Ttlv::as_bytes),
            Some(&[0, 1, 2][..])
        );
        // Literal cipher text of a registered key with a client-chosen IV must match exactly.
        let req = at(
            &request(
                r#"<Operation type="Enumeration" value="Encrypt"/><RequestPayload>
            <UniqueIdentifier type="TextString" value="k"/>
            <IVCounterNonce type="ByteString" value="000102"/></RequestPayload>"#,
            ),
            0,
        );
        let exp2 = exp.replace("$DATA_0", "aabbcc");
        let (e2, sh2) = expect(&exp2, 0);
        let got2 = got.replace("aabbcc", "aabbcd");
        let m = s
            .check(&req, &e2, &sh2, &at(&response(&got2), 0))
            .unwrap_err();
        assert_eq!(m.path, "BatchItem[0]/ResponsePayload/Data");
    }

    #[test]
    fn batch_count_and_missing_items_are_reported() {
        let mut s = Session::default();
        let req = at(
            &request(r#"<Operation type="Enumeration" value="Create"/>"#),
            0,
        );
        let (e, sh) = expect(CREATE_OK, 0);
        let got = at(
            &response(&CREATE_OK.replace(
                r#"<ObjectType type="Enumeration" value="SymmetricKey"/>"#,
                "",
            )),
            0,
        );
        let m = s.check(&req, &e, &sh, &got).unwrap_err();
        assert_eq!(m.path, "BatchItem[0]/ResponsePayload/ObjectType");
        assert_eq!(m.expected, "ObjectType=SymmetricKey");
        assert!(m.got.starts_with("UniqueIdentifier"), "{m}");
    }
}
