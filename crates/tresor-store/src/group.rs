//! Group commit: concurrent writers' batches applied in one database transaction, made
//! durable by one fsync.
//!
//! A commit is bounded by its fsync (a few hundred microseconds on this class of disk), not
//! by its CPU work. Writers that arrive while a commit is in flight queue here; when it
//! ends, the first of them becomes the *leader*: it takes every queued batch (up to
//! [`MAX_GROUP`]), applies them in arrival order inside one transaction and commits once. A
//! batch that fails (a conflict, a taken name, a rotated key) fails alone; the others commit
//! (PostgreSQL rolls back to the batch's savepoint; SQLite applies the group again without
//! it, see `sqlite::write`). Every writer returns only after the transaction holding its
//! batch has committed (or failed).
//!
//! There is no timer: a writer that finds no commit in flight leads at once with a group of
//! one, so a single writer waits for nothing but its own fsync. Groups form only from
//! writers that were already waiting — the wait is adaptive by construction. The queue is
//! bounded by the number of threads that can block in it (a server's connection limit);
//! [`MAX_GROUP`] bounds the work (and the transaction) one leader does.
//!
//! Audit entries are appended with each batch, after the entries of the batches before it
//! in the group: the chain stays one chain, in commit order.
//!
//! The same module was the model for LevelDB's and RocksDB's writer queues; the idea is
//! older (IBM's IMS Fast Path, 1980s).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::audit::{AuditSigner, Issued};
use crate::backend::Batch;
use crate::error::{Result, StoreError};

/// Most batches one leader applies in one transaction.
pub(crate) const MAX_GROUP: usize = 64;

/// One writer's batch waiting in the queue, and its outcome once applied.
pub(crate) struct Slot {
    /// The writes and audit drafts (a copy: the leader may be another thread).
    pub(crate) batch: Batch,
    /// MACs this batch's audit entries (its `last_issued` is copied back to the writer's).
    pub(crate) signer: AuditSigner,
    outcome: Mutex<Option<Result<()>>>,
    /// The run of audit entries of the whole group, once committed (see [`group_run`]).
    group: Mutex<Option<Issued>>,
    /// Wakes this writer alone (waited on with the queue's mutex): when its outcome is set,
    /// or when it has become the first in line with no leader. One condition variable per
    /// writer, not one for all: a group's end then wakes its own writers and the next
    /// leader, not every writer in the queue (16 writers: ~1 needless wake-up per Create).
    wake: Condvar,
}

impl Slot {
    /// A slot for `batch`, its outcome not known yet.
    pub(crate) fn new(batch: Batch, signer: AuditSigner) -> Arc<Slot> {
        Arc::new(Slot {
            batch,
            signer,
            outcome: Mutex::new(None),
            group: Mutex::new(None),
            wake: Condvar::new(),
        })
    }
}

struct Queue {
    waiting: VecDeque<Arc<Slot>>,
    leading: bool,
}

/// The writer queue of one backend.
pub(crate) struct GroupCommit {
    queue: Mutex<Queue>,
    /// Sizes of the groups committed so far: `sizes[i]` counts groups of `i + 1` batches
    /// (the last bucket: [`MAX_GROUP`]).
    sizes: Mutex<Vec<u64>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupCommit")
    }
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                leading: false,
            }),
            sizes: Mutex::new(vec![0; MAX_GROUP]),
        }
    }
}

