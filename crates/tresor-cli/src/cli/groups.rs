//! The argument types of the vault's subcommand groups (`add`, `edit`, `users`, `rm`) and
//! of the doors whose commands are deferred (`keyring`, `key`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Deferred;

#[derive(Args, Debug)]
pub struct KeyringArgs {
    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub cmd: Deferred<crate::keyring::KeyringCommand>,
}

#[derive(Args, Debug)]
pub struct KeyArgs {
    /// Print JSON (for `show`).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub cmd: Deferred<crate::key::KeyCommand>,
}

#[derive(Args, Debug, Clone, Copy)]
pub struct JsonFlag {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum AddCommand {
    /// Add NAME -> VALUE (VALUE absent or '-': read from the terminal without echo, or stdin).
    #[command(
        after_help = "Examples:\n  tresor add key DB_PASSWORD --app myapp --env dev\n  printf %s \"$PW\" | tresor add key DB_PASSWORD - --app myapp --env dev --force"
    )]
    Key {
        name: String,
        value: Option<String>,
        #[arg(long, default_value = "*")]
        app: String,
        #[arg(long, default_value = "*")]
        env: String,
        /// Replace an existing value (the old one stays in history).
        #[arg(long)]
        force: bool,
    },
    /// Add a multi-line text read from stdin.
    Text {
        name: String,
        #[arg(long, default_value = "*")]
        app: String,
        #[arg(long, default_value = "*")]
        env: String,
        #[arg(long)]
        force: bool,
    },
    /// Add every entry of a .env file.
    File {
        path: PathBuf,
        #[arg(long, default_value = "*")]
        app: String,
        #[arg(long, default_value = "*")]
        env: String,
        /// Give existing keys a new version.
        #[arg(long)]
        update: bool,
    },
    /// Add a user from their public key ('tresor public-key' or seeqret's).
    User {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "")]
        email: String,
        #[arg(long)]
        pubkey: String,
    },
}

/// `tresor edit`: a subcommand, or a sealed file.
#[derive(Args, Debug)]
pub struct EditArgs {
    #[command(subcommand)]
    pub cmd: Option<EditCommand>,
    #[command(flatten)]
    pub file: crate::seal_cmd::EditFileArgs,
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Offboard a user: remove them, revoke their KMIP grants, and print every secret they
    /// could read ('tresor access-report') as the rotation checklist; with --rotate, rotate
    /// those that have a rotator ('tresor rotator set').
    #[command(
        after_help = "Examples:\n  tresor users rm bob --rotate\n  tresor users rm bob --rotate --yes --json\n\nExports are copies: bob keeps every value he was exported or read. Only rotating them\nmakes those copies useless; the checklist names the secrets to rotate by hand.\nExit code 2 when a rotation failed."
    )]
    Rm {
        /// The user (vault user name or KMIP client identity).
        name: String,
        /// Rotate every secret the user could read that has a rotator.
        #[arg(long)]
        rotate: bool,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
        /// A 'tresor kmip serve --audit-log' file to include.
        #[arg(long = "audit-log", value_name = "FILE")]
        audit_logs: Vec<PathBuf>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub enum EditCommand {
    /// Set the value of the secret FILTER names ('-' reads stdin).
    Value {
        filter: String,
        value: Option<String>,
        /// Allow the filter to match several secrets.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum RmCommand {
    /// Remove the secrets FILTER matches.
    Key {
        filter: String,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
        /// Allow a filter that matches every secret ('::', '*', ...).
        #[arg(long)]
        all: bool,
    },
    /// Remove a user.
    User {
        name: String,
        #[arg(long, short)]
        yes: bool,
    },
}
