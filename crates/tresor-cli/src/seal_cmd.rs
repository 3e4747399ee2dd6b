//! Sealed files (issue 18): `seal`, `unseal`, `edit FILE`, `run --file`, `recipients`,
//! `git setup|textconv|merge` and `import-dotenvx`, over the `tresor-seal` library.
//!
//! Identities (who can open a sealed file) come from `-i/--identity FILE` (repeatable), else
//! `$TRESOR_IDENTITY` (files separated by ':'), else `~/.config/tresor/identities` and
//! `~/.ssh/id_ed25519` when they exist. Files sealed to AWS KMS or KMIP recipients open
//! through [`Services`] (no identity needed then).

mod dotenvx;
mod git;
mod recipients;
mod seal;
mod service;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use tresor_seal::{Format, Identity, Opened};
use zeroize::Zeroizing;

use crate::cli::{Command, Deferred};

pub use dotenvx::{ImportDotenvxArgs, dotenvx_pairs};
pub use git::GitCommand;
pub use recipients::RecipientsCommand;
pub use seal::{EditFileArgs, SealArgs, UnsealArgs, edit, run_with_files};
pub use service::{KmipAuth, Services};

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

/// What the sealed-file commands take from the rest of tresor.
pub struct Outside<'a> {
    /// The AWS KMS and KMIP clients for key-service recipients.
    pub services: Services,
    /// A vault user's age recipient (`recipients add --user NAME`); `None` when the user has
    /// no age key.
    pub user_age_key: &'a mut dyn FnMut(&str) -> Result<Option<String>>,
}

/// Runs a sealed-file command.
pub fn dispatch(c: Command, out: &mut dyn Write, outside: &mut Outside<'_>) -> Result<ExitCode> {
    match c {
        Command::Seal(a) => seal::seal(a, out, &outside.services),
        Command::Unseal(a) => seal::unseal(a, out, &outside.services),
        Command::Recipients(Deferred(r)) => recipients::recipients(r, out, outside),
        Command::Git(Deferred(g)) => git::git(g, out, &outside.services),
        Command::ImportDotenvx(a) => dotenvx::import_dotenvx(a, out),
        _ => bail!("not a sealed-file command"),
    }
}

pub(crate) fn read(path: &Path) -> Result<Zeroizing<String>> {
    crate::input::text_file(path, MAX_FILE)
}

pub(crate) fn format_of(path: &Path, given: Option<&str>, text: &str) -> Result<Format> {
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

pub(crate) fn open_file(
    path: &Path,
    format: Option<&str>,
    id: &IdentityArgs,
    services: &Services,
) -> Result<(Opened, Format)> {
    let text = read(path)?;
    let f = format_of(path, format, &text)?;
    let o = open_text(&text, f, id, services)
        .with_context(|| format!("cannot open sealed file '{}'", path.display()))?;
    Ok((o, f))
}

/// Opens a sealed text with the identities, and through `services` when it has AWS KMS or
/// KMIP recipients (then having no identity is not an error).
pub(crate) fn open_text(
    text: &str,
    f: Format,
    id: &IdentityArgs,
    services: &Services,
) -> Result<Opened> {
    let has_service = tresor_seal::recipients_of(text, f)
        .map(|rs| {
            rs.iter()
                .any(|r| tresor_seal::Recipient::parse(r).is_ok_and(|r| r.kind.is_service()))
        })
        .unwrap_or(false);
    let ids = match identities(id) {
        Ok(ids) => ids,
        Err(_) if has_service => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(tresor_seal::open_via(text, f, &ids, Some(services))?)
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<()> {
    tresor_store::fsutil::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// A 0700 folder for plaintext temp files; its files are overwritten with zeros and removed
/// on drop.
pub(crate) struct PrivateDir {
    pub(crate) path: PathBuf,
}

pub(crate) fn private_temp_dir() -> Result<PrivateDir> {
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
