//! Plain-words hints for a failed handshake or a closed connection: what the server's TLS
//! alert or the error most likely means, and what to change.

use rustls::AlertDescription;

/// The hint for an error the server's alert or a handshake failure gives.
fn alert_hint(e: &rustls::Error) -> (String, String) {
    use rustls::Error as E;
    let (detail, hint) = match e {
        E::AlertReceived(a) => {
            let hint = match a {
                AlertDescription::CertificateRequired => {
                    "the server wants a client certificate and got none: set certfile/keyfile"
                }
                AlertDescription::UnknownCA | AlertDescription::DecryptError => {
                    "the server does not trust the CA that signed your client certificate (or \
                     it is signed by another CA of the same name): have it issued by the \
                     server's CA (tresor kmip certs client)"
                }
                AlertDescription::CertificateExpired => {
                    "the server says your client certificate expired (or is not valid yet): \
                     issue a new one, check the clocks"
                }
                AlertDescription::CertificateRevoked => {
                    "the server says your client certificate is revoked"
                }
                AlertDescription::UnsupportedCertificate => {
                    "the server refused your client certificate's key usage: it needs the \
                     clientAuth extended key usage"
                }
                AlertDescription::HandshakeFailure | AlertDescription::InsufficientSecurity => {
                    "no TLS version or cipher suite in common: the server may offer only TLS \
                     1.0/1.1 or CBC suites (PyKMIP's default auth_suite=Basic); use TLS 1.2 \
                     with AES-GCM/ChaCha20 or TLS 1.3"
                }
                AlertDescription::ProtocolVersion => {
                    "no TLS version in common: this client speaks TLS 1.2 and 1.3"
                }
                _ => "the server ended the handshake; its log says why",
            };
            (format!("the server sent alert {a:?}"), hint.to_owned())
        }
        E::PeerIncompatible(p) => (
            format!("the server is incompatible: {p:?}"),
            "the server offers only TLS 1.0/1.1 or CBC suites; tresor's client needs TLS 1.2 \
             with AES-GCM/ChaCha20, or TLS 1.3"
                .to_owned(),
        ),
        E::InvalidMessage(_) => (
            format!("not a TLS server: {e}"),
            "is this the KMIP TLS port (5696), not plain TCP or an HTTP port?".to_owned(),
        ),
        other => (
            other.to_string(),
            "see the server's log line for this connection".to_owned(),
        ),
    };
    (detail, hint)
}

pub(super) fn io_detail(e: &std::io::Error) -> (String, String) {
    if let Some(t) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return alert_hint(t);
    }
    (
        e.to_string(),
        "the server closed the connection: it may have refused the client certificate; its \
         log says why"
            .to_owned(),
    )
}
