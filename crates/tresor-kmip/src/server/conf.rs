//! PyKMIP `server.conf` support: the `[server]` keys that make sense for tresor.

use std::path::Path;

use super::ServerConfig;
use crate::error::KmipError;

/// Reads the `[server]` section of a PyKMIP `server.conf` into `base`.
///
/// Keys used: `hostname`, `port`, `certificate_path`, `key_path`, `ca_path`, `auth_suite`
/// (`Basic` or `TLS1.2`; both map to tresor's TLS 1.2+1.3 AEAD policy),
/// `enable_tls_client_auth` (require the clientAuth EKU) and `database_path` (returned as the
/// store directory). `policy_path`, `logging_level` and `tls_cipher_suites` are accepted and
/// ignored. tresor's own keys: `crl_path`, `identity_from` (`cn`, `san-email`, `san-uri`) and
/// the server limits `max_batch_items`, `max_response_size`, `max_connections`,
/// `max_connections_per_identity`, `max_requests_per_second`, `read_timeout`,
/// `write_timeout`, `idle_timeout` (seconds), `max_rng_bytes`, `max_key_pairs`,
/// `max_rsa_bits`. Returns the configuration and the `database_path`, if set.
///
/// # Errors
/// [`KmipError::Io`] if the file cannot be read, [`KmipError::Config`] for a bad value.
pub fn from_pykmip_server_conf(
    path: &Path,
    base: ServerConfig,
) -> Result<(ServerConfig, Option<std::path::PathBuf>), KmipError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| KmipError::io(format!("reading '{}'", path.display()), e))?;
    server_conf_from_str(&text, path, base)
}

/// [`from_pykmip_server_conf`] on text already read; `path` only names the file in errors.
pub(crate) fn server_conf_from_str(
    text: &str,
    path: &Path,
    mut base: ServerConfig,
) -> Result<(ServerConfig, Option<std::path::PathBuf>), KmipError> {
    let err = |reason: String| KmipError::Config {
        path: path.display().to_string(),
        reason,
    };
    let mut section = String::new();
    let mut host: Option<String> = None;
    let mut port: Option<u16> = None;
    let mut database = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.trim().to_owned();
            continue;
        }
        if section != "server" {
            continue;
        }
        let Some((k, v)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            return Err(err(format!("line '{line}' is not key=value")));
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "hostname" => host = Some(v.to_owned()),
            "port" => {
                port = Some(
                    v.parse()
                        .map_err(|_| err(format!("port '{v}' is not a number")))?,
                )
            }
            "certificate_path" => base.cert = v.into(),
            "key_path" => base.key = v.into(),
            "ca_path" => base.ca = v.into(),
            "auth_suite" => {
                if !matches!(v, "Basic" | "TLS1.2") {
                    return Err(err(format!("auth_suite '{v}' is not Basic or TLS1.2")));
                }
            }
            "enable_tls_client_auth" => {
                base.require_client_auth_eku = match v.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" | "on" => true,
                    "false" | "no" | "0" | "off" => false,
                    _ => {
                        return Err(err(format!(
                            "enable_tls_client_auth '{v}' is not a boolean"
                        )));
                    }
                }
            }
            "database_path" => database = Some(std::path::PathBuf::from(v)),
            "crl_path" => base.crl = Some(v.into()),
            "identity_from" => {
                base.identity_from = v.parse().map_err(|_| {
                    err(format!(
                        "identity_from '{v}' is not cn, san-email or san-uri"
                    ))
                })?;
            }
            "max_batch_items"
            | "max_response_size"
            | "max_connections"
            | "max_connections_per_identity"
            | "max_requests_per_second"
            | "read_timeout"
            | "write_timeout"
            | "idle_timeout"
            | "max_rng_bytes"
            | "max_key_pairs"
            | "max_rsa_bits" => {
                let n: u32 = v
                    .parse()
                    .map_err(|_| err(format!("{k} '{v}' is not a number")))?;
                let b = &mut base.server_limits;
                let secs = std::time::Duration::from_secs(u64::from(n));
                let n_usize = n as usize;
                match k {
                    "max_batch_items" => b.max_batch_items = n_usize,
                    "max_response_size" => b.max_response_size = n_usize,
                    "max_connections" => b.max_connections = n_usize,
                    "max_connections_per_identity" => b.max_connections_per_identity = n_usize,
                    "max_requests_per_second" => b.requests_per_second = n,
                    "read_timeout" => b.read_timeout = secs,
                    "write_timeout" => b.write_timeout = secs,
                    "idle_timeout" => base.idle_timeout = secs,
                    "max_rng_bytes" => b.max_rng_bytes = n_usize,
                    "max_key_pairs" => b.max_key_pairs = n_usize,
                    _ => b.max_rsa_bits = i32::try_from(n).unwrap_or(i32::MAX),
                }
            }
            "policy_path" | "logging_level" | "tls_cipher_suites" => {}
            other => return Err(err(format!("unknown key '{other}' in [server]"))),
        }
    }
    if host.is_some() || port.is_some() {
        let (h0, p0) = base
            .listen
            .rsplit_once(':')
            .map(|(h, p)| (h.to_owned(), p.parse().unwrap_or(5696)))
            .unwrap_or(("127.0.0.1".to_owned(), 5696));
        base.listen = format!("{}:{}", host.unwrap_or(h0), port.unwrap_or(p0));
    }
    Ok((base, database))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pykmip_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("server.conf");
        std::fs::write(
            &p,
            "[server]\nhostname=127.0.0.1\nport=5697\ncertificate_path=/c/s.crt\nkey_path=/c/s.key\n\
             ca_path=/c/ca.crt\nauth_suite=TLS1.2\nenable_tls_client_auth=False\n\
             database_path=/tmp/db\npolicy_path=/p\n",
        )
        .unwrap();
        let (c, db) = from_pykmip_server_conf(&p, ServerConfig::new("a", "b", "c")).unwrap();
        assert_eq!(c.listen, "127.0.0.1:5697");
        assert_eq!(c.cert, Path::new("/c/s.crt"));
        assert!(!c.require_client_auth_eku);
        assert_eq!(db.as_deref(), Some(Path::new("/tmp/db")));
        std::fs::write(
            &p,
            "[server]\ncrl_path=/c/ca.crl\nidentity_from=san-uri\nmax_batch_items=8\n\
             read_timeout=5\nidle_timeout=60\nmax_rsa_bits=3072\n",
        )
        .unwrap();
        let (c, _) = from_pykmip_server_conf(&p, ServerConfig::new("a", "b", "c")).unwrap();
        assert_eq!(c.crl.as_deref(), Some(Path::new("/c/ca.crl")));
        assert_eq!(c.identity_from, crate::server::IdentitySource::SanUri);
        assert_eq!(c.server_limits.max_batch_items, 8);
        assert_eq!(c.server_limits.read_timeout.as_secs(), 5);
        assert_eq!(c.idle_timeout.as_secs(), 60);
        assert_eq!(c.server_limits.max_rsa_bits, 3072);
        std::fs::write(&p, "[server]\nmax_key_pairs=-1\n").unwrap();
        assert!(from_pykmip_server_conf(&p, ServerConfig::new("a", "b", "c")).is_err());
        std::fs::write(&p, "[server]\nfrobnicate=1\n").unwrap();
        assert!(from_pykmip_server_conf(&p, ServerConfig::new("a", "b", "c")).is_err());
    }
}
