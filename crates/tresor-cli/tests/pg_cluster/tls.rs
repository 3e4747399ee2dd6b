//! TLS and password sources for the PostgreSQL connection, and server verification by
//! default.

use std::path::Path;

use super::support::*;

#[test]
fn tls_and_password_sources() {
    let Some(pg) = Cluster::start(true) else {
        return;
    };
    let (port, ca) = (pg.port(), pg.ca.clone().expect("pg.sh --ssl gives a CA"));
    let mut admin = postgres::Client::connect(
        &format!("host={} port={port} user=postgres dbname=postgres", pg.dir),
        postgres::NoTls,
    )
    .expect("admin over the Unix socket");
    admin
        .batch_execute("CREATE ROLE tresor LOGIN PASSWORD 'file-pw-5b1c'")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE tresor_tls OWNER tresor")
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let vault = h.join("vault");
    let url = format!(
        "postgres://tresor@127.0.0.1:{port}/tresor_tls?sslmode=verify-full&sslrootcert={ca}"
    );
    let pwfile = h.join("pg-password");
    std::fs::write(&pwfile, "file-pw-5b1c\n").unwrap();
    let with = |env: &[(&str, &std::ffi::OsStr)], args: &[&str]| {
        let mut c = tresor(h);
        c.arg("--vault").arg(&vault).args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run tresor")
    };
    let file_env = [("TRESOR_PG_PASSWORD_FILE", pwfile.as_os_str())];
    let secret = "tls-secret-0d9e8f7a6b5c";

    // The password from a file, TLS verified against the CA: init, add, get.
    for args in [
        vec!["--store", &url, "init", "--user", "me@test"],
        vec!["add", "key", "DB", secret, "--app", "a", "--env", "e"],
    ] {
        let out = with(&file_env, &args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = with(&file_env, &["get", "a:e:DB"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), secret);
    // ... and from PGPASSWORD (the URL is remembered in the vault folder).
    let pw = std::ffi::OsString::from("file-pw-5b1c");
    let out = with(&[("PGPASSWORD", pw.as_os_str())], &["get", "a:e:DB"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), secret);

    // No password: a clear error, no panic.
    let out = with(&[], &["get", "a:e:DB"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("password"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // A password file that cannot be read is named.
    let missing = h.join("no-such-password-file");
    let out = with(
        &[("TRESOR_PG_PASSWORD_FILE", missing.as_os_str())],
        &["get", "a:e:DB"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-password-file"), "{err}");
    // Plaintext is refused by a server that demands TLS.
    let plain = format!("postgres://tresor@127.0.0.1:{port}/tresor_tls?sslmode=disable");
    let out = tresor(h)
        .arg("--vault")
        .arg(h.join("plain-vault"))
        .args(["--store", &plain, "init", "--user", "me@test"])
        .env("TRESOR_PG_PASSWORD_FILE", &pwfile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no encryption"), "{err}");
}

/// Issue 13 (A5, the network): with TLS configured (`TRESOR_PG_CA`) or a host that is not
/// loopback, a URL without `sslmode` verifies the server (`verify-full`); an unverified
/// connection happens only when the URL asks for `sslmode=require`.
#[test]
fn tls_verifies_the_server_by_default() {
    let Some(pg) = Cluster::start(true) else {
        return;
    };
    let (port, ca) = (pg.port(), pg.ca.clone().expect("pg.sh --ssl gives a CA"));
    let mut admin = postgres::Client::connect(
        &format!("host={} port={port} user=postgres dbname=postgres", pg.dir),
        postgres::NoTls,
    )
    .expect("admin over the Unix socket");
    for db in ["tls_wrong", "tls_remote", "tls_ok", "tls_asked"] {
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
    }
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // A CA that did not sign the server's certificate.
    run_ok({
        let mut c = tresor(h);
        c.args(["kmip", "certs", "init"]).arg(h.join("other"));
        c
    });
    let other_ca = h.join("other/ca.crt");
    let init = |db: &str, url: &str, ca: Option<&Path>| {
        let mut c = tresor(h);
        c.arg("--vault")
            .arg(h.join(db))
            .args(["--store", url, "init", "--user", "me@test"]);
        if let Some(ca) = ca {
            c.env("TRESOR_PG_CA", ca);
        }
        c.output().expect("run tresor")
    };
    let local = |db: &str| format!("postgres://postgres@127.0.0.1:{port}/{db}");
    // A name that is not loopback, reaching the test server through hostaddr.
    let remote =
        |db: &str| format!("postgres://postgres@db.tresor.test:{port}/{db}?hostaddr=127.0.0.1");
    let refused = |out: std::process::Output, what: &str| {
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what}: connected without verifying the server"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("verification") && err.contains("TRESOR_PG_CA"),
            "{what}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    };
    refused(
        init("tls_wrong", &local("tls_wrong"), Some(&other_ca)),
        "TRESOR_PG_CA of another CA",
    );
    refused(
        init("tls_remote", &remote("tls_remote"), None),
        "remote host, no CA",
    );
    let out = init("tls_ok", &local("tls_ok"), Some(Path::new(&ca)));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let asked = format!("{}&sslmode=require", remote("tls_asked"));
    let out = init("tls_asked", &asked, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
