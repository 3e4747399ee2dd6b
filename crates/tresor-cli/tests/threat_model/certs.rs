//! Issue 13 part 7, attacker A3 (a KMIP client whose certificate was revoked): `tresor kmip
//! certs revoke` and SIGHUP to a running `tresor kmip serve --crl` refuse the revoked
//! certificate's new handshakes, without dropping the connections already open.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{Operation, ResultStatus};

fn tresor(home: &Path) -> Command {
    let mut c = Command::cargo_bin("tresor").expect("tresor binary");
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1");
    c
}

/// A `tresor kmip serve` child; its stderr is collected; killed on drop.
struct Server {
    child: Child,
    log: Arc<Mutex<String>>,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- server log ---\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(home: &Path, certs: &Path) -> Server {
        let bin = assert_cmd::cargo::cargo_bin("tresor");
        let mut child = std::process::Command::new(bin)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .args(["kmip", "serve", "--listen", "127.0.0.1:0"])
            .arg("--cert")
            .arg(certs.join("server.crt"))
            .arg("--key")
            .arg(certs.join("server.key"))
            .arg("--ca")
            .arg(certs.join("ca.crt"))
            .arg("--crl")
            .arg(certs.join("ca.crl"))
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn server");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = BufReader::new(crate::util::test_logs::tee(
            child.stderr.take().expect("stderr"),
        ))
        .lines();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in lines {
                let Ok(line) = line else { break };
                if let Some(a) = line.strip_prefix("listening on ")
                    && let Some(t) = tx.take()
                {
                    let _ = t.send(a.trim().to_owned());
                }
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("server listening");
        Server { child, log, addr }
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until the log holds `needle`.
    fn wait_for(&self, needle: &str) {
        let start = Instant::now();
        while !self.log().contains(needle) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no '{needle}' in the server log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn client(&self, certs: &Path, name: &str) -> KmipClient {
        let (host, port) = self.addr.rsplit_once(':').expect("host:port");
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
    let certs = h.join("certs");
    tresor(h)
        .args(["kmip", "certs", "init"])
        .arg(&certs)
        .assert()
        .success();
    for name in ["alice", "bob"] {
        tresor(h)
            .args(["kmip", "certs", "client"])
            .arg(&certs)
            .arg(name)
            .assert()
            .success();
    }
    let server = Server::start(h, &certs);
    let rt = rt();
    // alice's connection opened before the revocation.
    let alice_open = server.client(&certs, "alice");
    assert!(
        rt.block_on(served(&alice_open)),
        "alice before the revocation"
    );
    tresor(h)
        .args(["kmip", "certs", "revoke"])
        .arg(&certs)
        .arg("alice")
        .assert()
        .success();
    // Not yet reloaded: the server still has the old (empty) CRL.
    let alice_before = server.client(&certs, "alice");
    assert!(
        rt.block_on(served(&alice_before)),
        "CRL applied before SIGHUP?"
    );
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success(), "SIGHUP");
    server.wait_for("reloaded the certificates and CRL");
    let alice_new = server.client(&certs, "alice");
    assert!(
        !rt.block_on(served(&alice_new)),
        "revoked alice was served after the reload"
    );
    server.wait_for("reason=client-certificate-revoked");
    // Connections open before the reload go on: alice's old one answers (a reconnect
    // would be refused, so this is the same connection), and bob connects afresh.
    assert!(
        rt.block_on(served(&alice_open)),
        "an open connection was dropped"
    );
    let bob = server.client(&certs, "bob");
    assert!(rt.block_on(served(&bob)), "bob after the reload");
    assert!(
        server.log().contains("reason=client-certificate-revoked"),
        "{}",
        server.log()
    );
}
