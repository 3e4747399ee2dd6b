//! tresor's developer vault: secrets named `app:env:KEY`, shared by public key.
//!
//! | module | job |
//! |---|---|
//! | [`Vault`] | open a vault, get / list / add / edit / remove secrets, history and rollback |
//! | [`filter`] | the `app:env:KEY` filter grammar with globs ([`filter::Filter`], [`filter::FilterSet`]) |
//! | [`template`] | seeqret-compatible `env.template` parsing and rendering |
//! | [`dotenv`] | `.env` rendering (safe quoting) and parsing |
//! | [`identity`] | users, public keys, signed and encrypted exports between vaults |
//! | [`seeqret`] | reading seeqret vaults and exports, for migration |
//! | [`reference`](mod@reference) | `tresor://APP/ENV/KEY` references: the percent-encoded form, finding them in text, reading many at once |
//! | [`rekey`] | rotating the vault key and changing its passphrase, crash-safe |
//!
//! # Examples
//!
//! ```
//! use tresor_vault::{InitOptions, Vault};
//!
//! let dir = tempfile::tempdir()?;
//! let vault = Vault::init(&dir.path().join("v"), InitOptions::default())?;
//! vault.add("myapp", "dev", "DB_PASSWORD", b"hunter2", "str", false)?;
//! assert_eq!(vault.get("myapp:dev:DB_PASSWORD")?.expose(), b"hunter2");
//! assert_eq!(vault.get("DB_*")?.expose(), b"hunter2");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backup;
mod cache;
pub mod dotenv;
mod error;
pub mod filter;
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod reference;
pub mod rekey;
pub mod reserved;
pub mod seeqret;
pub mod template;
mod vault;

pub use error::{Result, VaultError};
pub use vault::{
    CONFIG_FILE, DB_FILE, ImportReport, InitOptions, KEY_FILE, KIND, ROLE, SecretInfo, Vault,
    VaultConfig, check_import, default_dir, default_user, open_store, secret_name, vault_view,
};
