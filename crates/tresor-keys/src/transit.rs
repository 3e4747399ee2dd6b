//! Transit-style operations (Vault transit's model): create, rotate, encrypt, decrypt,
//! rewrap, configure, trim, show, sign, verify.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::json;
use tresor_crypto::SecretBytes;
use tresor_store::{AttrCond, NewObject, Query, StoreError};

use crate::algo::KeyType;
use crate::ciphertext::{self, parse_binary, parse_text, to_text, validate_name, write_head};
use crate::definition::{ChangeReport, Flow};
use crate::error::{KeysError, Result};
use crate::journal::JournalEntry;
use crate::manager::KeyManager;
use crate::state::{
    A_AUTO, A_MIN, A_PRIMARY, A_PURPOSE, A_TYPE, Entry, Material, OBJECT_PREFIX, lk, rd,
};

/// Settings changed by [`KeyManager::configure`]; `None` leaves a setting as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyConfig {
    /// Versions below this one are refused for decryption (and may then be trimmed).
    pub min_decryption_version: Option<u32>,
    /// Rotate automatically when the primary is older than this many seconds (0: never).
    pub auto_rotate_secs: Option<u64>,
}

/// The state of one version as [`KeyManager::show`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionState {
    /// Encrypts (and decrypts).
    Primary,
    /// Decrypts only.
    DecryptOnly,
    /// Below the minimum decryption version, material still stored (trim destroys it).
    Retired,
    /// Material destroyed.
    Destroyed,
}

/// One version in a [`KeyInfo`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VersionView {
    /// Version number.
    pub version: u32,
    /// When made (Unix seconds).
    pub created: i64,
    /// Its state.
    pub state: VersionState,
}

/// What [`KeyManager::show`] tells about a key.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyInfo {
    /// The key's name.
    pub name: String,
    /// Its type.
    pub key_type: KeyType,
    /// True when the key comes from a definition's source.
    pub defined: bool,
    /// True when its versions are kept in the store.
    pub stored: bool,
    /// The version that encrypts (0: none yet).
    pub primary_version: u32,
    /// The oldest version that still decrypts.
    pub min_decryption_version: u32,
    /// Automatic rotation period in seconds (0: never).
    pub auto_rotate_secs: u64,
    /// Every version, oldest first.
    pub versions: Vec<VersionView>,
    /// Rotations whose callbacks have not all succeeded.
    pub pending: Vec<JournalEntry>,
    /// The primary's Ed25519 public key (base64), for an ed25519 key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// Parses a duration like `30d`, `12h`, `90m`, `3600s` or `3600` (seconds) into seconds.
///
/// # Errors
/// A message naming the input.
pub fn parse_duration(s: &str) -> std::result::Result<u64, String> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last() {
        Some((i, 'd')) => (&s[..i], 86_400),
        Some((i, 'h')) => (&s[..i], 3_600),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 's')) => (&s[..i], 1),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| format!("invalid duration '{s}': expected e.g. 30d, 12h, 90m, 3600s or 0"))
}

impl KeyManager {
    /// Creates a key of `key_type` in the store, with a random version 1 as primary.
    ///
    /// # Errors
    /// [`KeysError::Exists`], [`KeysError::InvalidName`], [`KeysError::Unsupported`] for
    /// [`KeyType::External`].
    pub fn create(&self, name: &str, key_type: KeyType) -> Result<KeyInfo> {
        validate_name(name)?;
        if key_type == KeyType::External {
            return Err(KeysError::Unsupported {
                key: name.to_owned(),
                why: "external keys are made by define_key".into(),
            });
        }
        if rd(&self.entries).contains_key(name) {
            return Err(KeysError::Exists(name.to_owned()));
        }
        let v = key_type.generate()?;
        let mut n = NewObject::new(key_type.object_type());
        n.names.push(format!("{OBJECT_PREFIX}{name}"));
        n.attributes.insert(A_TYPE.into(), json!(key_type.as_str()));
        n.attributes.insert(A_PURPOSE.into(), json!("round-trip"));
        n.attributes.insert(A_PRIMARY.into(), json!(1));
        n.attributes.insert(A_MIN.into(), json!(1));
        n.material = Some(Self::encode_material(key_type, &v).to_vec());
        match self.store.create(n) {
            Ok(_) => {}
            Err(StoreError::NameTaken(_)) => return Err(KeysError::Exists(name.to_owned())),
            Err(e) => return Err(e.into()),
        }
        self.show(name)
    }

