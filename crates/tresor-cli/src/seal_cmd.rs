//! Sealed files (issue 18): `seal`, `unseal`, `edit FILE`, `run --file`, `recipients`,
//! `git setup|textconv|merge` and `import-dotenvx`, over the `tresor-seal` library.
//!
//! Identities (who can open a sealed file) come from `-i/--identity FILE` (repeatable), else
//! `$TRESOR_IDENTITY` (files separated by ':'), else `~/.config/tresor/identities` and
//! `~/.ssh/id_ed25519` when they exist.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use tresor_seal::{Format, Identity, Opened};
use zeroize::Zeroizing;

use crate::cli::Command;
use crate::output;

/// Largest sealed or plaintext file read.
const MAX_FILE: u64 = tresor_seal::MAX_SIZE as u64;

/// Where identities come from.
#[derive(Args, Debug, Clone, Default)]
pub struct IdentityArgs {
    /// An age identity file or an unencrypted OpenSSH private key (repeatable; default
    /// $TRESOR_IDENTITY, else ~/.config/tresor/identities, ~/.ssh/id_ed25519).
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
}

/// `tresor seal`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  tresor seal .env -r age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  tresor seal config.yaml -r \"$(cat ~/.ssh/id_ed25519.pub)\" -R team.recipients
  tresor seal .env.production --format dotenvx        # a file dotenvx decrypts (.env.keys written)

Values are encrypted in place; key names, comments and order stay in clear. Each unchanged
value keeps its ciphertext across edits, so git diffs show the values that changed and the MAC
line. See docs/SEALED_FILES.md.")]
pub struct SealArgs {
    /// The files (.env, *.json, *.yaml/*.yml, *.toml), sealed in place (0600, atomically).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// A recipient: age1… or an ssh public key ("ssh-ed25519 AAAA…").
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    pub recipients: Vec<String>,
    /// A file of recipients, one per line (# comments).
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    pub recipients_files: Vec<PathBuf>,
    /// The format (default: from the file name): dotenv, json, yaml, toml, or dotenvx (a
    /// .env that dotenvx itself decrypts).
    #[arg(long)]
    pub format: Option<String>,
    /// With --format dotenvx: the public key to encrypt to (hex); default: the file's
    /// DOTENV_PUBLIC_KEY*, else a new key pair whose private key goes to .env.keys (0600).
    #[arg(long, value_name = "HEX")]
    pub dotenvx_public_key: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `tresor unseal`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  tresor unseal .env                   # plaintext on stdout
  tresor unseal config.json -o plain.json
  tresor unseal .env --in-place -i ~/.config/tresor/identities")]
pub struct UnsealArgs {
    /// The sealed file.
    pub file: PathBuf,
    /// Write the plaintext here (0600, atomically) instead of stdout.
    #[arg(short, long, conflicts_with = "in_place")]
    pub out: Option<PathBuf>,
    /// Replace the sealed file with its plaintext.
    #[arg(long)]
    pub in_place: bool,
    /// The format (default: from the file name).
    #[arg(long)]
    pub format: Option<String>,
    /// Print JSON: every value under its dotted key path (values in clear).
    #[arg(long, conflicts_with_all = ["out", "in_place"])]
    pub json: bool,
    #[command(flatten)]
    pub id: IdentityArgs,
}

/// `tresor edit FILE`.
#[derive(Args, Debug, Default)]
pub struct EditFileArgs {
    /// A sealed file to edit: its plaintext opens in $VISUAL/$EDITOR (a 0600 file in a 0700
    /// folder, overwritten and removed after); changed values are re-encrypted.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The format (default: from the file name).
    #[arg(long)]
    pub format: Option<String>,
    #[command(flatten)]
    pub id: IdentityArgs,
}

/// `tresor recipients …`.
#[derive(Subcommand, Debug)]
pub enum RecipientsCommand {
    /// List each file's recipients (and its data key's fingerprint when you can open it).
    #[command(after_help = "Examples:\n  tresor recipients list .env config.yaml --json")]
    List {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        id: IdentityArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add recipients (the data key is wrapped anew; values unchanged).
    #[command(after_help = "Examples:\n  tresor recipients add .env -r age1…")]
    Add {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(
            short = 'r',
            long = "recipient",
            required = true,
            value_name = "RECIPIENT"
        )]
        recipients: Vec<String>,
        #[command(flatten)]
        id: IdentityArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove recipients: a new data key, every value re-encrypted. Old copies (git history)
    /// stay readable to them: rotate the secrets themselves too.
    #[command(
        after_help = "Examples:\n  tresor recipients rm .env -r age1…   # or a unique prefix of the recipient"
    )]
    Rm {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(
            short = 'r',
            long = "recipient",
            required = true,
            value_name = "RECIPIENT"
        )]
        recipients: Vec<String>,
        #[command(flatten)]
        id: IdentityArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `tresor git …`.
#[derive(Subcommand, Debug)]
pub enum GitCommand {
    /// Install the diff (textconv) and merge drivers in this repository's git config, and
    /// `PATTERN diff=tresor merge=tresor` lines in .gitattributes.
    #[command(
        after_help = "Examples:\n  tresor git setup .env 'config/*.sealed.yaml'\n  tresor git setup --global"
    )]
    Setup {
        /// Paths or patterns of sealed files for .gitattributes.
        patterns: Vec<String>,
        /// Write the drivers to the global git config instead (no .gitattributes change).
        #[arg(long)]
        global: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The textconv driver: prints a sealed file's plaintext (as is if you cannot open it).
    Textconv {
        file: PathBuf,
        #[command(flatten)]
        id: IdentityArgs,
    },
    /// The merge driver: `tresor git merge %O %A %B %P`; merges per key, writes %A.
    Merge {
        base: PathBuf,
        ours: PathBuf,
        theirs: PathBuf,
        /// The file's path in the repository (for its format).
        path: Option<PathBuf>,
        #[command(flatten)]
        id: IdentityArgs,
    },
}

