//! Secret commands: add, get, list, edit, rm, history and rollback.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde_json::json;
use tresor_crypto::SecretBytes;
use tresor_vault::filter::{Filter, FilterSet};
use tresor_vault::{SecretInfo, VaultError};

use super::{Ctx, filters_of, print_import, read_dotenv, validate_app_env};
use crate::cli::AddCommand;
use crate::{input, output};

/// A secret as JSON (`get --json`, `list --json`), with its owner (remote mode) and its
/// value when given.
fn secret_json(
    s: &SecretInfo,
    owner: Option<String>,
    value: Option<&SecretBytes>,
) -> serde_json::Value {
    let mut v = json!({
        "app": s.app, "env": s.env, "key": s.key, "name": s.name, "type": s.kind,
        "object_type": s.object_type, "state": s.state, "version": s.version, "updated": s.updated, "uid": s.uid,
    });
    if let Some(o) = owner {
        v["owner"] = json!(o);
    }
    if let Some(val) = value {
        v["value"] = match val.as_str() {
            Some(t) => json!(t),
            None => {
                json!({"base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, val.expose())})
            }
        };
    }
    v
}

/// `tresor add key|text|file|user`.
pub(super) fn add(ctx: &Ctx, a: AddCommand, out: &mut dyn Write) -> Result<ExitCode> {
    match a {
        AddCommand::Key {
            name,
            value,
            app,
            env,
            force,
        } => {
            tresor_vault::filter::validate_full_name(&app, &env, &name)?;
            let v = ctx.door()?;
            let val = input::value(value.as_deref(), &format!("Value for {app}:{env}:{name}: "))?;
            let ver = v.add(&app, &env, &name, val.expose(), "str", force)?;
            eprintln!("stored {app}:{env}:{name} (v{ver})");
        }
        AddCommand::Text {
            name,
            app,
            env,
            force,
        } => {
            tresor_vault::filter::validate_full_name(&app, &env, &name)?;
            let v = ctx.door()?;
            let val = input::stdin_all()?;
            let ver = v.add(&app, &env, &name, val.expose(), "text", force)?;
            eprintln!(
                "stored {app}:{env}:{name} (v{ver}, {} bytes)",
                val.expose().len()
            );
        }
        AddCommand::File {
            path,
            app,
            env,
            update,
        } => {
            validate_app_env(&app, &env)?;
            let v = ctx.door()?;
            let pairs = read_dotenv(&path)?;
            let task = crate::progress::Task::start(false);
            let r = v.import_pairs_with(&app, &env, &pairs, update, false, &task)?;
            print_import(out, &r, false, false, &task, None)?;
        }
        AddCommand::User {
            username,
            email,
            pubkey,
        } => super::sharing::add_user(ctx, &username, &email, &pubkey)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `tresor get FILTER`: the one matching secret's value (raw bytes, or JSON).
pub(super) fn get(ctx: &Ctx, filter: &str, json: bool, out: &mut dyn Write) -> Result<ExitCode> {
    let v = ctx.door()?;
    if json {
        let f = Filter::new(filter)?;
        let s = v.find_one(&f)?;
        let val = v.value(&s)?;
        output::json(out, &secret_json(&s, v.owner(&s), Some(&val)))?;
    } else {
        let val = v.get(filter)?;
        out.write_all(val.expose())?;
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tresor list`: a table, `KEY=value` lines (`--env`) or JSON. Exit 1 when filters match nothing.
pub(super) fn list(
    ctx: &Ctx,
    filters: &[String],
    env: bool,
    reveal: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let v = ctx.door()?;
    let found = v.list(&filters_of(filters)?)?;
    let value = |s: &SecretInfo| -> Result<Option<SecretBytes>> {
        Ok(if reveal { Some(v.value(s)?) } else { None })
    };
    if json {
        let mut arr = Vec::with_capacity(found.len());
        for s in &found {
            arr.push(secret_json(s, v.owner(s), value(s)?.as_ref()));
        }
        output::json(out, &serde_json::Value::Array(arr))?;
    } else if env {
        for s in &found {
            let val = value(s)?;
            let shown = match &val {
                Some(b) => tresor_vault::dotenv::render_value(&String::from_utf8_lossy(b.expose()))
                    .to_string(),
                None => output::MASK.to_owned(),
            };
            writeln!(out, "{}={shown}", s.key)?;
        }
    } else {
        let mut rows = Vec::with_capacity(found.len());
        for s in &found {
            let shown = match value(s)? {
                Some(b) => String::from_utf8_lossy(b.expose())
                    .escape_debug()
                    .to_string(),
                None => output::MASK.to_owned(),
            };
            let mut row = vec![
                s.app.clone(),
                s.env.clone(),
                s.key.clone(),
                shown,
                format!("v{}", s.version),
                s.kind.clone(),
            ];
            // Remote mode: who owns each secret.
            row.extend(v.owner(s));
            rows.push(row);
        }
        let mut head = vec!["APP", "ENV", "KEY", "VALUE", "VERSION", "TYPE"];
        if rows.iter().any(|r| r.len() > head.len()) {
            head.push("OWNER");
        }
        output::table(out, &head, &rows)?;
    }
    Ok(if found.is_empty() && !filters.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `tresor edit value FILTER [VALUE] [--all]`.
pub(super) fn edit_value(
    ctx: &Ctx,
    filter: String,
    value: Option<String>,
    all: bool,
) -> Result<ExitCode> {
    let v = ctx.door()?;
    let f = Filter::new(&filter)?;
    let targets = if all {
        let t = v.list(&FilterSet::from_iter([f]))?;
        if t.is_empty() {
            return Err(VaultError::NotFound(filter).into());
        }
        t
    } else {
        vec![v.find_one(&f)?]
    };
    let val = input::value(value.as_deref(), "New value: ")?;
    v.set_values(&targets, val.expose())?;
    eprintln!("updated {} secret(s)", targets.len());
    Ok(ExitCode::SUCCESS)
}

/// `tresor rm key FILTER`: refuses a filter matching everything unless `--all`.
pub(super) fn rm_key(ctx: &Ctx, filter: String, yes: bool, all: bool) -> Result<ExitCode> {
    let set = filters_of(std::slice::from_ref(&filter))?;
    let everything = filter.trim().is_empty()
        || set.is_empty()
        || set.filters().iter().any(Filter::matches_everything);
    if everything && !all {
        bail!(VaultError::Refused(format!(
            "an empty filter ('{filter}': every part empty) would remove every secret; \
             name what to remove, or pass --all to mean every secret"
        )));
    }
    let v = ctx.door()?;
    let targets = v.list(&set)?;
    if targets.is_empty() {
        return Err(VaultError::NotFound(filter).into());
    }
    let names: Vec<&str> = targets.iter().map(|s| s.name.as_str()).collect();
    let question = format!("remove {} secret(s): {}?", targets.len(), names.join(", "));
    if !yes && !input::confirm_removal(&question)? {
        return Ok(ExitCode::from(1));
    }
    v.remove(&targets)?;
    eprintln!("removed {} secret(s)", targets.len());
    Ok(ExitCode::SUCCESS)
}

/// `tresor history FILTER`: every version of one secret, the current one starred.
pub(super) fn history(
    ctx: &Ctx,
    filter: &str,
    reveal: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let v = ctx.door()?;
    let s = v.find_one(&Filter::new(filter)?)?;
    let hist = v.history(&s)?;
    if json {
        let mut arr = Vec::new();
        for h in &hist {
            let mut e = json!({"version": h.version, "created": h.created, "created_by": h.created_by, "destroyed": h.destroyed, "current": h.version == s.version});
            if reveal && !h.destroyed {
                e["value"] = json!(String::from_utf8_lossy(v.value_at(&s, h.version)?.expose()));
            }
            arr.push(e);
        }
        let mut h = json!({"name": s.name, "versions": arr});
        if let Some(o) = v.owner(&s) {
            h["owner"] = json!(o);
        }
        output::json(out, &h)?;
    } else {
        let mut rows = Vec::new();
        for h in &hist {
            let val = if reveal && !h.destroyed {
                String::from_utf8_lossy(v.value_at(&s, h.version)?.expose())
                    .escape_debug()
                    .to_string()
            } else {
                output::MASK.into()
            };
            let cur = if h.version == s.version { "*" } else { "" };
            rows.push(vec![
                format!("v{}{cur}", h.version),
                output::date(h.created),
                h.created_by.clone(),
                val,
            ]);
        }
        match v.owner(&s) {
            Some(o) => writeln!(out, "{} (owner: {o})", s.name)?,
            None => writeln!(out, "{}", s.name)?,
        }
        output::table(out, &["VERSION", "CREATED (UTC)", "BY", "VALUE"], &rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `tresor rollback FILTER --to N`: a new version holding version N's value.
pub(super) fn rollback(ctx: &Ctx, filter: &str, to: u32) -> Result<ExitCode> {
    let v = ctx.door()?;
    let s = v.find_one(&Filter::new(filter)?)?;
    let n = v.rollback(&s, to)?;
    eprintln!("{}: v{n} now holds the value of v{to}", s.name);
    Ok(ExitCode::SUCCESS)
}
