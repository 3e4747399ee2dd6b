//! The vault itself: `init`, `info`, `whoami`, `upgrade`, `serializers`, `audit`,
//! `unlock`/`lock` (the key cache) and the store opener `tresor kmip` serves.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use serde_json::json;
use tresor_crypto::LocalKek;
use tresor_keyring::UnlockCache;
use tresor_vault::filter::FilterSet;
use tresor_vault::{InitOptions, Vault};

use super::Ctx;
use crate::cli::Deferred;
use crate::output;

/// `tresor init [DIR]`: a new vault (with `--passphrase`, its key sealed under one).
pub(super) fn init(
    ctx: &Ctx,
    dir: Option<PathBuf>,
    user: Option<String>,
    email: Option<String>,
    passphrase: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let dir = dir.unwrap_or(ctx.dir.clone());
    // An S3 store with a KMS key needs no local folder: init is idempotent there.
    #[cfg(feature = "s3")]
    if let Some(url) = ctx.store.as_deref()
        && let Some(v) = crate::compose::open_kms_vault(&dir, url, true)?
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

/// `tresor whoami`.
pub(super) fn whoami(ctx: &Ctx, json: bool, out: &mut dyn Write) -> Result<ExitCode> {
    let v = ctx.open()?;
    let c = v.config();
    if json {
        output::json(
            out,
            &json!({"user": c.user, "email": c.email, "vault": v.dir()}),
        )?;
    } else {
        writeln!(out, "{} <{}>", c.user, c.email)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `tresor info`: the vault's figures, then (not with `--json`) the command tree.
pub(super) fn info(ctx: &Ctx, json: bool, out: &mut dyn Write) -> Result<ExitCode> {
    let v = ctx.open()?;
    let store = v.store();
    let secrets = v.list(&FilterSet::empty())?.len();
    let info = json!({
        "vault": v.dir(), "user": v.config().user, "email": v.config().email,
        "objects": store.count()?, "secrets": secrets, "users": v.users()?.len(),
        "schema_version": tresor_store::SCHEMA_VERSION, "passphrase": Vault::needs_passphrase(v.dir()),
        "backend": store.backend().kind(), "tresor": env!("CARGO_PKG_VERSION"),
    });
    if json {
        output::json(out, &info)?;
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
        let mut cmd = crate::cli::command();
        cmd.build(); // runs the deferred groups, so the tree is whole
        print_tree(out, &cmd, 1)?;
    }
    Ok(ExitCode::SUCCESS)
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

/// `tresor upgrade`: opening the vault brings its schema up to date.
pub(super) fn upgrade(ctx: &Ctx, out: &mut dyn Write) -> Result<ExitCode> {
    let v = ctx.open()?;
    writeln!(
        out,
        "vault schema is at version {} (current)",
        tresor_store::SCHEMA_VERSION
    )?;
    drop(v);
    Ok(ExitCode::SUCCESS)
}

/// `tresor serializers`: the file formats tresor writes and reads.
pub(super) fn serializers(json: bool, out: &mut dyn Write) -> Result<ExitCode> {
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
    if json {
        let arr: Vec<_> = rows
            .iter()
            .map(|r| json!({"name": r[0], "direction": r[1], "format": r[2]}))
            .collect();
        output::json(out, &serde_json::Value::Array(arr))?;
    } else {
        output::table(out, &["NAME", "DIRECTION", "FORMAT"], &rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `tresor audit [--verify [--head-from FILE]]`: the audit log, or a check of its hash chain
/// and of the audit head kept outside the database (exit 1 if broken or short).
pub(super) fn audit(
    ctx: &Ctx,
    verify: bool,
    head_from: Option<&Path>,
    json: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let v = ctx.open()?;
    if verify {
        let r = match head_from {
            None => v.store().verify_audit()?,
            Some(p) => {
                let bytes = std::fs::read(p).with_context(|| {
                    format!("cannot read the audit head from '{}'", p.display())
                })?;
                v.store().verify_audit_with(Some(&bytes))?
            }
        };
        let problems = audit_problems(&r);
        if json {
            output::json(
                out,
                &json!({
                    "entries": r.entries,
                    "ok": r.is_ok(),
                    "first_bad": r.first_bad,
                    "head": r.head,
                    "missing_tail": r.missing_tail,
                    "head_mismatch": r.head_mismatch,
                    "head_tampered": r.head_tampered,
                }),
            )?;
        } else if problems.is_empty() {
            match r.head {
                Some(h) => writeln!(
                    out,
                    "audit chain intact: {} entries verified, audit head at entry {h}",
                    r.entries
                )?,
                None => writeln!(out, "audit chain intact: {} entries verified", r.entries)?,
            }
        }
        for p in &problems {
            eprintln!("{p}");
        }
        return Ok(if problems.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let entries = v.store().audit(0, usize::MAX >> 1)?;
    if json {
        output::json(out, &serde_json::to_value(&entries)?)?;
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
        output::table(out, &["SEQ", "WHEN (UTC)", "WHO", "WHAT", "DETAIL"], &rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What `audit --verify` found wrong, one message each.
fn audit_problems(r: &tresor_store::AuditReport) -> Vec<String> {
    let mut p = Vec::new();
    if let Some(seq) = r.first_bad {
        p.push(format!(
            "audit chain BROKEN at entry {seq}: an entry was edited, removed or reordered"
        ));
    }
    if let Some((head, end)) = r.missing_tail {
        p.push(format!(
            "audit head at seq {head} but chain ends at {end}: entries were deleted or an older database was restored"
        ));
    }
    if let Some(seq) = r.head_mismatch {
        p.push(format!(
            "audit head names entry {seq} but the chain's entry {seq} differs: the database was replaced by another or an older copy"
        ));
    }
    if r.head_tampered {
        p.push(
            "audit head TAMPERED: it is malformed or its MAC does not verify under this vault's key (if you deleted the vault and made a new one here, remove the old audit.head)"
                .to_owned(),
        );
    }
    p
}

/// `tresor unlock DURATION`: caches the vault key in the kernel keyring for a while.
pub(super) fn unlock(ctx: &Ctx, duration: &str) -> Result<ExitCode> {
    let ttl: Duration = crate::keyring::parse_timeout(duration)?;
    let kek = Vault::read_key_at(&ctx.dir, ctx.at(), &mut || ctx.passphrase(false))?;
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

/// `tresor lock`: forgets the cached key.
pub(super) fn lock(ctx: &Ctx) -> Result<ExitCode> {
    if let Some(id) = ctx.vault_id() {
        UnlockCache::clear(&id)?;
    }
    eprintln!("vault locked");
    Ok(ExitCode::SUCCESS)
}

/// `tresor kmip ...`: the KMIP commands, given a way to open (or, for a server on a fresh
/// machine, make) the vault's store.
pub(super) fn kmip(ctx: &Ctx, k: Deferred<crate::kmip::KmipCommand>) -> Result<ExitCode> {
    // `kmip serve --rotate-due-every D`: the server rotates due secrets itself (tresor-rotate).
    let rotate_every = match &k.0 {
        crate::kmip::KmipCommand::Serve(a) => {
            crate::heap::serve();
            a.rotate_due_every.clone()
        }
        _ => None,
    };
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
            let pass =
                if std::env::var_os("TRESOR_PASSPHRASE").is_some() || c.passphrase_file.is_some() {
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
        let mut store =
            tresor_store::Store::open(s.backend().clone(), s.provider().clone(), s.actor())?;
        if let Some(head) = s.audit_head() {
            store = store.with_audit_head(head.clone());
        }
        let store = std::sync::Arc::new(store);
        if let Some(every) = &rotate_every {
            crate::rotate_cmd::spawn_due_rotation(store.clone(), every)
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
        }
        Ok(store)
    };
    Ok(crate::kmip::run(k.0, &opener)?)
}
