//! `tresor recipients list|add|rm`: who can open a sealed file; `rm` rotates the data key.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::json;

use super::{IdentityArgs, format_of, identities, open_file, read, write_file};
use crate::output;

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

pub(super) fn recipients(c: RecipientsCommand, out: &mut dyn Write) -> Result<ExitCode> {
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
