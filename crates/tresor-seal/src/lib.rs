//! Sealed files: `.env`, JSON, YAML and TOML files whose **values** are encrypted in place
//! while keys, comments and order stay readable, so they live in git, diff and merge.
//!
//! - [`seal`] encrypts a plaintext document to recipients (age X25519, ssh-ed25519) under a
//!   fresh per-file data key; [`open`] checks and decrypts one ([`Opened`]).
//! - Each value is sealed with AES-256-GCM-SIV under a key derived from the data key, with a
//!   synthetic nonce (HMAC of key path and plaintext): an unchanged value keeps its ciphertext
//!   byte for byte, so `git diff` shows exactly the values that changed, plus the MAC line.
//! - A MAC over the whole sealed file (keys, values, order, comments, header) sits alone on
//!   the header's last line.
//! - [`merge::merge`] merges three versions per key (for git's merge driver); [`dotenvx`]
//!   reads and writes dotenvx's `encrypted:` values.
//!
//! The format is specified in `docs/SEALED_FILES.md`.
//!
//! # Examples
//! ```
//! let id = age::x25519::Identity::generate();
//! let r = id.to_public().to_string();
//! let sealed = tresor_seal::seal("A=1\nB=two # note\n", tresor_seal::Format::Dotenv, &[r])?;
//! assert!(sealed.contains("# note") && !sealed.contains("two"));
//! let ids: Vec<tresor_seal::Identity> = vec![Box::new(id)];
//! let o = tresor_seal::open(&sealed, tresor_seal::Format::Dotenv, &ids)?;
//! assert_eq!(o.plaintext(), "A=1\nB=two # note\n");
//! # Ok::<(), tresor_seal::SealError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod dotenv;
pub mod dotenvx;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod header;
pub mod json;
mod keys;
pub mod merge;
mod recipients;
pub mod toml;
pub mod yaml;

use std::ops::Range;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

pub use error::{Result, SealError};
pub use header::Header;
pub use keys::{DataKey, TOKEN_PREFIX};
pub use recipients::{
    Identity, KeyService, MAX_NAME, Recipient, RecipientKind, kmip_parts, load_identities,
    normalize_recipient, parse_recipient,
};

/// Largest file sealed or opened (16 MiB).
pub const MAX_SIZE: usize = 16 << 20;
/// Deepest nesting of a JSON, YAML or TOML document.
pub const MAX_DEPTH: usize = 64;
/// Most values in one file.
pub const MAX_VALUES: usize = 100_000;

/// A file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.env` (`KEY=value` lines).
    Dotenv,
    /// JSON (an object at the top level).
    Json,
    /// YAML (block style, one document).
    Yaml,
    /// TOML.
    Toml,
}

impl Format {
    /// The format a file name implies: `*.json`, `*.yaml`/`*.yml`, `*.toml`, and `.env`,
    /// `.env.*`, `*.env` for dotenv.
    pub fn from_path(p: &std::path::Path) -> Option<Self> {
        let name = p.file_name()?.to_str()?;
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext {
            "json" => return Some(Self::Json),
            "yaml" | "yml" => return Some(Self::Yaml),
            "toml" => return Some(Self::Toml),
            _ => {}
        }
        (name == ".env" || name.starts_with(".env.") || name.ends_with(".env"))
            .then_some(Self::Dotenv)
    }

    /// Its name: `dotenv`, `json`, `yaml`, `toml`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dotenv => "dotenv",
            Self::Json => "json",
            Self::Yaml => "yaml",
            Self::Toml => "toml",
        }
    }

    fn scan(self, text: &str) -> Result<Vec<Leaf>> {
        if text.len() > MAX_SIZE {
            return Err(SealError::TooLarge(format!(
                "the file is larger than {} MiB",
                MAX_SIZE >> 20
            )));
        }
        match self {
            Self::Dotenv => dotenv::scan(text),
            Self::Json => json::scan(text).map(|(l, _)| l),
            Self::Yaml => yaml::scan(text),
            Self::Toml => toml::scan(text),
        }
    }

    pub(crate) fn scan_spans(self, text: &str) -> Result<Vec<Range<usize>>> {
        Ok(self.scan(text)?.into_iter().map(|l| l.span).collect())
    }

    fn token_literal(self, token: &str) -> String {
        match self {
            Self::Dotenv => dotenv::token_literal(token),
            Self::Json => json::token_literal(token),
            Self::Yaml => yaml::token_literal(token),
            Self::Toml => toml::token_literal(token),
        }
    }

    fn token_of(self, raw: &str) -> Option<&str> {
        match self {
            Self::Dotenv => dotenv::token_of(raw),
            Self::Json => json::token_of(raw),
            Self::Yaml => yaml::token_of(raw),
            Self::Toml => toml::token_of(raw),
        }
    }

    /// The value a raw value text stands for (quotes removed, escapes expanded).
    pub fn unquote(self, raw: &str) -> String {
        match self {
            Self::Dotenv => dotenv::unquote(raw),
            Self::Json => json::unquote(raw),
            Self::Yaml => yaml::unquote(raw),
            Self::Toml => toml::unquote(raw),
        }
    }
}

