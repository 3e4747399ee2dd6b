//! Whole-vault copies: `backup` and `restore` (a sealed file), and `migrate` (store to store).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde_json::json;
use tresor_vault::{Vault, VaultError};

use tresor_store::progress::Progress;

use super::Ctx;
use crate::progress::Task;
use crate::{input, output};

/// `tresor backup FILE`.
pub(super) fn backup(ctx: &Ctx, path: &Path, json: bool, out: &mut dyn Write) -> Result<ExitCode> {
    let v = ctx.open()?;
    let task = Task::start(json);
    let r = v.backup_with(path, &task)?;
    report(
        &task,
        json,
        out,
        &r,
        &format!("backed up {} to {}", counts(&r), path.display()),
    )
}

/// `tresor restore FILE`: into this vault (asking first unless empty or `--yes`), or with
/// `--key-file` into a new vault made with that key. `flags` is `(--yes, --force-other-vault)`.
pub(super) fn restore(
    ctx: &Ctx,
    file: &Path,
    key_file: Option<&Path>,
    (yes, other_vault): (bool, bool),
    json: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let r = if let Some(k) = key_file {
        let task = Task::start(json);
        let r = Vault::restore_new_with(&ctx.dir, k, file, &mut || ctx.passphrase(false), &task)?;
        (r, task)
    } else {
        let v = ctx.open()?;
        if !yes && v.store().count()? > 0 {
            match input::confirm("replace everything in this vault with the backup?") {
                Some(true) => {}
                Some(false) => return Ok(ExitCode::from(1)),
                None => bail!(VaultError::Refused(
                    "the vault is not empty and there is no terminal to confirm on; pass --yes"
                        .into()
                )),
            }
        }
        let task = Task::start(json);
        (v.restore_with(file, other_vault, &task)?, task)
    };
    let (r, task) = r;
    report(
        &task,
        json,
        out,
        &r,
        &format!("restored {} from {}", counts(&r), file.display()),
    )
}

fn counts(r: &tresor_vault::backup::BackupReport) -> String {
    format!(
        "{} objects, {} versions, {} audit entries",
        r.objects, r.versions, r.audit
    )
}

/// The end of a backup or restore: the summary line, or JSON on stdout.
fn report(
    task: &Task,
    json: bool,
    out: &mut dyn Write,
    r: &tresor_vault::backup::BackupReport,
    summary: &str,
) -> Result<ExitCode> {
    if json {
        task.clear();
        output::json(
            out,
            &json!({"objects": r.objects, "versions": r.versions, "audit": r.audit, "seconds": task.seconds()}),
        )?;
    } else {
        task.done(summary);
    }
    Ok(ExitCode::SUCCESS)
}

/// `tresor migrate --from URL --to URL`: copies the sealed rows, then checks the copy by digest.
pub(super) fn migrate(
    from: &str,
    to: &str,
    force: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let src = tresor_store::store_url::open_backend(from)?;
    let dst = tresor_store::store_url::open_backend(to)?;
    if dst.count()? > 0 && !force {
        bail!(VaultError::Refused(format!(
            "the target store '{to}' is not empty; pass --force to replace its content"
        )));
    }
    let task = Task::start(json);
    task.phase("reading the source store", None);
    let dump = src.dump()?;
    task.phase(
        &format!(
            "writing {} objects, {} versions, {} audit entries",
            dump.objects.len(),
            dump.versions.len(),
            dump.audit.len()
        ),
        None,
    );
    dst.replace_all(&dump)?;
    task.phase("verifying", None);
    let back = dst.dump()?;
    task.clear();
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
    let report = json!({"objects": back.objects.len(), "versions": back.versions.len(), "audit": back.audit.len(), "sha256": h2, "seconds": task.seconds()});
    if json {
        output::json(out, &report)?;
    } else {
        task.done(&format!(
            "migrated {} objects, {} versions, {} audit entries; verified (sha256 {h2})",
            back.objects.len(),
            back.versions.len(),
            back.audit.len()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
