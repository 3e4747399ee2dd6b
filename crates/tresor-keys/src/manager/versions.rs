//! Key versions and their material: fingerprints, a key's snapshot loaded from its store
//! object, and a new primary version recorded (in memory, or in the store with a rotation
//! journal entry) before its callbacks run.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lc_rs::hmac;
use serde_json::json;
use tresor_store::{NewObject, ObjectMeta, StoreError};

use crate::algo::{Engine, KeyType};
use crate::error::{KeysError, Result};
use crate::journal::{A_JOURNAL, JournalEntry};
use crate::state::{
    A_AUTO, A_FLOW, A_LAST_FWD, A_MIN, A_PRIMARY, A_PURPOSE, A_TYPE, Entry, Material, Snapshot,
    Version, lk,
};
use crate::value::KeyValue;

use super::KeyManager;

impl KeyManager {
    pub(crate) fn fingerprint(&self, v: &KeyValue) -> [u8; 32] {
        let tag = hmac::sign(&self.fp_key, &v.encode());
        let mut out = [0u8; 32];
        out.copy_from_slice(&tag.as_ref()[..32]);
        out
    }

    pub(crate) fn material_of(&self, t: KeyType, raw: &[u8]) -> Result<Material> {
        let value = if t == KeyType::External {
            KeyValue::decode(raw).ok_or(KeysError::Store(StoreError::Decode(
                "stored key value is malformed".into(),
            )))?
        } else {
            KeyValue::symmetric(raw)
        };
        Ok(Material {
            engine: Engine::new(t, &value),
            value,
        })
    }

    pub(crate) fn encode_material(t: KeyType, v: &KeyValue) -> zeroize::Zeroizing<Vec<u8>> {
        if t == KeyType::External {
            v.encode()
        } else {
            zeroize::Zeroizing::new(v.encrypt_key().expose().to_vec())
        }
    }

    /// Reads a key's snapshot from its store object.
    pub(crate) fn load_snapshot(&self, meta: &ObjectMeta, cache: bool) -> Result<Snapshot> {
        let a = |k: &str| meta.attributes.get(k).and_then(|v| v.as_u64());
        let key_type = meta
            .attr_str(A_TYPE)
            .and_then(|s| s.parse().ok())
            .unwrap_or(KeyType::External);
        let min_dec = a(A_MIN).unwrap_or(1).max(1) as u32;
        let mut versions = BTreeMap::new();
        for info in self.store.versions(&meta.uid)? {
            let mut v = Version {
                created: info.created,
                destroyed: info.destroyed,
                fp: None,
                mat: None,
            };
            if !info.destroyed && info.version >= min_dec {
                let raw = self.store.material(meta, info.version)?;
                let m = self.material_of(key_type, raw.expose())?;
                v.fp = Some(self.fingerprint(&m.value));
                if cache {
                    v.mat = Some(Arc::new(m));
                }
            }
            versions.insert(info.version, v);
        }
        let journal: Vec<JournalEntry> = meta
            .attributes
            .get(A_JOURNAL)
            .and_then(|j| serde_json::from_value(j.clone()).ok())
            .unwrap_or_default();
        Ok(Snapshot {
            key_type,
            uid: Some(meta.uid.clone()),
            primary: a(A_PRIMARY).map_or(meta.current_version, |p| p as u32),
            min_dec,
            auto_rotate: a(A_AUTO).unwrap_or(0),
            created: meta.created,
            versions,
            journal,
            last_flow: meta
                .attributes
                .get(A_FLOW)
                .and_then(|f| serde_json::from_value(f.clone()).ok())
                .flatten(),
            last_forward: a(A_LAST_FWD).map(|v| v as u32),
        })
    }

    /// Reloads a persisted key's snapshot from the store.
    pub(crate) fn reload(&self, e: &Entry) -> Result<()> {
        if let Some(meta) = self.store.get_by_name(&e.object_name())? {
            let s = self.load_snapshot(&meta, e.caches())?;
            e.set_snap(s);
        }
        Ok(())
    }

    /// The material of `version`, checked against the minimum decryption version.
    pub(crate) fn version_material(&self, e: &Entry, version: u32) -> Result<Arc<Material>> {
        for attempt in 0..2 {
            let s = e.snap();
            if version < s.min_dec {
                return Err(KeysError::VersionRetired {
                    key: e.name.clone(),
                    version,
                    min: s.min_dec,
                });
            }
            match s.versions.get(&version) {
                Some(v) if v.destroyed => break,
                Some(v) => {
                    if let Some(m) = &v.mat {
                        return Ok(m.clone());
                    }
                    let uid = s.uid.as_deref().ok_or_else(|| KeysError::UnknownVersion {
                        key: e.name.clone(),
                        version,
                    })?;
                    let meta = self
                        .store
                        .get(uid)?
                        .ok_or_else(|| KeysError::Undefined(e.name.clone()))?;
                    let raw = self
                        .store
                        .material(&meta, version)
                        .map_err(|err| match err {
                            StoreError::NoMaterial { .. } => KeysError::UnknownVersion {
                                key: e.name.clone(),
                                version,
                            },
                            other => other.into(),
                        })?;
                    return Ok(Arc::new(self.material_of(s.key_type, raw.expose())?));
                }
                None if attempt == 0 && e.persisted() => self.reload(e)?,
                None => break,
            }
        }
        Err(KeysError::UnknownVersion {
            key: e.name.clone(),
            version,
        })
    }

