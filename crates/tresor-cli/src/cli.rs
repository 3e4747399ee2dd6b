//! Command-line definitions (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod deferred;
mod groups;

pub use deferred::Deferred;
pub use groups::{
    AddCommand, EditArgs, EditCommand, JsonFlag, KeyArgs, KeyringArgs, RmCommand, UsersCommand,
};

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  a negative answer: no secret matched, audit verification failed
  2  an error (bad input, wrong passphrase, damaged vault, …)
  3  a filter that must name one secret matched several
  4  kernel keyring: permission denied or quota exceeded";

const EXAMPLES: &str = "\
Examples:
  tresor init
  tresor add key DB_PASSWORD --app myapp --env dev        # value read from the terminal or stdin
  tresor get myapp:dev:DB_PASSWORD
  tresor list ':dev:DB_*' --json
  tresor env --template env.template --out .env
  tresor run --filter 'myapp:dev:' -- ./server
  tresor rotator set myapp:prod:DB_PASSWORD postgres --dsn-secret myapp:prod:ADMIN_DSN --role app --every 30d
  tresor rotate myapp:prod:DB_PASSWORD
  tresor export --to bob -f 'myapp:dev:' -o bob.tresor
  tresor history myapp:dev:DB_PASSWORD && tresor rollback myapp:dev:DB_PASSWORD --to 1

Filters: KEY, APP:ENV or APP:ENV:KEY; an empty part matches anything; globs * ? [abc] [!x]
match exactly and case-sensitively; a comma separates alternatives within a part.";

