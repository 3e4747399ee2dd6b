//! Rotation that reaches the service: change a credential in the service (a PostgreSQL
//! role's password, an AWS IAM access key, anything a command can change) and in the vault
//! as one crash-safe step, on a schedule.
//!
//! | item | job |
//! |---|---|
//! | [`Rotations`] | attach rotators to secrets, rotate, resume after a crash, find what is due |
//! | [`Rotator`] | one service's steps: generate, apply, verify, retire |
//! | [`RotatorConfig`], [`Journal`] | what is attached, and where a rotation stands (both MAC'd store attributes) |
//! | [`ValuePolicy`] | length and alphabet of generated values (OS CSPRNG) |
//! | [`Clock`], [`parse_duration`] | schedules (`--every 30d`) with an injectable clock |
//!
//! A rotation goes through phases, each recorded in the journal in the same store
//! transaction as the step's data: `generating` → `pending` (the new value stored in the
//! companion object `tresor:rotator:APP:ENV:KEY`, never returned by `get`) → `applied` →
//! `verified` → current (a new version of the secret, journal back to `idle`, in one
//! transaction). A crash at any point leaves a journal that [`Rotations::resume`] finishes.
//!
//! # Examples
//!
//! ```
//! use tresor_rotate::{RotatorConfig, RotatorKind, Rotations, ValuePolicy};
//! use tresor_vault::{InitOptions, Vault};
//!
//! let dir = tempfile::tempdir()?;
//! let vault = Vault::init(&dir.path().join("v"), InitOptions::default())?;
//! vault.add("app", "dev", "TOKEN", b"old", "str", false)?;
//! let r = Rotations::new(vault.store());
//! r.set("app:dev:TOKEN", RotatorConfig {
//!     kind: RotatorKind::Exec { command: "/bin/true".into() },
//!     every: None, grace: 0, hook: None, policy: ValuePolicy::default(), since: 0,
//! })?;
//! let o = r.rotate("app:dev:TOKEN")?;
//! assert_eq!((o.from_version, o.to_version), (1, 2));
//! assert_eq!(vault.get("app:dev:TOKEN")?.expose().len(), 32);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "aws-iam")]
pub mod aws_iam;
mod config;
mod engine;
mod error;
pub mod exec;
mod hook;
mod policy;
#[cfg(feature = "postgres")]
pub mod postgres;
mod record;
mod rotator;
mod schedule;

pub use config::{Journal, Phase, Retire, RotatorConfig, RotatorKind};
pub use engine::{
    ATTR_CONFIG, ATTR_JOURNAL, ATTR_TARGET, COMPANION_PREFIX, COMPANION_ROLE, Factory, Outcome,
    Rotations, RotatorEntry,
};
pub use error::{Result, RotateError, Step, StepFailure};
pub use hook::run_hook;
pub use policy::{ALNUM, ValuePolicy};
pub use record::{default_factory, read_secret};
pub use rotator::{Rotator, StepCtx};
pub use schedule::{Clock, FixedClock, SystemClock, due_at, format_duration, parse_duration};
