//! Where a store lives (`s3://bucket/prefix`) and how to reach it: endpoint, region,
//! path-style, allow-http and credentials from the usual AWS environment variables, the
//! `~/.aws/credentials` and `~/.aws/config` profiles, and tresor's own config file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Result, S3Error};

/// A parsed `s3://bucket[/prefix]` location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The key prefix without leading or trailing `/` (may be empty).
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://bucket[/prefix]`.
    ///
    /// # Errors
    /// [`S3Error::BadLocation`] for anything else.
    pub fn parse(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| S3Error::BadLocation(url.to_owned()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
        if bucket.len() < 3 || bucket.len() > 63 || !bucket.chars().all(ok) {
            return Err(S3Error::BadLocation(url.to_owned()));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|p| p == "." || p == "..")
            || prefix.contains("//")
            || prefix.chars().any(|c| c.is_control())
        {
            return Err(S3Error::BadLocation(url.to_owned()));
        }
        Ok(S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// The canonical `s3://bucket/prefix` form.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url())
    }
}

/// Connection settings, gathered from (lowest to highest precedence) tresor's config file
/// (`$TRESOR_S3_CONFIG`, else `~/.config/tresor/s3.ini`, section `[default]`), the AWS
/// profile (`AWS_PROFILE`, else `default`) in `~/.aws/config` and `~/.aws/credentials`, and
/// the AWS environment variables.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// `AWS_ENDPOINT_URL` (or `_S3`), `endpoint_url`.
    pub endpoint: Option<String>,
    /// `AWS_REGION` / `AWS_DEFAULT_REGION`, `region`.
    pub region: Option<String>,
    /// `AWS_ACCESS_KEY_ID`, `aws_access_key_id`.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`, `aws_secret_access_key`.
    pub secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN`, `aws_session_token`.
    pub session_token: Option<String>,
    /// `AWS_S3_FORCE_PATH_STYLE` / `s3_force_path_style` (default: path style with a custom
    /// endpoint, virtual-hosted on AWS).
    pub path_style: Option<bool>,
    /// `AWS_ALLOW_HTTP` / `allow_http` (default: true when the endpoint is `http://`).
    pub allow_http: Option<bool>,
    /// `TRESOR_KMS_KEY_ID`, `kms_key_id`.
    pub kms_key_id: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "[REDACTED]"),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("path_style", &self.path_style)
            .field("allow_http", &self.allow_http)
            .field("kms_key_id", &self.kms_key_id)
            .finish()
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// A minimal INI reader: `[section]` headers and `key = value` lines; `#`/`;` comments.
pub(crate) fn read_ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.trim().to_owned();
            out.entry(section.clone()).or_default();
        } else if let Some((k, v)) = l.split_once('=') {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    out
}

fn ini_file(path: Option<PathBuf>) -> BTreeMap<String, BTreeMap<String, String>> {
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| read_ini(&t))
        .unwrap_or_default()
}

impl S3Settings {
    /// Gathers the settings from the config file, the AWS profile and the environment.
    pub fn from_env() -> Self {
        Self::with_aws_profile(None)
    }

