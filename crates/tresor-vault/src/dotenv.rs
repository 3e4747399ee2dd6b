//! Reading and writing `.env` files.
//!
//! # The quoting scheme [`render`] uses
//!
//! Every value is quoted, so nothing after the `=` is ever read as a
//! comment, trimmed or word-split. The scheme was checked against
//! python-dotenv 1.2, dotenv 16 (node) and dotenvx 1 (see the tests):
//!
//! 1. **Single quotes** `NAME='value'` when the value has no `'`, no
//!    carriage return, no `\\` pair and does not end in `\`. All three
//!    parsers read such a value back exactly, `$`, `#`, `"`, a lone `\` and
//!    raw line feeds included (dotenvx does not expand `$NAME` inside single
//!    quotes; python-dotenv only decodes `\\` and `\'` there, which the
//!    conditions exclude).
//! 2. **Double quotes** `NAME="value"` otherwise, with `\` written `\\`,
//!    `"` written `\"`, a line feed written `\n` and a carriage return
//!    written `\r` (a raw carriage return would not survive: parsers
//!    normalise line ends). python-dotenv decodes exactly these escapes, so
//!    the value round-trips. The node parsers decode only `\n` and `\r`
//!    there, and dotenvx expands `$NAME`; so for them such a value is exact
//!    only if it has no `\`, `"` or `$` ([`Hazards::node`]).
//!
//! One hazard is left that no quoting removes: python-dotenv, with its
//! default `interpolate=True`, expands `${NAME}` in *every* value, quoted
//! or not ([`Hazards::python_interpolation`]); load such files with
//! `interpolate=False`.
//!
//! # The grammar [`parse`] accepts
//!
//! python-dotenv's: blank lines and `#` comment lines; an optional
//! `export ` prefix; `NAME=value` with optional blanks around `=`;
//! single-quoted values (where `\\` and `\'` are decoded), double-quoted
//! values (where `\\ \' \" \a \b \f \n \r \t \v` are decoded and other
//! backslashes kept), both of which may span lines, followed by an
//! optional `# comment`; and unquoted values, which end at the line end or
//! at a blank followed by `#`, with trailing blanks removed. Unlike
//! python-dotenv, which skips what it cannot read, a line it cannot read
//! (no `=`, an unterminated quote, text after a closing quote, an invalid
//! name, a name given twice) is an error naming the line.
//!
//! # Examples
//!
//! ```
//! use tresor_vault::dotenv;
//!
//! let text = dotenv::render([("A", "plain $HOME"), ("B", "it's\n\"two\" lines")]);
//! assert_eq!(&*text, "A='plain $HOME'\nB=\"it's\\n\\\"two\\\" lines\"\n");
//! let back = dotenv::parse(&text)?;
//! assert_eq!(back[1].name, "B");
//! assert_eq!(back[1].value(), "it's\n\"two\" lines");
//! # Ok::<(), tresor_vault::dotenv::DotenvError>(())
//! ```

use std::fmt;

use zeroize::Zeroizing;

use crate::filter::{NameError, NamePart, validate_name};

/// An error from parsing a `.env` file. It never contains a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error parsing .env at line {line}: {kind}")]
pub struct DotenvError {
    /// The 1-based line where the bad entry starts.
    pub line: usize,
    /// What is wrong.
    pub kind: DotenvErrorKind,
}

/// What is wrong with a `.env` entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DotenvErrorKind {
    /// A line with a name but no `=`.
    #[error("expected '=' after name '{0}'")]
    MissingEquals(String),
    /// A line that starts with `=`.
    #[error("missing name before '='")]
    MissingName,
    /// A quoted value whose closing quote never comes.
    #[error("unterminated {0}-quoted value of '{1}'")]
    Unterminated(&'static str, String),
    /// Text after the closing quote that is not a comment.
    #[error("unexpected text after the closing quote of '{0}'")]
    TrailingText(String),
    /// The name is not a valid key name.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// The name holds U+FEFF, a byte-order mark: invisible, and dropped at the start of a
    /// file, so such a name would not read back the same.
    #[error("name {0:?} contains a byte-order mark (U+FEFF)")]
    ByteOrderMark(String),
    /// The name was given earlier in the file.
    #[error("duplicate name '{name}' (first on line {first_line})")]
    Duplicate {
        /// The repeated name.
        name: String,
        /// The line of its first definition.
        first_line: usize,
    },
}

