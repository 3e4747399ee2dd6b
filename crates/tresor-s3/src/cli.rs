//! `tresor s3 …`: s3keyring's command line (`configure`, `set`, `get`, `delete`, `list-keys`,
//! `--profile`, `--ini`, its profile file and variables) on tresor's encrypted S3 store, and
//! `import-s3keyring`, which rewrites an s3keyring bucket into it.
//!
//! Secrets are vault secrets named `SERVICE:NAMESPACE:USERNAME` (see [`crate::compat`]) in
//! the store `s3://BUCKET/.tresor` (or `--store s3://…`), their data keys wrapped by the
//! profile's KMS key. s3keyring never writes a key starting with `.` (it escapes dots), so that
//! store cannot meet an s3keyring layout in the same bucket.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use tresor_store::progress::Progress;
use tresor_store::secret_name::{self, SecretName};
use tresor_store::{NewObject, ObjectType, Store, StoreError};

use crate::compat::{self, Profile, ProfileFile};
use crate::error::{Result, S3Error};
use crate::{CachingProvider, KmsProvider, S3Backend, S3Location, S3Settings};

/// The store prefix used when no `--store` is given: `s3://BUCKET/.tresor`.
pub const DEFAULT_PREFIX: &str = ".tresor";

mod import;

pub use import::{ImportFailure, ImportOptions, ImportReport, import_s3keyring};

/// The largest s3keyring body `import-s3keyring` reads (a secret, base64).
const MAX_LEGACY_BODY: u64 = 1 << 20;

/// `tresor s3`: options shared by every command (s3keyring's `--profile` and `--ini`).
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  tresor s3 configure --no-ask             # from S3KEYRING_BUCKET, S3KEYRING_KMS_KEY_ID, …
  tresor s3 --profile admins configure     # asks for each setting
  tresor s3 set github bob -               # value from stdin (or as an argument, like s3keyring)
  tresor s3 get github bob
  tresor s3 list github --json
  tresor s3 import-s3keyring --delete-originals

Secrets are vault secrets SERVICE:NAMESPACE:USERNAME in s3://BUCKET/.tresor (or --store s3://…),
sealed on this machine with data keys wrapped by the profile's KMS key: `tresor get` reads them
with TRESOR_STORE=s3://BUCKET/.tresor and TRESOR_KMS_KEY_ID=KEY.
Settings come from S3KEYRING_<SETTING>, then KEYRING_BUCKET / KEYRING_NAMESPACE / KMS_KEY_ID,
then [profile:NAME] in ./.s3keyring.ini or ~/.s3keyring.ini.")]
pub struct S3Args {
    /// The s3keyring profile (`[profile:NAME]` in the profile file; default `default`).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// The profile file (default `./.s3keyring.ini` if present, else `~/.s3keyring.ini`).
    #[arg(long, global = true, value_name = "INIFILE")]
    pub ini: Option<PathBuf>,
    /// Keep unwrapped data keys in the kernel user keyring (possessor-only) for this long
    /// (30s, 10m, 1h), so the next commands skip KMS: a `get` is then two S3 GETs.
    #[arg(
        long,
        global = true,
        env = "TRESOR_S3_KEY_CACHE",
        value_name = "DURATION"
    )]
    pub key_cache: Option<String>,
    /// Print JSON (`get`, `list`, `import-s3keyring`).
    #[arg(long, global = true)]
    pub json: bool,
    /// The command.
    #[command(subcommand)]
    pub cmd: S3Command,
}

