//! Per-operation latency of tresor-keyring against the raw `linux-keyutils`
//! calls it builds on. Run through `bench/keyring/run.sh`, which adds
//! python-linux-keyutils and prints the table.
//!
//! Prints one `impl<TAB>op<TAB>ns_per_op` line per measurement.

use std::hint::black_box;
use std::time::Instant;

use linux_keyutils::{KeyRing, KeyRingIdentifier};
use tresor_keyring::{Create, Keyring, Ring};

const VALUE: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

fn per_op(n: usize, mut f: impl FnMut(usize)) -> f64 {
    // Warm up caches and the key itself.
    for i in 0..n.min(1000) {
        f(i);
    }
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);

    // Raw linux-keyutils, ring resolved once, fixed read buffer.
    let raw = KeyRing::from_special_id(KeyRingIdentifier::Process, true)?;
    let set = per_op(n, |_| {
        black_box(raw.add_key("bench-raw", VALUE).expect("raw set"));
    });
    let mut buf = [0u8; 4096];
    let get = per_op(n, |_| {
        let k = raw.search("bench-raw").expect("raw search");
        black_box(k.read(&mut buf).expect("raw read"));
    });
    let inv = timed_each(n, |i| {
        let name = format!("bench-raw-inv-{i}");
        raw.add_key(&name, VALUE).expect("raw set");
        let t = Instant::now();
        raw.search(&name)
            .expect("raw search")
            .invalidate()
            .expect("raw invalidate");
        t.elapsed().as_nanos()
    });
    // Components of a get, for the record.
    let key = raw.search("bench-raw")?;
    let read_only = per_op(n, |_| {
        black_box(key.read(&mut buf).expect("raw read"));
    });
    let mut small = [0u8; 64];
    let read_small = per_op(n, |_| {
        black_box(key.read(&mut small).expect("raw read"));
    });
    let search_only = per_op(n, |_| {
        black_box(raw.search("bench-raw").expect("raw search"));
    });
    eprintln!(
        "components: read(cached id, 4096-byte buf) {read_only:.0} ns, read(64-byte buf) {read_small:.0} ns, search {search_only:.0} ns"
    );
    println!("raw linux-keyutils\tget by cached id\t{read_only:.0}");
    println!("raw linux-keyutils\tset\t{set:.0}");
    println!("raw linux-keyutils\tget\t{get:.0}");
    println!("raw linux-keyutils\tinvalidate\t{inv:.0}");

    // tresor-keyring.
    let kr = Keyring::open(Ring::Process)?;
    let set = per_op(n, |_| {
        black_box(
            kr.set("bench-tresor", VALUE, Create::Always)
                .expect("tresor set"),
        );
    });
    let get = per_op(n, |_| {
        black_box(kr.get("bench-tresor").expect("tresor get"));
    });
    let inv = timed_each(n, |i| {
        let name = format!("bench-tresor-inv-{i}");
        kr.set(&name, VALUE, Create::Always).expect("tresor set");
        let t = Instant::now();
        kr.invalidate(&name).expect("tresor invalidate");
        t.elapsed().as_nanos()
    });
    let get_cached = per_op(n, |_| {
        black_box(kr.get_cached("bench-tresor").expect("tresor get_cached"));
    });
    println!("tresor-keyring\tget_cached\t{get_cached:.0}");
    println!("tresor-keyring\tset\t{set:.0}");
    println!("tresor-keyring\tget\t{get:.0}");
    println!("tresor-keyring\tinvalidate\t{inv:.0}");
    Ok(())
}

/// Runs `f` `n` times; `f` times its own measured part (so per-iteration
/// setup, like creating the key to invalidate, is not counted). Keeps the
/// ring small: each key is invalidated right after it is made.
fn timed_each(n: usize, mut f: impl FnMut(usize) -> u128) -> f64 {
    let total: u128 = (0..n).map(&mut f).sum();
    total as f64 / n as f64
}
