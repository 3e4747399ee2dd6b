//! One part (`APP`, `ENV` or `KEY`) of a filter: any value, or comma-separated glob
//! alternatives, and how a part's text is compiled.

use super::glob::{Glob, Token, compile_glob};
use super::{FilterErrorKind, NamePart};

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

/// Compiles one part; `col0` is the 0-based column of its first character.
/// Errors carry a 1-based column.
pub(super) fn compile_part(
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
