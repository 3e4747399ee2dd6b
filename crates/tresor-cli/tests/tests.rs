//! Integration tests of the `tresor` command: one binary, driving the real executable with a
//! private temporary `HOME` per test (see `vault/util.rs`).
//!
//! The modules live in `tests/vault/` so that cargo does not build each as its own test binary.

/// These tests drive a local vault; `tests/remote.rs` runs the applicable ones again against
/// a KMIP server.
const REMOTE: bool = false;

/// Tests that only make sense on a local vault (kept here, left out of `tests/remote.rs`).
macro_rules! local {
    ($($item:item)*) => { $($item)* };
}

#[path = "vault/macros.rs"]
mod macros;
#[path = "vault/util.rs"]
mod util;

#[path = "vault/at_rest.rs"]
mod at_rest;
#[path = "vault/backup.rs"]
mod backup;
#[path = "vault/bad_input.rs"]
mod bad_input;
#[path = "vault/commands.rs"]
mod commands;
#[path = "vault/crash.rs"]
mod crash;
#[path = "vault/filters.rs"]
mod filters;
#[path = "vault/seeqret.rs"]
mod seeqret;
#[path = "vault/sharing.rs"]
mod sharing;
mod threat_model;
#[path = "vault/unlock.rs"]
mod unlock;
