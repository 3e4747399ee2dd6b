//! Store-wide rollback of a real SQLite file: an older copy of the database put back, the
//! last audit rows deleted, a forged audit head. The hash chain alone cannot see any of these;
//! the audit head kept outside the database must.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tresor_store::{AuditHead, FileHead, HEAD_FILE, NewObject, ObjectType, Store};

struct Fixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
    head: PathBuf,
    kek: Arc<tresor_crypto::LocalKek>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Fixture {
            db: dir.path().join("tresor.db"),
            head: dir.path().join(HEAD_FILE),
            kek: Arc::new(tresor_crypto::LocalKek::generate().unwrap()),
            _dir: dir,
        }
    }

    /// The store as a vault opens it: SQLite with the head file beside it.
    fn open(&self) -> Store {
        Store::open_sqlite(&self.db, self.kek.clone(), "alice")
            .unwrap()
            .with_audit_head(Arc::new(FileHead::new(&self.head)))
    }

    /// The store with no head kept (as before this change).
    fn open_headless(&self) -> Store {
        Store::open_sqlite(&self.db, self.kek.clone(), "alice").unwrap()
    }
}

fn add(store: &Store, i: usize) {
    let mut new = NewObject::new(ObjectType::SecretData);
    new.names.push(format!("app:dev:K{i}"));
    new.material = Some(format!("value-{i}").into_bytes());
    store.create(new).unwrap();
}

/// Copies the database (and its WAL and shared-memory files, if present) from `from` to `to`.
fn copy_db(from: &Path, to: &Path) {
    for ext in ["", "-wal", "-shm"] {
        let src = PathBuf::from(format!("{}{ext}", from.display()));
        let dst = PathBuf::from(format!("{}{ext}", to.display()));
        let _ = std::fs::remove_file(&dst);
        if src.exists() {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

#[test]
fn an_older_database_put_back_is_reported() {
    let f = Fixture::new();
    let store = f.open();
    for i in 0..10 {
        add(&store, i);
    }
    let aside = f.db.with_file_name("aside.db");
    copy_db(&f.db, &aside);
    for i in 10..15 {
        add(&store, i);
    }
    assert!(store.verify_audit().unwrap().is_ok());
    drop(store);
    copy_db(&aside, &f.db);

    let report = f.open().verify_audit().unwrap();
    assert_eq!(report.first_bad, None, "the old chain is intact in itself");
    assert_eq!(report.head, Some(15));
    assert_eq!(report.missing_tail, Some((15, 10)));
    assert!(!report.is_ok());
}

#[test]
fn writes_after_a_rollback_do_not_hide_it() {
    let f = Fixture::new();
    let store = f.open();
    for i in 0..10 {
        add(&store, i);
    }
    let aside = f.db.with_file_name("aside.db");
    copy_db(&f.db, &aside);
    for i in 10..15 {
        add(&store, i);
    }
    drop(store);
    copy_db(&aside, &f.db);
    // The restored chain grows past the head again: 10 entries + 7 = 17 > 15.
    let store = f.open();
    for i in 100..107 {
        add(&store, i);
    }
    let report = store.verify_audit().unwrap();
    assert_eq!(report.first_bad, None);
    assert_eq!(
        report.head,
        Some(15),
        "the head was not moved onto the other chain"
    );
    assert_eq!(report.missing_tail, None);
    assert_eq!(report.head_mismatch, Some(15));
    assert!(!report.is_ok());
}

/// The same attack while the store stays open (a server running through it): this process
/// recognises the head it recorded itself, and its next commits chain onto the shortened
/// chain; they must not move the head onto it either.
#[test]
fn writes_after_a_tail_deleted_under_a_running_store_do_not_hide_it() {
    let f = Fixture::new();
    let store = f.open();
    for i in 0..15 {
        add(&store, i);
    }
    let c = rusqlite::Connection::open(&f.db).unwrap();
    let n = c.execute("DELETE FROM audit WHERE seq > 10", []).unwrap();
    assert_eq!(n, 5);
    drop(c);
    // 10 entries left; 7 more through the same open store reach seq 17 > 15.
    for i in 100..107 {
        add(&store, i);
    }
    let report = store.verify_audit().unwrap();
    assert_eq!(report.first_bad, None);
    assert_eq!(
        report.head,
        Some(15),
        "the head was not moved onto the shortened chain"
    );
    assert_eq!(report.head_mismatch, Some(15));
    assert!(!report.is_ok());
}

#[test]
fn deleted_tail_rows_are_reported() {
    let f = Fixture::new();
    let store = f.open();
    for i in 0..15 {
        add(&store, i);
    }
    drop(store);
    let c = rusqlite::Connection::open(&f.db).unwrap();
    let n = c
        .execute(
            "DELETE FROM audit WHERE seq > (SELECT MAX(seq) FROM audit) - 3",
            [],
        )
        .unwrap();
    assert_eq!(n, 3);
    drop(c);

    let report = f.open().verify_audit().unwrap();
    assert_eq!(
        report.first_bad, None,
        "the shortened chain is intact in itself"
    );
    assert_eq!(report.missing_tail, Some((15, 12)));
    assert!(!report.is_ok());
}

#[test]
fn a_forged_head_is_reported() {
    let f = Fixture::new();
    let store = f.open();
    for i in 0..5 {
        add(&store, i);
    }
    let good = AuditHead::from_bytes(&std::fs::read(&f.head).unwrap()).unwrap();
    assert_eq!(good.seq, 5);

    // Moved back to an earlier entry without the key: the MAC no longer fits.
    let entries = store.audit(0, 100).unwrap();
    let forged = AuditHead {
        seq: 2,
        entry: entries[1].mac.clone(),
        ..good.clone()
    };
    std::fs::write(&f.head, forged.to_bytes()).unwrap();
    let report = store.verify_audit().unwrap();
    assert!(report.head_tampered);
    assert!(!report.is_ok());

    // Garbage in place of the head.
    std::fs::write(&f.head, b"not a head\n").unwrap();
    assert!(store.verify_audit().unwrap().head_tampered);

    // A forged head is kept as evidence: a commit does not overwrite it.
    std::fs::write(&f.head, forged.to_bytes()).unwrap();
    add(&store, 99);
    assert_eq!(std::fs::read(&f.head).unwrap(), forged.to_bytes());
    assert!(store.verify_audit().unwrap().head_tampered);

    // A head made with another store's key does not verify here either.
    let other = Fixture::new();
    let o = other.open();
    for i in 0..6 {
        add(&o, i);
    }
    std::fs::copy(&other.head, &f.head).unwrap();
    assert!(store.verify_audit().unwrap().head_tampered);
}

#[test]
fn a_store_without_head_verifies_and_the_first_commit_records_one() {
    let f = Fixture::new();
    let old = f.open_headless();
    for i in 0..3 {
        add(&old, i);
    }
    drop(old);
    assert!(!f.head.exists());
    let store = f.open();
    let report = store.verify_audit().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.head, None);
    assert_eq!(report.entries, 3);

    add(&store, 3);
    let report = store.verify_audit().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.head, Some(4));
    let mode = tresor_store::fsutil::mode(&f.head).unwrap();
    assert_eq!(mode, 0o600);
}

#[test]
fn the_head_follows_each_commit_and_a_deliberate_restore() {
    let f = Fixture::new();
    let store = f.open();
    let mut tx = store.begin();
    tx.record("export", None, "x");
    tx.record("export", None, "y");
    let head = tx.commit_head().unwrap().expect("entries written");
    assert_eq!(head.seq, 2);
    assert_eq!(head.entry, store.audit(1, 1).unwrap()[0].mac);
    assert_eq!(
        AuditHead::from_bytes(&std::fs::read(&f.head).unwrap()).unwrap(),
        head
    );

    let dump = store.dump().unwrap();
    for i in 0..4 {
        add(&store, i);
    }
    // `restore` of an older dump is the key holder's own decision: the head follows it.
    store.restore(&dump).unwrap();
    let report = store.verify_audit().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.head, Some(2));
}

