//! `tresor s3 import-s3keyring`: an s3keyring bucket rewritten into the encrypted store.

use std::sync::Arc;

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::Serialize;
use tresor_store::StoreError;
use tresor_store::progress::Progress;

use super::{MAX_LEGACY_BODY, Session, new_secret};
use crate::S3Location;
use crate::compat;
use crate::error::{Result, S3Error};

/// What `import-s3keyring` does.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImportOptions {
    /// Delete each original once its encrypted copy verifies.
    pub delete_originals: bool,
    /// Overwrite tresor secrets whose value differs.
    pub update: bool,
    /// Write nothing.
    pub dry_run: bool,
}

/// One object `import-s3keyring` could not import.
#[derive(Clone, Debug, Serialize)]
pub struct ImportFailure {
    /// The s3keyring object key.
    pub key: String,
    /// Why.
    pub error: String,
}

/// What `import-s3keyring` did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    /// The bucket read.
    pub bucket: String,
    /// The namespace read.
    pub namespace: String,
    /// The store written.
    pub store: String,
    /// s3keyring secrets found.
    pub found: usize,
    /// Secrets created in tresor.
    pub added: usize,
    /// Secrets given a new version (`--update`).
    pub updated: usize,
    /// Secrets already in tresor with the same value.
    pub unchanged: usize,
    /// tresor names whose value differs and was kept (no `--update`).
    pub kept: Vec<String>,
    /// Originals deleted after their copy verified.
    pub deleted: usize,
    /// Keys whose split into service and username was a guess (a `/` in a part).
    pub ambiguous: Vec<String>,
    /// Objects that failed.
    pub failed: Vec<ImportFailure>,
}

impl ImportReport {
    /// The one-line summary `tresor s3 import-s3keyring` prints: counts per outcome, and the
    /// keys whose split into service and username was a guess. `dry_run` prefixes it with
    /// `dry run: `.
    pub fn summary(&self, dry_run: bool) -> String {
        format!(
            "{}{} s3keyring secret(s) in s3://{}/{} -> {}: {} added, {} updated, {} unchanged, {} kept (value differs; --update overwrites), {} original(s) deleted, {} failed{}",
            if dry_run { "dry run: " } else { "" },
            self.found,
            self.bucket,
            compat::s3keyring_escape(&self.namespace),
            self.store,
            self.added,
            self.updated,
            self.unchanged,
            self.kept.len(),
            self.deleted,
            self.failed.len(),
            if self.ambiguous.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} key(s) had a '/' in service or username and were read as SERVICE/USER (first segment = service)",
                    self.ambiguous.len()
                )
            }
        )
    }
}

