//! The `aws-iam` rotator: an IAM user's access key.
//!
//! The secret holds the key in the `credential_process` format
//! (`{"Version":1,"AccessKeyId":"AKIA…","SecretAccessKey":"…"}`), and the rotation signs its
//! IAM and STS calls with the key it rotates (IAM lets a user manage its own keys):
//! - `generate`: ListAccessKeys; every key of the user other than the current one is a
//!   leftover of an interrupted rotation (a rotation starts only once the previous old key is
//!   retired) and is deleted, so the user never holds more than two keys; then
//!   CreateAccessKey.
//! - `apply`: nothing (IAM made the key active).
//! - `verify`: STS GetCallerIdentity signed with the new key must name the user (retried for
//!   up to 20 s: new IAM keys take a few seconds to work everywhere).
//! - `retire` (after the grace period): DeleteAccessKey of the old key, signed with the new.
//!
//! Calls are AWS query-API POSTs signed with SigV4 (`aws-sigv4`) over `reqwest`, both already
//! built for the S3 backend: no `aws-sdk-iam` crate to compile.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde::{Deserialize, Serialize};
use tresor_crypto::SecretBytes;

use crate::error::StepFailure;
use crate::rotator::{Rotator, StepCtx};

/// An access key as the secret stores it.
#[derive(Serialize, Deserialize)]
struct AccessKey {
    #[serde(rename = "Version")]
    version: u32,
    #[serde(rename = "AccessKeyId")]
    id: String,
    #[serde(rename = "SecretAccessKey")]
    secret: String,
}

impl Drop for AccessKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

impl AccessKey {
    fn parse(v: &SecretBytes, which: &str) -> Result<Self, StepFailure> {
        serde_json::from_slice(v.expose()).map_err(|_| {
            StepFailure::new(format!(
                "the {which} value is not an access key in the credential_process format ({{\"Version\":1,\"AccessKeyId\":…,\"SecretAccessKey\":…}})"
            ))
        })
    }

    fn to_secret(&self) -> SecretBytes {
        SecretBytes::new(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// Rotates one IAM user's access key.
#[derive(Debug)]
pub struct AwsIamRotator {
    user: String,
    iam_url: String,
    sts_url: String,
    region: String,
}

impl AwsIamRotator {
    /// A rotator for `user`; `endpoint` replaces both IAM's and STS's (moto, LocalStack).
    pub fn new(user: &str, endpoint: Option<&str>, region: &str) -> Self {
        let (iam_url, sts_url) = match endpoint {
            Some(e) => {
                let e = format!("{}/", e.trim_end_matches('/'));
                (e.clone(), e)
            }
            None => (
                "https://iam.amazonaws.com/".to_owned(),
                format!("https://sts.{region}.amazonaws.com/"),
            ),
        };
        AwsIamRotator {
            user: user.to_owned(),
            iam_url,
            sts_url,
            region: region.to_owned(),
        }
    }

    /// One signed query-API call; returns the response body.
    fn call(
        &self,
        key: &AccessKey,
        service: &str,
        params: &[(&str, &str)],
    ) -> Result<String, StepFailure> {
        let (url, version) = match service {
            "iam" => (&self.iam_url, "2010-05-08"),
            _ => (&self.sts_url, "2011-06-15"),
        };
        let action = params.first().map(|p| p.1).unwrap_or("");
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            form.append_pair(k, v);
        }
        form.append_pair("Version", version);
        let body = form.finish();
        let identity = Credentials::new(&key.id, &key.secret, None, None, "tresor").into();
        // IAM is global: always signed for us-east-1.
        let region = if service == "iam" {
            "us-east-1"
        } else {
            self.region.as_str()
        };
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| StepFailure::new(format!("signing {action}: {e}")))?
            .into();
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            [("content-type", content_type)].into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| StepFailure::new(format!("signing {action}: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| StepFailure::new(format!("signing {action}: {e}")))?
            .into_parts();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StepFailure::new(format!("starting the HTTP client: {e}")))?;
        rt.block_on(async {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| StepFailure::new(format!("HTTP client: {e}")))?;
            let mut req = client
                .post(url.as_str())
                .header("content-type", content_type)
                .body(body.clone());
            for (k, v) in instructions.headers() {
                req = req.header(k, v);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| StepFailure::new(format!("{service} {action}: {e}")))?;
            let status = resp.status();
            let text = resp
                .text()
                .await
                .map_err(|e| StepFailure::new(format!("{service} {action}: {e}")))?;
            if !status.is_success() {
                let code = first(&text, "Code").unwrap_or_default();
                let msg = first(&text, "Message").unwrap_or_default();
                return Err(StepFailure::new(format!(
                    "{service} {action}: HTTP {status}: {code} {msg}"
                )));
            }
            Ok(text)
        })
    }

    fn key_ids(&self, key: &AccessKey) -> Result<Vec<String>, StepFailure> {
        let xml = self.call(
            key,
            "iam",
            &[("Action", "ListAccessKeys"), ("UserName", &self.user)],
        )?;
        Ok(all(&xml, "AccessKeyId"))
    }

    fn delete(&self, signer: &AccessKey, id: &str) -> Result<(), StepFailure> {
        self.call(
            signer,
            "iam",
            &[
                ("Action", "DeleteAccessKey"),
                ("UserName", &self.user),
                ("AccessKeyId", id),
            ],
        )
        .map(drop)
    }

    /// The user's keys (for tests and `rotator list`).
    ///
    /// # Errors
    /// The IAM call failed.
    pub fn list_keys(&self, current: &SecretBytes) -> Result<Vec<String>, StepFailure> {
        self.key_ids(&AccessKey::parse(current, "current")?)
    }
}

impl Rotator for AwsIamRotator {
    fn kind(&self) -> &'static str {
        "aws-iam"
    }

