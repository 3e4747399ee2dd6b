//! Entry points for the `cargo fuzz` targets (`fuzz/fuzz_targets/s3_record.rs`); not a stable
//! API. A child of the backend module, so it runs the backend's own record decoder.

use super::S3Backend;
use super::audit::StoredAudit;
use super::record::{FORMAT, Record};
use crate::config::{S3Location, S3Settings};

/// The uid whose object key [`fuzz_record`] reads bodies at.
pub const FUZZ_UID: &str = "0f0f0f0f-fuzz";

thread_local! {
    // No request is ever sent: only the decoder runs.
    static BACKEND: S3Backend = S3Backend::open_with(
        S3Location::parse("s3://fuzz-bucket/fuzz").expect("a fuzz location"),
        &S3Settings {
            endpoint: Some("http://127.0.0.1:9".into()),
            region: Some("us-east-1".into()),
            access_key_id: Some("fuzz".into()),
            secret_access_key: Some("fuzz".into()),
            ..S3Settings::default()
        },
    )
    .expect("a fuzz backend");
}

/// An S3 object body, decoded as the backend does on every read of `objects/<uid>` (for the
/// uid [`FUZZ_UID`], and as a listing reads it, with no expected uid), each version's sealed
/// blob decoded; and as an audit entry body. A record that decodes re-encodes
/// (`S3Backend::encode_record`) to a body that decodes to the same record.
///
/// # Panics
/// When a record does not survive that round trip.
pub fn fuzz_record(data: &[u8]) {
    BACKEND.with(|b| {
        let p = b.object_path(FUZZ_UID);
        let _ = b.parse_record(&p, data, None);
        if let Ok(Some(rec)) = b.parse_record(&p, data, Some(FUZZ_UID)) {
            assert_eq!(rec.format, FORMAT);
            for v in &rec.versions {
                let _ = S3Backend::to_sealed(FUZZ_UID, v);
            }
            let again = b
                .encode_record(&rec.meta, rec.versions.clone())
                .expect("a decoded record does not encode");
            let back = b
                .parse_record(&p, &again, Some(FUZZ_UID))
                .expect("a re-encoded record does not decode")
                .expect("a re-encoded record is a tombstone");
            assert_eq!(
                json(&rec),
                json(&back),
                "the record changed in a round trip"
            );
        }
    });
    let _ = serde_json::from_slice::<StoredAudit>(data);
}

/// A valid body for `meta` at [`FUZZ_UID`]'s key, with one version holding `sealed`, for
/// seeding [`fuzz_record`].
pub fn sample_record(meta: &tresor_store::ObjectMeta, sealed: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    BACKEND.with(|b| {
        let v = super::record::StoredVersion {
            version: 1,
            created: 1,
            created_by: "alice".into(),
            sealed: Some(super::record::b64().encode(sealed)),
        };
        b.encode_record(meta, vec![v])
            .expect("encoding a sample record")
    })
}

fn json(r: &Record) -> serde_json::Value {
    serde_json::to_value(r).expect("a record serializes")
}
