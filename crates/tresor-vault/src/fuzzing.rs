//! Entry points for the `cargo fuzz` targets (`fuzz/fuzz_targets/*.rs`); not a stable API.
//!
//! Each function takes the fuzzer's bytes, runs them through the real parser from memory and
//! panics only when an invariant the parser promises does not hold (a round trip, agreement
//! with SQLite's `GLOB`, an unauthenticated backup accepted). Parsers that read a vault run
//! against real vaults in a throw-away folder made once per process.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use tresor_store::secret_name::SecretName;
use zeroize::Zeroizing;

use crate::filter::{Filter, FilterSet, Glob, NamePart, Part, validate_name};
use crate::template::{Directive, Template};
use crate::{InitOptions, Vault, dotenv, seeqret};

/// `.env` parsing: whatever [`dotenv::parse`] accepts renders back ([`dotenv::render`]) to a
/// text that parses to the same names and values; and any text, as the value of `K`,
/// renders to a file that parses back to exactly that value.
///
/// # Panics
/// When a round trip changes a name or a value.
pub fn fuzz_dotenv(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(entries) = dotenv::parse(text) {
        let rendered = dotenv::render(entries.iter().map(|e| (e.name.as_str(), e.value())));
        let back = dotenv::parse(&rendered).expect("a rendered .env does not parse");
        assert_eq!(back.len(), entries.len(), "entry count changed");
        for (a, b) in entries.iter().zip(&back) {
            assert_eq!(a.name, b.name, "name changed by the round trip");
            assert!(a.value() == b.value(), "value of {} changed", a.name);
        }
    }
    let one = dotenv::render([("K", text)]);
    let back = dotenv::parse(&one).expect("a rendered value does not parse");
    assert_eq!(back.len(), 1);
    assert!(
        back[0].value() == text,
        "a rendered value does not read back"
    );
}

/// The secrets [`fuzz_template`] renders templates against.
const SECRETS: &[(&str, &str, &str, &str)] = &[
    ("app", "dev", "DB_USER", "u"),
    ("app", "prod", "DB_PASS", "p'\"$x\\\n"),
    ("web", "dev", "TOKEN", "t"),
    ("web", "local", "DB_USER", "w"),
];

