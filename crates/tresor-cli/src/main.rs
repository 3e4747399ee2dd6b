//! The `tresor` binary: parses arguments, calls a door, maps errors to messages and exit codes.
#![deny(unsafe_code)] // allowed in `heap` only: the allocator

mod access_report;
mod cli;
mod door;
mod heap;
mod inject;
mod input;
mod mask;
mod output;
mod progress;
mod remote;
mod rotate_cmd;
mod run_watch;
mod seal_cmd;
mod vault_cmd;

use std::process::ExitCode;

use clap::FromArgMatches;

/// glibc's malloc for short commands, mimalloc once a server starts (see [`heap`]).
#[global_allocator]
static GLOBAL: heap::Heap = heap::Heap;

fn main() -> ExitCode {
    let cli = parse();
    let r = vault_cmd::dispatch(cli);
    door::report_reads();
    match r {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

/// `Cli::parse()`, without dropping clap's command tree at the end: the process keeps it
/// until it exits (one tree per process), and freeing its thousands of small allocations
/// was a tenth of the instructions of a `tresor get` run (callgrind).
///
/// `tresor get` first tries the short tree of [`cli::parse_hot`].
fn parse() -> cli::Cli {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(cli) = cli::parse_hot(&args) {
        return cli;
    }
    let mut cmd = cli::command();
    let matches = cmd
        .try_get_matches_from_mut(args)
        .unwrap_or_else(|e| e.exit());
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut cmd).exit());
    std::mem::forget(matches);
    std::mem::forget(cmd);
    cli
}

/// Prints `error: …` and an optional `hint: …`; returns the exit code for the error.
fn report(e: &anyhow::Error) -> ExitCode {
    // A closed pipe (e.g. `tresor list | head`) is not an error.
    if e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    }) {
        return ExitCode::SUCCESS;
    }
    let (code, hint) = classify(e);
    let msg = message(e);
    if output::color_stderr() {
        eprintln!("\x1b[31merror:\x1b[0m {msg}");
    } else {
        eprintln!("error: {msg}");
    }
    if let Some(h) = hint {
        eprintln!("hint: {h}");
    }
    ExitCode::from(code)
}

/// The error and its causes joined by `: `, each cause once: many errors (`VaultError::Io`,
/// the store's I/O errors) already print their source, which the chain would repeat.
fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

fn classify(e: &anyhow::Error) -> (u8, Option<String>) {
    use tresor_vault::VaultError;
    for c in e.chain() {
        // Metadata edited outside tresor (issue 13): an error, with what to do about it.
        let store = c.downcast_ref::<tresor_store::StoreError>().or_else(|| {
            match c.downcast_ref::<VaultError>() {
                Some(VaultError::Store(s)) => Some(s),
                _ => None,
            }
        });
        if let Some(tresor_store::StoreError::Tampered { .. }) = store {
            return (
                2,
                Some(
                    "tresor refuses objects whose owner, grants, names, versions or state were changed outside it; run 'tresor audit --verify', then restore from a backup or find who wrote the database"
                        .into(),
                ),
            );
        }
        if let Some(v) = c.downcast_ref::<VaultError>() {
            let code = match v {
                VaultError::NotFound(_) => 1,
                VaultError::Ambiguous { .. } => 3,
                _ => 2,
            };
            return (code, v.hint());
        }
        #[cfg(feature = "s3")]
        if let Some(s) = c.downcast_ref::<tresor_s3::S3Error>() {
            return (s.exit_code(), s.hint());
        }
        if let Some(r) = c.downcast_ref::<tresor_rotate::RotateError>() {
            return (r.exit_code(), r.hint());
        }
        if let Some(k) = c.downcast_ref::<tresor_keyring::KeyringError>() {
            return (k.exit_code(), k.hint().map(|h| h.to_string()));
        }
    }
    (2, None)
}
