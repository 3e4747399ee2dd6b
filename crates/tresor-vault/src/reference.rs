//! Secret references: `tresor://APP/ENV/KEY`, which a config file or an environment variable
//! carries instead of the value (1Password's `op://vault/item/field` convention).
//!
//! # The form
//!
//! ```text
//! tresor://APP/ENV/KEY[?version=N][&field=NAME]
//! ```
//!
//! - `APP`, `ENV` and `KEY` are the three parts of the vault name `APP:ENV:KEY`, each
//!   **percent-encoded** (RFC 3986): every byte of its UTF-8 form other than the unreserved
//!   characters `A-Z a-z 0-9 - . _ ~` is written `%XX` (upper-case hex). So `:`, `/`, `%`, `#`,
//!   `?`, `&`, `=`, spaces, quotes and non-ASCII letters never appear raw, and every name the
//!   vault accepts round-trips (`Reference::to_string` then [`Reference::parse`] gives it
//!   back). A `.` that would end the reference is written `%2E`, since in a text a final `.`
//!   is taken as punctuation (`see tresor://a/b/KEY.`). An empty `APP` or `ENV` (allowed by the vault) is an empty segment:
//!   `tresor:///dev/KEY`.
//! - `version=N` (N ≥ 1) reads version N of the secret instead of the current one.
//! - `field=NAME` (percent-encoded like the parts) takes one top-level member of a secret whose
//!   value is a JSON object: a string member as is, any other member as compact JSON.
//! - Parsing is strict: a raw character outside `A-Z a-z 0-9 - . _ ~ % / ? & =`, a malformed
//!   `%XX`, a part that does not decode to UTF-8 or is not a valid vault name part, another
//!   number of segments than three, or an unknown or repeated parameter is an error naming
//!   the reference.
//!
//! In a text ([`find`]) a reference runs from `tresor://` to the first character outside
//! that alphabet, so quotes, spaces, commas, brackets and line ends end it: `"tresor://a/b/C"`,
//! `url: tresor://a/b/C`, `${tresor://a/b/C}` all work.
//!
//! ```
//! use tresor_vault::reference::Reference;
//!
//! let r = Reference::parse("tresor://shop/prod/DB%20PASSWORD?version=3")?;
//! assert_eq!((r.app.as_str(), r.env.as_str(), r.key.as_str()), ("shop", "prod", "DB PASSWORD"));
//! assert_eq!(r.version, Some(3));
//! assert_eq!(r.to_string(), "tresor://shop/prod/DB%20PASSWORD?version=3");
//! assert_eq!(Reference::new("a:b", "e/v", "50%#").to_string(), "tresor://a%3Ab/e%2Fv/50%25%23");
//! # Ok::<(), tresor_vault::reference::ReferenceError>(())
//! ```

use std::fmt;
use std::ops::Range;

use tresor_crypto::SecretBytes;

use crate::filter::{NamePart, validate_name};
use crate::{Vault, VaultError, vault_view};

/// The scheme prefix every reference starts with.
pub const SCHEME: &str = "tresor://";

/// The longest reference accepted (bytes): a guard against a runaway scan of a huge token.
pub const MAX_LEN: usize = 4096;

/// A reference to one secret (and optionally one version or field of it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The app part of the name.
    pub app: String,
    /// The env part of the name.
    pub env: String,
    /// The key part of the name.
    pub key: String,
    /// A version (≥ 1) instead of the current one.
    pub version: Option<u32>,
    /// A top-level member of a JSON-object value.
    pub field: Option<String>,
}

/// A reference that does not parse, or a value that has no such field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The text is not a valid reference.
    #[error("invalid reference '{reference}': {why}")]
    Invalid {
        /// The reference as written (names only, never a value).
        reference: String,
        /// What is wrong with it.
        why: String,
    },
    /// `?field=` on a value that is not a JSON object, or lacks the member.
    #[error("reference '{reference}': {why}")]
    Field {
        /// The reference.
        reference: String,
        /// What is wrong (never quotes the value).
        why: String,
    },
}

/// Characters written as they are; everything else is `%XX`.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Whether `c` may appear in a reference as written (so where a scan in a text stops).
pub fn is_reference_char(c: char) -> bool {
    c.is_ascii() && (unreserved(c as u8) || matches!(c, '%' | '/' | '?' | '&' | '='))
}

