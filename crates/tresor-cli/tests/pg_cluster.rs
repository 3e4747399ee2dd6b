//! Several `tresor kmip serve` processes (the real binary) on one PostgreSQL database, a
//! PostgreSQL restart under load, and TLS / password sources for the PostgreSQL connection.
//!
//! `two_servers_one_database` needs `TRESOR_TEST_PG_URL` (scripts/test.sh starts a throw-away
//! server); the restart and TLS tests start their own cluster with scripts/pg.sh. Without
//! PostgreSQL they fail under `CI=true` and are skipped, loudly, elsewhere.
//!
//! The tests are in `tests/pg_cluster/`: `two_servers.rs`, `restart.rs`, `tls.rs`; what they
//! share (PostgreSQL, the `tresor` processes, a blocking KMIP client) is in `support.rs`.

#[path = "common/test_logs.rs"]
mod test_logs;

#[path = "pg_cluster/support.rs"]
mod support;

#[path = "pg_cluster/restart.rs"]
mod restart;
#[path = "pg_cluster/tls.rs"]
mod tls;
#[path = "pg_cluster/two_servers.rs"]
mod two_servers;
