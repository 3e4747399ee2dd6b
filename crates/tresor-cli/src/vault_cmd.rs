//! The vault's commands.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use tresor_crypto::{LocalKek, SecretBytes};
use tresor_keyring::UnlockCache;
use tresor_vault::filter::{Filter, FilterSet};
use tresor_vault::template::Template;
use tresor_vault::{InitOptions, SecretInfo, Vault, VaultError, default_dir};

use crate::cli::{AddCommand, Cli, Command, EditCommand, RmCommand};
use crate::door::SecretsDoor;
use crate::remote::{RemoteSettings, RemoteVault};
use crate::{input, output};

/// Largest .env / template / export file read (16 MiB).
const MAX_FILE: u64 = 16 << 20;

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
            && let Some(v) = tresor_vault::open_remote(&self.dir, url, false)?
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
        let kek = Vault::read_key(&self.dir, &mut || self.passphrase(false))?;
        Ok(Vault::open_with_key_at(&self.dir, kek, self.at())?)
    }

    /// The store `--store` / `TRESOR_STORE` names, which takes the place of the one recorded in
    /// the vault's settings for this command (a copy made by `tresor migrate`, say). The vault
    /// key must fit it: a store made with another key is refused when opened.
    fn at(&self) -> Option<&str> {
        self.store.as_deref()
    }
}

/// The first folder of `dir`'s path that does not exist yet (what `init` would create), if any.
fn first_missing_ancestor(dir: &Path) -> Option<PathBuf> {
    let mut missing = None;
    for a in dir.ancestors() {
        if a.as_os_str().is_empty() || a.exists() {
            break;
        }
        missing = Some(a.to_owned());
    }
    missing
}

/// After a failed init: removes the folders init created, from `dir` up to `top`, while
/// empty (the vault's own cleanup has removed its files; anything else there is kept).
fn remove_created_dirs(dir: &Path, top: &Path) {
    for a in dir.ancestors() {
        if std::fs::remove_dir(a).is_err() || a == top {
            break;
        }
    }
}

fn stdout() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

fn filters_of(items: &[String]) -> Result<FilterSet> {
    Ok(FilterSet::new(items.iter().map(String::as_str))?)
}

