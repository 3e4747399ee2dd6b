/// Everything that can go wrong in tresor's S3 layer (configuration, KMS, s3keyring import).
///
/// Store operations report [`tresor_store::StoreError`]; this enum covers the rest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    /// A store location is not `s3://bucket[/prefix]`.
    #[error("invalid S3 location '{0}': expected s3://bucket[/prefix]")]
    BadLocation(String),
    /// The S3 client could not be configured.
    #[error("S3 configuration for '{location}' is invalid: {why}")]
    Config {
        /// The store location.
        location: String,
        /// What was wrong.
        why: String,
    },
    /// The bucket does not exist.
    #[error("S3 bucket '{0}' does not exist")]
    NoSuchBucket(String),
    /// S3 refused the credentials or the operation.
    #[error("S3 access denied for '{location}': {why}")]
    AccessDenied {
        /// The object or bucket.
        location: String,
        /// What S3 said.
        why: String,
    },
    /// KMS refused or failed an operation.
    #[error("KMS {op} with key '{key_id}' failed: {why}")]
    Kms {
        /// The operation (`GenerateDataKey`, `Decrypt`, `Encrypt`).
        op: &'static str,
        /// The KMS key id or alias.
        key_id: String,
        /// What KMS said.
        why: String,
    },
    /// A secret, profile or bucket object was not found.
    #[error("{0} not found")]
    NotFound(String),
    /// A profile file could not be read or written.
    #[error("{what} '{path}': {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path involved.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tresor_store::StoreError),
    /// Cryptography failed.
    #[error(transparent)]
    Crypto(#[from] tresor_crypto::CryptoError),
}

/// Result alias for this crate.
pub type Result<T, E = S3Error> = std::result::Result<T, E>;
