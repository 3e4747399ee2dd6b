//! Key rotation: [`Store::rekey`] rewraps every data key (and every secret the store keeps
//! sealed in its settings, the audit key among them) under a new key provider, in one backend
//! transaction. Material ciphertext is left as it is; only the wrapped data keys change.
//!
//! The transaction also records the new key's id under [`KEK_ID_META`]; every later commit
//! that seals material checks it ([`Write::MetaAbsentOr`]), so a writer still holding the old
//! key is refused instead of leaving a version the new key cannot open. Its last write
//! ([`Write::AllSealedStartWith`]) checks that no version sealed under another key is left
//! (one another writer added between the rekey's read and its commit): the rekey then starts
//! over, up to [`MAX_ATTEMPTS`] times.

use std::collections::HashMap;
use std::sync::Arc;

use tresor_crypto::KeyProvider;
use tresor_crypto::envelope::{self, Sealed};

use crate::audit::AuditDraft;
use crate::backend::{Batch, Write};
use crate::model::material_aad;
use crate::store::KEK_ID_META;
use crate::{Result, Store, StoreError};

/// How many times a rekey starts over when another writer changed the store meanwhile.
const MAX_ATTEMPTS: usize = 8;

/// What [`Store::rekey`] did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RekeyReport {
    /// The id of the key that wrapped the data keys before.
    pub old_key_id: String,
    /// The id of the key that wraps them now.
    pub new_key_id: String,
    /// Versions whose data key was rewrapped (destroyed versions have none).
    pub versions: u64,
    /// Sealed store settings rewrapped (the audit key among them).
    pub settings: Vec<String>,
}

/// The associated data a sealed store setting named `key` is bound to (the audit key's is
/// `tresor/v1\0audit-key`): every secret kept sealed in the settings table must use it, so a
/// rekey knows how to rewrap it.
pub(crate) fn setting_aad(key: &str) -> Vec<u8> {
    let mut aad = b"tresor/v1\0".to_vec();
    aad.extend_from_slice(key.as_bytes());
    aad
}

