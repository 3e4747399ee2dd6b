//! Building the `object_store` S3 client: endpoint, region, credentials, timeouts, retries
//! and conditional PUTs by etag.

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{ClientOptions, RetryConfig};

use crate::config::{S3Location, S3Settings};
use crate::error::S3Error;

pub(crate) fn build_client(location: &S3Location, s: &S3Settings) -> Result<AmazonS3, S3Error> {
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(&location.bucket)
        .with_region(s.region_or_default())
        .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch)
        .with_retry(RetryConfig {
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(30),
            ..Default::default()
        })
        .with_client_options(
            ClientOptions::new()
                .with_connect_timeout(std::time::Duration::from_secs(5))
                .with_timeout(std::time::Duration::from_secs(60))
                // No TLS to a plain-http endpoint: skip loading the system trust store.
                .with_no_system_certificates(s.is_plain_http()),
        );
    if let Some(e) = &s.endpoint {
        b = b
            .with_endpoint(e)
            .with_allow_http(s.allow_http.unwrap_or(e.starts_with("http://")))
            .with_virtual_hosted_style_request(!s.path_style.unwrap_or(true));
    } else {
        if let Some(p) = s.path_style {
            b = b.with_virtual_hosted_style_request(!p);
        }
        if let Some(h) = s.allow_http {
            b = b.with_allow_http(h);
        }
    }
    if let (Some(k), Some(sec)) = (&s.access_key_id, &s.secret_access_key) {
        b = b.with_access_key_id(k).with_secret_access_key(sec);
        if let Some(t) = &s.session_token {
            b = b.with_token(t);
        }
    }
    b.build().map_err(|e| S3Error::Config {
        location: location.url(),
        why: e.to_string(),
    })
}
