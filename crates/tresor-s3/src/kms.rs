//! [`KmsProvider`]: data keys wrapped by an AWS KMS key (aws-sdk-kms), bound to the store and
//! the object by an encryption context.
//!
//! The store draws each data key locally and hands it to [`KeyProvider::wrap`], so wrapping is
//! KMS `Encrypt` of that key; [`KmsProvider::generate_data_key`] (KMS `GenerateDataKey`) is
//! there for callers that let KMS draw the key. Unwrapping is KMS `Decrypt`. The encryption
//! context is `{"tresor:store": "s3://bucket/prefix", "tresor:aad": hex(SHA-256(aad))}`, where
//! the store's associated data names the object's uid, version and type: a wrapped key moved to
//! another store or object does not decrypt.

use std::collections::HashMap;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use aws_smithy_http_client::tls;
use tresor_crypto::{CryptoError, DataKey, KeyProvider, WrappedKey};

use crate::config::S3Settings;
use crate::error::{Result, S3Error};

/// An AWS KMS key as a [`KeyProvider`].
pub struct KmsProvider {
    client: aws_sdk_kms::Client,
    kms_key: String,
    key_id: String,
    store: String,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for KmsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KmsProvider({}, {})", self.kms_key, self.store)
    }
}

fn kms_why<E>(
    e: &aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>,
) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug + std::fmt::Display,
{
    match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or("no message")
        ),
        None => format!("{e}"),
    }
}

impl KmsProvider {
    /// Connects to KMS (region, endpoint and credentials from `settings`, then the AWS default
    /// chain: environment, `~/.aws` profiles) for key `key_id` (id, ARN or `alias/…`), binding
    /// every wrapped key to `store` (the store's `s3://bucket/prefix`).
    ///
    /// # Errors
    /// [`S3Error::Config`] if the runtime cannot start.
    pub fn new(key_id: &str, store: &str, settings: &S3Settings) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tresor-kms")
            .enable_all()
            .build()
            .map_err(|e| S3Error::Config {
                location: store.to_owned(),
                why: format!("cannot start the KMS runtime: {e}"),
            })?;
        let s = settings.clone();
        let conf = rt.block_on(async move {
            let mut l = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(s.region_or_default()));
            if let Some(e) = s.endpoint.clone() {
                l = l.endpoint_url(e);
            }
            if s.is_plain_http() {
                // No TLS to a plain-http endpoint: an empty trust store instead of the system's.
                if let Ok(ctx) = tls::TlsContext::builder()
                    .with_trust_store(tls::TrustStore::empty())
                    .build()
                {
                    l = l.http_client(
                        aws_smithy_http_client::Builder::new()
                            .tls_provider(tls::Provider::Rustls(
                                tls::rustls_provider::CryptoMode::AwsLc,
                            ))
                            .tls_context(ctx)
                            .build_https(),
                    );
                }
            }
            if let (Some(k), Some(sec)) = (s.access_key_id.clone(), s.secret_access_key.clone()) {
                l = l.credentials_provider(aws_sdk_kms::config::Credentials::new(
                    k,
                    sec,
                    s.session_token.clone(),
                    None,
                    "tresor",
                ));
            }
            l.load().await
        });
        Ok(KmsProvider {
            client: aws_sdk_kms::Client::new(&conf),
            key_id: format!("kms:{key_id}"),
            kms_key: key_id.to_owned(),
            store: store.to_owned(),
            rt,
        })
    }

    fn run<F>(&self, f: F) -> F::Output
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            let h = self.rt.spawn(f);
            futures::executor::block_on(h)
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        } else {
            self.rt.block_on(f)
        }
    }

    fn context(&self, aad: &[u8]) -> HashMap<String, String> {
        let mut c = HashMap::new();
        c.insert("tresor:store".to_owned(), self.store.clone());
        c.insert(
            "tresor:aad".to_owned(),
            tresor_crypto::hash::hex(&tresor_crypto::hash::sha256_parts(&[aad])),
        );
        c
    }

    /// Checks that this key can be used (one `Encrypt` of a dummy value), so a denied or
    /// missing key is reported before anything is written.
    ///
    /// # Errors
    /// [`S3Error::Kms`] with KMS's error code and message.
    pub fn check(&self) -> Result<()> {
        let (client, key, ctx) = (
            self.client.clone(),
            self.kms_key.clone(),
            self.context(b"check"),
        );
        let r = self.run(async move {
            client
                .encrypt()
                .key_id(key)
                .plaintext(Blob::new(vec![0u8; 32]))
                .set_encryption_context(Some(ctx))
                .send()
                .await
                .map_err(|e| kms_why(&e))
        });
        r.map(|_| ()).map_err(|why| S3Error::Kms {
            op: "Encrypt",
            key_id: self.kms_key.clone(),
            why,
        })
    }

    /// Asks KMS for a new data key (`GenerateDataKey`, AES-256) bound to `aad`: the plaintext
    /// key and its wrapped form.
    ///
    /// # Errors
    /// [`S3Error::Kms`].
    pub fn generate_data_key(&self, aad: &[u8]) -> Result<(DataKey, WrappedKey)> {
        let (client, key, ctx) = (self.client.clone(), self.kms_key.clone(), self.context(aad));
        let r = self.run(async move {
            client
                .generate_data_key()
                .key_id(key)
                .key_spec(DataKeySpec::Aes256)
                .set_encryption_context(Some(ctx))
                .send()
                .await
                .map_err(|e| kms_why(&e))
        });
        let out = r.map_err(|why| S3Error::Kms {
            op: "GenerateDataKey",
            key_id: self.kms_key.clone(),
            why,
        })?;
        let bad = |why: &str| S3Error::Kms {
            op: "GenerateDataKey",
            key_id: self.kms_key.clone(),
            why: why.to_owned(),
        };
        let pt = out.plaintext().ok_or_else(|| bad("no plaintext"))?;
        let arr: [u8; 32] = pt
            .as_ref()
            .try_into()
            .map_err(|_| bad("not a 256-bit key"))?;
        let blob = out.ciphertext_blob().ok_or_else(|| bad("no ciphertext"))?;
        Ok((
            DataKey::from_bytes(arr),
            WrappedKey {
                key_id: self.key_id.clone(),
                bytes: blob.as_ref().to_vec(),
            },
        ))
    }
}

