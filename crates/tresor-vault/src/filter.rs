//! The `app:env:KEY` filter grammar, shaped like `globset`.
//!
//! A filter selects vault secrets by their three-part name. It follows
//! seeqret's filter strings:
//!
//! | filter | app | env | key |
//! |---|---|---|---|
//! | `KEY` | any | any | `KEY` |
//! | `APP:ENV` | `APP` | `ENV` | any |
//! | `APP:ENV:KEY` | `APP` | `ENV` | `KEY` |
//!
//! - An empty part matches anything: `:dev:` is every secret of env `dev`,
//!   and the empty filter matches every secret.
//! - A fourth `:` part is an error that points at the column of the
//!   offending `:`.
//! - A comma separates alternatives inside a part: `app1,app2:dev:X`.
//! - Each alternative is a glob matched against the whole name part,
//!   exactly and case-sensitively: `*` is any run of characters
//!   (including none), `?` is exactly one character, `[abc]` one of the
//!   listed characters, `[a-z]` a range, and `[!x]` (or `[^x]`) any
//!   character but those listed. A `]` right after `[` (or `[!`) is a
//!   literal `]`, and `-` first or last in a class is a literal `-`.
//!   Everything else, `_`, `%`, `\` and `.` included, is a literal: `DB_*`
//!   matches `DB_PASS` but neither `DBXPASS` nor `db_pass`. To match a
//!   literal `*`, `?`, `[` or `,` put it in a class: `[*]`, `[?]`, `[[]`,
//!   `[,]`.
//! - Control characters are rejected: no valid name contains one.
//!
//! Matching never backtracks exponentially: a glob is matched in
//! `O(len(glob) * len(name))` time at worst.
//!
//! # Examples
//!
//! ```
//! use tresor_vault::filter::{Filter, FilterSet};
//!
//! let f = Filter::new("myapp:dev:DB_*")?;
//! assert!(f.is_match("myapp", "dev", "DB_PASS"));
//! assert!(!f.is_match("myapp", "dev", "DBXPASS"));
//! assert!(!f.is_match("myapp", "prod", "DB_PASS"));
//!
//! let set = FilterSet::new([":dev:", ":prod,staging:API_?EY"])?;
//! assert!(set.is_match("x", "dev", "ANYTHING"));
//! assert!(set.is_match("x", "staging", "API_KEY"));
//!
//! let err = Filter::new("a:b:c:d").unwrap_err();
//! assert_eq!(err.to_string(), "error parsing filter 'a:b:c:d': too many ':' parts at column 6");
//! # Ok::<(), tresor_vault::filter::FilterError>(())
//! ```

use std::fmt;
use std::str::FromStr;

/// An error from parsing a filter, pointing at a 1-based character column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error parsing filter '{}': {kind} at column {column}", input.escape_debug())]
pub struct FilterError {
    /// The filter text as given.
    pub input: String,
    /// The 1-based column (in characters) where the problem is.
    pub column: usize,
    /// What is wrong.
    pub kind: FilterErrorKind,
}

/// What is wrong with a filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterErrorKind {
    /// More than three `:`-separated parts.
    #[error("too many ':' parts")]
    TooManyParts,
    /// A `[` without its closing `]`.
    #[error("unclosed character class; missing ']'")]
    UnclosedClass,
    /// A class range whose start is after its end, like `[z-a]`.
    #[error("invalid character range '{start}-{end}'")]
    InvalidRange {
        /// The start of the range.
        start: char,
        /// The end of the range.
        end: char,
    },
    /// An empty alternative in a comma list, like `a,,b` or `a,`.
    #[error("empty alternative in {part}")]
    EmptyAlternative {
        /// The part (`APP`, `ENV` or `KEY`) with the empty alternative.
        part: NamePart,
    },
    /// A control character, which no valid name contains.
    #[error("control character {ch:?}")]
    ControlChar {
        /// The offending character.
        ch: char,
    },
}