    /// As [`S3Settings::from_env`], with the AWS profile `profile` instead of `AWS_PROFILE`
    /// (`None`: `AWS_PROFILE`, else `default`).
    pub fn with_aws_profile(profile: Option<&str>) -> Self {
        let mut s = S3Settings::default();
        let tresor = ini_file(
            env("TRESOR_S3_CONFIG")
                .map(PathBuf::from)
                .or_else(|| home().map(|h| h.join(".config/tresor/s3.ini"))),
        );
        if let Some(sec) = tresor.get("default") {
            s.apply(sec);
        }
        let profile = profile
            .map(str::to_owned)
            .or_else(|| env("AWS_PROFILE"))
            .unwrap_or_else(|| "default".into());
        let config = ini_file(
            env("AWS_CONFIG_FILE")
                .map(PathBuf::from)
                .or_else(|| home().map(|h| h.join(".aws/config"))),
        );
        let section = if profile == "default" {
            "default".to_owned()
        } else {
            format!("profile {profile}")
        };
        if let Some(sec) = config.get(&section) {
            s.apply(sec);
        }
        let creds = ini_file(
            env("AWS_SHARED_CREDENTIALS_FILE")
                .map(PathBuf::from)
                .or_else(|| home().map(|h| h.join(".aws/credentials"))),
        );
        if let Some(sec) = creds.get(&profile) {
            s.apply(sec);
        }
        let set = |slot: &mut Option<String>, keys: &[&str]| {
            if let Some(v) = keys.iter().find_map(|k| env(k)) {
                *slot = Some(v);
            }
        };
        set(
            &mut s.endpoint,
            &["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"],
        );
        set(&mut s.region, &["AWS_REGION", "AWS_DEFAULT_REGION"]);
        if env("AWS_ACCESS_KEY_ID").is_some() {
            // Environment credentials replace the profile's as a whole.
            s.session_token = None;
        }
        set(&mut s.access_key_id, &["AWS_ACCESS_KEY_ID"]);
        set(&mut s.secret_access_key, &["AWS_SECRET_ACCESS_KEY"]);
        set(&mut s.session_token, &["AWS_SESSION_TOKEN"]);
        set(&mut s.kms_key_id, &["TRESOR_KMS_KEY_ID"]);
        if let Some(v) = env("AWS_S3_FORCE_PATH_STYLE") {
            s.path_style = Some(truthy(&v));
        }
        if let Some(v) = env("AWS_ALLOW_HTTP") {
            s.allow_http = Some(truthy(&v));
        }
        s
    }

    fn apply(&mut self, sec: &BTreeMap<String, String>) {
        for (k, v) in sec {
            let v = v.clone();
            match k.as_str() {
                "endpoint_url" | "endpoint" => self.endpoint = Some(v),
                "region" => self.region = Some(v),
                "aws_access_key_id" => self.access_key_id = Some(v),
                "aws_secret_access_key" => self.secret_access_key = Some(v),
                "aws_session_token" => self.session_token = Some(v),
                "s3_force_path_style" | "path_style" => self.path_style = Some(truthy(&v)),
                "allow_http" => self.allow_http = Some(truthy(&v)),
                "kms_key_id" => self.kms_key_id = Some(v),
                _ => {}
            }
        }
    }

    /// The region, `us-east-1` when none is configured.
    pub fn region_or_default(&self) -> String {
        self.region.clone().unwrap_or_else(|| "us-east-1".into())
    }

    /// True if and only if every request goes to a plain `http://` endpoint, directly (no
    /// proxy variable set): the clients then need no TLS trust store, and loading the
    /// system's (a bundle and a directory of some 150 certificates each, parsed per client)
    /// was the largest CPU cost of a fresh `tresor s3 get` against a local S3.
    pub fn is_plain_http(&self) -> bool {
        self.endpoint
            .as_deref()
            .is_some_and(|e| e.to_ascii_lowercase().starts_with("http://"))
            && ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
                .iter()
                .all(|v| std::env::var_os(v).is_none_or(|x| x.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let l = S3Location::parse("s3://my-bucket/a/b/").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("my-bucket", "a/b"));
        assert_eq!(l.url(), "s3://my-bucket/a/b");
        assert_eq!(S3Location::parse("s3://bkt").unwrap().prefix, "");
        for bad in [
            "s3://",
            "s3://A_B/x",
            "http://b/x",
            "s3://bkt/a/../b",
            "s3://bkt/a//b",
        ] {
            assert!(S3Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ini() {
        let m =
            read_ini("# c\n[default]\nregion = eu-west-1\n[profile x]\nendpoint_url=http://h:1\n");
        assert_eq!(m["default"]["region"], "eu-west-1");
        assert_eq!(m["profile x"]["endpoint_url"], "http://h:1");
    }
}