impl Store {
    /// Rewraps every data key of the store, and every sealed store setting, from this store's
    /// key provider to `new`, in one transaction; returns the store opened with `new`.
    ///
    /// Afterwards no version opens with the old provider, and a process that still has the
    /// store open with it is refused at its next write of material
    /// ([`StoreError::KeyRotated`]). The audit key keeps its value (rewrapped), so the audit
    /// chain verifies as before; the rekey itself is an audit entry (`rekey`).
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] on a backend without transactions (S3);
    /// [`StoreError::Invalid`] if `new` is the current key or a version does not open with
    /// the current key (nothing is changed); [`StoreError::KeyRotated`] if another rekey
    /// replaced this store's key; [`StoreError::Conflict`] if other writers kept changing the
    /// store through every attempt.
    pub fn rekey(&self, new: Arc<dyn KeyProvider>) -> Result<(Store, RekeyReport)> {
        if self.backend().kind() == "s3" {
            return Err(StoreError::Unsupported(
                "rekeying is not supported on the S3 backend (no multi-object transaction); with KMS, rotate the KMS key instead".into(),
            ));
        }
        let old = self.provider().clone();
        if old.key_id() == new.key_id() {
            return Err(StoreError::Invalid {
                uid: String::new(),
                why: "the new key is the current key".into(),
            });
        }
        let signer = self.signer()?;
        let mut attempt = 0;
        loop {
            let (batch, report) = self.rekey_batch(old.as_ref(), new.as_ref())?;
            match self.backend().commit(&batch, &signer) {
                Ok(()) => return Ok((self.with_provider(new), report)),
                Err(StoreError::Conflict(_)) if attempt + 1 < MAX_ATTEMPTS => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the whole store (one snapshot) and builds the rekey transaction.
    fn rekey_batch(
        &self,
        old: &dyn KeyProvider,
        new: &dyn KeyProvider,
    ) -> Result<(Batch, RekeyReport)> {
        let dump = self.backend().dump()?;
        let recorded = dump
            .meta
            .iter()
            .find(|(k, _)| k == KEK_ID_META)
            .map(|(_, v)| v.clone());
        if recorded
            .as_deref()
            .is_some_and(|v| v != old.key_id().as_bytes())
        {
            return Err(StoreError::KeyRotated);
        }
        let types: HashMap<&str, _> = dump
            .objects
            .iter()
            .map(|o| (o.uid.as_str(), o.object_type))
            .collect();
        let mut writes = Vec::new();
        let mut versions = 0u64;
        for v in &dump.versions {
            let Some(bytes) = v.sealed.as_deref() else {
                continue;
            };
            let bad = |why: String| StoreError::Invalid {
                uid: v.uid.clone(),
                why: format!("version {}: {why}; nothing was changed", v.version),
            };
            let t = types
                .get(v.uid.as_str())
                .ok_or_else(|| bad("the version has no object".into()))?;
            let sealed = Sealed::from_bytes(bytes)?;
            let aad = material_aad(&v.uid, v.version, *t);
            let re = envelope::rewrap(old, new, &aad, &sealed).map_err(|e| {
                bad(format!(
                    "its data key does not open with the current vault key ({e})"
                ))
            })?;
            writes.push(Write::RewrapVersion {
                uid: v.uid.clone(),
                version: v.version,
                from: bytes.to_vec(),
                to: re.to_bytes(),
            });
            versions += 1;
        }
        let mut settings = Vec::new();
        for (k, v) in &dump.meta {
            let Ok(sealed) = Sealed::from_bytes(v) else {
                continue;
            };
            if sealed.wrapped.key_id != old.key_id() {
                continue;
            }
            let re = envelope::rewrap(old, new, &setting_aad(k), &sealed).map_err(|e| {
                StoreError::Invalid {
                    uid: String::new(),
                    why: format!(
                        "store setting '{k}' is sealed under the vault key but does not open with the associated data 'tresor/v1\\0{k}' ({e}); nothing was changed"
                    ),
                }
            })?;
            writes.push(Write::SetMeta {
                key: k.clone(),
                value: re.to_bytes(),
                expect: Some(v.clone()),
            });
            settings.push(k.clone());
        }
        writes.push(Write::SetMeta {
            key: KEK_ID_META.to_owned(),
            value: new.key_id().as_bytes().to_vec(),
            expect: recorded,
        });
        writes.push(Write::AllSealedStartWith {
            prefix: envelope::wrapped_prefix(new.key_id()),
        });
        let report = RekeyReport {
            old_key_id: old.key_id().to_owned(),
            new_key_id: new.key_id().to_owned(),
            versions,
            settings,
        };
        let audit = vec![AuditDraft {
            actor: self.actor().to_owned(),
            action: "rekey".into(),
            uid: None,
            detail: format!(
                "{} data keys and {} sealed settings rewrapped from {} to {}",
                report.versions,
                report.settings.len(),
                report.old_key_id,
                report.new_key_id
            ),
        }];
        Ok((Batch { writes, audit }, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NewObject, ObjectType};
    use tresor_crypto::LocalKek;

    #[test]
    fn the_audit_key_follows_the_setting_convention() {
        assert_eq!(setting_aad("audit-key"), b"tresor/v1\0audit-key");
    }

    /// The rekey's last write refuses a batch while a version sealed under another key is
    /// left (one a writer added between the rekey's read and its commit): nothing applies.
    #[test]
    fn a_version_under_another_key_makes_the_rekey_batch_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let k1: Arc<dyn KeyProvider> = Arc::new(LocalKek::generate().unwrap());
        let store = Store::open_sqlite(&dir.path().join("t.db"), k1.clone(), "a").unwrap();
        let mut n = NewObject::new(ObjectType::SecretData);
        n.names.push("a:b:C".into());
        n.material = Some(b"v1".to_vec());
        let m = store.create(n).unwrap();
        let k2: Arc<dyn KeyProvider> = Arc::new(LocalKek::generate().unwrap());
        let (batch, _) = store.rekey_batch(k1.as_ref(), k2.as_ref()).unwrap();
        // Another writer, still under k1, adds version 2 after the rekey read the store.
        store.write(|tx| tx.put_material(&m.uid, b"v2")).unwrap();
        let signer = store.signer().unwrap();
        assert!(matches!(
            store.backend().commit(&batch, &signer),
            Err(StoreError::Conflict(_))
        ));
        // Nothing applied: both versions still open with k1, no key id recorded.
        assert_eq!(store.material(&m, 1).unwrap().expose(), b"v1");
        let m = store.get(&m.uid).unwrap().unwrap();
        assert_eq!(store.material(&m, 2).unwrap().expose(), b"v2");
        assert_eq!(store.backend().meta_get(KEK_ID_META).unwrap(), None);
        // The rekey itself starts over and takes the new version along.
        let (rekeyed, report) = store.rekey(k2).unwrap();
        assert_eq!(report.versions, 2);
        assert_eq!(rekeyed.material(&m, 2).unwrap().expose(), b"v2");
    }
}
