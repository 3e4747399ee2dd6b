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

mod error;
mod glob;
mod part;
mod set;

pub use error::{FilterError, FilterErrorKind};
pub use glob::Glob;
// The name rules are the store's (one `SecretName` for every door).
pub use part::Part;
pub use set::FilterSet;
pub use tresor_store::secret_name::{
    NameError, NameErrorKind, NamePart, validate_full_name, validate_name,
};

use part::compile_part;

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

#[cfg(test)]
#[path = "filter_test.rs"]
mod tests;
