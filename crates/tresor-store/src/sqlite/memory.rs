//! What a SQLite store costs in memory, and its bound (issue 17's soak).
//!
//! A long-running `tresor kmip serve` on SQLite holds, besides its fixed start-up cost:
//!
//! - **Pooled connections**: at most [`POOL_MAX`] are kept between requests (more are opened
//!   while more requests use the store at once, and closed when they finish).
//! - **SQLite's page cache**, per connection: at most [`CACHE_KIB`] KiB of heap (anonymous
//!   memory) each, so at most `POOL_MAX × CACHE_KIB` KiB for the pool. A connection's cache
//!   fills as it reads and writes pages, then stays at its bound (least recently used pages
//!   are dropped).
//! - **No memory map of the database file** (`PRAGMA mmap_size=0`, [`MMAP_BYTES`]). With
//!   the 256 MiB map tresor used before, every page a connection read through the map stayed
//!   counted in the process's RSS (`RssFile`), once per connection: the soak of issue 17
//!   measured RSS growing from 48.6 to 218 MiB in 600 s while the store grew by 46,000
//!   objects (≈ 3.7 KiB each; a debug run measured the heap stopping at ~53 MiB while the
//!   map kept growing), with a bound of `POOL_MAX × 256 MiB`.
//!   Those pages were the kernel's clean page cache of the file (reclaimable), but an RSS
//!   that follows the database's size cannot be told from a leak by an operator, and an I/O
//!   error on a mapped page is a SIGBUS that kills the server instead of an error it can
//!   report. Reads now go through `pread` into the page cache above.
//!
//! So the server's RSS is its start-up cost plus at most `POOL_MAX × CACHE_KIB` KiB of page
//! cache (plus what each request allocates and frees), whatever the number of objects; the
//! test below asserts the parts of the bound a test can see (the pool never keeps more than
//! [`POOL_MAX`] connections, each with the cache and map sizes named here), and
//! `bench/faults/soak.sh` measures RSS (`RssAnon` and `RssFile` apart) over an hour.

/// Connections kept in the pool between requests.
pub const POOL_MAX: usize = 8;

/// Upper bound of one connection's page cache, in KiB (`PRAGMA cache_size=-16000`).
pub const CACHE_KIB: u64 = 16_000;

/// Bytes of the database file each connection maps (`PRAGMA mmap_size`): none.
pub const MMAP_BYTES: u64 = 0;

/// The most anonymous (heap) memory the pool's page caches can hold, in bytes.
pub const fn pool_cache_bound() -> u64 {
    POOL_MAX as u64 * CACHE_KIB * 1024
}

#[cfg(test)]
mod tests {
    use super::super::SqliteBackend;
    use super::*;
    use std::sync::{Arc, Barrier};

    /// Sixteen threads using the store at the same instant open sixteen connections; once
    /// they are done the pool keeps at most [`POOL_MAX`], and every kept connection has the
    /// page cache and map bounds this module documents (so the memory bound holds).
    #[test]
    fn pool_keeps_at_most_pool_max_connections_with_the_documented_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let b = Arc::new(SqliteBackend::open(&dir.path().join("m.db")).unwrap());
        let n = 2 * POOL_MAX;
        let barrier = Arc::new(Barrier::new(n));
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let (b, barrier) = (b.clone(), barrier.clone());
                std::thread::spawn(move || {
                    b.with(|c| {
                        // Every thread holds its connection until all of them hold one.
                        barrier.wait();
                        c.query_row("SELECT count(*) FROM objects", [], |r| r.get::<_, i64>(0))
                    })
                    .unwrap()
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 0);
        }
        let pool = b.pool.lock().unwrap();
        assert_eq!(
            pool.len(),
            POOL_MAX,
            "{n} concurrent users: the pool keeps exactly POOL_MAX connections"
        );
        for c in pool.iter() {
            let cache: i64 = c.query_row("PRAGMA cache_size", [], |r| r.get(0)).unwrap();
            let mmap: i64 = c.query_row("PRAGMA mmap_size", [], |r| r.get(0)).unwrap();
            assert_eq!(cache, -(CACHE_KIB as i64), "cache_size in KiB (negative)");
            assert_eq!(mmap as u64, MMAP_BYTES, "no map of the database file");
        }
        assert_eq!(pool_cache_bound(), 8 * 16_000 * 1024);
    }
}