/// One of the three parts of a vault secret name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamePart {
    /// The application.
    App,
    /// The environment (`dev`, `prod`, ...).
    Env,
    /// The key (`DB_PASSWORD`).
    Key,
}

impl fmt::Display for NamePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NamePart::App => "APP",
            NamePart::Env => "ENV",
            NamePart::Key => "KEY",
        })
    }
}

/// An invalid app, env or key name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {part} name '{}': {kind}", value.escape_debug())]
pub struct NameError {
    /// Which part of the name is invalid.
    pub part: NamePart,
    /// The rejected value.
    pub value: String,
    /// Why it is invalid.
    pub kind: NameErrorKind,
}

/// Why a name part is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameErrorKind {
    /// The key is empty.
    #[error("must not be empty")]
    Empty,
    /// The value is only whitespace.
    #[error("must not be only whitespace")]
    WhitespaceOnly,
    /// The value contains a `:`.
    #[error("must not contain ':'")]
    Colon,
    /// The value contains a control character.
    #[error("must not contain control characters")]
    ControlChar,
}

/// Checks that `value` is a valid name for `part`.
///
/// No part may contain `:`, control characters, or be only whitespace; a
/// key must also be non-empty (an app or env may be empty).
///
/// # Errors
///
/// Returns a [`NameError`] naming the part and the rule broken.
///
/// # Examples
///
/// ```
/// use tresor_vault::filter::{validate_name, NamePart};
///
/// assert!(validate_name(NamePart::Key, "DB_PASSWORD").is_ok());
/// assert!(validate_name(NamePart::Key, "").is_err());
/// assert!(validate_name(NamePart::App, "a:b").is_err());
/// ```
pub fn validate_name(part: NamePart, value: &str) -> Result<(), NameError> {
    let kind = if value.is_empty() {
        (part == NamePart::Key).then_some(NameErrorKind::Empty)
    } else if value.contains(':') {
        Some(NameErrorKind::Colon)
    } else if value.chars().any(char::is_control) {
        Some(NameErrorKind::ControlChar)
    } else if value.chars().all(char::is_whitespace) {
        Some(NameErrorKind::WhitespaceOnly)
    } else {
        None
    };
    match kind {
        None => Ok(()),
        Some(kind) => Err(NameError {
            part,
            value: value.to_owned(),
            kind,
        }),
    }
}

/// Checks all three parts of a name with [`validate_name`].
///
/// # Errors
///
/// Returns the [`NameError`] of the first invalid part.
pub fn validate_full_name(app: &str, env: &str, key: &str) -> Result<(), NameError> {
    validate_name(NamePart::App, app)?;
    validate_name(NamePart::Env, env)?;
    validate_name(NamePart::Key, key)
}

/// One element of a compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A run of literal characters.
    Literal(String),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters.
    Many,
    /// `[...]`: one character in (or, negated, not in) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Token {
    /// Returns true if and only if this single-character token matches `c`.
    fn matches_char(&self, c: char) -> bool {
        match self {
            Token::One => true,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
            Token::Literal(_) | Token::Many => false,
        }
    }
}

/// One glob: a single alternative of one part of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
}

impl Glob {
    /// The glob text as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Returns the exact name this glob matches, if it has no glob
    /// characters (so an index lookup can replace matching).
    pub fn as_literal(&self) -> Option<&str> {
        match self.tokens.as_slice() {
            [] => Some(""),
            [Token::Literal(s)] => Some(s),
            _ => None,
        }
    }

    /// Returns the literal text every match starts with (possibly empty),
    /// for a prefix range scan.
    pub fn literal_prefix(&self) -> &str {
        match self.tokens.first() {
            Some(Token::Literal(s)) => s,
            _ => "",
        }
    }

    /// Returns true if and only if this glob matches all of `name`.
    pub fn is_match(&self, name: &str) -> bool {
        if let Some(lit) = self.as_literal() {
            return lit == name;
        }
        glob_match(&self.tokens, name)
    }

