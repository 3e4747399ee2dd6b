//! Timing of tresor's S3 store API against a real S3 server (bench/s3/run.sh runs it against
//! moto): create, set (a new version), hot get, and the floor in the same process — a raw
//! GetObject / PutObject of the same bytes with the same HTTP client (object_store).
//!
//! Usage: `s3_bench BUCKET KMS_KEY_ID N` with the AWS variables pointing at the server.
//! Prints one `name median_us p90_us` line per measurement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::{ObjectStoreExt, PutPayload};
use tresor_s3::{CachingProvider, KmsProvider, S3Backend, S3Location, S3Settings};
use tresor_store::{NewObject, ObjectType, Store};

fn report(name: &str, mut t: Vec<Duration>) {
    t.sort();
    let p = |q: f64| t[((t.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6;
    println!("{name} {:.0} {:.0}", p(0.5), p(0.9));
}

fn timed(n: usize, mut f: impl FnMut(usize)) -> Vec<Duration> {
    (0..n)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed()
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, bucket, key, n] = args.as_slice() else {
        eprintln!("usage: s3_bench BUCKET KMS_KEY_ID N");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N");
    let settings = S3Settings::from_env();
    let loc = S3Location::parse(&format!("s3://{bucket}/bench")).expect("location");
    let backend = Arc::new(S3Backend::open_with(loc.clone(), &settings).expect("open"));
    let raw = backend.object_store();
    let kms = KmsProvider::new(key, &loc.url(), &settings).expect("kms");
    let provider = CachingProvider::new(Arc::new(kms), Duration::from_secs(300));
    let store = Store::open(backend.clone(), Arc::new(provider), "bench@local").expect("store");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut uids = Vec::new();
    report(
        "tresor_create",
        timed(n, |i| {
            let mut o = NewObject::new(ObjectType::SecretData);
            o.names.push(format!("svc{i}:default:user"));
            o.material = Some(format!("secret-{i}").into_bytes());
            uids.push(store.create(o).expect("create").uid);
        }),
    );
    report(
        "tresor_set",
        timed(n, |i| {
            store
                .write(|tx| tx.put_material(&uids[i], format!("secret-{i}-v2").as_bytes()))
                .expect("set");
        }),
    );
    // Warm the name cache and the data-key cache once, then measure hot gets.
    let name = "svc0:default:user";
    store.read_by_name(name).unwrap().unwrap();
    report(
        "tresor_get",
        timed(n, |_| {
            let (_, v) = store.read_by_name(name).unwrap().unwrap();
            assert_eq!(v.expose(), b"secret-0-v2");
        }),
    );
    // The floor: the same record's bytes with a raw GetObject, same client.
    let path = object_store::path::Path::from(format!("bench/objects/{}", uids[0]));
    let size = rt.block_on(raw.get(&path)).unwrap();
    let size = rt.block_on(size.bytes()).unwrap().len();
    report(
        "raw_get_same_object",
        timed(n, |_| {
            let g = rt.block_on(raw.get(&path)).unwrap();
            rt.block_on(g.bytes()).unwrap();
        }),
    );
    let small = object_store::path::Path::from("bench/raw/small");
    report(
        "raw_put_small",
        timed(n, |i| {
            rt.block_on(raw.put(&small, PutPayload::from(format!("secret-{i}").into_bytes())))
                .unwrap();
        }),
    );
    report(
        "raw_get_small",
        timed(n, |_| {
            let g = rt.block_on(raw.get(&small)).unwrap();
            rt.block_on(g.bytes()).unwrap();
        }),
    );
    eprintln!("record size {size} bytes");
}
