//! `tresor kmip serve --ephemeral`: the throw-away KMIP server for other projects' tests.
//! Drives the real binary: start it, read the `pykmip.conf` it prints, do a round trip with
//! PyKMIP's own client (and tresor's), stop it with SIGTERM, and check nothing is left.

#[path = "common/test_logs.rs"]
mod test_logs;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tresor_testkit::{DEFAULT_START_TIMEOUT, TestServer};

fn tresor(home: &Path) -> Command {
    tresor_testkit::cli::command(assert_cmd::cargo::cargo_bin("tresor"), home)
}

/// The started server, its printed `[client]` section, and its private folder.
struct Started {
    server: TestServer,
    conf: String,
    work: PathBuf,
    /// The HTTPS/JSON listener's address, with --http-listen.
    https: Option<String>,
}

fn start(home: &Path, extra: &[&str]) -> Started {
    let mut cmd = tresor(home);
    cmd.args(["kmip", "serve", "--ephemeral", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped());
    let mut server = TestServer::start_with(&mut cmd, DEFAULT_START_TIMEOUT, test_logs::tee);
    let stdout = server.child_mut().stdout.take().expect("stdout");
    let mut conf = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("reading stdout");
        conf.push_str(&line);
        conf.push('\n');
        if line.starts_with("suppress_ragged_eofs") {
            break;
        }
    }
    assert!(conf.starts_with("[client]\n"), "stdout: {conf}");
    let work = server.stderr_lines().iter().find_map(|line| {
        let rest = line.split_once("store and key in memory (")?.1;
        rest.split_once(')').map(|(p, _)| PathBuf::from(p))
    });
    let https = server.listener("kmip: HTTPS/JSON (POST /kmip/2_1)");
    Started {
        server,
        conf,
        work: work.expect("the server names its private folder"),
        https,
    }
}

fn conf_value<'a>(conf: &'a str, key: &str) -> &'a str {
    conf.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key} in {conf}"))
}

/// Sends SIGTERM and waits; returns the exit status and everything it printed on stderr.
fn stop(mut s: Started) -> (std::process::ExitStatus, String) {
    let status = s.server.terminate();
    (status, s.server.stderr_lines().join("\n"))
}

/// Every entry under `dir`, recursively (to show what was left behind).
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            out.push(e.path());
            out.extend(tree(&e.path()));
        }
    }
    out
}

/// The venv python from `TRESOR_PYKMIP_PY`, or `None` with a loud notice (a panic in CI).
fn pykmip_python() -> Option<PathBuf> {
    match std::env::var_os("TRESOR_PYKMIP_PY") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "TRESOR_PYKMIP_PY is not set and CI=true: run tests/peers/pykmip/setup.sh"
            );
            let _ = writeln!(
                std::io::stderr(),
                "\nSKIPPED: TRESOR_PYKMIP_PY is not set: the --ephemeral PyKMIP round trip is \
                 NOT tested (eval $(tests/peers/pykmip/setup.sh))\n"
            );
            None
        }
    }
}

const ROUND_TRIP: &str = r#"
import sys, warnings
warnings.simplefilter("ignore")
from kmip.pie.client import ProxyKmipClient
from kmip.core import enums
c = ProxyKmipClient(config_file=sys.argv[1], config="client")
c.open()
uid = c.create(enums.CryptographicAlgorithm.AES, 256, name="ci:test:aes")
key = c.get(uid)
assert len(key.value) == 32, len(key.value)
found = c.locate(attributes=[
    __import__("kmip.core.factories.attributes", fromlist=["x"]).AttributeFactory()
    .create_attribute(enums.AttributeType.NAME, "ci:test:aes")])
assert found == [uid], found
c.activate(uid)
c.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid)
c.destroy(uid)
c.close()
print("round trip ok", uid)
"#;

