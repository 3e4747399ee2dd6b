//! Whole-vault copies: `backup` and `restore` (a sealed file), and `migrate` (store to store).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde_json::json;
use tresor_vault::{Vault, VaultError};

use super::{Ctx, spinner};
use crate::{input, output};

/// `tresor backup FILE`.
pub(super) fn backup(ctx: &Ctx, path: &Path) -> Result<ExitCode> {
    let v = ctx.open()?;
    let bar = spinner("backing up");
    let r = v.backup(path)?;
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

/// `tresor restore FILE`: into this vault (asking first unless empty or `--yes`), or with
/// `--key-file` into a new vault made with that key.
pub(super) fn restore(
    ctx: &Ctx,
    file: &Path,
    key_file: Option<&Path>,
    yes: bool,
    other_vault: bool,
) -> Result<ExitCode> {
    let bar = spinner("restoring");
    let r = if let Some(k) = key_file {
        Vault::restore_new(&ctx.dir, k, file, &mut || ctx.passphrase(false))?
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
        v.restore(file, other_vault)?
    };
    bar.finish_and_clear();
    eprintln!(
        "restored {} objects, {} versions, {} audit entries",
        r.objects, r.versions, r.audit
    );
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
    let src = tresor_vault::open_backend(from)?;
    let dst = tresor_vault::open_backend(to)?;
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
    if json {
        output::json(out, &report)?;
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