impl KeyProvider for KmsProvider {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn wrap(&self, dek: &DataKey, aad: &[u8]) -> std::result::Result<WrappedKey, CryptoError> {
        let (client, key, ctx) = (self.client.clone(), self.kms_key.clone(), self.context(aad));
        let pt = Blob::new(dek.expose().to_vec());
        let r = self.run(async move {
            client
                .encrypt()
                .key_id(key)
                .plaintext(pt)
                .set_encryption_context(Some(ctx))
                .send()
                .await
                .map_err(|e| kms_why(&e))
        });
        let out = r.map_err(|why| {
            CryptoError::NoProvider(format!("{}: KMS Encrypt failed: {why}", self.key_id))
        })?;
        let blob = out.ciphertext_blob().ok_or_else(|| {
            CryptoError::NoProvider(format!(
                "{}: KMS Encrypt returned no ciphertext",
                self.key_id
            ))
        })?;
        Ok(WrappedKey {
            key_id: self.key_id.clone(),
            bytes: blob.as_ref().to_vec(),
        })
    }

    fn unwrap(
        &self,
        w: &WrappedKey,
        aad: &[u8],
    ) -> Option<std::result::Result<DataKey, CryptoError>> {
        if w.key_id != self.key_id {
            return None;
        }
        let (client, key, ctx) = (self.client.clone(), self.kms_key.clone(), self.context(aad));
        let blob = Blob::new(w.bytes.clone());
        let r = self.run(async move {
            client
                .decrypt()
                .key_id(key)
                .ciphertext_blob(blob)
                .set_encryption_context(Some(ctx))
                .send()
                .await
        });
        Some(match r {
            Ok(out) => out
                .plaintext()
                .and_then(|p| <[u8; 32]>::try_from(p.as_ref()).ok())
                .map(DataKey::from_bytes)
                .ok_or(CryptoError::Decrypt),
            Err(e) => {
                let code = e.as_service_error().and_then(|s| {
                    aws_sdk_kms::error::ProvideErrorMetadata::code(s).map(str::to_owned)
                });
                match code.as_deref() {
                    // Wrong context, altered blob: an authentication failure, no detail.
                    Some("InvalidCiphertextException") | Some("IncorrectKeyException") => {
                        Err(CryptoError::Decrypt)
                    }
                    _ => Err(CryptoError::NoProvider(format!(
                        "{}: KMS Decrypt failed: {}",
                        self.key_id,
                        kms_why(&e)
                    ))),
                }
            }
        })
    }
}
