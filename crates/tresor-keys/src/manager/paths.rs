//! The forward and back paths of defined keys: the encrypt and decrypt keys, the last flow
//! and its saved state, declared changes, and reading a key's source.

use std::sync::Arc;

use serde_json::json;
use tresor_store::NewObject;

use crate::algo::KeyType;
use crate::definition::{Flow, Purpose};
use crate::error::{KeysError, Result};
use crate::state::{A_FLOW, A_LAST_FWD, A_MIN, A_PRIMARY, A_PURPOSE, A_TYPE, Entry, Material, lk};
use crate::value::{Key, KeyValue};

use super::KeyManager;

impl KeyManager {
    /// The forward-path (encrypt) key. The source is read every time (a changed value
    /// that nobody declared is recorded as a new version and the callbacks run, so the old
    /// one is never lost).
    ///
    /// # Errors
    /// [`KeysError::Undefined`], [`KeysError::Source`], callback errors of an undeclared change.
    pub fn encrypt_key(&self, name: &str) -> Result<Key> {
        let e = self.defined(name)?;
        let flow = if self.purpose(&e) == Purpose::OneWay {
            Flow::Default
        } else {
            Flow::Forward
        };
        let (v, value, _) = self.forward(&e, flow)?;
        Ok(Key {
            name: e.name.clone(),
            version: v,
            bytes: value.encrypt_key().clone(),
        })
    }

    /// The back-path (decrypt) key: the version the forward path last gave (from memory when
    /// cached, else from the store when stated, else from the source).
    ///
    /// # Errors
    /// [`KeysError::Undefined`], [`KeysError::Unsupported`] for a one-way key,
    /// [`KeysError::Source`], [`KeysError::VersionRetired`].
    pub fn decrypt_key(&self, name: &str) -> Result<Key> {
        let e = self.defined(name)?;
        if self.purpose(&e) == Purpose::OneWay {
            return Err(KeysError::Unsupported {
                key: name.to_owned(),
                why: "a one-way key has no back path".into(),
            });
        }
        let last = lk(&e.rt).last_forward;
        let key = match last {
            Some(v) if e.versioned() && v > 0 => {
                let m = self.version_material(&e, v)?;
                Key {
                    name: e.name.clone(),
                    version: v,
                    bytes: m.value.decrypt_key().clone(),
                }
            }
            _ => {
                let (v, value, _) = self.read_source_version(&e)?;
                Key {
                    name: e.name.clone(),
                    version: v,
                    bytes: value.decrypt_key().clone(),
                }
            }
        };
        lk(&e.rt).last_flow = Some(Flow::Back);
        Ok(key)
    }

    /// The decrypt key of one version (any version ≥ the minimum decryption version).
    ///
    /// # Errors
    /// [`KeysError::VersionRetired`], [`KeysError::UnknownVersion`].
    pub fn decrypt_key_version(&self, name: &str, version: u32) -> Result<Key> {
        let e = self.entry(name)?;
        let m = self.version_material(&e, version)?;
        Ok(Key {
            name: e.name.clone(),
            version,
            bytes: m.value.decrypt_key().clone(),
        })
    }

    /// keys-management's `get_key` without a purpose ("last flow" compatibility mode): a
    /// one-way key reads its source; a round-trip key gives the back path if the last get was
    /// the forward path, else the forward path. A stated key restores its last flow from the
    /// store (see [`KeyManager::save_state`]).
    ///
    /// # Errors
    /// As [`KeyManager::encrypt_key`] and [`KeyManager::decrypt_key`].
    pub fn get_key(&self, name: &str) -> Result<Key> {
        let e = self.defined(name)?;
        if self.purpose(&e) == Purpose::OneWay {
            return self.encrypt_key(name);
        }
        let last = lk(&e.rt).last_flow;
        if last == Some(Flow::Forward) {
            self.decrypt_key(name)
        } else {
            self.encrypt_key(name)
        }
    }

    /// The flow of the last get of a defined key.
    ///
    /// # Errors
    /// [`KeysError::Undefined`].
    pub fn last_flow(&self, name: &str) -> Result<Option<Flow>> {
        Ok(lk(&self.defined(name)?.rt).last_flow)
    }

    /// Sets the last flow (keys-management's `OnChangeKeyDefinition.set_last_flow`), e.g. from
    /// a callback that decrypted all data.
    ///
    /// # Errors
    /// [`KeysError::Undefined`].
    pub fn set_last_flow(&self, name: &str, flow: Flow) -> Result<()> {
        lk(&self.defined(name)?.rt).last_flow = Some(flow);
        Ok(())
    }

