//! The `tresor key` subcommand: transit-style key operations on the vault's store.
//!
//! Exit codes: 0 success (and a valid signature); 1 a negative answer (key not found, version
//! refused, decryption failed, invalid signature); 2 an error. A broken pipe exits 0.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

use tresor_store::Store;

use tresor_keys::{KeyConfig, KeyInfo, KeyManager, KeyType, KeysError, Result, parse_duration};

/// The key types `key create --type` offers (every [`KeyType`] but `External`, which only a
/// key definition makes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyTypeArg {
    /// AES-256-GCM (aws-lc-rs), random 96-bit nonces: encrypt, decrypt, rewrap.
    #[value(name = "aes256-gcm")]
    Aes256Gcm,
    /// ChaCha20-Poly1305 (RustCrypto), random 96-bit nonces: encrypt, decrypt, rewrap.
    #[value(name = "chacha20-poly1305")]
    ChaCha20Poly1305,
    /// HMAC-SHA-256: sign, verify.
    #[value(name = "hmac-sha256")]
    HmacSha256,
    /// Ed25519 (the material is the 32-byte seed): sign, verify.
    #[value(name = "ed25519")]
    Ed25519,
}

impl From<KeyTypeArg> for KeyType {
    fn from(t: KeyTypeArg) -> KeyType {
        match t {
            KeyTypeArg::Aes256Gcm => KeyType::Aes256Gcm,
            KeyTypeArg::ChaCha20Poly1305 => KeyType::ChaCha20Poly1305,
            KeyTypeArg::HmacSha256 => KeyType::HmacSha256,
            KeyTypeArg::Ed25519 => KeyType::Ed25519,
        }
    }
}

/// `tresor key ...`
#[derive(Debug, Clone, clap::Subcommand)]
#[command(
    after_help = "Exit codes: 0 ok; 1 not found, refused, decryption failed or invalid signature; 2 error."
)]
pub enum KeyCommand {
    /// Create a key with a random version 1.
    Create {
        /// The key's name (letters, digits, '_', '.', '-').
        name: String,
        /// The key type.
        #[arg(long = "type", value_enum, default_value = "aes256-gcm")]
        key_type: KeyTypeArg,
    },
    /// Make a new random version the primary; older versions keep decrypting.
    Rotate {
        /// The key's name.
        name: String,
    },
    /// Encrypt standard input; print `tresor:NAME:vN:BASE64`.
    Encrypt {
        /// The key's name.
        name: String,
        /// Associated data (authenticated, not stored; decrypt needs the same).
        #[arg(long)]
        aad: Option<String>,
    },
    /// Decrypt a ciphertext read from standard input (the key and version come from it).
    Decrypt {
        /// Associated data given at encryption.
        #[arg(long)]
        aad: Option<String>,
    },
    /// Re-encrypt a ciphertext from standard input under the key's primary version, without
    /// printing the plaintext.
    Rewrap {
        /// Associated data given at encryption.
        #[arg(long)]
        aad: Option<String>,
    },
    /// Change the minimum decryption version or the auto-rotate period.
    Config {
        /// The key's name.
        name: String,
        /// Refuse versions below this one.
        #[arg(long)]
        min_decryption_version: Option<u32>,
        /// Rotate when the primary is older than this (30d, 12h, 90m, 3600s; 0 = never).
        #[arg(long, value_parser = parse_duration)]
        auto_rotate: Option<u64>,
    },
    /// Destroy the material of versions below the minimum decryption version.
    Trim {
        /// The key's name.
        name: String,
    },
    /// Show a key's versions, dates and states.
    Show {
        /// The key's name.
        name: String,
    },
    /// List the keys.
    List,
    /// Sign standard input with an hmac-sha256 or ed25519 key.
    Sign {
        /// The key's name.
        name: String,
    },
    /// Verify a signature of standard input (exit 1 if invalid).
    Verify {
        /// The signature, as printed by `key sign`.
        #[arg(long)]
        signature: String,
    },
    /// Run the on-change callbacks that a crash left pending (those this process knows).
    Resume,
}

/// Runs `cmd` on `store` with standard input and output; `json` selects JSON output.
///
/// # Errors
/// Failures other than negative answers (which print `error: ...` and return exit code 1).
pub fn run(cmd: KeyCommand, store: &Store, json: bool) -> Result<ExitCode> {
    let mut input = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    run_with_io(cmd, store, json, &mut input, &mut out, &mut err).map(ExitCode::from)
}

/// As [`run`], with explicit streams; returns the exit code as a number.
///
/// # Errors
/// As [`run`].
pub fn run_with_io(
    cmd: KeyCommand,
    store: &Store,
    json: bool,
    input: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8> {
    let store = Arc::new(Store::open(
        store.backend().clone(),
        store.provider().clone(),
        store.actor(),
    )?);
    let km = KeyManager::open(store)?;
    match exec(&km, cmd, json, input, out) {
        Ok(code) => Ok(code),
        Err(KeysError::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(0)
        }
        Err(e) if e.is_negative() => {
            let _ = writeln!(err, "error: {e}");
            if let KeysError::VersionRetired { .. } = e {
                let _ = writeln!(
                    err,
                    "hint: `tresor key config NAME --min-decryption-version N` lowers the minimum"
                );
            }
            Ok(1)
        }
        Err(e) => Err(e),
    }
}

fn read_all(input: &mut dyn Read) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let mut b = zeroize::Zeroizing::new(Vec::new());
    input.read_to_end(&mut b).map_err(|e| KeysError::Io {
        what: "reading standard input",
        source: e,
    })?;
    Ok(b)
}

