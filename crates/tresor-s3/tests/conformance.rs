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

/// A read from inside a multi-thread tokio runtime (as the KMIP server's inline reads do)
/// steps aside with `block_in_place`: the worker's other tasks keep running during the S3
/// round trips. With one worker thread, a plain blocking wait would freeze them.
#[test]
fn reads_on_a_runtime_worker_let_other_tasks_run() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let Some(env) = common::S3Env::get() else {
        return;
    };
    let bucket = env.bucket("worker");
    let backend = Arc::new(env.backend(&format!("s3://{bucket}/w")));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ticks = Arc::new(AtomicU64::new(0));
    let during = rt.block_on(async {
        let t = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                t.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_micros(200)).await;
            }
        });
        // Run the reads as a task on the (only) worker, not on the block_on thread.
        let b = backend.clone();
        let t = ticks.clone();
        let reader = tokio::spawn(async move {
            let before = t.load(Ordering::Relaxed);
            for i in 0..20 {
                assert!(b.get(&format!("missing-{i}")).unwrap().is_none());
            }
            t.load(Ordering::Relaxed) - before
        });
        let during = reader.await.unwrap();
        ticker.abort();
        during
    });
    assert!(
        during > 0,
        "no other task ran on the runtime during 20 S3 reads from its worker"
    );
}