/// One `NAME=value` entry of a `.env` file.
#[derive(Clone, PartialEq, Eq)]
pub struct DotenvEntry {
    /// The variable name.
    pub name: String,
    value: Zeroizing<String>,
    /// The 1-based line the entry starts on.
    pub line: usize,
}

impl DotenvEntry {
    /// The value (a secret: do not log it).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Takes the value out of the entry.
    pub fn into_value(self) -> Zeroizing<String> {
        self.value
    }
}

impl fmt::Debug for DotenvEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DotenvEntry")
            .field("name", &self.name)
            .field("value", &"[REDACTED]")
            .field("line", &self.line)
            .finish()
    }
}

/// Returns true if and only if python-dotenv, with its default
/// `interpolate=True`, would change `value` when reading it back (it
/// contains `${`, which no quoting protects).
pub fn interpolation_hazard(value: &str) -> bool {
    value.contains("${")
}

/// Which common parsers may read a [`render`]ed value back differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hazards {
    /// python-dotenv with `interpolate=True` expands `${...}` in it.
    pub python_interpolation: bool,
    /// dotenv / dotenvx (node) do not read it back exactly: it needs
    /// double quotes and has a `\`, `"` or `$` (dotenvx expands `$NAME`).
    pub node: bool,
}

impl Hazards {
    /// Returns true if and only if no known parser changes the value.
    pub fn is_none(&self) -> bool {
        *self == Hazards::default()
    }
}

/// Tells which parsers may not read `value` back exactly once rendered.
pub fn hazards(value: &str) -> Hazards {
    Hazards {
        python_interpolation: interpolation_hazard(value),
        node: !single_quotable(value) && value.contains(['\\', '"', '$']),
    }
}

/// Returns true if and only if `value` reads back exactly from single
/// quotes in every parser the module docs name.
fn single_quotable(value: &str) -> bool {
    !value.contains(['\'', '\r']) && !value.contains("\\\\") && !value.ends_with('\\')
}

/// Renders one value in the quoting scheme described in the module docs,
/// quotes included.
pub fn render_value(value: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(value.len() + 2));
    if single_quotable(value) {
        out.push('\'');
        out.push_str(value);
        out.push('\'');
        return out;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Returns true if and only if `name` is a portable environment variable name:
/// `[A-Za-z_][A-Za-z0-9_]*`. Only such names may become a variable in a `.env` file or a child
/// environment; anything else (`PATH=/x #`, a space, a newline) could set another variable or
/// be read differently by each parser.
///
/// ```
/// use tresor_vault::dotenv::is_env_var_name;
/// assert!(is_env_var_name("DB_PASSWORD"));
/// assert!(is_env_var_name("_x1"));
/// assert!(!is_env_var_name("PATH=/x #"));
/// assert!(!is_env_var_name("1X"));
/// assert!(!is_env_var_name(""));
/// ```
pub fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Renders `NAME=value` lines, one per pair, each ending in a line feed.
///
/// Names are written as given; check them with [`is_env_var_name`] first.
pub fn render<I, N, V>(pairs: I) -> Zeroizing<String>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    let mut out = Zeroizing::new(String::new());
    for (name, value) in pairs {
        out.push_str(name.as_ref());
        out.push('=');
        out.push_str(&render_value(value.as_ref()));
        out.push('\n');
    }
    out
}

/// A cursor over the text that counts lines.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' || (c == '\r' && !self.rest().starts_with('\n')) {
            self.line += 1;
        }
        Some(c)
    }

    /// Skips blanks (spaces and tabs, not line breaks).
    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace() && c != '\n' && c != '\r') {
            self.bump();
        }
    }

    /// Takes text up to (not including) the next line break.
    fn take_line(&mut self) -> &'a str {
        let rest = self.rest();
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        self.pos += end;
        &rest[..end]
    }

    /// Consumes one line break, if there is one.
    fn eat_newline(&mut self) {
        if self.rest().starts_with("\r\n") {
            self.pos += 1;
        }
        if matches!(self.peek(), Some('\n' | '\r')) {
            self.bump();
        }
    }
}