impl FromStr for Format {
    type Err = SealError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "dotenv" | "env" => Self::Dotenv,
            "json" => Self::Json,
            "yaml" | "yml" => Self::Yaml,
            "toml" => Self::Toml,
            _ => {
                return Err(SealError::Key(format!(
                    "unknown format '{s}': dotenv, json, yaml or toml"
                )));
            }
        })
    }
}

/// Where a value sits in its document: keys from the top, array items by index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath(pub Vec<String>);

impl KeyPath {
    /// The path with `.` between parts (for messages).
    pub fn dotted(&self) -> String {
        self.0.join(".")
    }

    /// An unambiguous binary form (each part length-prefixed).
    pub fn aad(&self) -> Vec<u8> {
        let mut a = Vec::new();
        for p in &self.0 {
            a.extend_from_slice(&(p.len() as u32).to_be_bytes());
            a.extend_from_slice(p.as_bytes());
        }
        a
    }

    fn from_aad(b: &[u8]) -> Option<Self> {
        let mut parts = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let n = u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?) as usize;
            i += 4;
            parts.push(String::from_utf8(b.get(i..i + n)?.to_vec()).ok()?);
            i += n;
        }
        Some(Self(parts))
    }
}

/// One value of a document: its path and the byte span of its raw text.
#[derive(Clone, Debug)]
pub(crate) struct Leaf {
    pub path: KeyPath,
    pub span: Range<usize>,
}

pub(crate) fn check_count(n: usize) -> Result<()> {
    if n > MAX_VALUES {
        return Err(SealError::TooLarge(format!(
            "more than {MAX_VALUES} values"
        )));
    }
    Ok(())
}

fn is_marker(line: &str) -> bool {
    let l = line.trim_end_matches(['\r', '\n']);
    l.starts_with("<<<<<<<") || l == "=======" || l.starts_with(">>>>>>>")
}

/// Refuses a conflict marker at the line starting at `at`.
pub(crate) fn check_marker(text: &str, at: usize) -> Result<()> {
    let line = text[at..].split('\n').next().unwrap_or("");
    if is_marker(line) {
        return Err(SealError::ConflictMarker(error::line_of(text, at)));
    }
    Ok(())
}

fn check_markers(text: &str) -> Result<()> {
    for (i, l) in text.lines().enumerate() {
        if is_marker(l) {
            return Err(SealError::ConflictMarker(i + 1));
        }
    }
    Ok(())
}

/// Seals `plain` (a plaintext document) to `recipients` under a new data key.
///
/// # Errors
/// [`SealError::Syntax`] naming the line for a document that does not parse,
/// [`SealError::AlreadySealed`], [`SealError::Key`] for a bad recipient.
pub fn seal(plain: &str, format: Format, recipients: &[String]) -> Result<String> {
    seal_via(plain, format, recipients, None)
}

/// [`seal`], with `service` wrapping the data key to the AWS KMS and KMIP recipients.
///
/// # Errors
/// As [`seal`]; [`SealError::Key`] with the service's answer when it cannot wrap.
pub fn seal_via(
    plain: &str,
    format: Format,
    recipients: &[String],
    service: Option<&dyn KeyService>,
) -> Result<String> {
    let recipients = canonical(recipients)?;
    let key = DataKey::generate()?;
    let wrapped = recipients::wrap(&key, &recipients, service)?;
    seal_with(plain, format, &key, recipients, wrapped, &[])
}

