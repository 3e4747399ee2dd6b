//! tresor's cryptographic core.
//!
//! | type | job |
//! |---|---|
//! | [`Secret`] | a zeroizing, redacting wrapper for any secret buffer |
//! | [`DataKey`] | a fresh 256-bit key that seals one version of one object |
//! | [`KeyProvider`] | wraps and unwraps data keys (a key file, a passphrase, a KMS) |
//! | [`envelope`] | seal material with a fresh data key, wrapped by a provider |
//! | [`keyfile`] | the vault key file format, plain or Argon2id-protected |
//! | [`outside`] | keys kept outside the store (the kernel keyring), behind two traits |
//!
//! # Examples
//!
//! ```
//! use tresor_crypto::{envelope, LocalKek};
//!
//! let kek = LocalKek::generate()?;
//! let sealed = envelope::seal(&kek, b"uid=1;v=1", b"hunter2")?;
//! let opened = envelope::open(&kek, b"uid=1;v=1", &sealed)?;
//! assert_eq!(opened.expose(), b"hunter2");
//! // Different associated data never opens.
//! assert!(envelope::open(&kek, b"uid=2;v=1", &sealed).is_err());
//! # Ok::<(), tresor_crypto::CryptoError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod aead;
pub mod envelope;
mod error;
pub mod hash;
pub mod keyfile;
pub mod outside;
mod provider;
mod secret;

pub use error::CryptoError;
pub use provider::{DataKey, KeyProvider, LocalKek, WrappedKey};
pub use secret::{Secret, SecretBytes};

/// Fills `buf` with bytes from the operating system's CSPRNG.
///
/// # Errors
/// [`CryptoError::Random`] if the system generator fails.
pub fn random_fill(buf: &mut [u8]) -> Result<(), CryptoError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| CryptoError::Random)
}

/// Returns true if and only if `a` and `b` are equal, in time independent of where they differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
