//! The [`Store`]'s reads: objects by uid, name or query, each checked against its metadata
//! MAC, and their material opened.

use tresor_crypto::SecretBytes;
use tresor_crypto::envelope::{self, Sealed};

#[cfg(doc)]
use crate::backend::Backend;
use crate::model::{ObjectMeta, SealedVersion, VersionInfo, material_aad};
use crate::query::Query;
use crate::{Result, StoreError};

use super::Store;

impl Store {
    /// One object by uid.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Tampered`] if its metadata was edited outside tresor.
    pub fn get(&self, uid: &str) -> Result<Option<ObjectMeta>> {
        // The key first: on a store's first read it may bring the rows forward.
        let mk = self.read_key()?;
        let m = self.backend.get(uid)?;
        if let Some(m) = &m {
            Self::check_uid(mk.as_deref(), m, uid)?;
        }
        Ok(m)
    }

    /// One object by name.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Tampered`] if its metadata or the name row was edited
    /// outside tresor.
    pub fn get_by_name(&self, name: &str) -> Result<Option<ObjectMeta>> {
        let mk = self.read_key()?;
        let m = self.backend.get_by_name(name)?;
        if let Some(m) = &m {
            Self::check_named(mk.as_deref(), m, name)?;
        }
        Ok(m)
    }

    /// An object by name and its current material, in one read: the hot path of `tresor get`.
    ///
    /// # Errors
    /// [`StoreError::Crypto`] if the material was tampered with or the key is wrong,
    /// [`StoreError::Tampered`] if the metadata was.
    pub fn read_by_name(&self, name: &str) -> Result<Option<(ObjectMeta, SecretBytes)>> {
        let mk = self.read_key()?;
        match self.backend.get_current_by_name(name)? {
            None => Ok(None),
            Some((meta, v)) => {
                Self::check_named(mk.as_deref(), &meta, name)?;
                let v = v.ok_or_else(|| StoreError::NoMaterial {
                    uid: meta.uid.clone(),
                    version: meta.current_version,
                })?;
                let m = self.open_version(&meta, &v)?;
                Ok(Some((meta, m)))
            }
        }
    }

    /// Objects by name, each with the material of one version (`0`: the current one), in
    /// the order of `wanted`: one read of the backend per [`crate::MAX_MANY`] names (on
    /// SQLite and PostgreSQL one query; S3 reads each name). `None` where no object holds
    /// the name; a `None` material where the object has no such version or its material
    /// was destroyed.
    ///
    /// # Errors
    /// [`StoreError::Crypto`] if a material was tampered with or the key is wrong,
    /// [`StoreError::Tampered`] if a metadata row was.
    #[allow(clippy::type_complexity)]
    pub fn read_many_by_name(
        &self,
        wanted: &[(&str, u32)],
    ) -> Result<Vec<Option<(ObjectMeta, Option<SecretBytes>)>>> {
        let mk = self.read_key()?;
        let mut out = Vec::with_capacity(wanted.len());
        for chunk in wanted.chunks(crate::MAX_MANY) {
            for (found, (name, _)) in self.backend.get_many_by_name(chunk)?.into_iter().zip(chunk) {
                let Some((meta, v)) = found else {
                    out.push(None);
                    continue;
                };
                Self::check_named(mk.as_deref(), &meta, name)?;
                let material = match v {
                    Some(v) if v.sealed.is_some() => Some(self.open_version(&meta, &v)?),
                    _ => None,
                };
                out.push(Some((meta, material)));
            }
        }
        Ok(out)
    }

    /// Opens one sealed version of `meta` (as read by [`Backend::get_many_by_name`]).
    ///
    /// # Errors
    /// [`StoreError::NoMaterial`] if its material was destroyed, [`StoreError::Crypto`] if it
    /// was tampered with or the key is wrong.
    pub fn open_sealed(&self, meta: &ObjectMeta, v: &SealedVersion) -> Result<SecretBytes> {
        self.open_version(meta, v)
    }

    /// The material of `version` of an object (0 = current).
    ///
    /// # Errors
    /// [`StoreError::NoMaterial`] if absent or destroyed.
    pub fn material(&self, meta: &ObjectMeta, version: u32) -> Result<SecretBytes> {
        let version = if version == 0 {
            meta.current_version
        } else {
            version
        };
        let v =
            self.backend
                .version(&meta.uid, version)?
                .ok_or_else(|| StoreError::NoMaterial {
                    uid: meta.uid.clone(),
                    version,
                })?;
        self.open_version(meta, &v)
    }

    pub(super) fn open_version(&self, meta: &ObjectMeta, v: &SealedVersion) -> Result<SecretBytes> {
        let sealed = v.sealed.as_deref().ok_or_else(|| StoreError::NoMaterial {
            uid: meta.uid.clone(),
            version: v.version,
        })?;
        let aad = material_aad(&meta.uid, v.version, meta.object_type);
        Ok(envelope::open(
            self.provider.as_ref(),
            &aad,
            &Sealed::from_bytes(sealed)?,
        )?)
    }

    /// Facts about every version of an object, oldest first.
    ///
    /// # Errors
    /// On a backend error.
    pub fn versions(&self, uid: &str) -> Result<Vec<VersionInfo>> {
        Ok(self
            .backend
            .versions(uid)?
            .iter()
            .map(VersionInfo::from)
            .collect())
    }

    /// Objects matching `q`.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Tampered`] if a found object's metadata or an index
    /// row was edited outside tresor.
    pub fn locate(&self, q: &Query) -> Result<Vec<ObjectMeta>> {
        let mk = self.read_key()?;
        let Some((base, rest)) = q.split_unindexed() else {
            let found = self.backend.locate(q)?;
            Self::check_found(mk.as_deref(), q, &found)?;
            return Ok(found);
        };
        // Conditions on attributes without index rows (`query::is_indexed`) are checked on
        // what the indexed ones found; limit and offset apply to the result.
        let rest = Query {
            attrs: rest,
            ..Query::default()
        };
        let found = self.backend.locate(&base)?;
        Self::check_found(mk.as_deref(), &base, &found)?;
        Ok(found
            .into_iter()
            .filter(|m| rest.matches(m))
            .skip(q.offset)
            .take(q.limit.unwrap_or(usize::MAX))
            .collect())
    }

    /// Number of objects.
    ///
    /// # Errors
    /// On a backend error.
    pub fn count(&self) -> Result<u64> {
        self.backend.count()
    }
}
