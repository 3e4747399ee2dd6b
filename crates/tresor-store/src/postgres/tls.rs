//! TLS to PostgreSQL with rustls (the same major and crypto provider, ring, as the KMIP
//! server), and the libpq connection settings `tokio-postgres` does not parse itself.
//!
//! `sslmode` follows libpq: `disable`; `allow`/`prefer` (TLS if the server offers it, not
//! verified); `require` (TLS or fail; the certificate is checked against `sslrootcert` when one
//! is named, else not at all, as libpq does); `verify-ca` (chain to the roots); `verify-full`
//! (chain and host name). `sslcert`/`sslkey` give a client certificate.
//!
//! Unlike libpq, the default is not always `prefer`: without an `sslmode` in the URL, a
//! connection is `verify-full` when TLS is configured (`sslrootcert`, `sslcert` or
//! `TRESOR_PG_CA` given) or when the host is not loopback or a Unix socket, so a network
//! attacker cannot stand in for the database. `prefer`/`require` without verification happen
//! only when the URL asks for them. The roots for verification are `sslrootcert`, else the
//! file in `TRESOR_PG_CA`, else `~/.postgresql/root.crt`, else the system's root certificates.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use postgres::config::SslMode;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;

/// How the certificate of the server is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Not at all (libpq `prefer`/`require` without a root certificate).
    None,
    /// Chain to the root certificates, any host name (`verify-ca`).
    Ca,
    /// Chain and host name (`verify-full`).
    Full,
}

/// The TLS settings taken out of a PostgreSQL URL.
#[derive(Clone, Debug)]
pub(crate) struct TlsSettings {
    pub(crate) mode: SslMode,
    pub(crate) verify: Verify,
    pub(crate) root_cert: Option<PathBuf>,
    pub(crate) client_cert: Option<(PathBuf, PathBuf)>,
}

fn bad(msg: String) -> StoreError {
    StoreError::Unavailable(format!("bad PostgreSQL URL: {msg}"))
}

fn percent_decode(s: &str) -> Result<String, StoreError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| bad(format!("bad percent escape in '{s}'")))?;
                out.push(hex);
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad(format!("'{s}' is not UTF-8 once decoded")))
}