fn read_text(input: &mut dyn Read) -> Result<String> {
    let b = read_all(input)?;
    let s = std::str::from_utf8(&b).map_err(|_| KeysError::Malformed {
        what: "ciphertext",
        why: "not UTF-8",
    })?;
    Ok(s.trim().to_owned())
}

fn put(out: &mut dyn Write, b: &[u8]) -> Result<()> {
    out.write_all(b)
        .and_then(|_| out.flush())
        .map_err(|e| KeysError::Io {
            what: "writing standard output",
            source: e,
        })
}

fn show(out: &mut dyn Write, info: &KeyInfo, json: bool) -> Result<()> {
    if json {
        let s = serde_json::to_string_pretty(info).unwrap_or_default();
        return put(out, format!("{s}\n").as_bytes());
    }
    let mut s = format!(
        "key {} ({})\nprimary version: {}\nmin decryption version: {}\nauto-rotate: {}\n",
        info.name,
        info.key_type,
        info.primary_version,
        info.min_decryption_version,
        if info.auto_rotate_secs == 0 {
            "never".to_owned()
        } else {
            format!("{}s", info.auto_rotate_secs)
        }
    );
    if let Some(pk) = &info.public_key {
        s.push_str(&format!("public key: {pk}\n"));
    }
    s.push_str("VERSION  CREATED     STATE\n");
    for v in &info.versions {
        let state = serde_json::to_value(v.state)
            .ok()
            .and_then(|x| x.as_str().map(str::to_owned))
            .unwrap_or_default();
        s.push_str(&format!("v{:<7} {:<11} {}\n", v.version, v.created, state));
    }
    for j in &info.pending {
        let names: Vec<_> = j
            .callbacks
            .iter()
            .map(|c| format!("{} ({:?})", c.name, c.status))
            .collect();
        s.push_str(&format!(
            "pending rotation v{} -> v{}: {}\n",
            j.from.unwrap_or(0),
            j.to,
            names.join(", ")
        ));
    }
    put(out, s.as_bytes())
}

fn exec(
    km: &KeyManager,
    cmd: KeyCommand,
    json: bool,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<u8> {
    let aad_of = |a: &Option<String>| a.as_deref().unwrap_or("").as_bytes().to_vec();
    match cmd {
        KeyCommand::Create { name, key_type } => {
            show(out, &km.create(&name, key_type.into())?, json)?
        }
        KeyCommand::Rotate { name } => {
            let r = km.rotate(&name)?;
            if json {
                put(
                    out,
                    format!("{}\n", serde_json::to_string(&r).unwrap_or_default()).as_bytes(),
                )?;
            } else {
                put(
                    out,
                    format!("key {name}: primary is now v{}\n", r.new_version).as_bytes(),
                )?;
            }
        }
        KeyCommand::Encrypt { name, aad } => {
            let pt = read_all(input)?;
            let ct = km.encrypt(&name, &pt, &aad_of(&aad))?;
            put(out, format!("{ct}\n").as_bytes())?;
        }
        KeyCommand::Decrypt { aad } => {
            let ct = read_text(input)?;
            let pt = km.decrypt(&ct, &aad_of(&aad))?;
            put(out, pt.expose())?;
        }
        KeyCommand::Rewrap { aad } => {
            let ct = read_text(input)?;
            let n = km.rewrap(&ct, &aad_of(&aad))?;
            put(out, format!("{n}\n").as_bytes())?;
        }
        KeyCommand::Config {
            name,
            min_decryption_version,
            auto_rotate,
        } => {
            let info = km.configure(
                &name,
                KeyConfig {
                    min_decryption_version,
                    auto_rotate_secs: auto_rotate,
                },
            )?;
            show(out, &info, json)?;
        }
        KeyCommand::Trim { name } => {
            let n = km.trim(&name)?;
            if json {
                put(out, format!("{{\"destroyed\":{n}}}\n").as_bytes())?;
            } else {
                put(
                    out,
                    format!("key {name}: destroyed {n} version(s)\n").as_bytes(),
                )?;
            }
        }
        KeyCommand::Show { name } => show(out, &km.show(&name)?, json)?,
        KeyCommand::List => {
            let names = km.list()?;
            if json {
                put(
                    out,
                    format!("{}\n", serde_json::to_string(&names).unwrap_or_default()).as_bytes(),
                )?;
            } else {
                let mut s = String::new();
                for n in names {
                    s.push_str(&n);
                    s.push('\n');
                }
                put(out, s.as_bytes())?;
            }
        }
        KeyCommand::Sign { name } => {
            let msg = read_all(input)?;
            let sig = km.sign(&name, &msg)?;
            put(out, format!("{sig}\n").as_bytes())?;
        }
        KeyCommand::Verify { signature } => {
            let msg = read_all(input)?;
            let ok = km.verify(signature.trim(), &msg)?;
            put(out, if ok { b"valid\n" } else { b"invalid\n" })?;
            return Ok(if ok { 0 } else { 1 });
        }
        KeyCommand::Resume => {
            let mut failed = 0;
            for r in km.resume()? {
                match r {
                    Ok(rep) => put(
                        out,
                        format!(
                            "key {}: v{} callbacks done: {}\n",
                            rep.key,
                            rep.new_version,
                            rep.succeeded.join(", ")
                        )
                        .as_bytes(),
                    )?,
                    Err(e) => {
                        failed += 1;
                        put(out, format!("error: {e}\n").as_bytes())?;
                    }
                }
            }
            return Ok(if failed == 0 { 0 } else { 2 });
        }
    }
    Ok(0)
}

#[cfg(test)]
#[path = "key_test.rs"]
mod tests;
