//! The `tresor` binary: parses arguments, calls a door, maps errors to messages and exit codes.
#![deny(unsafe_code)] // allowed in `heap` only: the allocator

mod access_report;
mod cli;
mod compose;
mod door;
mod error;
mod heap;
mod inject;
mod input;
mod key;
mod keyring;
mod kmip;
mod mask;
mod output;
mod progress;
mod remote;
mod rotate_cmd;
mod run_watch;
#[cfg(feature = "s3")]
mod s3;
mod seal_cmd;
mod vault_cmd;

use std::process::ExitCode;

use clap::FromArgMatches;

/// glibc's malloc for short commands, mimalloc once a server starts (see [`heap`]).
#[global_allocator]
static GLOBAL: heap::Heap = heap::Heap;

fn main() -> ExitCode {
    output::quiet_on_closed_stdout();
    let cli = parse();
    compose::install();
    let r = vault_cmd::dispatch(cli);
    door::report_reads();
    match r {
        Ok(code) => code,
        Err(e) => error::report(&e),
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