    /// Translates the glob to an SQLite `GLOB` pattern with the same
    /// meaning, so a store can push the match into SQL.
    ///
    /// Literal `*`, `?` and `[` become one-character classes, and `[!x]`
    /// becomes `[^x]`.
    pub fn to_sqlite_glob(&self) -> String {
        let mut out = String::with_capacity(self.source.len() + 4);
        for t in &self.tokens {
            match t {
                Token::Literal(s) => {
                    for c in s.chars() {
                        match c {
                            '*' | '?' | '[' => {
                                out.push('[');
                                out.push(c);
                                out.push(']');
                            }
                            _ => out.push(c),
                        }
                    }
                }
                Token::One => out.push('?'),
                Token::Many => out.push('*'),
                Token::Class { negated, ranges } => {
                    // SQLite reads `]` first and `-` first or last as
                    // literals, and `^` right after `[` as negation; so
                    // those three are taken out of the ranges and placed.
                    let has = |c: char| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                    let mut members = String::new();
                    if has(']') {
                        members.push(']');
                    }
                    for &(lo, hi) in ranges {
                        push_sqlite_range(&mut members, lo, hi);
                    }
                    if has('^') {
                        members.push('^');
                    }
                    if has('-') {
                        members.push('-');
                    }
                    if !negated && members == "^" {
                        out.push('^');
                        continue;
                    }
                    if !negated && members == "^-" {
                        members = "-^".to_owned();
                    }
                    out.push('[');
                    if *negated {
                        out.push('^');
                    }
                    out.push_str(&members);
                    out.push(']');
                }
            }
        }
        out
    }
}

/// Pushes the range `lo..=hi` minus the characters `-`, `]` and `^` (which
/// the caller places itself) as SQLite class members.
fn push_sqlite_range(out: &mut String, lo: char, hi: char) {
    let mut start = lo;
    for sp in ['-', ']', '^'] {
        if start <= sp && sp <= hi {
            if start < sp {
                push_plain_range(out, start, prev_char(sp));
            }
            match next_char(sp) {
                Some(n) => start = n,
                None => return,
            }
        }
    }
    if start <= hi {
        push_plain_range(out, start, hi);
    }
}

fn push_plain_range(out: &mut String, lo: char, hi: char) {
    out.push(lo);
    if lo != hi {
        out.push('-');
        out.push(hi);
    }
}

fn prev_char(c: char) -> char {
    // Only called with '-' or ']', whose predecessors are plain ASCII.
    char::from_u32(u32::from(c) - 1).unwrap_or(c)
}

fn next_char(c: char) -> Option<char> {
    char::from_u32(u32::from(c) + 1)
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Matches `tokens` against all of `s`, backtracking only to the most
/// recent `*` (so the cost is bounded by `len(tokens) * len(s)`).
fn glob_match(tokens: &[Token], s: &str) -> bool {
    let mut ti = 0usize;
    let mut si = 0usize;
    // (token index after the star, string index the star last stopped at)
    let mut star: Option<(usize, usize)> = None;
    loop {
        let rest = s.get(si..).unwrap_or("");
        if let Some(tok) = tokens.get(ti) {
            let advanced = match tok {
                Token::Many => {
                    star = Some((ti + 1, si));
                    ti += 1;
                    continue;
                }
                Token::Literal(lit) => rest.starts_with(lit.as_str()).then_some(lit.len()),
                Token::One | Token::Class { .. } => rest
                    .chars()
                    .next()
                    .filter(|&c| tok.matches_char(c))
                    .map(char::len_utf8),
            };
            if let Some(n) = advanced {
                si += n;
                ti += 1;
                continue;
            }
        } else if rest.is_empty() {
            return true;
        }
        // Mismatch: let the last star swallow one more character.
        let Some((star_ti, star_si)) = star else {
            return false;
        };
        let Some(c) = s.get(star_si..).and_then(|r| r.chars().next()) else {
            return false;
        };
        let next = star_si + c.len_utf8();
        star = Some((star_ti, next));
        ti = star_ti;
        si = next;
    }
}

/// One part (`APP`, `ENV` or `KEY`) of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Matches any value (an empty part, or one alternative that is `*`).
    Any,
    /// Matches a value that any of the globs matches.
    Alternatives(Vec<Glob>),
}

