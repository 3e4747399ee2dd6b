//! seeqret's `env.template` grammar: which secrets go into a `.env` file.
//!
//! One directive per line; leading and trailing blanks are ignored.
//!
//! | line | meaning |
//! |---|---|
//! | empty, or `# comment` | ignored |
//! | `@seeqret>=1.0`, `@tresor>=0.1` | version pin (`>=`, `>`, `<=`, `<`, `==`, `!=`); see [`Template::check_pins`] |
//! | `FILTER` | every secret the [filter](crate::filter) matches, under its own KEY |
//! | `NAME="constant"`, `NAME='constant'` | a constant (quotes removed, nothing unescaped) |
//! | `NAME=FILTER` (right side unquoted, containing `:`) | the one secret the filter matches, renamed to NAME |
//! | `NAME=constant` (right side unquoted, without `:`) | a constant |
//!
//! This is seeqret's rule for telling a rename from a constant: a quoted
//! right side is always a constant, otherwise a `:` makes it a filter.
//! So `OUT=KEY` is the constant `"KEY"`; write `OUT=::KEY` to rename.
//!
//! Where tresor differs from seeqret (1.0.5), it is stricter or clearer:
//! - Entries come out in template order (seeqret put all constants last).
//! - A rename must match exactly one secret (seeqret silently wrote
//!   nothing for no match).
//! - Every pin line is checked, not only the first; a pin must be the whole
//!   line; versions compare numerically with missing parts as zero (so
//!   `==1.0` holds for `1.0.0`).
//! - Blanks around `=` are ignored, and output names are validated.
//!
//! # Examples
//!
//! ```
//! use tresor_vault::template::Template;
//! use zeroize::Zeroizing;
//!
//! let t = Template::parse("@seeqret>=0.3\n# db\n:dev:DB_*\nLOCAL=:local:FOO\nMODE=dev\n")?;
//! t.check_pins("0.1.0")?;
//! let out = t.render(|filter| {
//!     let all = [("app", "dev", "DB_USER", "u"), ("app", "local", "FOO", "f")];
//!     all.iter()
//!         .filter(|(a, e, k, _)| filter.is_match(a, e, k))
//!         .map(|(_, _, k, v)| (k.to_string(), Zeroizing::new(v.to_string())))
//!         .collect()
//! })?;
//! let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
//! assert_eq!(names, ["DB_USER", "LOCAL", "MODE"]);
//! assert_eq!(out[1].1.as_str(), "f");
//! # Ok::<(), tresor_vault::template::TemplateError>(())
//! ```

use std::cmp::Ordering;
use std::fmt;

use zeroize::Zeroizing;

use crate::filter::{Filter, FilterError};

/// The seeqret version whose `env.template` grammar tresor implements;
/// `@seeqret` pins are checked against it.
pub const SEEQRET_COMPAT_VERSION: &str = "1.0.5";

/// An error from parsing or rendering a template, naming its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error in env.template at line {line}: {kind}")]
pub struct TemplateError {
    /// The 1-based line of the directive at fault.
    pub line: usize,
    /// What is wrong.
    pub kind: TemplateErrorKind,
}

/// What is wrong with a template line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateErrorKind {
    /// An `@` line that is not a version pin.
    #[error("unknown directive '{0}' (expected e.g. @seeqret>=1.0 or @tresor>=0.1)")]
    UnknownDirective(String),
    /// A version pin that the running version does not satisfy.
    #[error("template requires {tool}{op}{required}, but this is {tool} {have}")]
    VersionNotSatisfied {
        /// `seeqret` or `tresor`.
        tool: Tool,
        /// The comparison operator.
        op: PinOp,
        /// The version the template asks for.
        required: String,
        /// The version compared against.
        have: String,
    },
    /// A filter that does not parse.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// An output name that cannot appear in a `.env` file.
    #[error("invalid output name '{0}'")]
    InvalidName(String),
    /// An output name produced twice.
    #[error("duplicate output name '{name}' (first on line {first_line})")]
    Duplicate {
        /// The repeated name.
        name: String,
        /// The line that produced it first.
        first_line: usize,
    },
    /// A rename whose filter did not match exactly one secret.
    #[error("filter '{filter}' for '{name}' must match one secret, but matched {count}")]
    RenameMatches {
        /// The output name.
        name: String,
        /// The filter text.
        filter: String,
        /// How many secrets it matched.
        count: usize,
    },
}

/// The tool a version pin names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `@seeqret...`, checked against [`SEEQRET_COMPAT_VERSION`].
    Seeqret,
    /// `@tresor...`, checked against tresor's own version.
    Tresor,
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tool::Seeqret => "seeqret",
            Tool::Tresor => "tresor",
        })
    }
}

