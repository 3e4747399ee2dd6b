//! Group commit on a real SQLite file and a real PostgreSQL database: concurrent writers share commits, a batch that fails
//! inside a group fails alone, and the audit chain stays one chain.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tresor_crypto::LocalKek;
use tresor_store::{Backend, HeadSink, NewObject, ObjectType, SqliteBackend, Store, StoreError};

fn secret(name: &str) -> NewObject {
    let mut n = NewObject::new(ObjectType::SecretData);
    n.names.push(name.into());
    n.material = Some(name.as_bytes().to_vec());
    n
}

/// How long a wait in these tests may last before it counts as a hang: generous (each step
/// takes milliseconds), so that a regression that deadlocks a writer fails the test with a
/// message instead of hanging the run. A guard, not a performance bound.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// A barrier for `n` threads whose wait fails after [`HANG_GUARD`] (a thread that never
/// arrives panicked or hangs) where `std::sync::Barrier` would wait forever.
struct GuardedBarrier {
    n: usize,
    /// Threads arrived in this generation, and the generation.
    state: Mutex<(usize, u64)>,
    all_in: Condvar,
}

impl GuardedBarrier {
    fn new(n: usize) -> Self {
        GuardedBarrier {
            n,
            state: Mutex::new((0, 0)),
            all_in: Condvar::new(),
        }
    }

    /// Waits until all `n` threads have called `wait`; panics naming `what` after
    /// [`HANG_GUARD`].
    fn wait(&self, what: &str) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = st.1;
        st.0 += 1;
        if st.0 == self.n {
            *st = (0, generation + 1);
            self.all_in.notify_all();
            return;
        }
        let (st, _) = self
            .all_in
            .wait_timeout_while(st, HANG_GUARD, |st| st.1 == generation)
            .unwrap_or_else(PoisonError::into_inner);
        assert!(
            st.1 != generation,
            "{what}: only {} of {} threads reached the barrier within {HANG_GUARD:?} \
             (another writer panicked or hangs)",
            st.0,
            self.n
        );
    }
}

/// Joins `h` (named `what`), failing the test if it has not finished by `deadline` (a hang)
/// rather than waiting forever; a panic in the thread fails the test with its message.
fn join_by<T>(h: JoinHandle<T>, deadline: Instant, what: &str) -> T {
    while !h.is_finished() {
        assert!(
            Instant::now() < deadline,
            "{what} did not finish within {HANG_GUARD:?}: a hang (group commit deadlocked?)"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    match h.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// 16 writers; in every round all of them create one unique name each AND race for one
/// shared name. Exactly one wins each shared name (the others fail with `NameTaken` or a
/// conflict, inside groups whose other batches commit), every unique create succeeds, and
/// groups of more than one batch were committed.
#[test]
fn sqlite_a_failing_batch_fails_alone_and_its_group_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let backend = Arc::new(SqliteBackend::open(&path).unwrap());
    race_for_names(backend, &|| {
        Arc::new(SqliteBackend::open(&path).unwrap()) as Arc<dyn Backend>
    });
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_a_failing_batch_fails_alone_and_its_group_commits() {
    let Some(url) = pg_database("group") else {
        return;
    };
    let backend = Arc::new(tresor_store::PostgresBackend::connect(&url).unwrap());
    race_for_names(backend, &|| {
        Arc::new(tresor_store::PostgresBackend::connect(&url).unwrap()) as Arc<dyn Backend>
    });
}

/// A fresh database `tresor_{tag}_{pid}` on `TRESOR_TEST_PG_URL`'s server; `None` (skipped)
/// when it is not set, which CI does not allow.
#[cfg(feature = "postgres")]
fn pg_database(tag: &str) -> Option<String> {
    let admin = match std::env::var("TRESOR_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "TRESOR_TEST_PG_URL is not set under CI: scripts/test.sh must start PostgreSQL"
            );
            eprintln!("SKIPPED: TRESOR_TEST_PG_URL not set");
            return None;
        }
    };
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("connect admin");
    let db = format!("tresor_{tag}_{}", std::process::id());
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    Some(format!("{base}/{db}"))
}

/// Injected failures inside one group (SQLite): while another connection holds the write
/// lock (`BEGIN IMMEDIATE`), a lone leader waits on it and every other writer queues behind
/// it; when the lock is released they commit as ONE group, in which two batches fail (a uid
/// that exists, a name another batch of the group takes first) and the rest commit.
#[test]
fn sqlite_injected_failures_inside_one_group_leave_the_others_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let backend = Arc::new(SqliteBackend::open(&path).unwrap());
    let hold_path = path.clone();
    injected_failures_in_one_group(
        backend,
        &|| Arc::new(SqliteBackend::open(&path).unwrap()) as Arc<dyn Backend>,
        &move || {
            let c = rusqlite::Connection::open(&hold_path).unwrap();
            c.execute_batch("BEGIN IMMEDIATE").unwrap();
            Box::new(move || c.execute_batch("COMMIT").unwrap())
        },
        // SQLite shows no waiter from outside: the leader has had time to reach the lock.
        &|| std::thread::sleep(SETTLE),
    );
}

