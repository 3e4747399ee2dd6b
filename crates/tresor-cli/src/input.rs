//! Reading secrets from the user: terminal without echo, stdin, or files — never echoed back.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};
use tresor_crypto::SecretBytes;
use tresor_vault::VaultError;

/// Strips one trailing line break (what `echo` and most editors add).
pub fn strip_newline(mut v: Vec<u8>) -> Vec<u8> {
    if v.last() == Some(&b'\n') {
        v.pop();
        if v.last() == Some(&b'\r') {
            v.pop();
        }
    }
    v
}

/// The value argument, or (absent or `-`) a no-echo terminal prompt, or all of stdin.
pub fn value(arg: Option<&str>, prompt: &str) -> Result<SecretBytes> {
    match arg {
        Some(v) if v != "-" => Ok(SecretBytes::from(v)),
        _ => {
            if std::io::stdin().is_terminal() {
                let v =
                    rpassword::prompt_password(prompt).context("cannot read from the terminal")?;
                Ok(SecretBytes::from(v))
            } else {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .context("cannot read stdin")?;
                Ok(SecretBytes::new(strip_newline(buf)))
            }
        }
    }
}

/// All of stdin, as is.
pub fn stdin_all() -> Result<SecretBytes> {
    let mut buf = Vec::new();
    std::io::stdin()
        .read_to_end(&mut buf)
        .context("cannot read stdin")?;
    Ok(SecretBytes::new(buf))
}

/// A file's text, or stdin for `-`; bounded to `max` bytes.
pub fn text_file(path: &Path, max: u64) -> Result<zeroize::Zeroizing<String>> {
    let mut buf = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .take(max + 1)
            .read_to_end(&mut buf)
            .context("cannot read stdin")?;
    } else {
        std::fs::File::open(path)
            .with_context(|| format!("cannot open '{}'", path.display()))?
            .take(max + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("cannot read '{}'", path.display()))?;
    }
    if buf.len() as u64 > max {
        bail!("'{}' is larger than {max} bytes", path.display());
    }
    let s = String::from_utf8(buf)
        .map_err(|_| anyhow::anyhow!("'{}' is not UTF-8 text", path.display()))?;
    Ok(zeroize::Zeroizing::new(s))
}

/// The vault passphrase: --passphrase-file, else $TRESOR_PASSPHRASE, else the terminal.
pub fn passphrase(
    file: Option<&Path>,
    prompt: &str,
    confirm: bool,
) -> Result<SecretBytes, VaultError> {
    if let Some(f) = file {
        let b = std::fs::read(f).map_err(|source| VaultError::Io {
            what: "cannot read passphrase file",
            path: f.to_owned(),
            source,
        })?;
        return Ok(SecretBytes::new(strip_newline(b)));
    }
    if let Ok(p) = std::env::var("TRESOR_PASSPHRASE") {
        return Ok(SecretBytes::from(p));
    }
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password(prompt).map_err(|_| VaultError::PassphraseRequired)?;
        if confirm {
            let again = rpassword::prompt_password("Repeat passphrase: ")
                .map_err(|_| VaultError::PassphraseRequired)?;
            if !tresor_crypto::ct_eq(p.as_bytes(), again.as_bytes()) {
                return Err(VaultError::Refused("the passphrases differ".into()));
            }
        }
        if p.is_empty() {
            return Err(VaultError::Refused("empty passphrase".into()));
        }
        return Ok(SecretBytes::from(p));
    }
    Err(VaultError::PassphraseRequired)
}

/// Asks a yes/no question on the terminal. Without a terminal, returns `None`.
pub fn confirm(question: &str) -> Option<bool> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).ok()?;
    Some(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Asks before removing: `Ok(true)` to go ahead; a "no" prints "nothing removed" and gives
/// `Ok(false)`; without a terminal it refuses (nothing is removed without `--yes`).
pub fn confirm_removal(question: &str) -> Result<bool, VaultError> {
    match confirm(question) {
        Some(true) => Ok(true),
        Some(false) => {
            eprintln!("nothing removed");
            Ok(false)
        }
        None => Err(VaultError::Refused(
            "no terminal to confirm on; pass --yes to remove without asking".into(),
        )),
    }
}
