//! The secrets of a [`Vault`]: read one by filter, list, add, set, remove, and their
//! history and rollback.

use serde::Serialize;
use tresor_crypto::SecretBytes;
use tresor_store::{NewObject, ObjectMeta, ObjectType, VersionInfo};

use crate::cache::Lookup;
use crate::filter::{Filter, FilterSet, validate_full_name};
use crate::{Result, VaultError};

use super::names::{
    is_literal_name, is_vault_object, query_for, secret_attrs, secret_name, vault_view,
};
use super::{KIND, Vault};

/// A secret as listed (no value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretInfo {
    /// Store uid.
    pub uid: String,
    /// The app part.
    pub app: String,
    /// The env part.
    pub env: String,
    /// The key part.
    pub key: String,
    /// The full stored name.
    pub name: String,
    /// seeqret-style type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Object type in the store.
    pub object_type: String,
    /// Lifecycle state.
    pub state: String,
    /// Current version.
    pub version: u32,
    /// Last change (Unix seconds).
    pub updated: i64,
}

impl SecretInfo {
    /// The one secret of `found`, what `f` matched: the rule every door's `find_one` shares.
    ///
    /// # Errors
    /// [`VaultError::NotFound`] when `found` is empty, [`VaultError::Ambiguous`] (naming the
    /// first five) when it holds more than one.
    pub fn only_match(f: &Filter, mut found: Vec<SecretInfo>) -> Result<SecretInfo> {
        match found.len() {
            0 => Err(VaultError::NotFound(f.to_string())),
            1 => Ok(found.remove(0)),
            n => Err(VaultError::Ambiguous {
                filter: f.to_string(),
                count: n,
                names: found.iter().take(5).map(|s| s.name.clone()).collect(),
            }),
        }
    }
}

impl Vault {
    /// The value of the one secret `filter` names (`APP:ENV:KEY` is an index lookup).
    ///
    /// # Errors
    /// [`VaultError::NotFound`], [`VaultError::Ambiguous`], a filter error.
    pub fn get(&self, filter: &str) -> Result<SecretBytes> {
        // The head is read before the value: a commit in between shows at the next lookup.
        let head = match self.cache.as_ref().map(|c| c.lookup(filter)) {
            Some(Lookup::Hit(v)) => return Ok(v),
            Some(Lookup::Miss(head)) => head,
            None => None,
        };
        // A plain `app:env:KEY` (no glob, no alternative) is one indexed read; anything else is
        // compiled as a filter. `is_literal_name` never accepts what `Filter::new` would treat
        // differently, so both paths give the same answer.
        let value = if is_literal_name(filter) {
            self.read_exact(filter)?
        } else {
            let f = Filter::new(filter)?;
            if f.is_exact() {
                self.read_exact(filter)?
            } else {
                let one = self.find_one(&f)?;
                self.value(&one)?
            }
        };
        if let Some(c) = &self.cache {
            c.insert(head, filter, &value);
        }
        Ok(value)
    }

    fn read_exact(&self, name: &str) -> Result<SecretBytes> {
        match self.store.read_by_name(name)? {
            Some((meta, value)) if is_vault_object(&meta) => Ok(value),
            _ => Err(VaultError::NotFound(name.to_owned())),
        }
    }

    /// The one secret `f` matches.
    ///
    /// # Errors
    /// [`VaultError::NotFound`], [`VaultError::Ambiguous`].
    pub fn find_one(&self, f: &Filter) -> Result<SecretInfo> {
        SecretInfo::only_match(f, self.list(&FilterSet::from_iter([f.clone()]))?)
    }

    /// The current value of a listed secret.
    ///
    /// # Errors
    /// Store errors.
    pub fn value(&self, s: &SecretInfo) -> Result<SecretBytes> {
        let meta = self
            .store
            .get(&s.uid)?
            .ok_or_else(|| VaultError::NotFound(s.name.clone()))?;
        Ok(self.store.material(&meta, 0)?)
    }

    /// Every secret matching any filter of `set` (all secrets for an empty set), sorted by name.
    ///
    /// # Errors
    /// Store errors.
    pub fn list(&self, set: &FilterSet) -> Result<Vec<SecretInfo>> {
        let mut out: Vec<SecretInfo> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let filters: Vec<Filter> = if set.is_empty() {
            vec![Filter::new("")?]
        } else {
            set.filters().to_vec()
        };
        for f in &filters {
            for meta in self.store.locate(&query_for(f))? {
                let Some((app, env, key)) = vault_view(&meta) else {
                    continue;
                };
                if f.is_match(&app, &env, &key) && seen.insert(meta.uid.clone()) {
                    out.push(info(&meta, app, env, key));
                }
            }
        }
        out.sort_by(|a, b| (&a.app, &a.env, &a.key).cmp(&(&b.app, &b.env, &b.key)));
        Ok(out)
    }