/// The same on PostgreSQL: another session holds `LOCK TABLE audit IN EXCLUSIVE MODE` (the
/// leader blocks on its audit insert, inside its transaction and the writers' advisory
/// lock), and the test sees the leader waiting in `pg_stat_activity`.
#[cfg(feature = "postgres")]
#[test]
fn postgres_injected_failures_inside_one_group_leave_the_others_committed() {
    let Some(url) = pg_database("inject") else {
        return;
    };
    let backend = Arc::new(tresor_store::PostgresBackend::connect(&url).unwrap());
    let (hold_url, watch_url) = (url.clone(), url.clone());
    injected_failures_in_one_group(
        backend,
        &|| Arc::new(tresor_store::PostgresBackend::connect(&url).unwrap()) as Arc<dyn Backend>,
        &move || {
            let mut c = postgres::Client::connect(&hold_url, postgres::NoTls).unwrap();
            c.batch_execute("BEGIN; LOCK TABLE audit IN EXCLUSIVE MODE")
                .unwrap();
            Box::new(move || c.batch_execute("COMMIT").unwrap())
        },
        &move || {
            let mut c = postgres::Client::connect(&watch_url, postgres::NoTls).unwrap();
            let t = Instant::now();
            loop {
                let waiting: i64 = c
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE datname = current_database() AND wait_event_type = 'Lock'",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                if waiting > 0 {
                    break;
                }
                assert!(
                    t.elapsed() < Duration::from_secs(10),
                    "the leader never waited on the held lock"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        },
    );
}

/// Time for spawned writers to reach the writer queue (they read a name or two first).
const SETTLE: Duration = Duration::from_millis(500);

/// The groups committed between two readings of `group_sizes`, as size → count.
fn new_groups(before: &[(usize, u64)], after: &[(usize, u64)]) -> BTreeMap<usize, u64> {
    let before: BTreeMap<usize, u64> = before.iter().copied().collect();
    after
        .iter()
        .filter_map(|(size, n)| {
            let d = n - before.get(size).copied().unwrap_or(0);
            (d > 0).then_some((*size, d))
        })
        .collect()
}

/// `hold` takes the database's write lock from outside the store and returns its release;
/// `leader_waits` returns once a lone writer is blocked on it.
fn injected_failures_in_one_group(
    backend: Arc<dyn Backend>,
    reopen: &dyn Fn() -> Arc<dyn Backend>,
    hold: &dyn Fn() -> Box<dyn FnOnce() + Send>,
    leader_waits: &dyn Fn(),
) {
    const UNIQUE: usize = 12;
    let kek = Arc::new(LocalKek::generate().unwrap());
    let head_dir = tempfile::tempdir().unwrap();
    let head = Arc::new(CountingHead {
        file: tresor_store::FileHead::new(head_dir.path().join("audit.head")),
        writes: Default::default(),
        updates: Default::default(),
    });
    let store = Arc::new(
        Store::open(backend.clone(), kek.clone(), "alice")
            .unwrap()
            .with_audit_head(head.clone()),
    );
    store.check_key().unwrap();
    let existing = store.create(secret("app:dev:EXISTING")).unwrap().uid;
    let count_before = store.count().unwrap();
    let sizes_before = backend.group_sizes();

    let release = hold();
    // The leader: a group of one, blocked on the held lock while the others queue.
    let s = store.clone();
    let leader = std::thread::spawn(move || s.create(secret("app:dev:LEADER")).map(|_| ()));
    leader_waits();
    let mut writers: Vec<(String, std::thread::JoinHandle<Result<(), StoreError>>)> = Vec::new();
    for i in 0..UNIQUE {
        let s = store.clone();
        let name = format!("app:dev:U{i}");
        let n = name.clone();
        writers.push((
            name,
            std::thread::spawn(move || s.create(secret(&n)).map(|_| ())),
        ));
    }
    // Injected failure 1: a create whose uid exists (precondition `Absent` fails in the
    // backend). One commit, no retry: `Store::write` would retry a conflict.
    let s = store.clone();
    let uid = existing.clone();
    let collide = std::thread::spawn(move || {
        let mut tx = s.begin();
        let mut n = secret("app:dev:COLLIDE");
        n.uid = Some(uid);
        tx.create(n)?;
        tx.commit()
    });
    // Injected failure 2: two creates of one new name; both pass the store's name check
    // (neither is committed yet), the first in the group takes it, the second fails with
    // the database's unique constraint.
    let twins: Vec<_> = (0..2)
        .map(|_| {
            let s = store.clone();
            std::thread::spawn(move || s.create(secret("app:dev:TWIN")).map(|_| ()))
        })
        .collect();
    std::thread::sleep(SETTLE);
    release();

    let deadline = Instant::now() + HANG_GUARD;
    join_by(leader, deadline, "the leader").expect("the leader's create");
    for (name, w) in writers {
        join_by(w, deadline, &name)
            .unwrap_or_else(|e| panic!("{name} failed beside the injected failures: {e}"));
    }
    let c = join_by(collide, deadline, "the colliding create");
    assert!(
        matches!(c, Err(StoreError::Conflict(_))),
        "a create of an existing uid: {c:?}"
    );
    let twins: Vec<_> = twins
        .into_iter()
        .map(|t| join_by(t, deadline, "a twin"))
        .collect();
    assert_eq!(
        twins.iter().filter(|t| t.is_ok()).count(),
        1,
        "one twin must win: {twins:?}"
    );
    assert!(
        twins
            .iter()
            .any(|t| matches!(t, Err(StoreError::NameTaken(n)) if n == "app:dev:TWIN")),
        "the other twin fails on the name: {twins:?}"
    );

    // The proof that they shared a group: the leader committed alone, then ONE group held
    // every other batch, the two failing ones included.
    let groups = new_groups(&sizes_before, &backend.group_sizes());
    let others = UNIQUE + 1 + 2;
    assert_eq!(
        groups,
        BTreeMap::from([(1, 1), (others, 1)]),
        "expected the lone leader's group and one group of {others} batches"
    );

    // One audit head write per commit group, not per writer: the existing object's, the
    // leader's, and one for the group of 15 (its first writer moves the head to the group's
    // last entry; the others find it there without taking the sink's lock or reading it).
    assert_eq!(
        head.writes.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "audit head writes"
    );
    assert_eq!(
        head.updates.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "audit head updates (lock, read, maybe write)"
    );

    // Committed (seen through a new connection): the leader, every unique writer, one twin;
    // nothing of the failed batches.
    drop(store);
    let again = Store::open(reopen(), kek, "alice").unwrap();
    assert_eq!(again.count().unwrap(), count_before + 1 + UNIQUE as u64 + 1);
    for i in 0..UNIQUE {
        let n = format!("app:dev:U{i}");
        assert!(again.get_by_name(&n).unwrap().is_some(), "{n} lost");
    }
    assert!(again.get_by_name("app:dev:COLLIDE").unwrap().is_none());
    assert_eq!(
        again.get(&existing).unwrap().unwrap().names,
        vec!["app:dev:EXISTING".to_owned()],
        "the existing object was left as it was"
    );
    let report = again.verify_audit().unwrap();
    assert!(report.is_ok(), "audit chain broken: {report:?}");
    // The head written once for the group names the chain's last entry.
    let again = again.with_audit_head(head.clone());
    let report = again.verify_audit().unwrap();
    assert!(
        report.is_ok(),
        "the head does not reach the chain's end: {report:?}"
    );
    let recorded = tresor_store::AuditHead::from_bytes(&head.read().unwrap().unwrap()).unwrap();
    let last = again.audit(0, usize::MAX).unwrap().last().unwrap().seq;
    assert_eq!(recorded.seq, last, "the head names the chain's last entry");
}

/// A [`FileHead`](tresor_store::FileHead) that counts its updates and the head writes they
/// make.
#[derive(Debug)]
struct CountingHead {
    file: tresor_store::FileHead,
    writes: std::sync::atomic::AtomicUsize,
    updates: std::sync::atomic::AtomicUsize,
}

impl tresor_store::HeadSink for CountingHead {
    fn read(&self) -> tresor_store::Result<Option<Vec<u8>>> {
        self.file.read()
    }

    fn update(&self, next: &mut tresor_store::HeadUpdate<'_>) -> tresor_store::Result<()> {
        self.updates
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.file.update(&mut |cur| {
            let out = next(cur)?;
            if out.is_some() {
                self.writes
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            Ok(out)
        })
    }
}

fn race_for_names(backend: Arc<dyn Backend>, reopen: &dyn Fn() -> Arc<dyn Backend>) {
    const WRITERS: usize = 16;
    const ROUNDS: usize = 40;
    let kek = Arc::new(LocalKek::generate().unwrap());
    let store = Arc::new(Store::open(backend.clone(), kek.clone(), "alice").unwrap());
    store.check_key().unwrap();
    let barrier = Arc::new(GuardedBarrier::new(WRITERS));
    let threads: Vec<_> = (0..WRITERS)
        .map(|t| {
            let store = store.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut won = Vec::new();
                for r in 0..ROUNDS {
                    barrier.wait(&format!("writer {t}, round {r}"));
                    store
                        .create(secret(&format!("app:dev:U{t}_{r}")))
                        .unwrap_or_else(|e| panic!("unique create {t}/{r} failed: {e}"));
                    match store.create(secret(&format!("app:dev:SHARED_{r}"))) {
                        Ok(_) => won.push(r),
                        Err(StoreError::NameTaken(_) | StoreError::Conflict(_)) => {}
                        Err(e) => panic!("shared create {t}/{r}: unexpected {e}"),
                    }
                }
                won
            })
        })
        .collect();
    let mut winners = vec![0usize; ROUNDS];
    // Each round takes milliseconds; a writer stuck at the barrier fails there first.
    let deadline = Instant::now() + 2 * HANG_GUARD;
    for (t, h) in threads.into_iter().enumerate() {
        for r in join_by(h, deadline, &format!("writer {t}")) {
            winners[r] += 1;
        }
    }
    assert!(
        winners.iter().all(|w| *w == 1),
        "each shared name must be won exactly once: {winners:?}"
    );
    for t in 0..WRITERS {
        for r in 0..ROUNDS {
            let n = format!("app:dev:U{t}_{r}");
            assert!(store.get_by_name(&n).unwrap().is_some(), "{n} lost");
        }
    }
    assert_eq!(store.count().unwrap() as usize, WRITERS * ROUNDS + ROUNDS);
    let report = store.verify_audit().unwrap();
    assert!(report.is_ok(), "audit chain broken: {report:?}");
    let sizes = backend.group_sizes();
    assert!(
        sizes.iter().any(|(size, n)| *size > 1 && *n > 0),
        "no group of more than one batch formed: {sizes:?}"
    );

    // Everything survives a reopen (the groups were committed, not only cached).
    drop(store);
    let again = Store::open(reopen(), kek, "alice").unwrap();
    assert_eq!(again.count().unwrap() as usize, WRITERS * ROUNDS + ROUNDS);
    assert!(again.verify_audit().unwrap().is_ok());
}
