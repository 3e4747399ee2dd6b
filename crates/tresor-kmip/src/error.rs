//! Errors of the KMIP layer: [`TtlvError`] for the wire codec and [`KmipError`] for the rest.

use crate::enums::ResultReason;
use crate::tags::Tag;
use crate::ttlv::ItemType;

/// A TTLV encoding problem: what was wrong and where.
///
/// `Copy` and allocation-free, like rustls' `InvalidMessage`, so a decoder under attack never
/// allocates to report a failure.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TtlvError {
    /// The input ended while reading the named field.
    #[error("ttlv: missing data reading {0}")]
    MissingData(&'static str),
    /// The item type byte is not one KMIP defines.
    #[error("ttlv: item {tag} has unknown item type 0x{item_type:02x}")]
    UnknownItemType {
        /// The item's tag.
        tag: Tag,
        /// The type byte read.
        item_type: u8,
    },
    /// A fixed-length item had another length, or a length was not allowed for the type.
    #[error("ttlv: item {tag} of type {item_type} has length {len}, expected {expected}")]
    BadLength {
        /// The item's tag.
        tag: Tag,
        /// The item's type.
        item_type: ItemType,
        /// The length read.
        len: u32,
        /// What the type allows.
        expected: &'static str,
    },
    /// An item's length runs past the end of its enclosing structure or message.
    #[error("ttlv: item {tag} has length {len} but only {left} bytes are left")]
    LengthOverrun {
        /// The item's tag.
        tag: Tag,
        /// The length read.
        len: u32,
        /// The bytes left in the enclosing structure.
        left: usize,
    },
    /// The padding after a value was not all zero bytes.
    #[error("ttlv: item {tag} has non-zero padding")]
    NonZeroPadding {
        /// The item's tag.
        tag: Tag,
    },
    /// The message is longer than [`Limits::max_message`](crate::Limits::max_message).
    #[error("ttlv: message of {len} bytes exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// The message length announced by the header.
        len: u64,
        /// The configured limit.
        max: usize,
    },
    /// Structures are nested deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("ttlv: item {tag} is nested deeper than {max} levels")]
    TooDeep {
        /// The structure that went too deep.
        tag: Tag,
        /// The configured limit.
        max: u8,
    },
    /// The message holds more items than [`Limits::max_items`](crate::Limits::max_items).
    #[error("ttlv: message holds more than {max} items")]
    TooManyItems {
        /// The configured limit.
        max: u32,
    },
    /// A Text String, Byte String or Big Integer is longer than
    /// [`Limits::max_string`](crate::Limits::max_string).
    #[error("ttlv: item {tag} is {len} bytes long, over the limit of {max}")]
    StringTooLong {
        /// The item's tag.
        tag: Tag,
        /// The length read.
        len: u32,
        /// The configured limit.
        max: u32,
    },
    /// A Text String is not valid UTF-8.
    #[error("ttlv: text string {tag} is not valid UTF-8")]
    InvalidUtf8 {
        /// The item's tag.
        tag: Tag,
    },
    /// A Boolean holds a value other than 0 or 1.
    #[error("ttlv: boolean {tag} is neither 0 nor 1")]
    InvalidBoolean {
        /// The item's tag.
        tag: Tag,
    },
    /// Bytes were left after the message.
    #[error("ttlv: {0} trailing bytes after the message")]
    TrailingData(usize),
    /// A message did not start with a structure.
    #[error("ttlv: message {tag} is a {item_type}, not a structure")]
    NotAStructure {
        /// The top-level tag.
        tag: Tag,
        /// Its type.
        item_type: ItemType,
    },
}

/// A payload that does not fit its operation's type ([`crate::payload`]). The server
/// answers [`PayloadError::Missing`] with Missing Data and [`PayloadError::Invalid`] with
/// Invalid Field.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// A required field is missing.
    #[error("{parent} is missing its {field}")]
    Missing {
        /// The structure.
        parent: Tag,
        /// The field it lacks.
        field: Tag,
    },
    /// A field is present but cannot be used; the message names it.
    #[error("{0}")]
    Invalid(String),
}

