//! Development certificates for KMIP mutual TLS (`tresor kmip certs`).
//!
//! [`init`] makes a CA, a server certificate for `localhost` / `127.0.0.1` and a client
//! certificate `client`; [`client`] adds more client certificates signed by the same CA.
//! Keys are ECDSA P-256, written PKCS#8 PEM with mode 0600 in a 0700 directory.
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

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

use crate::error::KmipError;

/// The common name of the development CA.
pub const CA_COMMON_NAME: &str = "tresor KMIP development CA";

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
    ca: &Certificate,
    ca_key: &KeyPair,
) -> Result<(String, String), KmipError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(certs_err)?;
    let mut p = CertificateParams::new(sans).map_err(certs_err)?;
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

/// Creates a CA, a server certificate (SAN `localhost`, `127.0.0.1`) and a client certificate
/// (CN `client`) in `dir`, replacing any there.
///
/// # Errors
/// [`KmipError::Io`] if a file cannot be written, [`KmipError::Certs`] if generation fails.
pub fn init(dir: &Path) -> Result<CertFiles, KmipError> {
    make_dir(dir)?;
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(certs_err)?;
    let ca = ca_params()?.self_signed(&ca_key).map_err(certs_err)?;
    let files = CertFiles {
        ca_cert: dir.join("ca.crt"),
        ca_key: dir.join("ca.key"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.crt"),
        client_key: dir.join("client.key"),
    };
    write_file(&files.ca_key, &ca_key.serialize_pem(), true)?;
    write_file(&files.ca_cert, &ca.pem(), false)?;
    let (cert, key) = leaf(
        "localhost",
        vec!["localhost".into(), "127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
        &ca,
        &ca_key,
    )?;
    write_file(&files.server_key, &key, true)?;
    write_file(&files.server_cert, &cert, false)?;
    let (cert, key) = leaf(
        "client",
        Vec::new(),
        ExtendedKeyUsagePurpose::ClientAuth,
        &ca,
        &ca_key,
    )?;
    write_file(&files.client_key, &key, true)?;
    write_file(&files.client_cert, &cert, false)?;
    Ok(files)
}

/// Issues a client certificate with common name `name` from the CA in `dir`
/// (`<name>.crt`, `<name>.key`).
///
/// # Errors
/// [`KmipError::Certs`] for a bad name or if `dir` holds no CA; [`KmipError::Io`] on I/O.
pub fn client(dir: &Path, name: &str) -> Result<ClientFiles, KmipError> {
    check_name(name)?;
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
        &ca,
        &ca_key,
    )?;
    let files = ClientFiles {
        cert: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
    };
    write_file(&files.key, &key, true)?;
    write_file(&files.cert, &cert, false)?;
    Ok(files)
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
