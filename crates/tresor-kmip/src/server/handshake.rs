//! TLS that explains itself: the server's handshake, with one plain-words log line for each
//! handshake it refuses.
//!
//! The ClientHello is read first ([`LazyConfigAcceptor`]), so a refusal can say what the
//! client offered (the server name it asked for, whether any of its cipher suites is one the
//! server accepts). Each refused handshake logs one line:
//!
//! ```text
//! kmip: TLS handshake refused: peer=127.0.0.1:50012 reason=cbc-suites-only sni=localhost detail=the client offered no cipher suite this server accepts ...
//! ```
//!
//! `reason` is one of [`Refusal::code`]'s values, stable for log searches and tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::Acceptor;
use rustls::{AlertDescription, CertificateError, CipherSuite, PeerIncompatible};
use tokio::net::TcpStream;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

/// Why a handshake was refused, in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A stable short code (`old-tls-version`, `cbc-suites-only`, `no-client-certificate`,
    /// `client-certificate-expired`, `client-certificate-not-yet-valid`, `unknown-ca`,
    /// `missing-client-auth-eku`, `client-certificate-revoked`,
    /// `client-refused-server-certificate`, `client-distrusts-server-ca`, `not-tls`,
    /// `closed-during-handshake`, `timeout`, `other`).
    pub code: &'static str,
    /// The reason and what to do, one sentence or two.
    pub detail: String,
}

/// What the client's ClientHello offered.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hello {
    /// The server name (SNI) the client asked for.
    pub sni: Option<String>,
    /// Whether any offered suite is one the server accepts.
    pub any_accepted_suite: bool,
    /// Whether the client offered CBC-mode suites.
    pub offered_cbc: bool,
}

impl Hello {
    fn of(ch: &rustls::server::ClientHello<'_>, accepted: &[CipherSuite]) -> Self {
        let suites = ch.cipher_suites();
        Hello {
            sni: ch.server_name().map(str::to_owned),
            any_accepted_suite: suites.iter().any(|s| accepted.contains(s)),
            offered_cbc: suites
                .iter()
                .any(|s| s.as_str().is_some_and(|n| n.contains("CBC"))),
        }
    }
}

/// Runs the server side of a handshake on `tcp` with `config`, within `timeout`. On
/// failure, logs the one refusal line and returns the refusal.
pub(crate) async fn accept(
    tcp: TcpStream,
    peer: SocketAddr,
    config: Arc<rustls::ServerConfig>,
    timeout: Duration,
) -> Result<(TlsStream<TcpStream>, Hello), Refusal> {
    let accepted: Vec<CipherSuite> = config
        .crypto_provider()
        .cipher_suites
        .iter()
        .map(|s| s.suite())
        .collect();
    let mut hello = None;
    let run = async {
        let start = LazyConfigAcceptor::new(Acceptor::default(), tcp).await?;
        hello = Some(Hello::of(&start.client_hello(), &accepted));
        start.into_stream(config).await
    };
    let r = tokio::time::timeout(timeout, run).await;
    let refusal = match r {
        Ok(Ok(stream)) => return Ok((stream, hello.unwrap_or_default())),
        Ok(Err(e)) => explain_io(&e, hello.as_ref()),
        Err(_) => Refusal {
            code: "timeout",
            detail: format!(
                "no TLS handshake within {timeout:?} (--read-timeout): the client connected \
                 and did not finish the handshake"
            ),
        },
    };
    log(peer, hello.as_ref(), &refusal);
    Err(refusal)
}

/// Logs the one line for a refused connection.
pub(crate) fn log(peer: SocketAddr, hello: Option<&Hello>, r: &Refusal) {
    // Text form: `kmip: TLS handshake refused: peer=… reason=CODE sni=… detail="…"`.
    let sni = hello.and_then(|h| h.sni.as_deref()).unwrap_or("-");
    tracing::warn!(
        target: "tresor::kmip::handshake",
        peer = %peer,
        reason = %r.code,
        sni = %sni,
        detail = %r.detail,
        "TLS handshake refused:"
    );
}

/// Explains an I/O error of a handshake.
fn explain_io(e: &std::io::Error, hello: Option<&Hello>) -> Refusal {
    if let Some(t) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return explain(t, hello);
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::BrokenPipe => Refusal {
            code: "closed-during-handshake",
            detail: "the client closed the connection during the handshake without saying \
                     why (a client that does not trust the server's certificate often does: \
                     check its CA file and the name it connects to)"
                .to_owned(),
        },
        _ => Refusal {
            code: "other",
            detail: format!("the handshake failed: {e}"),
        },
    }
}