    /// Adds a secret; with `force`, an existing one gets a new version instead of an error.
    /// Returns the version written.
    ///
    /// # Errors
    /// [`VaultError::Name`] for an invalid part, [`VaultError::Exists`] without `force`.
    pub fn add(
        &self,
        app: &str,
        env: &str,
        key: &str,
        value: &[u8],
        kind: &str,
        force: bool,
    ) -> Result<u32> {
        validate_full_name(app, env, key)?;
        crate::reserved::check_secret_target(app, env, key, None)?;
        let name = secret_name(app, env, key);
        let mut refused = None;
        let r = self.store.write(|tx| match tx.get_by_name(&name)? {
            Some(m) if force => {
                refuse_target(&mut refused, app, env, key, &m)?;
                tx.put_material(&m.uid, value)
            }
            Some(_) => Err(tresor_store::StoreError::NameTaken(name.clone())),
            None => {
                let mut n = NewObject::new(ObjectType::SecretData);
                n.names.push(name.clone());
                n.attributes = secret_attrs(app, env, key, kind);
                n.material = Some(value.to_vec());
                tx.create(n).map(|_| 1)
            }
        });
        self.invalidate();
        if let Some(e) = refused {
            return Err(e);
        }
        match r {
            Err(tresor_store::StoreError::NameTaken(n)) => Err(VaultError::Exists(n)),
            r => Ok(r?),
        }
    }

    /// Sets the value of every secret in `targets` (one transaction, a new version each).
    ///
    /// # Errors
    /// Store errors; nothing is changed on error.
    pub fn set_values(&self, targets: &[SecretInfo], value: &[u8]) -> Result<()> {
        self.store.write(|tx| {
            for t in targets {
                tx.put_material(&t.uid, value)?;
            }
            Ok(())
        })?;
        self.invalidate();
        Ok(())
    }

    /// Removes secrets (one transaction).
    ///
    /// # Errors
    /// Store errors; nothing is removed on error.
    pub fn remove(&self, targets: &[SecretInfo]) -> Result<()> {
        self.store.write(|tx| {
            for t in targets {
                tx.delete(&t.uid)?;
            }
            Ok(())
        })?;
        self.invalidate();
        Ok(())
    }

    /// The versions of a secret, oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub fn history(&self, s: &SecretInfo) -> Result<Vec<VersionInfo>> {
        Ok(self.store.versions(&s.uid)?)
    }

    /// The value of one version of a secret.
    ///
    /// # Errors
    /// [`tresor_store::StoreError::NoMaterial`] if there is no such version.
    pub fn value_at(&self, s: &SecretInfo, version: u32) -> Result<SecretBytes> {
        let meta = self
            .store
            .get(&s.uid)?
            .ok_or_else(|| VaultError::NotFound(s.name.clone()))?;
        Ok(self.store.material(&meta, version)?)
    }

    /// Makes the value of `version` current again, as a new version; returns its number.
    ///
    /// # Errors
    /// [`tresor_store::StoreError::NoMaterial`] if there is no such version.
    pub fn rollback(&self, s: &SecretInfo, version: u32) -> Result<u32> {
        let v = self.store.write(|tx| {
            let old = tx.material(&s.uid, version)?;
            tx.put_material(&s.uid, old.expose())
        })?;
        self.invalidate();
        Ok(v)
    }
}

/// Inside a store transaction: checks that `m` may be written as the secret `app:env:key`
/// ([`crate::reserved::check_secret_target`]); on refusal keeps the vault error in `slot` and
/// aborts the transaction.
pub(super) fn refuse_target(
    slot: &mut Option<VaultError>,
    app: &str,
    env: &str,
    key: &str,
    m: &ObjectMeta,
) -> tresor_store::Result<()> {
    match crate::reserved::check_secret_target(app, env, key, Some(m)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let uid = secret_name(app, env, key);
            let why = e.to_string();
            *slot = Some(e);
            Err(tresor_store::StoreError::Invalid { uid, why })
        }
    }
}

fn info(meta: &ObjectMeta, app: String, env: String, key: String) -> SecretInfo {
    SecretInfo {
        uid: meta.uid.clone(),
        name: meta.name().unwrap_or(&meta.uid).to_owned(),
        app,
        env,
        key,
        kind: meta
            .attr_str(KIND)
            .unwrap_or(if meta.object_type == ObjectType::SecretData {
                "str"
            } else {
                "key"
            })
            .to_owned(),
        object_type: meta.object_type.as_str().to_owned(),
        state: meta.state.as_str().to_owned(),
        version: meta.current_version,
        updated: meta.updated,
    }
}