/// A version comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOp {
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `<`
    Lt,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl PinOp {
    const ALL: [(&'static str, PinOp); 6] = [
        (">=", PinOp::Ge),
        ("<=", PinOp::Le),
        ("==", PinOp::Eq),
        ("!=", PinOp::Ne),
        (">", PinOp::Gt),
        ("<", PinOp::Lt),
    ];

    fn as_str(self) -> &'static str {
        PinOp::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("", |(s, _)| s)
    }

    fn holds(self, ord: Ordering) -> bool {
        match self {
            PinOp::Ge => ord != Ordering::Less,
            PinOp::Gt => ord == Ordering::Greater,
            PinOp::Le => ord != Ordering::Greater,
            PinOp::Lt => ord == Ordering::Less,
            PinOp::Eq => ord == Ordering::Equal,
            PinOp::Ne => ord != Ordering::Equal,
        }
    }
}

impl fmt::Display for PinOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version pin line, like `@seeqret>=0.3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionPin {
    /// The tool named.
    pub tool: Tool,
    /// The comparison.
    pub op: PinOp,
    /// The version text after the operator (digits and dots).
    pub version: String,
    /// The 1-based line.
    pub line: usize,
}

impl VersionPin {
    /// Returns true if and only if `have` satisfies the pin.
    pub fn is_satisfied_by(&self, have: &str) -> bool {
        self.op.holds(compare_versions(have, &self.version))
    }
}

/// Compares dotted versions numerically, part by part; a missing part is
/// zero and a part's leading digits are its value (`3a` is 3), as in
/// seeqret.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parts(v: &str) -> Vec<u64> {
        let mut out: Vec<u64> = v
            .trim()
            .split('.')
            .map(|p| {
                let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                digits
                    .parse()
                    .unwrap_or(if digits.is_empty() { 0 } else { u64::MAX })
            })
            .collect();
        while out.last() == Some(&0) {
            out.pop();
        }
        out
    }
    parts(a).cmp(&parts(b))
}

/// One directive of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// `FILTER`: every match under its own key.
    Filter(Filter),
    /// `NAME=FILTER`: the one match, renamed.
    Rename {
        /// The output name.
        name: String,
        /// The filter that must match one secret.
        filter: Filter,
    },
    /// `NAME=value`: a constant.
    Constant {
        /// The output name.
        name: String,
        /// The value as written (quotes removed).
        value: String,
    },
}

/// A parsed `env.template`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pins: Vec<VersionPin>,
    directives: Vec<(usize, Directive)>,
}

impl Template {
    /// Parses a template.
    ///
    /// # Errors
    ///
    /// Returns a [`TemplateError`] for the first line that is an unknown
    /// `@` directive, a filter that does not parse, or an invalid output
    /// name.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut t = Template::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |kind| TemplateError { line, kind };
            let s = raw.trim();
            if s.is_empty() || s.starts_with('#') {
                continue;
            }
            if s.starts_with('@') {
                let pin = parse_pin(s, line)
                    .ok_or_else(|| err(TemplateErrorKind::UnknownDirective(s.to_owned())))?;
                t.pins.push(pin);
                continue;
            }
            let directive = match s.split_once('=') {
                None => Directive::Filter(Filter::new(s).map_err(|e| err(e.into()))?),
                Some((name, rhs)) => {
                    let name = name.trim();
                    if !is_output_name(name) {
                        return Err(err(TemplateErrorKind::InvalidName(name.to_owned())));
                    }
                    let rhs = rhs.trim();
                    let quoted = rhs.len() >= 2
                        && (rhs.starts_with('"') && rhs.ends_with('"')
                            || rhs.starts_with('\'') && rhs.ends_with('\''));
                    if quoted {
                        Directive::Constant {
                            name: name.to_owned(),
                            value: rhs[1..rhs.len() - 1].to_owned(),
                        }
                    } else if rhs.contains(':') {
                        Directive::Rename {
                            name: name.to_owned(),
                            filter: Filter::new(rhs).map_err(|e| err(e.into()))?,
                        }
                    } else {
                        Directive::Constant {
                            name: name.to_owned(),
                            value: rhs.to_owned(),
                        }
                    }
                }
            };
            t.directives.push((line, directive));
        }
        Ok(t)
    }

    /// The version pins, in file order.
    pub fn pins(&self) -> &[VersionPin] {
        &self.pins
    }

    /// The directives with their 1-based lines, in file order.
    pub fn directives(&self) -> &[(usize, Directive)] {
        &self.directives
    }

    /// Checks every pin: `@tresor` pins against `tresor_version`, and
    /// `@seeqret` pins against [`SEEQRET_COMPAT_VERSION`].
    ///
    /// # Errors
    ///
    /// Returns [`TemplateErrorKind::VersionNotSatisfied`] for the first
    /// pin that does not hold.
    pub fn check_pins(&self, tresor_version: &str) -> Result<(), TemplateError> {
        for pin in &self.pins {
            let have = match pin.tool {
                Tool::Seeqret => SEEQRET_COMPAT_VERSION,
                Tool::Tresor => tresor_version,
            };
            if !pin.is_satisfied_by(have) {
                return Err(TemplateError {
                    line: pin.line,
                    kind: TemplateErrorKind::VersionNotSatisfied {
                        tool: pin.tool,
                        op: pin.op,
                        required: pin.version.clone(),
                        have: have.to_owned(),
                    },
                });
            }
        }
        Ok(())
    }

    /// Renders the template with an infallible lookup; see
    /// [`Template::try_render`].
    ///
    /// # Errors
    ///
    /// Returns a [`TemplateError`] for a duplicate output name or a rename
    /// that does not match exactly one secret.
    pub fn render<F>(
        &self,
        mut lookup: F,
    ) -> Result<Vec<(String, Zeroizing<String>)>, TemplateError>
    where
        F: FnMut(&Filter) -> Vec<(String, Zeroizing<String>)>,
    {
        self.try_render(|f| Ok::<_, TemplateError>(lookup(f)))
    }

    /// Renders the template into ordered `(NAME, value)` pairs.
    ///
    /// `lookup` gets each filter and returns the `(KEY, value)` of every
    /// secret it matches, in the order they should be written.
    ///
    /// # Errors
    ///
    /// Returns `lookup`'s error, or a [`TemplateError`] (converted into
    /// `E`) for a duplicate output name or a rename that does not match
    /// exactly one secret.
    pub fn try_render<F, E>(&self, mut lookup: F) -> Result<Vec<(String, Zeroizing<String>)>, E>
    where
        F: FnMut(&Filter) -> Result<Vec<(String, Zeroizing<String>)>, E>,
        E: From<TemplateError>,
    {
        let mut out: Vec<(String, Zeroizing<String>)> = Vec::new();
        let mut lines: Vec<usize> = Vec::new();
        let mut push = |name: String, value: Zeroizing<String>, line: usize| {
            if let Some(i) = out.iter().position(|(n, _)| *n == name) {
                return Err(TemplateError {
                    line,
                    kind: TemplateErrorKind::Duplicate {
                        name,
                        first_line: lines.get(i).copied().unwrap_or(line),
                    },
                });
            }
            out.push((name, value));
            lines.push(line);
            Ok(())
        };
        for (line, d) in &self.directives {
            let line = *line;
            match d {
                Directive::Filter(f) => {
                    for (key, value) in lookup(f)? {
                        push(key, value, line)?;
                    }
                }
                Directive::Rename { name, filter } => {
                    let mut found = lookup(filter)?;
                    if found.len() != 1 {
                        return Err(TemplateError {
                            line,
                            kind: TemplateErrorKind::RenameMatches {
                                name: name.clone(),
                                filter: filter.to_string(),
                                count: found.len(),
                            },
                        }
                        .into());
                    }
                    if let Some((_, value)) = found.pop() {
                        push(name.clone(), value, line)?;
                    }
                }
                Directive::Constant { name, value } => {
                    push(name.clone(), Zeroizing::new(value.clone()), line)?;
                }
            }
        }
        Ok(out)
    }
}

/// Returns true if and only if `name` can be written as a `.env` name:
/// non-empty, with no blank, control character, `=`, `#`, quote, `$`,
/// `\` or `:`.
pub fn is_output_name(name: &str) -> bool {
    !name.is_empty()
        && !name.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '=' | '#' | '"' | '\'' | '$' | '\\' | ':' | '`')
        })
}

/// Parses `@seeqret>=1.0` / `@tresor==0.1` (case-insensitive tool name,
/// blanks allowed around the operator).
fn parse_pin(s: &str, line: usize) -> Option<VersionPin> {
    let body = s.strip_prefix('@')?;
    let split = body.find(|c: char| !c.is_ascii_alphabetic())?;
    let (name, rest) = body.split_at(split);
    let tool = if name.eq_ignore_ascii_case("seeqret") {
        Tool::Seeqret
    } else if name.eq_ignore_ascii_case("tresor") {
        Tool::Tresor
    } else {
        return None;
    };
    let rest = rest.trim_start();
    let (op_text, op) = PinOp::ALL.iter().find(|(t, _)| rest.starts_with(t))?;
    let version = rest[op_text.len()..].trim();
    let valid = !version.is_empty()
        && version.starts_with(|c: char| c.is_ascii_digit())
        && version.chars().all(|c| c.is_ascii_digit() || c == '.');
    valid.then(|| VersionPin {
        tool,
        op: *op,
        version: version.to_owned(),
        line,
    })
}

#[cfg(test)]
#[path = "template_test.rs"]
mod tests;
