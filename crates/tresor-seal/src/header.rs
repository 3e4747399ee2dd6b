//! The seal header: recipients, the wrapped data key, unresolved merge conflicts and the
//! document MAC. In `.env`, YAML and TOML files it is a block of `# tresor-…` comment lines at
//! the end; in JSON the last member of the top-level object, `"tresor_seal": {…}`, one field
//! per line. Either way the MAC is alone on its line, so an edit changes the lines of the
//! values edited and that line.

use crate::Format;
use crate::error::{Result, SealError, line_of};

/// The header's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Recipient strings (`age1…`, `ssh-ed25519 …`), in order.
    pub recipients: Vec<String>,
    /// The data key wrapped to the age and ssh recipients (base64 of an age file; empty when
    /// every recipient is a key service).
    pub data_key: String,
    /// The data key wrapped by each key-service recipient (AWS KMS, KMIP): (its key,
    /// `KEY_ID.BASE64`), in recipient order.
    pub wraps: Vec<(String, String)>,
    /// Unresolved merge conflicts: (key path, base64url of its binary form; their side's
    /// sealed value).
    pub conflicts: Vec<(String, String)>,
    /// The document MAC (base64url); empty while it is computed.
    pub mac: String,
}

const FIRST: &str = "# tresor-seal v1: values are encrypted; key names and comments are not (see docs/SEALED_FILES.md)";
const JSON_KEY: &str = "tresor_seal";

/// Splits a file into its body and header; `None` when it has no header.
pub(crate) fn split(format: Format, text: &str) -> Result<Option<(String, Header)>> {
    match format {
        Format::Json => split_json(text),
        _ => split_comments(text),
    }
}

/// The file for a body and a header.
pub(crate) fn join(format: Format, body: &str, h: &Header) -> String {
    match format {
        Format::Json => join_json(body, h),
        _ => join_comments(body, h),
    }
}

fn join_comments(body: &str, h: &Header) -> String {
    let mut s = String::with_capacity(body.len() + 1024);
    s.push_str(body);
    if !body.is_empty() && !body.ends_with('\n') {
        s.push('\n');
    }
    s.push_str(FIRST);
    s.push('\n');
    for r in &h.recipients {
        s.push_str("# tresor-recipient: ");
        s.push_str(r);
        s.push('\n');
    }
    s.push_str("# tresor-data-key: ");
    s.push_str(&h.data_key);
    s.push('\n');
    for (r, t) in &h.wraps {
        s.push_str("# tresor-wrap: ");
        s.push_str(r);
        s.push(' ');
        s.push_str(t);
        s.push('\n');
    }
    for (p, t) in &h.conflicts {
        s.push_str("# tresor-conflict: ");
        s.push_str(p);
        s.push(' ');
        s.push_str(t);
        s.push('\n');
    }
    s.push_str("# tresor-mac: ");
    s.push_str(&h.mac);
    s.push('\n');
    s
}

fn split_comments(text: &str) -> Result<Option<(String, Header)>> {
    let Some(at) = find_line(text, "# tresor-seal ") else {
        return Ok(None);
    };
    let first = text[at..].lines().next().unwrap_or("");
    if first != FIRST {
        return Err(SealError::Header {
            line: line_of(text, at),
            what: "unsupported seal version or damaged first header line".into(),
        });
    }
    let mut h = Header {
        recipients: Vec::new(),
        data_key: String::new(),
        wraps: Vec::new(),
        conflicts: Vec::new(),
        mac: String::new(),
    };
    let mut pos = at + first.len() + 1;
    let mut saw_key = false;
    let mut saw_mac = false;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |e| pos + e);
        let line = &text[pos..end];
        let bad = |what: &str| SealError::Header {
            line: line_of(text, pos),
            what: what.into(),
        };
        if saw_mac {
            return Err(bad("text after the MAC line"));
        }
        if let Some(r) = line.strip_prefix("# tresor-recipient: ") {
            h.recipients.push(r.to_owned());
        } else if let Some(k) = line.strip_prefix("# tresor-data-key: ") {
            if saw_key {
                return Err(bad("two data-key lines"));
            }
            saw_key = true;
            h.data_key = k.to_owned();
        } else if let Some(w) = line.strip_prefix("# tresor-wrap: ") {
            let (r, t) = w
                .rsplit_once(' ')
                .ok_or_else(|| bad("malformed wrapped-key line"))?;
            h.wraps.push((r.to_owned(), t.to_owned()));
        } else if let Some(c) = line.strip_prefix("# tresor-conflict: ") {
            let (p, t) = c
                .split_once(' ')
                .ok_or_else(|| bad("malformed conflict line"))?;
            h.conflicts.push((p.to_owned(), t.to_owned()));
        } else if let Some(m) = line.strip_prefix("# tresor-mac: ") {
            saw_mac = true;
            h.mac = m.to_owned();
        } else {
            return Err(bad("not a header line (the header must end the file)"));
        }
        pos = end + 1;
    }
    if !saw_key || !saw_mac {
        return Err(SealError::Header {
            line: line_of(text, text.len()),
            what: "the header is incomplete (no data-key or MAC line): the file was truncated"
                .into(),
        });
    }
    Ok(Some((text[..at].to_owned(), h)))
}

