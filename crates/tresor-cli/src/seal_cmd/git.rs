//! `tresor git setup|textconv|merge`: the diff (textconv) and per-key merge drivers.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::json;
use zeroize::Zeroizing;

use super::{
    IdentityArgs, Services, format_of, identities, open_text, private_temp_dir, read, write_file,
};
use crate::output;

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

pub(super) fn git(c: GitCommand, out: &mut dyn Write, services: &Services) -> Result<ExitCode> {
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
                Ok(open_text(&text, f, &id, services)?.plaintext_view()?)
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
            let ids = identities(&id).unwrap_or_default();
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
            match tresor_seal::merge::merge_via(
                Some(&tb),
                &to,
                &tt,
                f,
                &ids,
                Some(services),
                &mut line_merge,
            ) {
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
