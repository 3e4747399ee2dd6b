//! The certificates the doctor looks at: a verifier that records the server's chain and the
//! real verifier's verdict, what a certificate holds, and the client's certificate, key and
//! CA files.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectAltName};

use super::report::Report;
use tresor_kmip::client::ClientConfig;

/// A server certificate verifier that records the real verifier's verdict and the chain,
/// and lets the handshake finish so the negotiated version and suite can be shown.
#[derive(Debug)]
pub(super) struct Recording {
    pub(super) inner: Arc<WebPkiServerVerifier>,
    pub(super) verdict: Mutex<Option<Result<(), rustls::Error>>>,
    pub(super) leaf: Mutex<Option<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let r = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            .map(|_| ());
        if let Ok(mut v) = self.verdict.lock() {
            *v = Some(r);
        }
        if let Ok(mut l) = self.leaf.lock() {
            *l = Some(end_entity.clone().into_owned());
        }
        Ok(ServerCertVerified::assertion())
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

/// What a certificate file holds that the doctor shows.
pub(super) struct CertFacts {
    pub(super) subject: String,
    pub(super) not_before: u64,
    pub(super) not_after: u64,
    /// `None`: no extended key usage extension.
    pub(super) client_auth: Option<bool>,
    pub(super) names: Vec<String>,
}

pub(super) fn facts(der: &[u8]) -> Result<CertFacts, String> {
    let c = x509_cert::Certificate::from_der(der).map_err(|e| e.to_string())?;
    let tbs = &c.tbs_certificate;
    let exts = tbs.extensions.as_deref().unwrap_or_default();
    let oid = |s| x509_cert::der::asn1::ObjectIdentifier::new_unwrap(s);
    let client_auth = exts
        .iter()
        .find(|e| e.extn_id == oid("2.5.29.37"))
        .and_then(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
        .map(|eku| {
            eku.0
                .iter()
                .any(|o| *o == oid("1.3.6.1.5.5.7.3.2") || *o == oid("2.5.29.37.0"))
        });
    let names = exts
        .iter()
        .find(|e| e.extn_id == oid("2.5.29.17"))
        .and_then(|e| SubjectAltName::from_der(e.extn_value.as_bytes()).ok())
        .map(|san| {
            san.0
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DnsName(d) => Some(d.as_str().to_owned()),
                    GeneralName::IpAddress(ip) => {
                        let b = ip.as_bytes();
                        match b.len() {
                            4 => Some(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
                            16 => <[u8; 16]>::try_from(b)
                                .ok()
                                .map(|a| std::net::Ipv6Addr::from(a).to_string()),
                            _ => None,
                        }
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(CertFacts {
        subject: tbs.subject.to_string(),
        not_before: tbs.validity.not_before.to_unix_duration().as_secs(),
        not_after: tbs.validity.not_after.to_unix_duration().as_secs(),
        client_auth,
        names,
    })
}

pub(super) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads the client's files: (CA roots, client chain, key), one row.
#[allow(clippy::type_complexity)]
pub(super) fn read_files(
    cfg: &ClientConfig,
    r: &mut Report,
) -> Option<(
    rustls::RootCertStore,
    Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
)> {
    let read_certs = |p: &Path| -> Result<Vec<CertificateDer<'static>>, String> {
        let v = CertificateDer::pem_file_iter(p)
            .map_err(|e| format!("'{}': {e}", p.display()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("'{}': {e}", p.display()))?;
        if v.is_empty() {
            return Err(format!("'{}' holds no PEM certificate", p.display()));
        }
        Ok(v)
    };
    let result = (|| {
        let cas = read_certs(&cfg.ca_certs)?;
        let mut roots = rustls::RootCertStore::empty();
        for c in cas {
            roots
                .add(c)
                .map_err(|e| format!("CA '{}': {e}", cfg.ca_certs.display()))?;
        }
        if cfg.certfile.as_os_str().is_empty() {
            return Ok::<_, String>((roots, None));
        }
        let chain = read_certs(&cfg.certfile)?;
        let key = PrivateKeyDer::from_pem_file(&cfg.keyfile)
            .map_err(|e| format!("key '{}': {e}", cfg.keyfile.display()))?;
        Ok((roots, Some((chain, key))))
    })();
    match result {
        Ok(v) => {
            r.ok(
                "files",
                format!(
                    "certificate {}, key {}, CA {}",
                    cfg.certfile.display(),
                    cfg.keyfile.display(),
                    cfg.ca_certs.display()
                ),
            );
            Some(v)
        }
        Err(e) => {
            r.fail(
                "files",
                e,
                "check the paths (certfile, keyfile, ca_certs in pykmip.conf, or --cert --key \
                 --ca): PEM files, readable by this user",
            );
            None
        }
    }
}
