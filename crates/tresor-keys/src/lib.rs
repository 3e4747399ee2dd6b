//! tresor's key lifecycle: named keys read from their own sources, versions, crash-safe
//! rotation with on-change callbacks, and transit-style encrypt / decrypt / rewrap.
//!
//! It replaces the Python `keys-management` library and keeps its model (key definitions,
//! one-way and round-trip keys, forward and back paths, caching, stated keys, on-change
//! callbacks under an error strategy) while fixing its weaknesses: every key has **versions**
//! (the primary encrypts, every version from the minimum decryption version decrypts),
//! ciphertexts name their key and version, changes are written to the store before anything
//! uses them, and a rotation journal re-runs callbacks a crash interrupted.
//!
//! | type | job |
//! |---|---|
//! | [`KeyManager`] | defines keys, hands out forward/back path keys, rotates, encrypts |
//! | [`KeyDefinition`] | name, [`KeySource`], [`Purpose`], stateless, keep_in_cache, [`ErrorStrategy`] |
//! | [`KeySource`] | a closure, a vault secret, a KMIP object, an env var, a file, a kernel keyring key |
//! | [`KeyValue`], [`KeyBytes`], [`Key`] | key material: zeroized on drop, never printed |
//! | [`KeyType`] | aes256-gcm, chacha20-poly1305, hmac-sha256, ed25519, external |
//! | [`ciphertext`] | `tresor:NAME:vN:BASE64` and the binary form |
//! | `tresor key` | the command line, in the `tresor` binary (crates/tresor-cli/src/key.rs) |
//!
//! # Store layout
//!
//! A key is the store object `tresor-key:NAME` (SymmetricKey; PrivateKey for ed25519;
//! SecretData for keys from a source). Its material versions are the key versions; attributes
//! `x-key-type`, `x-primary-version`, `x-min-decryption-version`, `x-auto-rotate-secs`,
//! `x-last-flow`, `x-last-forward-version` and, while callbacks are unfinished,
//! `x-rotation-journal` / `x-pending-callbacks`.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use tresor_keys::{ErrorStrategy, KeyDefinition, KeyManager, KeySource, KeyValue, Purpose};
//!
//! let dir = tempfile::tempdir()?;
//! let kek = Arc::new(tresor_crypto::LocalKek::generate()?);
//! let store = Arc::new(tresor_store::Store::open_sqlite(&dir.path().join("t.db"), kek, "me")?);
//! let km = KeyManager::open(store)?;
//! km.define_key(
//!     KeyDefinition::new("orders", KeySource::from_fn(|| Ok(KeyValue::symmetric([7u8; 32].as_slice()))))
//!         .purpose(Purpose::RoundTrip)
//!         .stateless(false)
//!         .on_change(ErrorStrategy::RaiseImmediately),
//! )?;
//! let ct = km.encrypt("orders", b"card 4242", b"order-17")?;
//! assert!(ct.starts_with("tresor:orders:v1:"));
//! assert_eq!(km.decrypt(&ct, b"order-17")?.expose(), b"card 4242");
//! assert!(km.decrypt(&ct, b"order-18").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod algo;
pub mod ciphertext;
mod definition;
mod error;
mod journal;
pub mod lifecycle;
mod manager;
mod source;
mod state;
mod transit;
mod value;

pub use algo::KeyType;
pub use definition::{ChangeReport, ErrorStrategy, Flow, KeyDefinition, Purpose};
pub use error::{BoxError, CallbackFailure, KeysError, Result, SourceError};
pub use journal::{CallbackStatus, JournalCallback, JournalEntry};
pub use manager::{KeyChange, KeyManager, OnChangeFn};
pub use source::{KeySource, SourceFn};
pub use state::OBJECT_PREFIX;
pub use transit::{KeyConfig, KeyInfo, VersionState, VersionView, parse_duration};
pub use value::{Key, KeyBytes, KeyValue};
