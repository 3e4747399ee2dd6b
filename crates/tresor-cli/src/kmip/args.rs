//! Clap argument types of `tresor kmip ...` and the parsing of their values: hex, enumeration
//! names, NAME=VALUE attributes and KMIP versions.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

mod commands;
mod serve;
mod values;

pub use commands::{AppsCommand, CertsCommand, ConfigCommand, KmipCommand};
pub use serve::{ServeArgs, ServeLimitArgs};
pub use values::{AttrArgs, DataArgs};
pub(super) use values::{algorithm, enum_value, parse_attr, parse_version, unhex};

/// Opens the tresor store: `Some(dir)` a store directory (created if missing), `None` the
/// default vault.
pub type OpenStore<'a> =
    &'a dyn Fn(
        Option<&Path>,
    ) -> Result<Arc<tresor_store::Store>, Box<dyn std::error::Error + Send + Sync>>;

/// Connection flags shared by every client command.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Server address HOST:PORT (default port 5696).
    #[arg(long, value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// Client certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// CA certificate of the server (PEM).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// A PyKMIP pykmip.conf; flags given on the command line override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The section of --config to read.
    #[arg(long, default_value = "client")]
    pub section: String,
    /// Speak this KMIP version (1.0..2.1) instead of negotiating one.
    #[arg(long, value_name = "MAJOR.MINOR")]
    pub kmip_version: Option<String>,
    /// Request timeout in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}