    /// Rotates a generated key: a new random version becomes primary (written with the
    /// rotation journal in one store transaction, keeping every older version), then the
    /// on-change callbacks run.
    ///
    /// # Errors
    /// [`KeysError::Undefined`], [`KeysError::Unsupported`] for a key from a source (declare
    /// its changes with [`KeyManager::key_changed`]), callback errors.
    pub fn rotate(&self, name: &str) -> Result<ChangeReport> {
        let e = self.entry(name)?;
        let t = e.snap().key_type;
        if e.def.is_some() || t == KeyType::External {
            return Err(KeysError::Unsupported {
                key: name.to_owned(),
                why: "its value comes from its source; change it there and call key_changed".into(),
            });
        }
        self.record_change(&e, None, t.generate()?, true)
    }

    /// Rotates every stored key whose auto-rotate period has passed; returns their reports.
    ///
    /// # Errors
    /// On a store error; a key's rotation error is returned in its slot.
    pub fn rotate_due(&self) -> Result<Vec<Result<ChangeReport>>> {
        let q = Query {
            attrs: vec![AttrCond::Exists(A_AUTO.into())],
            ..Query::default()
        };
        let now = tresor_store::now();
        let mut out = Vec::new();
        for meta in self.store.locate(&q)? {
            let Some(name) = meta.name().and_then(|n| n.strip_prefix(OBJECT_PREFIX)) else {
                continue;
            };
            let Ok(e) = self.entry(name) else { continue };
            if e.def.is_none() {
                self.reload(&e)?;
                let at = e.snap().rotate_at();
                if at != 0 && now >= at {
                    out.push(self.rotate(name));
                }
            }
        }
        Ok(out)
    }

    /// Rotates `e` if its period passed, re-checking under the key's write lock so that
    /// concurrent callers rotate once.
    fn rotate_if_due(&self, e: &Arc<Entry>) -> Result<()> {
        {
            let _w = lk(&e.write);
            self.reload(e)?;
            let at = e.snap().rotate_at();
            if at == 0 || tresor_store::now() < at {
                return Ok(());
            }
        }
        self.rotate(&e.name).map(|_| ())
    }

    /// The primary's material for encryption (or signing) of `name`.
    fn primary(&self, name: &str) -> Result<(Arc<Entry>, u32, Arc<Material>)> {
        let e = self.entry(name)?;
        if e.def.is_some() {
            let (v, value, mat) = self.forward(&e, Flow::Forward)?;
            let mat = match mat {
                Some(m) => m,
                None => Arc::new(Material {
                    engine: crate::algo::Engine::new(KeyType::External, &value),
                    value,
                }),
            };
            return Ok((e, v, mat));
        }
        let s = e.snap();
        let at = s.rotate_at();
        if at != 0 && tresor_store::now() >= at {
            drop(s);
            self.rotate_if_due(&e)?;
        }
        let s = e.snap();
        let mat = self.version_material(&e, s.primary)?;
        Ok((e, s.primary, mat))
    }

    /// Encrypts `plaintext` with the primary version of `name` into the binary form (see
    /// [`crate::ciphertext`]); `aad` is authenticated, not stored.
    ///
    /// # Errors
    /// [`KeysError::Undefined`], [`KeysError::Unsupported`] for a key that does not encrypt.
    pub fn encrypt_bytes(&self, name: &str, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        if let Some(r) = self.encrypt_bytes_cached(name, plaintext, aad) {
            return r;
        }
        let (_, v, m) = self.primary(name)?;
        seal(name, v, &m, plaintext, aad)
    }

