//! `tresor keyring` as a stand-alone program, for trying the subcommand and
//! for the crate's process-level tests before the main CLI embeds it.
//!
//! ```text
//! printf 's3cret' | cargo run -p tresor-keyring --example keyring_cli -- set db --timeout 10m
//! cargo run -p tresor-keyring --example keyring_cli -- get db
//! ```

use std::process::ExitCode;

use clap::Parser;
use tresor_keyring::cli::{KeyringCommand, report, run};

/// Secrets in the Linux kernel keyrings.
#[derive(Parser)]
#[command(name = "keyring_cli")]
struct Args {
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: KeyringCommand,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args.cmd, args.json) {
        Ok(code) => code,
        Err(e) => report(&e, &mut std::io::stderr()),
    }
}
