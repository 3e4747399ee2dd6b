//! Records: the JSON body of `objects/<uid>` (an object's metadata and its sealed versions),
//! how it is encoded, and how a read decodes and checks it.

use base64::Engine as _;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use tresor_store::{ObjectMeta, SealedVersion, StoreError};

use super::requests::{decode_err, is_missing_object};
use super::{S3Backend, SResult};

pub(super) const FORMAT: &str = "tresor-s3/1";

/// One sealed version as kept in a record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct StoredVersion {
    pub(super) version: u32,
    pub(super) created: i64,
    pub(super) created_by: String,
    /// Base64 of the sealed blob (`TSE1` header: key id, wrapped data key; then ciphertext).
    pub(super) sealed: Option<String>,
}

/// The body of `objects/<uid>`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Record {
    pub(super) format: String,
    /// The key this body was written under (`prefix/objects/<uid>`); checked on every read.
    pub(super) key: String,
    pub(super) meta: ObjectMeta,
    pub(super) versions: Vec<StoredVersion>,
}

/// A record as read, with the etag to update it.
#[derive(Clone)]
pub(super) struct Loaded {
    pub(super) rec: Option<Record>,
    /// `None` when no object (not even a tombstone) is at the key.
    pub(super) etag: Option<String>,
}

pub(super) fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl S3Backend {
    pub(super) fn load(&self, uid: &str) -> SResult<Loaded> {
        let p = self.object_path(uid);
        match self.get_raw(&p)? {
            None => Ok(Loaded {
                rec: None,
                etag: None,
            }),
            Some((body, etag)) => Ok(Loaded {
                rec: self.parse_record(&p, &body, Some(uid))?,
                etag,
            }),
        }
    }

    pub(super) fn parse_record(
        &self,
        p: &Path,
        body: &[u8],
        uid: Option<&str>,
    ) -> SResult<Option<Record>> {
        if body.is_empty() {
            return Ok(None);
        }
        let rec: Record = serde_json::from_slice(body).map_err(|e| decode_err(p, e))?;
        if rec.format != FORMAT {
            return Err(decode_err(p, format!("unknown format '{}'", rec.format)));
        }
        let expected = p.as_ref();
        if rec.key != expected || uid.is_some_and(|u| u != rec.meta.uid) {
            return Err(StoreError::Invalid {
                uid: rec.meta.uid.clone(),
                why: format!(
                    "the S3 body at '{expected}' was written for '{}': a copied or moved body is refused",
                    rec.key
                ),
            });
        }
        Ok(Some(rec))
    }

    pub(super) fn encode_record(
        &self,
        meta: &ObjectMeta,
        versions: Vec<StoredVersion>,
    ) -> SResult<Vec<u8>> {
        let rec = Record {
            format: FORMAT.into(),
            key: self.object_path(&meta.uid).as_ref().to_owned(),
            meta: meta.clone(),
            versions,
        };
        serde_json::to_vec(&rec).map_err(|e| StoreError::Decode(e.to_string()))
    }

    pub(super) fn to_sealed(uid: &str, v: &StoredVersion) -> SResult<SealedVersion> {
        Ok(SealedVersion {
            uid: uid.to_owned(),
            version: v.version,
            created: v.created,
            created_by: v.created_by.clone(),
            sealed: match &v.sealed {
                Some(s) => Some(b64().decode(s).map_err(|e| {
                    StoreError::Decode(format!("object '{uid}' version {}: {e}", v.version))
                })?),
                None => None,
            },
        })
    }

    /// Every live record (one GET per object, 16 at a time).
    pub(super) fn all_records(&self) -> SResult<Vec<Record>> {
        let keys: Vec<Path> = self
            .list("objects")?
            .into_iter()
            .filter(|(_, size)| *size > 0)
            .map(|(p, _)| p)
            .collect();
        let store = self.store.clone();
        let bodies = self.run(async move {
            futures::stream::iter(keys.into_iter().map(|p| {
                let store = store.clone();
                async move {
                    match store.get(&p).await {
                        Ok(g) => g.bytes().await.map(|b| Some((p, b))),
                        Err(e) if is_missing_object(&e) => Ok(None),
                        Err(e) => Err(e),
                    }
                }
            }))
            .buffered(16)
            .try_collect::<Vec<_>>()
            .await
        });
        let bodies = bodies.map_err(|e| self.err("GET", &self.path("objects"), e))?;
        let mut out = Vec::new();
        for (p, b) in bodies.into_iter().flatten() {
            if let Some(r) = self.parse_record(&p, &b, None)? {
                out.push(r);
            }
        }
        Ok(out)
    }
}