/// `tresor import-dotenvx`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  tresor import-dotenvx .env --app shop --env prod             # into the vault, one transaction
  tresor import-dotenvx .env --app shop --env prod --update --dry-run
  tresor import-dotenvx .env.production --stdout               # plaintext .env on stdout
  tresor import-dotenvx .env -o .env.plain                     # plaintext file (0600)
  tresor import-dotenvx .env -r age1… -o secrets.env           # straight to a tresor-sealed file

Into the vault (the default) it works as 'tresor importenv': every variable becomes APP:ENV:NAME
in one transaction; an existing one is refused unless --update; --dry-run writes nothing.
Private keys: DOTENV_PRIVATE_KEY* in the environment (comma-separated lists too), else in
.env.keys beside the file.")]
pub struct ImportDotenvxArgs {
    /// The dotenvx-encrypted file.
    pub file: PathBuf,
    /// The vault app to import into.
    #[arg(long, default_value = "*")]
    pub app: String,
    /// The vault env to import into.
    #[arg(long, default_value = "*")]
    pub env: String,
    /// Give existing vault keys a new version instead of failing.
    #[arg(long)]
    pub update: bool,
    /// Show what would change in the vault; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the plaintext .env on stdout instead of importing into the vault.
    #[arg(long, conflicts_with_all = ["out", "update", "dry_run"])]
    pub stdout: bool,
    /// Write a file (0600, atomically) instead of importing into the vault.
    #[arg(short, long, conflicts_with_all = ["update", "dry_run"])]
    pub out: Option<PathBuf>,
    /// Seal the result to these recipients (needs --out).
    #[arg(
        short = 'r',
        long = "recipient",
        requires = "out",
        value_name = "RECIPIENT"
    )]
    pub recipients: Vec<String>,
    /// Print JSON (what was written).
    #[arg(long)]
    pub json: bool,
}

impl ImportDotenvxArgs {
    /// Whether the values go into the vault (neither `--stdout` nor `--out`).
    pub fn to_vault(&self) -> bool {
        !self.stdout && self.out.is_none()
    }
}

/// Runs a sealed-file command.
pub fn dispatch(c: Command, out: &mut dyn Write) -> Result<ExitCode> {
    match c {
        Command::Seal(a) => seal(a, out),
        Command::Unseal(a) => unseal(a, out),
        Command::Recipients(r) => recipients(r, out),
        Command::Git(g) => git(g, out),
        Command::ImportDotenvx(a) => import_dotenvx(a, out),
        _ => bail!("not a sealed-file command"),
    }
}

