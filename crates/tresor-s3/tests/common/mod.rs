//! Shared helpers for the tests on moto: the endpoint, fresh buckets, credentials.
#![allow(dead_code)]

pub mod proxy;

use tresor_s3::{S3Backend, S3Location, S3Settings};

/// The moto server the tests talk to.
pub struct S3Env {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl S3Env {
    /// The endpoint from `TRESOR_TEST_S3_ENDPOINT`; fails under `CI=true` when unset.
    pub fn get() -> Option<S3Env> {
        match std::env::var("TRESOR_TEST_S3_ENDPOINT") {
            Ok(e) if !e.is_empty() => Some(S3Env { endpoint: e }),
            _ => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "TRESOR_TEST_S3_ENDPOINT is not set under CI: scripts/test.sh must run tests/peers/moto/start.sh"
                );
                eprintln!(
                    "SKIPPED: TRESOR_TEST_S3_ENDPOINT not set; run tests/peers/moto/start.sh to test the S3 backend"
                );
                None
            }
        }
    }

    /// Settings pointing at moto with test credentials.
    pub fn settings(&self) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
            ..Default::default()
        }
    }

    /// Environment variables a child process needs to reach moto.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ]
    }

    /// Creates a fresh bucket named after `tag` and this process; returns its name.
    pub fn bucket(&self, tag: &str) -> String {
        let name = format!(
            "tresor-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let out = std::process::Command::new("curl")
            .args(["-sf", "-X", "PUT", &format!("{}/{name}", self.endpoint)])
            .output()
            .expect("run curl");
        assert!(out.status.success(), "create bucket {name}: {out:?}");
        name
    }

    /// A backend on `url`.
    pub fn backend(&self, url: &str) -> S3Backend {
        S3Backend::open_with(S3Location::parse(url).expect("location"), &self.settings())
            .expect("open S3 backend")
    }

    /// Raw GET of `bucket/key` (no tresor code involved).
    pub fn raw_get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let out = std::process::Command::new("curl")
            .args([
                "-sf",
                "-H",
                AUTH,
                &format!("{}/{bucket}/{key}", self.endpoint),
            ])
            .output()
            .expect("run curl");
        out.status.success().then_some(out.stdout)
    }
}

/// moto checks that a request names credentials, not its signature: plain curl requests
/// stand for "any S3 client" with this header.
pub const AUTH: &str = "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
