//! Issue 13 part 7, attacker A3 (a KMIP client whose certificate was revoked): `tresor kmip
//! certs revoke` and SIGHUP to a running `tresor kmip serve --crl` refuse the revoked
//! certificate's new handshakes, without dropping the connections already open.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{Operation, ResultStatus};
use tresor_testkit::{TestServer, cli, run_ok};

fn tresor(home: &Path) -> Command {
    cli::command(crate::util::BIN, home)
}

/// `tresor kmip serve --crl` on the certificates in `certs`; its stderr is kept (and printed
/// if the test fails); killed on drop.
fn start_server(home: &Path, certs: &Path) -> TestServer {
    let mut c = tresor(home);
    cli::kmip_serve(&mut c, certs)
        .arg("--crl")
        .arg(certs.join("ca.crl"))
        .stdout(Stdio::null());
    let mut server = TestServer::start_with(
        &mut c,
        Duration::from_secs(120),
        crate::util::test_logs::tee,
    );
    server.log_on_panic("server log");
    server
}

/// A client of `server` with the certificate `name` from `certs`.
fn client(server: &TestServer, certs: &Path, name: &str) -> KmipClient {
    let (host, port) = server.addr().rsplit_once(':').expect("host:port");
    let mut cfg = ClientConfig::new(
        host,
        certs.join(format!("{name}.crt")),
        certs.join(format!("{name}.key")),
        certs.join("ca.crt"),
    );
    cfg.server_name = Some("localhost".into());
    cfg.port = port.parse().expect("port");
    KmipClient::new(cfg).expect("client")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// One Query: true if and only if the server answered it with success.
async fn served(c: &KmipClient) -> bool {
    matches!(
        c.call(Operation::QUERY, Vec::new()).await,
        Ok(item) if item.result_status == ResultStatus::SUCCESS
    )
}

#[test]
fn revoked_client_is_refused_after_sighup() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let certs = cli::certs_init(tresor(h), h.join("certs"));
    for name in ["alice", "bob"] {
        let mut c = tresor(h);
        c.args(["kmip", "certs", "client"]).arg(&certs).arg(name);
        run_ok(c);
    }
    let server = start_server(h, &certs);
    let rt = rt();
    // alice's connection opened before the revocation.
    let alice_open = client(&server, &certs, "alice");
    assert!(
        rt.block_on(served(&alice_open)),
        "alice before the revocation"
    );
    let mut revoke = tresor(h);
    revoke
        .args(["kmip", "certs", "revoke"])
        .arg(&certs)
        .arg("alice");
    run_ok(revoke);
    // Not yet reloaded: the server still has the old (empty) CRL.
    let alice_before = client(&server, &certs, "alice");
    assert!(
        rt.block_on(served(&alice_before)),
        "CRL applied before SIGHUP?"
    );
    server.signal("-HUP");
    server.wait_for("reloaded the certificates and CRL", Duration::from_secs(60));
    let alice_new = client(&server, &certs, "alice");
    assert!(
        !rt.block_on(served(&alice_new)),
        "revoked alice was served after the reload"
    );
    server.wait_for("reason=client-certificate-revoked", Duration::from_secs(60));
    // Connections open before the reload go on: alice's old one answers (a reconnect
    // would be refused, so this is the same connection), and bob connects afresh.
    assert!(
        rt.block_on(served(&alice_open)),
        "an open connection was dropped"
    );
    let bob = client(&server, &certs, "bob");
    assert!(rt.block_on(served(&bob)), "bob after the reload");
    assert!(
        server.log().contains("reason=client-certificate-revoked"),
        "{}",
        server.log()
    );
}
