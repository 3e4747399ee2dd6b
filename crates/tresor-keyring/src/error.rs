//! The one error type of `tresor-keyring`.

use std::fmt;

/// Why a key name was rejected before it reached the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameProblem {
    /// The name is the empty string.
    Empty,
    /// The name is longer than the kernel's 4095-byte description limit.
    TooLong {
        /// Length of the rejected name in bytes.
        len: usize,
    },
    /// The name contains a NUL byte, which cannot cross the system call.
    Nul,
    /// A `logon` key's name lacks the `service:` prefix the kernel requires.
    LogonWithoutPrefix,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::Empty => f.write_str("name is empty"),
            NameProblem::TooLong { len } => write!(
                f,
                "name is {len} bytes, over the kernel's limit of {} bytes",
                crate::MAX_NAME_LEN
            ),
            NameProblem::Nul => f.write_str("name contains a NUL byte"),
            NameProblem::LogonWithoutPrefix => {
                f.write_str("logon key names need a 'service:' prefix (e.g. 'tresor:name')")
            }
        }
    }
}

/// Everything that can go wrong talking to the kernel keyrings.
///
/// Variants that come from a system call keep its `errno` (see
/// [`KeyringError::errno`]); every message names the keyring and, where there
/// is one, the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// No key of that name (and type) in the keyring (`ENOKEY`).
    #[error("key '{name}' not found in keyring '{ring}'")]
    NotFound {
        /// The keyring, as written by the user (`user`, `@app`, ...).
        ring: String,
        /// The key name.
        name: String,
    },
    /// The keyring itself does not exist (a named ring not created yet, or a
    /// thread/process ring this thread never made).
    #[error("keyring '{ring}' not found")]
    RingNotFound {
        /// The keyring.
        ring: String,
    },
    /// The key permissions (or the keyring's) forbid the operation
    /// (`EACCES` or `EPERM`).
    #[error("permission denied to {op} key '{name}' in keyring '{ring}' ({})", errno_name(*errno))]
    PermissionDenied {
        /// What was attempted: `read`, `write`, `search`, ...
        op: &'static str,
        /// The keyring.
        ring: String,
        /// The key name.
        name: String,
        /// `EACCES` or `EPERM`.
        errno: i32,
    },
    /// The owner's key quota is used up (`EDQUOT`).
    #[error(
        "quota exceeded storing key '{name}' in keyring '{ring}' (EDQUOT): the kernel limits each user to {maxkeys} keys and {maxbytes} bytes of key descriptions and payloads ({quota_files})"
    )]
    QuotaExceeded {
        /// The keyring.
        ring: String,
        /// The key name.
        name: String,
        /// The caller's key-count limit at the time of the error.
        maxkeys: String,
        /// The caller's byte limit at the time of the error.
        maxbytes: String,
        /// Which `/proc/sys/kernel/keys/` files set these limits.
        quota_files: &'static str,
    },
    /// The key's timeout has passed (`EKEYEXPIRED`).
    #[error("key '{name}' in keyring '{ring}' has expired")]
    Expired {
        /// The keyring.
        ring: String,
        /// The key name.
        name: String,
    },
    /// The key was revoked (`EKEYREVOKED`).
    #[error("key '{name}' in keyring '{ring}' has been revoked")]
    Revoked {
        /// The keyring.
        ring: String,
        /// The key name.
        name: String,
    },
    /// The key name cannot be used (checked before any system call; the
    /// kernel would answer `EINVAL`).
    #[error("invalid key name '{shown}': {problem}")]
    InvalidName {
        /// The name, shortened to 64 characters and with control bytes escaped.
        shown: String,
        /// What is wrong with it.
        problem: NameProblem,
    },
    /// A keyring name (`--ring`) that tresor does not know.
    #[error(
        "invalid keyring '{input}': expected thread, process, session, user, user-session, group, reqkey-auth or @name"
    )]
    InvalidRing {
        /// What the user wrote.
        input: String,
    },
    /// An empty payload: the kernel's `user` and `logon` types reject it
    /// (`EINVAL`).
    #[error(
        "refusing to store key '{name}' in keyring '{ring}': the kernel rejects empty payloads"
    )]
    EmptyPayload {
        /// The keyring.
        ring: String,
        /// The key name.
        name: String,
    },
    /// A payload over the kernel's limit for the key type (`EINVAL`).
    #[error(
        "refusing to store key '{name}' in keyring '{ring}': payload of {len} bytes is over the {max}-byte limit of {key_type} keys"
    )]
    PayloadTooLarge {
        /// The keyring.
        ring: String,
        /// The key name.
        name: String,
        /// Payload length in bytes.
        len: usize,
        /// The type's limit in bytes.
        max: usize,
        /// `user` or `logon`.
        key_type: &'static str,
    },
    /// The key exists but its payload cannot be read from userspace (a
    /// `logon` key: `EOPNOTSUPP`).
    #[error(
        "key '{name}' in keyring '{ring}' cannot be read from userspace (logon keys are write-only)"
    )]
    NotReadable {
        /// The keyring.
        ring: String,
        /// The key name.
        name: String,
    },
    /// `Create::IfMissing` found a key of that name already.
    #[error("key '{name}' already exists in keyring '{ring}'")]
    AlreadyExists {
        /// The keyring.
        ring: String,
        /// The key name.
        name: String,
    },
    /// Any other failed system call.
    #[error("cannot {op} key '{name}' in keyring '{ring}': {} ({})", std::io::Error::from_raw_os_error(*errno), errno_name(*errno))]
    Os {
        /// What was attempted.
        op: &'static str,
        /// The keyring.
        ring: String,
        /// The key name (empty for ring-wide operations).
        name: String,
        /// The raw `errno`.
        errno: i32,
    },
    /// Reading the secret from stdin or the terminal failed (CLI only).
    #[error("cannot read the secret value from {source_name}: {source}")]
    Input {
        /// `stdin` or `the terminal`.
        source_name: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing output failed (CLI only).
    #[error("cannot write output: {0}")]
    Output(#[source] std::io::Error),
    /// A `--timeout` value that does not parse.
    #[error(
        "invalid timeout '{input}': expected a number with an optional unit s, m, h or d (e.g. 10m)"
    )]
    InvalidTimeout {
        /// What the user wrote.
        input: String,
    },
}

