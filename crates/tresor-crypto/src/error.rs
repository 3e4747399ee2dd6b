/// Everything that can go wrong in tresor's cryptography.
///
/// Authentication failures are deliberately one variant without detail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The ciphertext, wrapped key or associated data was altered, or the key is wrong.
    #[error("decryption failed: wrong key or tampered data")]
    Decrypt,
    /// The wrong passphrase was given for a protected key file.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The operating system's random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// A sealed blob or key file is malformed.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// Why it was rejected.
        why: &'static str,
    },
    /// No key provider could unwrap a data key.
    #[error("no key provider can unwrap this data key (provider '{0}')")]
    NoProvider(String),
    /// The key derivation function rejected its parameters.
    #[error("key derivation failed: {0}")]
    Kdf(String),
}