    /// Saves a stated key's state (last flow, last forward version) in the store, so a fresh
    /// manager restores it. Versions are always saved as they are made.
    ///
    /// # Errors
    /// [`KeysError::Unsupported`] for a stateless key.
    pub fn save_state(&self, name: &str) -> Result<()> {
        let e = self.defined(name)?;
        if !e.persisted() {
            return Err(KeysError::Unsupported {
                key: name.to_owned(),
                why: "a stateless key has no saved state".into(),
            });
        }
        let rt = {
            let r = lk(&e.rt);
            (r.last_flow, r.last_forward)
        };
        let _w = lk(&e.write);
        let uid = match e.snap().uid.clone() {
            Some(u) => u,
            None => self.ensure_object(&e)?,
        };
        let meta = self.store.write(|tx| {
            tx.update(&uid, "save key state", |m| {
                m.attributes.insert(
                    A_FLOW.into(),
                    serde_json::to_value(rt.0).unwrap_or_default(),
                );
                m.attributes.insert(A_LAST_FWD.into(), json!(rt.1));
                Ok(())
            })
        })?;
        let mut s = (*e.snap()).clone();
        s.uid = Some(meta.uid);
        s.last_flow = rt.0;
        s.last_forward = rt.1;
        e.set_snap(s);
        Ok(())
    }

    /// Declares that a key changed (keys-management's `key_changed`): `new` is recorded as a
    /// new primary version, keeping every older one (in the store for a stated key, with a
    /// rotation journal, in one transaction), then the callbacks run under the key's error
    /// strategy. `old`, if given, is recorded first when the key has no version yet.
    ///
    /// # Errors
    /// [`KeysError::Undefined`], store errors, and callback errors as the strategy says.
    pub fn key_changed(
        &self,
        name: &str,
        old: Option<KeyValue>,
        new: KeyValue,
    ) -> Result<crate::ChangeReport> {
        let e = self.entry(name)?;
        new.check().map_err(|s| KeysError::Source {
            key: name.to_owned(),
            source: s,
        })?;
        if e.def.is_none() && e.snap().key_type != KeyType::External {
            return Err(KeysError::Unsupported {
                key: name.to_owned(),
                why: "a generated key changes by rotation, not key_changed".into(),
            });
        }
        self.record_change(&e, old, new, true)
    }

    fn fetch(&self, e: &Entry) -> Result<KeyValue> {
        let d = e
            .def
            .as_ref()
            .ok_or_else(|| KeysError::Undefined(e.name.clone()))?;
        d.source.fetch(&self.store).map_err(|s| KeysError::Source {
            key: e.name.clone(),
            source: s,
        })
    }

    /// Reads the source and finds (or records) its version.
    fn read_source_version(
        &self,
        e: &Arc<Entry>,
    ) -> Result<(u32, KeyValue, Option<Arc<Material>>)> {
        let value = self.fetch(e)?;
        if !e.versioned() {
            return Ok((0, value, None));
        }
        let fp = self.fingerprint(&value);
        let s = e.snap();
        let found = s
            .versions
            .iter()
            .rev()
            .find(|(n, v)| **n >= s.min_dec && !v.destroyed && v.fp == Some(fp));
        if let Some((n, v)) = found {
            return Ok((*n, value, v.mat.clone()));
        }
        drop(s);
        let report = self.record_change(e, None, value.clone(), false)?;
        let mat = e
            .snap()
            .versions
            .get(&report.new_version)
            .and_then(|v| v.mat.clone());
        Ok((report.new_version, value, mat))
    }

    pub(crate) fn forward(
        &self,
        e: &Arc<Entry>,
        flow: Flow,
    ) -> Result<(u32, KeyValue, Option<Arc<Material>>)> {
        let out = self.read_source_version(e)?;
        let mut rt = lk(&e.rt);
        rt.last_flow = Some(flow);
        if flow == Flow::Forward {
            rt.last_forward = Some(out.0);
        }
        Ok(out)
    }

    /// Creates the store object of a stated key (no version yet); returns its uid.
    fn ensure_object(&self, e: &Entry) -> Result<String> {
        let name = e.object_name();
        let purpose = self.purpose(e);
        let uid = self.store.write(|tx| {
            if let Some(m) = tx.get_by_name(&name)? {
                return Ok(m.uid);
            }
            let mut n = NewObject::new(KeyType::External.object_type());
            n.names.push(name.clone());
            n.attributes
                .insert(A_TYPE.into(), json!(KeyType::External.as_str()));
            n.attributes.insert(
                A_PURPOSE.into(),
                serde_json::to_value(purpose).unwrap_or_default(),
            );
            n.attributes.insert(A_MIN.into(), json!(1));
            n.attributes.insert(A_PRIMARY.into(), json!(0));
            tx.create(n)
        })?;
        Ok(uid)
    }
}