/// `env.template`: parse; every filter it holds re-parses from its text to the same filter;
/// pins are checked; rendering against a fixed set of secrets either fails with an error or
/// yields names that, written as a `.env`, read back with the same values.
///
/// # Panics
/// When a filter does not round-trip or the rendered `.env` does not read back.
pub fn fuzz_template(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(t) = Template::parse(text) else {
        return;
    };
    for (_, d) in t.directives() {
        if let Directive::Filter(f) | Directive::Rename { filter: f, .. } = d {
            assert_eq!(&Filter::new(f.as_str()).expect("filter re-parse"), f);
        }
    }
    let _ = t.check_pins("0.1.0");
    let Ok(out) = t.render(|f| {
        SECRETS
            .iter()
            .filter(|(a, e, k, _)| f.is_match(a, e, k))
            .map(|(_, _, k, v)| ((*k).to_owned(), Zeroizing::new((*v).to_owned())))
            .collect()
    }) else {
        return;
    };
    // Names a `.env` cannot hold are the variable-name rule's business, not this round trip.
    if out
        .iter()
        .any(|(n, _)| validate_name(NamePart::Key, n).is_err() || n.contains('\u{feff}'))
    {
        return;
    }
    let rendered = dotenv::render(out.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let back = dotenv::parse(&rendered).expect("a rendered template does not parse as .env");
    assert_eq!(back.len(), out.len());
    for ((n, v), e) in out.iter().zip(&back) {
        assert_eq!(*n, e.name);
        assert!(v.as_str() == e.value(), "value of {n} changed");
    }
}

thread_local! {
    static GLOB_DB: rusqlite::Connection =
        rusqlite::Connection::open_in_memory().expect("an in-memory SQLite");
}

/// Filters: the first line is a filter, each further line a name `app:env:key` (or a key).
/// The filter re-parses from its text; every glob agrees with SQLite's `GLOB` on its
/// [`Glob::to_sqlite_glob`] translation (the store pushes globs into SQL); a literal glob
/// matches only itself and every match starts with the glob's literal prefix.
///
/// # Panics
/// When matching in Rust and in SQLite disagree, or another of those invariants breaks.
pub fn fuzz_filter(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or("");
    let Ok(f) = Filter::new(first) else {
        return;
    };
    assert_eq!(Filter::new(f.as_str()).as_ref(), Ok(&f), "filter re-parse");
    let _ = FilterSet::new([first]).expect("a filter set of a valid filter");
    let names: Vec<&str> = lines.take(8).collect();
    GLOB_DB.with(|db| {
        for part in [NamePart::App, NamePart::Env, NamePart::Key] {
            let Part::Alternatives(globs) = f.part(part) else {
                continue;
            };
            for g in globs {
                let pattern = g.to_sqlite_glob();
                for candidate in names.iter().chain([&g.as_str(), &g.literal_prefix()]) {
                    check_glob(db, g, &pattern, candidate);
                }
            }
        }
    });
    for name in names {
        // A line without a colon is a key; otherwise the name's parts, unchecked (the
        // filter must agree with its parts on invalid names too).
        let (a, e, k) = if name.contains(':') {
            SecretName::split(name)
        } else {
            ("app", "env", name)
        };
        let parts = [(NamePart::App, a), (NamePart::Env, e), (NamePart::Key, k)];
        let each = parts.iter().all(|&(w, v)| f.part(w).is_match(v));
        assert_eq!(f.is_match(a, e, k), each, "filter and its parts disagree");
    }
}

fn check_glob(db: &rusqlite::Connection, g: &Glob, pattern: &str, candidate: &str) {
    // Stored names never hold control characters (and SQLite's GLOB stops at a NUL).
    if candidate.contains(char::is_control) {
        return;
    }
    let ours = g.is_match(candidate);
    let sqlite: bool = db
        .prepare_cached("select ?1 glob ?2")
        .and_then(|mut st| st.query_row([candidate, pattern], |r| r.get(0)))
        .expect("sqlite glob");
    assert_eq!(
        ours,
        sqlite,
        "glob {:?} (sqlite {pattern:?}) on {candidate:?}",
        g.as_str()
    );
    if let Some(lit) = g.as_literal() {
        assert_eq!(ours, lit == candidate);
    }
    if ours {
        assert!(candidate.starts_with(g.literal_prefix()));
    }
}

/// The recipient's X25519 secret the seeqret export targets decrypt with.
pub const SEEQRET_RECIPIENT: [u8; 32] = [2; 32];
/// The sender's X25519 secret (its public key is the expected sender).
pub const SEEQRET_SENDER: [u8; 32] = [1; 32];

/// seeqret exports: the text as a `json-crypt` export (with and without a known sender) and
/// as `command` lines, addressed to [`SEEQRET_RECIPIENT`] from [`SEEQRET_SENDER`].
///
/// # Panics
/// Never on its own; the fuzzer looks for panics inside the parsers.
pub fn fuzz_seeqret_export(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let sender = seeqret::decode_public_key(&seeqret::seeqret_public_key(&SEEQRET_SENDER))
        .expect("own public key");
    if let Ok(e) = seeqret::parse_json_crypt(&text, &SEEQRET_RECIPIENT, Some(&sender)) {
        assert_eq!(
            seeqret::decode_public_key(&e.to.pubkey).ok(),
            seeqret::decode_public_key(&seeqret::seeqret_public_key(&SEEQRET_RECIPIENT)).ok(),
            "an export for someone else was accepted"
        );
    }
    let _ = seeqret::parse_json_crypt(&text, &SEEQRET_RECIPIENT, None);
    let _ = seeqret::parse_command_lines(&text, &SEEQRET_RECIPIENT, &sender);
}

/// The Fernet key file [`fuzz_seeqret_vault`] puts beside the database.
pub const SEEQRET_FERNET_KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

thread_local! {
    static SEEQRET_DIR: TempDir = {
        let d = TempDir::new("seeqret");
        std::fs::write(d.0.join("seeqret.key"), SEEQRET_FERNET_KEY).expect("key file");
        d
    };
}

/// A seeqret vault folder: `data` is its `seeqrets.db` (the Fernet key file is fixed, see
/// [`SEEQRET_FERNET_KEY`]); it is opened with [`seeqret::SeeqretVault::open`] and every reader
/// runs (secrets, users, owner, keys); then `tresor import-seeqret` ([`Vault::import_seeqret`])
/// imports it into a real vault kept across inputs. The database is written to a tmpfs file:
/// SQLite reads files.
///
/// # Panics
/// Never on its own; the fuzzer looks for panics inside the reader.
pub fn fuzz_seeqret_vault(data: &[u8]) {
    SEEQRET_DIR.with(|d| {
        let db = d.0.join("seeqrets.db");
        for f in ["seeqrets.db-wal", "seeqrets.db-shm", "seeqrets.db-journal"] {
            let _ = std::fs::remove_file(d.0.join(f));
        }
        std::fs::write(&db, data).expect("writing the fuzz database");
        let Ok(v) = seeqret::SeeqretVault::open(&d.0) else {
            return;
        };
        let _ = v.schema_version();
        let _ = v.secrets();
        let _ = v
            .users()
            .map(|us| us.iter().filter(|u| u.public_key().is_ok()).count());
        let _ = v.owner();
        let _ = v.private_key();
        let _ = v.public_key();
        drop(v);
        let _ = import_seeqret(&d.0);
    });
}

/// Imports the seeqret vault folder `dir` into the fuzz vault of [`fuzz_load`], as
/// `tresor import-seeqret` does; returns the count of secrets added or updated.
///
/// # Errors
/// What [`Vault::import_seeqret`] returns.
pub fn import_seeqret(dir: &Path) -> crate::Result<usize> {
    LOAD.with(|cell| {
        let mut g = cell.borrow_mut();
        let st = g.get_or_insert_with(load_state);
        let (r, _) = st.vault.import_seeqret(dir)?;
        Ok(r.added.len() + r.updated.len())
    })
}

/// The user name the fuzzer signs [`fuzz_load`]'s mode-1 exports as.
pub const FUZZ_SENDER: &str = "fuzz-sender";
const EXPORT_FORMAT: &str = "tresor-export/1";

/// A vault that receives exports, and the sender's keys as that vault knows them.
struct LoadState {
    _dir: TempDir,
    vault: Vault,
    age: age::x25519::Recipient,
    signing: ed25519_dalek::SigningKey,
}

thread_local! {
    static LOAD: RefCell<Option<LoadState>> = const { RefCell::new(None) };
}

fn load_state() -> LoadState {
    let dir = TempDir::new("load");
    let opts = InitOptions {
        user: Some("bob".into()),
        ..InitOptions::default()
    };
    let vault = Vault::init(&dir.0.join("v"), opts).expect("a fuzz vault");
    let age = vault
        .owner()
        .ok()
        .and_then(|o| o.age)
        .and_then(|a| a.parse::<age::x25519::Recipient>().ok())
        .expect("the owner's age recipient");
    let signing = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let sender_age = age::x25519::Identity::generate().to_public();
    let b64 = base64::engine::general_purpose::STANDARD;
    let pubkey = format!(
        "{sender_age}:{}",
        b64.encode(signing.verifying_key().as_bytes())
    );
    vault
        .add_user(FUZZ_SENDER, "", &pubkey)
        .expect("adding the fuzz sender");
    let seeqret_pub = seeqret::seeqret_public_key(&SEEQRET_SENDER);
    vault
        .add_user("seeqret-sender", "", &seeqret_pub)
        .expect("adding the seeqret sender");
    LoadState {
        _dir: dir,
        vault,
        age,
        signing,
    }
}

/// `tresor load`: byte 0 picks the mode. Mode 0 (even): the rest is an export file given to
/// [`Vault::load`] (as from [`FUZZ_SENDER`], as from the seeqret sender, and with no sender).
/// Mode 1 (odd): the rest is the *inner* JSON of a tresor export, which the fuzzer encrypts to
/// the vault's owner and signs as [`FUZZ_SENDER`] (a known user), so the fuzzer reaches the
/// code behind the signature check. The vault is a real one, kept across inputs.
///
/// # Panics
/// When a mode-0 file whose signature the fuzzer did not make is accepted as a tresor export.
pub fn fuzz_load(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    LOAD.with(|cell| {
        let mut g = cell.borrow_mut();
        let st = g.get_or_insert_with(load_state);
        let v = &st.vault;
        if mode & 1 == 0 {
            let text = String::from_utf8_lossy(rest);
            let r = v.load(&text, Some(FUZZ_SENDER));
            let tresor_format = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .is_some_and(|j| j.get("format").and_then(|f| f.as_str()) == Some(EXPORT_FORMAT));
            // No input here carries a signature by the sender's key: never accepted.
            assert!(!(tresor_format && r.is_ok()), "a forged export was loaded");
            let _ = v.load(&text, Some("seeqret-sender"));
            let _ = v.load(&text, None);
        } else {
            let _ = load_signed(st, rest);
        }
    });
}

/// Encrypts `inner` to the vault's owner, signs it as [`FUZZ_SENDER`] the way `tresor export`
/// does, and loads it.
fn load_signed(st: &LoadState, inner: &[u8]) -> crate::Result<crate::ImportReport> {
    let payload = age::encrypt(&st.age, inner)
        .map_err(|e| crate::VaultError::Refused(format!("age: {e}")))?;
    let to = st.vault.config().user.clone();
    let mut signed = Vec::with_capacity(payload.len() + 64);
    for part in [
        EXPORT_FORMAT.as_bytes(),
        FUZZ_SENDER.as_bytes(),
        to.as_bytes(),
    ] {
        signed.extend_from_slice(part);
        signed.push(0);
    }
    signed.extend_from_slice(&payload);
    let sig = ed25519_dalek::Signer::sign(&st.signing, &signed);
    let b64 = base64::engine::general_purpose::STANDARD;
    let file = serde_json::json!({
        "format": EXPORT_FORMAT, "from": FUZZ_SENDER, "to": to,
        "payload": b64.encode(&payload),
        "signature": b64.encode(sig.to_bytes()),
    });
    st.vault.load(&file.to_string(), Some(FUZZ_SENDER))
}

/// Loads `inner` as [`fuzz_load`]'s mode 1 does and returns the result; for the seed tests,
/// which check that the framing above still matches the real export format.
///
/// # Errors
/// What [`Vault::load`] returns.
pub fn load_signed_inner(inner: &[u8]) -> crate::Result<crate::ImportReport> {
    LOAD.with(|cell| {
        let mut g = cell.borrow_mut();
        let st = g.get_or_insert_with(load_state);
        load_signed(st, inner)
    })
}

const BACKUP_MAGIC: &[u8] = b"TRESOR-BACKUP/1\n";
const BACKUP_AAD: &[u8] = b"tresor/v1\0backup";

/// The vault key of [`fuzz_backup`]'s vault: fixed, so committed body seeds (made by
/// [`sample_backup_body`] under the same key) restore in every fuzzing process.
const BACKUP_KEK: [u8; 32] = [7; 32];

/// A vault in `dir` under [`BACKUP_KEK`] (no owner identity: backups do not need one).
fn fixed_key_vault(dir: &Path) -> crate::Result<Vault> {
    std::fs::create_dir_all(dir).map_err(crate::VaultError::io("creating", dir))?;
    let kek = || tresor_crypto::LocalKek::from_bytes(BACKUP_KEK);
    let store = tresor_store::Store::open_sqlite(
        &dir.join(crate::DB_FILE),
        std::sync::Arc::new(kek()),
        "fuzz",
    )?;
    store.check_key()?;
    drop(store);
    let config = crate::VaultConfig {
        version: 1,
        user: "fuzz".into(),
        email: String::new(),
        created: 1,
        store: None,
    };
    let text =
        serde_json::to_vec(&config).map_err(|e| crate::VaultError::Refused(e.to_string()))?;
    let cfg = dir.join(crate::CONFIG_FILE);
    std::fs::write(&cfg, text).map_err(crate::VaultError::io("writing", &cfg))?;
    Vault::open_with_key(dir, kek())
}

thread_local! {
    static BACKUP: (TempDir, Vault) = {
        let dir = TempDir::new("backup");
        let v = fixed_key_vault(&dir.0.join("v")).expect("a fuzz vault");
        (dir, v)
    };
}

/// Backups: byte 0 picks the mode. Mode 0 (even): the rest is a backup file given to
/// [`Vault::restore`], which must refuse it (no input is sealed under this vault's key).
/// Mode 1 (odd): the rest is the backup's *body* (the JSON inside the envelope), which the
/// fuzzer seals under the vault's key as a backup would, so the fuzzer reaches the JSON and
/// the store's restore; after a restore the vault must still list.
///
/// # Panics
/// When a backup not sealed under the vault's key is restored.
pub fn fuzz_backup(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    BACKUP.with(|(dir, v)| {
        let path = dir.0.join("in.backup");
        let file = if mode & 1 == 0 {
            rest.to_vec()
        } else {
            let Ok(sealed) =
                tresor_crypto::envelope::seal(v.store().provider().as_ref(), BACKUP_AAD, rest)
            else {
                return;
            };
            let mut f = BACKUP_MAGIC.to_vec();
            f.extend_from_slice(&sealed.to_bytes());
            f
        };
        std::fs::write(&path, &file).expect("writing the fuzz backup");
        let r = v.restore(&path, true);
        if mode & 1 == 0 {
            assert!(
                r.is_err(),
                "a backup not sealed under this vault's key was restored"
            );
        } else if r.is_ok() {
            v.list(&FilterSet::empty())
                .expect("a restored vault does not list");
        }
    });
}

/// Restores `body` as [`fuzz_backup`]'s mode 1 does and returns the result; for the seed
/// tests, which check that the framing above still matches the real backup format.
///
/// # Errors
/// What [`Vault::restore`] returns.
pub fn restore_sealed_body(body: &[u8]) -> crate::Result<crate::backup::BackupReport> {
    BACKUP.with(|(dir, v)| {
        let sealed =
            tresor_crypto::envelope::seal(v.store().provider().as_ref(), BACKUP_AAD, body)?;
        let mut f = BACKUP_MAGIC.to_vec();
        f.extend_from_slice(&sealed.to_bytes());
        let path = dir.0.join("in.backup");
        std::fs::write(&path, &f).map_err(crate::VaultError::io("writing", &path))?;
        v.restore(&path, true)
    })
}

/// Makes a backup of a fresh vault under [`fuzz_backup`]'s fixed key, holding a few secrets,
/// and returns its body (the JSON sealed inside), for seeding [`fuzz_backup`].
///
/// # Errors
/// Vault errors.
pub fn sample_backup_body() -> crate::Result<Vec<u8>> {
    let dir = TempDir::new("sample");
    let v = fixed_key_vault(&dir.0.join("v"))?;
    v.add("app", "dev", "DB_PASSWORD", b"hunter2", "str", false)?;
    v.add("app", "prod", "TOKEN", b"t\n'\"", "str", false)?;
    let body = serde_json::json!({
        "config": v.config(),
        "dump": v.store().dump()?,
    });
    serde_json::to_vec(&body).map_err(|e| crate::VaultError::Refused(e.to_string()))
}

/// A folder removed on drop (under `/dev/shm` when it exists, so commits cost no disk I/O).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = base.join(format!("tresor-fuzz-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating a fuzz folder");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
