//! Appliance profiles: the request sequences that KMIP clients in the field send, replayed
//! against the tresor server (in process, real SQLite store, mutual TLS, the crate's own
//! client speaking each profile's protocol version). Reconstructed from the products' public
//! documentation and issue reports; what each needs is in `docs/kmip-profiles.md`.
//!
//! - `profiles/vsphere.rs`: VMware vSphere / vCenter key provider (KMIP 1.1).
//! - `profiles/mongodb.rs`: MongoDB Enterprise and Percona Server for MongoDB (KMIP 1.0 with
//!   `kmipUseLegacyProtocol`, 1.2 by default), with `Fresh`.
//! - `profiles/mysql.rs`: MySQL / Percona Server `keyring_kmip` (KMIP 1.1/1.2 through libkmip).
//! - `profiles/pg_tde.rs`: Percona `pg_tde` (KMIP 1.4 through libkmip).
//!
//! `cargo test --workspace --all-features --test profiles`

mod common;

#[path = "profiles/steps.rs"]
mod steps;

#[path = "profiles/mongodb.rs"]
mod mongodb;
#[path = "profiles/mysql.rs"]
mod mysql;
#[path = "profiles/pg_tde.rs"]
mod pg_tde;
#[path = "profiles/vsphere.rs"]
mod vsphere;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vmware_vsphere_kmip_1_1() {
    let f = common::start().await;
    vsphere::run(&f).await;
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_and_percona_kmip_1_0_legacy_with_fresh() {
    let f = common::start().await;
    mongodb::run(&f, tresor_kmip::ProtocolVersion::V1_0).await;
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_and_percona_kmip_1_2() {
    let f = common::start().await;
    mongodb::run(&f, tresor_kmip::ProtocolVersion::V1_2).await;
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_keyring_kmip() {
    let f = common::start().await;
    mysql::run(&f).await;
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percona_pg_tde() {
    let f = common::start().await;
    pg_tde::run(&f).await;
    f.stop().await;
}
