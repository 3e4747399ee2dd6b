//! `tresor recipients list|add|rm`: who can open a sealed file, by key or by name; `rm`
//! rotates the data key and lists the commits whose copies the removed person can still read.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use tresor_seal::Recipient;

use super::{IdentityArgs, Outside, format_of, identities, open_file, read, write_file};
use crate::output;

/// `tresor recipients …`.
#[derive(Subcommand, Debug)]
pub enum RecipientsCommand {
    /// List each file's recipients with their names (and the data key's fingerprint when you
    /// can open it).
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
    #[command(after_help = "Examples:
  tresor recipients add .env --name bob age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  tresor recipients add .env config.yaml -r \"$(cat bob.pub)\"   # named after the key's comment
  tresor recipients add .env --user bob                         # the vault user's age key
  tresor recipients add .env awskms:alias/team-secrets --name ci
  tresor recipients add .env kmip://kms.example:5696/UID --name vault

FILE… RECIPIENT: the last argument is the recipient unless -r/--user give them.")]
    Add {
        #[command(flatten)]
        change: Change,
        /// The name of the recipient added (one recipient; default: an ssh key's comment).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// A vault user (tresor users): their age key, under their name (repeatable).
        #[arg(long = "user", value_name = "USER")]
        users: Vec<String>,
    },
    /// Remove recipients, by name or key: a new data key, every value re-encrypted. Old copies
    /// (git history) stay readable to them: rotate the secrets themselves too.
    #[command(after_help = "Examples:
  tresor recipients rm .env bob
  tresor recipients rm .env config.yaml -r bob -r carol
  tresor recipients rm .env age1ql3z7hjy   # a unique prefix (8+ characters) of a key

FILE… WHO: the last argument is who to remove unless -r gives them.")]
    Rm {
        #[command(flatten)]
        change: Change,
    },
}