// Build the parser with `command()`, not `Cli::command()`: it gives each subcommand the
// global options.
/// tresor — secrets and keys for developers and servers.
#[derive(Parser, Debug)]
#[command(name = "tresor", version, about, after_help = format!("{EXAMPLES}\n\n{EXIT_CODES}"))]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after its name (`tresor --vault D get X` and
/// `tresor get X --vault D`).
#[derive(Args, Debug)]
pub struct GlobalOpts {
    /// Vault folder (default: $TRESOR_VAULT, else $XDG_DATA_HOME/tresor, else ~/.local/share/tresor).
    #[arg(long, value_name = "DIR")]
    pub vault: Option<PathBuf>,
    /// Keep the vault's objects elsewhere: postgres://USER@HOST:PORT/DB (password from
    /// TRESOR_PG_PASSWORD, PGPASSWORD or TRESOR_PG_PASSWORD_FILE, never argv). The key file and
    /// settings stay in the vault folder.
    #[arg(long, env = "TRESOR_STORE", value_name = "URL")]
    pub store: Option<String>,
    /// Read the vault passphrase from this file (else $TRESOR_PASSPHRASE, else the terminal).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Use the vault on a tresor KMIP server (`tresor kmip serve`) instead of a local one:
    /// get, list, add key/text/file, edit value, rm key, env, run, importenv, history and
    /// rollback; access follows the server's per-object grants.
    #[arg(long, env = "TRESOR_SERVER", value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// Client certificate for --server (PEM; else the `[client]` certfile of VAULT/client.conf).
    #[arg(long, env = "TRESOR_CLIENT_CERT", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client private key for --server (PEM; else the `[client]` keyfile of VAULT/client.conf).
    #[arg(long, env = "TRESOR_CLIENT_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// CA certificate of the server for --server (PEM; else the `[client]` ca_certs of
    /// VAULT/client.conf).
    #[arg(long, env = "TRESOR_CLIENT_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// No progress bar and no summary line on stderr (errors are still printed). Long
    /// commands (importenv, import-seeqret, s3 import-s3keyring, migrate, backup, restore)
    /// otherwise draw a bar when stderr is a terminal and end with a one-line summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// The command-line parser: [`Cli`]'s tree, in which each subcommand gets its own copy of the
/// [`GlobalOpts`] only when the command line enters it.
///
/// clap's `global = true` would copy the eight options into all ~45 subcommands up front (on
/// every run, `tresor get` included): ~270k instructions and ~90 heap pages of a `tresor get`
/// process (callgrind, `perf record -e page-faults`). Here the top level holds them as plain
/// options and each subcommand adds its global copies in its deferred build step, so only the
/// subcommand being parsed (and, through clap's own propagation, its children) pays for them;
/// values given after the subcommand name still reach [`Cli::global`] (clap propagates global
/// values up the used path). `--help`, completions and parsing see the same tree as before.
pub fn command() -> clap::Command {
    defer_global_opts(<Cli as clap::CommandFactory>::command())
}

/// Gives each subcommand of `cmd` a deferred step that adds the global options.
fn defer_global_opts(cmd: clap::Command) -> clap::Command {
    cmd.mut_subcommands(|sc| {
        // A group that requires a subcommand and has none yet is a [`Deferred`] one: its
        // deferred step adds the options itself (clap keeps one deferred step per command).
        if sc.is_subcommand_required_set() && sc.get_subcommands().next().is_none() {
            sc
        } else {
            sc.defer(with_global_opts)
        }
    })
}

/// Adds global copies of the [`GlobalOpts`] that `cmd` does not define itself (as clap's
/// propagation does: a subcommand's own `--key` wins).
fn with_global_opts(cmd: clap::Command) -> clap::Command {
    let opts = GlobalOpts::augment_args(clap::Command::new("tresor"));
    let missing: Vec<clap::Arg> = opts
        .get_arguments()
        .filter(|a| cmd.get_arguments().all(|b| b.get_id() != a.get_id()))
        .map(|a| a.clone().global(true))
        .collect();
    cmd.args(missing)
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Create a vault (key file 0600 in a 0700 folder); refuses to touch an existing one.
    #[command(
        after_help = "Examples:\n  tresor init\n  tresor init ~/vaults/work --user me@laptop --email me@example.com --passphrase"
    )]
    Init {
        /// Folder for the vault (default: see --vault).
        dir: Option<PathBuf>,
        /// Owner identity (default user@host).
        #[arg(long)]
        user: Option<String>,
        /// Owner email.
        #[arg(long)]
        email: Option<String>,
        /// Protect the key file with a passphrase (Argon2id), from the terminal,
        /// --passphrase-file or $TRESOR_PASSPHRASE.
        #[arg(long)]
        passphrase: bool,
    },
    /// Add a secret, a text, a .env file or a user.
    #[command(subcommand)]
    Add(Deferred<AddCommand>),
    /// `tresor get` (see [`Hot`]).
    #[command(flatten)]
    Hot(Hot),
    /// List secrets (values masked unless --reveal).
    #[command(
        after_help = "Examples:\n  tresor list\n  tresor list 'myapp:*:DB_*' --reveal\n  tresor list :dev: --env"
    )]
    List {
        /// Filters (OR); none lists everything.
        filters: Vec<String>,
        /// Filters given seeqret-style.
        #[arg(short = 'f', long = "filter", value_name = "FILTER")]
        filter_opts: Vec<String>,
        /// Print as .env lines.
        #[arg(long, conflicts_with = "json")]
        env: bool,
        /// Show values.
        #[arg(long)]
        reveal: bool,
        /// List the secrets whose rotation is due instead (see 'tresor rotate --due').
        #[arg(long, conflicts_with_all = ["env", "reveal"])]
        due: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Change values, or edit a sealed file ('tresor edit FILE').
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  tresor edit value myapp:dev:DB_PASSWORD\n  tresor edit .env              # a sealed file, in $EDITOR"
    )]
    Edit(EditArgs),
    /// Remove secrets or users (asks first; --yes to skip).
    #[command(subcommand)]
    Rm(RmCommand),
    /// Write a .env file from a template (seeqret's env.template grammar).
    #[command(
        after_help = "Template lines:\n  # comment\n  @tresor>=0.1        (or @seeqret>=X.Y) version pin\n  myapp:dev:DB_*      every match under its own key\n  PGPASS=myapp:dev:DB_PASSWORD   one match, renamed\n  DEBUG=1             a constant"
    )]
    Env {
        /// Template file.
        #[arg(short, long, default_value = "env.template")]
        template: PathBuf,
        /// Output file (written 0600, atomically); '-' for stdout.
        #[arg(short, long, default_value = ".env")]
        out: PathBuf,
    },
    /// Import a .env file into APP:ENV in one transaction.
    Importenv {
        /// The .env file ('-' for stdin).
        file: PathBuf,
        #[arg(long, default_value = "*")]
        app: String,
        #[arg(long, default_value = "*")]
        env: String,
        /// Give existing keys a new version instead of failing.
        #[arg(long)]
        update: bool,
        /// Show what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Run a command with secrets in its environment (no file written); its exit code is passed through.
    ///
    /// Variables of tresor's environment whose value is a reference (tresor://APP/ENV/KEY) are
    /// given to the command with the secret's value instead, all read at once; a missing one
    /// stops tresor before the command starts.
    #[command(
        after_help = "Examples:\n  tresor run --filter myapp:dev: -- ./server --port 8080\n  tresor run --template env.template -- env\n  DB_PASSWORD=tresor://myapp/prod/DB_PASSWORD tresor run -- ./deploy\n  tresor run --no-mask -f myapp:dev: -- ./debug-tool   # output untouched\n  tresor run --watch -f myapp:prod: -- ./server   # restarted on change"
    )]
    Run {
        /// Secrets to pass (each under its KEY).
        #[arg(short, long = "filter", value_name = "FILTER")]
        filters: Vec<String>,
        /// A template to render instead of (or besides) filters.
        #[arg(short, long)]
        template: Option<PathBuf>,
        #[command(flatten)]
        watch: crate::run_watch::WatchArgs,
        /// A sealed file (tresor seal) whose top-level values to pass (repeatable).
        #[arg(long = "file", value_name = "FILE", conflicts_with = "watch")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        mask: crate::mask::MaskArgs,
        /// The command and its arguments.
        #[arg(trailing_var_arg = true, required = true, num_args = 1.., value_name = "CMD")]
        command: Vec<String>,
    },
    /// Replace the tresor://APP/ENV/KEY references of a text file by the secrets' values.
    ///
    /// A reference is tresor://APP/ENV/KEY with each part percent-encoded (everything but
    /// A-Z a-z 0-9 - . _ ~ as %XX), optionally ?version=N and/or field=NAME (a member of a JSON
    /// value). All references are read at once; a missing or invalid one is named and nothing
    /// is written.
    #[command(
        after_help = "Examples:\n  tresor inject -i config.tpl -o config.yml        # written 0600, atomically\n  tresor inject < config.tpl > config.yml\n  echo 'url: postgres://app:tresor://shop/prod/DB_PASSWORD@db/shop' | tresor inject\n  tresor inject -i app.json.tpl -o app.json --json\n\nReference forms:\n  tresor://shop/prod/DB_PASSWORD\n  tresor://my%20app/dev/API%2FKEY          (app 'my app', key 'API/KEY')\n  tresor://shop/prod/DB_PASSWORD?version=3\n  tresor://shop/prod/SERVICE_ACCOUNT?field=client_email"
    )]
    Inject {
        /// The template ('-' for stdin).
        #[arg(short, long, default_value = "-", value_name = "FILE")]
        input: PathBuf,
        /// The output ('-' for stdout); a file is written 0600, atomically.
        #[arg(short, long = "out", default_value = "-", value_name = "FILE")]
        output: PathBuf,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// List every secret a user could read: exports to them, KMIP ownership and grants (now
    /// and past), what the audit chain shows they wrote, reads in a KMIP audit log.
    #[command(
        name = "access-report",
        after_help = "Examples:\n  tresor access-report bob\n  tresor access-report bob --audit-log /var/log/tresor/kmip-audit.jsonl --json\n\nExit code 1 when nothing is found. Use it as the rotation checklist when someone leaves;\n'tresor users rm bob --rotate' removes them and rotates what has a rotator."
    )]
    AccessReport {
        /// The user (vault user name or KMIP client identity).
        name: String,
        /// A 'tresor kmip serve --audit-log' file: its successful reads by the user count too.
        #[arg(long = "audit-log", value_name = "FILE")]
        audit_logs: Vec<PathBuf>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Print this vault's public key, to give to teammates.
    PublicKey {
        /// Print the key in seeqret's format (for 'seeqret add user --pubkey').
        #[arg(long)]
        seeqret: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Export secrets to a user: age-encrypted to them, signed by you.
    #[command(after_help = "Examples:\n  tresor export --to bob -f 'myapp:dev:' -o bob.tresor")]
    Export {
        /// The recipient (a known user).
        #[arg(long, value_name = "USER")]
        to: Option<String>,
        /// The recipient, seeqret-style.
        #[arg(value_name = "USER", conflicts_with = "to")]
        to_pos: Option<String>,
        /// Filters (OR).
        #[arg(short = 'f', long = "filter", required = true)]
        filters: Vec<String>,
        /// Output file (default stdout).
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Load an export (tresor, or seeqret json-crypt / command lines) after checking its sender.
    Load {
        /// The file ('-' for stdin).
        file: Option<PathBuf>,
        /// The file, seeqret-style.
        #[arg(short = 'f', long = "file", conflicts_with = "file")]
        file_opt: Option<PathBuf>,
        /// The expected sender.
        #[arg(long, short = 'u', value_name = "USER")]
        from: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Write an encrypted backup of the whole vault (secrets, history, users, audit).
    #[command(
        after_help = "Examples:\n  tresor backup -o vault-2026-01-31.tresor-backup\n  tresor backup -o nightly.bak --json --quiet"
    )]
    Backup {
        #[arg(short, long)]
        out: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Replace the vault's content with a backup.
    Restore {
        file: PathBuf,
        /// Restore into a folder without a vault, using the key file that made the backup.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Accept a backup of another vault (another owner or creation time) that opens with
        /// this key: its identity replaces this vault's.
        #[arg(long)]
        force_other_vault: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// List the users known to this vault ('users rm' removes one and rotates what they had).
    Users {
        #[command(subcommand)]
        cmd: Option<UsersCommand>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Show the vault's owner.
    Owner {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Show who this vault acts as.
    Whoami {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Show facts about the vault and the command tree.
    Info {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Bring the vault's database schema up to date.
    Upgrade,
    /// List the export formats tresor writes and reads.
    Serializers {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Show the versions of one secret.
    History {
        filter: String,
        /// Show each version's value.
        #[arg(long)]
        reveal: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Make an old version current again (as a new version).
    Rollback {
        filter: String,
        #[arg(long, value_name = "N")]
        to: u32,
    },
    /// Show the audit log, or verify its hash chain.
    Audit {
        /// Verify the chain, and that it reaches the audit head kept beside the key file;
        /// exit 1 if it is broken or entries are missing.
        #[arg(long)]
        verify: bool,
        /// With --verify: check the chain against the last head in FILE instead (a KMIP
        /// server's --audit-log stream, or an audit.head file).
        #[arg(long, value_name = "FILE", requires = "verify")]
        head_from: Option<PathBuf>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Import a seeqret vault folder (secrets and users).
    ImportSeeqret {
        dir: PathBuf,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Cache the unlocked vault key in the kernel keyring for a while.
    #[command(after_help = "Examples:\n  tresor unlock --for 15m\n  tresor lock")]
    Unlock {
        /// How long (30s, 15m, 2h).
        #[arg(long = "for", default_value = "15m", value_name = "DURATION")]
        duration: String,
    },
    /// Forget the cached vault key at once.
    Lock,
    /// Rotate the vault key: rewrap every data key under a new key, in one transaction.
    #[command(
        name = "rekey-vault",
        after_help = "Examples:\n  tresor rekey-vault\n  TRESOR_PASSPHRASE=... tresor rekey-vault --json\n\nThe new key replaces vault.key (same passphrase and cost); the old key opens nothing any\nmore. Values are not re-encrypted: each version's data key is rewrapped. Crash-safe: a vault\ninterrupted at any point opens with the old or the new key, and the next command finishes the\nswitch. Copy the new vault.key to other folders that share the same store. The unlock cache\n('tresor unlock') is cleared. SQLite and PostgreSQL stores; S3 is refused."
    )]
    RekeyVault {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Set, change or remove the key file's passphrase (the vault key stays the same).
    #[command(
        after_help = "Examples:\n  tresor passphrase                                  # asks the old one (if any), then the new one twice\n  TRESOR_PASSPHRASE=old TRESOR_NEW_PASSPHRASE=new tresor passphrase\n  tresor passphrase --remove\n\nThe old passphrase comes from --passphrase-file, $TRESOR_PASSPHRASE or the terminal; the new\none from --new-passphrase-file, $TRESOR_NEW_PASSPHRASE or the terminal. The key file is\nrewritten atomically (0600); a wrong old passphrase changes nothing. The unlock cache is cleared."
    )]
    Passphrase {
        /// Read the new passphrase from this file.
        #[arg(long, value_name = "FILE", conflicts_with = "remove")]
        new_passphrase_file: Option<PathBuf>,
        /// Remove the passphrase: the key file is then protected by its permissions only.
        #[arg(long)]
        remove: bool,
        /// Argon2id cost of the new protection, m=KiB,t=ITERATIONS,p=LANES (default: the
        /// file's current cost, else m=65536,t=2,p=1).
        #[arg(long, value_name = "COST", conflicts_with = "remove")]
        kdf: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Kernel keyrings: set, get, invalidate, list, search.
    Keyring(KeyringArgs),
    /// Versioned keys: create, rotate, encrypt, decrypt, rewrap, trim (transit-style).
    Key(KeyArgs),
    /// KMIP: server, client operations, certificates, grants.
    #[command(subcommand)]
    Kmip(Deferred<crate::kmip::KmipCommand>),
    /// Server configuration: `tresor config check FILE` (a tresor.toml or PyKMIP server.conf).
    #[command(subcommand)]
    Config(Deferred<crate::kmip::ConfigCommand>),
    /// S3 shared keyring with s3keyring's commands: configure, set, get, delete, list, import-s3keyring.
    #[cfg(feature = "s3")]
    S3(crate::s3::S3Args),
    /// Copy every object, version and audit entry from one store to another (verified).
    #[command(
        after_help = "Examples:\n  tresor migrate --from sqlite:$HOME/.local/share/tresor/tresor.db --to postgres://tresor@db.internal/tresor\n  tresor migrate --from postgres://tresor@db.internal/tresor --to sqlite:/backup/tresor.db\n\nRows move sealed: no key is needed and nothing is decrypted. Open the target with the\nsame vault key file (e.g. --store URL with the same vault folder)."
    )]
    Migrate {
        /// Source store: sqlite:PATH, a path, or postgres://…
        #[arg(long)]
        from: String,
        /// Target store (must be empty unless --force).
        #[arg(long)]
        to: String,
        /// Replace a non-empty target.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Rotate a secret in the service and in the vault as one step (see 'tresor rotator').
    Rotate(crate::rotate_cmd::RotateArgs),
    /// Attach, list or remove the rotators that 'tresor rotate' uses.
    #[command(subcommand)]
    Rotator(Deferred<crate::rotate_cmd::RotatorCommand>),
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// Encrypt the values of .env, JSON, YAML or TOML files in place, for git.
    Seal(crate::seal_cmd::SealArgs),
    /// Print (or write) the plaintext of a sealed file.
    Unseal(crate::seal_cmd::UnsealArgs),
    /// List, add or remove (rotating the data key) the recipients of sealed files.
    #[command(subcommand)]
    Recipients(Deferred<crate::seal_cmd::RecipientsCommand>),
    /// Git drivers for sealed files: plaintext diffs and per-key merges.
    #[command(subcommand)]
    Git(Deferred<crate::seal_cmd::GitCommand>),
    /// Read a dotenvx-encrypted .env file (DOTENV_PRIVATE_KEY* from the environment or .env.keys).
    ImportDotenvx(crate::seal_cmd::ImportDotenvxArgs),
}

/// The commands run most often, in scripts and loops (`tresor get`), kept apart so that
/// [`parse_hot`] can parse them with a tree of their own: clap builds every subcommand's
/// options before it parses, and for `tresor get` that was a third of the process's
/// instructions. They are part of [`Command`] (flattened), so `--help`, completions and the
/// full parser see them exactly as before.
#[derive(Subcommand, Debug)]
pub enum Hot {
    /// Print the value of the one secret FILTER names (value only).
    #[command(after_help = format!("Examples:\n  tresor get myapp:dev:DB_PASSWORD\n  tresor get DB_PASSWORD --json\n\n{EXIT_CODES}"))]
    Get {
        /// The filter; must match exactly one secret.
        filter: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

/// `tresor HOT …` parsed with a tree holding only the [`Hot`] commands and the global options
/// (each built from the same definitions as in [`command`]'s tree). `None` when the first
/// argument is not a hot command, or when the short tree does not simply accept the command
/// line (`--help`, `--version`, a mistake): the caller then parses with the whole tree, which
/// prints the help or says what is wrong exactly as it always did.
pub fn parse_hot(args: &[std::ffi::OsString]) -> Option<Cli> {
    use clap::FromArgMatches as _;
    let first = args.get(1)?.to_str()?;
    if !<Hot as Subcommand>::has_subcommand(first) {
        return None;
    }
    let cmd = defer_global_opts(
        <Hot as Subcommand>::augment_subcommands(GlobalOpts::augment_args(clap::Command::new(
            "tresor",
        )))
        .subcommand_required(true),
    );
    let m = cmd.try_get_matches_from(args).ok()?;
    Cli::from_arg_matches(&m).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches;

    fn ids(cmd: &clap::Command) -> Vec<String> {
        cmd.get_arguments()
            .map(|a| a.get_id().to_string())
            .collect()
    }

    /// Every subcommand, at every depth, takes every global option it inherits, as clap's
    /// `global = true` gave them (a subcommand's own plain option of the same name, such as
    /// `kmip apps --store`, is its own and its children do not inherit that one): a
    /// subcommand left out of [`command`]'s deferred step would refuse `tresor NEW --vault D`.
    #[test]
    fn every_subcommand_takes_the_global_options() {
        let mut cmd = command();
        cmd.build();
        cmd.clone().debug_assert();
        let global = ids(&GlobalOpts::augment_args(clap::Command::new("g")));
        assert_eq!(global.len(), 8, "{global:?}");
        fn walk(cmd: &clap::Command, path: &str, inherited: &[String], seen: &mut usize) {
            for sc in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sc.get_name());
                let have = ids(sc);
                for g in inherited {
                    assert!(have.contains(g), "`{path}` lacks --{g}");
                }
                let passed_on: Vec<String> = sc
                    .get_arguments()
                    .filter(|a| a.is_global_set() && inherited.iter().any(|g| g == a.get_id()))
                    .map(|a| a.get_id().to_string())
                    .collect();
                *seen += 1;
                walk(sc, &path, &passed_on, seen);
            }
        }
        let mut seen = 0;
        walk(&cmd, "tresor", &global, &mut seen);
        assert!(seen > 100, "walked only {seen} subcommands");
    }

    fn parse(args: &[&str]) -> Cli {
        let m = command().try_get_matches_from(args).unwrap();
        Cli::from_arg_matches(&m).unwrap()
    }

    /// A global option reaches [`Cli::global`] before the subcommand, after it, and after a
    /// nested one; given twice, the later one wins (clap's rule for global options).
    #[test]
    fn global_options_parse_on_either_side_of_the_subcommand() {
        for args in [
            &["tresor", "--vault", "/v", "get", "a:b:C"][..],
            &["tresor", "get", "a:b:C", "--vault", "/v"],
            &["tresor", "--vault", "/w", "get", "a:b:C", "--vault", "/v"],
        ] {
            let cli = parse(args);
            assert_eq!(
                cli.global.vault.as_deref(),
                Some(std::path::Path::new("/v")),
                "{args:?}"
            );
            assert!(
                matches!(cli.command, Command::Hot(Hot::Get { ref filter, .. }) if filter == "a:b:C")
            );
        }
        let cli = parse(&[
            "tresor", "add", "key", "K", "v", "--app", "a", "--env", "e", "-q",
        ]);
        assert!(cli.global.quiet);
        let cli = parse(&["tresor", "rm", "key", "a:b:C", "--yes", "--server", "h:1"]);
        assert_eq!(cli.global.server.as_deref(), Some("h:1"));
        // A subcommand's own option of the same name is its own: `kmip serve --key` is the
        // server's key file, not the client key.
        let m = command()
            .try_get_matches_from(["tresor", "kmip", "serve", "--key", "s.key"])
            .unwrap();
        let (_, kmip) = m.subcommand().unwrap();
        let (_, serve) = kmip.subcommand().unwrap();
        assert_eq!(
            serve
                .get_one::<std::path::PathBuf>("key")
                .map(|p| p.as_path()),
            Some(std::path::Path::new("s.key"))
        );
    }

    /// The short tree of [`parse_hot`] gives what the whole tree gives for every command line
    /// it accepts, and declines (for the whole tree to answer) the ones it cannot answer the
    /// same way: help, version, mistakes, other commands.
    #[test]
    fn the_hot_parser_agrees_with_the_whole_tree() {
        let os = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        for args in [
            &["tresor", "get", "a:b:C"][..],
            &["tresor", "get", "a:b:C", "--json"],
            &["tresor", "get", "--json", "K"],
            &["tresor", "get", "a:b:C", "--vault", "/v", "-q"],
            &[
                "tresor", "get", "--server", "h:1", "--cert", "c", "--key", "k", "--ca", "a", "X",
            ],
            &[
                "tresor",
                "get",
                "--store",
                "postgres://u@h/db",
                "--passphrase-file",
                "p",
                "X",
            ],
            &["tresor", "get", "--", "-dash"],
        ] {
            let hot = parse_hot(&os(args)).unwrap_or_else(|| panic!("{args:?} declined"));
            let whole = parse(args);
            assert_eq!(format!("{hot:?}"), format!("{whole:?}"), "{args:?}");
        }
        for args in [
            &["tresor"][..],
            &["tresor", "get"],
            &["tresor", "get", "--help"],
            &["tresor", "get", "-h"],
            &["tresor", "get", "a", "b"],
            &["tresor", "get", "--bogus", "x"],
            &["tresor", "--vault", "/v", "get", "X"],
            &["tresor", "list"],
            &["tresor", "--version"],
            &["tresor", "help", "get"],
        ] {
            assert!(parse_hot(&os(args)).is_none(), "{args:?} was taken");
        }
    }
}