/// Start, a PyKMIP client round trip with the printed `pykmip.conf`, SIGTERM, nothing left:
/// not the private folder, not the `--certs` folder it created, nothing in HOME.
#[test]
fn ephemeral_pykmip_round_trip_leaves_nothing() {
    let home = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let certs = outside.path().join("kmip-certs");
    let s = start(home.path(), &["--certs", certs.to_str().unwrap()]);
    assert!(s.work.is_dir(), "private folder {}", s.work.display());
    let name = s.work.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("tresor-ephemeral-"), "{name}");
    // The certificates are where --certs said, keys private.
    for f in [
        "ca.crt",
        "client.crt",
        "client.key",
        "server.crt",
        "server.key",
    ] {
        assert!(certs.join(f).is_file(), "{f} missing in --certs");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(certs.join("client.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "client.key mode {mode:o}");
    assert_eq!(
        conf_value(&s.conf, "certfile"),
        certs.join("client.crt").to_str().unwrap()
    );
    let conf_file = outside.path().join("pykmip.conf");
    std::fs::write(&conf_file, &s.conf).unwrap();

    // tresor's own client reads the same file.
    let out = tresor(home.path())
        .args(["kmip", "discover-versions", "--config"])
        .arg(&conf_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "discover-versions: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2.1"));

    if let Some(py) = pykmip_python() {
        let script = outside.path().join("round_trip.py");
        std::fs::write(&script, ROUND_TRIP).unwrap();
        let out = Command::new(py)
            .arg(&script)
            .arg(&conf_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "PyKMIP round trip failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("round trip ok"));
    }

    let work = s.work.clone();
    let (status, log) = stop(s);
    assert!(status.success(), "exit {status:?}; log: {log}");
    assert!(!work.exists(), "left behind: {:?}", tree(&work));
    assert!(!certs.exists(), "left behind: {:?}", tree(&certs));
    assert!(
        tree(home.path()).is_empty(),
        "HOME: {:?}",
        tree(home.path())
    );
}

/// Without --certs the certificates live in the private folder and go with it; a second
/// server at the same time gets its own CA, folder and port.
#[test]
fn ephemeral_servers_are_independent_and_removed() {
    let home = tempfile::tempdir().unwrap();
    let a = start(home.path(), &[]);
    let b = start(home.path(), &[]);
    assert_ne!(a.work, b.work);
    assert_ne!(conf_value(&a.conf, "port"), conf_value(&b.conf, "port"));
    let ca_a = PathBuf::from(conf_value(&a.conf, "ca_certs"));
    assert!(ca_a.starts_with(&a.work), "{}", ca_a.display());
    assert_ne!(
        std::fs::read(&ca_a).unwrap(),
        std::fs::read(conf_value(&b.conf, "ca_certs")).unwrap()
    );
    // A's client certificate is refused by B (another CA).
    let conf_file = home.path().join("a.conf");
    let mixed = a.conf.replace(
        &format!("port={}", conf_value(&a.conf, "port")),
        &format!("port={}", conf_value(&b.conf, "port")),
    );
    std::fs::write(&conf_file, mixed).unwrap();
    let out = tresor(home.path())
        .args(["kmip", "query", "--config"])
        .arg(&conf_file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    std::fs::remove_file(&conf_file).unwrap();
    let (wa, wb) = (a.work.clone(), b.work.clone());
    let (sa, _) = stop(a);
    let (sb, _) = stop(b);
    assert!(sa.success() && sb.success());
    assert!(!wa.exists() && !wb.exists());
    assert!(tree(home.path()).is_empty(), "{:?}", tree(home.path()));
}

/// Flags naming files or stores are refused with a clear message and exit code 2, and a
/// --certs folder that already holds certificates is not overwritten.
#[test]
fn ephemeral_refuses_file_flags_and_used_certs_folder() {
    let home = tempfile::tempdir().unwrap();
    let out = tresor(home.path())
        .args(["kmip", "serve", "--ephemeral", "--cert", "server.crt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--cert cannot be used with --ephemeral"),
        "{err}"
    );
    let used = tempfile::tempdir().unwrap();
    std::fs::write(used.path().join("ca.crt"), "keep me").unwrap();
    let out = tresor(home.path())
        .args(["kmip", "serve", "--ephemeral", "--certs"])
        .arg(used.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds ca.crt"));
    assert_eq!(
        std::fs::read_to_string(used.path().join("ca.crt")).unwrap(),
        "keep me"
    );
}

/// `--ephemeral --http-listen`: the JSON door of the real binary answers a KMIP 2.1 Query
/// posted as JSON over mutual TLS with the printed client certificate, and still nothing is
/// left after exit.
#[test]
fn ephemeral_https_json_door_answers() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use std::io::{Read, Write as _};
    let home = tempfile::tempdir().unwrap();
    let s = start(home.path(), &["--http-listen", "127.0.0.1:0"]);
    let addr = s.https.clone().expect("the HTTPS listener is announced");
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(conf_value(&s.conf, "ca_certs")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(conf_value(&s.conf, "certfile"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(conf_value(&s.conf, "keyfile")).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    let conn = rustls::ClientConnection::new(
        std::sync::Arc::new(cfg),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let tcp = std::net::TcpStream::connect(&addr).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let body = r#"{"tag":"RequestMessage","value":[{"tag":"RequestHeader","value":[
        {"tag":"ProtocolVersion","value":[
          {"tag":"ProtocolVersionMajor","type":"Integer","value":2},
          {"tag":"ProtocolVersionMinor","type":"Integer","value":1}]},
        {"tag":"BatchCount","type":"Integer","value":1}]},
      {"tag":"BatchItem","value":[{"tag":"Operation","type":"Enumeration","value":"Query"},
        {"tag":"RequestPayload","value":[
          {"tag":"QueryFunction","type":"Enumeration","value":"QueryServerInformation"}]}]}]}"#;
    write!(
        tls,
        "POST /kmip/2_1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = tls.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("\"ResponseMessage\""), "{out}");
    assert!(out.contains("\"Success\""), "{out}");
    assert!(out.contains("tresor"), "{out}");
    drop(tls);
    let work = s.work.clone();
    let (status, log) = stop(s);
    assert!(status.success(), "{log}");
    assert!(!work.exists());
    assert!(tree(home.path()).is_empty(), "{:?}", tree(home.path()));
}

/// A client command whose standard output is closed before it prints (`| head -0`) ends
/// with exit code 0 and says nothing: no "failed printing to stdout" panic.
#[test]
fn client_output_to_a_closed_pipe_ends_quietly() {
    let home = tempfile::tempdir().unwrap();
    let s = start(home.path(), &[]);
    let conf = home.path().join("pykmip.conf");
    std::fs::write(&conf, &s.conf).unwrap();
    for cmd in ["query", "discover-versions"] {
        let mut child = tresor(home.path())
            .args(["kmip", cmd, "--config"])
            .arg(&conf)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the only reader before the command has answered: its first print fails.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{cmd}: {:?}, stderr: {err}",
            out.status
        );
        assert!(!err.contains("panicked"), "{cmd}: {err}");
    }
    let (status, _) = stop(s);
    assert!(status.success());
}
