//! Attributes the server derives from a registered X.509 certificate: Certificate Length,
//! the KMIP 2.x Certificate Subject / Issuer fields (CN, O, OU, Email, C, ST, L, UID, Serial
//! Number, Title, DC, DN Qualifier), X.509 Certificate Subject / Issuer (DER names),
//! X.509 Certificate Identifier (issuer and serial number), Digital Signature Algorithm and
//! a SHA-256 Digest. All are read-only for clients (`attrs::READ_ONLY`).
//!
//! Parsing is `x509-cert`'s DER decoder: bounded by the input, no panics; a certificate it
//! cannot parse is refused on Register (Invalid Field) rather than stored without attributes.

use serde_json::{Value as Json, json};
use x509_cert::Certificate;
use x509_cert::der::asn1::ObjectIdentifier as Oid;
use x509_cert::der::{Decode, Encode};
use x509_cert::name::Name;

use super::OpError;
use crate::enums::{DigitalSignatureAlgorithm as Dsa, ResultReason};
use crate::tags::Tag;

/// Name attribute OIDs and the suffix of their KMIP 2.x attribute (`Certificate Subject CN`).
const NAME_FIELDS: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("1.2.840.113549.1.9.1", "Email"),
    ("2.5.4.6", "C"),
    ("2.5.4.8", "ST"),
    ("2.5.4.7", "L"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("2.5.4.5", "Serial Number"),
    ("2.5.4.12", "Title"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("2.5.4.46", "DN Qualifier"),
];

/// Signature algorithm OIDs → KMIP Digital Signature Algorithm.
const SIGNATURE_ALGORITHMS: &[(&str, Dsa)] = &[
    ("1.2.840.113549.1.1.2", Dsa::MD2_WITH_RSA_ENCRYPTION),
    ("1.2.840.113549.1.1.4", Dsa::MD5_WITH_RSA_ENCRYPTION),
    ("1.2.840.113549.1.1.5", Dsa::SHA1_WITH_RSA_ENCRYPTION),
    ("1.2.840.113549.1.1.14", Dsa::SHA224_WITH_RSA_ENCRYPTION),
    ("1.2.840.113549.1.1.11", Dsa::SHA256_WITH_RSA_ENCRYPTION),
    ("1.2.840.113549.1.1.12", Dsa::SHA384_WITH_RSA_ENCRYPTION),
    ("1.2.840.113549.1.1.13", Dsa::SHA512_WITH_RSA_ENCRYPTION),
    ("1.2.840.113549.1.1.10", Dsa::RSASSA_PSS),
    ("1.2.840.10040.4.3", Dsa::DSA_WITH_SHA1),
    ("2.16.840.1.101.3.4.3.1", Dsa::DSA_WITH_SHA224),
    ("2.16.840.1.101.3.4.3.2", Dsa::DSA_WITH_SHA256),
    ("1.2.840.10045.4.1", Dsa::ECDSA_WITH_SHA1),
    ("1.2.840.10045.4.3.1", Dsa::ECDSA_WITH_SHA224),
    ("1.2.840.10045.4.3.2", Dsa::ECDSA_WITH_SHA256),
    ("1.2.840.10045.4.3.3", Dsa::ECDSA_WITH_SHA384),
    ("1.2.840.10045.4.3.4", Dsa::ECDSA_WITH_SHA512),
];

/// The KMIP 2.x attribute tags derived from a certificate's names (Certificate Subject CN ..
/// Certificate Issuer DN Qualifier); 1.x responses leave them out.
pub(crate) fn is_v2_only(t: Tag) -> bool {
    (Tag::CERTIFICATE_SUBJECT_CN.value()..=Tag::CERTIFICATE_ISSUER_DN_QUALIFIER.value())
        .contains(&t.value())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn bytes_json(b: &[u8]) -> Json {
    json!({"$t": "ByteString", "v": hex(b)})
}

/// The first value of each known attribute type in a name, as text.
fn name_fields(name: &Name, prefix: &str, out: &mut Vec<(String, Json)>) {
    for &(oid, suffix) in NAME_FIELDS {
        let Ok(oid) = Oid::new(oid) else { continue };
        let value = name
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .find(|atv| atv.oid == oid)
            .and_then(|atv| std::str::from_utf8(atv.value.value()).ok());
        if let Some(v) = value {
            out.push((format!("{prefix} {suffix}"), json!(v)));
        }
    }
}

/// Parses a certificate and returns the attributes to store, by store key.
///
/// # Errors
/// [`OpError`] (Invalid Field) when the bytes are not a DER X.509 certificate.
pub(crate) fn derived_attributes(der: &[u8]) -> Result<Vec<(String, Json)>, OpError> {
    let cert = Certificate::from_der(der).map_err(|e| {
        OpError::new(
            ResultReason::INVALID_FIELD,
            format!("the certificate value is not a DER X.509 certificate: {e}"),
        )
    })?;
    let tbs = &cert.tbs_certificate;
    let mut out = vec![(
        "Certificate Length".to_owned(),
        json!(i32::try_from(der.len()).unwrap_or(i32::MAX)),
    )];
    name_fields(&tbs.subject, "Certificate Subject", &mut out);
    name_fields(&tbs.issuer, "Certificate Issuer", &mut out);
    let subject = tbs.subject.to_der().unwrap_or_default();
    let issuer = tbs.issuer.to_der().unwrap_or_default();
    out.push(("X.509 Certificate Subject".to_owned(), bytes_json(&subject)));
    out.push(("X.509 Certificate Issuer".to_owned(), bytes_json(&issuer)));
    out.push((
        "X.509 Certificate Identifier".to_owned(),
        json!([{
            "IssuerDistinguishedName": bytes_json(&issuer),
            "CertificateSerialNumber": bytes_json(tbs.serial_number.as_bytes()),
        }]),
    ));
    let sig = cert.signature_algorithm.oid;
    if let Some(&(_, a)) = SIGNATURE_ALGORITHMS
        .iter()
        .find(|(oid, _)| Oid::new(oid).is_ok_and(|o| o == sig))
        && let Some(n) = Dsa::DEF.name_of(a.0)
    {
        out.push(("Digital Signature Algorithm".to_owned(), json!(n)));
    }
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    out.push((
        "Digest".to_owned(),
        json!([{"HashingAlgorithm": "SHA_256", "DigestValue": bytes_json(d.as_ref())}]),
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_of_a_generated_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let files = crate::certs::init(dir.path()).unwrap();
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let der = CertificateDer::from_pem_file(&files.client_cert)
            .unwrap()
            .to_vec();
        let attrs = derived_attributes(&der).unwrap();
        let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("Certificate Length"), Some(json!(der.len())));
        assert_eq!(get("Certificate Subject CN"), Some(json!("client")));
        assert!(get("Certificate Issuer CN").is_some());
        assert_eq!(
            get("Digital Signature Algorithm"),
            Some(json!("ECDSAWithSHA256"))
        );
        for k in [
            "X.509 Certificate Subject",
            "X.509 Certificate Identifier",
            "Digest",
        ] {
            assert!(get(k).is_some(), "{k}");
        }
        // Every derived key names a KMIP attribute.
        for (k, _) in &attrs {
            assert!(super::super::attrs::name_of_key(k).is_some(), "{k}");
        }
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [&b""[..], b"\x30\x03\x02\x01", b"not a certificate"] {
            let e = derived_attributes(bad).unwrap_err();
            assert_eq!(e.reason, ResultReason::INVALID_FIELD);
        }
    }
}
