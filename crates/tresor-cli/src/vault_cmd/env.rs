//! Environment commands: `env` (write a .env from a template), `run` (start a program with
//! secrets in its environment) and `importenv` (read a .env into the vault).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use tresor_vault::VaultError;
use tresor_vault::filter::{Filter, FilterSet};
use tresor_vault::reference::{self, Reference};
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
    for (k, _) in &pairs {
        check_var_name(k, None)?;
    }
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
    let task = crate::progress::Task::start(json);
    let r = v.import_pairs_with(app, env, &pairs, update, dry_run, &task)?;
    print_import(out, &r, json, dry_run, &task, None)?;
    Ok(ExitCode::SUCCESS)
}

/// `tresor run [--filter F]... [--template T] [--watch] [--mask|--no-mask] -- COMMAND`:
/// starts COMMAND with the matching secrets, the template's variables and the references of
/// its environment resolved. Without `--watch` and without masking, tresor replaces itself
/// with COMMAND (returns only when it cannot start); otherwise it stays its parent
/// ([`crate::run_watch::run`]).
pub(super) fn run(
    ctx: &Ctx,
    filters: &[String],
    template: Option<PathBuf>,
    watch: &crate::run_watch::WatchArgs,
    mask: &crate::mask::MaskArgs,
    command: &[String],
) -> Result<ExitCode> {
    let v = ctx.door()?;
    let mask = mask.enabled();
    if watch.watch {
        return crate::run_watch::run(
            &mut || child_vars(v.as_ref(), filters, template.clone()),
            command,
            Some(watch),
            mask,
            is_credential_var,
        );
    }
    let vars = child_vars(v.as_ref(), filters, template)?;
    drop(v);
    if mask {
        return crate::run_watch::run(
            &mut || Ok(vars.clone()),
            command,
            None,
            true,
            is_credential_var,
        );
    }
    crate::door::report_reads();
    use std::os::unix::process::CommandExt as _;
    let mut cmd = std::process::Command::new(&command[0]);
    cmd.args(&command[1..]);
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(is_credential_var) {
            cmd.env_remove(&k);
        }
    }
    for (k, val) in &vars {
        cmd.env(k, val.as_str());
    }
    let err = cmd.exec();
    Err(anyhow!("cannot run '{}': {err}", command[0]))
}

/// The variables of this process's environment whose value is a `tresor://` reference
/// (1Password's `op run` convention), with their references; tresor's own credential
/// variables are left out (the child never gets them).
fn reference_vars() -> Result<Vec<(String, Reference)>> {
    let mut found = Vec::new();
    let mut bad = Vec::new();
    for (k, val) in std::env::vars_os() {
        let (Some(k), Some(val)) = (k.to_str(), val.to_str()) else {
            continue;
        };
        if !reference::is_reference(val) || is_credential_var(k) {
            continue;
        }
        match Reference::parse(val) {
            Ok(r) => found.push((k.to_owned(), r)),
            Err(e) => bad.push(format!("{k}: {e}")),
        }
    }
    if !bad.is_empty() {
        bad.sort();
        bail!(
            "{} environment variable(s) hold an invalid reference, so nothing was run:\n  {}",
            bad.len(),
            bad.join("\n  ")
        );
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// The variables `run` gives its child: the variables of the environment that hold a
/// reference (all resolved in one read, first: a missing one stops everything), the secrets
/// the filters match, then the template's.
pub(crate) fn child_vars(
    v: &dyn SecretsDoor,
    filters: &[String],
    template: Option<PathBuf>,
) -> Result<Vec<(String, zeroize::Zeroizing<String>)>> {
    let mut vars: Vec<(String, zeroize::Zeroizing<String>)> = Vec::new();
    let refs = reference_vars()?;
    let referenced: Vec<Reference> = refs.iter().map(|(_, r)| r.clone()).collect();
    let mut from_refs = Vec::with_capacity(refs.len());
    for ((k, r), val) in refs.iter().zip(crate::inject::resolve(v, &referenced)?) {
        let text = val.as_str().ok_or_else(|| {
            anyhow!(
                "{k}: the value of {r} is not UTF-8 text and cannot go in an environment variable"
            )
        })?;
        from_refs.push((k.clone(), zeroize::Zeroizing::new(text.to_owned())));
    }
    if !filters.is_empty() {
        for s in v.list(&filters_of(filters)?)? {
            let val = v.value(&s)?;
            let text = val.as_str().ok_or_else(|| {
                anyhow!(
                    "secret '{}' is not UTF-8 text and cannot go in an environment variable",
                    s.name
                )
            })?;
            check_var_name(&s.key, Some(&s.name))?;
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
        for (k, val) in render_template(v, &t)? {
            check_var_name(&k, None)?;
            if vars.iter().any(|(n, _)| *n == k) {
                bail!("{k} is set twice (by a filter and by the template)");
            }
            vars.push((k, val));
        }
    }
    for (k, val) in from_refs {
        if vars.iter().any(|(n, _)| *n == k) {
            bail!("{k} holds a reference and is also set by a filter or the template");
        }
        vars.push((k, val));
    }
    if filters.is_empty() && vars.is_empty() && !Path::new("env.template").exists() {
        eprintln!("warning: no --filter or --template given; running without secrets");
    }
    Ok(vars)
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
                check_var_name(&s.key, Some(&s.name))?;
                out.push((s.key.clone(), zeroize::Zeroizing::new(text.to_owned())));
            }
            Ok(out)
        },
    )?;
    Ok(pairs)
}

