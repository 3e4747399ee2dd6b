//! The VFS against real SQLite databases: one write per commit, and everything SQLite
//! promises still holds (other connections see each commit, committed data survives a
//! connection that is never closed, large and rolled-back transactions stay consistent).

use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, params};
use tresor_sqlite_vfs::{VFS_NAME, register, stats};

/// The counters are per process: tests that read them run one at a time.
static COUNTERS: Mutex<()> = Mutex::new(());

fn open(path: &std::path::Path, synchronous: &str) -> Connection {
    register().unwrap();
    let c = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), VFS_NAME).unwrap();
    c.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; \
         CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB NOT NULL);"
    ))
    .unwrap();
    c
}

/// The default VFS's view of the same file (what another process or the sqlite3 shell sees).
fn plain(path: &std::path::Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE).unwrap()
}

fn insert(c: &Connection, from: i64, n: i64, size: usize) {
    let tx = c.unchecked_transaction().unwrap();
    for k in from..from + n {
        tx.execute(
            "INSERT INTO t (k, v) VALUES (?1, ?2)",
            params![k, vec![(k % 251) as u8; size]],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

fn check(c: &Connection, rows: i64) {
    let (n, sum): (i64, i64) = c
        .query_row(
            "SELECT count(*), coalesce(sum(length(v)), 0) FROM t",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(n, rows, "rows seen");
    assert!(sum > 0 || rows == 0);
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

/// A transaction of many pages reaches the WAL file as one write; without the VFS, SQLite
/// makes two writes per page.
#[test]
fn a_commit_of_many_pages_is_one_write() {
    let _one = COUNTERS.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let c = open(&dir.path().join("a.db"), "FULL");
    insert(&c, 0, 1, 10);
    let before = stats();
    insert(&c, 1, 12, 3000); // 12 rows of ~3 KB: ~12 leaf pages and their parent
    let after = stats();
    let writes = after.writes - before.writes;
    let flushes = after.flushes - before.flushes;
    assert!(writes >= 24, "SQLite asked for {writes} writes");
    assert_eq!(
        flushes, 1,
        "{writes} writes reached the kernel as {flushes}"
    );
    check(&plain(&dir.path().join("a.db")), 13);
}

/// With `synchronous=NORMAL` a commit does not sync the WAL: SQLite publishes the new frames
/// to other connections right after writing them. A reader on the default VFS must see every
/// commit whole at once (the frames are in the file before they are published).
#[test]
fn every_commit_is_visible_to_other_connections_without_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let w = open(&path, "NORMAL");
    let r = plain(&path);
    let mut rows = 0;
    for i in 0..300 {
        let n = 1 + (i * 7) % 13;
        insert(&w, rows, n, 200 + (i as usize * 331) % 3500);
        rows += n;
        let seen: i64 = r
            .query_row("SELECT count(*) FROM t", [], |x| x.get(0))
            .unwrap();
        assert_eq!(seen, rows, "after commit {i}");
        let v: Vec<u8> = r
            .query_row("SELECT v FROM t WHERE k=?1", [rows - 1], |x| x.get(0))
            .unwrap();
        assert!(v.iter().all(|b| *b == ((rows - 1) % 251) as u8));
    }
    check(&r, rows);
}

/// A killed writer loses nothing it committed: each commit's frames were written before it
/// returned. The writer is this test binary run again as a child process, which commits 40
/// rows, starts a transaction of many pages (spilled to the WAL by a tiny cache) and aborts.
#[test]
fn committed_data_survives_a_killed_writer() {
    if let Ok(spec) = std::env::var("TRESOR_VFS_TEST_CHILD") {
        let (path, sync) = spec.split_once('|').unwrap();
        let c = open(std::path::Path::new(path), sync);
        let base: i64 = c
            .query_row("SELECT count(*) FROM t", [], |x| x.get(0))
            .unwrap();
        insert(&c, base, 40, 900);
        c.execute_batch("PRAGMA cache_size=2; BEGIN").unwrap();
        for k in 0..200 {
            c.execute(
                "INSERT INTO t (k, v) VALUES (?1, zeroblob(2000))",
                [1_000_000 + base + k],
            )
            .unwrap();
        }
        std::process::abort();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    for (i, sync) in ["FULL", "NORMAL", "FULL"].into_iter().enumerate() {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "committed_data_survives_a_killed_writer",
                "--nocapture",
            ])
            .env(
                "TRESOR_VFS_TEST_CHILD",
                format!("{}|{sync}", path.display()),
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "the child must have aborted");
        check(&plain(&path), 40 * (i as i64 + 1));
    }
}

/// A transaction larger than what the VFS gathers at once, a rolled-back one, and a
/// checkpoint between them: the database stays whole and holds exactly the commits.
#[test]
fn large_and_rolled_back_transactions_stay_consistent() {
    let _one = COUNTERS.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let c = open(&path, "FULL");
    let before = stats();
    insert(&c, 0, 800, 3000); // ~2.4 MB: written in pieces of at most 128 KiB
    assert!(stats().flushes - before.flushes >= 19);
    c.execute_batch(
        "BEGIN; DELETE FROM t WHERE k % 2 = 0; UPDATE t SET v = zeroblob(10); ROLLBACK;",
    )
    .unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    insert(&c, 800, 50, 100);
    c.execute_batch("UPDATE t SET v = zeroblob(5) WHERE k < 10")
        .unwrap();
    check(&c, 850);
    drop(c);
    check(&plain(&path), 850);
}
