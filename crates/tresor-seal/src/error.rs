//! The one error type of sealed files.

/// What went wrong reading, sealing or opening a sealed file.
///
/// Messages name the line and key involved; they never hold a value, a key or a plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The plaintext (or the sealed body) does not parse in its format.
    #[error("line {line}: {what}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong there.
        what: String,
    },
    /// A file larger, deeper or with more values than the limits allow.
    #[error("{0}")]
    TooLarge(String),
    /// The file has no tresor header (not sealed, or cut short).
    #[error("no tresor seal header: the file is not sealed, or was truncated")]
    NotSealed,
    /// Sealing would write a file that does not read back as written (an unusual layout the
    /// format's reader takes differently once values are tokens); nothing was written.
    #[error(
        "sealing this file would not read back ({0}); nothing was written: simplify the layout \
         around that line (quotes, comments, control characters) and seal again"
    )]
    WouldNotReopen(String),
    /// The file already carries a tresor header.
    #[error("the file is already sealed (use 'tresor edit' or 'tresor unseal')")]
    AlreadySealed,
    /// The header is malformed.
    #[error("seal header, line {line}: {what}")]
    Header {
        /// 1-based line number.
        line: usize,
        /// What is wrong there.
        what: String,
    },
    /// A value is not a tresor ciphertext where one is expected, or does not decrypt.
    #[error("value of '{key}' (line {line}) {what}")]
    Value {
        /// The key path, dotted.
        key: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        what: &'static str,
    },
    /// The document MAC does not match: keys, order, comments or the header were changed.
    #[error(
        "the document MAC does not match: the file was changed outside tresor (a key, its order, a comment or the header)"
    )]
    Mac,
    /// None of the identities given can open the file's data key.
    #[error("none of the identities given is a recipient of this file")]
    NoIdentity,
    /// A recipient or identity could not be read.
    #[error("{0}")]
    Key(String),
    /// Conflict markers are still in the plaintext.
    #[error(
        "line {0}: unresolved conflict marker; keep one side of each conflict and remove the markers"
    )]
    ConflictMarker(usize),
    /// A merge could not be done per key.
    #[error("{0}")]
    Merge(String),
    /// The system random generator failed, or another cryptographic failure.
    #[error("cryptographic failure: {0}")]
    Crypto(&'static str),
}

/// Result with [`SealError`].
pub type Result<T> = std::result::Result<T, SealError>;

/// 1-based line number of byte offset `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

pub(crate) fn syntax(text: &str, at: usize, what: impl Into<String>) -> SealError {
    SealError::Syntax {
        line: line_of(text, at),
        what: what.into(),
    }
}
