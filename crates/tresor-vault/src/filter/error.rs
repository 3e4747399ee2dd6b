//! Errors from parsing a filter, pointing at a 1-based character column.

use super::NamePart;

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
