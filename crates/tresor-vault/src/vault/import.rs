//! Imports into a [`Vault`]: `(key, value)` pairs into one `app:env`, and secrets given
//! with their full names, each in one transaction.

use serde::Serialize;
use tresor_crypto::SecretBytes;
use tresor_store::{NewObject, ObjectType};

use crate::filter::validate_full_name;
use crate::{Result, VaultError};

use super::Vault;
use super::names::{secret_attrs, secret_name};
use super::secrets::refuse_target;

/// What [`Vault::import_pairs`] did (or would do, in a dry run).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Names added.
    pub added: Vec<String>,
    /// Names given a new version.
    pub updated: Vec<String>,
    /// Names whose value was already the same.
    pub unchanged: Vec<String>,
}

/// Checks an import's input before anything is read or written: every `app:env:KEY` name is
/// valid and no key appears twice. Shared by the local vault and the `--server` door.
///
/// # Errors
/// [`VaultError::Name`] for an invalid part, [`VaultError::Refused`] for a repeated key.
pub fn check_import(app: &str, env: &str, pairs: &[(String, SecretBytes)]) -> Result<()> {
    for (k, _) in pairs {
        validate_full_name(app, env, k)?;
        crate::reserved::check_secret_target(app, env, k, None)?;
    }
    let mut seen = std::collections::HashSet::new();
    for (k, _) in pairs {
        if !seen.insert(k.as_str()) {
            return Err(VaultError::Refused(format!(
                "key '{k}' appears twice in the input"
            )));
        }
    }
    Ok(())
}

impl Vault {
    /// Imports `(key, value)` pairs into `app:env` in one transaction. Existing keys are an
    /// error unless `update`; with `dry_run` nothing is written.
    ///
    /// # Errors
    /// [`VaultError::Exists`] naming the first existing key without `update`.
    pub fn import_pairs(
        &self,
        app: &str,
        env: &str,
        pairs: &[(String, SecretBytes)],
        update: bool,
        dry_run: bool,
    ) -> Result<ImportReport> {
        self.import_pairs_with(app, env, pairs, update, dry_run, &())
    }

    /// [`Vault::import_pairs`], reporting each pair to `progress`.
    ///
    /// # Errors
    /// As [`Vault::import_pairs`].
    pub fn import_pairs_with(
        &self,
        app: &str,
        env: &str,
        pairs: &[(String, SecretBytes)],
        update: bool,
        dry_run: bool,
        progress: &dyn tresor_store::progress::Progress,
    ) -> Result<ImportReport> {
        check_import(app, env, pairs)?;
        let mut report = ImportReport::default();
        let mut tx = self.store.begin();
        progress.phase("importing", Some(pairs.len() as u64));
        for (k, v) in pairs {
            progress.advance(1);
            let name = secret_name(app, env, k);
            match tx.get_by_name(&name)? {
                Some(m) => {
                    crate::reserved::check_secret_target(app, env, k, Some(&m))?;
                    if !update {
                        return Err(VaultError::Exists(name));
                    }
                    if tx.material(&m.uid, 0).map(|old| old == *v).unwrap_or(false) {
                        report.unchanged.push(name);
                    } else {
                        tx.put_material(&m.uid, v.expose())?;
                        report.updated.push(name);
                    }
                }
                None => {
                    let mut n = NewObject::new(ObjectType::SecretData);
                    n.names.push(name.clone());
                    n.attributes = secret_attrs(app, env, k, "str");
                    n.material = Some(v.expose().clone());
                    tx.create(n)?;
                    report.added.push(name);
                }
            }
        }
        if !dry_run {
            tx.commit()?;
            self.invalidate();
        }
        Ok(report)
    }

    /// Imports secrets given with their full names (backup-like sources) in one transaction;
    /// existing names get a new version only if the value differs.
    pub(crate) fn import_named(
        &self,
        items: &[(String, String, String, String, SecretBytes)],
        detail: &str,
        progress: &dyn tresor_store::progress::Progress,
    ) -> Result<ImportReport> {
        // Names first, before anything is read: a reserved or invalid name refuses the whole
        // import.
        for (app, env, key, _, _) in items {
            validate_full_name(app, env, key)?;
            crate::reserved::check_secret_target(app, env, key, None)?;
        }
        let mut report = ImportReport::default();
        let mut refused = None;
        let r = self.store.write(|tx| {
            report = ImportReport::default();
            progress.phase("importing", Some(items.len() as u64));
            for (app, env, key, kind, value) in items {
                progress.advance(1);
                let name = secret_name(app, env, key);
                match tx.get_by_name(&name)? {
                    Some(m) => {
                        refuse_target(&mut refused, app, env, key, &m)?;
                        if tx
                            .material(&m.uid, 0)
                            .map(|old| old == *value)
                            .unwrap_or(false)
                        {
                            report.unchanged.push(name);
                        } else {
                            tx.put_material(&m.uid, value.expose())?;
                            report.updated.push(name);
                        }
                    }
                    None => {
                        let mut n = NewObject::new(ObjectType::SecretData);
                        n.names.push(name.clone());
                        n.attributes = secret_attrs(app, env, key, kind);
                        n.material = Some(value.expose().clone());
                        tx.create(n)?;
                        report.added.push(name);
                    }
                }
            }
            tx.record("import", None, detail);
            Ok(())
        });
        if let Some(e) = refused {
            return Err(e);
        }
        r?;
        self.invalidate();
        Ok(report)
    }
}
