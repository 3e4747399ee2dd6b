//! A connection and a transaction on it, each statement prepared once per connection (the
//! statement cache, emptied when PostgreSQL says a cached plan went stale).

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row, Statement, Transaction};

/// Statements a connection has prepared, by SQL text.
///
/// PostgreSQL keeps a prepared statement for the whole session, so a cached one costs one
/// round trip (Bind/Execute) instead of two (Parse/Describe, then Bind/Execute), and the server
/// skips parsing and analysis. A new connection starts with none: reconnecting (after
/// PostgreSQL restarted, say) invalidates them with the connection.
#[derive(Default)]
struct Statements {
    by_sql: HashMap<String, Statement>,
}

/// At most this many statements per connection: Locate builds its SQL from the query, so the
/// texts are not a fixed set. When full, the cache starts again.
const MAX_STATEMENTS: usize = 64;

impl Statements {
    fn get(&mut self, c: &mut impl GenericClient, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.by_sql.get(sql) {
            return Ok(s.clone());
        }
        if self.by_sql.len() >= MAX_STATEMENTS {
            self.by_sql.clear();
        }
        let s = c.prepare(sql)?;
        self.by_sql.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// After an error: a cached plan PostgreSQL can no longer use (SQLSTATE 0A000, "cached
    /// plan must not change result type": a table changed under it) empties the cache, so the
    /// next call prepares afresh. Returns true if and only if that happened.
    fn forget_if_stale(&mut self, e: &postgres::Error) -> bool {
        let stale = e.code() == Some(&postgres::error::SqlState::FEATURE_NOT_SUPPORTED);
        if stale {
            self.by_sql.clear();
        }
        stale
    }
}

/// A pooled connection with its prepared statements.
pub(super) struct Conn {
    pub(super) client: Client,
    statements: Statements,
    /// Set when [`Statements::forget_if_stale`] emptied the cache during the last call.
    pub(super) stale: bool,
}

/// Query helpers shared by a connection and a transaction on it: every statement is
/// prepared once per connection.
macro_rules! cached_queries {
    ($client:ident) => {
        pub(super) fn query_opt(
            &mut self,
            sql: &str,
            params: &[&(dyn ToSql + Sync)],
        ) -> std::result::Result<Option<Row>, postgres::Error> {
            let st = self.statements.get(&mut self.$client, sql)?;
            let r = self.$client.query_opt(&st, params);
            self.note(r)
        }

        pub(super) fn query(
            &mut self,
            sql: &str,
            params: &[&(dyn ToSql + Sync)],
        ) -> std::result::Result<Vec<Row>, postgres::Error> {
            let st = self.statements.get(&mut self.$client, sql)?;
            let r = self.$client.query(&st, params);
            self.note(r)
        }

        pub(super) fn execute(
            &mut self,
            sql: &str,
            params: &[&(dyn ToSql + Sync)],
        ) -> std::result::Result<u64, postgres::Error> {
            let st = self.statements.get(&mut self.$client, sql)?;
            let r = self.$client.execute(&st, params);
            self.note(r)
        }
    };
}

impl Conn {
    pub(super) fn new(client: Client) -> Self {
        Conn {
            client,
            statements: Statements::default(),
            stale: false,
        }
    }

    fn note<T>(
        &mut self,
        r: std::result::Result<T, postgres::Error>,
    ) -> std::result::Result<T, postgres::Error> {
        if let Err(e) = &r {
            self.stale |= self.statements.forget_if_stale(e);
        }
        r
    }

    cached_queries!(client);

    pub(super) fn query_one(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> std::result::Result<Row, postgres::Error> {
        let st = self.statements.get(&mut self.client, sql)?;
        let r = self.client.query_one(&st, params);
        self.note(r)
    }

    pub(super) fn batch_execute(&mut self, sql: &str) -> std::result::Result<(), postgres::Error> {
        self.client.batch_execute(sql)
    }

    /// A read-write transaction whose statements use this connection's cache.
    pub(super) fn transaction(&mut self) -> std::result::Result<Tx<'_>, postgres::Error> {
        Ok(Tx {
            tx: self.client.transaction()?,
            statements: &mut self.statements,
            stale: &mut self.stale,
        })
    }

    /// A read-only snapshot (REPEATABLE READ) transaction.
    pub(super) fn snapshot(&mut self) -> std::result::Result<Tx<'_>, postgres::Error> {
        Ok(Tx {
            tx: self
                .client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?,
            statements: &mut self.statements,
            stale: &mut self.stale,
        })
    }
}

/// A transaction on a [`Conn`], using and filling its statement cache (PostgreSQL keeps
/// prepared statements across a rollback: they belong to the session, not the transaction).
pub(super) struct Tx<'a> {
    tx: Transaction<'a>,
    statements: &'a mut Statements,
    pub(super) stale: &'a mut bool,
}

impl Tx<'_> {
    fn note<T>(
        &mut self,
        r: std::result::Result<T, postgres::Error>,
    ) -> std::result::Result<T, postgres::Error> {
        if let Err(e) = &r {
            *self.stale |= self.statements.forget_if_stale(e);
        }
        r
    }

    cached_queries!(tx);

    pub(super) fn batch_execute(&mut self, sql: &str) -> std::result::Result<(), postgres::Error> {
        self.tx.batch_execute(sql)
    }

    pub(super) fn commit(self) -> std::result::Result<(), postgres::Error> {
        self.tx.commit()
    }

    /// A savepoint in this transaction: dropped without [`Tx::commit`], it rolls back to
    /// where it was taken, and only that.
    pub(super) fn savepoint(&mut self) -> std::result::Result<Tx<'_>, postgres::Error> {
        Ok(Tx {
            tx: self.tx.transaction()?,
            statements: &mut *self.statements,
            stale: &mut *self.stale,
        })
    }
}
