//! Sharing with teammates: users (add, rm, list, owner), public keys, `export` to a user,
//! `load` from one, and `import-seeqret` from a seeqret vault.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use serde_json::json;

use super::{Ctx, MAX_FILE, filters_of, print_import};
use crate::{input, output};

/// `tresor add user NAME EMAIL PUBKEY`.
pub(super) fn add_user(ctx: &Ctx, username: &str, email: &str, pubkey: &str) -> Result<()> {
    let v = ctx.open()?;
    let u = v.add_user(username, email, pubkey)?;
    eprintln!("added user '{}'", u.username);
    Ok(())
}

/// `tresor rm user NAME`: asks first unless `--yes`.
pub(super) fn rm_user(ctx: &Ctx, name: &str, yes: bool) -> Result<ExitCode> {
    let v = ctx.open()?;
    v.user(name)?;
    if !yes && !input::confirm_removal(&format!("remove user '{name}'?"))? {
        return Ok(ExitCode::from(1));
    }
    v.remove_user(name)?;
    eprintln!("removed user '{name}'");
    Ok(ExitCode::SUCCESS)
}

/// `tresor users`: everyone this vault can export to.
pub(super) fn users(ctx: &Ctx, json: bool, out: &mut dyn Write) -> Result<ExitCode> {
    let v = ctx.open()?;
    print_users(out, &v.users()?, json)?;
    Ok(ExitCode::SUCCESS)
}

/// `tresor owner`: this vault's own user.
pub(super) fn owner(ctx: &Ctx, json: bool, out: &mut dyn Write) -> Result<ExitCode> {
    let v = ctx.open()?;
    print_users(out, &[v.owner()?], json)?;
    Ok(ExitCode::SUCCESS)
}

/// `tresor public-key [--seeqret]`: the key to give teammates.
pub(super) fn public_key(
    ctx: &Ctx,
    seeqret: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let v = ctx.open()?;
    let key = if seeqret {
        v.seeqret_public_key()?
    } else {
        v.owner()?.public_key()
    };
    if json {
        let o = v.owner()?;
        output::json(
            out,
            &json!({"user": o.username, "public_key": key, "format": if seeqret { "seeqret" } else { "tresor" }, "age": o.age, "ed25519": o.ed25519, "seeqret": o.seeqret}),
        )?;
    } else {
        writeln!(out, "{key}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `tresor export --to USER [FILTER]...`: to a file with `--out`, else to stdout.
pub(super) fn export(
    ctx: &Ctx,
    to: Option<String>,
    filters: &[String],
    path: Option<PathBuf>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let to = to.ok_or_else(|| anyhow!("say who the export is for: --to USER"))?;
    let v = ctx.open()?;
    let (text, n) = v.export(&to, &filters_of(filters)?)?;
    match path {
        Some(p) => {
            tresor_store::fsutil::write_atomic(&p, text.as_bytes())?;
            eprintln!("exported {n} secret(s) for {to} to {}", p.display());
        }
        None => out.write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `tresor load FILE [--from USER]`: an export made for us (tresor or seeqret format).
pub(super) fn load(
    ctx: &Ctx,
    path: Option<PathBuf>,
    from: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let path = path.ok_or_else(|| anyhow!("name the file to load ('-' for stdin)"))?;
    let v = ctx.open()?;
    let text = input::text_file(&path, MAX_FILE)?;
    let task = crate::progress::Task::start(json);
    let r = v.load(&text, from)?;
    print_import(out, &r, json, false, &task, None)?;
    Ok(ExitCode::SUCCESS)
}

/// `tresor import-seeqret DIR`: the secrets and users of a seeqret vault.
pub(super) fn import_seeqret(
    ctx: &Ctx,
    dir: &Path,
    json: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let v = ctx.open()?;
    let task = crate::progress::Task::start(json);
    let (r, users) = v.import_seeqret_with(dir, &task)?;
    print_import(out, &r, json, false, &task, Some(users))?;
    Ok(ExitCode::SUCCESS)
}

fn print_users(
    out: &mut dyn Write,
    users: &[tresor_vault::identity::User],
    json: bool,
) -> Result<()> {
    if json {
        output::json(out, &serde_json::to_value(users)?)?;
    } else {
        let rows: Vec<Vec<String>> = users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                vec![
                    (i + 1).to_string(),
                    u.username.clone(),
                    u.email.clone(),
                    u.public_key(),
                ]
            })
            .collect();
        output::table(out, &["#", "USERNAME", "EMAIL", "PUBLIC KEY"], &rows)?;
    }
    Ok(())
}