fn secret_json(s: &SecretInfo, value: Option<&SecretBytes>) -> serde_json::Value {
    let mut v = json!({
        "app": s.app, "env": s.env, "key": s.key, "name": s.name, "type": s.kind,
        "object_type": s.object_type, "state": s.state, "version": s.version, "updated": s.updated, "uid": s.uid,
    });
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

/// Runs one command.
pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    let dir = cli.vault.clone().unwrap_or_else(default_dir);
    let remote = cli.server.clone().map(|server| RemoteSettings {
        server,
        cert: cli.cert.clone(),
        key: cli.key.clone(),
        ca: cli.ca.clone(),
        config: RemoteSettings::config_in(&dir),
    });
    if remote.is_some()
        && let Some(name) = local_only(&cli.command)
    {
        bail!(VaultError::Refused(format!(
            "'tresor {name}' works on a local vault; drop --server (or unset TRESOR_SERVER)"
        )));
    }
    let ctx = Ctx {
        dir,
        passphrase_file: cli.passphrase_file.clone(),
        store: cli.store.clone(),
        remote,
    };
    let mut out = stdout();
    match cli.command {
        Command::Init {
            dir,
            user,
            email,
            passphrase,
        } => {
            let dir = dir.unwrap_or(ctx.dir.clone());
            // An S3 store with a KMS key needs no local folder: init is idempotent there.
            #[cfg(feature = "s3")]
            if let Some(url) = ctx.store.as_deref()
                && let Some(v) = tresor_vault::open_remote(&dir, url, true)?
            {
                writeln!(out, "vault on {url} ready for {}", v.config().user)?;
                return Ok(ExitCode::SUCCESS);
            }
            let pass = if passphrase {
                Some(
                    Ctx {
                        dir: dir.clone(),
                        passphrase_file: ctx.passphrase_file.clone(),
                        store: None,
                        remote: None,
                    }
                    .passphrase(true)?,
                )
            } else {
                None
            };
            // A failed init (say, PostgreSQL unreachable) leaves no folder behind that it made.
            let created = first_missing_ancestor(&dir);
            let v = Vault::init(
                &dir,
                InitOptions {
                    user,
                    email,
                    passphrase: pass,
                    kdf: None,
                    store: ctx.store.clone(),
                },
            )
            .inspect_err(|_| {
                if let Some(top) = &created {
                    remove_created_dirs(&dir, top);
                }
            })?;
            writeln!(
                out,
                "initialised vault at {} for {}",
                dir.display(),
                v.config().user
            )?;
            writeln!(
                out,
                "your public key (give it to teammates): {}",
                v.owner()?.public_key()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Add(a) => add(&ctx, a, &mut out),
        Command::Get { filter, out: j } => {
            let v = ctx.door()?;
            if j.json {
                let f = Filter::new(&filter)?;
                let s = v.find_one(&f)?;
                let val = v.value(&s)?;
                output::json(&mut out, &secret_json(&s, Some(&val)))?;
            } else {
                let val = v.get(&filter)?;
                out.write_all(val.expose())?;
                if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                    writeln!(out)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::List {
            mut filters,
            filter_opts,
            env,
            reveal,
            out: j,
        } => {
            filters.extend(filter_opts);
            let v = ctx.door()?;
            let found = v.list(&filters_of(&filters)?)?;
            let value = |s: &SecretInfo| -> Result<Option<SecretBytes>> {
                Ok(if reveal { Some(v.value(s)?) } else { None })
            };
            if j.json {
                let mut arr = Vec::with_capacity(found.len());
                for s in &found {
                    arr.push(secret_json(s, value(s)?.as_ref()));
                }
                output::json(&mut out, &serde_json::Value::Array(arr))?;
            } else if env {
                for s in &found {
                    let val = value(s)?;
                    let shown = match &val {
                        Some(b) => {
                            tresor_vault::dotenv::render_value(&String::from_utf8_lossy(b.expose()))
                                .to_string()
                        }
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
                    rows.push(vec![
                        s.app.clone(),
                        s.env.clone(),
                        s.key.clone(),
                        shown,
                        format!("v{}", s.version),
                        s.kind.clone(),
                    ]);
                }
                output::table(
                    &mut out,
                    &["APP", "ENV", "KEY", "VALUE", "VERSION", "TYPE"],
                    &rows,
                )?;
            }
            Ok(if found.is_empty() && !filters.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Edit(EditCommand::Value { filter, value, all }) => {
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
        Command::Rm(RmCommand::Key { filter, yes, all }) => {
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
        Command::Rm(RmCommand::User { name, yes }) => {
            let v = ctx.open()?;
            v.user(&name)?;
            if !yes && !input::confirm_removal(&format!("remove user '{name}'?"))? {
                return Ok(ExitCode::from(1));
            }
            v.remove_user(&name)?;
            eprintln!("removed user '{name}'");
            Ok(ExitCode::SUCCESS)
        }
        Command::Env {
            template,
            out: path,
        } => {
            let v = ctx.door()?;
            let pairs = render_template(v.as_ref(), &template)?;
            let text = tresor_vault::dotenv::render(
                pairs.iter().map(|(n, val)| (n.as_str(), val.as_str())),
            );
            if path == Path::new("-") {
                out.write_all(text.as_bytes())?;
            } else {
                tresor_store::fsutil::write_atomic(&path, text.as_bytes())?;
                eprintln!("wrote {} variable(s) to {}", pairs.len(), path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Importenv {
            file,
            app,
            env,
            update,
            dry_run,
            out: j,
        } => {
            tresor_vault::filter::validate_name(tresor_vault::filter::NamePart::App, &app)?;
            tresor_vault::filter::validate_name(tresor_vault::filter::NamePart::Env, &env)?;
            let v = ctx.door()?;
            let text = input::text_file(&file, MAX_FILE)?;
            let entries = tresor_vault::dotenv::parse(&text)?;
            let pairs: Vec<(String, SecretBytes)> = entries
                .into_iter()
                .map(|e| (e.name.clone(), SecretBytes::from(e.into_value().as_str())))
                .collect();
            let r = v.import_pairs(&app, &env, &pairs, update, dry_run)?;
            print_import(&mut out, &r, j.json, dry_run)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            filters,
            template,
            command,
        } => {
            let v = ctx.door()?;
            let mut vars: Vec<(String, zeroize::Zeroizing<String>)> = Vec::new();
            if !filters.is_empty() {
                for s in v.list(&filters_of(&filters)?)? {
                    let val = v.value(&s)?;
                    let text = val.as_str().ok_or_else(|| anyhow!("secret '{}' is not UTF-8 text and cannot go in an environment variable", s.name))?;
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
        Command::PublicKey { seeqret, out: j } => {
            let v = ctx.open()?;
            let key = if seeqret {
                v.seeqret_public_key()?
            } else {
                v.owner()?.public_key()
            };
            if j.json {
                let o = v.owner()?;
                output::json(
                    &mut out,
                    &json!({"user": o.username, "public_key": key, "format": if seeqret { "seeqret" } else { "tresor" }, "age": o.age, "ed25519": o.ed25519, "seeqret": o.seeqret}),
                )?;
            } else {
                writeln!(out, "{key}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            to,
            to_pos,
            filters,
            out: path,
        } => {
            let to = to
                .or(to_pos)
                .ok_or_else(|| anyhow!("say who the export is for: --to USER"))?;
            let v = ctx.open()?;
            let (text, n) = v.export(&to, &filters_of(&filters)?)?;
            match path {
                Some(p) => {
                    tresor_store::fsutil::write_atomic(&p, text.as_bytes())?;
                    eprintln!("exported {n} secret(s) for {to} to {}", p.display());
                }
                None => out.write_all(text.as_bytes())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Load {
            file,
            file_opt,
            from,
            out: j,
        } => {
            let path = file
                .or(file_opt)
                .ok_or_else(|| anyhow!("name the file to load ('-' for stdin)"))?;
            let v = ctx.open()?;
            let text = input::text_file(&path, MAX_FILE)?;
            let r = v.load(&text, from.as_deref())?;
            print_import(&mut out, &r, j.json, false)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { out: path } => {
            let v = ctx.open()?;
            let bar = spinner("backing up");
            let r = v.backup(&path)?;
            bar.finish_and_clear();
            eprintln!(
                "backed up {} objects, {} versions, {} audit entries to {}",
                r.objects,
                r.versions,
                r.audit,
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore {
            file,
            key_file,
            yes,
        } => {
            let bar = spinner("restoring");
            let r = if let Some(k) = key_file {
                Vault::restore_new(&ctx.dir, &k, &file, &mut || ctx.passphrase(false))?
            } else {
                let v = ctx.open()?;
                if !yes && v.store().count()? > 0 {
                    match input::confirm("replace everything in this vault with the backup?") {
                        Some(true) => {}
                        Some(false) => return Ok(ExitCode::from(1)),
                        None => bail!(VaultError::Refused("the vault is not empty and there is no terminal to confirm on; pass --yes".into())),
                    }
                }
                v.restore(&file)?
            };
            bar.finish_and_clear();
            eprintln!(
                "restored {} objects, {} versions, {} audit entries",
                r.objects, r.versions, r.audit
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Users { out: j } => {
            let v = ctx.open()?;
            print_users(&mut out, &v.users()?, j.json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Owner { out: j } => {
            let v = ctx.open()?;
            print_users(&mut out, &[v.owner()?], j.json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Whoami { out: j } => {
            let v = ctx.open()?;
            let c = v.config();
            if j.json {
                output::json(
                    &mut out,
                    &json!({"user": c.user, "email": c.email, "vault": v.dir()}),
                )?;
            } else {
                writeln!(out, "{} <{}>", c.user, c.email)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Info { out: j } => {
            let v = ctx.open()?;
            let store = v.store();
            let secrets = v.list(&FilterSet::empty())?.len();
            let info = json!({
                "vault": v.dir(), "user": v.config().user, "email": v.config().email,
                "objects": store.count()?, "secrets": secrets, "users": v.users()?.len(),
                "schema_version": tresor_store::SCHEMA_VERSION, "passphrase": Vault::needs_passphrase(v.dir()),
                "backend": store.backend().kind(), "tresor": env!("CARGO_PKG_VERSION"),
            });
            if j.json {
                output::json(&mut out, &info)?;
            } else {
                if let Some(m) = info.as_object() {
                    for (k, val) in m {
                        writeln!(
                            out,
                            "{k:<15} {}",
                            val.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| val.to_string())
                        )?;
                    }
                }
                writeln!(out, "\ncommands:")?;
                let mut cmd = <Cli as clap::CommandFactory>::command();
                cmd.build(); // runs the deferred groups, so the tree is whole
                print_tree(&mut out, &cmd, 1)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Upgrade => {
            let v = ctx.open()?;
            writeln!(
                out,
                "vault schema is at version {} (current)",
                tresor_store::SCHEMA_VERSION
            )?;
            drop(v);
            Ok(ExitCode::SUCCESS)
        }
        Command::Serializers { out: j } => {
            let rows: Vec<Vec<String>> = vec![
                vec![
                    "tresor-export/1".into(),
                    "write+read".into(),
                    "age (X25519) to the recipient, Ed25519-signed by the sender".into(),
                ],
                vec![
                    "json-crypt".into(),
                    "read".into(),
                    "seeqret's JSON export (NaCl box per value)".into(),
                ],
                vec![
                    "command".into(),
                    "read".into(),
                    "seeqret's one-line 'seeqret load -scommand' form".into(),
                ],
                vec![
                    "backup/1".into(),
                    "write+read".into(),
                    "whole vault, sealed under the vault key".into(),
                ],
            ];
            if j.json {
                let arr: Vec<_> = rows
                    .iter()
                    .map(|r| json!({"name": r[0], "direction": r[1], "format": r[2]}))
                    .collect();
                output::json(&mut out, &serde_json::Value::Array(arr))?;
            } else {
                output::table(&mut out, &["NAME", "DIRECTION", "FORMAT"], &rows)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::History {
            filter,
            reveal,
            out: j,
        } => {
            let v = ctx.door()?;
            let s = v.find_one(&Filter::new(&filter)?)?;
            let hist = v.history(&s)?;
            if j.json {
                let mut arr = Vec::new();
                for h in &hist {
                    let mut e = json!({"version": h.version, "created": h.created, "created_by": h.created_by, "destroyed": h.destroyed, "current": h.version == s.version});
                    if reveal && !h.destroyed {
                        e["value"] =
                            json!(String::from_utf8_lossy(v.value_at(&s, h.version)?.expose()));
                    }
                    arr.push(e);
                }
                output::json(&mut out, &json!({"name": s.name, "versions": arr}))?;
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
                writeln!(out, "{}", s.name)?;
                output::table(
                    &mut out,
                    &["VERSION", "CREATED (UTC)", "BY", "VALUE"],
                    &rows,
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rollback { filter, to } => {
            let v = ctx.door()?;
            let s = v.find_one(&Filter::new(&filter)?)?;
            let n = v.rollback(&s, to)?;
            eprintln!("{}: v{n} now holds the value of v{to}", s.name);
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { verify, out: j } => {
            let v = ctx.open()?;
            if verify {
                let r = v.store().verify_audit()?;
                if j.json {
                    output::json(
                        &mut out,
                        &json!({"entries": r.entries, "ok": r.first_bad.is_none(), "first_bad": r.first_bad}),
                    )?;
                }
                return Ok(match r.first_bad {
                    None => {
                        if !j.json {
                            writeln!(out, "audit chain intact: {} entries verified", r.entries)?;
                        }
                        ExitCode::SUCCESS
                    }
                    Some(seq) => {
                        eprintln!(
                            "audit chain BROKEN at entry {seq}: an entry was edited, removed or reordered"
                        );
                        ExitCode::from(1)
                    }
                });
            }
            let entries = v.store().audit(0, usize::MAX >> 1)?;
            if j.json {
                output::json(&mut out, &serde_json::to_value(&entries)?)?;
            } else {
                let rows: Vec<Vec<String>> = entries
                    .iter()
                    .map(|e| {
                        vec![
                            e.seq.to_string(),
                            output::date(e.ts),
                            e.actor.clone(),
                            e.action.clone(),
                            e.detail.clone(),
                        ]
                    })
                    .collect();
                output::table(
                    &mut out,
                    &["SEQ", "WHEN (UTC)", "WHO", "WHAT", "DETAIL"],
                    &rows,
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::ImportSeeqret { dir, out: j } => {
            let v = ctx.open()?;
            let bar = spinner("importing");
            let (r, users) = v.import_seeqret(&dir)?;
            bar.finish_and_clear();
            print_import(&mut out, &r, j.json, false)?;
            eprintln!("imported {users} user(s)");
            Ok(ExitCode::SUCCESS)
        }
        Command::Unlock { duration } => {
            let ttl: Duration = tresor_keyring::cli::parse_timeout(&duration)?;
            let kek = Vault::read_key(&ctx.dir, &mut || ctx.passphrase(false))?;
            // Prove the key opens this vault before caching it.
            let v = Vault::open_with_key(&ctx.dir, LocalKek::from_bytes(*kek.expose()))?;
            drop(v);
            let id = ctx
                .vault_id()
                .ok_or_else(|| anyhow!("cannot resolve the vault folder"))?;
            UnlockCache::store(&id, kek.expose(), ttl)?;
            eprintln!(
                "vault unlocked for {duration} (kernel user keyring, possessor-only); 'tresor lock' forgets it"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Lock => {
            if let Some(id) = ctx.vault_id() {
                UnlockCache::clear(&id)?;
            }
            eprintln!("vault locked");
            Ok(ExitCode::SUCCESS)
        }
        Command::Key(k) => {
            let v = ctx.open()?;
            Ok(tresor_keys::cli::run(k.cmd.0, v.store(), k.json)?)
        }
        Command::Keyring(k) => Ok(tresor_keyring::cli::run(k.cmd.0, k.json)?),
        #[cfg(feature = "s3")]
        Command::S3(a) => Ok(tresor_s3::cli::run(a, ctx.store.as_deref())?),
        Command::Kmip(k) => {
            let opener = |dir: Option<&Path>| -> Result<
                std::sync::Arc<tresor_store::Store>,
                Box<dyn std::error::Error + Send + Sync>,
            > {
                let c = Ctx {
                    dir: dir.map(Path::to_owned).unwrap_or_else(|| ctx.dir.clone()),
                    passphrase_file: ctx.passphrase_file.clone(),
                    // `kmip serve --store DIR` shares the global --store id: a folder there is
                    // the vault folder (handled above), only a URL is a store location.
                    store: ctx.store.clone().filter(|s| s.contains("://")),
                    remote: None,
                };
                // A server on a fresh machine makes its vault (key file 0600 in a 0700 folder).
                if !c.dir.join(tresor_vault::KEY_FILE).exists() {
                    let pass = if std::env::var_os("TRESOR_PASSPHRASE").is_some()
                        || c.passphrase_file.is_some()
                    {
                        Some(c.passphrase(false)?)
                    } else {
                        None
                    };
                    Vault::init(
                        &c.dir,
                        InitOptions {
                            passphrase: pass,
                            store: c.store.clone(),
                            ..Default::default()
                        },
                    )?;
                }
                let v = c
                    .open()
                    .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
                let s = v.store();
                Ok(std::sync::Arc::new(tresor_store::Store::open(
                    s.backend().clone(),
                    s.provider().clone(),
                    s.actor(),
                )?))
            };
            Ok(tresor_kmip::cli::run(k.0, &opener)?)
        }
        Command::Migrate {
            from,
            to,
            force,
            out: j,
        } => {
            let src = tresor_vault::open_backend(&from)?;
            let dst = tresor_vault::open_backend(&to)?;
            if dst.count()? > 0 && !force {
                bail!(VaultError::Refused(format!(
                    "the target store '{to}' is not empty; pass --force to replace its content"
                )));
            }
            let bar = spinner("reading the source store");
            let dump = src.dump()?;
            bar.set_message(format!(
                "writing {} objects, {} versions, {} audit entries",
                dump.objects.len(),
                dump.versions.len(),
                dump.audit.len()
            ));
            dst.replace_all(&dump)?;
            bar.set_message("verifying");
            let back = dst.dump()?;
            bar.finish_and_clear();
            let digest = |d: &tresor_store::Dump| -> Result<String> {
                Ok(tresor_crypto::hash::hex(
                    &tresor_crypto::hash::sha256_parts(&[&serde_json::to_vec(d)?]),
                ))
            };
            let (h1, h2) = (digest(&dump)?, digest(&back)?);
            if h1 != h2
                || dump.objects.len() != back.objects.len()
                || dump.versions.len() != back.versions.len()
                || dump.audit.len() != back.audit.len()
            {
                bail!(
                    "verification failed: the target differs from the source after the copy (source {h1}, target {h2})"
                );
            }
            let report = json!({"objects": back.objects.len(), "versions": back.versions.len(), "audit": back.audit.len(), "sha256": h2});
            if j.json {
                output::json(&mut out, &report)?;
            } else {
                writeln!(
                    out,
                    "migrated {} objects, {} versions, {} audit entries; verified (sha256 {h2})",
                    back.objects.len(),
                    back.versions.len(),
                    back.audit.len()
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "tresor", &mut out);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn add(ctx: &Ctx, a: AddCommand, out: &mut dyn Write) -> Result<ExitCode> {
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
            tresor_vault::filter::validate_name(tresor_vault::filter::NamePart::App, &app)?;
            tresor_vault::filter::validate_name(tresor_vault::filter::NamePart::Env, &env)?;
            let v = ctx.door()?;
            let text = input::text_file(&path, MAX_FILE)?;
            let entries = tresor_vault::dotenv::parse(&text)?;
            let pairs: Vec<(String, SecretBytes)> = entries
                .into_iter()
                .map(|e| (e.name.clone(), SecretBytes::from(e.into_value().as_str())))
                .collect();
            let r = v.import_pairs(&app, &env, &pairs, update, false)?;
            print_import(out, &r, false, false)?;
        }
        AddCommand::User {
            username,
            email,
            pubkey,
        } => {
            let v = ctx.open()?;
            let u = v.add_user(&username, &email, &pubkey)?;
            eprintln!("added user '{}'", u.username);
        }
    }
    Ok(ExitCode::SUCCESS)
}

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

fn print_import(
    out: &mut dyn Write,
    r: &tresor_vault::ImportReport,
    json: bool,
    dry_run: bool,
) -> Result<()> {
    if json {
        output::json(
            out,
            &json!({"added": r.added, "updated": r.updated, "unchanged": r.unchanged, "dry_run": dry_run}),
        )?;
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
        eprintln!(
            "{} added, {} updated, {} unchanged{}",
            r.added.len(),
            r.updated.len(),
            r.unchanged.len(),
            if dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            }
        );
    }
    Ok(())
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

fn print_tree(out: &mut dyn Write, cmd: &clap::Command, depth: usize) -> Result<()> {
    for sc in cmd.get_subcommands() {
        let about = sc.get_about().map(|a| a.to_string()).unwrap_or_default();
        let name = format!("{}{}", "    ".repeat(depth - 1), sc.get_name());
        writeln!(out, "    {name:<28} {about}")?;
        if depth < 2 {
            print_tree(out, sc, depth + 1)?;
        }
    }
    Ok(())
}

fn spinner(msg: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_message(msg);
        bar.enable_steady_tick(Duration::from_millis(100));
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// The name of a command that only works on a local vault (refused under `--server`).
fn local_only(c: &Command) -> Option<&'static str> {
    Some(match c {
        Command::Init { .. } => "init",
        Command::Add(AddCommand::User { .. }) => "add user",
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
        Command::Key(_) => "key",
        Command::Migrate { .. } => "migrate",
        _ => return None,
    })
}