/// Byte offset of the last line starting with `prefix`.
fn find_line(text: &str, prefix: &str) -> Option<usize> {
    let mut found = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with(prefix) {
            found = Some(pos);
        }
        pos += line.len();
    }
    found
}

fn q(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

fn render_json_header(h: &Header) -> String {
    let mut s = format!("\"{JSON_KEY}\": {{\n    \"version\": 1,\n    \"recipients\": [\n");
    for (i, r) in h.recipients.iter().enumerate() {
        s.push_str("      ");
        s.push_str(&q(r));
        s.push_str(if i + 1 < h.recipients.len() {
            ",\n"
        } else {
            "\n"
        });
    }
    s.push_str("    ],\n    \"data_key\": ");
    s.push_str(&q(&h.data_key));
    s.push_str(",\n");
    if !h.wraps.is_empty() {
        s.push_str("    \"wraps\": {\n");
        for (i, (r, t)) in h.wraps.iter().enumerate() {
            s.push_str("      ");
            s.push_str(&q(r));
            s.push_str(": ");
            s.push_str(&q(t));
            s.push_str(if i + 1 < h.wraps.len() { ",\n" } else { "\n" });
        }
        s.push_str("    },\n");
    }
    if !h.conflicts.is_empty() {
        s.push_str("    \"conflicts\": {\n");
        for (i, (p, t)) in h.conflicts.iter().enumerate() {
            s.push_str("      ");
            s.push_str(&q(p));
            s.push_str(": ");
            s.push_str(&q(t));
            s.push_str(if i + 1 < h.conflicts.len() {
                ",\n"
            } else {
                "\n"
            });
        }
        s.push_str("    },\n");
    }
    s.push_str("    \"mac\": ");
    s.push_str(&q(&h.mac));
    s.push_str("\n  }");
    s
}

fn join_json(body: &str, h: &Header) -> String {
    // Insert after the last member's value, or right after '{' of an empty object.
    let hdr = render_json_header(h);
    let (pos, prefix) = match crate::json::scan(body) {
        Ok((_, m)) if !m.is_empty() => (m[m.len() - 1].span.end, ",\n  "),
        _ => (body.find('{').map_or(0, |p| p + 1), "\n  "),
    };
    let mut s = String::with_capacity(body.len() + hdr.len() + 8);
    s.push_str(&body[..pos]);
    s.push_str(prefix);
    s.push_str(&hdr);
    s.push_str(&body[pos..]);
    s
}

fn split_json(text: &str) -> Result<Option<(String, Header)>> {
    let (_, members) = crate::json::scan(text)?;
    let Some(idx) = members.iter().position(|m| m.name == JSON_KEY) else {
        return Ok(None);
    };
    let m = &members[idx];
    let bad = |what: &str| SealError::Header {
        line: line_of(text, m.span.start),
        what: what.into(),
    };
    if idx + 1 != members.len() {
        return Err(bad("\"tresor_seal\" must be the last member of the object"));
    }
    let v: serde_json::Value =
        serde_json::from_str(&text[m.value.clone()]).map_err(|_| bad("malformed header"))?;
    if v.get("version").and_then(|x| x.as_u64()) != Some(1) {
        return Err(bad("unsupported seal version"));
    }
    let strs = |x: Option<&serde_json::Value>| -> Option<String> { x?.as_str().map(str::to_owned) };
    let recipients = v
        .get("recipients")
        .and_then(|r| r.as_array())
        .ok_or_else(|| bad("no recipients"))?
        .iter()
        .map(|r| r.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("a recipient is not a string"))?;
    let mut conflicts = Vec::new();
    if let Some(c) = v.get("conflicts") {
        for (p, t) in c.as_object().ok_or_else(|| bad("malformed conflicts"))? {
            conflicts.push((
                p.clone(),
                t.as_str()
                    .ok_or_else(|| bad("malformed conflicts"))?
                    .to_owned(),
            ));
        }
    }
    let mut wraps = Vec::new();
    if let Some(c) = v.get("wraps") {
        for (r, t) in c.as_object().ok_or_else(|| bad("malformed wraps"))? {
            wraps.push((
                r.clone(),
                t.as_str().ok_or_else(|| bad("malformed wraps"))?.to_owned(),
            ));
        }
    }
    let h = Header {
        recipients,
        data_key: strs(v.get("data_key")).ok_or_else(|| bad("no data key"))?,
        wraps,
        conflicts,
        mac: strs(v.get("mac")).ok_or_else(|| bad("no MAC: the file was truncated"))?,
    };
    let start = if idx > 0 {
        members[idx - 1].span.end
    } else {
        text.find('{').map_or(0, |p| p + 1)
    };
    let mut body = String::with_capacity(text.len());
    body.push_str(&text[..start]);
    body.push_str(&text[m.span.end..]);
    Ok(Some((body, h)))
}
