#![allow(missing_docs)]
//! `Vault::get` (no cache, straight from SQLite), `Vault::list` of a filter matching 10 of
//! 100,000 secrets, and `Vault::add`. Run by `bench/vault/run.sh`, which reads criterion's
//! estimates; `cargo bench -p tresor-vault --bench get` runs it alone.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use tresor_crypto::SecretBytes;
use tresor_vault::filter::FilterSet;
use tresor_vault::{InitOptions, Vault};

/// 100 apps × 1,000 keys: `app{0..99}:prod:KEY_{000..999}`.
const APPS: usize = 100;
const KEYS: usize = 1000;

fn vault_100k() -> (tempfile::TempDir, Vault) {
    let tmp = tempfile::tempdir().unwrap();
    let v = Vault::init(&tmp.path().join("v"), InitOptions::default()).unwrap();
    let t = Instant::now();
    for a in 0..APPS {
        let pairs: Vec<(String, SecretBytes)> = (0..KEYS)
            .map(|k| {
                (
                    format!("KEY_{k:03}"),
                    SecretBytes::from(format!("value-{a}-{k}-0123456789abcdef")),
                )
            })
            .collect();
        v.import_pairs(&format!("app{a}"), "prod", &pairs, false, false)
            .unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "import_pairs: {} secrets in {secs:.2} s = {:.0} secrets/s (1,000 per transaction)",
        APPS * KEYS,
        (APPS * KEYS) as f64 / secs
    );
    (tmp, v)
}

fn benches(c: &mut Criterion) {
    let (_tmp, v) = vault_100k();
    assert_eq!(
        v.get("app42:prod:KEY_500").unwrap().expose(),
        b"value-42-500-0123456789abcdef"
    );
    c.bench_function("vault_get_exact", |b| {
        b.iter(|| black_box(v.get(black_box("app42:prod:KEY_500")).unwrap()))
    });
    let set = FilterSet::new(["app7:prod:KEY_00*"]).unwrap();
    assert_eq!(v.list(&set).unwrap().len(), 10);
    c.bench_function("vault_list_10_of_100k", |b| {
        b.iter(|| black_box(v.list(black_box(&set)).unwrap()))
    });
    let mut i = 0u64;
    c.bench_function("vault_add", |b| {
        b.iter(|| {
            i += 1;
            v.add("bench", "add", &format!("K{i}"), b"value", "str", false)
                .unwrap()
        })
    });
}

criterion_group! {
    name = vault;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(vault);
