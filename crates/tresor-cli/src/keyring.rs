//! `tresor keyring ...`: secrets in the Linux kernel keyrings (tresor-keyring), with
//! [`parse_timeout`], the durations `keyring set --timeout`, `unlock` and `s3 --key-cache`
//! take.
//!
//! Exit codes: 0 found / done, 1 not found, 4 permission denied or quota
//! exceeded, 2 any other error (decided in [`crate::error`]). A broken
//! pipe on stdout counts as success.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use zeroize::Zeroizing;

use tresor_keyring::{Create, KeyInfo, KeyKind, Keyring, KeyringError, Ring, SetOptions};

/// Most bytes `set` reads from stdin: one more than the largest payload, so
/// an oversized value is reported instead of silently cut.
const STDIN_LIMIT: u64 = tresor_keyring::MAX_PAYLOAD_LEN as u64 + 1;

/// What to do when the key already exists (`--create`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CreateArg {
    /// Create or replace.
    Always,
    /// Create only; fail if the key exists.
    IfMissing,
    /// Replace only; fail if the key does not exist.
    Never,
}

impl From<CreateArg> for Create {
    fn from(c: CreateArg) -> Create {
        match c {
            CreateArg::Always => Create::Always,
            CreateArg::IfMissing => Create::IfMissing,
            CreateArg::Never => Create::Never,
        }
    }
}

/// `tresor keyring ...`: secrets in the Linux kernel keyrings.
///
/// Exit codes: 0 found/done, 1 not found, 4 permission denied or quota
/// exceeded, 2 other errors.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeyringCommand {
    /// Store a secret; the value is read from stdin (raw bytes, as with
    /// `keyctl padd`) or prompted for on a terminal, never taken from argv.
    Set {
        /// Key name (description).
        name: String,
        /// Keyring: thread, process, session, user, user-session, group,
        /// reqkey-auth, or @name for a named keyring in the user keyring.
        #[arg(long, default_value = "user")]
        ring: Ring,
        /// Expire the key after this long: 30s, 10m, 2h, 1d (plain number:
        /// seconds).
        #[arg(long)]
        timeout: Option<String>,
        /// Store a `logon` key (never readable back; name needs `service:`).
        #[arg(long)]
        logon: bool,
        /// What to do if the key exists or not.
        #[arg(long, value_enum, default_value = "always")]
        create: CreateArg,
    },
    /// Print a secret's raw bytes to stdout (with --json: a JSON object).
    Get {
        /// Key name.
        name: String,
        /// Keyring (see `set`).
        #[arg(long, default_value = "user")]
        ring: Ring,
    },
    /// Invalidate (delete) a key.
    Invalidate {
        /// Key name.
        name: String,
        /// Keyring (see `set`).
        #[arg(long, default_value = "user")]
        ring: Ring,
    },
    /// List the keys linked directly in a keyring.
    List {
        /// Keyring (see `set`).
        #[arg(long, default_value = "user")]
        ring: Ring,
    },
    /// Find a key by name and print its id, type, permissions.
    Search {
        /// Key name.
        name: String,
        /// Keyring (see `set`).
        #[arg(long, default_value = "user")]
        ring: Ring,
        /// Also search keyrings linked from the ring.
        #[arg(long)]
        recurse: bool,
        /// Search for a `logon` key instead of a `user` key.
        #[arg(long)]
        logon: bool,
    },
    /// Tell whether this process has a session keyring of its own.
    Session,
}

/// Where [`run_with`] reads and writes.
pub struct Io<'a> {
    /// Secret input for `set` when not a terminal.
    pub stdin: &'a mut dyn Read,
    /// True when `set` should prompt on the terminal instead of reading
    /// `stdin`.
    pub stdin_is_tty: bool,
    /// Results.
    pub stdout: &'a mut dyn Write,
    /// Notes and hints.
    pub stderr: &'a mut dyn Write,
}

/// Runs `cmd` on the process's stdin, stdout and stderr.
///
/// On `Err(e)`, [`crate::error::report`] prints `error: {e}` and, if any, `hint:
/// {e.hint()}`, and picks the exit code.
///
/// # Errors
///
/// Any [`KeyringError`]; "not found" is `Err` too (exit code 1).
pub fn run(cmd: KeyringCommand, json: bool) -> Result<ExitCode, KeyringError> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let mut stdin = stdin.lock();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let mut io = Io {
        stdin: &mut stdin,
        stdin_is_tty: tty,
        stdout: &mut stdout,
        stderr: &mut stderr,
    };
    run_with(cmd, json, &mut io)
}

