//! Object keys: where each kind of body lives under `s3://bucket/prefix/` (the table in the
//! backend's module documentation).

use object_store::path::Path;

use super::S3Backend;
use crate::keys;

impl S3Backend {
    pub(super) fn path(&self, rel: &str) -> Path {
        let full = if self.location.prefix.is_empty() {
            rel.to_owned()
        } else {
            format!("{}/{rel}", self.location.prefix)
        };
        // Every part we build is percent-encoded or a fixed word, so parsing cannot fail;
        // fall back to object_store's own encoding if it ever did.
        Path::parse(&full).unwrap_or_else(|_| Path::from(full.as_str()))
    }

    pub(super) fn object_path(&self, uid: &str) -> Path {
        self.path(&format!("objects/{}", keys::encode_component(uid)))
    }

    pub(super) fn name_path(&self, name: &str) -> Path {
        self.path(&format!("names/{}", keys::encode_name(name)))
    }

    pub(super) fn audit_path(&self, seq: u64) -> Path {
        self.path(&format!("audit/{seq:020}"))
    }
}