#[test]
fn a_server_stream_is_a_head_too() {
    let f = Fixture::new();
    let store = f.open();
    for i in 0..4 {
        add(&store, i);
    }
    let aside = f.db.with_file_name("aside.db");
    copy_db(&f.db, &aside);
    let mut stream = Vec::new();
    for i in 4..6 {
        add(&store, i);
        let h = std::fs::read(&f.head).unwrap();
        stream.extend_from_slice(
            format!(
                "{{\"op\":\"Create\",\"head\":{}}}\n{{\"op\":\"Get\"}}\n",
                String::from_utf8(h).unwrap().trim()
            )
            .as_bytes(),
        );
    }
    assert!(store.verify_audit_with(Some(&stream)).unwrap().is_ok());
    drop(store);
    copy_db(&aside, &f.db);
    let report = f.open_headless().verify_audit_with(Some(&stream)).unwrap();
    assert_eq!(report.missing_tail, Some((6, 4)));
    let report = f.open_headless().verify_audit_with(Some(b"{}\n")).unwrap();
    assert!(report.head_tampered);
}

/// Several writers on one vault (separate stores, as separate processes are) never move the
/// head backwards: it ends at the last entry of the chain.
#[test]
fn concurrent_writers_never_regress_the_head() {
    let f = Arc::new(Fixture::new());
    add(&f.open(), 0);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let f = f.clone();
            std::thread::spawn(move || {
                let store = f.open();
                for i in 0..15 {
                    add(&store, 1000 * (t + 1) + i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let store = f.open();
    let report = store.verify_audit().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.entries, 61);
    assert_eq!(report.head, Some(61));
}
