//! Where a request that writes runs: on the worker that read it, or after handing that
//! worker's other connections to another thread.
//!
//! The store is synchronous and a write waits for its commit's fsync (a few hundred
//! microseconds, longer when it waits for a group to form). A tokio worker that waits does
//! not poll its other connections, so a server with two workers and inline writes was 4×
//! slower at Create (session 4). `block_in_place` avoids that by handing the worker's core
//! to another thread, but each hand-over costs a thread wake-up and context switches (under
//! 16 writers ~6 switches per Create in all, measured system-wide).
//!
//! So up to *workers − 1* writes wait inline at once (`tresor kmip serve --worker-threads`,
//! default [`DEFAULT_WORKER_THREADS`]): one worker is always free for everyone else's I/O and
//! reads, and a writer beyond that count still steps aside with `block_in_place`. A lone
//! connection's write runs inline whatever the count (there is no other connection to serve
//! meanwhile).
//!
//! Measured on this 2-core machine (session 18, `bench/kmip/group.sh`, release builds): with
//! 16 workers, ~6 context switches per Create under 16 writers became ~4.5, and the server
//! won when other processes competed for the cores; on an idle machine it lost instead
//! (Create on 16 connections −10 %, Get on 16 connections −10 %: idle workers woken to steal
//! work cost more than the hand-overs saved). The default stays at 2 workers, where one write
//! at a time waits inline; a machine with more cores can give more.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Worker threads of `tresor kmip serve` unless `--worker-threads` says otherwise.
pub const DEFAULT_WORKER_THREADS: usize = 2;

/// Counts the writes waiting inline on a worker now.
#[derive(Debug, Default)]
pub(super) struct InlineWrites {
    waiting: AtomicUsize,
}

impl InlineWrites {
    /// Runs `write` (a request that writes) on this worker if that leaves a worker free,
    /// else under `block_in_place`. `lone`: the request's connection is the only one open.
    pub(super) fn run<T>(&self, lone: bool, write: impl FnOnce() -> T) -> T {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return write();
        };
        // block_in_place is not allowed on a current-thread runtime.
        if lone || rt.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return write();
        }
        let workers = rt.metrics().num_workers();
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _counted = Counted(&self.waiting);
        if before + 1 < workers {
            write()
        } else {
            tokio::task::block_in_place(write)
        }
    }

    /// Writes waiting inline now (for tests).
    #[cfg(test)]
    fn now(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

/// Takes one write off the count when it ends (also when it panics).
struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    /// On a 3-worker runtime, 2 writers wait inline at once and the third steps aside: while
    /// all three wait, a fourth task still runs (a free worker polls it), and every writer
    /// ends with the count back at 0.
    #[test]
    fn one_worker_stays_free_while_writers_wait() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(3)
            .enable_all()
            .build()
            .unwrap();
        let inline = Arc::new(InlineWrites::default());
        // The 3 writers and this thread meet twice: once all are inside, once to leave.
        let inside = Arc::new(Barrier::new(4));
        let leave = Arc::new(Barrier::new(4));
        let seen = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let writers: Vec<_> = (0..3)
                .map(|_| {
                    let (inline, inside, leave, seen) =
                        (inline.clone(), inside.clone(), leave.clone(), seen.clone());
                    tokio::spawn(async move {
                        inline.run(false, || {
                            seen.fetch_max(inline.now(), Ordering::AcqRel);
                            inside.wait();
                            leave.wait();
                        })
                    })
                })
                .collect();
            // This thread is not a worker: it may block. Once the 3 writers are inside…
            inside.wait();
            // …a new task must still be polled by a free worker.
            // (Polled by sleeping here: a timer needs a worker to drive it.)
            let task = tokio::spawn(async { 7 });
            let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !task.is_finished() && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let free = task.is_finished();
            // Let the writers go before judging, so a failure does not hang the runtime.
            leave.wait();
            for w in writers {
                w.await.unwrap();
            }
            assert!(free, "no worker was left free while 3 writers waited");
            assert_eq!(task.await.unwrap(), 7);
        });
        assert_eq!(seen.load(Ordering::Acquire), 3);
        assert_eq!(inline.now(), 0);
    }

    /// A lone connection's write and a write outside a runtime run inline and count nothing.
    #[test]
    fn lone_and_outside_a_runtime_run_inline() {
        let inline = InlineWrites::default();
        assert_eq!(inline.run(true, || inline.now()), 0);
        assert_eq!(inline.run(false, || inline.now()), 0);
    }
}