/// Canonical entries, each recipient key once.
fn canonical(recipients: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<Recipient> = Vec::new();
    for r in recipients {
        let r = Recipient::parse(r)?;
        if let Some(n) = &r.name
            && out
                .iter()
                .any(|o| o.name.as_ref() == Some(n) && o.key != r.key)
        {
            return Err(SealError::Key(format!(
                "two recipients are named '{n}': names must be unique"
            )));
        }
        if !out.iter().any(|o| o.key == r.key) {
            out.push(r);
        }
    }
    Ok(out.iter().map(Recipient::entry).collect())
}

/// Whether `text` carries a seal header.
///
/// # Errors
/// A damaged header.
pub fn is_sealed(text: &str, format: Format) -> Result<bool> {
    Ok(header::split(format, text)?.is_some())
}

/// The recipients a sealed file names (no identity needed).
///
/// # Errors
/// [`SealError::NotSealed`] and header errors.
pub fn recipients_of(text: &str, format: Format) -> Result<Vec<String>> {
    Ok(header::split(format, text)?
        .ok_or(SealError::NotSealed)?
        .1
        .recipients)
}

pub(crate) fn seal_with(
    plain: &str,
    format: Format,
    key: &DataKey,
    recipients: Vec<String>,
    wrapped: (String, Vec<(String, String)>),
    conflicts: &[(KeyPath, Zeroizing<String>)],
) -> Result<String> {
    check_markers(plain)?;
    if header::split(format, plain)?.is_some() {
        return Err(SealError::AlreadySealed);
    }
    let leaves = format.scan(plain)?;
    let mut body = String::with_capacity(plain.len() * 2);
    let mut last = 0;
    let mut tokens = Vec::with_capacity(leaves.len());
    for l in &leaves {
        body.push_str(&plain[last..l.span.start]);
        let tok = key.seal_value(&l.path, plain[l.span.clone()].as_bytes())?;
        body.push_str(&format.token_literal(&tok));
        tokens.push(tok);
        last = l.span.end;
    }
    body.push_str(&plain[last..]);
    let mut cs = Vec::new();
    for (p, raw) in conflicts {
        cs.push((
            URL_SAFE_NO_PAD.encode(p.aad()),
            key.seal_value(p, raw.as_bytes())?,
        ));
    }
    let mut h = Header {
        recipients,
        data_key: wrapped.0,
        wraps: wrapped.1,
        conflicts: cs,
        mac: String::new(),
    };
    h.mac = key.mac(format.name(), &header::join(format, &body, &h));
    let out = header::join(format, &body, &h);
    reads_back(format, &out, &leaves, &tokens)?;
    Ok(out)
}

/// Checks that a just-sealed `out` reads back as written: the same key paths in the same
/// order, each value exactly the token sealed for it. Without this an unusual layout (found by
/// the `seal` fuzz target) could turn a plaintext file into one nobody can open.
fn reads_back(format: Format, out: &str, leaves: &[Leaf], tokens: &[String]) -> Result<()> {
    let Some((body, _)) = header::split(format, out)? else {
        return Err(SealError::WouldNotReopen("no header".into()));
    };
    let again = format
        .scan(&body)
        .map_err(|e| SealError::WouldNotReopen(e.to_string()))?;
    if again.len() != leaves.len() {
        return Err(SealError::WouldNotReopen(format!(
            "{} values sealed, {} read back",
            leaves.len(),
            again.len()
        )));
    }
    for ((a, l), tok) in again.iter().zip(leaves).zip(tokens) {
        let raw = body.get(a.span.clone()).unwrap_or("");
        if a.path != l.path || format.token_of(raw) != Some(tok.as_str()) {
            return Err(SealError::WouldNotReopen(format!(
                "the value of '{}' reads back differently",
                l.path.0.join(".")
            )));
        }
    }
    Ok(())
}

/// A sealed file, checked and decrypted.
pub struct Opened {
    format: Format,
    key: DataKey,
    header: Header,
    plain: Zeroizing<String>,
    conflicts: Vec<(KeyPath, Zeroizing<String>)>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("format", &self.format)
            .field("recipients", &self.header.recipients)
            .finish_non_exhaustive()
    }
}