fn read(path: &Path) -> Result<Zeroizing<String>> {
    crate::input::text_file(path, MAX_FILE)
}

fn format_of(path: &Path, given: Option<&str>, text: &str) -> Result<Format> {
    if let Some(f) = given {
        return Ok(f.parse()?);
    }
    if let Some(f) = Format::from_path(path) {
        return Ok(f);
    }
    // git's textconv and merge temp files: sniff.
    let t = text.trim_start();
    if t.starts_with('{') {
        return Ok(Format::Json);
    }
    for f in [Format::Dotenv, Format::Toml, Format::Yaml] {
        if tresor_seal::is_sealed(text, f).unwrap_or(false) {
            return Ok(f);
        }
    }
    bail!(
        "cannot tell the format of '{}' from its name: pass --format dotenv|json|yaml|toml",
        path.display()
    )
}

/// The identities to try, per [`IdentityArgs`] and the defaults.
pub fn identities(a: &IdentityArgs) -> Result<Vec<Identity>> {
    let mut files: Vec<PathBuf> = a.identities.clone();
    if files.is_empty()
        && let Some(v) = std::env::var_os("TRESOR_IDENTITY")
    {
        files.extend(std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()));
    }
    if files.is_empty() {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".config")));
        for p in [
            config.map(|c| c.join("tresor/identities")),
            home.map(|h| h.join(".ssh/id_ed25519")),
        ]
        .into_iter()
        .flatten()
        {
            if p.exists() {
                files.push(p);
            }
        }
    }
    if files.is_empty() {
        bail!(
            "no identity to open sealed files: pass -i FILE (an age identity or an ssh key), set TRESOR_IDENTITY, or create ~/.config/tresor/identities (age-keygen)"
        );
    }
    let mut ids = Vec::new();
    for f in &files {
        ids.extend(tresor_seal::load_identities(f)?);
    }
    Ok(ids)
}

fn open_file(path: &Path, format: Option<&str>, id: &IdentityArgs) -> Result<(Opened, Format)> {
    let text = read(path)?;
    let f = format_of(path, format, &text)?;
    let ids = identities(id)?;
    let o = tresor_seal::open(&text, f, &ids)
        .with_context(|| format!("cannot open sealed file '{}'", path.display()))?;
    Ok((o, f))
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    tresor_store::fsutil::write_atomic(path, text.as_bytes())?;
    Ok(())
}

