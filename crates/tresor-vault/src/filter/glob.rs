//! One glob of a filter part: its compiled tokens, matching without exponential
//! backtracking, and its translation to a SQLite `GLOB` pattern.

use std::fmt;

use super::FilterErrorKind;

/// One element of a compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
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
    pub(super) tokens: Vec<Token>,
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

/// Compiles one glob; `col0` is the 0-based column of its first character.
pub(super) fn compile_glob(col0: usize, text: &str) -> Result<Glob, (usize, FilterErrorKind)> {
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