/// The `tresor s3` commands.
#[derive(Subcommand, Debug)]
pub enum S3Command {
    /// Write the profile's settings to the profile file (asks for each unless --no-ask).
    Configure {
        /// Ask for each setting (the default).
        #[arg(long, overrides_with = "no_ask")]
        ask: bool,
        /// Take the settings from the environment and the file without asking.
        #[arg(long, overrides_with = "ask")]
        no_ask: bool,
        /// Write ./.s3keyring.ini instead of the user's file.
        #[arg(long, overrides_with = "no_local")]
        local: bool,
        /// Write the user's file (the default).
        #[arg(long, overrides_with = "local")]
        no_local: bool,
    },
    /// Print a secret.
    #[command(alias = "get_password")]
    Get {
        /// The service (s3keyring's group).
        service: String,
        /// The username (s3keyring's key).
        username: String,
    },
    /// Store a secret (a new version if it exists).
    #[command(alias = "set_password")]
    Set {
        /// The service.
        service: String,
        /// The username.
        username: String,
        /// The secret; absent or '-': read from stdin. On the command line it is visible to
        /// other local users (ps), as with s3keyring.
        password: Option<String>,
    },
    /// Delete a secret.
    #[command(alias = "delete_password")]
    Delete {
        /// The service.
        service: String,
        /// The username.
        username: String,
    },
    /// List the usernames of a service, or every service and username of the namespace.
    #[command(alias = "list-keys")]
    List {
        /// Only this service.
        service: Option<String>,
    },
    /// Copy an s3keyring bucket (NAMESPACE/SERVICE/USER/secret.b64) into the encrypted store.
    #[command(name = "import-s3keyring")]
    ImportS3keyring {
        /// Delete each s3keyring object once its encrypted copy has been read back and matches.
        #[arg(long)]
        delete_originals: bool,
        /// Overwrite tresor secrets whose value differs (default: keep them and report).
        #[arg(long)]
        update: bool,
        /// Report what would be done; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// `user@host`, the identity audit entries name.
fn actor() -> String {
    let user = env_var("USER")
        .or_else(|| env_var("LOGNAME"))
        .unwrap_or_else(|| "user".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

/// An open tresor store for an s3keyring profile.
pub struct Session {
    /// The store.
    pub store: Store,
    /// Its backend (for listings by name).
    pub backend: Arc<S3Backend>,
    /// The KMS key wrapping data keys.
    pub kms: Arc<KmsProvider>,
    /// Where the store lives.
    pub location: S3Location,
    /// The connection settings.
    pub settings: S3Settings,
    /// The s3keyring namespace.
    pub namespace: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({}, {})", self.location, self.namespace)
    }
}

impl Session {
    /// Opens the store of profile `p`: `store` if it is an `s3://` URL, else
    /// `s3://BUCKET/.tresor`, with the profile's AWS profile and KMS key.
    ///
    /// # Errors
    /// [`S3Error::MissingSetting`], a bad location or S3 configuration. Nothing is sent yet:
    /// a missing bucket, refused credentials or an unusable KMS key fail the first operation,
    /// before anything is written.
    pub fn open(p: &Profile, store: Option<&str>) -> Result<Session> {
        Self::open_with_cache(p, store, None)
    }

    /// As [`Session::open`], also caching unwrapped data keys in the kernel user keyring for
    /// `kernel_cache` when given.
    ///
    /// # Errors
    /// As [`Session::open`].
    pub fn open_with_cache(
        p: &Profile,
        store: Option<&str>,
        kernel_cache: Option<Duration>,
    ) -> Result<Session> {
        let settings = match p.get("aws_profile") {
            None | Some("") | Some("default") => S3Settings::from_env(),
            Some(ap) => S3Settings::with_aws_profile(Some(ap)),
        };
        let location = match store {
            Some(url) if url.starts_with("s3://") => S3Location::parse(url)?,
            Some(other) => {
                return Err(S3Error::Input(format!(
                    "tresor s3 keeps secrets in an S3 store, but --store (or TRESOR_STORE) is '{other}'"
                )));
            }
            None => S3Location::parse(&format!("s3://{}/{DEFAULT_PREFIX}", p.require("bucket")?))?,
        };
        let kms_key = match (p.get("kms_key_id"), settings.kms_key_id.as_deref()) {
            (Some(k), _) | (None, Some(k)) => k.to_owned(),
            (None, None) => {
                p.require("kms_key_id")?;
                unreachable!("require fails when the setting is missing")
            }
        };
        let backend = Arc::new(S3Backend::open_with(location.clone(), &settings)?);
        let kms = Arc::new(KmsProvider::new(&kms_key, &location.url(), &settings)?);
        let mut cache = CachingProvider::new(kms.clone(), Duration::from_secs(300));
        if let Some(ttl) = kernel_cache {
            cache = cache.with_kernel_keyring(ttl);
        }
        let provider = Arc::new(cache);
        // Opening sends nothing: the first get, set or delete is the first request, and its
        // error names the bucket or the KMS key that failed.
        let store = Store::open(backend.clone(), provider, actor())?;
        Ok(Session {
            store,
            backend,
            kms,
            location,
            settings,
            namespace: p.namespace().to_owned(),
        })
    }

    /// The value of `(service, username)`, if stored.
    ///
    /// # Errors
    /// Store and KMS errors.
    pub fn get(&self, service: &str, username: &str) -> Result<Option<tresor_crypto::SecretBytes>> {
        let name = compat::tresor_name(&self.namespace, service, username);
        Ok(self.store.read_by_name(&name)?.map(|(_, v)| v))
    }

    /// Stores `value` for `(service, username)`: a new secret, or a new version.
    ///
    /// # Errors
    /// Store and KMS errors; nothing is written on error.
    pub fn set(&self, service: &str, username: &str, value: &[u8]) -> Result<u32> {
        let (app, env, key) = compat::tresor_parts(&self.namespace, service, username);
        let name = SecretName::join(&app, &env, &key);
        Ok(self.store.write(|tx| match tx.get_by_name(&name)? {
            Some(m) => tx.put_material(&m.uid, value),
            None => {
                tx.create(new_secret(&app, &env, &key, value))?;
                Ok(1)
            }
        })?)
    }

    /// Deletes `(service, username)`.
    ///
    /// # Errors
    /// [`S3Error::NotFound`] if it is not stored.
    pub fn delete(&self, service: &str, username: &str) -> Result<()> {
        let name = compat::tresor_name(&self.namespace, service, username);
        let r = self.store.write(|tx| match tx.get_by_name(&name)? {
            Some(m) => tx.delete(&m.uid),
            None => Err(StoreError::NotFound(name.clone())),
        });
        match r {
            Err(StoreError::NotFound(_)) => Err(not_found(&self.namespace, service, username)),
            r => Ok(r?),
        }
    }

    /// `(service, username)` pairs of the namespace (of one service), from key listings only.
    ///
    /// # Errors
    /// S3 errors.
    pub fn list(&self, service: Option<&str>) -> Result<Vec<(String, String)>> {
        let ns = compat::encode_part(&self.namespace);
        let prefix = match service {
            Some(s) => format!("{}:{ns}:", compat::encode_part(s)),
            None => String::new(),
        };
        let mut out = Vec::new();
        for name in self.backend.list_names(&prefix)? {
            if let Some((n, s, u)) = compat::parse_tresor_name(&name)
                && n == self.namespace
                && service.is_none_or(|want| want == s)
            {
                out.push((s, u));
            }
        }
        out.sort();
        Ok(out)
    }
}

fn new_secret(app: &str, env: &str, key: &str, value: &[u8]) -> NewObject {
    let mut n = NewObject::new(ObjectType::SecretData);
    n.names.push(SecretName::join(app, env, key));
    // The vault's attributes, so `tresor list` and `tresor get` see an ordinary secret.
    n.attributes = SecretName::attributes_of(app, env, key, secret_name::DEFAULT_TYPE);
    n.material = Some(value.to_vec());
    n
}

fn not_found(ns: &str, service: &str, username: &str) -> S3Error {
    S3Error::NotFound(format!(
        "secret '{username}' of service '{service}' (namespace '{ns}')"
    ))
}

/// Runs `tresor s3 …`; `store` is tresor's global `--store` / `TRESOR_STORE`; `progress`
/// receives the progress and the one-line summary of `import-s3keyring`.
///
/// # Errors
/// Any [`S3Error`] (the `tresor` binary maps it to an exit code in its `error` module).
pub fn run(args: S3Args, store: Option<&str>, progress: &dyn Progress) -> Result<ExitCode> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let path = args
        .ini
        .clone()
        .unwrap_or_else(|| ProfileFile::default_path(&cwd, home().as_deref()));
    let name = args.profile.clone().unwrap_or_else(|| "default".into());
    let explicit = args.profile.is_some();
    let file = ProfileFile::load(&path)?;
    let key_cache = match args.key_cache.as_deref() {
        None | Some("") => None,
        Some(d) => Some(tresor_keyring::cli::parse_timeout(d).map_err(|e| {
            S3Error::Input(format!("--key-cache / TRESOR_S3_KEY_CACHE '{d}': {e}"))
        })?),
    };
    let mut stdout = std::io::stdout().lock();
    let out = &mut stdout;
    let w = |e: std::io::Error| S3Error::Io {
        what: "cannot write",
        path: "stdout".into(),
        source: e,
    };
    match args.cmd {
        S3Command::Configure { no_ask, local, .. } => {
            // Settings come from the environment and the file; the file may lack the profile.
            let p = Profile::resolve(&file, &name, false, &env_var)?;
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            let target = if local {
                cwd.join(".s3keyring.ini")
            } else {
                path.clone()
            };
            let values = configure(&p, !no_ask, &mut input, &mut std::io::stderr())?;
            let mut f = file;
            f.set_profile(&name, &values);
            f.save_to(&target)?;
            eprintln!("s3keyring profile '{name}' written to {}", target.display());
            Ok(ExitCode::SUCCESS)
        }
        S3Command::Get { service, username } => {
            let p = Profile::resolve(&file, &name, explicit, &env_var)?;
            let s = Session::open_with_cache(&p, store, key_cache)?;
            let v = s
                .get(&service, &username)?
                .ok_or_else(|| not_found(&s.namespace, &service, &username))?;
            if args.json {
                let mut j = serde_json::json!({
                    "service": service, "username": username, "namespace": s.namespace,
                    "name": compat::tresor_name(&s.namespace, &service, &username),
                });
                match std::str::from_utf8(v.expose()) {
                    Ok(t) => j["value"] = t.into(),
                    Err(_) => {
                        use base64::Engine as _;
                        j["value_base64"] = base64::engine::general_purpose::STANDARD
                            .encode(v.expose())
                            .into();
                    }
                }
                writeln!(out, "{j}").map_err(w)?;
            } else {
                out.write_all(v.expose()).map_err(w)?;
                out.write_all(b"\n").map_err(w)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        S3Command::Set {
            service,
            username,
            password,
        } => {
            let p = Profile::resolve(&file, &name, explicit, &env_var)?;
            let value = match password.as_deref() {
                None | Some("-") => read_stdin_value()?,
                Some(v) => zeroize::Zeroizing::new(v.as_bytes().to_vec()),
            };
            let s = Session::open_with_cache(&p, store, key_cache)?;
            s.kms.check()?;
            s.set(&service, &username, &value)?;
            Ok(ExitCode::SUCCESS)
        }
        S3Command::Delete { service, username } => {
            let p = Profile::resolve(&file, &name, explicit, &env_var)?;
            let s = Session::open_with_cache(&p, store, key_cache)?;
            s.delete(&service, &username)?;
            Ok(ExitCode::SUCCESS)
        }
        S3Command::List { service } => {
            let p = Profile::resolve(&file, &name, explicit, &env_var)?;
            let s = Session::open_with_cache(&p, store, key_cache)?;
            let rows = s.list(service.as_deref())?;
            if args.json {
                let j: Vec<_> = rows
                    .iter()
                    .map(|(sv, u)| {
                        serde_json::json!({
                            "service": sv, "username": u, "namespace": s.namespace,
                            "name": compat::tresor_name(&s.namespace, sv, u),
                        })
                    })
                    .collect();
                writeln!(out, "{}", serde_json::Value::from(j)).map_err(w)?;
            } else {
                for (sv, u) in &rows {
                    if service.is_some() {
                        writeln!(out, "{u}").map_err(w)?;
                    } else {
                        writeln!(out, "{sv}\t{u}").map_err(w)?;
                    }
                }
            }
            Ok(if rows.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        S3Command::ImportS3keyring {
            delete_originals,
            update,
            dry_run,
        } => {
            let p = Profile::resolve(&file, &name, explicit, &env_var)?;
            let s = Session::open_with_cache(&p, store, key_cache)?;
            if !dry_run {
                s.kms.check()?;
            }
            let opts = ImportOptions {
                delete_originals,
                update,
                dry_run,
            };
            let report = import_s3keyring(&s, p.require("bucket")?, &opts, progress)?;
            if args.json {
                let j =
                    serde_json::to_string(&report).map_err(|e| S3Error::Input(e.to_string()))?;
                writeln!(out, "{j}").map_err(w)?;
            }
            for f in &report.failed {
                eprintln!("error: {}: {}", f.key, f.error);
            }
            progress.finish(&report.summary(dry_run));
            Ok(if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
    }
}

/// Reads a secret from stdin: everything, less one trailing newline.
fn read_stdin_value() -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let mut v = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(1 << 20)
        .read_to_end(&mut v)
        .map_err(|e| S3Error::Io {
            what: "cannot read the secret from",
            path: "stdin".into(),
            source: e,
        })?;
    if v.ends_with(b"\n") {
        v.pop();
        if v.ends_with(b"\r") {
            v.pop();
        }
    }
    Ok(v)
}

/// The settings `configure` writes: each resolved value, asked for when `ask` (an empty
/// answer keeps the value shown). Fails before anything is written when a required setting
/// stays empty.
fn configure(
    p: &Profile,
    ask: bool,
    input: &mut dyn BufRead,
    prompt: &mut dyn Write,
) -> Result<Vec<(String, String)>> {
    let mut values = Vec::new();
    for s in compat::SETTINGS {
        let mut v = p.get(s).unwrap_or("").to_owned();
        if ask {
            let title: Vec<String> = s
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect())
                        .unwrap_or_default()
                })
                .collect();
            let _ = write!(prompt, "{} [{v}]: ", title.join(" "));
            let _ = prompt.flush();
            let mut line = String::new();
            input.read_line(&mut line).map_err(|e| S3Error::Io {
                what: "cannot read an answer from",
                path: "stdin".into(),
                source: e,
            })?;
            let line = line.trim();
            if !line.is_empty() {
                v = line.to_owned();
            }
        }
        values.push((s.to_owned(), v));
    }
    for r in compat::REQUIRED {
        if values.iter().any(|(k, v)| k == r && v.is_empty()) {
            return Err(S3Error::MissingSetting {
                profile: p.name.clone(),
                setting: r,
                var: compat::env_names(r)[0].clone(),
            });
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configure_asks_and_refuses_missing_required() {
        let f = ProfileFile::default();
        let env = |k: &str| match k {
            "S3KEYRING_BUCKET" => Some("b1".to_owned()),
            _ => None,
        };
        let p = Profile::resolve(&f, "default", false, &env).unwrap();
        let mut prompts = Vec::new();
        let mut answers: &[u8] = b"\n\nkey-1\nns\n";
        let v = configure(&p, true, &mut answers, &mut prompts).unwrap();
        let prompts = String::from_utf8(prompts).unwrap();
        assert!(
            prompts.starts_with("Aws Profile [default]: Bucket [b1]: Kms Key Id []: "),
            "{prompts}"
        );
        let get = |k: &str| v.iter().find(|(a, _)| a == k).unwrap().1.clone();
        assert_eq!(
            (get("bucket"), get("kms_key_id"), get("namespace")),
            ("b1".into(), "key-1".into(), "ns".into())
        );
        assert_eq!(get("use_local_keyring"), "yes");
        let e = configure(&p, false, &mut &b""[..], &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("has no kms_key_id"), "{e}");
        assert!(e.hint().unwrap().contains("S3KEYRING_KMS_KEY_ID"));
    }
}
