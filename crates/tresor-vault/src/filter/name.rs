//! The three parts of a vault secret name (app, env, key) and the rules a valid name
//! follows.

use std::fmt;

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
