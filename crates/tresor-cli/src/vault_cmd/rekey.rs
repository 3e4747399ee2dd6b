//! `rekey-vault` (rotate the vault key) and `passphrase` (re-protect the key file).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use tresor_crypto::SecretBytes;
use tresor_keyring::UnlockCache;
use tresor_vault::{Vault, VaultError};

use super::Ctx;
use crate::{input, output};

/// Forgets the key cached by `tresor unlock`, so no later command is served a stale key.
fn clear_unlock_cache(ctx: &Ctx) {
    if let Some(id) = ctx.vault_id() {
        // No keyring (a container without keyctl) means no cache to clear.
        let _ = UnlockCache::clear(&id);
    }
}

/// `tresor rekey-vault`.
pub(super) fn rekey_vault(ctx: &Ctx, json: bool, out: &mut dyn Write) -> Result<ExitCode> {
    let v = ctx.open()?;
    // Cleared before (a cached old key is refused anyway once the store moves) and after.
    clear_unlock_cache(ctx);
    let report = v.rekey(&mut || ctx.passphrase(false))?;
    clear_unlock_cache(ctx);
    if json {
        output::json(
            out,
            &json!({
                "old_key_id": report.old_key_id,
                "new_key_id": report.new_key_id,
                "versions": report.versions,
                "settings": report.settings,
                "key_file": Vault::key_path(&ctx.dir),
            }),
        )?;
    } else {
        writeln!(
            out,
            "vault key rotated: {} data keys and {} sealed settings rewrapped",
            report.versions,
            report.settings.len()
        )?;
        writeln!(
            out,
            "old key {} opens nothing any more; new key {} is in '{}'",
            report.old_key_id,
            report.new_key_id,
            Vault::key_path(&ctx.dir).display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The new passphrase: `--new-passphrase-file`, else `$TRESOR_NEW_PASSPHRASE`, else the
/// terminal (asked twice).
fn new_passphrase(file: Option<&std::path::Path>) -> Result<SecretBytes, VaultError> {
    let p = if let Some(f) = file {
        let b = std::fs::read(f).map_err(|source| VaultError::Io {
            what: "cannot read passphrase file",
            path: f.to_owned(),
            source,
        })?;
        SecretBytes::new(input::strip_newline(b))
    } else if let Ok(p) = std::env::var("TRESOR_NEW_PASSPHRASE") {
        SecretBytes::from(p)
    } else if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password("New passphrase: ")
            .map_err(|_| VaultError::PassphraseRequired)?;
        let again = rpassword::prompt_password("Repeat new passphrase: ")
            .map_err(|_| VaultError::PassphraseRequired)?;
        if !tresor_crypto::ct_eq(p.as_bytes(), again.as_bytes()) {
            return Err(VaultError::Refused(
                "the new passphrases differ; nothing was changed".into(),
            ));
        }
        SecretBytes::from(p)
    } else {
        return Err(VaultError::Refused(
            "no new passphrase: give --new-passphrase-file, $TRESOR_NEW_PASSPHRASE or a terminal (or --remove)".into(),
        ));
    };
    if p.expose().is_empty() {
        return Err(VaultError::Refused(
            "empty new passphrase; use --remove to drop the passphrase".into(),
        ));
    }
    Ok(p)
}

/// `tresor passphrase`.
pub(super) fn passphrase(
    ctx: &Ctx,
    new_file: Option<PathBuf>,
    remove: bool,
    kdf: Option<String>,
    json: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let kdf = kdf
        .map(|k| tresor_crypto::keyfile::parse_kdf(&k))
        .transpose()?;
    let had = Vault::needs_passphrase(&ctx.dir);
    let new = if remove {
        None
    } else {
        Some(new_passphrase(new_file.as_deref())?)
    };
    Vault::change_passphrase(
        &ctx.dir,
        ctx.at(),
        &mut || ctx.passphrase(false),
        new.as_ref(),
        kdf,
    )?;
    clear_unlock_cache(ctx);
    let what = match (had, remove) {
        (_, true) => "removed",
        (true, false) => "changed",
        (false, false) => "set",
    };
    if json {
        output::json(
            out,
            &json!({"passphrase": what, "key_file": Vault::key_path(&ctx.dir)}),
        )?;
    } else {
        writeln!(
            out,
            "passphrase {what} on '{}'",
            Vault::key_path(&ctx.dir).display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
