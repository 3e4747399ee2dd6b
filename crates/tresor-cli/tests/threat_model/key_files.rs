//! Files holding keys or secrets (issue 13, item 9) are written atomically, 0600, and never
//! through a symlink: another local user (A1) who planted a 0644 file or a symlink at the
//! target learns nothing, and the symlink's destination is left alone.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::util::{TestVault, contains_all};

/// What was at the target before the command ran.
#[derive(Clone, Copy, Debug)]
enum Planted {
    /// A world-readable file (0644) with other content.
    OpenFile,
    /// A symlink to a world-readable decoy file.
    Symlink,
}

/// Plants `how` at `target`; returns the decoy a symlink points to.
fn plant(target: &Path, how: Planted) -> Option<PathBuf> {
    if let Some(d) = target.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    let open = |p: &Path, text: &str| {
        std::fs::write(p, text).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    };
    match how {
        Planted::OpenFile => {
            open(target, "planted by another user\n");
            None
        }
        Planted::Symlink => {
            let decoy = target.with_file_name(format!(
                "decoy-{}",
                target.file_name().unwrap().to_string_lossy()
            ));
            open(&decoy, "decoy\n");
            std::os::unix::fs::symlink(&decoy, target).unwrap();
            Some(decoy)
        }
    }
}

/// After the command: `target` is a regular 0600 file with new content, and the decoy a
/// symlink pointed to is unchanged (content and mode).
#[track_caller]
fn check(target: &Path, decoy: Option<&Path>, what: &str) {
    let m = std::fs::symlink_metadata(target).unwrap();
    assert!(
        m.file_type().is_file(),
        "{what}: '{}' is not a regular file (a symlink was kept)",
        target.display()
    );
    assert_eq!(m.permissions().mode() & 0o777, 0o600, "{what}: mode");
    let text = std::fs::read(target).unwrap();
    assert!(
        !text.starts_with(b"planted") && !text.starts_with(b"decoy"),
        "{what}: old content kept"
    );
    if let Some(d) = decoy {
        assert_eq!(
            std::fs::read_to_string(d).unwrap(),
            "decoy\n",
            "{what}: written through the link"
        );
        let mode = std::fs::metadata(d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{what}: the link's target changed mode");
    }
}

/// Runs `make(target)` over each kind of planted target.
fn over_each(name: &str, tv: &TestVault, make: impl Fn(&Path)) {
    for how in [Planted::OpenFile, Planted::Symlink] {
        let target = tv.path(&format!("out-{how:?}/{name}"));
        let decoy = plant(&target, how);
        make(&target);
        check(&target, decoy.as_deref(), &format!("{name} over {how:?}"));
    }
}

#[test]
fn backup_export_and_env_files() {
    let tv = TestVault::new();
    tv.add("shop", "dev", "DB_PASS", "s3cret");
    let bob = TestVault::with_user("bob");
    tv.run([
        "add",
        "user",
        "--username",
        "bob",
        "--pubkey",
        &bob.public_key(),
    ]);
    over_each("vault.backup", &tv, |t| {
        tv.cmd().arg("backup").arg("-o").arg(t).stdout();
    });
    over_each("bob.tresor", &tv, |t| {
        tv.cmd()
            .args(["export", "--to", "bob", "-f", "shop:dev:", "-o"])
            .arg(t)
            .stdout();
    });
    tv.write("env.template", "shop:dev:*\n");
    over_each(".env", &tv, |t| {
        tv.cmd().args(["env", "--out"]).arg(t).stdout();
        contains_all(&std::fs::read_to_string(t).unwrap(), &["DB_PASS="]);
    });
}

#[test]
fn kmip_certificate_files() {
    let tv = TestVault::empty();
    for how in [Planted::OpenFile, Planted::Symlink] {
        let dir = tv.path(&format!("certs-{how:?}"));
        let planted: Vec<(PathBuf, Option<PathBuf>)> =
            ["ca.key", "server.key", "client.key", "ca.crt"]
                .iter()
                .map(|f| {
                    let p = dir.join(f);
                    let d = plant(&p, how);
                    (p, d)
                })
                .collect();
        tv.cmd().args(["kmip", "certs", "init"]).arg(&dir).stdout();
        for (p, d) in &planted {
            check(
                p,
                d.as_deref(),
                &format!("certs init {} over {how:?}", p.display()),
            );
        }
        let key = dir.join("alice.key");
        let decoy = plant(&key, how);
        tv.cmd()
            .args(["kmip", "certs", "client"])
            .arg(&dir)
            .arg("alice")
            .stdout();
        check(
            &key,
            decoy.as_deref(),
            &format!("certs client over {how:?}"),
        );
    }
}

#[test]
fn kmip_get_out() {
    let tv = TestVault::remote();
    let server = tv.server().expect("remote vault");
    let certs = server.certs.clone();
    let conn = |c: &mut crate::util::TestCommand| {
        c.arg("--server")
            .arg(&server.addr)
            .arg("--cert")
            .arg(certs.join("client.crt"))
            .arg("--key")
            .arg(certs.join("client.key"))
            .arg("--ca")
            .arg(certs.join("ca.crt"));
    };
    let mut c = tv.cmd();
    c.args(["kmip", "create", "--name", "hygiene-key", "--json"]);
    conn(&mut c);
    let created = c.stdout();
    let uid = created
        .split('"')
        .find(|s| s.len() == 36 && s.matches('-').count() == 4)
        .unwrap_or_else(|| panic!("no uid in: {created}"))
        .to_owned();
    over_each("key.bin", &tv, |t| {
        let mut c = tv.cmd();
        c.args(["kmip", "get", &uid, "--out"]).arg(t);
        conn(&mut c);
        c.stdout();
        assert_eq!(std::fs::read(t).unwrap().len(), 32, "a 256-bit AES key");
    });
}
