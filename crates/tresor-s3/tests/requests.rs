//! How many requests an operation costs, counted by a proxy in front of moto (a real S3 and
//! KMS server): the target "hot get = exactly one S3 request".
#![cfg(feature = "kms")]

mod common;

use std::sync::Arc;

use common::S3Env;
use common::proxy::CountingProxy;
use tresor_s3::{CachingProvider, KmsProvider, S3Backend, S3Location};
use tresor_store::{NewObject, ObjectType, Store};

fn create_kms_key(env: &S3Env) -> String {
    let out = std::process::Command::new("curl")
        .args([
            "-sf", "-X", "POST", &format!("{}/", env.endpoint),
            "-H", "X-Amz-Target: TrentService.CreateKey",
            "-H", "Content-Type: application/x-amz-json-1.1",
            "-H", "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00",
            "-d", "{}",
        ])
        .output()
        .expect("curl");
    assert!(out.status.success(), "CreateKey: {out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
}

/// A store on `url` whose S3 and KMS traffic goes through `proxy`.
fn open(env: &S3Env, proxy: &CountingProxy, url: &str, key: &str) -> Store {
    let mut s = env.settings();
    s.endpoint = Some(proxy.endpoint.clone());
    let loc = S3Location::parse(url).unwrap();
    let backend = S3Backend::open_with(loc.clone(), &s).unwrap();
    let kms = KmsProvider::new(key, &loc.url(), &s).unwrap();
    let provider = CachingProvider::new(Arc::new(kms), std::time::Duration::from_secs(300));
    Store::open(Arc::new(backend), Arc::new(provider), "counter@test").unwrap()
}

#[test]
fn hot_get_is_exactly_one_get_object() {
    let Some(env) = S3Env::get() else {
        return;
    };
    let proxy = CountingProxy::start(&env.endpoint);
    let bucket = env.bucket("count");
    let key = create_kms_key(&env);
    let url = format!("s3://{bucket}/p");
    let store = open(&env, &proxy, &url, &key);
    let mut n = NewObject::new(ObjectType::SecretData);
    n.names.push("app:prod:DB_PASSWORD".into());
    n.material = Some(b"hunter2".to_vec());
    let uid = store.create(n).unwrap().uid;

    // A fresh process (cold): what a CLI `get` pays, for the record.
    proxy.take();
    let cold = open(&env, &proxy, &url, &key);
    // Opening a store sends nothing: no bucket check, no audit key (a read never needs it).
    let opened = proxy.take();
    assert_eq!(opened, Vec::<String>::new(), "{opened:?}");
    let (_, v) = cold.read_by_name("app:prod:DB_PASSWORD").unwrap().unwrap();
    assert_eq!(v.expose(), b"hunter2");
    let first = proxy.take();
    // Cold get, 6 round trips in all. Once per process, for the metadata MAC key (issue 13:
    // every read checks the record's MAC): the sealed audit key, its KMS Decrypt, the
    // store's MAC marker. Then per get: name -> uid, the record, the data key's KMS Decrypt.
    assert_eq!(
        first,
        [
            format!("GET /{bucket}/p/meta/audit-key"),
            "POST / TrentService.Decrypt".to_owned(),
            format!("GET /{bucket}/p/meta/metadata-mac"),
            format!("GET /{bucket}/p/names/app/prod/DB_PASSWORD"),
            format!("GET /{bucket}/p/objects/{uid}"),
            "POST / TrentService.Decrypt".to_owned()
        ],
        "{first:?}"
    );

    // Hot: the name -> uid mapping and the data key are cached; one GetObject of the record.
    for _ in 0..10 {
        let (_, v) = cold.read_by_name("app:prod:DB_PASSWORD").unwrap().unwrap();
        assert_eq!(v.expose(), b"hunter2");
    }
    let hot = proxy.take();
    let want = format!("GET /{bucket}/p/objects/{uid}");
    assert_eq!(hot.len(), 10, "{hot:?}");
    assert!(hot.iter().all(|r| *r == want), "{hot:?}");

    // Another writer changes the secret: the next hot get still costs one GetObject (the record
    // carries the new version) plus one KMS Decrypt of the new data key, and sees the change.
    store.write(|tx| tx.put_material(&uid, b"rotated")).unwrap();
    proxy.take();
    let (_, v) = cold.read_by_name("app:prod:DB_PASSWORD").unwrap().unwrap();
    assert_eq!(v.expose(), b"rotated");
    let after = proxy.take();
    assert_eq!(
        after.iter().filter(|r| r.starts_with("GET ")).count(),
        1,
        "{after:?}"
    );

    // The audit key was fetched by the process's first read (the metadata MAC key is derived
    // from it): writes fetch it no more.
    cold.write(|tx| tx.put_material(&uid, b"w1")).unwrap();
    cold.write(|tx| tx.put_material(&uid, b"w2")).unwrap();
    let writes = proxy.take();
    let count = |what: &str| writes.iter().filter(|r| *r == what).count();
    assert_eq!(
        count(&format!("GET /{bucket}/p/meta/audit-key")),
        0,
        "{writes:?}"
    );
    assert_eq!(count("POST / TrentService.Decrypt"), 0, "{writes:?}");
    let (_, v) = store.read_by_name("app:prod:DB_PASSWORD").unwrap().unwrap();
    assert_eq!(v.expose(), b"w2");
    assert_eq!(store.verify_audit().unwrap().first_bad, None);
}

#[test]
fn kernel_key_cache_lets_a_fresh_process_skip_kms() {
    let Some(env) = S3Env::get() else {
        return;
    };
    let proxy = CountingProxy::start(&env.endpoint);
    let bucket = env.bucket("kcache");
    let key = create_kms_key(&env);
    let url = format!("s3://{bucket}/p");
    let open_cached = || {
        let mut s = env.settings();
        s.endpoint = Some(proxy.endpoint.clone());
        let loc = S3Location::parse(&url).unwrap();
        let backend = S3Backend::open_with(loc.clone(), &s).unwrap();
        let kms = KmsProvider::new(&key, &loc.url(), &s).unwrap();
        let provider = CachingProvider::new(Arc::new(kms), std::time::Duration::from_secs(300))
            .with_key_cache(
                Arc::new(tresor_keyring::KernelKeyCache),
                std::time::Duration::from_secs(60),
            );
        Store::open(Arc::new(backend), Arc::new(provider), "counter@test").unwrap()
    };
    let first = open_cached();
    let mut n = NewObject::new(ObjectType::SecretData);
    n.names.push("app:prod:API".into());
    n.material = Some(b"k-123".to_vec());
    let uid = first.create(n).unwrap().uid;
    // The writer's process wrapped the keys: the kernel cache is filled on unwrap, so read once.
    let warm = open_cached();
    assert_eq!(
        warm.read_by_name("app:prod:API")
            .unwrap()
            .unwrap()
            .1
            .expose(),
        b"k-123"
    );
    proxy.take();
    // A "fresh process": new backend, new in-memory cache; the kernel keyring still has keys.
    let fresh = open_cached();
    assert_eq!(
        fresh
            .read_by_name("app:prod:API")
            .unwrap()
            .unwrap()
            .1
            .expose(),
        b"k-123"
    );
    let log = proxy.take();
    // The MAC key's two reads (the audit key's Decrypt comes from the kernel cache too).
    assert_eq!(
        log,
        [
            format!("GET /{bucket}/p/meta/audit-key"),
            format!("GET /{bucket}/p/meta/metadata-mac"),
            format!("GET /{bucket}/p/names/app/prod/API"),
            format!("GET /{bucket}/p/objects/{uid}"),
        ],
        "no KMS call: {log:?}"
    );
}