/// Checks and decrypts a sealed file with the first of `ids` that is a recipient.
///
/// # Errors
/// [`SealError::NotSealed`] (no header: not sealed or truncated), [`SealError::Header`] (a
/// damaged or altered header, with its line), [`SealError::NoIdentity`],
/// [`SealError::Syntax`] / [`SealError::Value`] (the line and key of a damaged value),
/// [`SealError::Mac`] (anything else changed).
pub fn open(text: &str, format: Format, ids: &[Identity]) -> Result<Opened> {
    open_via(text, format, ids, None)
}

/// [`open`], with `service` unwrapping the data key for AWS KMS and KMIP recipients when no
/// identity fits.
///
/// # Errors
/// As [`open`]; [`SealError::Key`] with each service's answer when none opened it.
pub fn open_via(
    text: &str,
    format: Format,
    ids: &[Identity],
    service: Option<&dyn KeyService>,
) -> Result<Opened> {
    if text.len() > MAX_SIZE {
        return Err(SealError::TooLarge(format!(
            "the file is larger than {} MiB",
            MAX_SIZE >> 20
        )));
    }
    let (body, h) = header::split(format, text)?.ok_or(SealError::NotSealed)?;
    let again = header::join(format, &body, &h);
    if again != text {
        let at = again
            .bytes()
            .zip(text.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(again.len().min(text.len()));
        return Err(SealError::Header {
            line: error::line_of(text, at),
            what: "the file differs from its canonical sealed form (edited by hand?)".into(),
        });
    }
    let key = recipients::unwrap(&h.data_key, &h.wraps, ids, service)?;
    let leaves = format.scan(&body)?;
    let mut plain = Zeroizing::new(String::with_capacity(body.len()));
    let mut last = 0;
    for l in &leaves {
        let raw = &body[l.span.clone()];
        let bad = |what| SealError::Value {
            key: l.path.dotted(),
            line: error::line_of(&body, l.span.start),
            what,
        };
        let tok = format.token_of(raw).ok_or_else(|| {
            bad("is not a tresor sealed value (edited in clear? use 'tresor edit')")
        })?;
        let v = key.open_value(&l.path, tok).map_err(bad)?;
        plain.push_str(&body[last..l.span.start]);
        plain.push_str(&v);
        last = l.span.end;
    }
    plain.push_str(&body[last..]);
    let mut h0 = h.clone();
    h0.mac = String::new();
    let want = key.mac(format.name(), &header::join(format, &body, &h0));
    if !tresor_crypto::ct_eq(want.as_bytes(), h.mac.as_bytes()) {
        return Err(SealError::Mac);
    }
    let mut conflicts = Vec::new();
    for (p, t) in &h.conflicts {
        let path = URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| KeyPath::from_aad(&b))
            .ok_or(SealError::Header {
                line: 0,
                what: "malformed conflict entry".into(),
            })?;
        let v = key.open_value(&path, t).map_err(|what| SealError::Value {
            key: path.dotted(),
            line: 0,
            what,
        })?;
        conflicts.push((path, v));
    }
    Ok(Opened {
        format,
        key,
        header: h,
        plain,
        conflicts,
    })
}