impl Part {
    /// Returns true if and only if this part matches every value.
    pub fn is_any(&self) -> bool {
        matches!(self, Part::Any)
    }

    /// Returns true if and only if this part matches `value`.
    pub fn is_match(&self, value: &str) -> bool {
        match self {
            Part::Any => true,
            Part::Alternatives(globs) => globs.iter().any(|g| g.is_match(value)),
        }
    }

    /// Returns the exact values this part matches, if every alternative is
    /// a literal (so the store can do index lookups instead of a scan).
    pub fn literals(&self) -> Option<Vec<&str>> {
        match self {
            Part::Any => None,
            Part::Alternatives(globs) => globs.iter().map(Glob::as_literal).collect(),
        }
    }

    /// Returns the literal prefixes of the alternatives, if every
    /// alternative has a non-empty one (so the store can do prefix range
    /// scans); `None` means a full scan is needed for this part.
    pub fn prefixes(&self) -> Option<Vec<&str>> {
        match self {
            Part::Any => None,
            Part::Alternatives(globs) => globs
                .iter()
                .map(|g| Some(g.literal_prefix()).filter(|p| !p.is_empty()))
                .collect(),
        }
    }

    /// The alternatives of this part (empty for [`Part::Any`]).
    pub fn globs(&self) -> &[Glob] {
        match self {
            Part::Any => &[],
            Part::Alternatives(g) => g,
        }
    }
}

/// The single exact literal of each part, where a part has one.
///
/// `None` in a field means that part needs matching (it has globs or
/// alternatives, or matches anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiteralParts<'a> {
    /// The exact app, if the app part is one literal.
    pub app: Option<&'a str>,
    /// The exact env, if the env part is one literal.
    pub env: Option<&'a str>,
    /// The exact key, if the key part is one literal.
    pub key: Option<&'a str>,
}

/// A compiled `app:env:KEY` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    input: String,
    app: Part,
    env: Part,
    key: Part,
}

impl Filter {
    /// Parses and compiles a filter.
    ///
    /// # Errors
    ///
    /// Returns a [`FilterError`] pointing at the column of the first
    /// problem: a fourth `:` part, an unclosed `[`, a reversed range, an
    /// empty comma alternative or a control character.
    ///
    /// # Examples
    ///
    /// ```
    /// use tresor_vault::filter::Filter;
    ///
    /// let f = Filter::new("POSTGRES_*")?;
    /// assert!(f.is_match("any", "thing", "POSTGRES_USER"));
    /// let err = Filter::new("app:dev:[abc").unwrap_err();
    /// assert_eq!(err.column, 9);
    /// # Ok::<(), tresor_vault::filter::FilterError>(())
    /// ```
    pub fn new(input: &str) -> Result<Filter, FilterError> {
        let err = |column: usize, kind: FilterErrorKind| FilterError {
            input: input.to_owned(),
            column,
            kind,
        };
        // Split on ':' keeping the 0-based char column each part starts at.
        let mut parts: Vec<(usize, &str)> = Vec::with_capacity(3);
        let mut start_byte = 0usize;
        let mut start_col = 0usize;
        for (col, (byte, c)) in input.char_indices().enumerate() {
            if c.is_control() {
                return Err(err(col + 1, FilterErrorKind::ControlChar { ch: c }));
            }
            if c == ':' {
                if parts.len() == 2 {
                    return Err(err(col + 1, FilterErrorKind::TooManyParts));
                }
                parts.push((start_col, &input[start_byte..byte]));
                start_byte = byte + 1;
                start_col = col + 1;
            }
        }
        parts.push((start_col, &input[start_byte..]));

        let compile = |which: NamePart, (col, text): (usize, &str)| {
            compile_part(which, col, text).map_err(|(c, k)| err(c, k))
        };
        let (app, env, key) = match parts.as_slice() {
            [k] => (Part::Any, Part::Any, compile(NamePart::Key, *k)?),
            [a, e] => (
                compile(NamePart::App, *a)?,
                compile(NamePart::Env, *e)?,
                Part::Any,
            ),
            [a, e, k] => (
                compile(NamePart::App, *a)?,
                compile(NamePart::Env, *e)?,
                compile(NamePart::Key, *k)?,
            ),
            // `parts` always holds one to three entries.
            _ => return Err(err(1, FilterErrorKind::TooManyParts)),
        };
        Ok(Filter {
            input: input.to_owned(),
            app,
            env,
            key,
        })
    }