    /// [`KeyManager::encrypt_bytes`] when it needs neither the store nor a key source: the
    /// key's primary version is cached and not due to rotate. `None` otherwise (then call
    /// `encrypt_bytes`, which may read or write the store). Pure computation, no blocking:
    /// a caller holding a lock that others wait on (Python's GIL) can call this one with it
    /// held and release it only for `encrypt_bytes`.
    pub fn encrypt_bytes_cached(
        &self,
        name: &str,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Option<Result<Vec<u8>>> {
        self.with_cached_primary(name, |v, m| seal(name, v, m, plaintext, aad))
    }

    /// The length of [`KeyManager::encrypt_bytes`]'s output for key `name` and `pt_len`
    /// plaintext bytes.
    pub fn encrypted_len(name: &str, pt_len: usize) -> usize {
        ciphertext::head_len(name) + crate::algo::sealed_len(pt_len)
    }

    /// [`KeyManager::encrypt_bytes_cached`] writing the ciphertext into `out`, which is
    /// exactly [`KeyManager::encrypted_len`] bytes long (a buffer the caller already owns,
    /// such as a Python `bytes` being built: no second copy).
    ///
    /// # Errors
    /// As [`KeyManager::encrypt_bytes`]; [`KeysError::Malformed`] if `out` has another
    /// length.
    pub fn encrypt_bytes_cached_into(
        &self,
        name: &str,
        plaintext: &[u8],
        aad: &[u8],
        out: &mut [u8],
    ) -> Option<Result<()>> {
        self.with_cached_primary(name, |v, m| seal_to(name, v, m, plaintext, aad, out))
    }

    /// `f` on the cached primary version of stored key `name` (its number and material),
    /// if it is cached and not due to rotate (the encrypt paths' hot path).
    fn with_cached_primary<T>(&self, name: &str, f: impl FnOnce(u32, &Material) -> T) -> Option<T> {
        let map = rd(&self.entries);
        let e = map.get(name).filter(|e| e.def.is_none())?;
        let s = rd(&e.snap);
        let at = s.rotate_at();
        if at != 0 && tresor_store::now() >= at {
            return None;
        }
        let m = s.versions.get(&s.primary).and_then(|v| v.mat.as_ref())?;
        Some(f(s.primary, m))
    }

    /// Decrypts a binary ciphertext with the version it names.
    ///
    /// # Errors
    /// [`KeysError::Malformed`], [`KeysError::Undefined`], [`KeysError::VersionRetired`],
    /// [`KeysError::UnknownVersion`], [`KeysError::Decrypt`].
    pub fn decrypt_bytes(&self, ciphertext: &[u8], aad: &[u8]) -> Result<SecretBytes> {
        if let Some(r) = self.decrypt_bytes_cached(ciphertext, aad) {
            return r;
        }
        let (h, head_len) = parse_binary(ciphertext)?;
        let m = self.decrypt_material(h.name, h.version)?;
        m.engine
            .open(&ciphertext[..head_len], aad, &ciphertext[head_len..])
    }

    /// [`KeyManager::decrypt_bytes`] when the version it names is cached: no store, no key
    /// source, no blocking (see [`KeyManager::encrypt_bytes_cached`]). `None` when the
    /// version is not cached; a malformed ciphertext is `Some(Err(..))`.
    pub fn decrypt_bytes_cached(
        &self,
        ciphertext: &[u8],
        aad: &[u8],
    ) -> Option<Result<SecretBytes>> {
        let (h, head_len) = match parse_binary(ciphertext) {
            Ok(h) => h,
            Err(e) => return Some(Err(e)),
        };
        self.with_cached_version(h.name, h.version, |m| {
            m.engine
                .open(&ciphertext[..head_len], aad, &ciphertext[head_len..])
        })
    }

    /// As [`KeyManager::decrypt_bytes`], appending the plaintext to `out` instead of returning
    /// a zeroizing buffer (for callers that manage their own buffers; `out` is unchanged on
    /// error).
    ///
    /// # Errors
    /// As [`KeyManager::decrypt_bytes`].
    pub fn decrypt_bytes_into(
        &self,
        ciphertext: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let (h, head_len) = parse_binary(ciphertext)?;
        let (head, body) = ciphertext.split_at(head_len);
        if let Some(r) = self.with_cached_version(h.name, h.version, |m| {
            m.engine.open_into(head, aad, body, out)
        }) {
            return r;
        }
        let m = self.decrypt_material(h.name, h.version)?;
        m.engine.open_into(head, aad, body, out)
    }

    /// `f` on the cached material of `version` of stored key `name`, if it is cached and not
    /// retired for decryption (the decrypt paths' hot path: no store, no key source).
    fn with_cached_version<T>(
        &self,
        name: &str,
        version: u32,
        f: impl FnOnce(&Material) -> T,
    ) -> Option<T> {
        let map = rd(&self.entries);
        let e = map.get(name).filter(|e| e.def.is_none())?;
        let s = rd(&e.snap);
        if version < s.min_dec {
            return None;
        }
        let m = s.versions.get(&version).and_then(|v| v.mat.as_ref())?;
        Some(f(m))
    }

    fn decrypt_material(&self, name: &str, version: u32) -> Result<Arc<Material>> {
        let e = self.entry(name)?;
        if version == 0 && !e.versioned() {
            let (_, value, _) = self.forward(&e, Flow::Back)?;
            return Ok(Arc::new(Material {
                engine: crate::algo::Engine::new(KeyType::External, &value),
                value,
            }));
        }
        let m = self.version_material(&e, version)?;
        if !m.engine.is_aead() {
            return Err(KeysError::Unsupported {
                key: name.to_owned(),
                why: format!("{} keys do not decrypt", e.snap().key_type),
            });
        }
        Ok(m)
    }

    /// Encrypts into the text form `tresor:NAME:vN:BASE64`.
    ///
    /// # Errors
    /// As [`KeyManager::encrypt_bytes`].
    pub fn encrypt(&self, name: &str, plaintext: &[u8], aad: &[u8]) -> Result<String> {
        let b = self.encrypt_bytes(name, plaintext, aad)?;
        let (h, n) = parse_binary(&b)?;
        Ok(to_text(h.name, h.version, &b[n..]))
    }

    /// Decrypts the text form; the key and version come from the ciphertext.
    ///
    /// # Errors
    /// As [`KeyManager::decrypt_bytes`].
    pub fn decrypt(&self, ciphertext: &str, aad: &[u8]) -> Result<SecretBytes> {
        let (h, payload) = parse_text(ciphertext)?;
        let m = self.decrypt_material(h.name, h.version)?;
        let mut head = Vec::with_capacity(8 + h.name.len());
        write_head(&mut head, h.name, h.version);
        m.engine.open(&head, aad, &payload)
    }

    /// Re-encrypts a text ciphertext under the key's primary version; the plaintext never
    /// leaves the manager.
    ///
    /// # Errors
    /// As [`KeyManager::decrypt`] and [`KeyManager::encrypt`].
    pub fn rewrap(&self, ciphertext: &str, aad: &[u8]) -> Result<String> {
        let name = ciphertext::inspect(ciphertext)?.name.to_owned();
        let pt = self.decrypt(ciphertext, aad)?;
        self.encrypt(&name, pt.expose(), aad)
    }

    /// Signs `msg` with the primary of an hmac-sha256 or ed25519 key: `tresor:NAME:vN:BASE64`.
    ///
    /// # Errors
    /// [`KeysError::Unsupported`] for a key that does not sign.
    pub fn sign(&self, name: &str, msg: &[u8]) -> Result<String> {
        let (e, v, m) = self.primary(name)?;
        let sig = m.engine.sign(msg).ok_or_else(|| KeysError::Unsupported {
            key: name.to_owned(),
            why: format!("{} keys do not sign", e.snap().key_type),
        })?;
        Ok(to_text(name, v, &sig))
    }

    /// Returns true if and only if `signature` (as made by [`KeyManager::sign`]) is valid for
    /// `msg` under the version it names.
    ///
    /// # Errors
    /// [`KeysError::Malformed`], [`KeysError::VersionRetired`], [`KeysError::Unsupported`].
    pub fn verify(&self, signature: &str, msg: &[u8]) -> Result<bool> {
        let (h, sig) = parse_text(signature)?;
        let e = self.entry(h.name)?;
        let m = self.version_material(&e, h.version)?;
        m.engine
            .verify(msg, &sig)
            .ok_or_else(|| KeysError::Unsupported {
                key: h.name.to_owned(),
                why: format!("{} keys do not verify", e.snap().key_type),
            })
    }

    /// Changes a stored key's minimum decryption version and auto-rotate period.
    ///
    /// # Errors
    /// [`KeysError::Refused`] for a minimum above the primary, or above a version that
    /// unfinished rotation callbacks still need; [`KeysError::Unsupported`] for a stateless key.
    pub fn configure(&self, name: &str, cfg: KeyConfig) -> Result<KeyInfo> {
        let e = self.entry(name)?;
        if !e.persisted() {
            return Err(KeysError::Unsupported {
                key: name.to_owned(),
                why: "a stateless key keeps no settings".into(),
            });
        }
        {
            let _w = lk(&e.write);
            self.reload(&e)?;
            let s = e.snap();
            let uid = s.uid.clone().ok_or_else(|| KeysError::Refused {
                key: name.to_owned(),
                why: "it has no version yet".into(),
            })?;
            if let Some(min) = cfg.min_decryption_version {
                if min == 0 || min > s.primary {
                    return Err(KeysError::Refused {
                        key: name.to_owned(),
                        why: format!(
                            "minimum decryption version must be between 1 and the primary version {}",
                            s.primary
                        ),
                    });
                }
                if let Some(j) = s.journal.iter().find(|j| j.from.is_some_and(|f| f < min)) {
                    return Err(KeysError::Refused {
                        key: name.to_owned(),
                        why: format!(
                            "rotation v{} → v{} has unfinished callbacks that still need v{}; run resume first",
                            j.from.unwrap_or(0),
                            j.to,
                            j.from.unwrap_or(0)
                        ),
                    });
                }
            }
            self.store.write(|tx| {
                tx.update(&uid, "configure key", |m| {
                    if let Some(min) = cfg.min_decryption_version {
                        m.attributes.insert(A_MIN.into(), json!(min));
                    }
                    match cfg.auto_rotate_secs {
                        Some(0) => {
                            m.attributes.remove(A_AUTO);
                        }
                        Some(p) => {
                            m.attributes.insert(A_AUTO.into(), json!(p));
                        }
                        None => {}
                    }
                    Ok(())
                })
            })?;
            self.reload(&e)?;
        }
        self.show(name)
    }

    /// Destroys the material of every version below the minimum decryption version; returns
    /// how many versions were destroyed.
    ///
    /// # Errors
    /// [`KeysError::Unsupported`] for a stateless key.
    pub fn trim(&self, name: &str) -> Result<usize> {
        let e = self.entry(name)?;
        if !e.persisted() {
            return Err(KeysError::Unsupported {
                key: name.to_owned(),
                why: "a stateless key keeps no versions in the store".into(),
            });
        }
        let _w = lk(&e.write);
        self.reload(&e)?;
        let s = e.snap();
        let Some(uid) = s.uid.clone() else {
            return Ok(0);
        };
        let n = s
            .versions
            .iter()
            .filter(|(v, x)| **v < s.min_dec && !x.destroyed)
            .count();
        if n > 0 {
            let min = s.min_dec;
            self.store.write(|tx| {
                let meta = tx
                    .get(&uid)?
                    .ok_or_else(|| StoreError::NotFound(uid.clone()))?;
                let cur = meta
                    .attributes
                    .get(A_MIN)
                    .and_then(|v| v.as_u64())
                    .unwrap_or(1) as u32;
                if cur != min {
                    return Err(StoreError::Conflict(uid.clone()));
                }
                tx.destroy_material(&uid, Some(min))
            })?;
            self.reload(&e)?;
        }
        Ok(n)
    }

    /// Versions, dates and states of a key.
    ///
    /// # Errors
    /// [`KeysError::Undefined`].
    pub fn show(&self, name: &str) -> Result<KeyInfo> {
        let e = self.entry(name)?;
        if e.persisted() {
            self.reload(&e)?;
        }
        let s = e.snap();
        let versions = s
            .versions
            .iter()
            .map(|(v, x)| VersionView {
                version: *v,
                created: x.created,
                state: if x.destroyed {
                    VersionState::Destroyed
                } else if *v < s.min_dec {
                    VersionState::Retired
                } else if *v == s.primary {
                    VersionState::Primary
                } else {
                    VersionState::DecryptOnly
                },
            })
            .collect();
        let public_key = if s.key_type == KeyType::Ed25519 {
            self.version_material(&e, s.primary)
                .ok()
                .and_then(|m| m.engine.public_key())
                .map(|p| base64::engine::general_purpose::STANDARD.encode(p))
        } else {
            None
        };
        Ok(KeyInfo {
            name: e.name.clone(),
            key_type: s.key_type,
            defined: e.def.is_some(),
            stored: e.persisted(),
            primary_version: s.primary,
            min_decryption_version: s.min_dec,
            auto_rotate_secs: s.auto_rotate,
            versions,
            pending: s.journal.clone(),
            public_key,
        })
    }

    /// Names of the keys in the store (`tresor-key:*` objects).
    ///
    /// # Errors
    /// On a store error.
    pub fn list(&self) -> Result<Vec<String>> {
        let q = Query {
            attrs: vec![AttrCond::Exists(A_TYPE.into())],
            ..Query::default()
        };
        Ok(self
            .store
            .locate(&q)?
            .iter()
            .filter_map(|m| {
                m.name()
                    .and_then(|n| n.strip_prefix(OBJECT_PREFIX))
                    .map(str::to_owned)
            })
            .collect())
    }
}

fn seal(name: &str, version: u32, m: &Material, pt: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let mut out = vec![0u8; KeyManager::encrypted_len(name, pt.len())];
    seal_to(name, version, m, pt, aad, &mut out)?;
    Ok(out)
}

/// The binary ciphertext of `pt` under version `version` of key `name`, written into `out`
/// (exactly [`KeyManager::encrypted_len`] bytes).
fn seal_to(
    name: &str,
    version: u32,
    m: &Material,
    pt: &[u8],
    aad: &[u8],
    out: &mut [u8],
) -> Result<()> {
    if !m.engine.is_aead() {
        return Err(KeysError::Unsupported {
            key: name.to_owned(),
            why: "this key does not encrypt (it signs, or is not a 32-byte key)".into(),
        });
    }
    if out.len() != KeyManager::encrypted_len(name, pt.len()) {
        return Err(KeysError::Malformed {
            what: "ciphertext buffer",
            why: "not the length encrypted_len gives",
        });
    }
    let n = ciphertext::put_head(out, name, version);
    m.engine.seal_after(out, n, aad, pt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d"), Ok(30 * 86_400));
        assert_eq!(parse_duration("12h"), Ok(43_200));
        assert_eq!(parse_duration("90m"), Ok(5_400));
        assert_eq!(parse_duration("15s"), Ok(15));
        assert_eq!(parse_duration("0"), Ok(0));
        for bad in ["", "d", "-1d", "1w", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