impl Opened {
    /// The plaintext document (with this side's value where a merge left a conflict).
    pub fn plaintext(&self) -> &str {
        &self.plain
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The recipients in the header (`KEY` or `KEY NAME`).
    pub fn recipients(&self) -> &[String] {
        &self.header.recipients
    }

    /// The data key's public fingerprint.
    pub fn data_key_id(&self) -> String {
        self.key.id()
    }

    /// The key paths a merge left in conflict.
    pub fn conflicts(&self) -> Vec<String> {
        self.conflicts.iter().map(|(p, _)| p.dotted()).collect()
    }

    /// The plaintext to show and edit: each conflict written as conflict markers around the
    /// lines of its key, ours then theirs.
    ///
    /// # Errors
    /// A document that no longer parses (not expected for an opened file).
    pub fn plaintext_view(&self) -> Result<Zeroizing<String>> {
        if self.conflicts.is_empty() {
            return Ok(self.plain.clone());
        }
        let p: &str = &self.plain;
        let leaves = self.format.scan(p)?;
        let mut out = Zeroizing::new(String::with_capacity(p.len() * 2));
        let mut last = 0;
        for l in &leaves {
            let Some((_, theirs)) = self.conflicts.iter().find(|(c, _)| *c == l.path) else {
                continue;
            };
            let ls = p[..l.span.start].rfind('\n').map_or(0, |i| i + 1);
            let le = p[l.span.end..]
                .find('\n')
                .map_or(p.len(), |i| l.span.end + i + 1);
            if ls < last {
                continue;
            }
            out.push_str(&p[last..ls]);
            out.push_str("<<<<<<< ours\n");
            out.push_str(&p[ls..le]);
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("=======\n");
            out.push_str(&p[ls..l.span.start]);
            out.push_str(theirs);
            out.push_str(&p[l.span.end..le]);
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(">>>>>>> theirs\n");
            last = le;
        }
        out.push_str(&p[last..]);
        Ok(out)
    }

    /// Seals `plain` (an edited plaintext) with this file's data key and recipients: values
    /// left as they were keep their ciphertexts.
    ///
    /// # Errors
    /// As [`seal`]; [`SealError::ConflictMarker`] while markers remain.
    pub fn reseal(&self, plain: &str) -> Result<String> {
        seal_with(
            plain,
            self.format,
            &self.key,
            self.header.recipients.clone(),
            (self.header.data_key.clone(), self.header.wraps.clone()),
            &[],
        )
    }

    /// Seals this file's plaintext to a new set of recipients. With `rotate`, under a new data
    /// key (every value re-encrypted: what is removed must be unable to read the new file);
    /// else the same data key is wrapped anew (values unchanged).
    ///
    /// # Errors
    /// [`SealError::Key`] for a bad or empty recipient list.
    pub fn with_recipients(&self, recipients: &[String], rotate: bool) -> Result<String> {
        self.with_recipients_via(recipients, rotate, None)
    }

    /// [`Opened::with_recipients`], with `service` wrapping the data key to the AWS KMS and
    /// KMIP recipients.
    ///
    /// # Errors
    /// As [`Opened::with_recipients`]; the service's answer when it cannot wrap.
    pub fn with_recipients_via(
        &self,
        recipients: &[String],
        rotate: bool,
        service: Option<&dyn KeyService>,
    ) -> Result<String> {
        let recipients = canonical(recipients)?;
        let key = if rotate {
            DataKey::generate()?
        } else {
            self.key.clone()
        };
        let wrapped = recipients::wrap(&key, &recipients, service)?;
        seal_with(
            &self.plain,
            self.format,
            &key,
            recipients,
            wrapped,
            &self.conflicts,
        )
    }

    /// The top-level values as (name, value) pairs for a child's environment: every value of
    /// a `.env` file; the scalars directly under the top of a JSON, YAML or TOML document.
    ///
    /// # Errors
    /// [`SealError::Merge`] while conflicts remain.
    pub fn values(&self) -> Result<Vec<(String, Zeroizing<String>)>> {
        if !self.conflicts.is_empty() {
            return Err(SealError::Merge(format!(
                "the file has unresolved merge conflicts ({}): resolve them with 'tresor edit'",
                self.conflicts().join(", ")
            )));
        }
        let p: &str = &self.plain;
        Ok(self
            .format
            .scan(p)?
            .into_iter()
            .filter(|l| l.path.0.len() == 1)
            .map(|l| {
                (
                    l.path.0[0].clone(),
                    Zeroizing::new(self.format.unquote(&p[l.span.clone()])),
                )
            })
            .collect())
    }

    /// Every value as (dotted key path, value unquoted), in document order.
    ///
    /// # Errors
    /// A document that no longer parses (not expected for an opened file).
    pub fn all_values(&self) -> Result<Vec<(String, Zeroizing<String>)>> {
        let p: &str = &self.plain;
        Ok(self
            .format
            .scan(p)?
            .into_iter()
            .map(|l| {
                (
                    l.path.dotted(),
                    Zeroizing::new(self.format.unquote(&p[l.span.clone()])),
                )
            })
            .collect())
    }

    pub(crate) fn key(&self) -> &DataKey {
        &self.key
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    pub(crate) fn leaves(&self) -> Result<Vec<(KeyPath, String)>> {
        let p: &str = &self.plain;
        Ok(self
            .format
            .scan(p)?
            .into_iter()
            .map(|l| (l.path, p[l.span].to_owned()))
            .collect())
    }
}

#[cfg(test)]
mod tests;
