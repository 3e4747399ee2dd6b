//! Development certificates for KMIP mutual TLS (`tresor kmip certs`).
//!
//! [`init`] makes a CA, a server certificate for `localhost` / `127.0.0.1` and a client
//! certificate `client`; [`client`] adds more client certificates signed by the same CA.
//! Keys are ECDSA P-256, written PKCS#8 PEM with mode 0600 in a 0700 directory.
//!
//! Certificates are valid from an hour ago for a bounded time ([`Lifetimes`]: CA 10 years,
//! server 2 years, clients 1 year). [`revoke`] adds a certificate to `ca.crl`, a CRL signed by
//! the CA that `tresor kmip serve --crl` loads ([`init`] writes it empty).
//!
//! # Examples
//! ```
//! let dir = tempfile::tempdir()?;
//! let files = tresor_kmip::certs::init(dir.path())?;
//! assert!(files.server_cert.exists());
//! let alice = tresor_kmip::certs::client(dir.path(), "alice")?;
//! assert!(alice.cert.ends_with("alice.crt"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs;
#[cfg(unix)]
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationListParams,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, RevokedCertParams, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use x509_cert::der::Decode;

use crate::error::KmipError;

/// The common name of the development CA.
pub const CA_COMMON_NAME: &str = "tresor KMIP development CA";

/// The CRL file [`init`] and [`revoke`] write in the certificate folder.
pub const CRL_FILE: &str = "ca.crl";

/// The longest validity [`Lifetimes`] accepts, in days (100 years).
pub const MAX_DAYS: u32 = 36_500;

/// How long issued certificates are valid, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// The CA (3650: 10 years).
    pub ca_days: u32,
    /// The server certificate (730: 2 years).
    pub server_days: u32,
    /// Client certificates (365: 1 year).
    pub client_days: u32,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            ca_days: 3650,
            server_days: 730,
            client_days: 365,
        }
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Sets `p` valid from an hour ago (clock skew) for `days` days.
fn set_validity(p: &mut CertificateParams, days: u32) -> Result<(), KmipError> {
    if days == 0 || days > MAX_DAYS {
        return Err(KmipError::Certs(format!(
            "validity of {days} days must be 1..{MAX_DAYS}"
        )));
    }
    let now = unix_now();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    p.not_before = epoch + Duration::from_secs(now.saturating_sub(3600));
    p.not_after = epoch + Duration::from_secs(now + u64::from(days) * 86_400);
    Ok(())
}

/// The files [`init`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    /// `ca.crt`.
    pub ca_cert: PathBuf,
    /// `ca.key` (0600).
    pub ca_key: PathBuf,
    /// `server.crt`.
    pub server_cert: PathBuf,
    /// `server.key` (0600).
    pub server_key: PathBuf,
    /// `client.crt`.
    pub client_cert: PathBuf,
    /// `client.key` (0600).
    pub client_key: PathBuf,
    /// `ca.crl`, the CA's (empty) certificate revocation list.
    pub crl: PathBuf,
}

/// The files [`client`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFiles {
    /// `<name>.crt`.
    pub cert: PathBuf,
    /// `<name>.key` (0600).
    pub key: PathBuf,
}

fn certs_err(e: rcgen::Error) -> KmipError {
    KmipError::Certs(e.to_string())
}

fn ca_params() -> Result<CertificateParams, KmipError> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(certs_err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

/// Writes a key or certificate file atomically, 0600, never through a symlink
/// ([`tresor_store::fsutil::write_private_atomic`]). Certificates are written 0600 like keys.
fn write_file(path: &Path, data: &str, _secret: bool) -> Result<(), KmipError> {
    tresor_store::fsutil::write_private_atomic(path, data.as_bytes())
        .map_err(|(what, p, e)| KmipError::io(format!("{what} '{}'", p.display()), e))
}

fn make_dir(dir: &Path) -> Result<(), KmipError> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    b.mode(0o700);
    b.create(dir)
        .map_err(|e| KmipError::io(format!("creating '{}'", dir.display()), e))
}

/// Checks that `name` is usable as a certificate name and a file name.
fn check_name(name: &str) -> Result<(), KmipError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(KmipError::Certs(format!(
            "client name '{name}' must be 1-64 letters, digits, '-', '_', '.' or '@'"
        )))
    }
}

