//! Progress of long operations (imports, backups, migrations), reported to whoever drives
//! them: the `tresor` command draws a bar from it; libraries only call these methods and
//! never draw anything themselves.

/// Receives the progress of a long operation. Every method has a default that does nothing,
/// and `()` is the receiver that ignores everything.
pub trait Progress: Sync {
    /// A new phase starts: `what` is a short description without secrets (e.g.
    /// `"importing"`), `total` the number of steps if known.
    fn phase(&self, what: &str, total: Option<u64>) {
        let _ = (what, total);
    }
    /// `n` more steps of the current phase are done.
    fn advance(&self, n: u64) {
        let _ = n;
    }
    /// The operation is over; `summary` says what was done, in one line without secrets.
    fn finish(&self, summary: &str) {
        let _ = summary;
    }
}

/// Ignores all progress.
impl Progress for () {}
