//! What a PostgreSQL error means for the store: a connection that is gone (retry on a fresh
//! one), a lost race, a unique-key clash, or a plain failure; and its message with causes.

use crate::StoreError;

/// The error and its causes ("error performing TLS handshake: invalid peer certificate: …").
pub(super) fn describe(e: &postgres::Error) -> String {
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cause = c.source();
    }
    s
}

pub(super) fn unavailable(e: postgres::Error) -> StoreError {
    StoreError::Unavailable(describe(&e))
}

/// Returns true if and only if `e` means the connection (or the server) is gone: closed
/// socket, I/O error, or a SQLSTATE of class 08 (connection exception), 57P01-57P03 (the
/// server shutting down or starting) or 53300 (too many connections).
pub(super) fn is_connection_error(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(c) => {
            let c = c.code();
            c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03" | "53300")
        }
        None => e.as_db_error().is_none(),
    }
}

pub(super) fn pg(e: postgres::Error) -> StoreError {
    if is_connection_error(&e) {
        return StoreError::Unavailable(describe(&e));
    }
    if let Some(c) = e.code()
        && matches!(c.code(), "40001" | "40P01")
    {
        // Serialization failure or deadlock: the writer retries, as after a lost race.
        return StoreError::Conflict(format!("(database said: {e})"));
    }
    StoreError::Decode(format!("postgres: {e}"))
}

pub(super) fn is_unique(e: &postgres::Error) -> Option<String> {
    let db = e.as_db_error()?;
    (db.code() == &postgres::error::SqlState::UNIQUE_VIOLATION)
        .then(|| db.constraint().unwrap_or("").to_owned())
}
