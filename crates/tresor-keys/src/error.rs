//! Everything that can go wrong in tresor-keys.

use std::fmt;

/// A boxed error returned by a key source closure or an on-change callback.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a key source could not produce a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The source itself failed (a closure returned an error, a file could not be read).
    #[error("{0}")]
    Failed(#[source] BoxError),
    /// The source produced something that is not a usable key.
    #[error("wrong type: expected {expected}, found {found}")]
    WrongType {
        /// What a key source must produce.
        expected: &'static str,
        /// What it produced.
        found: String,
    },
    /// The source produced an empty key.
    #[error("the key is empty")]
    Empty,
    /// What the source points at does not exist.
    #[error("{0} not found")]
    Missing(String),
}

/// One failed on-change callback, as listed by [`KeysError::Callbacks`].
#[derive(Debug)]
pub struct CallbackFailure {
    /// The callback's registered name.
    pub callback: String,
    /// What it returned.
    pub error: BoxError,
}

impl fmt::Display for CallbackFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}': {}", self.callback, self.error)
    }
}

/// Everything that can go wrong in tresor-keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// No key definition and no stored key with that name.
    #[error("key '{0}' is not defined")]
    Undefined(String),
    /// `define_key` was called twice for one name.
    #[error("key '{0}' is already defined")]
    AlreadyDefined(String),
    /// `create` found a key of that name in the store.
    #[error("key '{0}' already exists")]
    Exists(String),
    /// A key name that tresor-keys does not accept.
    #[error("invalid key name '{name}': {why}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Which rule it breaks.
        why: &'static str,
    },
    /// The key's source failed or produced an unusable value.
    #[error("key '{key}': source failed: {source}")]
    Source {
        /// The key.
        key: String,
        /// Why.
        #[source]
        source: SourceError,
    },
    /// `on_change` was called twice with one callback name for one key.
    #[error("key '{key}' already has an on-change callback named '{callback}'")]
    CallbackExists {
        /// The key.
        key: String,
        /// The callback name.
        callback: String,
    },
    /// An on-change callback failed under [`crate::ErrorStrategy::RaiseImmediately`].
    #[error("key '{key}': on-change callback '{callback}' failed")]
    Callback {
        /// The key.
        key: String,
        /// The callback name.
        callback: String,
        /// What the callback returned.
        #[source]
        source: BoxError,
    },
    /// Some on-change callbacks failed under [`crate::ErrorStrategy::SkipAndRaise`].
    #[error("key '{key}': {} on-change callback(s) failed: {}", failures.len(), list(failures))]
    Callbacks {
        /// The key.
        key: String,
        /// Each failure, in run order.
        failures: Vec<CallbackFailure>,
    },
    /// A version below the key's minimum decryption version was asked for.
    #[error("key '{key}' version {version} is below its minimum decryption version {min}; refused")]
    VersionRetired {
        /// The key.
        key: String,
        /// The version asked for.
        version: u32,
        /// The key's minimum decryption version.
        min: u32,
    },
    /// A version that never existed or whose material was destroyed.
    #[error("key '{key}' has no version {version}")]
    UnknownVersion {
        /// The key.
        key: String,
        /// The version asked for.
        version: u32,
    },
    /// The operation does not fit the key (its type or purpose).
    #[error("key '{key}': {why}")]
    Unsupported {
        /// The key.
        key: String,
        /// Why the operation does not apply.
        why: String,
    },
    /// A configuration change that would lose data or makes no sense.
    #[error("key '{key}': {why}")]
    Refused {
        /// The key.
        key: String,
        /// Why it was refused.
        why: String,
    },
    /// A ciphertext or signature does not parse.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// What was parsed.
        what: &'static str,
        /// Why it was rejected.
        why: &'static str,
    },
    /// Authentication failed: wrong key, wrong associated data or tampered ciphertext.
    #[error("decryption failed: wrong key, wrong associated data or tampered ciphertext")]
    Decrypt,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tresor_store::StoreError),
    /// The cryptographic core failed.
    #[error(transparent)]
    Crypto(#[from] tresor_crypto::CryptoError),
    /// Reading or writing a stream failed (CLI).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

fn list(f: &[CallbackFailure]) -> String {
    f.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl KeysError {
    /// Returns true if and only if this is a negative answer (not found, refused) rather than a
    /// failure: the CLI exits 1 for these and 2 for the rest.
    pub fn is_negative(&self) -> bool {
        matches!(
            self,
            KeysError::Undefined(_)
                | KeysError::VersionRetired { .. }
                | KeysError::UnknownVersion { .. }
                | KeysError::Refused { .. }
                | KeysError::Decrypt
        )
    }
}

/// Result alias for tresor-keys.
pub type Result<T, E = KeysError> = std::result::Result<T, E>;