fn leaf(
    cn: &str,
    sans: Vec<String>,
    eku: ExtendedKeyUsagePurpose,
    days: u32,
    (ca, ca_key): (&Certificate, &KeyPair),
) -> Result<(String, String), KmipError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(certs_err)?;
    let mut p = CertificateParams::new(sans).map_err(certs_err)?;
    set_validity(&mut p, days)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.is_ca = IsCa::NoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![eku];
    p.use_authority_key_identifier_extension = true;
    let cert = p.signed_by(&key, ca, ca_key).map_err(certs_err)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Loads the CA in `dir` as an issuer.
fn load_ca(dir: &Path) -> Result<(Certificate, KeyPair), KmipError> {
    let path = dir.join("ca.key");
    let pem = fs::read_to_string(&path)
        .map_err(|e| KmipError::io(format!("reading '{}'", path.display()), e))?;
    let key = KeyPair::from_pem(&pem).map_err(certs_err)?;
    // Same subject and key as the stored CA certificate, so what it signs chains to it.
    let ca = ca_params()?.self_signed(&key).map_err(certs_err)?;
    Ok((ca, key))
}

/// Creates a CA, a server certificate (SAN `localhost`, `127.0.0.1`), a client certificate
/// (CN `client`) and an empty CRL in `dir`, replacing any there, with the default
/// [`Lifetimes`].
///
/// # Errors
/// [`KmipError::Io`] if a file cannot be written, [`KmipError::Certs`] if generation fails.
pub fn init(dir: &Path) -> Result<CertFiles, KmipError> {
    init_with(dir, &Lifetimes::default())
}

