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
    /// Input that cannot be used (a malformed profile file, an s3keyring body that is not
    /// base64, …); the message names it.
    #[error("{0}")]
    Input(String),
    /// An s3keyring profile named with `--profile` is in neither the file nor the environment.
    #[error("s3keyring profile '{name}' not found in '{path}' (profiles: {known})")]
    Profile {
        /// The profile asked for.
        name: String,
        /// The profile file read.
        path: String,
        /// The profiles the file has.
        known: String,
    },
    /// A setting tresor needs is missing from the s3keyring profile.
    #[error("s3keyring profile '{profile}' has no {setting}")]
    MissingSetting {
        /// The profile.
        profile: String,
        /// The setting (`bucket`, `kms_key_id`).
        setting: &'static str,
        /// The variable that sets it.
        var: String,
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

impl S3Error {
    /// A suggestion for the user, when there is a useful one.
    pub fn hint(&self) -> Option<String> {
        match self {
            S3Error::Profile { name, .. } => Some(format!(
                "create it with 'tresor s3 --profile {name} configure', or pass --ini FILE"
            )),
            S3Error::MissingSetting { profile, var, .. } => Some(format!(
                "run 'tresor s3 --profile {profile} configure' or set {var}"
            )),
            S3Error::NoSuchBucket(b) => Some(format!(
                "create the bucket first (aws s3 mb s3://{b}) or fix the profile's bucket"
            )),
            S3Error::Kms { .. } => Some(
                "check the KMS key id or alias and that your AWS credentials may use it".into(),
            ),
            // Opening a store sends nothing, so these come from the first request.
            S3Error::Store(tresor_store::StoreError::Unavailable(m)) => m
                .strip_prefix("S3 bucket '")
                .and_then(|r| r.split_once("' does not exist"))
                .map(|(b, _)| {
                    format!(
                        "create the bucket first (aws s3 mb s3://{b}) or fix the store's bucket"
                    )
                }),
            S3Error::Store(tresor_store::StoreError::Crypto(
                tresor_crypto::CryptoError::NoProvider(m),
            )) if m.starts_with("kms:") => Some(
                "check the KMS key id or alias and that your AWS credentials may use it".into(),
            ),
            _ => None,
        }
    }
}