/// Refuses a variable name that is not `[A-Za-z_][A-Za-z0-9_]*`: such a name (`PATH=/x #`)
/// could set another variable in a `.env` file or a child environment.
fn check_var_name(name: &str, secret: Option<&str>) -> Result<()> {
    if tresor_vault::dotenv::is_env_var_name(name) {
        return Ok(());
    }
    let shown = name.escape_debug();
    match secret {
        Some(s) => bail!(
            "secret '{}' cannot be an environment variable: '{shown}' is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*); rename it or narrow the filter",
            s.escape_debug()
        ),
        None => bail!(
            "'{shown}' is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*); rename the secret or the template entry"
        ),
    }
}

/// Variables through which tresor itself receives credentials (its passphrase, database and
/// client-certificate secrets). `run` removes them from the child's environment, which gets
/// only the secrets asked for: a child holding `TRESOR_PASSPHRASE` could open the whole vault.
const CREDENTIAL_VARS: &[&str] = &[
    "TRESOR_PASSPHRASE",
    "TRESOR_PG_PASSWORD",
    "TRESOR_PG_PASSWORD_FILE",
    "PGPASSWORD",
    "PGPASSFILE",
    "TRESOR_CLIENT_KEY",
    "TRESOR_CLIENT_CERT",
];

/// Whether `name` carries one of tresor's own credentials in this process's environment:
/// one of [`CREDENTIAL_VARS`], or `TRESOR_STORE`/`TRESOR_KMIP_STORE` when the URL holds a
/// password (`postgres://user:pw@…`, `password=` in the query).
pub(crate) fn is_credential_var(name: &str) -> bool {
    if CREDENTIAL_VARS.contains(&name) {
        return true;
    }
    if matches!(name, "TRESOR_STORE" | "TRESOR_KMIP_STORE") {
        return std::env::var(name).is_ok_and(|url| url_has_password(&url));
    }
    false
}

/// Whether a store URL embeds a password: in its user info, or as a `password=` parameter.
fn url_has_password(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    if lower.contains("password=") {
        return true;
    }
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_with_passwords() {
        assert!(url_has_password("postgres://u:pw@db/x"));
        assert!(url_has_password("postgresql://db/x?user=u&password=pw"));
        assert!(!url_has_password("postgres://u@db/x"));
        assert!(!url_has_password("s3://bucket/prefix"));
        assert!(!url_has_password("/var/lib/tresor.db"));
    }
}
