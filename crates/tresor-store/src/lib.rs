//! tresor's object store: one model for every door (vault, KMIP, key lifecycle).
//!
//! Objects have a uid, a type, a lifecycle state, an owner, unique names, typed attributes
//! and versions of material. Every version is sealed with a fresh data key under AES-256-GCM,
//! with associated data binding uid, version and type; the data key is wrapped by the store's
//! [`tresor_crypto::KeyProvider`]. Every mutation appends to a keyed, hash-chained audit log.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use tresor_store::{NewObject, ObjectType, Store};
//!
//! let dir = tempfile::tempdir()?;
//! let kek = Arc::new(tresor_crypto::LocalKek::generate()?);
//! let store = Store::open_sqlite(&dir.path().join("t.db"), kek, "alice")?;
//! let mut new = NewObject::new(ObjectType::SecretData);
//! new.names.push("app:dev:DB".into());
//! new.material = Some(b"hunter2".to_vec());
//! store.create(new)?;
//! let (meta, value) = store.read_by_name("app:dev:DB")?.expect("present");
//! assert_eq!(value.expose(), b"hunter2");
//! assert_eq!(meta.owner, "alice");
//! assert_eq!(store.verify_audit()?.first_bad, None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod audit;
mod backend;
mod error;
pub mod fsutil;
mod group;
mod head;
mod mac;
mod model;
#[cfg(feature = "postgres")]
mod postgres;
mod prefetch;
pub mod progress;
mod query;
mod rekey;
pub mod reserved;
pub mod secret_name;
mod sqlite;
mod store;
pub mod store_url;
#[doc(hidden)]
pub mod testing;

pub use audit::{AuditDraft, AuditEntry, AuditSigner};
pub use backend::{Backend, Batch, Dump, Found, MAX_MANY, Precondition, Write};
pub use error::{Result, StoreError};
pub use head::{AuditHead, FileHead, HEAD_FILE, HeadSink, HeadUpdate, HeadWatch};
pub use model::{
    Attributes, NewObject, ObjectMeta, ObjectType, SealedVersion, State, VersionInfo, new_uid, now,
};
#[cfg(feature = "postgres")]
pub use postgres::{PgTarget, PostgresBackend};
pub use query::{AttrCond, Query};
pub use rekey::RekeyReport;
pub use sqlite::{SCHEMA_VERSION, SqliteBackend, memory as sqlite_memory};
pub use store::{AuditReport, KEK_ID_META, Store, Txn, check_transition};
