//! Running `tresor kmip serve` as a service (issue 17): structured logs that carry the
//! access fields and never a secret, Prometheus metrics that count what the test did,
//! `/readyz` following PostgreSQL, `tresor.toml` and `tresor config check`, SIGHUP reloads,
//! SIGTERM drains and sd_notify. Drives the real binary over mutual TLS.
//!
//! The tests are in `tests/ops_server/`: `logs.rs`, `metrics.rs`, `config.rs`, `signals.rs`,
//! `https_door.rs`; what they share (the server process, a blocking KMIP client, HTTP,
//! PostgreSQL) is in `support.rs`.

#[path = "common/test_logs.rs"]
mod test_logs;

#[path = "ops_server/support.rs"]
mod support;

#[path = "ops_server/config.rs"]
mod config;
#[path = "ops_server/https_door.rs"]
mod https_door;
#[path = "ops_server/logs.rs"]
mod logs;
#[path = "ops_server/metrics.rs"]
mod metrics;
#[path = "ops_server/signals.rs"]
mod signals;
