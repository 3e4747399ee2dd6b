//! Secrets in the Linux kernel keyrings, for tresor.
//!
//! The kernel keeps keys in keyrings; a key has a type (`user`, `logon`, ...),
//! a name (its *description*), a payload, permissions and an optional
//! timeout. This crate reaches them through the [`linux-keyutils`] crate,
//! plus a small documented FFI module for the calls it lacks.
//!
//! | type | for |
//! | --- | --- |
//! | [`Keyring`] | one keyring: [`set`](Keyring::set), [`get`](Keyring::get), [`get_cached`](Keyring::get_cached), [`get_recursive`](Keyring::get_recursive), [`get_recursive_cached`](Keyring::get_recursive_cached), [`invalidate`](Keyring::invalidate), [`search`](Keyring::search), [`list`](Keyring::list), [`set_timeout`](Keyring::set_timeout), [`set_permissions`](Keyring::set_permissions) |
//! | [`Ring`] | which keyring: the seven special ones or a named one (`@name`) |
//! | [`UnlockCache`] | the vault's unlock key, cached with a timeout |
//! | [`session_status`] | does this process have a session keyring of its own? |
//! | `tresor keyring` | the command line, in the `tresor` binary (crates/tresor-cli/src/keyring.rs) |
//! | [`KeyringError`] | every error, with its `errno`, keyring and key |
//!
//! # Rings
//!
//! | ring | `keyctl` | lives as long as | shared with |
//! | --- | --- | --- | --- |
//! | `thread` | `@t` | the thread | nobody |
//! | `process` | `@p` | the process | its threads |
//! | `session` | `@s` | the session | processes of the session (see below) |
//! | `user` | `@u` | the user has processes or keys | all processes of the user |
//! | `user-session` | `@us` | as `user` | processes without a session keyring |
//! | `group` | `@g` | (not implemented by Linux: `EINVAL`) | |
//! | `reqkey-auth` | `@a` | a `request-key` upcall | the upcall helper |
//! | `@name` | `%:name` in `@u` | until unlinked | all processes of the user |
//!
//! **`user` works everywhere** and is the CLI's default. A process that never
//! joined a session (cron, containers, `su`, most CI) has the per-user
//! default session keyring as `@s`, shared by all such processes;
//! [`session_status`] detects this and [`NO_SESSION_HINT`] explains it. This
//! crate never joins or replaces a session keyring. (A plain `add_key` to
//! `@s` from such a process would silently create a new, process-private
//! session keyring; [`Keyring::open`] prevents that.)
//!
//! Named keyrings (`@app`) are keyrings called `app` linked directly into
//! the user keyring; [`Keyring::open_or_create`] makes them, and so does
//! `keyctl newring app @u`.
//!
//! # Searching
//!
//! [`Keyring::get`], [`Keyring::invalidate`] and [`Keyring::search`] (unless
//! asked to recurse) only accept a key linked **directly** in the ring, not a
//! same-named key in a keyring linked from it.
//!
//! # Limits
//!
//! Names are 1 to 4095 bytes without NUL ([`MAX_NAME_LEN`]). Payloads are 1
//! to 32,767 bytes ([`MAX_PAYLOAD_LEN`]): the kernel's `user` and `logon`
//! types reject empty and larger payloads. Reads probe the payload size, so
//! every stored size reads back whole. Non-root users have a quota of 200 keys
//! and 20,000 bytes by default (`/proc/sys/kernel/keys/maxkeys`, `maxbytes`);
//! root has `root_maxkeys`, `root_maxbytes`.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use tresor_keyring::{Create, KeyKind, Keyring, Ring, SetOptions};
//!
//! // The user keyring works in every process of the user.
//! let ring = Keyring::open(Ring::User)?;
//! ring.set_with(
//!     "crate-doc-example",
//!     b"hunter2",
//!     &SetOptions { timeout: Some(Duration::from_secs(60)), ..SetOptions::default() },
//! )?;
//! assert_eq!(&ring.get("crate-doc-example")?[..], b"hunter2");
//!
//! // Same name in a named ring linked into @u: a different key.
//! let app = Keyring::open_or_create("@tresor-doc".parse()?)?;
//! assert!(app.get("crate-doc-example").unwrap_err().is_not_found());
//!
//! // Only create if missing.
//! let e = ring.set("crate-doc-example", b"other", Create::IfMissing).unwrap_err();
//! assert_eq!(e.to_string(), "key 'crate-doc-example' already exists in keyring 'user'");
//!
//! app.invalidate_ring()?;
//! ring.invalidate("crate-doc-example")?;
//! let e = ring.get("crate-doc-example").unwrap_err();
//! assert_eq!(e.to_string(), "key 'crate-doc-example' not found in keyring 'user'");
//! assert_eq!(e.errno(), Some(libc::ENOKEY));
//! # let _ = KeyKind::Logon;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`linux-keyutils`]: https://docs.rs/linux-keyutils
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod error;
mod ffi;
mod keyring;
mod outside;
mod ring;
mod session;
mod unlock;

pub use error::{KeyringError, NameProblem, Quota};
pub use keyring::{Create, KeyInfo, KeyKind, Keyring, MAX_NAME_LEN, MAX_PAYLOAD_LEN, SetOptions};
pub use linux_keyutils::{KeyPermissions, KeyPermissionsBuilder, Permission};
pub use outside::{KernelKeyCache, KernelKeys};
pub use ring::Ring;
pub use session::{NO_SESSION_HINT, SessionStatus, session_status};
pub use unlock::UnlockCache;