    fn generate(&mut self, cx: &StepCtx<'_>) -> Result<SecretBytes, StepFailure> {
        let cur = AccessKey::parse(cx.current, "current")?;
        for id in self.key_ids(&cur)? {
            if id != cur.id {
                self.delete(&cur, &id)?;
            }
        }
        let xml = self.call(
            &cur,
            "iam",
            &[("Action", "CreateAccessKey"), ("UserName", &self.user)],
        )?;
        let id = first(&xml, "AccessKeyId");
        let secret = first(&xml, "SecretAccessKey");
        match (id, secret) {
            (Some(id), Some(secret)) => Ok(AccessKey {
                version: 1,
                id,
                secret,
            }
            .to_secret()),
            _ => Err(StepFailure::new(
                "iam CreateAccessKey: the answer holds no AccessKeyId/SecretAccessKey",
            )),
        }
    }

    fn apply(&mut self, _cx: &StepCtx<'_>, new: &SecretBytes) -> Result<(), StepFailure> {
        // IAM made the key active when it created it.
        AccessKey::parse(new, "new").map(drop)
    }

    fn verify(&mut self, _cx: &StepCtx<'_>, new: &SecretBytes) -> Result<(), StepFailure> {
        let key = AccessKey::parse(new, "new")?;
        let mut last = StepFailure::new("not tried");
        for attempt in 0..10 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_secs(2));
            }
            match self.call(&key, "sts", &[("Action", "GetCallerIdentity")]) {
                Ok(xml) => {
                    let arn = first(&xml, "Arn").unwrap_or_default();
                    if arn.ends_with(&format!(":user/{}", self.user))
                        || arn.ends_with(&format!("/{}", self.user))
                    {
                        return Ok(());
                    }
                    last = StepFailure::new(format!(
                        "sts GetCallerIdentity with the new key answered {arn}, not user {}",
                        self.user
                    ));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn retire(&mut self, cx: &StepCtx<'_>, old: &SecretBytes) -> Result<(), StepFailure> {
        let cur = AccessKey::parse(cx.current, "current")?;
        let old = AccessKey::parse(old, "old")?;
        if old.id == cur.id {
            return Ok(());
        }
        if !self.key_ids(&cur)?.contains(&old.id) {
            return Ok(());
        }
        self.delete(&cur, &old.id)
    }
}

/// The text of every element named `tag` (local name), in document order.
fn all(xml: &str, tag: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut inside = false;
    loop {
        match r.read_event() {
            Ok(Event::Start(e)) => inside = e.local_name().as_ref() == tag.as_bytes(),
            Ok(Event::Text(t)) if inside => {
                if let Ok(s) = t.decode() {
                    out.push(s.trim().to_owned());
                }
                inside = false;
            }
            Ok(Event::End(_)) => inside = false,
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

fn first(xml: &str, tag: &str) -> Option<String> {
    all(xml, tag).into_iter().next()
}