    /// Records `new` as the new primary version (persisting it with a journal entry first
    /// for a stated key), then runs the callbacks. The key's write lock is held only while
    /// recording.
    pub(crate) fn record_change(
        &self,
        e: &Arc<Entry>,
        old: Option<KeyValue>,
        new: KeyValue,
        explicit: bool,
    ) -> Result<crate::ChangeReport> {
        let (from, to, jid, old_value, names) = {
            let _w = lk(&e.write);
            let s = e.snap();
            // A key's first value (read from its source) is no change: no callbacks.
            let names = if !explicit && s.primary == 0 {
                Vec::new()
            } else {
                self.callbacks(&e.name)
            };
            let fp = self.fingerprint(&new);
            let primary_is_new = s.versions.get(&s.primary).is_some_and(|v| v.fp == Some(fp));
            if primary_is_new && !explicit {
                return Ok(crate::ChangeReport {
                    key: e.name.clone(),
                    old_version: None,
                    new_version: s.primary,
                    ..Default::default()
                });
            }
            let prev = (s.primary > 0).then_some(s.primary);
            let old_value = match prev {
                Some(p) => match self.version_material(e, p) {
                    Ok(m) => Some(m.value.clone()),
                    Err(_) => old.clone(),
                },
                None => old.clone(),
            };
            if primary_is_new {
                (prev, s.primary, None, old_value, names)
            } else if !e.versioned() {
                (None, 0, None, old_value, names)
            } else if e.persisted() {
                let (from, to, jid) = self.persist_version(e, &s, old.as_ref(), &new, &names)?;
                self.reload(e)?;
                (from, to, jid, old_value, names)
            } else {
                let mut n = (*s).clone();
                let now = tresor_store::now();
                let mut from = prev;
                if from.is_none() {
                    if let Some(o) = &old {
                        let v = n.versions.keys().next_back().copied().unwrap_or(0) + 1;
                        n.versions.insert(v, self.mem_version(n.key_type, o, now));
                        from = Some(v);
                    }
                }
                let v = n.versions.keys().next_back().copied().unwrap_or(0) + 1;
                n.versions
                    .insert(v, self.mem_version(n.key_type, &new, now));
                n.primary = v;
                e.set_snap(n);
                (from, v, None, old_value, names)
            }
        };
        self.run_callbacks(
            e,
            jid.as_deref(),
            from,
            to,
            old_value.as_ref(),
            &new,
            &names,
            false,
        )
    }

    fn mem_version(&self, t: KeyType, v: &KeyValue, now: i64) -> Version {
        Version {
            created: now,
            destroyed: false,
            fp: Some(self.fingerprint(v)),
            mat: Some(Arc::new(Material {
                engine: Engine::new(t, v),
                value: v.clone(),
            })),
        }
    }

    /// One store transaction: the new version (and `old` first if the key has none), the new
    /// primary and a journal entry listing `callbacks` as pending.
    fn persist_version(
        &self,
        e: &Entry,
        s: &Snapshot,
        old: Option<&KeyValue>,
        new: &KeyValue,
        callbacks: &[String],
    ) -> Result<(Option<u32>, u32, Option<String>)> {
        let name = e.object_name();
        let t = s.key_type;
        let purpose = self.purpose(e);
        let jid = if callbacks.is_empty() {
            None
        } else {
            Some(crate::journal::new_id()?)
        };
        let new_raw = Self::encode_material(t, new);
        let old_raw = old.map(|o| Self::encode_material(t, o));
        let out = self.store.write(|tx| {
            let uid = match tx.get_by_name(&name)? {
                Some(m) => m.uid,
                None => {
                    let mut n = NewObject::new(t.object_type());
                    n.names.push(name.clone());
                    n.attributes.insert(A_TYPE.into(), json!(t.as_str()));
                    n.attributes.insert(
                        A_PURPOSE.into(),
                        serde_json::to_value(purpose).unwrap_or_default(),
                    );
                    n.attributes.insert(A_MIN.into(), json!(1));
                    n.attributes.insert(A_PRIMARY.into(), json!(0));
                    tx.create(n)?
                }
            };
            let meta = tx
                .get(&uid)?
                .ok_or_else(|| StoreError::NotFound(uid.clone()))?;
            let mut from = meta
                .attributes
                .get(A_PRIMARY)
                .and_then(|v| v.as_u64())
                .map(|v| v as u32)
                .filter(|v| *v > 0);
            if from.is_none() {
                if let Some(o) = &old_raw {
                    from = Some(tx.put_material(&uid, o)?);
                }
            }
            let to = tx.put_material(&uid, &new_raw)?;
            tx.update(&uid, &format!("key version v{to} primary"), |m| {
                m.attributes.insert(A_PRIMARY.into(), json!(to));
                if let Some(id) = &jid {
                    let mut j: Vec<JournalEntry> = m
                        .attributes
                        .get(A_JOURNAL)
                        .and_then(|j| serde_json::from_value(j.clone()).ok())
                        .unwrap_or_default();
                    j.push(JournalEntry::new(id.clone(), from, to, callbacks));
                    crate::journal::store_journal(&mut m.attributes, &j);
                }
                Ok(())
            })?;
            Ok((from, to))
        })?;
        Ok((out.0, out.1, jid))
    }
}