/// Percent-encodes `s` as the parts of a reference are written.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if unreserved(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    out
}

/// Decodes one percent-encoded segment; `None` for a malformed `%`, a raw character that
/// must be encoded, or bytes that are not UTF-8.
fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                let (Some(h), Some(l)) = (
                    b.get(i + 1).copied().and_then(hex),
                    b.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(format!(
                        "'%' at byte {i} of '{s}' is not followed by two hex digits"
                    ));
                };
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            c if unreserved(c) => {
                out.push(c);
                i += 1;
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or('?');
                return Err(format!(
                    "'{}' must be percent-encoded ({})",
                    ch.escape_debug(),
                    encode(&ch.to_string())
                ));
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("'{s}' does not decode to UTF-8"))
}

impl Reference {
    /// A reference to the current value of `app:env:key`.
    pub fn new(app: impl Into<String>, env: impl Into<String>, key: impl Into<String>) -> Self {
        Reference {
            app: app.into(),
            env: env.into(),
            key: key.into(),
            version: None,
            field: None,
        }
    }

    /// The vault name `APP:ENV:KEY` the reference names.
    pub fn name(&self) -> String {
        crate::secret_name(&self.app, &self.env, &self.key)
    }

    /// Parses one reference (the whole of `s`).
    ///
    /// # Errors
    /// [`ReferenceError::Invalid`] naming what is wrong.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let bad = |why: String| ReferenceError::Invalid {
            reference: shown(s),
            why,
        };
        if s.len() > MAX_LEN {
            return Err(bad(format!("longer than {MAX_LEN} bytes")));
        }
        let rest = s
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad(format!("does not start with '{SCHEME}'")))?;
        if let Some(c) = rest.chars().find(|&c| !is_reference_char(c)) {
            return Err(bad(format!(
                "'{}' must be percent-encoded ({})",
                c.escape_debug(),
                encode(&c.to_string())
            )));
        }
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let segs: Vec<&str> = path.split('/').collect();
        let [app, env, key] = segs.as_slice() else {
            return Err(bad(format!(
                "expected three segments APP/ENV/KEY, found {} (write '/' inside a name as %2F)",
                segs.len()
            )));
        };
        let app = decode(app).map_err(&bad)?;
        let env = decode(env).map_err(&bad)?;
        let key = decode(key).map_err(&bad)?;
        for (part, v) in [
            (NamePart::App, &app),
            (NamePart::Env, &env),
            (NamePart::Key, &key),
        ] {
            validate_name(part, v).map_err(|e| bad(e.to_string()))?;
        }
        let mut r = Reference::new(app, env, key);
        if let Some(q) = query {
            for pair in q.split('&') {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| bad(format!("parameter '{pair}' has no '=' value")))?;
                match k {
                    "version" => {
                        if r.version.is_some() {
                            return Err(bad("'version' given twice".into()));
                        }
                        let n: u32 = v
                            .parse()
                            .ok()
                            .filter(|n| *n >= 1)
                            .ok_or_else(|| bad(format!("version '{v}' is not a number ≥ 1")))?;
                        r.version = Some(n);
                    }
                    "field" => {
                        if r.field.is_some() {
                            return Err(bad("'field' given twice".into()));
                        }
                        let f = decode(v).map_err(&bad)?;
                        if f.is_empty() {
                            return Err(bad("'field' is empty".into()));
                        }
                        r.field = Some(f);
                    }
                    other => {
                        return Err(bad(format!(
                            "unknown parameter '{other}' (known: version, field)"
                        )));
                    }
                }
            }
        }
        Ok(r)
    }

    /// The value this reference stands for, given the secret's value: the whole value, or
    /// the `field` member of a JSON object.
    ///
    /// # Errors
    /// [`ReferenceError::Field`] when the value is not a JSON object or lacks the member.
    pub fn select(&self, value: SecretBytes) -> Result<SecretBytes, ReferenceError> {
        let Some(field) = &self.field else {
            return Ok(value);
        };
        let err = |why: String| ReferenceError::Field {
            reference: self.to_string(),
            why,
        };
        let doc: serde_json::Value = serde_json::from_slice(value.expose()).map_err(|_| {
            err("the secret's value is not JSON; ?field= needs a JSON object".into())
        })?;
        let obj = doc
            .as_object()
            .ok_or_else(|| err("the secret's value is not a JSON object".into()))?;
        let member = obj
            .get(field)
            .ok_or_else(|| err(format!("the JSON object has no member '{field}'")))?;
        Ok(match member {
            serde_json::Value::String(s) => SecretBytes::from(s.as_str()),
            other => SecretBytes::from(other.to_string().as_str()),
        })
    }
}

