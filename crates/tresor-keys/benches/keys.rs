//! Encrypt/decrypt of 1 KiB: tresor-keys with a cached key vs the same AEAD called directly.
#![allow(missing_docs)]

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use tresor_keys::{KeyDefinition, KeyManager, KeySource, KeyType, KeyValue};

fn floor_seal(k: &LessSafeKey, pt: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    tresor_crypto::random_fill(&mut nonce).expect("rng");
    let mut out = Vec::with_capacity(NONCE_LEN + pt.len() + 16);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(pt);
    let tag = k
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut out[NONCE_LEN..],
        )
        .expect("seal");
    out.extend_from_slice(tag.as_ref());
    out
}

fn floor_open(k: &LessSafeKey, ct: &[u8]) -> Vec<u8> {
    let nonce = Nonce::try_assume_unique_for_key(&ct[..NONCE_LEN]).expect("nonce");
    let mut buf = ct[NONCE_LEN..].to_vec();
    let n = k
        .open_in_place(nonce, Aad::empty(), &mut buf)
        .expect("open")
        .len();
    buf.truncate(n);
    buf
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let kek = Arc::new(tresor_crypto::LocalKek::generate().expect("kek"));
    let store = Arc::new(
        tresor_store::Store::open_sqlite(&dir.path().join("b.db"), kek, "bench").expect("store"),
    );
    let km = KeyManager::open(store).expect("manager");
    km.create("bench", KeyType::Aes256Gcm).expect("create");
    km.rotate("bench").expect("rotate");
    km.define_key(KeyDefinition::new(
        "defined",
        KeySource::from_fn(|| Ok(KeyValue::symmetric([3u8; 32].as_slice()))),
    ))
    .expect("define");
    let pt = vec![0x5au8; 1024];
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).expect("key"));

    let mut g = c.benchmark_group("keys-1KiB");
    g.throughput(Throughput::Bytes(1024));
    g.bench_function("floor/encrypt", |b| {
        b.iter(|| floor_seal(&key, black_box(&pt)))
    });
    let fct = floor_seal(&key, &pt);
    g.bench_function("floor/decrypt", |b| {
        b.iter(|| floor_open(&key, black_box(&fct)))
    });
    g.bench_function("tresor-keys/encrypt", |b| {
        b.iter(|| km.encrypt_bytes("bench", black_box(&pt), b"").expect("enc"))
    });
    let ct = km.encrypt_bytes("bench", &pt, b"").expect("enc");
    g.bench_function("tresor-keys/decrypt", |b| {
        b.iter(|| km.decrypt_bytes(black_box(&ct), b"").expect("dec"))
    });
    let mut buf = Vec::with_capacity(2048);
    g.bench_function("tresor-keys/decrypt-into", |b| {
        b.iter(|| {
            buf.clear();
            km.decrypt_bytes_into(black_box(&ct), b"", &mut buf)
                .expect("dec");
            buf.len()
        })
    });
    g.bench_function("tresor-keys/encrypt-text", |b| {
        b.iter(|| km.encrypt("bench", black_box(&pt), b"").expect("enc"))
    });
    let tct = km.encrypt("bench", &pt, b"").expect("enc");
    g.bench_function("tresor-keys/decrypt-text", |b| {
        b.iter(|| km.decrypt(black_box(&tct), b"").expect("dec"))
    });
    g.bench_function("tresor-keys/defined-encrypt", |b| {
        b.iter(|| {
            km.encrypt_bytes("defined", black_box(&pt), b"")
                .expect("enc")
        })
    });
    g.bench_function("tresor-keys/get-key", |b| {
        b.iter(|| km.encrypt_key(black_box("defined")).expect("key"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