impl GroupCommit {
    /// Commits `batch` together with whatever other writers queued meanwhile. `apply` is
    /// called by the leader (possibly this thread) with the group, in arrival order, and
    /// returns one result per slot; it must make the group durable before returning.
    ///
    /// # Errors
    /// This batch's result as `apply` reported it.
    pub(crate) fn commit(
        &self,
        batch: &Batch,
        signer: &AuditSigner,
        apply: impl FnOnce(&[Arc<Slot>]) -> Vec<Result<()>>,
    ) -> Result<()> {
        let mine = Slot::new(batch.clone(), signer.for_commit());
        let mut q = lock(&self.queue);
        q.waiting.push_back(mine.clone());
        loop {
            if let Some(outcome) = take(&mine) {
                drop(q);
                hand_back(&mine, signer);
                return outcome;
            }
            let first = q.waiting.front().is_some_and(|s| Arc::ptr_eq(s, &mine));
            if first && !q.leading {
                break;
            }
            q = mine.wake.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        // Leader: take the group, apply it without holding the queue.
        q.leading = true;
        let n = q.waiting.len().min(MAX_GROUP);
        let group: Vec<Arc<Slot>> = q.waiting.drain(..n).collect();
        drop(q);
        let results = {
            // A panicking `apply` must not leave the queue led forever: the guard hands
            // leadership back (the group's writers get an error).
            let guard = Leading {
                gc: self,
                group: &group,
            };
            let results = apply(&group);
            std::mem::forget(guard);
            results
        };
        self.finish(&group, results);
        let outcome = take(&mine).unwrap_or_else(|| Err(group_lost()));
        hand_back(&mine, signer);
        outcome
    }

    /// Hands the outcomes to the group's writers and leadership to the next in line.
    fn finish(&self, group: &[Arc<Slot>], results: Vec<Result<()>>) {
        let mut results = results.into_iter();
        let mut committed = Vec::with_capacity(group.len());
        let mut outcomes = Vec::with_capacity(group.len());
        for slot in group {
            let r = results.next().unwrap_or_else(|| Err(group_lost()));
            if r.is_ok() {
                committed.push(slot);
            }
            outcomes.push(r);
        }
        let run = group_run(&committed);
        for (slot, r) in group.iter().zip(outcomes) {
            *lock(&slot.group) = run.clone();
            *lock(&slot.outcome) = Some(r);
        }
        if let Some(c) = lock(&self.sizes).get_mut(group.len().clamp(1, MAX_GROUP) - 1) {
            *c += 1;
        }
        // The outcomes were set before the queue's lock is taken here, so a writer that found
        // none is already waiting (it checks and waits under that lock): no wake-up is lost.
        let next = {
            let mut q = lock(&self.queue);
            q.leading = false;
            q.waiting.front().cloned()
        };
        for slot in group {
            slot.wake.notify_one();
        }
        if let Some(next) = next {
            next.wake.notify_one();
        }
    }

    /// How many groups of each size were committed: `(size, count)` for sizes seen.
    pub(crate) fn group_sizes(&self) -> Vec<(usize, u64)> {
        lock(&self.sizes)
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (i + 1, *c))
            .collect()
    }
}

/// Copies what the leader recorded in `mine` (where its entries went, and the group's run)
/// to the writer's own signer.
fn hand_back(mine: &Slot, signer: &AuditSigner) {
    signer.set_last_issued(mine.signer.last_issued());
    signer.set_group_issued(lock(&mine.group).take());
}

/// The run of audit entries of a group's committed batches (in commit order), when they form
/// one unbroken run: each batch's entries chained onto the previous batch's last. Every writer
/// of the group then moves the audit head to the group's last entry, so the first to get
/// there writes it and the others find it written (one head write per group, not one per
/// writer). `None` (each writer records its own run) if a batch wrote no entry or the runs
/// do not join.
fn group_run(committed: &[&Arc<Slot>]) -> Option<Issued> {
    let mut run: Option<Issued> = None;
    for slot in committed {
        let mine = slot.signer.last_issued()?;
        run = Some(match run {
            None => mine,
            Some(r) if r.last == mine.chained_onto => Issued {
                chained_onto: r.chained_onto,
                last: mine.last,
            },
            Some(_) => return None,
        });
    }
    run
}

/// Gives the leadership back if the leader's `apply` panics.
struct Leading<'a> {
    gc: &'a GroupCommit,
    group: &'a [Arc<Slot>],
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.gc.finish(self.group, Vec::new());
    }
}

/// The outcomes of a group whose transaction failed as a whole: `e` for the first batch and
/// `copy(&e)` for each other one.
pub(crate) fn fail_group(
    e: StoreError,
    n: usize,
    copy: impl Fn(&StoreError) -> StoreError,
) -> Vec<Result<()>> {
    let mut out: Vec<Result<()>> = Vec::with_capacity(n);
    for _ in 1..n {
        out.push(Err(copy(&e)));
    }
    out.insert(0, Err(e));
    out
}