    /// The filter text as given.
    pub fn as_str(&self) -> &str {
        &self.input
    }

    /// Returns true if and only if the secret `app:env:key` matches.
    pub fn is_match(&self, app: &str, env: &str, key: &str) -> bool {
        self.key.is_match(key) && self.env.is_match(env) && self.app.is_match(app)
    }

    /// The app part.
    pub fn app(&self) -> &Part {
        &self.app
    }

    /// The env part.
    pub fn env(&self) -> &Part {
        &self.env
    }

    /// The key part.
    pub fn key(&self) -> &Part {
        &self.key
    }

    /// The part selected by `which`.
    pub fn part(&self, which: NamePart) -> &Part {
        match which {
            NamePart::App => &self.app,
            NamePart::Env => &self.env,
            NamePart::Key => &self.key,
        }
    }

    /// Returns which parts are a single exact literal, for index lookups.
    pub fn literal_parts(&self) -> LiteralParts<'_> {
        fn single(p: &Part) -> Option<&str> {
            match p {
                Part::Alternatives(g) if g.len() == 1 => g.first().and_then(Glob::as_literal),
                _ => None,
            }
        }
        LiteralParts {
            app: single(&self.app),
            env: single(&self.env),
            key: single(&self.key),
        }
    }

    /// Returns true if and only if the filter names exactly one secret
    /// (all three parts are single literals).
    pub fn is_exact(&self) -> bool {
        let l = self.literal_parts();
        l.app.is_some() && l.env.is_some() && l.key.is_some()
    }

    /// Returns true if and only if every part is empty, so the filter matches every secret
    /// (`""`, `":"`, `"::"`): commands that remove or overwrite refuse it without `--all`.
    ///
    /// ```
    /// use tresor_vault::filter::Filter;
    /// assert!(Filter::new("::")?.matches_everything());
    /// assert!(!Filter::new("::KEY")?.matches_everything());
    /// # Ok::<(), tresor_vault::filter::FilterError>(())
    /// ```
    pub fn matches_everything(&self) -> bool {
        [&self.app, &self.env, &self.key]
            .iter()
            .all(|p| matches!(p, Part::Any))
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.input)
    }
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Filter, FilterError> {
        Filter::new(s)
    }
}

/// Compiles one part; `col0` is the 0-based column of its first character.
/// Errors carry a 1-based column.
fn compile_part(
    which: NamePart,
    col0: usize,
    text: &str,
) -> Result<Part, (usize, FilterErrorKind)> {
    if text.is_empty() {
        return Ok(Part::Any);
    }
    let mut globs = Vec::new();
    let mut any = false;
    let mut col = col0;
    for alt in split_alternatives(text) {
        if alt.is_empty() {
            return Err((col + 1, FilterErrorKind::EmptyAlternative { part: which }));
        }
        let glob = compile_glob(col, alt)?;
        any |= glob.tokens.iter().all(|t| *t == Token::Many);
        globs.push(glob);
        col += alt.chars().count() + 1;
    }
    Ok(if any {
        Part::Any
    } else {
        Part::Alternatives(globs)
    })
}

