//! `tresor.toml`: the server's configuration file (`tresor kmip serve --config tresor.toml`,
//! checked by `tresor config check tresor.toml`).
//!
//! Every `serve` flag has a key (the flag's name with `_`), in three tables:
//!
//! ```toml
//! [server]
//! listen = "0.0.0.0:5696"
//! cert = "/etc/tresor/server.crt"     # relative paths are relative to this file
//! key = "/etc/tresor/server.key"
//! ca = "/etc/tresor/ca.crt"
//! crl = "/etc/tresor/ca.crl"
//! identity_from = "cn"                # cn, san-email, san-uri
//! client_auth_eku = true              # false: --no-client-auth-eku
//! admins = ["ops"]
//! store = "/var/lib/tresor/vault"     # the vault folder (a postgres:// URL: global --store)
//! audit_log = "/var/log/tresor/audit.jsonl"
//! audit_reads = "all"
//! no_audit_log = false
//! http_listen = "127.0.0.1:5697"
//! metrics_listen = "127.0.0.1:9464"
//! drain_timeout = 10                  # seconds
//! key_cache_entries = 1024            # unsealed keys kept for crypto operations; 0: none
//! worker_threads = 2                  # threads serving connections (read at start)
//!
//! [limits]
//! max_batch_items = 64
//! max_response_size = 8388608
//! max_connections = 1024
//! max_connections_per_identity = 32
//! max_requests_per_second = 0
//! read_timeout = 30
//! write_timeout = 30
//! idle_timeout = 300
//! max_rng_bytes = 1048576
//! max_key_pairs = 4
//! max_rsa_bits = 4096
//!
//! [log]
//! format = "json"                     # text, json
//! level = "info"                      # RUST_LOG syntax; TRESOR_LOG wins
//! ```
//!
//! What wins: a flag, then its environment variable (`TRESOR_KMIP_LISTEN`, … see `tresor kmip
//! serve --help`), then this file, then the default. An unknown key, a wrong type or a bad
//! value is an error naming the file, the line and the column.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::KmipError;

/// A parsed `tresor.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `[server]`: the listeners, certificates, store and audit.
    #[serde(default)]
    pub server: ServerTable,
    /// `[limits]`: what one client may ask (see `ServerLimits`).
    #[serde(default)]
    pub limits: LimitsTable,
    /// `[log]`: format and level.
    #[serde(default)]
    pub log: LogTable,
}

/// `[server]` of `tresor.toml`; each key is a `tresor kmip serve` flag.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTable {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--cert`.
    pub cert: Option<Spanned<PathBuf>>,
    /// `--key`.
    pub key: Option<Spanned<PathBuf>>,
    /// `--ca`.
    pub ca: Option<Spanned<PathBuf>>,
    /// `--crl`.
    pub crl: Option<Spanned<PathBuf>>,
    /// `--identity-from`.
    pub identity_from: Option<Spanned<String>>,
    /// `false` is `--no-client-auth-eku`.
    pub client_auth_eku: Option<bool>,
    /// `--admin` (each).
    pub admins: Option<Vec<String>>,
    /// `--store`: the vault directory (a PostgreSQL store is named by the tresor binary's
    /// global `--store URL`, with this folder holding its key).
    pub store: Option<String>,
    /// `--audit-log`.
    pub audit_log: Option<PathBuf>,
    /// `--audit-reads`.
    pub audit_reads: Option<Spanned<String>>,
    /// `--no-audit-log`.
    pub no_audit_log: Option<bool>,
    /// `--http-listen`.
    pub http_listen: Option<String>,
    /// `--metrics-listen`.
    pub metrics_listen: Option<String>,
    /// `--drain-timeout` (seconds).
    pub drain_timeout: Option<u64>,
    /// `--key-cache-entries`.
    pub key_cache_entries: Option<usize>,
    /// `--worker-threads` (read at start, not on a reload).
    pub worker_threads: Option<u16>,
}