fn take(slot: &Slot) -> Option<Result<()>> {
    lock(&slot.outcome).take()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn group_lost() -> StoreError {
    StoreError::Unavailable("the commit holding this write failed before it finished".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn signer() -> AuditSigner {
        AuditSigner::new(tresor_crypto::Secret::new(vec![1u8; 32]))
    }

    /// A slot whose (per-commit) signer issued entries `from..=to`, chained onto `from - 1`.
    fn issued(from: u64, to: u64) -> Arc<Slot> {
        let slot = Slot::new(Batch::default(), signer());
        slot.signer.set_last_issued(Some(Issued {
            chained_onto: (from - 1, format!("mac{}", from - 1)),
            last: (to, format!("mac{to}")),
        }));
        slot
    }

    /// The group's run joins runs that follow each other; a gap or a batch without entries
    /// gives none (each writer then records its own head).
    #[test]
    fn a_group_run_joins_only_unbroken_runs() {
        let (a, b, c) = (issued(5, 6), issued(7, 7), issued(8, 10));
        let run = group_run(&[&a, &b, &c]).unwrap();
        assert_eq!(run.chained_onto, (4, "mac4".to_owned()));
        assert_eq!(run.last, (10, "mac10".to_owned()));
        assert!(group_run(&[&a, &c]).is_none(), "a gap between 6 and 8");
        let silent = Slot::new(Batch::default(), signer());
        assert!(
            group_run(&[&a, &silent]).is_none(),
            "a batch without entries"
        );
        assert!(group_run(&[]).is_none());
    }

    /// Many threads: every writer gets exactly its own result, groups form, and no group
    /// exceeds the bound.
    #[test]
    fn writers_get_their_own_outcome_and_groups_form() {
        let gc = Arc::new(GroupCommit::default());
        let applied = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let gc = gc.clone();
                let applied = applied.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let mut b = Batch::default();
                        // The batch's identity travels in a write: odd ones are refused.
                        b.writes.push(crate::backend::Write::DestroyMaterial {
                            uid: format!("{t}-{i}"),
                            below: Some((t * 1000 + i) as u32),
                        });
                        let r = gc.commit(&b, &signer(), |group| {
                            assert!(group.len() <= MAX_GROUP);
                            // Long enough for the others to queue behind this leader.
                            std::thread::sleep(std::time::Duration::from_micros(200));
                            applied.fetch_add(group.len(), Ordering::SeqCst);
                            group
                                .iter()
                                .map(|s| match &s.batch.writes[0] {
                                    crate::backend::Write::DestroyMaterial { below, uid } => {
                                        if below.unwrap() % 2 == 1 {
                                            Err(StoreError::Conflict(uid.clone()))
                                        } else {
                                            Ok(())
                                        }
                                    }
                                    _ => unreachable!(),
                                })
                                .collect()
                        });
                        assert_eq!(r.is_ok(), i % 2 == 0, "writer {t}-{i} got {r:?}");
                        if let Err(StoreError::Conflict(u)) = r {
                            assert_eq!(u, format!("{t}-{i}"));
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(applied.load(Ordering::SeqCst), 16 * 200);
        let sizes = gc.group_sizes();
        let groups: u64 = sizes.iter().map(|(_, c)| c).sum();
        let batches: u64 = sizes.iter().map(|(s, c)| *s as u64 * c).sum();
        assert_eq!(batches, 16 * 200);
        assert!(
            groups < batches,
            "no group of more than one formed: {sizes:?}"
        );
    }

    /// A leader whose apply panics hands leadership back: later writers still commit.
    #[test]
    fn a_panicking_leader_does_not_stall_the_queue() {
        let gc = Arc::new(GroupCommit::default());
        let g2 = gc.clone();
        let r =
            std::thread::spawn(move || g2.commit(&Batch::default(), &signer(), |_| panic!("boom")))
                .join();
        assert!(r.is_err());
        let ok = gc.commit(&Batch::default(), &signer(), |g| {
            g.iter().map(|_| Ok(())).collect()
        });
        assert!(ok.is_ok());
    }
}