impl KeyringError {
    /// The `errno` behind this error, when it came from (or stands for) a
    /// system call.
    ///
    /// Errors tresor detects before calling the kernel report the value the
    /// kernel would have returned (`EINVAL` for bad names and payloads).
    pub fn errno(&self) -> Option<i32> {
        match self {
            KeyringError::NotFound { .. } | KeyringError::RingNotFound { .. } => Some(libc::ENOKEY),
            KeyringError::PermissionDenied { errno, .. } | KeyringError::Os { errno, .. } => {
                Some(*errno)
            }
            KeyringError::QuotaExceeded { .. } => Some(libc::EDQUOT),
            KeyringError::Expired { .. } => Some(libc::EKEYEXPIRED),
            KeyringError::Revoked { .. } => Some(libc::EKEYREVOKED),
            KeyringError::InvalidName { .. }
            | KeyringError::EmptyPayload { .. }
            | KeyringError::PayloadTooLarge { .. } => Some(libc::EINVAL),
            KeyringError::NotReadable { .. } => Some(libc::EOPNOTSUPP),
            KeyringError::AlreadyExists { .. } => Some(libc::EEXIST),
            KeyringError::Input { source, .. } | KeyringError::Output(source) => {
                source.raw_os_error()
            }
            KeyringError::InvalidRing { .. } | KeyringError::InvalidTimeout { .. } => None,
        }
    }