/// Parses a timeout such as `30s`, `10m`, `2h`, `1d` or `45` (seconds).
///
/// # Errors
///
/// [`KeyringError::InvalidTimeout`] for anything else, zero included.
pub fn parse_timeout(s: &str) -> Result<Duration, KeyringError> {
    let bad = || KeyringError::InvalidTimeout {
        input: s.to_owned(),
    };
    let (num, mult) = match s.as_bytes().last() {
        Some(b's') => (&s[..s.len() - 1], 1),
        Some(b'm') => (&s[..s.len() - 1], 60),
        Some(b'h') => (&s[..s.len() - 1], 3600),
        Some(b'd') => (&s[..s.len() - 1], 86400),
        _ => (s, 1),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = n.checked_mul(mult).filter(|&v| v > 0).ok_or_else(bad)?;
    Ok(Duration::from_secs(secs))
}

fn read_secret(name: &str, io: &mut Io<'_>) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
    if io.stdin_is_tty {
        let v = rpassword::prompt_password(format!("value for '{name}': ")).map_err(|e| {
            KeyringError::Input {
                source_name: "the terminal",
                source: e,
            }
        })?;
        return Ok(Zeroizing::new(v.into_bytes()));
    }
    let mut buf = Zeroizing::new(Vec::new());
    io.stdin
        .take(STDIN_LIMIT)
        .read_to_end(&mut buf)
        .map_err(|e| KeyringError::Input {
            source_name: "stdin",
            source: e,
        })?;
    Ok(buf)
}

fn info_json(i: &KeyInfo) -> serde_json::Value {
    json!({
        "id": i.id,
        "type": i.key_type,
        "uid": i.uid,
        "gid": i.gid,
        "perm": format!("{:08x}", i.perm),
        "name": i.name,
    })
}

fn info_line(i: &KeyInfo) -> String {
    format!(
        "{:>10} {:08x} {:>5} {:>5} {:<8} {}",
        i.id, i.perm, i.uid, i.gid, i.key_type, i.name
    )
}

fn out(io: &mut Io<'_>, bytes: &[u8]) -> Result<(), std::io::Error> {
    io.stdout.write_all(bytes)?;
    io.stdout.flush()
}

/// Runs `cmd` with the given streams (tests use in-memory ones).
///
/// # Errors
///
/// As [`run`].
pub fn run_with(
    cmd: KeyringCommand,
    json: bool,
    io: &mut Io<'_>,
) -> Result<ExitCode, KeyringError> {
    let mut text = Vec::new();
    match cmd {
        KeyringCommand::Set {
            name,
            ring,
            timeout,
            logon,
            create,
        } => {
            let timeout = timeout.as_deref().map(parse_timeout).transpose()?;
            if ring == Ring::Session && tresor_keyring::session_status()?.is_user_session_default()
            {
                let _ = writeln!(io.stderr, "note: {}", tresor_keyring::NO_SESSION_HINT);
            }
            let value = read_secret(&name, io)?;
            let kr = Keyring::open_or_create(ring)?;
            let opts = SetOptions {
                kind: if logon { KeyKind::Logon } else { KeyKind::User },
                create: create.into(),
                timeout,
                permissions: None,
            };
            let id = kr.set_with(&name, &value, &opts)?;
            if json {
                let v = json!({"id": id, "name": name, "ring": kr.ring().to_string()});
                text = format!("{v}\n").into_bytes();
            } else {
                text = format!("{id}\n").into_bytes();
            }
        }
        KeyringCommand::Get { name, ring } => {
            let kr = Keyring::open(ring)?;
            let value = kr.get(&name)?;
            if json {
                let v = match std::str::from_utf8(&value) {
                    Ok(s) => json!({"name": name, "ring": kr.ring().to_string(),
                                    "encoding": "utf-8", "value": s}),
                    Err(_) => {
                        use base64::Engine;
                        let b = Zeroizing::new(
                            base64::engine::general_purpose::STANDARD.encode(&*value),
                        );
                        json!({"name": name, "ring": kr.ring().to_string(),
                               "encoding": "base64", "value": &*b})
                    }
                };
                let s = Zeroizing::new(format!("{v}\n"));
                return finish(io, s.as_bytes());
            }
            return finish(io, &value);
        }
        KeyringCommand::Invalidate { name, ring } => {
            Keyring::open(ring)?.invalidate(&name)?;
            if json {
                text = format!("{}\n", json!({"invalidated": name})).into_bytes();
            }
        }
        KeyringCommand::List { ring } => {
            let kr = Keyring::open(ring)?;
            let items = kr.list()?;
            if json {
                let v: Vec<_> = items.iter().map(info_json).collect();
                text = format!("{}\n", serde_json::Value::Array(v)).into_bytes();
            } else {
                for i in &items {
                    text.extend_from_slice(info_line(i).as_bytes());
                    text.push(b'\n');
                }
            }
        }
        KeyringCommand::Search {
            name,
            ring,
            recurse,
            logon,
        } => {
            let kind = if logon { KeyKind::Logon } else { KeyKind::User };
            let info = Keyring::open(ring)?.search(&name, kind, recurse)?;
            text = if json {
                format!("{}\n", info_json(&info)).into_bytes()
            } else {
                format!("{}\n", info_line(&info)).into_bytes()
            };
        }
        KeyringCommand::Session => {
            let st = tresor_keyring::session_status()?;
            text = match (json, st) {
                (true, tresor_keyring::SessionStatus::Own { id }) => {
                    format!("{}\n", json!({"session": "own", "id": id}))
                }
                (true, tresor_keyring::SessionStatus::UserSessionDefault { id }) => format!(
                    "{}\n",
                    json!({"session": "user-session-default", "id": id,
                           "hint": tresor_keyring::NO_SESSION_HINT})
                ),
                (false, tresor_keyring::SessionStatus::Own { id }) => {
                    format!("own session keyring {id}\n")
                }
                (false, tresor_keyring::SessionStatus::UserSessionDefault { id }) => {
                    format!(
                        "user-session default keyring {id}\nhint: {}\n",
                        tresor_keyring::NO_SESSION_HINT
                    )
                }
            }
            .into_bytes();
        }
    }
    finish(io, &text)
}

fn finish(io: &mut Io<'_>, bytes: &[u8]) -> Result<ExitCode, KeyringError> {
    match out(io, bytes) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(KeyringError::Output(e)),
    }
}

#[cfg(test)]
#[path = "keyring_test.rs"]
mod tests;