/// Copies every s3keyring secret of `bucket` (the session's namespace) into the session's
/// store. Idempotent: a secret already there with the same value is left alone. With
/// `delete_originals`, an original is deleted only after its encrypted copy has been read back
/// from S3 and matches, and only if the original has not changed meanwhile.
///
/// # Errors
/// A listing failure (missing bucket, access denied). Failures of single objects are in the
/// report.
pub fn import_s3keyring(
    s: &Session,
    bucket: &str,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportReport> {
    progress.phase("listing the s3keyring bucket", None);
    let src_loc = S3Location {
        bucket: bucket.to_owned(),
        prefix: String::new(),
    };
    let src = Arc::new(crate::backend::build_client(&src_loc, &s.settings)?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| S3Error::Config {
            location: src_loc.url(),
            why: format!("cannot start the I/O runtime: {e}"),
        })?;
    let ns = compat::s3keyring_escape(&s.namespace);
    let own = if s.location.bucket == bucket && !s.location.prefix.is_empty() {
        Some(format!("{}/", s.location.prefix))
    } else {
        None
    };
    let listed: Vec<object_store::ObjectMeta> = {
        let (src, prefix) = (src.clone(), object_store::path::Path::from(ns.as_str()));
        rt.block_on(async move { src.list(Some(&prefix)).try_collect().await })
            .map_err(|e| listing_error(bucket, e))?
    };
    let mut entries = Vec::new();
    for m in &listed {
        let key = m.location.as_ref();
        if own.as_deref().is_some_and(|o| key.starts_with(o)) {
            continue;
        }
        if let Some(e) = compat::parse_s3keyring_key(&s.namespace, key) {
            entries.push((e, m.size, m.e_tag.clone()));
        }
    }
    let mut report = ImportReport {
        bucket: bucket.to_owned(),
        namespace: s.namespace.clone(),
        store: s.location.url(),
        found: entries.len(),
        ..Default::default()
    };
    progress.phase("importing", Some(entries.len() as u64));
    for (e, size, etag) in entries {
        if e.ambiguous {
            report.ambiguous.push(e.key.clone());
        }
        if let Err(err) = import_one(s, &src, &rt, &e, size, etag, opts, &mut report) {
            report.failed.push(ImportFailure {
                key: e.key.clone(),
                error: err.to_string(),
            });
        }
        progress.advance(1);
    }
    Ok(report)
}

fn listing_error(bucket: &str, e: object_store::Error) -> S3Error {
    let s = e.to_string();
    if s.contains("NoSuchBucket") || matches!(e, object_store::Error::NotFound { .. }) {
        S3Error::NoSuchBucket(bucket.to_owned())
    } else if matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || s.contains("AccessDenied")
    {
        S3Error::AccessDenied {
            location: format!("s3://{bucket}"),
            why: s,
        }
    } else {
        S3Error::Store(StoreError::Unavailable(format!(
            "S3 LIST of s3://{bucket} failed: {s}"
        )))
    }
}

#[allow(clippy::too_many_arguments)]
fn import_one(
    s: &Session,
    src: &Arc<object_store::aws::AmazonS3>,
    rt: &tokio::runtime::Runtime,
    e: &compat::LegacyEntry,
    size: u64,
    etag: Option<String>,
    opts: &ImportOptions,
    report: &mut ImportReport,
) -> Result<()> {
    if size > MAX_LEGACY_BODY {
        return Err(S3Error::Input(format!(
            "{size} bytes is more than the {MAX_LEGACY_BODY} an s3keyring secret may have"
        )));
    }
    let path = object_store::path::Path::from(e.key.as_str());
    let body = {
        let (src, p) = (src.clone(), path.clone());
        rt.block_on(async move { src.get(&p).await?.bytes().await })
            .map_err(|err| S3Error::Store(StoreError::Unavailable(format!("S3 GET: {err}"))))?
    };
    let value = zeroize::Zeroizing::new(compat::decode_body(&e.key, &body)?);
    let (app, env, key) = compat::tresor_parts(&s.namespace, &e.service, &e.username);
    let name = tresor_store::secret_name::SecretName::join(&app, &env, &key);
    #[derive(PartialEq)]
    enum Did {
        Added,
        Updated,
        Unchanged,
        Kept,
    }
    let did = if opts.dry_run {
        match s.store.read_by_name(&name)? {
            None => Did::Added,
            Some((_, v)) if v.expose().as_slice() == value.as_slice() => Did::Unchanged,
            Some(_) if opts.update => Did::Updated,
            Some(_) => Did::Kept,
        }
    } else {
        s.store.write(|tx| match tx.get_by_name(&name)? {
            None => {
                tx.create(new_secret(&app, &env, &key, &value))?;
                Ok(Did::Added)
            }
            Some(m) => {
                if tx.material(&m.uid, 0)?.expose().as_slice() == value.as_slice() {
                    Ok(Did::Unchanged)
                } else if opts.update {
                    tx.put_material(&m.uid, &value)?;
                    Ok(Did::Updated)
                } else {
                    Ok(Did::Kept)
                }
            }
        })?
    };
    match did {
        Did::Added => report.added += 1,
        Did::Updated => report.updated += 1,
        Did::Unchanged => report.unchanged += 1,
        Did::Kept => report.kept.push(name.clone()),
    }
    if opts.dry_run || !opts.delete_originals || did == Did::Kept {
        return Ok(());
    }
    // Verify: read the copy back from S3 (its record, KMS-unwrapped data key, AEAD open).
    let back = s
        .store
        .read_by_name(&name)?
        .ok_or_else(|| S3Error::Input(format!("the copy '{name}' is missing after writing it")))?;
    if back.1.expose().as_slice() != value.as_slice() {
        return Err(S3Error::Input(format!(
            "the copy '{name}' does not read back equal; original kept"
        )));
    }
    // Delete the original only if nobody rewrote it since we read it.
    let (src2, p2) = (src.clone(), path.clone());
    let now = rt
        .block_on(async move { src2.head(&p2).await })
        .map_err(|err| S3Error::Store(StoreError::Unavailable(format!("S3 HEAD: {err}"))))?;
    if now.e_tag != etag {
        return Err(S3Error::Input(
            "the original changed during the import; kept (run the import again)".into(),
        ));
    }
    let (src3, p3) = (src.clone(), path);
    rt.block_on(async move { src3.delete(&p3).await })
        .map_err(|err| S3Error::Store(StoreError::Unavailable(format!("S3 DELETE: {err}"))))?;
    report.deleted += 1;
    Ok(())
}