/// Splits the libpq TLS parameters off a `postgres://` URL: returns the URL left for
/// `tokio-postgres` (with an `sslmode` it understands) and the TLS settings.
pub(crate) fn split_url(url: &str) -> Result<(String, TlsSettings), StoreError> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut kept = Vec::new();
    let mut mode = None;
    let mut root_cert = None;
    let mut cert = None;
    let mut key = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "sslmode" => mode = Some(percent_decode(v)?),
            "sslrootcert" => root_cert = Some(PathBuf::from(percent_decode(v)?)),
            "sslcert" => cert = Some(PathBuf::from(percent_decode(v)?)),
            "sslkey" => key = Some(PathBuf::from(percent_decode(v)?)),
            _ => kept.push(pair),
        }
    }
    if root_cert.is_none() {
        root_cert = std::env::var_os("TRESOR_PG_CA")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
    }
    let mut rest = base.to_owned();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    let default_mode = if root_cert.is_some() || cert.is_some() || !is_local(&rest) {
        "verify-full"
    } else {
        "prefer"
    };
    let home_root =
        || std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".postgresql/root.crt"));
    let (mode, verify) = match mode.as_deref().unwrap_or(default_mode) {
        "disable" => (SslMode::Disable, Verify::None),
        "allow" | "prefer" => (SslMode::Prefer, Verify::None),
        "require" if root_cert.is_some() => (SslMode::Require, Verify::Ca),
        "require" => (SslMode::Require, Verify::None),
        "verify-ca" => (SslMode::Require, Verify::Ca),
        "verify-full" => (SslMode::Require, Verify::Full),
        other => {
            return Err(bad(format!(
                "sslmode '{other}' is not one of disable, allow, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    if verify != Verify::None && root_cert.is_none() {
        // Else the system's roots (see `connector`).
        root_cert = home_root().filter(|p| p.exists());
    }
    if root_cert.as_deref() == Some(Path::new("system")) {
        return Err(bad(
            "sslrootcert=system is not supported; name a CA file".into()
        ));
    }
    let client_cert = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err(bad("sslcert and sslkey must be given together".into())),
    };
    Ok((
        rest,
        TlsSettings {
            mode,
            verify,
            root_cert,
            client_cert,
        },
    ))
}

/// Whether every host of the URL left for `tokio-postgres` is a Unix socket or a loopback
/// address (`localhost`, `127.0.0.0/8`, `::1`), where no network lies between client and
/// server. A URL that does not parse counts as remote (it fails later with its own error).
fn is_local(url: &str) -> bool {
    use std::str::FromStr as _;
    let Ok(c) = postgres::Config::from_str(url) else {
        return false;
    };
    if !c.get_hostaddrs().is_empty() {
        return false;
    }
    let hosts = c.get_hosts();
    !hosts.is_empty()
        && hosts.iter().all(|h| match h {
            postgres::config::Host::Unix(_) => true,
            postgres::config::Host::Tcp(name) => {
                let name = name.trim_start_matches('[').trim_end_matches(']');
                name.eq_ignore_ascii_case("localhost")
                    || name
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        })
}

/// Adds what to do to a connection error caused by a server certificate that did not verify.
pub(crate) fn explain(s: &TlsSettings, e: StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(msg) if s.verify != Verify::None && msg.contains("certificate") => {
            let roots = match &s.root_cert {
                Some(p) => format!("'{}'", p.display()),
                None => "the system's root certificates".into(),
            };
            let mode = if s.verify == Verify::Full {
                "verify-full"
            } else {
                "verify-ca"
            };
            StoreError::Unavailable(format!(
                "{msg}; the PostgreSQL server's certificate failed {mode} verification against {roots}: set TRESOR_PG_CA=FILE (or sslrootcert=FILE in the URL) to the CA that signed it, or put sslmode=require in the URL to connect without verifying the server"
            ))
        }
        e => e,
    }
}

/// The system's root certificates (`SSL_CERT_FILE`/`SSL_CERT_DIR` or the platform store).
fn system_roots() -> Result<rustls::RootCertStore, StoreError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(StoreError::Unavailable(
            "PostgreSQL TLS: no system root certificates found to verify the server; set TRESOR_PG_CA=FILE (or sslrootcert=FILE) to its CA".into(),
        ));
    }
    Ok(roots)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the connector for these settings (root and client certificates read now, so a
/// missing file is reported once, at start-up).
pub(crate) fn connector(s: &TlsSettings) -> Result<MakeRustlsConnect, StoreError> {
    let file_err = |what: &str, p: &Path, e: &dyn std::fmt::Display| {
        StoreError::Unavailable(format!("PostgreSQL TLS: {what} '{}': {e}", p.display()))
    };
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = match (&s.root_cert, s.verify) {
        (_, Verify::None) => Arc::new(NoVerify(provider.clone())),
        (None, v) => {
            let inner = WebPkiServerVerifier::builder_with_provider(
                Arc::new(system_roots()?),
                provider.clone(),
            )
            .build()
            .map_err(|e| StoreError::Unavailable(format!("PostgreSQL TLS: system roots: {e}")))?;
            Arc::new(ChainVerify {
                inner,
                check_name: v == Verify::Full,
            })
        }
        (Some(root), v) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(root)
                .map_err(|e| file_err("reading sslrootcert", root, &e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_err("parsing sslrootcert", root, &e))?;
            if certs.is_empty() {
                return Err(file_err("sslrootcert", root, &"no certificate in it"));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| file_err("using sslrootcert", root, &e))?;
            }
            let inner =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| file_err("using sslrootcert", root, &e))?;
            Arc::new(ChainVerify {
                inner,
                check_name: v == Verify::Full,
            })
        }
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Unavailable(format!("PostgreSQL TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match &s.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| file_err("reading sslcert", cert, &e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_err("parsing sslcert", cert, &e))?;
            let k = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| file_err("reading sslkey", key, &e))?;
            builder
                .with_client_auth_cert(chain, k)
                .map_err(|e| file_err("using sslkey", key, &e))?
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

/// `verify-ca` / `verify-full`: the chain must lead to a root; the name only for `verify-full`.
#[derive(Debug)]
struct ChainVerify {
    inner: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for ChainVerify {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// libpq's `prefer`/`require` without a root certificate: encrypted, the server certificate
/// not checked (the handshake signature still is).
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Reads the password for `user@host:port/db` from a libpq password file (`PGPASSFILE`, else
/// `~/.pgpass`): lines `host:port:db:user:password`, `*` matches anything, `\:` and `\\`
/// escape. As libpq does, a file others may read is ignored.
pub(crate) fn pgpass(file: &Path, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: password file '{}' is readable by others; ignored (chmod 0600)",
                file.display()
            );
            return None;
        }
    }
    let text = std::fs::read_to_string(file).ok()?;
    let port = port.to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::with_capacity(5);
        let mut cur = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => cur.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        fields.push(cur);
        if fields.len() != 5 {
            continue;
        }
        let matches = |pat: &str, v: &str| pat == "*" || pat == v;
        if matches(&fields[0], host)
            && matches(&fields[1], &port)
            && matches(&fields[2], db)
            && matches(&fields[3], user)
        {
            return fields.pop();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_url_keeps_other_parameters_and_takes_tls_ones() {
        let (rest, s) = split_url(
            "postgres://u@h:5/db?connect_timeout=3&sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.crt",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u@h:5/db?connect_timeout=3");
        assert_eq!(s.mode, SslMode::Require);
        assert_eq!(s.verify, Verify::Full);
        assert_eq!(s.root_cert.as_deref(), Some(Path::new("/tmp/ca.crt")));
        let (rest, s) = split_url("postgres://u@h/db").unwrap();
        assert_eq!(rest, "postgres://u@h/db");
        // A remote host without sslmode: verify-full by default.
        assert_eq!((s.mode, s.verify), (SslMode::Require, Verify::Full));
        let (_, s) = split_url("postgres://u@127.0.0.1:5/db").unwrap();
        assert_eq!((s.mode, s.verify), (SslMode::Prefer, Verify::None));
        let (_, s) = split_url("postgres://u@localhost/db?host=/run/postgresql").unwrap();
        assert_eq!((s.mode, s.verify), (SslMode::Prefer, Verify::None));
        let (_, s) = split_url("postgres://u@[::1]:5/db").unwrap();
        assert_eq!((s.mode, s.verify), (SslMode::Prefer, Verify::None));
        let (_, s) = split_url("postgres://u@localhost/db?hostaddr=192.0.2.1").unwrap();
        assert_eq!(s.verify, Verify::Full);
        // TLS configured on a loopback host: verify-full too.
        let (_, s) = split_url("postgres://u@127.0.0.1/db?sslrootcert=/x").unwrap();
        assert_eq!((s.mode, s.verify), (SslMode::Require, Verify::Full));
        let (_, s) = split_url("postgres://u@h/db?sslmode=prefer").unwrap();
        assert_eq!((s.mode, s.verify), (SslMode::Prefer, Verify::None));
        let (_, s) = split_url("postgres://u@h/db?sslmode=require").unwrap();
        assert_eq!((s.mode, s.verify), (SslMode::Require, Verify::None));
        let (_, s) = split_url("postgres://u@h/db?sslmode=require&sslrootcert=/x").unwrap();
        assert_eq!(s.verify, Verify::Ca);
    }

    #[test]
    fn split_url_refuses_bad_settings_by_name() {
        let e = split_url("postgres://u@h/db?sslmode=sometimes").unwrap_err();
        assert!(e.to_string().contains("sslmode 'sometimes'"), "{e}");
        let e = split_url("postgres://u@h/db?sslmode=verify-ca&sslrootcert=system").unwrap_err();
        assert!(e.to_string().contains("sslrootcert=system"), "{e}");
        let e = split_url("postgres://u@h/db?sslcert=/a").unwrap_err();
        assert!(e.to_string().contains("sslkey"), "{e}");
        let e = split_url("postgres://u@h/db?sslrootcert=%zz").unwrap_err();
        assert!(e.to_string().contains("percent"), "{e}");
    }

    #[test]
    fn connector_names_a_missing_root_file() {
        let (_, s) =
            split_url("postgres://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt")
                .unwrap();
        let e = connector(&s).err().expect("missing file refused");
        assert!(e.to_string().contains("/nonexistent/ca.crt"), "{e}");
    }

    #[test]
    fn pgpass_matches_wildcards_and_escapes_and_ignores_open_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgpass");
        std::fs::write(
            &f,
            "# comment\nother:5432:db:u:nope\n*:5433:db:u:pa\\:ss\\\\w\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert_eq!(
                pgpass(&f, "h", 5433, "db", "u").as_deref(),
                Some("pa:ss\\w")
            );
            assert_eq!(pgpass(&f, "h", 5432, "db", "u"), None);
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_eq!(pgpass(&f, "h", 5433, "db", "u"), None);
        }
    }
}
