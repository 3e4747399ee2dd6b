//! The store's backend conformance suite on a real S3 server (moto in server mode).
//!
//! Needs `TRESOR_TEST_S3_ENDPOINT` (`tests/peers/moto/start.sh` prints it; `scripts/test.sh`
//! starts moto and sets it). Without it the tests fail under `CI=true` and are skipped, loudly,
//! elsewhere.
//!
//! Every conformance case runs unchanged. One property differs from SQL and is documented
//! rather than tested here: a batch touching several objects is applied object by object (S3
//! has no multi-key transaction). The suite's multi-object failure case (create + name clash in
//! one transaction) is refused by the `Txn` before anything reaches the backend, so it holds.
#![cfg(feature = "s3")]

mod common;

use std::sync::Arc;

use tresor_store::Backend;

#[test]
fn s3_conformance() {
    let Some(env) = common::S3Env::get() else {
        return;
    };
    let bucket = env.bucket("conf");
    let n = std::sync::atomic::AtomicUsize::new(0);
    tresor_store::testing::conformance(&|| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Arc::new(env.backend(&format!("s3://{bucket}/case{i}"))) as Arc<dyn Backend>
    });
}