/// Parses a `.env` file into its entries, in file order.
///
/// # Errors
///
/// Returns a [`DotenvError`] with the line of the first entry it cannot
/// read; see the module docs for the grammar.
pub fn parse(text: &str) -> Result<Vec<DotenvEntry>, DotenvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut cur = Cursor {
        text,
        pos: 0,
        line: 1,
    };
    let mut out: Vec<DotenvEntry> = Vec::new();
    loop {
        // Skip blank lines and whitespace.
        while matches!(cur.peek(), Some(c) if c.is_whitespace()) {
            cur.bump();
        }
        let Some(c) = cur.peek() else { break };
        let line = cur.line;
        let err = |kind| DotenvError { line, kind };
        if c == '#' {
            cur.take_line();
            continue;
        }
        let exported = cur
            .rest()
            .strip_prefix("export")
            .is_some_and(|after| after.starts_with([' ', '\t']));
        if exported {
            cur.pos += "export".len();
            cur.skip_blanks();
        }
        // The name: up to '=', a blank, '#' or the line end.
        let rest = cur.rest();
        let end = rest
            .find(|c: char| c == '=' || c == '#' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = &rest[..end];
        cur.pos += end;
        cur.skip_blanks();
        if cur.peek() != Some('=') {
            return Err(err(DotenvErrorKind::MissingEquals(name.to_owned())));
        }
        if name.is_empty() {
            return Err(err(DotenvErrorKind::MissingName));
        }
        validate_name(NamePart::Key, name).map_err(|e| err(e.into()))?;
        if name.contains('\u{feff}') {
            return Err(err(DotenvErrorKind::ByteOrderMark(name.to_owned())));
        }
        cur.bump();
        let had_blank = matches!(cur.peek(), Some(' ' | '\t'));
        cur.skip_blanks();
        let value = match cur.peek() {
            Some(q @ ('\'' | '"')) => {
                cur.bump();
                let v = read_quoted(&mut cur, q).ok_or_else(|| {
                    err(DotenvErrorKind::Unterminated(quote_name(q), name.into()))
                })?;
                cur.skip_blanks();
                match cur.peek() {
                    None | Some('\n' | '\r') => {}
                    Some('#') => {
                        cur.take_line();
                    }
                    Some(_) => return Err(err(DotenvErrorKind::TrailingText(name.into()))),
                }
                v
            }
            // `NAME= # comment` is an empty value.
            Some('#') if had_blank => {
                cur.take_line();
                Zeroizing::new(String::new())
            }
            _ => {
                let raw = cur.take_line();
                let cut = comment_start(raw).unwrap_or(raw.len());
                Zeroizing::new(raw[..cut].trim_end().to_owned())
            }
        };
        cur.eat_newline();
        if let Some(first) = out.iter().find(|e| e.name == name) {
            return Err(err(DotenvErrorKind::Duplicate {
                name: name.to_owned(),
                first_line: first.line,
            }));
        }
        out.push(DotenvEntry {
            name: name.to_owned(),
            value,
            line,
        });
    }
    Ok(out)
}

fn quote_name(q: char) -> &'static str {
    if q == '"' { "double" } else { "single" }
}

/// Where an inline comment (a blank followed by `#`) starts in an unquoted
/// value.
fn comment_start(raw: &str) -> Option<usize> {
    let mut prev_blank = false;
    for (i, c) in raw.char_indices() {
        if c == '#' && prev_blank {
            // Back up over the blanks before '#'.
            return Some(raw[..i].trim_end().len());
        }
        prev_blank = c.is_whitespace();
    }
    None
}

/// Reads a quoted value after its opening quote `q`, through the closing
/// quote; `None` if the text ends first.
fn read_quoted(cur: &mut Cursor<'_>, q: char) -> Option<Zeroizing<String>> {
    let mut out = Zeroizing::new(String::new());
    loop {
        let c = cur.bump()?;
        if c == q {
            return Some(out);
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let next = cur.peek()?;
        let decoded = match (q, next) {
            (_, '\\') => Some('\\'),
            (_, '\'') => Some('\''),
            ('"', '"') => Some('"'),
            ('"', 'a') => Some('\u{7}'),
            ('"', 'b') => Some('\u{8}'),
            ('"', 'f') => Some('\u{c}'),
            ('"', 'n') => Some('\n'),
            ('"', 'r') => Some('\r'),
            ('"', 't') => Some('\t'),
            ('"', 'v') => Some('\u{b}'),
            _ => None,
        };
        match decoded {
            Some(d) => {
                cur.bump();
                out.push(d);
            }
            None => {
                // Kept as written; the escaped character (even the quote
                // of a single-quoted value, as python-dotenv's regex does)
                // is taken literally.
                out.push('\\');
                if let Some(n) = cur.bump() {
                    out.push(n);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "dotenv_test.rs"]
mod tests;