/// Explains a rustls error of a server handshake in plain words.
pub(crate) fn explain(e: &rustls::Error, hello: Option<&Hello>) -> Refusal {
    use rustls::Error as E;
    let r = |code, detail: &str| Refusal {
        code,
        detail: detail.to_owned(),
    };
    match e {
        // A ClientHello without the signature_algorithms extension (added in TLS 1.2)
        // comes from a TLS 1.0/1.1 client.
        E::PeerIncompatible(
            PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled
            | PeerIncompatible::SignatureAlgorithmsExtensionRequired,
        ) => r(
            "old-tls-version",
            "the client offered only TLS 1.0/1.1; this server speaks TLS 1.2 and 1.3 (set the \
             client's ssl_version to PROTOCOL_TLS_CLIENT or TLSv1_2, or upgrade its TLS \
             library)",
        ),
        E::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon) => {
            let cbc = hello.is_some_and(|h| h.offered_cbc && !h.any_accepted_suite);
            Refusal {
                code: "cbc-suites-only",
                detail: format!(
                    "the client offered no cipher suite this server accepts{}; the server \
                     takes TLS 1.3, or TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305 (on a \
                     PyKMIP client, drop auth_suite=Basic or set TLS1.2 with AEAD suites)",
                    if cbc {
                        " (only CBC-mode suites, refused as unsafe)"
                    } else {
                        ""
                    }
                ),
            }
        }
        E::NoCertificatesPresented => r(
            "no-client-certificate",
            "the client sent no certificate; this server requires one signed by its CA (set \
             certfile and keyfile in the client's pykmip.conf, or --cert/--key)",
        ),
        E::InvalidCertificate(c) => explain_cert(c),
        E::AlertReceived(a) => match a {
            AlertDescription::UnknownCA => r(
                "client-distrusts-server-ca",
                "the client does not trust the CA that signed this server's certificate \
                 (alert unknown_ca): give the client the server's CA as ca_certs/--ca",
            ),
            AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::UnsupportedCertificate => Refusal {
                code: "client-refused-server-certificate",
                detail: format!(
                    "the client refused this server's certificate (alert {a:?}): most often \
                     the name it connects to{} is not in the certificate's subject alternative \
                     names, or the certificate expired",
                    hello
                        .and_then(|h| h.sni.as_deref())
                        .map(|s| format!(" ('{s}')"))
                        .unwrap_or_default()
                ),
            },
            other => Refusal {
                code: "other",
                detail: format!("the client aborted the handshake (alert {other:?})"),
            },
        },
        E::InvalidMessage(_) | E::InappropriateHandshakeMessage { .. } => r(
            "not-tls",
            "the client did not send a TLS handshake (plain TCP or HTTP on the KMIP port, or \
             TLS from a very old library)",
        ),
        other => Refusal {
            code: "other",
            detail: format!("the handshake failed: {other}"),
        },
    }
}

/// Explains why a client certificate was refused.
fn explain_cert(c: &CertificateError) -> Refusal {
    use CertificateError as C;
    let r = |code, detail: String| Refusal { code, detail };
    match c {
        C::Expired | C::ExpiredRevocationList => r(
            "client-certificate-expired",
            "the client certificate has expired: issue a new one (tresor kmip certs client)"
                .to_owned(),
        ),
        C::ExpiredContext { time, not_after } => r(
            "client-certificate-expired",
            format!(
                "the client certificate expired at {} (now {}): issue a new one (tresor kmip \
                 certs client)",
                unix(not_after.as_secs()),
                unix(time.as_secs())
            ),
        ),
        C::NotValidYet => r(
            "client-certificate-not-yet-valid",
            "the client certificate is not valid yet: check the clocks".to_owned(),
        ),
        C::NotValidYetContext { time, not_before } => r(
            "client-certificate-not-yet-valid",
            format!(
                "the client certificate is valid only from {} (now {}): check the clocks",
                unix(not_before.as_secs()),
                unix(time.as_secs())
            ),
        ),
        C::UnknownIssuer => r(
            "unknown-ca",
            "the client certificate is signed by another CA than this server's --ca: issue it \
             from the server's CA, or add its CA to the --ca file"
                .to_owned(),
        ),
        C::BadSignature => r(
            "unknown-ca",
            "the client certificate's signature does not verify against this server's CA \
             (signed by another CA with the same name?)"
                .to_owned(),
        ),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => r(
            "missing-client-auth-eku",
            "the client certificate's extended key usage lacks clientAuth (a server-only \
             certificate?): issue a client certificate (tresor kmip certs client)"
                .to_owned(),
        ),
        C::Revoked => r(
            "client-certificate-revoked",
            "the client certificate is revoked in the server's CRL (--crl)".to_owned(),
        ),
        C::UnknownRevocationStatus => r(
            "client-certificate-revoked",
            "the client certificate's revocation status is unknown: the --crl file has no CRL \
             of its CA"
                .to_owned(),
        ),
        other => r(
            "other",
            format!("the client certificate was refused: {other:?}"),
        ),
    }
}

/// A UNIX time as `YYYY-MM-DDTHH:MM:SSZ` (certificate times: X.509 years end at 9999).
pub(crate) fn unix(secs: u64) -> String {
    crate::json::rfc3339(i64::try_from(secs).unwrap_or(i64::MAX))
        .as_str()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_dates() {
        assert_eq!(unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(unix(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn each_refusal_has_its_code() {
        let cases = [
            (
                rustls::Error::PeerIncompatible(PeerIncompatible::Tls12NotOffered),
                "old-tls-version",
            ),
            (
                rustls::Error::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon),
                "cbc-suites-only",
            ),
            (
                rustls::Error::NoCertificatesPresented,
                "no-client-certificate",
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                "unknown-ca",
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::Expired),
                "client-certificate-expired",
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::InvalidPurpose),
                "missing-client-auth-eku",
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::BadCertificate),
                "client-refused-server-certificate",
            ),
        ];
        for (e, code) in cases {
            assert_eq!(explain(&e, None).code, code, "{e}");
        }
    }
}