/// `[limits]` of `tresor.toml` (the limit flags; 0 turns a count or rate limit off).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct LimitsTable {
    pub max_batch_items: Option<usize>,
    pub max_response_size: Option<usize>,
    pub max_connections: Option<usize>,
    pub max_connections_per_identity: Option<usize>,
    pub max_requests_per_second: Option<u32>,
    pub read_timeout: Option<u64>,
    pub write_timeout: Option<u64>,
    pub idle_timeout: Option<u64>,
    pub max_rng_bytes: Option<usize>,
    pub max_key_pairs: Option<usize>,
    pub max_rsa_bits: Option<i32>,
}

/// `[log]` of `tresor.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogTable {
    /// `--log-format`: `text` or `json`.
    pub format: Option<Spanned<String>>,
    /// The level filter in `RUST_LOG` syntax, used when `TRESOR_LOG` is unset.
    pub level: Option<Spanned<String>>,
}

/// True if `path` names a `tresor.toml` (by its `.toml` extension) rather than a PyKMIP
/// `server.conf`.
pub fn is_toml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// Line and column (1-based) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Reads and checks `path`: syntax, keys, types and values. Relative paths in it are made
/// relative to the file's folder.
///
/// # Errors
/// [`KmipError::Io`] if it cannot be read; [`KmipError::Config`] naming the line and column
/// of the first problem.
pub fn load(path: &Path) -> Result<FileConfig, KmipError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| KmipError::io(format!("reading '{}'", path.display()), e))?;
    from_str(&text, path)
}

/// [`load`] on text already read; `path` names the file in errors and anchors relative paths.
///
/// # Errors
/// [`KmipError::Config`] naming the line and column of the first problem.
pub fn from_str(text: &str, path: &Path) -> Result<FileConfig, KmipError> {
    let at = |span: std::ops::Range<usize>, reason: String| {
        let (line, col) = line_col(text, span.start);
        KmipError::Config {
            path: path.display().to_string(),
            reason: format!("line {line}, column {col}: {reason}"),
        }
    };
    let mut c: FileConfig = toml::from_str(text).map_err(|e| match e.span() {
        Some(span) => at(span, e.message().trim().to_owned()),
        None => KmipError::Config {
            path: path.display().to_string(),
            reason: e.message().trim().to_owned(),
        },
    })?;
    if let Some(v) = &c.server.identity_from
        && !matches!(v.get_ref().as_str(), "cn" | "san-email" | "san-uri")
    {
        return Err(at(
            v.span(),
            format!(
                "identity_from '{}' is not cn, san-email or san-uri",
                v.get_ref()
            ),
        ));
    }
    if let Some(v) = &c.server.audit_reads {
        crate::server::AuditReads::parse(v.get_ref())
            .map_err(|e| at(v.span(), format!("audit_reads: {e}")))?;
    }
    if let Some(v) = &c.log.format {
        v.get_ref()
            .parse::<super::logging::LogFormat>()
            .map_err(|_| {
                at(
                    v.span(),
                    format!("format '{}' is not text or json", v.get_ref()),
                )
            })?;
    }
    if let Some(v) = &c.log.level {
        tracing_subscriber::EnvFilter::builder()
            .parse(v.get_ref())
            .map_err(|e| {
                at(
                    v.span(),
                    format!(
                        "level '{}' is not a log filter ({e}); e.g. info, warn, or \
                         info,tresor::kmip::access=off",
                        v.get_ref()
                    ),
                )
            })?;
    }
    // Relative paths are relative to the file.
    let base = path.parent().unwrap_or(Path::new("."));
    let anchor = |p: &mut Spanned<PathBuf>| {
        if p.get_ref().is_relative() {
            let span = p.span();
            *p = Spanned::new(span, base.join(p.get_ref()));
        }
    };
    for p in [
        &mut c.server.cert,
        &mut c.server.key,
        &mut c.server.ca,
        &mut c.server.crl,
    ]
    .into_iter()
    .flatten()
    {
        anchor(p);
    }
    if let Some(p) = &mut c.server.audit_log
        && p.as_os_str() != "-"
        && p.is_relative()
    {
        *p = base.join(&*p);
    }
    if let Some(s) = &mut c.server.store
        && !s.contains("://")
        && Path::new(s.as_str()).is_relative()
    {
        *s = base.join(s.as_str()).display().to_string();
    }
    Ok(c)
}

