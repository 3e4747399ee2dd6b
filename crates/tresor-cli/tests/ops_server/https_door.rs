//! The HTTPS/JSON door is logged and counted like the binary door: its connection lines
//! carry peer, identity, TLS version and suite; open connections and refused handshakes are
//! counted.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tresor_kmip::client::ClientConfig;

use super::support::*;

/// The HTTPS/JSON door's connection line carries the same fields as the binary door's:
/// peer, identity, TLS version and suite (and `door=https`).
#[test]
fn https_door_connection_lines_carry_tls_version_suite_and_identity() {
    let home = tempfile::tempdir().unwrap();
    let certs = certs(home.path(), "certs");
    let mut args = serve_args(&certs);
    args.extend(["--log-format".into(), "json".into()]);
    args.extend(["--http-listen".into(), "127.0.0.1:0".into()]);
    let vault = home.path().join("vault");
    let mut server = Server::spawn(
        home.path(),
        &["--vault", vault.to_str().unwrap()],
        &args,
        &[("TRESOR_LOG", "info".into())],
    );
    let https = server
        .listener("kmip: HTTPS/JSON (POST /kmip/2_1)")
        .unwrap_or_else(|| panic!("no HTTPS address in the log:\n{}", server.log()));
    // One KMIP JSON request over mutual TLS with the client certificate.
    let mut s = tls_to(&certs, &https);
    let body = r#"{"tag":"Query","value":[]}"#;
    write!(
        s,
        "POST /kmip/2_1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.wait_for("\"door\":\"https\"");
    server.signal("-TERM");
    assert!(server.wait_exit(60).success());
    let log = server.log();
    let line = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"))
        })
        .find(|v| {
            v["target"] == "tresor::kmip::conn"
                && v["message"] == "connection"
                && v["door"] == "https"
        })
        .unwrap_or_else(|| panic!("no HTTPS connection line:\n{log}"));
    assert_eq!(line["identity"], "client", "{line}");
    assert!(
        line["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{line}"
    );
    assert!(
        line["tls_version"].as_str().unwrap().starts_with("TLSv1_"),
        "{line}"
    );
    assert!(
        line["tls_suite"].as_str().unwrap().starts_with("TLS"),
        "{line}"
    );
}

/// Reads one HTTP/1.1 response (headers, then `Content-Length` bytes) from `s`, leaving the
/// connection open.
fn read_http_response(s: &mut impl Read) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).expect("read response head"), 1, "eof");
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("content-length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("read response body");
    head + &String::from_utf8_lossy(&body)
}

/// The HTTPS/JSON door is counted like the binary door: an open HTTPS connection shows in
/// `tresor_kmip_open_connections` (and in `tresor_kmip_connections_total`) while it is open
/// and leaves it when it closes, with a "connection closed" line (door=https, the identity and
/// the number of requests it carried); a refused handshake on it is counted by reason.
#[test]
fn https_door_is_counted_in_open_connections_and_logs_its_close() {
    let home = tempfile::tempdir().unwrap();
    let certs = certs(home.path(), "certs");
    let mut args = serve_args(&certs);
    args.extend(["--log-format".into(), "json".into()]);
    args.extend(["--http-listen".into(), "127.0.0.1:0".into()]);
    args.extend(["--metrics-listen".into(), "127.0.0.1:0".into()]);
    let vault = home.path().join("vault");
    let mut server = Server::spawn(
        home.path(),
        &["--vault", vault.to_str().unwrap()],
        &args,
        &[("TRESOR_LOG", "info,tresor::kmip::conn=debug".into())],
    );
    let maddr = server.metrics.clone().expect("metrics address");
    let https = server
        .listener("kmip: HTTPS/JSON (POST /kmip/2_1)")
        .unwrap_or_else(|| panic!("no HTTPS address in the log:\n{}", server.log()));
    let gauge = || {
        let (status, text) = http_get(&maddr, "/metrics");
        assert_eq!(status, 200, "{text}");
        (
            sample(&text, "tresor_kmip_open_connections", &[]).unwrap_or(0.0),
            sample(&text, "tresor_kmip_connections_total", &[]).unwrap_or(0.0),
            sample(
                &text,
                "tresor_kmip_handshake_failures_total",
                &[("reason", "closed-during-handshake")],
            )
            .unwrap_or(0.0),
        )
    };
    // Waits (up to 30 s) until `want` holds for the metrics.
    let until = |what: &str, want: &dyn Fn((f64, f64, f64)) -> bool| {
        let t = Instant::now();
        loop {
            let g = gauge();
            if want(g) {
                return g;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{what}: metrics stayed at (open, total, refused) = {g:?}; log:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert_eq!(gauge(), (0.0, 0.0, 0.0), "nothing connected yet");

    let mut s = tls_to(&certs, &https);
    let body = r#"{"tag":"Query","value":[]}"#;
    for _ in 0..2 {
        // Two requests on one kept-alive connection.
        write!(
            s,
            "POST /kmip/2_1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        s.flush().unwrap();
        let answer = read_http_response(&mut s);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let open = until("the HTTPS connection is open", &|g| g.0 == 1.0);
    assert_eq!(open.1, 1.0, "one connection accepted in all: {open:?}");

    // Closing it takes it out of the gauge and logs its close.
    s.conn.send_close_notify();
    let _ = s.flush();
    drop(s);
    until("the HTTPS connection closed", &|g| g.0 == 0.0);
    server.wait_for("\"message\":\"connection closed\"");

    // A client that hangs up during the handshake is a refused handshake, by reason.
    drop(std::net::TcpStream::connect(&https).unwrap());
    let g = until("the refused handshake is counted", &|g| g.2 == 1.0);
    assert_eq!((g.0, g.1), (0.0, 2.0), "{g:?}");

    server.signal("-TERM");
    assert!(server.wait_exit(60).success());
    let log = server.log();
    let closed: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"))
        })
        .filter(|v| v["target"] == "tresor::kmip::conn" && v["message"] == "connection closed")
        .collect();
    assert_eq!(closed.len(), 1, "one close line:\n{log}");
    let line = &closed[0];
    assert_eq!(line["door"], "https", "{line}");
    assert_eq!(line["identity"], "client", "{line}");
    assert_eq!(line["requests"], 2, "{line}");
    assert!(
        line["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{line}"
    );
}

/// A mutual-TLS stream to `addr` with `certs`' client certificate (30 s read timeout).
fn tls_to(
    certs: &std::path::Path,
    addr: &str,
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    let tls = ClientConfig::new(
        "127.0.0.1",
        certs.join("client.crt"),
        certs.join("client.key"),
        certs.join("ca.crt"),
    )
    .tls_config()
    .expect("client TLS configuration");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(tls), name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}
