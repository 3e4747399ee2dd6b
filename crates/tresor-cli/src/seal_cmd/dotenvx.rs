//! dotenvx interop: `tresor import-dotenvx` and `tresor seal --format dotenvx`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;
use tresor_seal::Format;
use zeroize::Zeroizing;

use super::{read, write_file};
use crate::output;

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

pub(super) fn seal_dotenvx(a: &super::SealArgs, out: &mut dyn Write) -> Result<ExitCode> {
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
pub(super) fn import_dotenvx(a: ImportDotenvxArgs, out: &mut dyn Write) -> Result<ExitCode> {
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