/// Splits a part on commas that are not inside a `[...]` class.
fn split_alternatives(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ',' => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            '[' => {
                // Skip to the closing ']' (an immediate ']' or "!]" is literal).
                if let Some(&(_, '!' | '^')) = chars.peek() {
                    chars.next();
                }
                if let Some(&(_, ']')) = chars.peek() {
                    chars.next();
                }
                for (_, c2) in chars.by_ref() {
                    if c2 == ']' {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// Compiles one glob; `col0` is the 0-based column of its first character.
fn compile_glob(col0: usize, text: &str) -> Result<Glob, (usize, FilterErrorKind)> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0usize;
    let push_lit = |tokens: &mut Vec<Token>, c: char| {
        if let Some(Token::Literal(s)) = tokens.last_mut() {
            s.push(c);
        } else {
            tokens.push(Token::Literal(c.to_string()));
        }
    };
    while let Some(&c) = chars.get(i) {
        match c {
            '*' => {
                if tokens.last() != Some(&Token::Many) {
                    tokens.push(Token::Many);
                }
                i += 1;
            }
            '?' => {
                tokens.push(Token::One);
                i += 1;
            }
            '[' => {
                let open = i;
                i += 1;
                let negated = matches!(chars.get(i), Some('!' | '^'));
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let Some(&m) = chars.get(i) else {
                        return Err((col0 + open + 1, FilterErrorKind::UnclosedClass));
                    };
                    if m == ']' && !first {
                        i += 1;
                        break;
                    }
                    first = false;
                    // A range `a-z`, unless '-' is last before ']'.
                    let range_end = chars
                        .get(i + 2)
                        .filter(|&&h| h != ']' && chars.get(i + 1) == Some(&'-'));
                    if let Some(&hi) = range_end {
                        if hi < m {
                            return Err((
                                col0 + i + 1,
                                FilterErrorKind::InvalidRange { start: m, end: hi },
                            ));
                        }
                        ranges.push((m, hi));
                        i += 3;
                        continue;
                    }
                    ranges.push((m, m));
                    i += 1;
                }
                tokens.push(Token::Class { negated, ranges });
            }
            _ => {
                push_lit(&mut tokens, c);
                i += 1;
            }
        }
    }
    Ok(Glob {
        source: text.to_owned(),
        tokens,
    })
}

/// A set of filters that matches when any of them matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterSet {
    filters: Vec<Filter>,
}

impl FilterSet {
    /// Parses each filter text and collects them into a set.
    ///
    /// # Errors
    ///
    /// Returns the [`FilterError`] of the first filter that fails to parse.
    pub fn new<I, S>(filters: I) -> Result<FilterSet, FilterError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let filters = filters
            .into_iter()
            .map(|s| Filter::new(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FilterSet { filters })
    }

    /// An empty set, which matches nothing.
    pub fn empty() -> FilterSet {
        FilterSet::default()
    }

    /// Adds a compiled filter to the set.
    pub fn push(&mut self, filter: Filter) {
        self.filters.push(filter);
    }

    /// The filters in the set, in the order they were added.
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// Returns true if and only if the set has no filters.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// The number of filters in the set.
    pub fn len(&self) -> usize {
        self.filters.len()
    }

    /// Returns true if and only if any filter matches `app:env:key`.
    pub fn is_match(&self, app: &str, env: &str, key: &str) -> bool {
        self.filters.iter().any(|f| f.is_match(app, env, key))
    }

    /// The indices of the filters that match `app:env:key`.
    pub fn matches(&self, app: &str, env: &str, key: &str) -> Vec<usize> {
        self.filters
            .iter()
            .enumerate()
            .filter(|(_, f)| f.is_match(app, env, key))
            .map(|(i, _)| i)
            .collect()
    }
}

impl FromIterator<Filter> for FilterSet {
    fn from_iter<T: IntoIterator<Item = Filter>>(iter: T) -> Self {
        FilterSet {
            filters: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
#[path = "filter_test.rs"]
mod tests;
