//! tresor on S3: the shared keyring s3keyring set out to be, with client-side encryption.
//!
//! | item | job |
//! |---|---|
//! | [`S3Backend`] | the store's `Backend` on a bucket (feature `s3`): conditional writes, no lost update |
//! | [`KmsProvider`] | a `KeyProvider` on AWS KMS `GenerateDataKey`/`Decrypt` (feature `kms`) |
//! | [`CachingProvider`] | caches unwrapped data keys in memory, so a hot read is one GetObject |
//! | [`S3Location`], [`S3Settings`] | `s3://bucket/prefix`, and endpoint/region/credentials from the AWS environment |
//! | [`keys`] | the percent-encoding of names into object keys |
//! | [`Session`], [`import_s3keyring`] | s3keyring's `(service, username)` secrets on the encrypted store, and the import of an s3keyring bucket (feature `kms`); `tresor s3 …` is their command line |
//! | [`compat`] | s3keyring's profile file, variables, bucket layout and escaping; `(service, user)` → tresor name |
//!
//! Material is sealed by the store before it reaches S3 (a fresh data key per version, wrapped
//! by the store's key provider); S3 only ever holds ciphertext and clear metadata.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "s3")]
mod backend;
mod cache;
pub mod compat;
mod config;
mod error;
pub mod keys;
#[cfg(feature = "kms")]
mod kms;
#[cfg(feature = "kms")]
mod session;

#[cfg(feature = "s3")]
pub use backend::S3Backend;
#[cfg(feature = "s3")]
#[doc(hidden)]
pub use backend::fuzzing;
pub use cache::CachingProvider;
pub use config::{S3Location, S3Settings};
pub use error::{Result, S3Error};
#[cfg(feature = "kms")]
pub use kms::KmsProvider;
#[cfg(feature = "kms")]
pub use session::{
    DEFAULT_PREFIX, ImportFailure, ImportOptions, ImportReport, Session, import_s3keyring,
};
