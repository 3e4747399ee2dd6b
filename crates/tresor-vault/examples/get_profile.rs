//! A fixed workload for profilers (`valgrind --tool=callgrind`, `perf`): builds a vault of
//! N secrets (default 10,000) in a temp folder, then calls `Vault::get` on an exact name
//! M times (default 20,000) and prints the rate.
//!
//! `cargo run --release -p tresor-vault --example get_profile -- 10000 20000`
use std::time::Instant;

use tresor_crypto::SecretBytes;
use tresor_vault::{InitOptions, Vault};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let m: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let tmp = tempfile::tempdir().expect("temp dir");
    let v = Vault::init(&tmp.path().join("v"), InitOptions::default()).expect("init");
    let pairs: Vec<(String, SecretBytes)> = (0..n)
        .map(|k| {
            (
                format!("KEY_{k:05}"),
                SecretBytes::from(format!("value-{k}")),
            )
        })
        .collect();
    v.import_pairs("app", "prod", &pairs, false, false)
        .expect("import");
    let name = format!("app:prod:KEY_{:05}", n / 2);
    let t = Instant::now();
    for _ in 0..m {
        std::hint::black_box(v.get(std::hint::black_box(&name)).expect("get"));
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{m} gets in {s:.3} s = {:.0}/s ({:.1} µs each)",
        m as f64 / s,
        s * 1e6 / m as f64
    );
}