    /// Returns true if and only if this error means "no such key or ring".
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            KeyringError::NotFound { .. } | KeyringError::RingNotFound { .. }
        )
    }

    /// A one-line suggestion for the user, like age's `rec-*` messages.
    pub fn hint(&self) -> Option<String> {
        match self {
            KeyringError::PermissionDenied { ring, .. } if ring == "user" => Some(
                "keys in the user keyring are only readable by processes that possess them; \
                 in a private session keyring (e.g. under `keyctl session`) link it with \
                 `keyctl link @u @s`, or grant user read permission when setting the key"
                    .to_owned(),
            ),
            KeyringError::PermissionDenied { .. } => Some(
                "check the key's permissions with `keyctl describe` and that this process \
                 possesses the keyring"
                    .to_owned(),
            ),
            KeyringError::QuotaExceeded { .. } => Some(
                "invalidate keys you no longer need (`tresor keyring list`), or raise the limits \
                 in /proc/sys/kernel/keys/ as root"
                    .to_owned(),
            ),
            KeyringError::RingNotFound { ring } if ring.starts_with('@') => Some(format!(
                "named keyrings are created by `tresor keyring set NAME --ring {ring}`"
            )),
            KeyringError::NotReadable { .. } => {
                Some("store the key as a `user` key to read it back".to_owned())
            }
            KeyringError::PayloadTooLarge { .. } => Some(
                "the kernel's big_key type (CONFIG_BIG_KEYS) holds up to 1 MiB; it is used \
                 automatically when available"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// Builds the error for a failed system call, classifying its `errno`.
    pub(crate) fn from_errno(errno: i32, op: &'static str, ring: &str, name: &str) -> Self {
        let ring = ring.to_owned();
        let name = name.to_owned();
        match errno {
            libc::ENOKEY => KeyringError::NotFound { ring, name },
            libc::EACCES | libc::EPERM => KeyringError::PermissionDenied {
                op,
                ring,
                name,
                errno,
            },
            libc::EDQUOT => {
                let q = Quota::current();
                KeyringError::QuotaExceeded {
                    ring,
                    name,
                    maxkeys: q.maxkeys,
                    maxbytes: q.maxbytes,
                    quota_files: q.files,
                }
            }
            libc::EKEYEXPIRED => KeyringError::Expired { ring, name },
            libc::EKEYREVOKED => KeyringError::Revoked { ring, name },
            libc::EOPNOTSUPP if op == "read" => KeyringError::NotReadable { ring, name },
            _ => KeyringError::Os {
                op,
                ring,
                name,
                errno,
            },
        }
    }
}

/// The key quota that applies to the calling user, read from `/proc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Maximum number of keys (as text: `"?"` when unreadable).
    pub maxkeys: String,
    /// Maximum bytes of descriptions plus payloads (`"?"` when unreadable).
    pub maxbytes: String,
    /// The two files the numbers come from.
    pub files: &'static str,
}

impl Quota {
    /// Reads the quota for the calling user: root has its own limits
    /// (`root_maxkeys`, `root_maxbytes`, by default 1,000,000 / 25,000,000);
    /// everyone else shares `maxkeys`, `maxbytes` (by default 200 keys and
    /// 20,000 bytes per user).
    pub fn current() -> Quota {
        let root = effective_uid() == Some(0);
        let (k, b, files) = if root {
            (
                "/proc/sys/kernel/keys/root_maxkeys",
                "/proc/sys/kernel/keys/root_maxbytes",
                "see /proc/sys/kernel/keys/root_maxkeys and root_maxbytes",
            )
        } else {
            (
                "/proc/sys/kernel/keys/maxkeys",
                "/proc/sys/kernel/keys/maxbytes",
                "see /proc/sys/kernel/keys/maxkeys and maxbytes",
            )
        };
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "?".to_owned())
        };
        Quota {
            maxkeys: read(k),
            maxbytes: read(b),
            files,
        }
    }
}

/// The effective uid of this process, from `/proc/self/status`.
pub(crate) fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    // "Uid:\treal\teffective\tsaved\tfs"
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The symbolic name of an `errno` value, for messages.
pub(crate) fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::ENOKEY => "ENOKEY",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::EDQUOT => "EDQUOT",
        libc::EKEYEXPIRED => "EKEYEXPIRED",
        libc::EKEYREVOKED => "EKEYREVOKED",
        libc::EKEYREJECTED => "EKEYREJECTED",
        libc::EINVAL => "EINVAL",
        libc::ENOMEM => "ENOMEM",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENODEV => "ENODEV",
        libc::EFAULT => "EFAULT",
        libc::EEXIST => "EEXIST",
        libc::ENOTDIR => "ENOTDIR",
        libc::ENFILE => "ENFILE",
        libc::EDEADLK => "EDEADLK",
        libc::ELOOP => "ELOOP",
        _ => "errno",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_errno_classifies_and_keeps_errno() {
        let e = KeyringError::from_errno(libc::ENOKEY, "read", "user", "db");
        assert_eq!(e.to_string(), "key 'db' not found in keyring 'user'");
        assert_eq!(e.errno(), Some(libc::ENOKEY));
        assert!(e.is_not_found());

        let e = KeyringError::from_errno(libc::EACCES, "read", "@app", "db");
        assert_eq!(
            e.to_string(),
            "permission denied to read key 'db' in keyring '@app' (EACCES)"
        );
        assert!(matches!(e, KeyringError::PermissionDenied { .. }));

        let e = KeyringError::from_errno(libc::ENOMEM, "write", "session", "x");
        assert_eq!(e.errno(), Some(libc::ENOMEM));
        assert!(
            e.to_string()
                .starts_with("cannot write key 'x' in keyring 'session': ")
        );
        assert!(e.to_string().ends_with("(ENOMEM)"));
        assert!(matches!(e, KeyringError::Os { .. }));

        let e = KeyringError::from_errno(libc::EOPNOTSUPP, "read", "user", "svc:k");
        assert!(matches!(e, KeyringError::NotReadable { .. }));
    }

    #[test]
    fn quota_error_names_limits_and_files() {
        let e = KeyringError::from_errno(libc::EDQUOT, "write", "user", "k");
        let q = Quota::current();
        let msg = e.to_string();
        assert!(msg.contains(&format!("{} keys and {} bytes", q.maxkeys, q.maxbytes)));
        assert!(msg.contains(q.files));
        assert_eq!(e.errno(), Some(libc::EDQUOT));
        assert!(matches!(e, KeyringError::QuotaExceeded { .. }));
    }

    #[test]
    fn effective_uid_is_readable() {
        assert!(effective_uid().is_some());
    }
}
