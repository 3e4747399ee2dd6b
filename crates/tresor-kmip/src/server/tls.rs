//! Server TLS: TLS 1.3 and TLS 1.2 AEAD suites only, client certificates required (checked
//! against an optional CRL), and the client identity taken from the certificate.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use x509_cert::der::asn1::{PrintableStringRef, Utf8StringRef};
use x509_cert::der::{Decode, Tag, Tagged};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectAltName};

use super::IdentitySource;
use crate::error::KmipError;

fn tls_err(what: &str, p: &Path, e: &dyn std::fmt::Display) -> KmipError {
    KmipError::Tls(format!("{what} '{}': {e}", p.display()))
}

/// Reads every CRL of a PEM file (at least one).
fn read_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, KmipError> {
    let crls = CertificateRevocationListDer::pem_file_iter(path)
        .map_err(|e| tls_err("reading CRL file", path, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err("parsing CRL file", path, &e))?;
    if crls.is_empty() {
        return Err(tls_err("CRL file", path, &"no X509 CRL"));
    }
    Ok(crls)
}

/// Builds the rustls server configuration; with `crl`, client certificates listed in it are
/// refused during the handshake.
pub(super) fn server_config(
    cert: &Path,
    key: &Path,
    ca: &Path,
    crl: Option<&Path>,
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
    let mut builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), p.clone());
    if let Some(crl) = crl {
        // Fail closed: a client whose issuer has no CRL in the file is refused too (its
        // status is unknown), so a CRL signed by the wrong CA cannot silently disable
        // revocation.
        builder = builder
            .with_crls(read_crls(crl)?)
            .only_check_end_entity_revocation();
    }
    let verifier = builder
        .build()
        .map_err(|e| tls_err("building the client verifier from", ca, &e))?;
    rustls::ServerConfig::builder_with_provider(p)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| KmipError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, private)
        .map_err(|e| tls_err("using key", key, &e))
}

/// OID 2.5.4.3 (commonName).
const OID_CN: x509_cert::der::asn1::ObjectIdentifier =
    x509_cert::der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3");
/// OID 1.3.6.1.5.5.7.3.2 (id-kp-clientAuth).
const OID_CLIENT_AUTH: x509_cert::der::asn1::ObjectIdentifier =
    x509_cert::der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
/// OID 2.5.29.37.0 (anyExtendedKeyUsage).
const OID_ANY_EKU: x509_cert::der::asn1::ObjectIdentifier =
    x509_cert::der::asn1::ObjectIdentifier::new_unwrap("2.5.29.37.0");
/// OID 2.5.29.37 (extKeyUsage).
const OID_EKU: x509_cert::der::asn1::ObjectIdentifier =
    x509_cert::der::asn1::ObjectIdentifier::new_unwrap("2.5.29.37");
/// OID 2.5.29.17 (subjectAltName).
const OID_SAN: x509_cert::der::asn1::ObjectIdentifier =
    x509_cert::der::asn1::ObjectIdentifier::new_unwrap("2.5.29.17");

/// The longest identity accepted, in bytes.
const MAX_IDENTITY: usize = 256;

/// The client identity of a certificate.
///
/// With [`IdentitySource::CommonName`], the first subject CN encoded as UTF8String or
/// PrintableString (CNs of other string types are skipped: a BMPString or TeletexString CN
/// could render like another name); with `SanEmail` / `SanUri`, the first subject alternative
/// name of that kind. An identity that is empty, longer than 256 bytes or holds a control
/// character is refused. With `require_eku`, a certificate whose extended key usage lacks
/// clientAuth is refused (as PyKMIP does); a certificate without the extension is accepted.
pub(super) fn identity(
    cert: &CertificateDer<'_>,
    require_eku: bool,
    source: IdentitySource,
) -> Result<String, KmipError> {
    let refused = |why: String| KmipError::Tls(format!("client certificate refused: {why}"));
    let cert = x509_cert::Certificate::from_der(cert.as_ref())
        .map_err(|e| refused(format!("it could not be parsed ({e})")))?;
    let tbs = &cert.tbs_certificate;
    let exts = tbs.extensions.as_deref().unwrap_or_default();
    if require_eku && let Some(ext) = exts.iter().find(|e| e.extn_id == OID_EKU) {
        let eku = ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
            .map_err(|e| refused(format!("its extended key usage could not be parsed ({e})")))?;
        if !eku
            .0
            .iter()
            .any(|o| *o == OID_CLIENT_AUTH || *o == OID_ANY_EKU)
        {
            return Err(refused(
                "it lacks the clientAuth extended key usage".to_owned(),
            ));
        }
    }
    let id = match source {
        IdentitySource::CommonName => {
            let mut found = None;
            'rdns: for rdn in tbs.subject.0.iter() {
                for atv in rdn.0.iter() {
                    if atv.oid != OID_CN {
                        continue;
                    }
                    let v = &atv.value;
                    let s = match v.tag() {
                        Tag::Utf8String => v
                            .decode_as::<Utf8StringRef<'_>>()
                            .ok()
                            .map(|s| s.as_str().to_owned()),
                        Tag::PrintableString => v
                            .decode_as::<PrintableStringRef<'_>>()
                            .ok()
                            .map(|s| s.as_str().to_owned()),
                        _ => None,
                    };
                    if let Some(s) = s {
                        found = Some(s);
                        break 'rdns;
                    }
                }
            }
            found.ok_or_else(|| {
                refused(
                    "its subject has no common name encoded as UTF8String or PrintableString \
                     (or set --identity-from san-email|san-uri)"
                        .to_owned(),
                )
            })?
        }
        IdentitySource::SanEmail | IdentitySource::SanUri => {
            let what = if source == IdentitySource::SanEmail {
                "e-mail"
            } else {
                "URI"
            };
            let san = match exts.iter().find(|e| e.extn_id == OID_SAN) {
                Some(ext) => SubjectAltName::from_der(ext.extn_value.as_bytes()).map_err(|e| {
                    refused(format!(
                        "its subject alternative name could not be parsed ({e})"
                    ))
                })?,
                None => SubjectAltName(Vec::new()),
            };
            san.0
                .iter()
                .find_map(|n| match (n, source) {
                    (GeneralName::Rfc822Name(s), IdentitySource::SanEmail)
                    | (GeneralName::UniformResourceIdentifier(s), IdentitySource::SanUri) => {
                        Some(s.as_str().to_owned())
                    }
                    _ => None,
                })
                .ok_or_else(|| refused(format!("it has no {what} subject alternative name")))?
        }
    };
    check_identity(&id).map_err(refused)?;
    Ok(id)
}

/// Refuses identities that are empty, too long or hold control characters.
pub(super) fn check_identity(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("its identity is empty".to_owned());
    }
    if id.len() > MAX_IDENTITY {
        return Err(format!("its identity is longer than {MAX_IDENTITY} bytes"));
    }
    if id.chars().any(char::is_control) {
        return Err(format!(
            "its identity {:?} holds a control character",
            id.escape_debug().to_string()
        ));
    }
    Ok(())
}