/// An error of the KMIP layer.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum KmipError {
    /// The bytes are not valid TTLV.
    #[error(transparent)]
    Ttlv(#[from] TtlvError),
    /// A payload does not fit its operation's type.
    #[error("kmip: {0}")]
    Payload(#[from] PayloadError),
    /// A required field is missing from a structure.
    #[error("kmip: {parent} is missing its {field}")]
    MissingField {
        /// The structure.
        parent: Tag,
        /// The field it lacks.
        field: Tag,
    },
    /// A field has the wrong item type or an invalid value.
    #[error("kmip: {field} in {parent} is invalid: {reason}")]
    InvalidField {
        /// The structure.
        parent: Tag,
        /// The field.
        field: Tag,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A message's tag is not the expected one.
    #[error("kmip: expected a {expected}, found {found}")]
    UnexpectedTag {
        /// The expected tag.
        expected: Tag,
        /// The tag found.
        found: Tag,
    },
    /// An attribute could not be converted.
    #[error("kmip: attribute '{name}' is invalid: {reason}")]
    InvalidAttribute {
        /// The attribute's name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The XML encoding could not be read.
    #[error("kmip xml: {0}")]
    Xml(String),
    /// A configuration file or value is invalid.
    #[error("kmip config '{path}': {reason}")]
    Config {
        /// The file or key.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// TLS setup failed (bad certificate, key or CA file).
    #[error("kmip tls: {0}")]
    Tls(String),
    /// Creating certificates failed.
    #[error("kmip certs: {0}")]
    Certs(String),
    /// An I/O operation failed.
    #[error("kmip i/o on {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A network operation did not finish in time.
    #[error("kmip: {0} timed out")]
    Timeout(&'static str),
    /// The server answered an operation with a failure.
    #[error("kmip {operation} failed: {reason}: {message}")]
    Failed {
        /// The operation.
        operation: String,
        /// The Result Reason name.
        reason: String,
        /// The Result Message.
        message: String,
    },
    /// The object store failed (server side and local admin commands).
    #[error("kmip store: {0}")]
    Store(String),
    /// A command-line argument is invalid.
    #[error("kmip: {0}")]
    Usage(String),
    /// A [`crate::client::SecretsClient`] request got no usable answer (connection, TLS,
    /// timeout, a malformed message).
    #[error("KMIP server {server}")]
    Remote {
        /// The server address.
        server: String,
        /// What failed.
        #[source]
        source: Box<KmipError>,
    },
    /// The server answered an operation with a failure (the whole message was undone when
    /// it was a write).
    #[error(
        "the server {server} refused {operation}: {message} ({})",
        .reason.name().unwrap_or("error")
    )]
    Refused {
        /// The server address.
        server: String,
        /// The operation, in words (`register`, `add version`, `read names`...).
        operation: String,
        /// The Result Message.
        message: String,
        /// The Result Reason.
        reason: ResultReason,
    },
    /// The server refused a Read Names request (one for many names).
    #[error(
        "the server {server} refused to read {count} secret(s): {message} ({}){}",
        .reason.name().unwrap_or("error"),
        if *reason == ResultReason::OPERATION_NOT_SUPPORTED {
            " (the server predates Read Names: upgrade it)"
        } else {
            ""
        }
    )]
    ReadRefused {
        /// The server address.
        server: String,
        /// How many names the request asked for.
        count: usize,
        /// The Result Message.
        message: String,
        /// The Result Reason.
        reason: ResultReason,
    },
    /// The server answered, but not what was asked (fewer items, a malformed payload).
    #[error("the server {server}{detail}")]
    BadAnswer {
        /// The server address.
        server: String,
        /// What was wrong, starting with a space or `: `.
        detail: String,
    },
    /// A secret name too long for any Read Names request.
    #[error("the secret name '{}' is longer than a Read Names request takes", .0.escape_debug())]
    NameTooLong(String),
}

impl KmipError {
    /// [`KmipError::Io`]: `source` while `context` (`"reading 'key.pem'"`).
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        KmipError::Io {
            context: context.into(),
            source,
        }
    }
}