fn read_recipients(a: &SealArgs) -> Result<Vec<String>> {
    let mut rs = a.recipients.clone();
    for f in &a.recipients_files {
        let t = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read recipients file '{}'", f.display()))?;
        rs.extend(
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    Ok(rs)
}

fn seal(a: SealArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if a.format.as_deref() == Some("dotenvx") {
        return seal_dotenvx(&a, out);
    }
    let rs = read_recipients(&a)?;
    if rs.is_empty() {
        bail!("no recipient: pass -r age1… or -r 'ssh-ed25519 …' (or -R FILE)");
    }
    let mut done = Vec::new();
    for path in &a.files {
        let text = read(path)?;
        let f = format_of(path, a.format.as_deref(), &text)?;
        let sealed = tresor_seal::seal(&text, f, &rs)
            .with_context(|| format!("cannot seal '{}'", path.display()))?;
        write_file(path, &sealed)?;
        done.push(json!({"file": path, "format": f.name(), "recipients": rs.len()}));
        if !a.json {
            eprintln!(
                "sealed {} ({}, {} recipient(s))",
                path.display(),
                f.name(),
                rs.len()
            );
        }
    }
    if a.json {
        output::json(out, &json!({"sealed": done}))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn seal_dotenvx(a: &SealArgs, out: &mut dyn Write) -> Result<ExitCode> {
    use tresor_seal::dotenvx;
    let mut done = Vec::new();
    for path in &a.files {
        let text = read(path)?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(".env")
            .to_owned();
        let (pub_name, priv_name) = dotenvx::key_names(&name);
        if dotenvx::public_key_in(&text)?.is_some() {
            bail!(
                "'{}' already carries a DOTENV_PUBLIC_KEY: it is a dotenvx file (use 'dotenvx set' or 'tresor import-dotenvx')",
                path.display()
            );
        }
        let mut wrote_keys = None;
        let public = match &a.dotenvx_public_key {
            Some(p) => p.clone(),
            None => {
                let keys = path.with_file_name(".env.keys");
                let existing = if keys.exists() {
                    let kt = read(&keys)?;
                    tresor_seal::dotenv::scan_pairs(&kt)?
                        .into_iter()
                        .find(|(k, _)| *k == priv_name)
                        .map(|(_, v)| v)
                } else {
                    None
                };
                match existing {
                    Some(sk) => dotenvx::public_of(&sk)?,
                    None => {
                        let (sk, pk) = dotenvx::keypair()?;
                        let mut kt = if keys.exists() {
                            read(&keys)?.to_string()
                        } else {
                            String::from(
                                "#/------------------!DOTENV_PRIVATE_KEYS!-------------------/\n#/ private decryption keys. DO NOT commit to source control /\n#/     [how it works](https://dotenvx.com/encryption)       /\n#/----------------------------------------------------------/\n",
                            )
                        };
                        if !kt.is_empty() && !kt.ends_with('\n') {
                            kt.push('\n');
                        }
                        kt.push_str(&format!("\n# {name}\n{priv_name}={}\n", sk.as_str()));
                        let kt = Zeroizing::new(kt);
                        write_file(&keys, &kt)?;
                        wrote_keys = Some(keys);
                        pk
                    }
                }
            }
        };
        let sealed = dotenvx::from_plain(&text, &pub_name, &public, &name)
            .with_context(|| format!("cannot encrypt '{}' for dotenvx", path.display()))?;
        write_file(path, &sealed)?;
        if !a.json {
            eprintln!("encrypted {} for dotenvx ({pub_name})", path.display());
            if let Some(k) = &wrote_keys {
                eprintln!(
                    "wrote {priv_name} to {} (0600): keep it out of git",
                    k.display()
                );
            }
        }
        done.push(json!({"file": path, "format": "dotenvx", "public_key_name": pub_name, "public_key": public, "keys_file": wrote_keys}));
    }
    if a.json {
        output::json(out, &json!({"sealed": done}))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn unseal(a: UnsealArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let (o, _) = open_file(&a.file, a.format.as_deref(), &a.id)?;
    let view = o.plaintext_view()?;
    if !o.conflicts().is_empty() {
        eprintln!(
            "warning: unresolved merge conflicts in {}: {} (resolve with 'tresor edit')",
            a.file.display(),
            o.conflicts().join(", ")
        );
    }
    if a.json {
        let values: serde_json::Map<String, serde_json::Value> = o
            .all_values()?
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v.to_string())))
            .collect();
        output::json(
            out,
            &json!({"file": a.file, "format": o.format().name(), "recipients": o.recipients(), "data_key_id": o.data_key_id(), "conflicts": o.conflicts(), "values": values}),
        )?;
    } else if a.in_place {
        write_file(&a.file, &view)?;
    } else if let Some(p) = &a.out {
        write_file(p, &view)?;
    } else {
        out.write_all(view.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `tresor edit FILE`: the plaintext in a 0600 file in a 0700 folder, `$VISUAL`/`$EDITOR` on
/// it, then sealed again with the same data key (unchanged values keep their ciphertexts);
/// the temp file is overwritten with zeros and removed whatever happens.
pub fn edit(a: EditFileArgs) -> Result<ExitCode> {
    let Some(path) = a.file.as_deref() else {
        bail!("tresor edit: name a sealed FILE, or use 'tresor edit value FILTER'");
    };
    let (o, _) = open_file(path, a.format.as_deref(), &a.id)?;
    let view = o.plaintext_view()?;
    let dir = private_temp_dir()?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sealed".into());
    let tmp = dir.path.join(&name);
    write_file(&tmp, &view)?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let mut parts = editor.split_whitespace();
    let prog = parts.next().unwrap_or("vi");
    let status = std::process::Command::new(prog)
        .args(parts)
        .arg(&tmp)
        .status()
        .with_context(|| format!("cannot start the editor '{prog}' (set $EDITOR)"))?;
    if !status.success() {
        bail!(
            "the editor exited with {status}: '{}' left unchanged",
            path.display()
        );
    }
    let edited = read(&tmp)?;
    if *edited == *view {
        eprintln!("no change: '{}' left as it was", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let sealed = o
        .reseal(&edited)
        .with_context(|| format!("'{}' left unchanged", path.display()))?;
    write_file(path, &sealed)?;
    eprintln!("sealed {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// A 0700 folder for plaintext temp files; its files are overwritten with zeros and removed
/// on drop.
struct PrivateDir {
    path: PathBuf,
}

fn private_temp_dir() -> Result<PrivateDir> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let mut rnd = [0u8; 8];
    tresor_crypto::random_fill(&mut rnd).map_err(|e| anyhow!("{e}"))?;
    let path = base.join(format!("tresor-edit-{}", tresor_crypto::hash::hex(&rnd)));
    tresor_store::fsutil::create_private_dir(&path)?;
    Ok(PrivateDir { path })
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if let Ok(rd) = std::fs::read_dir(&self.path) {
            for e in rd.flatten() {
                let p = e.path();
                if let Ok(m) = std::fs::symlink_metadata(&p)
                    && m.is_file()
                {
                    let zeros = vec![0u8; m.len() as usize];
                    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&p) {
                        let _ = f.write_all(&zeros);
                        let _ = f.sync_all();
                    }
                }
                let _ = std::fs::remove_file(&p);
            }
        }
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// `tresor run --file FILE… -- CMD`: the values of the sealed files (top-level keys), plus
/// the variables `more` gives (filters, templates), in CMD's environment; the variables
/// `is_credential_var` names (tresor's own credentials, `TRESOR_IDENTITY`) removed. With
/// `mask`, tresor stays the parent and every value given is concealed in CMD's stdout and
/// stderr ([`crate::mask`], as `run --mask`); else tresor replaces itself with CMD and
/// returns only when it cannot start.
pub fn run_with_files(
    files: &[PathBuf],
    more: &mut dyn FnMut() -> Result<Vec<(String, Zeroizing<String>)>>,
    command: &[String],
    mask: bool,
    is_credential_var: fn(&str) -> bool,
) -> Result<ExitCode> {
    let mut vars: Vec<(String, Zeroizing<String>)> = Vec::new();
    let id = IdentityArgs::default();
    for f in files {
        let (o, _) = open_file(f, None, &id)?;
        for (k, v) in o.values()? {
            if !tresor_vault::dotenv::is_env_var_name(&k) {
                bail!(
                    "'{}' in {} is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
                    k.escape_debug(),
                    f.display()
                );
            }
            if vars.iter().any(|(n, _)| *n == k) {
                bail!("{k} is set twice by the --file files");
            }
            vars.push((k, v));
        }
    }
    for (k, v) in more()? {
        if vars.iter().any(|(n, _)| *n == k) {
            bail!("{k} is set twice (by a --file and by a filter or the template)");
        }
        vars.push((k, v));
    }
    if mask {
        return crate::run_watch::run(
            &mut || Ok(vars.clone()),
            command,
            None,
            true,
            is_credential_var,
        );
    }
    use std::os::unix::process::CommandExt as _;
    let mut cmd = std::process::Command::new(&command[0]);
    cmd.args(&command[1..]);
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(is_credential_var) {
            cmd.env_remove(&k);
        }
    }
    for (k, v) in &vars {
        cmd.env(k, v.as_str());
    }
    let err = cmd.exec();
    Err(anyhow!("cannot run '{}': {err}", command[0]))
}

fn recipients(c: RecipientsCommand, out: &mut dyn Write) -> Result<ExitCode> {
    match c {
        RecipientsCommand::List { files, id, json } => {
            let ids = identities(&id).unwrap_or_default();
            let mut all = Vec::new();
            for f in &files {
                let text = read(f)?;
                let fmt = format_of(f, None, &text)?;
                let rs = tresor_seal::recipients_of(&text, fmt)
                    .with_context(|| format!("'{}'", f.display()))?;
                let key_id = tresor_seal::open(&text, fmt, &ids)
                    .ok()
                    .map(|o| o.data_key_id());
                if !json {
                    writeln!(out, "{}:", f.display())?;
                    for r in &rs {
                        writeln!(out, "  {r}")?;
                    }
                    if let Some(k) = &key_id {
                        writeln!(out, "  (data key {k})")?;
                    }
                }
                all.push(json!({"file": f, "recipients": rs, "data_key_id": key_id}));
            }
            if json {
                output::json(out, &json!(all))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RecipientsCommand::Add {
            files,
            recipients,
            id,
            json,
        } => {
            let mut all = Vec::new();
            for f in &files {
                let (o, _) = open_file(f, None, &id)?;
                let mut rs = o.recipients().to_vec();
                for r in &recipients {
                    let n = tresor_seal::normalize_recipient(r)?;
                    if !rs.contains(&n) {
                        rs.push(n);
                    }
                }
                write_file(f, &o.with_recipients(&rs, false)?)?;
                if !json {
                    eprintln!("{}: {} recipient(s)", f.display(), rs.len());
                }
                all.push(json!({"file": f, "recipients": rs}));
            }
            if json {
                output::json(out, &json!(all))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RecipientsCommand::Rm {
            files,
            recipients,
            id,
            json,
        } => {
            let mut all = Vec::new();
            for f in &files {
                let (o, _) = open_file(f, None, &id)?;
                let old_id = o.data_key_id();
                let mut rs = o.recipients().to_vec();
                let mut removed = Vec::new();
                for r in &recipients {
                    let want =
                        tresor_seal::normalize_recipient(r).unwrap_or_else(|_| r.trim().to_owned());
                    let hits: Vec<String> = rs
                        .iter()
                        .filter(|x| **x == want || (want.len() >= 8 && x.starts_with(&want)))
                        .cloned()
                        .collect();
                    match hits.len() {
                        0 => bail!("'{}' is not a recipient of {}", r, f.display()),
                        1 => {}
                        _ => bail!(
                            "'{}' matches several recipients of {}: give more of it",
                            r,
                            f.display()
                        ),
                    }
                    rs.retain(|x| *x != hits[0]);
                    removed.push(hits[0].clone());
                }
                if rs.is_empty() {
                    bail!(
                        "removing every recipient of {} would leave nobody able to open it",
                        f.display()
                    );
                }
                let sealed = o.with_recipients(&rs, true)?;
                write_file(f, &sealed)?;
                let new_id = tresor_seal::open(&sealed, o.format(), &identities(&id)?)
                    .map(|n| n.data_key_id())
                    .ok();
                let commits = git_commits_touching(f);
                if !json {
                    eprintln!(
                        "{}: removed {} recipient(s); new data key{}, every value re-encrypted",
                        f.display(),
                        removed.len(),
                        new_id
                            .as_ref()
                            .map(|i| format!(" {i} (was {old_id})"))
                            .unwrap_or_default()
                    );
                    eprintln!(
                        "warning: the removed recipient(s) can still decrypt every older copy of this file (git history, clones, backups): rotate the secrets themselves"
                    );
                    if let Some(c) = &commits {
                        eprintln!("commits with copies they can read ({}):", c.len());
                        for l in c {
                            writeln!(out, "{l}")?;
                        }
                    }
                }
                all.push(json!({"file": f, "removed": removed, "recipients": rs, "old_data_key_id": old_id, "data_key_id": new_id, "readable_commits": commits}));
            }
            if json {
                output::json(out, &json!(all))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The commits (`hash date subject`) that touched `file`, when it is in a git repository.
fn git_commits_touching(file: &Path) -> Option<Vec<String>> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file.file_name()?;
    let o = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "log",
            "--follow",
            "--format=%h %ad %s",
            "--date=short",
            "--",
        ])
        .arg(name)
        .output()
        .ok()?;
    if !o.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

fn git(c: GitCommand, out: &mut dyn Write) -> Result<ExitCode> {
    match c {
        GitCommand::Setup {
            patterns,
            global,
            json,
        } => {
            let exe = std::env::current_exe().context("cannot find the tresor binary")?;
            let exe = shell_quote(&exe.to_string_lossy());
            let scope = if global { "--global" } else { "--local" };
            let settings = [
                ("diff.tresor.textconv", format!("{exe} git textconv")),
                ("diff.tresor.cachetextconv", "false".to_owned()),
                (
                    "merge.tresor.name",
                    "tresor sealed files (per key)".to_owned(),
                ),
                (
                    "merge.tresor.driver",
                    format!("{exe} git merge %O %A %B %P"),
                ),
            ];
            for (k, v) in &settings {
                let st = std::process::Command::new("git")
                    .args(["config", scope, k, v])
                    .status()
                    .context("cannot run git")?;
                if !st.success() {
                    bail!(
                        "'git config {scope} {k}' failed (run inside a git repository, or pass --global)"
                    );
                }
            }
            let mut added = Vec::new();
            if !patterns.is_empty() {
                let top = std::process::Command::new("git")
                    .args(["rev-parse", "--show-toplevel"])
                    .output()
                    .context("cannot run git")?;
                if !top.status.success() {
                    bail!("not in a git repository: .gitattributes needs one");
                }
                let root = PathBuf::from(String::from_utf8_lossy(&top.stdout).trim());
                let ga = root.join(".gitattributes");
                let mut text = std::fs::read_to_string(&ga).unwrap_or_default();
                for p in &patterns {
                    let line = format!("{p} diff=tresor merge=tresor");
                    if !text.lines().any(|l| l.trim() == line) {
                        if !text.is_empty() && !text.ends_with('\n') {
                            text.push('\n');
                        }
                        text.push_str(&line);
                        text.push('\n');
                        added.push(line);
                    }
                }
                std::fs::write(&ga, text)
                    .with_context(|| format!("cannot write {}", ga.display()))?;
            }
            if json {
                output::json(
                    out,
                    &json!({"config": settings.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(), "gitattributes_added": added}),
                )?;
            } else {
                eprintln!("installed the tresor diff and merge drivers ({scope})");
                for l in &added {
                    eprintln!(".gitattributes: {l}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        GitCommand::Textconv { file, id } => {
            let text = read(&file)?;
            let shown: Zeroizing<String> = (|| -> Result<Zeroizing<String>> {
                let f = format_of(&file, None, &text)?;
                let ids = identities(&id)?;
                Ok(tresor_seal::open(&text, f, &ids)?.plaintext_view()?)
            })()
            .unwrap_or_else(|_| text.clone());
            out.write_all(shown.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        GitCommand::Merge {
            base,
            ours,
            theirs,
            path,
            id,
        } => {
            let named = path.clone().unwrap_or_else(|| ours.clone());
            let (tb, to, tt) = (read(&base)?, read(&ours)?, read(&theirs)?);
            let f = format_of(&named, None, &to)?;
            let ids = identities(&id)?;
            let tmp = private_temp_dir()?;
            let mut line_merge = |b: &str, o: &str, t: &str| -> std::io::Result<(String, bool)> {
                let (pb, po, pt) = (
                    tmp.path.join("base"),
                    tmp.path.join("ours"),
                    tmp.path.join("theirs"),
                );
                std::fs::write(&pb, b)?;
                std::fs::write(&po, o)?;
                std::fs::write(&pt, t)?;
                let r = std::process::Command::new("git")
                    .args([
                        "merge-file",
                        "-p",
                        "-L",
                        "ours",
                        "-L",
                        "base",
                        "-L",
                        "theirs",
                    ])
                    .arg(&po)
                    .arg(&pb)
                    .arg(&pt)
                    .output()?;
                let code = r.status.code().unwrap_or(-1);
                if !(0..=127).contains(&code) {
                    return Err(std::io::Error::other(
                        String::from_utf8_lossy(&r.stderr).into_owned(),
                    ));
                }
                Ok((String::from_utf8_lossy(&r.stdout).into_owned(), code == 0))
            };
            let shown = named.display();
            match tresor_seal::merge::merge(Some(&tb), &to, &tt, f, &ids, &mut line_merge) {
                Ok(m) => {
                    write_file(&ours, &m.text)?;
                    if m.conflicts.is_empty() {
                        Ok(ExitCode::SUCCESS)
                    } else {
                        eprintln!(
                            "tresor: conflicting values in {shown}: {} (resolve with 'tresor edit {shown}')",
                            m.conflicts.join(", ")
                        );
                        Ok(ExitCode::from(1))
                    }
                }
                Err(e) => {
                    eprintln!("tresor: cannot merge {shown} per key: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"/._-+".contains(&c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The plaintext `.env` of a dotenvx-encrypted file, decrypted with `DOTENV_PRIVATE_KEY*`
/// (the environment, then `.env.keys` beside the file).
pub fn dotenvx_plain(a: &ImportDotenvxArgs) -> Result<Zeroizing<String>> {
    use tresor_seal::dotenvx;
    let text = read(&a.file)?;
    let name = a
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(".env")
        .to_owned();
    let want = match dotenvx::public_key_in(&text)? {
        Some((pub_name, _)) => pub_name.replacen("DOTENV_PUBLIC_KEY", "DOTENV_PRIVATE_KEY", 1),
        None => dotenvx::key_names(&name).1,
    };
    let mut keys: Vec<Zeroizing<String>> = Vec::new();
    let mut add = |v: &str| {
        for k in v.split(',') {
            let k = k.trim();
            if !k.is_empty() {
                keys.push(Zeroizing::new(k.to_owned()));
            }
        }
    };
    // The matching name first, then any other DOTENV_PRIVATE_KEY* (environment, .env.keys).
    if let Ok(v) = std::env::var(&want) {
        add(&v);
    }
    let keys_file = a.file.with_file_name(".env.keys");
    let file_pairs = if keys_file.exists() {
        tresor_seal::dotenv::scan_pairs(&read(&keys_file)?)?
    } else {
        Vec::new()
    };
    for (k, v) in &file_pairs {
        if *k == want {
            add(v);
        }
    }
    for (k, v) in std::env::vars() {
        if k.starts_with("DOTENV_PRIVATE_KEY") && k != want {
            add(&v);
        }
    }
    for (k, v) in &file_pairs {
        if k.starts_with("DOTENV_PRIVATE_KEY") && *k != want {
            add(v);
        }
    }
    if keys.is_empty() {
        bail!(
            "no private key: set {want} (or put it in {}), as dotenvx does",
            keys_file.display()
        );
    }
    dotenvx::to_plain(&text, &keys)
        .with_context(|| format!("cannot read dotenvx file '{}'", a.file.display()))
}

/// The variables of a dotenvx-encrypted file, for the vault (as `importenv` reads a .env).
pub fn dotenvx_pairs(a: &ImportDotenvxArgs) -> Result<Vec<(String, tresor_crypto::SecretBytes)>> {
    let plain = dotenvx_plain(a)?;
    let entries = tresor_vault::dotenv::parse(&plain)
        .with_context(|| format!("the plaintext of '{}'", a.file.display()))?;
    Ok(entries
        .into_iter()
        .map(|e| {
            (
                e.name.clone(),
                tresor_crypto::SecretBytes::from(e.into_value().as_str()),
            )
        })
        .collect())
}

/// `import-dotenvx --stdout | --out FILE [-r …]`: the plaintext (or a sealed file).
fn import_dotenvx(a: ImportDotenvxArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let plain = dotenvx_plain(&a)?;
    let n = tresor_seal::dotenv::scan_pairs(&plain)?.len();
    let written = if !a.recipients.is_empty() {
        let p = a.out.as_ref().expect("clap requires --out with -r");
        let sealed = tresor_seal::seal(&plain, Format::Dotenv, &a.recipients)?;
        write_file(p, &sealed)?;
        Some((p.clone(), true))
    } else if let Some(p) = &a.out {
        write_file(p, &plain)?;
        Some((p.clone(), false))
    } else {
        if !a.json {
            out.write_all(plain.as_bytes())?;
        }
        None
    };
    if a.json {
        output::json(
            out,
            &json!({"file": a.file, "values": n, "out": written.as_ref().map(|w| &w.0), "sealed": written.as_ref().is_some_and(|w| w.1)}),
        )?;
    } else if let Some((p, sealed)) = &written {
        eprintln!(
            "imported {n} value(s) from {} into {}{}",
            a.file.display(),
            p.display(),
            if *sealed {
                " (sealed)"
            } else {
                " (plaintext, 0600)"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
