//! Server TLS: TLS 1.3 and TLS 1.2 AEAD suites only, client certificates required, and the
//! client identity taken from the certificate.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::der;
use crate::error::KmipError;

fn tls_err(what: &str, p: &Path, e: &dyn std::fmt::Display) -> KmipError {
    KmipError::Tls(format!("{what} '{}': {e}", p.display()))
}

/// Builds the rustls server configuration.
pub(super) fn server_config(
    cert: &Path,
    key: &Path,
    ca: &Path,
) -> Result<rustls::ServerConfig, KmipError> {
    let mut roots = rustls::RootCertStore::empty();
    let cas = CertificateDer::pem_file_iter(ca)
        .map_err(|e| tls_err("reading CA file", ca, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err("parsing CA file", ca, &e))?;
    if cas.is_empty() {
        return Err(tls_err("CA file", ca, &"no certificate"));
    }
    for c in cas {
        roots
            .add(c)
            .map_err(|e| tls_err("adding CA from", ca, &e))?;
    }
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls_err("reading certificate file", cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err("parsing certificate file", cert, &e))?;
    if chain.is_empty() {
        return Err(tls_err("certificate file", cert, &"no certificate"));
    }
    let private =
        PrivateKeyDer::from_pem_file(key).map_err(|e| tls_err("reading key file", key, &e))?;
    // AEAD suites only: ring's TLS 1.3 suites and the ECDHE AES-GCM/ChaCha20 TLS 1.2 suites
    // (no CBC suites exist in rustls at all).
    let mut p = provider::default_provider();
    p.cipher_suites = vec![
        provider::cipher_suite::TLS13_AES_256_GCM_SHA384,
        provider::cipher_suite::TLS13_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    let p = Arc::new(p);
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), p.clone())
        .build()
        .map_err(|e| tls_err("building the client verifier from", ca, &e))?;
    rustls::ServerConfig::builder_with_provider(p)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| KmipError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, private)
        .map_err(|e| tls_err("using key", key, &e))
}

/// The client identity: the subject CN, else the first SAN entry. With `require_eku`, a
/// certificate whose extended key usage lacks clientAuth is refused (as PyKMIP does); a
/// certificate without the extension is accepted.
pub(super) fn identity(cert: &CertificateDer<'_>, require_eku: bool) -> Result<String, KmipError> {
    let info = der::cert_info(cert.as_ref())
        .ok_or_else(|| KmipError::Tls("client certificate could not be parsed".into()))?;
    if require_eku && info.has_eku && !info.client_auth {
        return Err(KmipError::Tls(
            "client certificate lacks the clientAuth extended key usage".into(),
        ));
    }
    info.common_name
        .filter(|n| !n.is_empty())
        .or_else(|| info.san.into_iter().next())
        .ok_or_else(|| KmipError::Tls("client certificate names no identity (no CN or SAN)".into()))
}