/// [`init`] with the given validity periods.
///
/// # Errors
/// As [`init`]; [`KmipError::Certs`] for a validity of 0 or more than [`MAX_DAYS`] days.
pub fn init_with(dir: &Path, days: &Lifetimes) -> Result<CertFiles, KmipError> {
    for d in [days.ca_days, days.server_days, days.client_days] {
        set_validity(&mut CertificateParams::default(), d)?;
    }
    make_dir(dir)?;
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(certs_err)?;
    let mut ca_p = ca_params()?;
    set_validity(&mut ca_p, days.ca_days)?;
    let ca = ca_p.self_signed(&ca_key).map_err(certs_err)?;
    let files = CertFiles {
        ca_cert: dir.join("ca.crt"),
        ca_key: dir.join("ca.key"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.crt"),
        client_key: dir.join("client.key"),
        crl: dir.join(CRL_FILE),
    };
    write_file(&files.ca_key, &ca_key.serialize_pem(), true)?;
    write_file(&files.ca_cert, &ca.pem(), false)?;
    let (cert, key) = leaf(
        "localhost",
        vec!["localhost".into(), "127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
        days.server_days,
        (&ca, &ca_key),
    )?;
    write_file(&files.server_key, &key, true)?;
    write_file(&files.server_cert, &cert, false)?;
    let (cert, key) = leaf(
        "client",
        Vec::new(),
        ExtendedKeyUsagePurpose::ClientAuth,
        days.client_days,
        (&ca, &ca_key),
    )?;
    write_file(&files.client_key, &key, true)?;
    write_file(&files.client_cert, &cert, false)?;
    write_crl(dir, &ca, &ca_key, Vec::new())?;
    Ok(files)
}

/// Issues a client certificate with common name `name` from the CA in `dir`
/// (`<name>.crt`, `<name>.key`), valid for the default 365 days.
///
/// # Errors
/// [`KmipError::Certs`] for a bad name or if `dir` holds no CA; [`KmipError::Io`] on I/O.
pub fn client(dir: &Path, name: &str) -> Result<ClientFiles, KmipError> {
    client_with(dir, name, Lifetimes::default().client_days)
}

/// [`client`], valid for `days` days.
///
/// # Errors
/// As [`client`]; [`KmipError::Certs`] for a validity of 0 or more than [`MAX_DAYS`] days.
pub fn client_with(dir: &Path, name: &str, days: u32) -> Result<ClientFiles, KmipError> {
    check_name(name)?;
    set_validity(&mut CertificateParams::default(), days)?;
    if matches!(name, "ca" | "server") {
        return Err(KmipError::Certs(format!(
            "client name '{name}' would overwrite the {name} files"
        )));
    }
    let (ca, ca_key) = load_ca(dir)?;
    let (cert, key) = leaf(
        name,
        Vec::new(),
        ExtendedKeyUsagePurpose::ClientAuth,
        days,
        (&ca, &ca_key),
    )?;
    let files = ClientFiles {
        cert: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
    };
    write_file(&files.key, &key, true)?;
    write_file(&files.cert, &cert, false)?;
    Ok(files)
}

/// Which certificate [`revoke`] adds to the CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeTarget {
    /// `<name>.crt` in the certificate folder.
    Name(String),
    /// A certificate file.
    CertFile(PathBuf),
    /// A serial number in hex (`:` separators allowed).
    Serial(String),
}

/// What [`revoke`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The revoked serial number, lowercase hex.
    pub serial: String,
    /// The CRL file written (or already listing the serial).
    pub crl: PathBuf,
    /// True if and only if the CRL already listed the serial (nothing was written).
    pub already: bool,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The serial's value bytes without DER's leading zero bytes.
fn serial_value(bytes: &[u8]) -> Vec<u8> {
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    match bytes.get(skip..) {
        Some(rest) if !rest.is_empty() => rest.to_vec(),
        _ => vec![0],
    }
}

/// The serial number of the certificate at `path`, which the CA in `dir` must have issued.
fn serial_of(dir: &Path, path: &Path) -> Result<Vec<u8>, KmipError> {
    let read = |p: &Path| -> Result<x509_cert::Certificate, KmipError> {
        let der = CertificateDer::from_pem_file(p)
            .map_err(|e| KmipError::Certs(format!("reading '{}': {e}", p.display())))?;
        x509_cert::Certificate::from_der(der.as_ref())
            .map_err(|e| KmipError::Certs(format!("parsing '{}': {e}", p.display())))
    };
    let cert = read(path)?;
    let ca = read(&dir.join("ca.crt"))?;
    // Same issuer name, and (when both certificates say) the same key: every development CA
    // has the same name.
    let ext = |c: &x509_cert::Certificate, oid: &str| -> Option<Vec<u8>> {
        let oid = x509_cert::der::asn1::ObjectIdentifier::new(oid).ok()?;
        c.tbs_certificate
            .extensions
            .as_deref()?
            .iter()
            .find(|e| e.extn_id == oid)
            .map(|e| e.extn_value.as_bytes().to_vec())
    };
    let aki = ext(&cert, "2.5.29.35").and_then(|d| {
        x509_cert::ext::pkix::AuthorityKeyIdentifier::from_der(&d)
            .ok()?
            .key_identifier
            .map(|k| k.as_bytes().to_vec())
    });
    let ski = ext(&ca, "2.5.29.14").and_then(|d| {
        x509_cert::ext::pkix::SubjectKeyIdentifier::from_der(&d)
            .ok()
            .map(|k| k.0.as_bytes().to_vec())
    });
    let other_key = matches!((&aki, &ski), (Some(a), Some(s)) if a != s);
    if other_key || cert.tbs_certificate.issuer != ca.tbs_certificate.subject {
        return Err(KmipError::Certs(format!(
            "'{}' was not issued by the CA in '{}'",
            path.display(),
            dir.display()
        )));
    }
    Ok(serial_value(cert.tbs_certificate.serial_number.as_bytes()))
}

/// The entries of the CRL in `dir` (none if it has no CRL yet).
fn crl_entries(dir: &Path) -> Result<Vec<RevokedCertParams>, KmipError> {
    let path = dir.join(CRL_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let der = CertificateRevocationListDer::from_pem_file(&path)
        .map_err(|e| KmipError::Certs(format!("reading '{}': {e}", path.display())))?;
    let crl = x509_cert::crl::CertificateList::from_der(der.as_ref())
        .map_err(|e| KmipError::Certs(format!("parsing '{}': {e}", path.display())))?;
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    Ok(crl
        .tbs_cert_list
        .revoked_certificates
        .unwrap_or_default()
        .iter()
        .map(|r| RevokedCertParams {
            serial_number: SerialNumber::from_slice(&serial_value(r.serial_number.as_bytes())),
            revocation_time: epoch + r.revocation_date.to_unix_duration(),
            reason_code: None,
            invalidity_date: None,
        })
        .collect())
}

/// Signs a CRL listing `revoked` and writes it to `dir/ca.crl` (replacing it atomically).
fn write_crl(
    dir: &Path,
    ca: &Certificate,
    ca_key: &KeyPair,
    revoked: Vec<RevokedCertParams>,
) -> Result<PathBuf, KmipError> {
    let now = unix_now();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let params = CertificateRevocationListParams {
        this_update: epoch + Duration::from_secs(now),
        next_update: epoch + Duration::from_secs(now + 365 * 86_400),
        // Increases with each CRL written (one a second at most matters for a dev CA).
        crl_number: SerialNumber::from(now),
        issuing_distribution_point: None,
        revoked_certs: revoked,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let crl = params.signed_by(ca, ca_key).map_err(certs_err)?;
    let pem = crl.pem().map_err(certs_err)?;
    let path = dir.join(CRL_FILE);
    let tmp = dir.join(format!(".{CRL_FILE}.tmp"));
    let _ = fs::remove_file(&tmp);
    write_file(&tmp, &pem, false)?;
    fs::rename(&tmp, &path)
        .map_err(|e| KmipError::io(format!("replacing '{}'", path.display()), e))?;
    Ok(path)
}

/// Adds a certificate to the CA's CRL (`dir/ca.crl`, created if missing), signed by the CA in
/// `dir`. A server started with `--crl dir/ca.crl` refuses it after its next reload (SIGHUP).
///
/// # Errors
/// [`KmipError::Certs`] if the certificate cannot be read or was not issued by this CA, for a
/// bad serial, or if `dir` holds no CA; [`KmipError::Io`] on I/O.
pub fn revoke(dir: &Path, target: &RevokeTarget) -> Result<Revocation, KmipError> {
    let serial = match target {
        RevokeTarget::Name(name) => {
            check_name(name)?;
            serial_of(dir, &dir.join(format!("{name}.crt")))?
        }
        RevokeTarget::CertFile(p) => serial_of(dir, p)?,
        RevokeTarget::Serial(h) => {
            let h: String = h.chars().filter(|c| *c != ':').collect();
            let bytes = (0..h.len())
                .step_by(2)
                .map(|i| h.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()))
                .collect::<Option<Vec<u8>>>()
                .filter(|b| !b.is_empty() && b.len() <= 20 && h.len() % 2 == 0)
                .ok_or_else(|| {
                    KmipError::Certs(format!("serial '{h}' is not 1-20 bytes of hex"))
                })?;
            serial_value(&bytes)
        }
    };
    let (ca, ca_key) = load_ca(dir)?;
    let mut entries = crl_entries(dir)?;
    let crl = dir.join(CRL_FILE);
    if entries.iter().any(|e| e.serial_number.to_bytes() == serial) {
        return Ok(Revocation {
            serial: hex(&serial),
            crl,
            already: true,
        });
    }
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    entries.push(RevokedCertParams {
        serial_number: SerialNumber::from_slice(&serial),
        revocation_time: epoch + Duration::from_secs(unix_now()),
        // RFC 5280 5.3.1: leave the reason out rather than say "unspecified".
        reason_code: None,
        invalidity_date: None,
    });
    let crl = write_crl(dir, &ca, &ca_key, entries)?;
    Ok(Revocation {
        serial: hex(&serial),
        crl,
        already: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_private_keys_0600() {
        let dir = tempfile::tempdir().unwrap();
        let f = init(&dir.path().join("certs")).unwrap();
        for p in [&f.ca_key, &f.server_key, &f.client_key] {
            let pem = fs::read_to_string(p).unwrap();
            assert!(pem.contains("PRIVATE KEY"), "{}", p.display());
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = fs::metadata(p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", p.display());
            }
        }
        assert!(
            fs::read_to_string(&f.server_cert)
                .unwrap()
                .contains("BEGIN CERTIFICATE")
        );
    }

    /// PyKMIP (python `cryptography`) rejects a leaf that encodes the DER default `CA:FALSE`,
    /// so leaves must carry no Basic Constraints extension (OID 2.5.29.19) at all.
    #[test]
    fn leaves_have_no_basic_constraints() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let dir = tempfile::tempdir().unwrap();
        let f = init(dir.path()).unwrap();
        let oid = [0x06, 0x03, 0x55, 0x1D, 0x13];
        let has = |p: &Path| {
            let der = CertificateDer::from_pem_file(p).unwrap();
            der.windows(oid.len()).any(|w| w == oid)
        };
        assert!(has(&f.ca_cert));
        assert!(!has(&f.server_cert));
        assert!(!has(&f.client_cert));
    }

    #[test]
    fn client_names_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path()).unwrap();
        assert!(client(dir.path(), "../evil").is_err());
        assert!(client(dir.path(), "").is_err());
        assert!(client(dir.path(), "server").is_err());
        assert!(client(dir.path(), "bob@host").is_ok());
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            client(empty.path(), "bob"),
            Err(KmipError::Io { .. })
        ));
    }
}