/// What `tresor config check` found in a valid file.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// `tresor.toml` or `PyKMIP server.conf`.
    pub kind: &'static str,
    /// Files the configuration names that could not be read (key, path, error).
    pub missing: Vec<(String, PathBuf, String)>,
}

/// Checks a configuration file as `tresor kmip serve --config` would read it (a `.toml` file
/// as `tresor.toml`, else a PyKMIP `server.conf`), and that the certificate, key, CA and CRL
/// files it names can be read.
///
/// # Errors
/// [`KmipError::Config`] (naming the line for `tresor.toml`) or [`KmipError::Io`].
pub fn check(path: &Path) -> Result<CheckReport, KmipError> {
    let (kind, files): (&'static str, Vec<(String, PathBuf)>) = if is_toml(path) {
        let c = load(path)?;
        let s = &c.server;
        let files = [
            ("cert", &s.cert),
            ("key", &s.key),
            ("ca", &s.ca),
            ("crl", &s.crl),
        ]
        .into_iter()
        .filter_map(|(k, p)| p.as_ref().map(|p| (k.to_owned(), p.get_ref().clone())))
        .collect();
        ("tresor.toml", files)
    } else {
        let base = crate::server::ServerConfig::new("", "", "");
        let (c, _) = crate::server::from_pykmip_server_conf(path, base)?;
        let mut files = vec![
            ("certificate_path".to_owned(), c.cert),
            ("key_path".to_owned(), c.key),
            ("ca_path".to_owned(), c.ca),
        ];
        if let Some(crl) = c.crl {
            files.push(("crl_path".to_owned(), crl));
        }
        files.retain(|(_, p)| !p.as_os_str().is_empty());
        ("PyKMIP server.conf", files)
    };
    let missing = files
        .into_iter()
        .filter_map(|(k, p)| match std::fs::metadata(&p) {
            Ok(m) if m.is_file() => None,
            Ok(_) => Some((k, p, "not a file".to_owned())),
            Err(e) => Some((k, p, e.to_string())),
        })
        .collect();
    Ok(CheckReport { kind, missing })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_file_reads() {
        let text = "[server]\nlisten = \"127.0.0.1:0\"\ncert = \"s.crt\"\nclient_auth_eku = false\n\
                    admins = [\"ops\"]\nkey_cache_entries = 0\nworker_threads = 4\n[limits]\nmax_batch_items = 8\n[log]\nformat = \"json\"\n\
                    level = \"warn\"\n";
        let c = from_str(text, Path::new("/etc/tresor/tresor.toml")).unwrap();
        assert_eq!(c.server.listen.as_deref(), Some("127.0.0.1:0"));
        assert_eq!(
            c.server.cert.unwrap().into_inner(),
            PathBuf::from("/etc/tresor/s.crt")
        );
        assert_eq!(c.server.client_auth_eku, Some(false));
        assert_eq!(c.server.key_cache_entries, Some(0));
        assert_eq!(c.server.worker_threads, Some(4));
        assert_eq!(c.limits.max_batch_items, Some(8));
    }

    #[test]
    fn errors_name_the_line() {
        let p = Path::new("t.toml");
        for (text, line, what) in [
            (
                "[server]\nlisten = \"x\"\nlisten_typo = 1\n",
                3,
                "unknown field",
            ),
            (
                "[server]\n\n[limits]\nmax_batch_items = \"many\"\n",
                4,
                "invalid type",
            ),
            ("[log]\nformat = \"xml\"\n", 2, "not text or json"),
            ("[server]\nidentity_from = \"dn\"\n", 2, "not cn"),
            ("[server]\nlisten = \n", 2, ""),
        ] {
            let e = from_str(text, p).unwrap_err().to_string();
            assert!(e.contains(&format!("line {line},")), "{text:?}: {e}");
            assert!(e.contains(what), "{text:?}: {e}");
            assert!(e.contains("t.toml"), "{e}");
        }
    }
}
