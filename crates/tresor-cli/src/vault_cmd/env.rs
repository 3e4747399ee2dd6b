//! Environment commands: `env` (write a .env from a template), `run` (start a program with
//! secrets in its environment) and `importenv` (read a .env into the vault).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use tresor_vault::VaultError;
use tresor_vault::filter::{Filter, FilterSet};
use tresor_vault::template::Template;

use super::{Ctx, MAX_FILE, filters_of, print_import, read_dotenv, validate_app_env};
use crate::door::SecretsDoor;
use crate::input;

/// `tresor env`: renders the template to a .env file, or to stdout for `-`.
pub(super) fn env(
    ctx: &Ctx,
    template: &Path,
    path: &Path,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let v = ctx.door()?;
    let pairs = render_template(v.as_ref(), template)?;
    let text =
        tresor_vault::dotenv::render(pairs.iter().map(|(n, val)| (n.as_str(), val.as_str())));
    if path == Path::new("-") {
        out.write_all(text.as_bytes())?;
    } else {
        tresor_store::fsutil::write_atomic(path, text.as_bytes())?;
        eprintln!("wrote {} variable(s) to {}", pairs.len(), path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `tresor importenv FILE --app A --env E`: adds (or, with `--update`, updates) each variable.
#[allow(clippy::too_many_arguments)] // one per command-line option
pub(super) fn importenv(
    ctx: &Ctx,
    file: &Path,
    app: &str,
    env: &str,
    update: bool,
    dry_run: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    validate_app_env(app, env)?;
    let v = ctx.door()?;
    let pairs = read_dotenv(file)?;
    let r = v.import_pairs(app, env, &pairs, update, dry_run)?;
    print_import(out, &r, json, dry_run)?;
    Ok(ExitCode::SUCCESS)
}

/// `tresor run [--filter F]... [--template T] -- COMMAND`: replaces this process with COMMAND,
/// the matching secrets set in its environment. Returns only when COMMAND cannot start.
pub(super) fn run(
    ctx: &Ctx,
    filters: &[String],
    template: Option<PathBuf>,
    command: &[String],
) -> Result<ExitCode> {
    let v = ctx.door()?;
    let mut vars: Vec<(String, zeroize::Zeroizing<String>)> = Vec::new();
    if !filters.is_empty() {
        for s in v.list(&filters_of(filters)?)? {
            let val = v.value(&s)?;
            let text = val.as_str().ok_or_else(|| {
                anyhow!(
                    "secret '{}' is not UTF-8 text and cannot go in an environment variable",
                    s.name
                )
            })?;
            if vars.iter().any(|(k, _)| *k == s.key) {
                bail!(
                    "two secrets would set {}: narrow the filters ({} and another)",
                    s.key,
                    s.name
                );
            }
            vars.push((s.key.clone(), zeroize::Zeroizing::new(text.to_owned())));
        }
    }
    if let Some(t) = template {
        for (k, val) in render_template(v.as_ref(), &t)? {
            if vars.iter().any(|(n, _)| *n == k) {
                bail!("{k} is set twice (by a filter and by the template)");
            }
            vars.push((k, val));
        }
    }
    if filters.is_empty() && vars.is_empty() && !Path::new("env.template").exists() {
        eprintln!("warning: no --filter or --template given; running without secrets");
    }
    drop(v);
    use std::os::unix::process::CommandExt as _;
    let mut cmd = std::process::Command::new(&command[0]);
    cmd.args(&command[1..]);
    for (k, val) in &vars {
        cmd.env(k, val.as_str());
    }
    let err = cmd.exec();
    Err(anyhow!("cannot run '{}': {err}", command[0]))
}

/// The variables a template file names, each filter line expanded against the vault.
fn render_template(
    v: &dyn SecretsDoor,
    path: &Path,
) -> Result<Vec<(String, zeroize::Zeroizing<String>)>> {
    let text = input::text_file(path, MAX_FILE).with_context(|| {
        format!(
            "cannot read template (create '{}' or pass --template)",
            path.display()
        )
    })?;
    let t = Template::parse(&text).map_err(VaultError::from)?;
    t.check_pins(env!("CARGO_PKG_VERSION"))
        .map_err(VaultError::from)?;
    let pairs = t.try_render(
        |f: &Filter| -> Result<Vec<(String, zeroize::Zeroizing<String>)>, anyhow::Error> {
            let mut out = Vec::new();
            for s in v.list(&FilterSet::from_iter([f.clone()]))? {
                let val = v.value(&s)?;
                let text = val
                    .as_str()
                    .ok_or_else(|| anyhow!("secret '{}' is not UTF-8 text", s.name))?;
                out.push((s.key.clone(), zeroize::Zeroizing::new(text.to_owned())));
            }
            Ok(out)
        },
    )?;
    Ok(pairs)
}
