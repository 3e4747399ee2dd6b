//! The postgres rotator against the throw-away PostgreSQL server the test command starts
//! (`TRESOR_TEST_PG_URL`, a superuser): a role's password rotated through the real `tresor`
//! binary, logins with the new and old values, and `tresor rotate` SIGKILLed at random
//! instants, each followed by `tresor rotate --resume`.
//!
//! The test server trusts every local connection; these tests add (once) a rule at the top
//! of its `pg_hba.conf` that makes members of the group `tresor_rotated` log in with
//! SCRAM passwords, so that a wrong password is refused.

mod rotate_common;

use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rotate_common::{BIN, Home, Rng};

fn admin_url() -> Option<String> {
    match std::env::var("TRESOR_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "TRESOR_TEST_PG_URL is not set under CI"
            );
            eprintln!("SKIPPED: TRESOR_TEST_PG_URL not set; run scripts/test.sh");
            None
        }
    }
}

static HBA: Mutex<()> = Mutex::new(());

/// Makes members of `tresor_rotated` authenticate by password, and creates `role` (a member,
/// LOGIN, password `initial`).
fn password_role(admin: &str, role: &str, initial: &str) {
    let _g = HBA.lock().unwrap();
    let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("connect admin");
    c.batch_execute(
        "DO $$ BEGIN CREATE ROLE tresor_rotated NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    )
    .unwrap();
    let hba: String = c.query_one("SHOW hba_file", &[]).unwrap().get(0);
    let text = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
    let rule = "# tresor rotate tests\nlocal all +tresor_rotated scram-sha-256\nhost all +tresor_rotated 127.0.0.1/32 scram-sha-256\nhost all +tresor_rotated ::1/128 scram-sha-256\n";
    if !text.contains("+tresor_rotated") {
        std::fs::write(&hba, format!("{rule}{text}")).expect("write pg_hba.conf");
        c.batch_execute("SELECT pg_reload_conf()").unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    c.batch_execute(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN PASSWORD '{initial}' IN ROLE tresor_rotated"
    ))
    .unwrap();
}

/// Logs in as `role` with `password`; the error's SQLSTATE on refusal.
fn login(admin: &str, role: &str, password: &str) -> Result<(), String> {
    let mut cfg = postgres::Config::from_str(admin).unwrap();
    cfg.user(role).password(password);
    cfg.connect_timeout(Duration::from_secs(10));
    match cfg.connect(postgres::NoTls) {
        Ok(mut c) => {
            c.simple_query("SELECT 1").map_err(|e| e.to_string())?;
            Ok(())
        }
        Err(e) => Err(e
            .as_db_error()
            .map(|d| d.code().code().to_owned())
            .unwrap_or_else(|| e.to_string())),
    }
}

fn setup(admin: &str, tag: &str) -> (Home, String) {
    let role = format!("tresor_rot_{tag}_{}", std::process::id());
    password_role(admin, &role, "initial-password-1");
    // The server really checks passwords for this role.
    assert_eq!(login(admin, &role, "initial-password-1"), Ok(()));
    assert_eq!(login(admin, &role, "wrong"), Err("28P01".into()));
    let h = Home::new();
    h.add("app:prod:ADMIN_DSN", admin);
    h.add("app:prod:DB_PASSWORD", "initial-password-1");
    h.ok(&[
        "rotator",
        "set",
        "app:prod:DB_PASSWORD",
        "postgres",
        "--dsn-secret",
        "app:prod:ADMIN_DSN",
        "--role",
        &role,
    ]);
    (h, role)
}

#[test]
fn postgres_role_password_rotated_new_accepted_old_refused() {
    let Some(admin) = admin_url() else { return };
    let (h, role) = setup(&admin, "a");
    let out = h.ok(&["rotate", "app:prod:DB_PASSWORD"]);
    assert!(
        out.contains("rotated app:prod:DB_PASSWORD (postgres): v1 -> v2"),
        "{out}"
    );
    let new = h.get("app:prod:DB_PASSWORD");
    assert_eq!(new.len(), 32);
    // The application's connection with the new value succeeds; the old one is refused
    // (PostgreSQL keeps one password per role: refused once the rotation is done).
    assert_eq!(login(&admin, &role, &new), Ok(()));
    assert_eq!(
        login(&admin, &role, "initial-password-1"),
        Err("28P01".into())
    );
    // The old version stays readable in the vault.
    let hist = h.ok(&["history", "app:prod:DB_PASSWORD", "--json", "--reveal"]);
    assert!(hist.contains("initial-password-1"));
    // The server stored a SCRAM verifier, never the password in clear.
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    let stored: Option<String> = c
        .query_one(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
            &[&role],
        )
        .unwrap()
        .get(0);
    let stored = stored.unwrap();
    assert!(stored.starts_with("SCRAM-SHA-256$"), "{stored}");
    assert!(!stored.contains(&new));
    // A second rotation: again only the newest is accepted.
    h.ok(&["rotate", "app:prod:DB_PASSWORD"]);
    let newer = h.get("app:prod:DB_PASSWORD");
    assert_eq!(login(&admin, &role, &newer), Ok(()));
    assert_eq!(login(&admin, &role, &new), Err("28P01".into()));
    // Wrong admin credentials: the apply step fails, named, and the value stays current.
    let bad = format!("{}?user=nobody_here", admin.split('?').next().unwrap());
    h.add("app:prod:ADMIN_DSN", &bad);
    let o = h.run(&["rotate", "app:prod:DB_PASSWORD"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("failed at step 'apply'"), "{err}");
    assert!(!err.contains(&newer), "{err}");
    assert_eq!(h.get("app:prod:DB_PASSWORD"), newer);
    assert_eq!(login(&admin, &role, &newer), Ok(()));
    c.batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
        .unwrap();
}

#[test]
fn rotate_killed_at_random_instants_always_resumes_to_a_value_postgres_accepts() {
    let Some(admin) = admin_url() else { return };
    let (h, role) = setup(&admin, "k");
    // The duration of one whole rotation (a process start, four steps, five commits).
    let mut one = Duration::ZERO;
    for _ in 0..3 {
        let t = Instant::now();
        h.ok(&["rotate", "app:prod:DB_PASSWORD"]);
        one = one.max(t.elapsed());
    }
    eprintln!("one rotation takes {one:?}");
    let mut rng = Rng::seeded();
    let mut phases = std::collections::BTreeMap::<String, u32>::new();
    let start = Instant::now();
    let trials = 100;
    for i in 0..trials {
        let before = h.get("app:prod:DB_PASSWORD");
        let delay = Duration::from_micros(rng.below(one.as_micros() as u64 + 1));
        let mut child = h
            .cmd(&["rotate", "app:prod:DB_PASSWORD"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Where the journal stood when the process died.
        let list: serde_json::Value =
            serde_json::from_str(&h.ok(&["rotator", "list", "--json"])).unwrap();
        let phase = list[0]["journal"]["phase"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        *phases.entry(phase.clone()).or_default() += 1;
        // Until a rotation is made current, the vault answers the value it had before.
        if phase != "idle" {
            assert_eq!(
                h.get("app:prod:DB_PASSWORD"),
                before,
                "trial {i}: phase {phase}: get returned the pending value"
            );
        }
        let o = h.run(&["rotate", "--resume"], &[]);
        assert!(
            o.status.success(),
            "trial {i} (killed after {delay:?}, phase {phase}): resume failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let current = h.get("app:prod:DB_PASSWORD");
        assert_eq!(
            login(&admin, &role, &current),
            Ok(()),
            "trial {i} (killed after {delay:?}, phase {phase}): PostgreSQL refuses the vault's current value"
        );
    }
    eprintln!(
        "{trials} SIGKILL trials in {:?}; journal phase at the kill: {phases:?}",
        start.elapsed()
    );
    // The kills landed inside rotations, not only before or after them.
    let inside: u32 = phases
        .iter()
        .filter(|(p, _)| p.as_str() != "idle")
        .map(|(_, n)| n)
        .sum();
    assert!(inside > 0, "no kill landed inside a rotation: {phases:?}");
    let _ = BIN;
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    c.batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
        .unwrap();
}

/// Dual credentials: login roles ROLE_a and ROLE_b take turns; during the grace period both
/// the new and the previous login work, after it the previous one is refused.
#[test]
fn postgres_two_roles_keep_the_old_login_until_the_grace_period_ends() {
    let Some(admin) = admin_url() else { return };
    let group = format!("tresor_rot_g_{}", std::process::id());
    {
        let _g = HBA.lock().unwrap();
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!(
            "DROP ROLE IF EXISTS {group}_a; DROP ROLE IF EXISTS {group}_b; DROP ROLE IF EXISTS {group}"
        ))
        .unwrap();
    }
    // The group role (NOLOGIN would do; it gets a password only for the setup check).
    password_role(&admin, &group, "group-password-1");
    let h = Home::new();
    h.add("app:prod:ADMIN_DSN", &admin);
    h.add("app:prod:DB_URL", "not yet a url");
    h.ok(&[
        "rotator",
        "set",
        "app:prod:DB_URL",
        "postgres",
        "--dsn-secret",
        "app:prod:ADMIN_DSN",
        "--role",
        &group,
        "--two-roles",
        "--grace",
        "1h",
    ]);
    let url_login = |url: &str| -> Result<(), String> {
        let cfg = postgres::Config::from_str(url).unwrap();
        let user = cfg.get_user().unwrap().to_owned();
        let pw = String::from_utf8(cfg.get_password().unwrap().to_vec()).unwrap();
        login(&admin, &user, &pw)
    };
    h.ok(&["rotate", "app:prod:DB_URL"]);
    let first = h.get("app:prod:DB_URL");
    assert!(
        first.starts_with(&format!("postgres://{group}_a:")),
        "{}",
        first.len()
    );
    assert_eq!(url_login(&first), Ok(()));
    h.ok(&["rotate", "app:prod:DB_URL"]);
    let second = h.get("app:prod:DB_URL");
    assert!(second.starts_with(&format!("postgres://{group}_b:")));
    // Within the grace period both logins work.
    assert_eq!(url_login(&second), Ok(()));
    assert_eq!(url_login(&first), Ok(()));
    h.ok(&["rotate", "--due"]);
    assert_eq!(url_login(&first), Ok(()));
    // After it, the previous login is refused; the current one still works.
    let later = (rotate_common::now() + 2 * 3_600).to_string();
    let out = h.ok_env(
        &["rotate", "--due"],
        &[("TRESOR_ROTATE_CLOCK", later.as_str())],
    );
    assert!(out.contains("retired v2"), "{out}");
    assert_eq!(url_login(&first), Err("28P01".into()));
    assert_eq!(url_login(&second), Ok(()));
    // The next rotation brings ROLE_a back with a new password.
    h.ok(&["rotate", "app:prod:DB_URL"]);
    let third = h.get("app:prod:DB_URL");
    assert!(third.starts_with(&format!("postgres://{group}_a:")));
    assert_eq!(url_login(&third), Ok(()));
    assert_eq!(url_login(&first), Err("28P01".into()));
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "DROP ROLE IF EXISTS {group}_a; DROP ROLE IF EXISTS {group}_b; DROP ROLE IF EXISTS {group}"
    ))
    .unwrap();
}

/// A PostgreSQL cluster of this test's own with TLS only on TCP (`scripts/pg.sh start --ssl`:
/// a CA, `hostnossl … reject`, SCRAM for every role but postgres), stopped on drop.
struct TlsCluster {
    dir: String,
    ca: String,
}

impl TlsCluster {
    fn start() -> Option<TlsCluster> {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .args(["start", "--ssl"])
            .output()
            .expect("run scripts/pg.sh");
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "scripts/pg.sh start --ssl failed under CI: {why}"
            );
            eprintln!("SKIPPED: scripts/pg.sh start --ssl failed: {why}");
            return None;
        }
        let text = String::from_utf8(out.stdout).unwrap();
        let var = |name: &str| {
            text.split([';', '\n'])
                .filter_map(|p| p.trim().strip_prefix("export "))
                .find_map(|p| p.strip_prefix(&format!("{name}=")).map(str::to_owned))
        };
        Some(TlsCluster {
            dir: var("TRESOR_PG_DIR")?,
            ca: var("TRESOR_PG_CA")?,
        })
    }

    fn port(&self) -> u16 {
        std::fs::read_to_string(std::path::Path::new(&self.dir).join("port"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh");
        let _ = std::process::Command::new("bash")
            .arg(script)
            .args(["stop", &self.dir])
            .status();
    }
}

/// A5 (the network): the admin connection and the verifying login follow the store's TLS
/// rules. Against a server that refuses plain TCP, rotation works over verify-full TLS, is
/// refused with a CA that did not sign the server's certificate, and never falls back to
/// plain text.
#[test]
fn postgres_rotation_over_tls_verifies_the_server() {
    if admin_url().is_none() {
        return;
    }
    let Some(pg) = TlsCluster::start() else {
        return;
    };
    let port = pg.port();
    let mut local = postgres::Client::connect(
        &format!("host={} port={port} user=postgres dbname=postgres", pg.dir),
        postgres::NoTls,
    )
    .expect("admin over the Unix socket");
    local
        .batch_execute("CREATE ROLE app_tls LOGIN PASSWORD 'initial-password-1'")
        .unwrap();
    let h = Home::new();
    h.ok(&[
        "kmip",
        "certs",
        "init",
        h.path().join("other").to_str().unwrap(),
    ]);
    let other_ca = h.path().join("other/ca.crt");
    let dsn = |q: &str| format!("postgres://postgres@127.0.0.1:{port}/postgres?{q}");
    let login = |password: &str| -> Result<(), String> {
        let t = tresor_store::PgTarget::parse(&dsn(&format!(
            "sslmode=verify-full&sslrootcert={}",
            pg.ca
        )))
        .unwrap();
        t.connect_as("app_tls", password.as_bytes())
            .map(drop)
            .map_err(|e| e.to_string())
    };
    assert_eq!(login("initial-password-1"), Ok(()));
    h.add("app:prod:DB_PASSWORD", "initial-password-1");
    for (q, ok, why) in [
        (
            format!("sslmode=verify-full&sslrootcert={}", other_ca.display()),
            false,
            "certificate",
        ),
        ("sslmode=disable".to_owned(), false, "no encryption"),
        (
            format!("sslmode=verify-full&sslrootcert={}", pg.ca),
            true,
            "",
        ),
    ] {
        h.add("app:prod:ADMIN_DSN", &dsn(&q));
        h.ok(&[
            "rotator",
            "set",
            "app:prod:DB_PASSWORD",
            "postgres",
            "--dsn-secret",
            "app:prod:ADMIN_DSN",
            "--role",
            "app_tls",
        ]);
        let before = h.get("app:prod:DB_PASSWORD");
        let o = h.run(&["rotate", "app:prod:DB_PASSWORD"], &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        if ok {
            assert!(o.status.success(), "{q}: {err}");
            let new = h.get("app:prod:DB_PASSWORD");
            assert_eq!(login(&new), Ok(()));
            assert!(login(&before).is_err(), "the old password still works");
        } else {
            assert_eq!(o.status.code(), Some(2), "{q}: {err}");
            assert!(err.contains("failed at step 'apply'"), "{q}: {err}");
            assert!(err.contains(why), "{q}: {err}");
            assert_eq!(h.get("app:prod:DB_PASSWORD"), before);
            assert_eq!(login(&before), Ok(()));
        }
    }
}
