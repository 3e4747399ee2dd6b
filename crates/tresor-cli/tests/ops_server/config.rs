//! `tresor.toml`: `tresor config check` and `kmip serve --config` name the line of a bad key
//! or value, and a good file serves (an environment variable over the file).

use tresor_kmip::enums::{Operation, ResultStatus};
use tresor_kmip::message::RequestBatchItem;

use super::support::*;

/// `tresor config check` names the line of a bad key or value; a good file passes; `kmip
/// serve --config` refuses the bad one the same way and serves from the good one (with an
/// environment variable over the file).
#[test]
fn config_file_errors_name_the_line() {
    let home = tempfile::tempdir().unwrap();
    let certs = certs(home.path(), "certs");
    let bad = home.path().join("bad.toml");
    std::fs::write(
        &bad,
        "# tresor KMIP server\n[server]\nlisten = \"127.0.0.1:0\"\nmax_conections = 5\n",
    )
    .unwrap();
    let out = tresor(home.path())
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("max_conections"), "{err}");
    assert!(err.contains("bad.toml"), "{err}");
    let out = tresor(home.path())
        .args(["kmip", "serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 4"));
    // A bad value.
    std::fs::write(&bad, "[log]\nformat = \"json\"\nlevel = \"info,[[\"\n").unwrap();
    let out = tresor(home.path())
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3"));

    let good = certs.join("tresor.toml");
    std::fs::write(
        &good,
        "[server]\nlisten = \"127.0.0.1:0\"\ncert = \"server.crt\"\nkey = \"server.key\"\n\
         ca = \"ca.crt\"\n\n[limits]\nmax_batch_items = 2\n\n[log]\nformat = \"json\"\nlevel = \"info\"\n",
    )
    .unwrap();
    let out = tresor(home.path())
        .args(["config", "check", "--json"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["kind"], "tresor.toml");
    // Served from the file: JSON logs, the file's level (plain `info` turns the access lines
    // on), the file's batch limit, except where an environment variable says otherwise.
    let vault = home.path().join("vault");
    let server = Server::spawn(
        home.path(),
        &["--vault", vault.to_str().unwrap()],
        &["--config".into(), good.display().to_string()],
        &[("TRESOR_KMIP_MAX_BATCH_ITEMS", "3".into())],
    );
    let kc = kmip_client(&certs, "client", server.port, V2);
    let q = || RequestBatchItem::new(Operation::QUERY, vec![]);
    let r = kc.batch(vec![q(), q(), q()], V2);
    assert!(r.iter().all(|i| i.result_status == ResultStatus::SUCCESS));
    let r = kc.batch(vec![q(), q(), q(), q()], V2);
    assert!(r.iter().all(|i| i.result_status != ResultStatus::SUCCESS));
    server.wait_for("\"target\":\"tresor::kmip::access\"");
}