/// What `recipients add` and `rm` share: files, recipients, identities.
#[derive(Args, Debug)]
pub struct Change {
    /// The sealed files, then (without -r) the recipient.
    #[arg(required = true, value_name = "FILE… [RECIPIENT]")]
    args: Vec<String>,
    /// A recipient (repeatable): a name or a key (age1…, 'ssh-ed25519 …', awskms:…,
    /// kmip://HOST:PORT/UID), a key optionally followed by a name.
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    recipients: Vec<String>,
    #[command(flatten)]
    id: IdentityArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl Change {
    /// The files and the recipients: all arguments are files when `given_elsewhere` (-r,
    /// --user), else the last one is the recipient.
    fn split(&self, given_elsewhere: bool) -> Result<(Vec<PathBuf>, Vec<String>)> {
        let mut files: Vec<PathBuf> = self.args.iter().map(PathBuf::from).collect();
        let mut who = self.recipients.clone();
        if !given_elsewhere && who.is_empty() {
            if files.len() < 2 {
                bail!("name the recipient after the file(s): FILE… RECIPIENT, or -r RECIPIENT");
            }
            who.push(self.args[self.args.len() - 1].clone());
            files.pop();
        }
        Ok((files, who))
    }
}

/// How a recipient is shown: `name (key)` or the key.
fn shown(r: &Recipient) -> String {
    let key = if r.key.len() > 40 {
        format!("{}…", r.key.chars().take(32).collect::<String>())
    } else {
        r.key.clone()
    };
    match &r.name {
        Some(n) => format!("{n} ({key})"),
        None => key,
    }
}

fn parse_all(entries: &[String]) -> Result<Vec<Recipient>> {
    Ok(entries
        .iter()
        .map(|e| Recipient::parse(e))
        .collect::<std::result::Result<Vec<_>, _>>()?)
}

pub(super) fn recipients(
    c: RecipientsCommand,
    out: &mut dyn Write,
    outside: &mut Outside<'_>,
) -> Result<ExitCode> {
    match c {
        RecipientsCommand::List { files, id, json } => {
            let ids = identities(&id).unwrap_or_default();
            let mut all = Vec::new();
            for f in &files {
                let text = read(f)?;
                let fmt = format_of(f, None, &text)?;
                let rs = parse_all(
                    &tresor_seal::recipients_of(&text, fmt)
                        .with_context(|| format!("'{}'", f.display()))?,
                )?;
                let key_id = tresor_seal::open(&text, fmt, &ids)
                    .ok()
                    .map(|o| o.data_key_id());
                if !json {
                    writeln!(out, "{}:", f.display())?;
                    for r in &rs {
                        match &r.name {
                            Some(n) => writeln!(out, "  {n}\t{}", r.key)?,
                            None => writeln!(out, "  -\t{}", r.key)?,
                        }
                    }
                    if let Some(k) = &key_id {
                        writeln!(out, "  (data key {k})")?;
                    }
                }
                all.push(json!({
                    "file": f,
                    "recipients": rs.iter().map(|r| &r.key).collect::<Vec<_>>(),
                    "names": rs.iter().map(|r| &r.name).collect::<Vec<_>>(),
                    "data_key_id": key_id,
                }));
            }
            if json {
                output::json(out, &json!(all))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RecipientsCommand::Add {
            change,
            name,
            users,
        } => {
            let (files, given) = change.split(!users.is_empty())?;
            let mut new = Vec::new();
            for g in &given {
                let r = Recipient::parse(g)?;
                new.push(match &name {
                    Some(n) => r.named(n)?,
                    None => r,
                });
            }
            if name.is_some() && given.len() != 1 {
                bail!(
                    "--name names one recipient: give exactly one (or put the name after each key: -r 'age1… bob')"
                );
            }
            for u in &users {
                let Some(age) = (outside.user_age_key)(u)? else {
                    bail!(
                        "vault user '{u}' has no age key (a seeqret-only user): add their age1… key with -r and --name {u}"
                    );
                };
                new.push(Recipient::parse(&age)?.named(u)?);
            }
            let mut all = Vec::new();
            for f in &files {
                let (o, _) = open_file(f, None, &change.id, &outside.services)?;
                let mut rs = parse_all(o.recipients())?;
                for r in &new {
                    if let Some(n) = &r.name
                        && let Some(other) = rs
                            .iter()
                            .find(|x| x.name.as_ref() == Some(n) && x.key != r.key)
                    {
                        bail!(
                            "{}: the name '{n}' is already used by {}: choose another --name",
                            f.display(),
                            other.key
                        );
                    }
                    match rs.iter_mut().find(|x| x.key == r.key) {
                        Some(x) => {
                            if r.name.is_some() {
                                x.name = r.name.clone();
                            }
                        }
                        None => rs.push(r.clone()),
                    }
                }
                let entries: Vec<String> = rs.iter().map(Recipient::entry).collect();
                write_file(
                    f,
                    &o.with_recipients_via(&entries, false, Some(&outside.services))?,
                )?;
                if !change.json {
                    eprintln!(
                        "{}: {} recipient(s): {}",
                        f.display(),
                        rs.len(),
                        rs.iter().map(shown).collect::<Vec<_>>().join(", ")
                    );
                }
                all.push(json!({"file": f, "recipients": rs.iter().map(|r| &r.key).collect::<Vec<_>>(), "names": rs.iter().map(|r| &r.name).collect::<Vec<_>>()}));
            }
            if change.json {
                output::json(out, &json!(all))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RecipientsCommand::Rm { change } => {
            let (files, who) = change.split(false)?;
            let json = change.json;
            let mut all = Vec::new();
            for f in &files {
                let (o, _) = open_file(f, None, &change.id, &outside.services)?;
                let old_id = o.data_key_id();
                let mut rs = parse_all(o.recipients())?;
                let mut removed = Vec::new();
                for w in &who {
                    let hits: Vec<usize> = (0..rs.len()).filter(|&i| rs[i].is(w)).collect();
                    match hits.len() {
                        0 => bail!(
                            "'{w}' is not a recipient of {}; its recipients: {}",
                            f.display(),
                            rs.iter().map(shown).collect::<Vec<_>>().join(", ")
                        ),
                        1 => {}
                        _ => bail!(
                            "'{w}' matches several recipients of {} ({}): give more of the key",
                            f.display(),
                            hits.iter()
                                .map(|&i| shown(&rs[i]))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    }
                    removed.push(rs.remove(hits[0]));
                }
                if rs.is_empty() {
                    bail!(
                        "removing every recipient of {} would leave nobody able to open it",
                        f.display()
                    );
                }
                let entries: Vec<String> = rs.iter().map(Recipient::entry).collect();
                let sealed = o.with_recipients_via(&entries, true, Some(&outside.services))?;
                write_file(f, &sealed)?;
                let new_id = tresor_seal::open_via(
                    &sealed,
                    o.format(),
                    &identities(&change.id).unwrap_or_default(),
                    Some(&outside.services),
                )
                .map(|n| n.data_key_id())
                .ok();
                let commits = git_commits_touching(f);
                if !json {
                    eprintln!(
                        "{}: removed {}; new data key{}, every value re-encrypted",
                        f.display(),
                        removed.iter().map(shown).collect::<Vec<_>>().join(", "),
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
                all.push(json!({
                    "file": f,
                    "removed": removed.iter().map(|r| &r.key).collect::<Vec<_>>(),
                    "removed_names": removed.iter().map(|r| &r.name).collect::<Vec<_>>(),
                    "recipients": rs.iter().map(|r| &r.key).collect::<Vec<_>>(),
                    "names": rs.iter().map(|r| &r.name).collect::<Vec<_>>(),
                    "old_data_key_id": old_id,
                    "data_key_id": new_id,
                    "readable_commits": commits,
                }));
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
