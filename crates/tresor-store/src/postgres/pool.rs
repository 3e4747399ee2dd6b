//! The connection pool: taking and returning connections, dropping them all when one broke,
//! and running a call on a pooled connection, retried once on a fresh one when nothing of it
//! can have been committed; `blocking`, which lets those calls be made from a tokio worker.

use super::PostgresBackend;
use super::conn::Conn;
use super::errors::{is_connection_error, pg, unavailable};
#[cfg(doc)]
use crate::backend::Backend;
use crate::{Result, StoreError};

/// Idle connections kept per backend (more may be open while busy).
const MAX_IDLE: usize = 16;

/// Runs `f`, which blocks on PostgreSQL, so that it may be called from anywhere.
///
/// The sync `postgres` client drives its connection with a runtime of its own, which must not
/// start on a thread that is running tokio tasks (a KMIP server answers reads in place on its
/// worker): that panics. On a multi-thread runtime `block_in_place` hands the worker's other
/// tasks to another thread for the wait, so the other connections keep being served while
/// this one waits for PostgreSQL. Outside a runtime, and on a current-thread runtime (where
/// `block_in_place` is not allowed; the caller must then use `spawn_blocking`), `f` runs as is.
pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl PostgresBackend {
    pub(super) fn connect_one(&self) -> Result<Conn> {
        self.config
            .connect(self.tls.clone())
            .map(Conn::new)
            .map_err(unavailable)
    }

    /// A connection from the pool (`true`) or a fresh one (`false`).
    fn take(&self) -> Result<(Conn, bool)> {
        loop {
            let popped = self.pool.lock().map(|mut p| p.pop()).unwrap_or(None);
            match popped {
                Some(c) if c.client.is_closed() => continue,
                Some(c) => return Ok((c, true)),
                None => return Ok((self.connect_one()?, false)),
            }
        }
    }

    pub(super) fn release(&self, mut c: Conn) {
        if c.client.is_closed() {
            return;
        }
        c.stale = false;
        if let Ok(mut p) = self.pool.lock()
            && p.len() < MAX_IDLE
        {
            p.push(c);
        }
    }

    /// Forgets every pooled connection: after one broke, the others (opened to the same
    /// server process) are broken too.
    fn drop_pool(&self) {
        let old = self.pool.lock().map(|mut p| std::mem::take(&mut *p));
        drop(old);
    }

    /// Runs `f` on a pooled connection. A broken pooled connection is replaced and `f` run
    /// once more on a fresh one: `f` must be safe to repeat (reads, or a transaction that
    /// failed before its COMMIT was sent — see [`PostgresBackend::commit`]). So is a call
    /// that met a stale cached plan, on the same connection once its cache is emptied.
    pub(super) fn with<T>(
        &self,
        f: impl FnMut(&mut Conn) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        crate::prefetch::forget();
        blocking(|| self.with_here(f))
    }

    fn with_here<T>(
        &self,
        mut f: impl FnMut(&mut Conn) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let (mut c, pooled) = self.take()?;
        let mut r = f(&mut c);
        if r.is_err() && std::mem::take(&mut c.stale) {
            r = f(&mut c);
        }
        match r {
            Err(e) if is_connection_error(&e) => {
                drop(c);
                self.drop_pool();
                if !pooled {
                    return Err(pg(e));
                }
                let mut c = self.connect_one()?;
                let r = f(&mut c);
                self.release(c);
                r.map_err(pg)
            }
            r => {
                self.release(c);
                r.map_err(pg)
            }
        }
    }

    /// As [`PostgresBackend::with`] for a body returning the store's errors; `sent` tells
    /// whether a broken connection may have committed (then no retry).
    pub(super) fn with_tx<T>(&self, f: impl FnMut(&mut Conn, &mut bool) -> Result<T>) -> Result<T> {
        crate::prefetch::forget();
        blocking(|| self.with_tx_here(f))
    }

    fn with_tx_here<T>(&self, mut f: impl FnMut(&mut Conn, &mut bool) -> Result<T>) -> Result<T> {
        let (mut c, pooled) = self.take()?;
        let mut sent = false;
        let mut r = f(&mut c, &mut sent);
        if r.is_err() && !sent && std::mem::take(&mut c.stale) {
            r = f(&mut c, &mut sent);
        }
        let broken = c.client.is_closed() || matches!(r, Err(StoreError::Unavailable(_)));
        if broken {
            drop(c);
            self.drop_pool();
            if pooled && !sent {
                let mut c = self.connect_one()?;
                let mut sent = false;
                let r = f(&mut c, &mut sent);
                self.release(c);
                return r;
            }
            return r;
        }
        self.release(c);
        r
    }
}