/// A reference for an error message: at most 200 characters, control characters escaped.
fn shown(s: &str) -> String {
    let t: String = s.chars().take(200).collect();
    let t = t.escape_debug().to_string();
    if s.chars().count() > 200 {
        format!("{t}…")
    } else {
        t
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = format!(
            "{SCHEME}{}/{}/{}",
            encode(&self.app),
            encode(&self.env),
            encode(&self.key)
        );
        let mut sep = '?';
        if let Some(v) = self.version {
            s.push_str(&format!("{sep}version={v}"));
            sep = '&';
        }
        if let Some(field) = &self.field {
            s.push_str(&format!("{sep}field={}", encode(field)));
        }
        // A final '.' is written %2E: in a text, a '.' ending a reference is punctuation.
        if s.ends_with('.') {
            s.pop();
            s.push_str("%2E");
        }
        f.write_str(&s)
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// Every reference in `text`, with its byte range, in order; the ones that do not parse
/// are returned as errors (so a caller can name every bad one at once).
pub fn find(text: &str) -> Vec<(Range<usize>, Result<Reference, ReferenceError>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find(SCHEME) {
        let start = at + i;
        let body = &text[start + SCHEME.len()..];
        let len = body
            .char_indices()
            .find(|&(_, c)| !is_reference_char(c))
            .map_or(body.len(), |(j, _)| j);
        // A sentence may end right after a reference: a final '.' is punctuation.
        let mut end = start + SCHEME.len() + len;
        while end > start + SCHEME.len() && text.as_bytes()[end - 1] == b'.' {
            end -= 1;
        }
        out.push((start..end, Reference::parse(&text[start..end])));
        at = end.max(start + SCHEME.len());
    }
    out
}

/// Whether `s` is one reference as a whole (an environment variable's value, say).
pub fn is_reference(s: &str) -> bool {
    s.starts_with(SCHEME)
}

/// What one read of many references found: each reference's value, or `None` when no such
/// secret (or version) exists.
pub type Resolved = Vec<Option<SecretBytes>>;

impl Vault {
    /// The values of `refs` (before [`Reference::select`]), all read in one call to the store
    /// ([`tresor_store::Store::read_many_by_name`]: one SQL query on SQLite and PostgreSQL
    /// for up to [`tresor_store::MAX_MANY`] distinct names and versions; the S3 backend reads
    /// each name on its own). `None` marks a reference whose secret or version does not
    /// exist, or whose version's material was destroyed.
    ///
    /// # Errors
    /// Store errors (a tampered object, a wrong key), never a missing secret.
    pub fn read_references(&self, refs: &[Reference]) -> crate::Result<Resolved> {
        let names: Vec<String> = refs.iter().map(Reference::name).collect();
        let mut index: std::collections::HashMap<(&str, u32), usize> =
            std::collections::HashMap::new();
        let mut wanted: Vec<(&str, u32)> = Vec::new();
        let slots: Vec<usize> = names
            .iter()
            .zip(refs)
            .map(|(n, r)| {
                let key = (n.as_str(), r.version.unwrap_or(0));
                *index.entry(key).or_insert_with(|| {
                    wanted.push(key);
                    wanted.len() - 1
                })
            })
            .collect();
        let found = self
            .store()
            .read_many_by_name(&wanted)
            .map_err(VaultError::Store)?;
        let values: Vec<Option<SecretBytes>> = found
            .into_iter()
            .map(|f| {
                f.filter(|(m, _)| vault_view(m).is_some())
                    .and_then(|(_, v)| v)
            })
            .collect();
        Ok(slots.into_iter().map(|i| values[i].clone()).collect())
    }
}

#[cfg(test)]
#[path = "reference_test.rs"]
mod tests;
