//! The vault's commands: `dispatch` picks the module for each.
//!
//! - [`secrets`]: add, get, list, edit, rm, history, rollback
//! - [`env`](mod@env): env, run, importenv
//! - [`sharing`]: users, owner, public-key, export, load, import-seeqret
//! - [`backup`]: backup, restore, migrate
//! - [`admin`]: init, info, whoami, upgrade, serializers, audit, unlock, lock, kmip
//! - [`rekey`]: rekey-vault, passphrase
//!
//! This file keeps what they share: the command context [`Ctx`] (which vault, how to open
//! it) and the small helpers several commands use.

mod admin;
mod backup;
mod env;
mod rekey;
mod secrets;
mod sharing;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde_json::json;
use tresor_crypto::{LocalKek, SecretBytes};
use tresor_keyring::UnlockCache;
use tresor_vault::filter::FilterSet;
use tresor_vault::{Vault, VaultError, default_dir};

use crate::cli::{AddCommand, Cli, Command, Deferred, EditCommand, Hot, RmCommand, UsersCommand};
use crate::door::SecretsDoor;
use crate::remote::{RemoteSettings, RemoteVault};
use crate::{input, output};

/// Largest .env / template / export file read (16 MiB).
const MAX_FILE: u64 = 16 << 20;

/// Which vault a command acts on, and how to open it.
struct Ctx {
    dir: PathBuf,
    passphrase_file: Option<PathBuf>,
    store: Option<String>,
    /// `--server`: the secret commands go to a KMIP server.
    remote: Option<RemoteSettings>,
}

impl Ctx {
    fn passphrase(&self, confirm: bool) -> Result<SecretBytes, VaultError> {
        input::passphrase(
            self.passphrase_file.as_deref(),
            "Vault passphrase: ",
            confirm,
        )
    }

    /// The id of this vault in the unlock cache: a hash of its canonical folder.
    fn vault_id(&self) -> Option<String> {
        let canon = std::fs::canonicalize(&self.dir).ok()?;
        let h = tresor_crypto::hash::sha256_parts(&[
            b"tresor vault id",
            canon.as_os_str().as_encoded_bytes(),
        ]);
        Some(tresor_crypto::hash::hex(&h[..12]))
    }

    /// The vault the secret commands act on: the server's with `--server`, else the local one.
    fn door(&self) -> Result<Box<dyn SecretsDoor>> {
        Ok(match &self.remote {
            Some(r) => Box::new(RemoteVault::connect(r)?),
            None => Box::new(self.open()?),
        })
    }

    fn open(&self) -> Result<Vault> {
        #[cfg(feature = "s3")]
        if let Some(url) = self.store.as_deref()
            && let Some(v) = crate::compose::open_kms_vault(&self.dir, url, false)?
        {
            return Ok(v);
        }
        for w in Vault::permission_warnings(&self.dir) {
            eprintln!("warning: {w}");
        }
        if let Some(id) = self.vault_id()
            && let Some(k) = UnlockCache::load(&id)
            && let Ok(v) = Vault::open_with_key_at(&self.dir, LocalKek::from_bytes(*k), self.at())
        {
            return Ok(v);
        }
        if !self.dir.join(tresor_vault::DB_FILE).exists()
            && !self.dir.join(tresor_vault::KEY_FILE).exists()
        {
            return Err(VaultError::NotInitialized(self.dir.clone()).into());
        }
        let kek = Vault::read_key_at(&self.dir, self.at(), &mut || self.passphrase(false))?;
        Ok(Vault::open_with_key_at(&self.dir, kek, self.at())?)
    }

    /// The store `--store` / `TRESOR_STORE` names, which takes the place of the one recorded in
    /// the vault's settings for this command (a copy made by `tresor migrate`, say). The vault
    /// key must fit it: a store made with another key is refused when opened.
    fn at(&self) -> Option<&str> {
        self.store.as_deref()
    }
}

