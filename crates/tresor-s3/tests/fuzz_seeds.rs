//! Feeds every committed fuzz seed (`fuzz/seeds/s3_record/`) through the fuzz entry point
//! (`tresor_s3::fuzzing::fuzz_record`), so `cargo test` runs the same decoder the fuzzer does.
//!
//! `TRESOR_WRITE_FUZZ_SEEDS=1 cargo test -p tresor-s3 --features s3 --test fuzz_seeds`
//! rewrites the seeds first.
#![cfg(feature = "s3")]

use std::path::PathBuf;

use tresor_s3::fuzzing::{FUZZ_UID, fuzz_record, sample_record};
use tresor_store::{ObjectMeta, ObjectType, State};

fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/s3_record")
}

fn meta() -> ObjectMeta {
    let mut attributes = tresor_store::Attributes::new();
    attributes.insert("tresor.role".into(), "secret".into());
    attributes.insert("tresor.grants".into(), serde_json::json!({"bob": "get"}));
    attributes.insert("Cryptographic Length".into(), 256.into());
    ObjectMeta {
        uid: FUZZ_UID.into(),
        object_type: ObjectType::SecretData,
        state: State::Active,
        owner: "alice".into(),
        names: vec!["app:dev:DB_PASSWORD".into(), "alias".into()],
        attributes,
        current_version: 1,
        created: 1_700_000_000,
        updated: 1_700_000_001,
        rev: 3,
        mac: None,
    }
}

#[test]
fn s3_record_seeds_decode() {
    if std::env::var_os("TRESOR_WRITE_FUZZ_SEEDS").is_some() {
        std::fs::create_dir_all(seed_dir()).expect("seed dir");
        let body = sample_record(&meta(), b"TSE1\x00\x01 sealed material");
        std::fs::write(seed_dir().join("record.json"), body).expect("seed");
        let audit = serde_json::json!({
            "ts": 1, "actor": "alice", "action": "create", "uid": FUZZ_UID, "detail": "",
            "prev": "0".repeat(64), "mac": "ab".repeat(32),
        });
        std::fs::write(seed_dir().join("audit.json"), audit.to_string()).expect("seed");
    }
    let mut n = 0;
    for e in std::fs::read_dir(seed_dir()).expect("seeds") {
        let data = std::fs::read(e.expect("entry").path()).expect("seed");
        fuzz_record(&data);
        n += 1;
    }
    assert!(n >= 2, "{n} seeds");
    // The record seed is one the decoder accepts (so the fuzzer starts past the format checks).
    let body = std::fs::read(seed_dir().join("record.json")).expect("record seed");
    let back: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(back["meta"]["uid"], FUZZ_UID);
    assert_eq!(
        body,
        sample_record(&meta(), b"TSE1\x00\x01 sealed material")
    );
}
