//! The `tresor kmip ...` subcommands: the server, certificates, grants and a client command
//! for every operation.
//!
//! Exit codes: 0 success; 1 a negative answer (object not found, Locate found nothing, a
//! signature or MAC did not verify); 2 an error.
//!
//! Client commands take `--server HOST:PORT --cert F --key F --ca F`, or `--config
//! pykmip.conf` (its `[client]` section, or `--section`). Unless `--kmip-version` is given,
//! the client negotiates the version with Discover Versions. Output is human-readable, or
//! JSON with `--json`.
//!
//! Layout: `args` (clap types, value parsing), `serve` (serve, certs, grant), `apps` (app
//! policies: who may create names under an app), `client` (the connection and one function
//! per operation), `output` (printing responses).

pub mod apps;
mod args;
mod client;
mod doctor;
mod ephemeral;
pub mod import_policy;
mod output;
mod serve;

use std::path::Path;
use std::process::ExitCode;

use tresor_kmip::KmipError;

pub use args::{ConfigCommand, KmipCommand, OpenStore};
pub use serve::{config, shutdown_signal};

/// A usage error (exit code 2).
fn usage(msg: impl Into<String>) -> KmipError {
    KmipError::Usage(msg.into())
}

fn runtime() -> Result<tokio::runtime::Runtime, KmipError> {
    runtime_with(2)
}

/// The runtime of a KMIP server: `workers` threads (see `tresor_kmip::server::blocking`).
fn server_runtime(workers: Option<u16>) -> Result<tokio::runtime::Runtime, KmipError> {
    match workers {
        // The flag's parser refuses these; a configuration file's value comes here unchecked.
        Some(n) if n == 0 || n > 1024 => Err(usage(format!(
            "worker_threads = {n}: give 1 to 1024 threads serving connections"
        ))),
        Some(n) => runtime_with(usize::from(n)),
        None => runtime_with(tresor_kmip::server::blocking::DEFAULT_WORKER_THREADS),
    }
}

fn runtime_with(workers: usize) -> Result<tokio::runtime::Runtime, KmipError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .enable_all()
        .build()
        .map_err(|e| KmipError::io("starting the async runtime", e))
}

/// Runs a `tresor kmip` command.
///
/// # Errors
/// [`KmipError`] for an error (exit code 2); negative answers return exit code 1.
pub fn run(cmd: KmipCommand, open_store: OpenStore<'_>) -> Result<ExitCode, KmipError> {
    match cmd {
        KmipCommand::Serve(a) => serve::serve(a, open_store),
        KmipCommand::Certs(c) => serve::certs(c),
        KmipCommand::Grant {
            store,
            uid,
            identity,
            ops,
        } => serve::grant(
            open_store,
            store
                .as_deref()
                .filter(|s| !s.contains("://"))
                .map(Path::new),
            &uid,
            &identity,
            &ops,
        ),
        KmipCommand::Apps { store, cmd } => apps::apps(
            open_store,
            store
                .as_deref()
                .filter(|s| !s.contains("://"))
                .map(Path::new),
            cmd,
        ),
        KmipCommand::ImportPolicy {
            store,
            file,
            identities,
            group,
            dry_run,
            json,
        } => import_policy::import_policy(
            open_store,
            store
                .as_deref()
                .filter(|s| !s.contains("://"))
                .map(Path::new),
            &file,
            &identities,
            &group,
            dry_run,
            json,
        ),
        KmipCommand::Doctor(c) => runtime()?.block_on(doctor::doctor(&c)),
        other => runtime()?.block_on(client::client_command(other)),
    }
}