/// Runs one command.
pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    let dir = cli.global.vault.clone().unwrap_or_else(default_dir);
    let remote = cli.global.server.clone().map(|server| RemoteSettings {
        server,
        cert: cli.global.cert.clone(),
        key: cli.global.key.clone(),
        ca: cli.global.ca.clone(),
        config: RemoteSettings::config_in(&dir),
    });
    if remote.is_some()
        && let Some(name) = local_only(&cli.command)
    {
        bail!(VaultError::Refused(format!(
            "'tresor {name}' works on a local vault; drop --server (or unset TRESOR_SERVER)"
        )));
    }
    crate::progress::set_quiet(cli.global.quiet);
    let ctx = Ctx {
        dir,
        passphrase_file: cli.global.passphrase_file.clone(),
        store: cli.global.store.clone(),
        remote,
    };
    let seal_services = crate::seal_cmd::Services::new(crate::seal_cmd::KmipAuth {
        cert: cli.global.cert.clone(),
        key: cli.global.key.clone(),
        ca: cli.global.ca.clone(),
        config: RemoteSettings::config_in(&ctx.dir),
    });
    let mut out = stdout();
    let out: &mut dyn Write = &mut out;
    match cli.command {
        Command::Init {
            dir,
            user,
            email,
            passphrase,
        } => admin::init(&ctx, dir, user, email, passphrase, out),
        Command::Add(Deferred(a)) => secrets::add(&ctx, a, out),
        Command::Hot(Hot::Get { filter, out: j }) => secrets::get(&ctx, &filter, j.json, out),
        Command::List {
            mut filters,
            filter_opts,
            env,
            reveal,
            due,
            out: j,
        } => {
            if due {
                return crate::rotate_cmd::list_due(&ctx.open()?, j.json, out);
            }
            filters.extend(filter_opts);
            secrets::list(&ctx, &filters, env, reveal, j.json, out)
        }
        Command::Edit(crate::cli::EditArgs {
            cmd: Some(EditCommand::Value { filter, value, all }),
            ..
        }) => secrets::edit_value(&ctx, filter, value, all),
        Command::Edit(crate::cli::EditArgs { cmd: None, file }) => {
            crate::seal_cmd::edit(file, &seal_services)
        }
        Command::Rm(RmCommand::Key { filter, yes, all }) => secrets::rm_key(&ctx, filter, yes, all),
        Command::Rm(RmCommand::User { name, yes }) => sharing::rm_user(&ctx, &name, yes),
        Command::Env {
            template,
            out: path,
        } => env::env(&ctx, &template, &path, out),
        Command::Importenv {
            file,
            app,
            env,
            update,
            dry_run,
            out: j,
        } => env::importenv(&ctx, &file, &app, &env, update, dry_run, j.json, out),
        Command::Run {
            files,
            filters,
            template,
            mask,
            command,
            ..
        } if !files.is_empty() => crate::seal_cmd::run_with_files(
            &files,
            &mut || match (filters.is_empty(), &template) {
                (true, None) => Ok(Vec::new()),
                _ => env::child_vars(ctx.door()?.as_ref(), &filters, template.clone()),
            },
            &command,
            mask.enabled(),
            |k| env::is_credential_var(k) || k == "TRESOR_IDENTITY",
            &seal_services,
        ),
        Command::Run {
            filters,
            template,
            watch,
            mask,
            command,
            ..
        } => env::run(&ctx, &filters, template, &watch, &mask, &command),
        Command::Inject {
            input,
            output: path,
            out: j,
        } => crate::inject::inject(ctx.door()?.as_ref(), &input, &path, j.json, out),
        Command::AccessReport {
            name,
            audit_logs,
            out: j,
        } => crate::access_report::access_report(
            &ctx.open()?,
            &name,
            &crate::access_report::audit_logs(&audit_logs)?,
            j.json,
            out,
        ),
        Command::Rotate(a) => crate::rotate_cmd::rotate(&ctx.open()?, a, out),
        Command::Rotator(Deferred(c)) => crate::rotate_cmd::rotator(&ctx.open()?, c, out),
        Command::PublicKey { seeqret, out: j } => sharing::public_key(&ctx, seeqret, j.json, out),
        Command::Export {
            to,
            to_pos,
            filters,
            out: path,
        } => sharing::export(&ctx, to.or(to_pos), &filters, path, out),
        Command::Load {
            file,
            file_opt,
            from,
            out: j,
        } => sharing::load(&ctx, file.or(file_opt), from.as_deref(), j.json, out),
        Command::Backup { out: path, json: j } => backup::backup(&ctx, &path, j.json, out),
        Command::Restore {
            file,
            key_file,
            yes,
            force_other_vault,
            out: j,
        } => backup::restore(
            &ctx,
            &file,
            key_file.as_deref(),
            (yes, force_other_vault),
            j.json,
            out,
        ),
        Command::Users {
            cmd:
                Some(UsersCommand::Rm {
                    name,
                    rotate,
                    yes,
                    audit_logs,
                    out: j,
                }),
            ..
        } => crate::access_report::users_rm(
            &ctx.open()?,
            &name,
            rotate,
            yes,
            &crate::access_report::audit_logs(&audit_logs)?,
            j.json,
            out,
        ),
        Command::Users { cmd: None, out: j } => sharing::users(&ctx, j.json, out),
        Command::Owner { out: j } => sharing::owner(&ctx, j.json, out),
        Command::Whoami { out: j } => admin::whoami(&ctx, j.json, out),
        Command::Info { out: j } => admin::info(&ctx, j.json, out),
        Command::Upgrade => admin::upgrade(&ctx, out),
        Command::Serializers { out: j } => admin::serializers(j.json, out),
        Command::History {
            filter,
            reveal,
            out: j,
        } => secrets::history(&ctx, &filter, reveal, j.json, out),
        Command::Rollback { filter, to } => secrets::rollback(&ctx, &filter, to),
        Command::Audit {
            verify,
            head_from,
            out: j,
        } => admin::audit(&ctx, verify, head_from.as_deref(), j.json, out),
        Command::ImportSeeqret { dir, out: j } => sharing::import_seeqret(&ctx, &dir, j.json, out),
        Command::Unlock { duration } => admin::unlock(&ctx, &duration),
        Command::Lock => admin::lock(&ctx),
        Command::RekeyVault { out: j } => rekey::rekey_vault(&ctx, j.json, out),
        Command::Passphrase {
            new_passphrase_file,
            remove,
            kdf,
            out: j,
        } => rekey::passphrase(&ctx, new_passphrase_file, remove, kdf, j.json, out),
        Command::Key(k) => {
            let v = ctx.open()?;
            Ok(crate::key::run(k.cmd.0, v.store(), k.json)?)
        }
        Command::Keyring(k) => Ok(crate::keyring::run(k.cmd.0, k.json)?),
        #[cfg(feature = "s3")]
        Command::S3(a) => {
            let task = crate::progress::Task::start(a.json);
            Ok(crate::s3::run(a, ctx.store.as_deref(), &task)?)
        }
        Command::Kmip(k) => admin::kmip(&ctx, k),
        Command::Config(Deferred(c)) => Ok(crate::kmip::config(c)?),
        Command::Migrate {
            from,
            to,
            force,
            out: j,
        } => backup::migrate(&from, &to, force, j.json, out),
        Command::ImportDotenvx(a) if a.to_vault() => {
            validate_app_env(&a.app, &a.env)?;
            let pairs = crate::seal_cmd::dotenvx_pairs(&a)?;
            let task = crate::progress::Task::start(a.json);
            let r = ctx
                .door()?
                .import_pairs_with(&a.app, &a.env, &pairs, a.update, a.dry_run, &task)?;
            print_import(out, &r, a.json, a.dry_run, &task, None)?;
            Ok(ExitCode::SUCCESS)
        }
        c @ (Command::Seal(_)
        | Command::Unseal(_)
        | Command::Recipients(_)
        | Command::Git(_)
        | Command::ImportDotenvx(_)) => crate::seal_cmd::dispatch(
            c,
            out,
            &mut crate::seal_cmd::Outside {
                services: seal_services,
                user_age_key: &mut |n| Ok(ctx.open()?.user(n)?.age),
            },
        ),
        Command::Completions { shell } => {
            let mut cmd = crate::cli::command();
            clap_complete::generate(shell, &mut cmd, "tresor", out);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn stdout() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

fn filters_of(items: &[String]) -> Result<FilterSet> {
    Ok(FilterSet::new(items.iter().map(String::as_str))?)
}

/// Checks the `--app` and `--env` an import puts its variables under.
fn validate_app_env(app: &str, env: &str) -> Result<()> {
    tresor_vault::filter::validate_name(tresor_vault::filter::NamePart::App, app)?;
    tresor_vault::filter::validate_name(tresor_vault::filter::NamePart::Env, env)?;
    Ok(())
}

/// The variables of a .env file, as name/value pairs.
fn read_dotenv(path: &Path) -> Result<Vec<(String, SecretBytes)>> {
    let text = input::text_file(path, MAX_FILE)?;
    let entries = tresor_vault::dotenv::parse(&text)?;
    Ok(entries
        .into_iter()
        .map(|e| (e.name.clone(), SecretBytes::from(e.into_value().as_str())))
        .collect())
}

/// What an import did (or, dry run, would do): names on stdout, the one-line summary (counts
/// and time) on stderr, or everything as JSON on stdout; `users` for imports that add users.
fn print_import(
    out: &mut dyn Write,
    r: &tresor_vault::ImportReport,
    json: bool,
    dry_run: bool,
    task: &crate::progress::Task,
    users: Option<usize>,
) -> Result<()> {
    if json {
        let mut j = json!({"added": r.added, "updated": r.updated, "unchanged": r.unchanged, "dry_run": dry_run, "seconds": task.seconds()});
        if let Some(u) = users {
            j["users"] = json!(u);
        }
        task.clear();
        output::json(out, &j)?;
    } else {
        let verb = if dry_run { "would add" } else { "added" };
        for n in &r.added {
            writeln!(out, "{verb} {n}")?;
        }
        for n in &r.updated {
            writeln!(
                out,
                "{} {n}",
                if dry_run { "would update" } else { "updated" }
            )?;
        }
        task.done(&format!(
            "{} {} secret(s): {} added, {} updated, {} unchanged{}{}",
            if dry_run { "checked" } else { "imported" },
            r.added.len() + r.updated.len() + r.unchanged.len(),
            r.added.len(),
            r.updated.len(),
            r.unchanged.len(),
            users
                .map(|u| format!(", {u} user(s) added"))
                .unwrap_or_default(),
            if dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

/// The name of a command that only works on a local vault (refused under `--server`).
fn local_only(c: &Command) -> Option<&'static str> {
    Some(match c {
        Command::Init { .. } => "init",
        Command::Add(Deferred(AddCommand::User { .. })) => "add user",
        Command::Rm(RmCommand::User { .. }) => "rm user",
        Command::PublicKey { .. } => "public-key",
        Command::Export { .. } => "export",
        Command::Load { .. } => "load",
        Command::Backup { .. } => "backup",
        Command::Restore { .. } => "restore",
        Command::Users { .. } => "users",
        Command::Owner { .. } => "owner",
        Command::Whoami { .. } => "whoami",
        Command::Info { .. } => "info",
        Command::Upgrade => "upgrade",
        Command::Audit { .. } => "audit",
        Command::ImportSeeqret { .. } => "import-seeqret",
        Command::Unlock { .. } => "unlock",
        Command::Lock => "lock",
        Command::RekeyVault { .. } => "rekey-vault",
        Command::Passphrase { .. } => "passphrase",
        Command::Key(_) => "key",
        Command::Migrate { .. } => "migrate",
        Command::Rotate(_) => "rotate",
        Command::Rotator(_) => "rotator",
        Command::List { due: true, .. } => "list --due",
        Command::AccessReport { .. } => "access-report",
        _ => return None,
    })
}
