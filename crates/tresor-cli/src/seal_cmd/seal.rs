//! `tresor seal`, `unseal`, `edit FILE` and `run --file`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde_json::json;
use zeroize::Zeroizing;

use super::{IdentityArgs, Services, format_of, open_file, private_temp_dir, read, write_file};
use crate::output;

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

pub(super) fn seal(a: SealArgs, out: &mut dyn Write, services: &Services) -> Result<ExitCode> {
    if a.format.as_deref() == Some("dotenvx") {
        return super::dotenvx::seal_dotenvx(&a, out);
    }
    let rs = read_recipients(&a)?;
    if rs.is_empty() {
        bail!("no recipient: pass -r age1… or -r 'ssh-ed25519 …' (or -R FILE)");
    }
    let mut done = Vec::new();
    for path in &a.files {
        let text = read(path)?;
        let f = format_of(path, a.format.as_deref(), &text)?;
        let sealed = tresor_seal::seal_via(&text, f, &rs, Some(services))
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

pub(super) fn unseal(a: UnsealArgs, out: &mut dyn Write, services: &Services) -> Result<ExitCode> {
    let (o, _) = open_file(&a.file, a.format.as_deref(), &a.id, services)?;
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
pub fn edit(a: EditFileArgs, services: &Services) -> Result<ExitCode> {
    let Some(path) = a.file.as_deref() else {
        bail!("tresor edit: name a sealed FILE, or use 'tresor edit value FILTER'");
    };
    let (o, _) = open_file(path, a.format.as_deref(), &a.id, services)?;
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
    services: &Services,
) -> Result<ExitCode> {
    let mut vars: Vec<(String, Zeroizing<String>)> = Vec::new();
    let id = IdentityArgs::default();
    for f in files {
        let (o, _) = open_file(f, None, &id, services)?;
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
