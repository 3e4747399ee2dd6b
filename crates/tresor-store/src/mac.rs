//! The metadata MAC: HMAC-SHA-256 over everything the store decides with (uid, type, state,
//! owner, names, attributes, current version, times, revision), keyed by a key derived with
//! HKDF from the store's own random audit key.
//!
//! Sealed material is authenticated by its AEAD (associated data binds uid, version and
//! type); this MAC covers the rest of the row, so whoever can write the database or the bucket
//! but holds no key cannot make an object theirs, grant it, roll its current version back,
//! change its state or move a name onto another object without the next read noticing.
//!
//! The encoding is unambiguous: every field is length-prefixed or of fixed width, attribute
//! values are walked as typed JSON (objects in sorted key order), and the bytes go to the HMAC
//! through a stack buffer as they are produced (nothing is allocated on the read path).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;

use aws_lc_rs::{hkdf, hmac};
use serde_json::Value;

use crate::model::ObjectMeta;

/// Width of a metadata MAC.
pub const MAC_LEN: usize = 32;

/// Domain label at the start of every MACed message.
const LABEL: &[u8] = b"tresor/v1\0object-meta\0";
/// HKDF salt and info: a key for this purpose only, distinct from the audit chain's.
const HKDF_SALT: &[u8] = b"tresor/v1 key derivation";
const HKDF_INFO: &[u8] = b"tresor/v1\0metadata-mac";

/// The key that MACs object metadata; derived once per store open.
pub(crate) struct MetaKey {
    key: hmac::Key,
    /// Metadata this key has verified, by uid: a row read again with the same bytes (MAC
    /// included) is the row already checked, and the HMAC would give the same answer.
    verified: Verified,
}

/// Shards of the verified-metadata memory, so concurrent readers rarely share a lock.
const VERIFIED_SHARDS: usize = 16;
/// Entries per shard before the shard is emptied (bounded memory: 16 × 256 objects).
const VERIFIED_PER_SHARD: usize = 256;

/// A bounded memory of verified metadata (see [`MetaKey::verify`]).
struct Verified {
    shards: [Mutex<HashMap<String, ObjectMeta>>; VERIFIED_SHARDS],
    hasher: std::collections::hash_map::RandomState,
}

impl Verified {
    fn new() -> Self {
        Verified {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    fn shard(&self, uid: &str) -> &Mutex<HashMap<String, ObjectMeta>> {
        &self.shards[(self.hasher.hash_one(uid) as usize) % VERIFIED_SHARDS]
    }

    /// True if exactly `m` (every field, its MAC included) was verified before.
    fn contains(&self, m: &ObjectMeta) -> bool {
        self.shard(&m.uid)
            .lock()
            .is_ok_and(|g| g.get(&m.uid).is_some_and(|seen| seen == m))
    }

    fn insert(&self, m: &ObjectMeta) {
        if let Ok(mut g) = self.shard(&m.uid).lock() {
            if g.len() >= VERIFIED_PER_SHARD && !g.contains_key(&m.uid) {
                g.clear();
            }
            g.insert(m.uid.clone(), m.clone());
        }
    }
}

impl std::fmt::Debug for MetaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetaKey([REDACTED])")
    }
}

impl MetaKey {
    /// Derives the metadata key from the store's audit key (HKDF-SHA-256, distinct label).
    pub(crate) fn derive(audit_key: &[u8]) -> crate::Result<Self> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(audit_key);
        let okm = prk
            .expand(&[HKDF_INFO], hmac::HMAC_SHA256)
            .map_err(|_| tresor_crypto::CryptoError::Kdf("HKDF-SHA-256 expand failed".into()))?;
        Ok(MetaKey {
            key: hmac::Key::from(okm),
            verified: Verified::new(),
        })
    }

    /// The MAC of `m` (its `mac` field is not covered).
    pub(crate) fn compute(&self, m: &ObjectMeta) -> [u8; MAC_LEN] {
        let mut f = Feed::new(&self.key);
        f.raw(LABEL);
        f.str(&m.uid);
        f.str(m.object_type.as_str());
        f.str(m.state.as_str());
        f.str(&m.owner);
        f.len(m.names.len());
        for n in &m.names {
            f.str(n);
        }
        f.len(m.attributes.len());
        for (k, v) in &m.attributes {
            f.str(k);
            f.value(v);
        }
        f.raw(&m.current_version.to_be_bytes());
        f.raw(&m.created.to_be_bytes());
        f.raw(&m.updated.to_be_bytes());
        f.raw(&m.rev.to_be_bytes());
        let tag = f.finish();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Checks that `m` carries a MAC and that it is the right one (constant-time compare).
    ///
    /// # Errors
    /// What is wrong, for [`crate::StoreError::Tampered`].
    pub(crate) fn verify(&self, m: &ObjectMeta) -> Result<(), &'static str> {
        let Some(have) = &m.mac else {
            return Err("it has no metadata MAC");
        };
        if tresor_crypto::ct_eq(have, &self.compute(m)) {
            Ok(())
        } else {
            Err("metadata MAC does not match")
        }
    }

    /// As [`MetaKey::verify`], for the read paths that fetch one object again and again (a
    /// Get, a vault `get`): metadata equal in every field (its MAC included) to metadata this
    /// key verified before through this method is accepted without computing the HMAC
    /// again. The HMAC is deterministic, so the answer would be the same; only metadata that
    /// verified is remembered (bounded: [`VERIFIED_SHARDS`] × [`VERIFIED_PER_SHARD`]).
    ///
    /// # Errors
    /// As [`MetaKey::verify`].
    pub(crate) fn verify_remembered(&self, m: &ObjectMeta) -> Result<(), &'static str> {
        if m.mac.is_some() && self.verified.contains(m) {
            return Ok(());
        }
        self.verify(m)?;
        self.verified.insert(m);
        Ok(())
    }
}

/// Feeds the HMAC through a stack buffer: the fields are small, and one hash update per
/// ~256 bytes is much cheaper than one per field (each is a call into aws-lc).
struct Feed {
    ctx: hmac::Context,
    buf: [u8; 256],
    n: usize,
}

impl Feed {
    fn new(key: &hmac::Key) -> Self {
        Feed {
            ctx: hmac::Context::with_key(key),
            buf: [0u8; 256],
            n: 0,
        }
    }

    fn raw(&mut self, b: &[u8]) {
        if self.n + b.len() > self.buf.len() {
            self.ctx.update(&self.buf[..self.n]);
            self.n = 0;
            if b.len() > self.buf.len() {
                self.ctx.update(b);
                return;
            }
        }
        self.buf[self.n..self.n + b.len()].copy_from_slice(b);
        self.n += b.len();
    }

    fn finish(mut self) -> hmac::Tag {
        self.ctx.update(&self.buf[..self.n]);
        self.ctx.sign()
    }

    /// A length or count, as 4 bytes (nothing the store keeps comes near 4 GiB).
    fn len(&mut self, n: usize) {
        self.raw(&(n as u32).to_be_bytes());
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.raw(s.as_bytes());
    }

    /// A JSON value, typed: a tag byte, then fixed-width numbers or length-prefixed content.
    fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.raw(b"n"),
            Value::Bool(false) => self.raw(b"f"),
            Value::Bool(true) => self.raw(b"t"),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    self.raw(b"u");
                    self.raw(&u.to_be_bytes());
                } else if let Some(i) = n.as_i64() {
                    self.raw(b"i");
                    self.raw(&i.to_be_bytes());
                } else {
                    self.raw(b"d");
                    self.raw(&n.as_f64().unwrap_or(f64::NAN).to_bits().to_be_bytes());
                }
            }
            Value::String(s) => {
                self.raw(b"s");
                self.str(s);
            }
            Value::Array(a) => {
                self.raw(b"a");
                self.len(a.len());
                for x in a {
                    self.value(x);
                }
            }
            Value::Object(o) => {
                // serde_json's map is a BTreeMap (no `preserve_order` in this workspace): the
                // keys come sorted, so equal objects give equal bytes (a test checks it).
                self.raw(b"o");
                self.len(o.len());
                for (k, x) in o {
                    self.str(k);
                    self.value(x);
                }
            }
        }
    }
}

/// Hex (de)serialization of an optional MAC, for the JSON forms (dumps, S3 record bodies).
pub(crate) mod serde_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::MAC_LEN;

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<[u8; MAC_LEN]>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(m) => s.serialize_str(&tresor_crypto::hash::hex(m)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<[u8; MAC_LEN]>, D::Error> {
        let Some(s) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        decode(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("a metadata MAC is 64 hex digits"))
    }

    /// 64 hex digits → 32 bytes.
    pub(crate) fn decode(s: &str) -> Option<[u8; MAC_LEN]> {
        let b = s.as_bytes();
        if b.len() != MAC_LEN * 2 {
            return None;
        }
        let nib = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        let mut out = [0u8; MAC_LEN];
        for (i, o) in out.iter_mut().enumerate() {
            *o = (nib(b[2 * i])? << 4) | nib(b[2 * i + 1])?;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObjectType, State};
    use serde_json::json;

    fn meta() -> ObjectMeta {
        let mut attributes = crate::Attributes::new();
        attributes.insert(crate::secret_name::GRANTS.into(), json!({"bob": ["get"]}));
        attributes.insert("n".into(), json!(5));
        ObjectMeta {
            uid: "u1".into(),
            object_type: ObjectType::SecretData,
            state: State::Active,
            owner: "alice".into(),
            names: vec!["a:e:K".into(), "a:e:L".into()],
            attributes,
            current_version: 2,
            created: 10,
            updated: 11,
            rev: 3,
            mac: None,
        }
    }

    fn key() -> MetaKey {
        MetaKey::derive(&[7u8; 32]).unwrap()
    }

    #[test]
    fn remembered_metadata_is_only_what_verified() {
        let k = key();
        let mut m = meta();
        m.mac = Some(k.compute(&m));
        assert!(k.verify_remembered(&m).is_ok());
        assert!(k.verify_remembered(&m).is_ok());
        // The same uid with any field changed (a tampered row) is checked again and refused,
        // with the MAC left as it was or taken from the verified row.
        let mut owner = m.clone();
        owner.owner = "mallory".into();
        assert!(k.verify_remembered(&owner).is_err());
        let mut version = m.clone();
        version.current_version = 1;
        assert!(k.verify_remembered(&version).is_err());
        // A refused row is not remembered: the genuine one still verifies, the forged one
        // is still refused.
        assert!(k.verify_remembered(&m).is_ok());
        assert!(k.verify_remembered(&owner).is_err());
        // Another key remembers nothing of this one's.
        let other = MetaKey::derive(&[8u8; 32]).unwrap();
        assert!(other.verify_remembered(&m).is_err());
        // The memory is bounded: many objects later, it still answers correctly.
        for i in 0..(VERIFIED_SHARDS * VERIFIED_PER_SHARD * 2) {
            let mut o = meta();
            o.uid = format!("uid-{i}");
            o.mac = Some(k.compute(&o));
            assert!(k.verify_remembered(&o).is_ok());
        }
        let total: usize = k
            .verified
            .shards
            .iter()
            .map(|s| s.lock().unwrap().len())
            .sum();
        assert!(total <= VERIFIED_SHARDS * VERIFIED_PER_SHARD, "{total}");
        assert!(k.verify_remembered(&m).is_ok());
        assert!(k.verify_remembered(&owner).is_err());
    }

    #[test]
    fn every_field_changes_the_mac() {
        let k = key();
        let base = k.compute(&meta());
        type Edit = Box<dyn Fn(&mut ObjectMeta)>;
        let edits: Vec<Edit> = vec![
            Box::new(|m| m.uid = "u2".into()),
            Box::new(|m| m.object_type = ObjectType::SymmetricKey),
            Box::new(|m| m.state = State::Deactivated),
            Box::new(|m| m.owner = "mallory".into()),
            Box::new(|m| m.names.reverse()),
            Box::new(|m| m.names.pop().map(drop).unwrap_or(())),
            Box::new(|m| {
                m.attributes.insert(
                    crate::secret_name::GRANTS.into(),
                    json!({"mallory": ["get"]}),
                );
            }),
            Box::new(|m| {
                m.attributes.insert("n".into(), json!(5.0));
            }),
            Box::new(|m| {
                m.attributes.insert("n".into(), json!("5"));
            }),
            Box::new(|m| m.current_version = 1),
            Box::new(|m| m.created = 9),
            Box::new(|m| m.updated = 12),
            Box::new(|m| m.rev = 4),
        ];
        for (i, e) in edits.iter().enumerate() {
            let mut m = meta();
            e(&mut m);
            assert_ne!(k.compute(&m), base, "edit {i} left the MAC unchanged");
        }
        // The MAC field itself is not covered.
        let mut m = meta();
        m.mac = Some([1; 32]);
        assert_eq!(k.compute(&m), base);
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let k = key();
        let mut a = meta();
        a.names = vec!["ab".into(), "c".into()];
        let mut b = meta();
        b.names = vec!["a".into(), "bc".into()];
        assert_ne!(k.compute(&a), k.compute(&b));
        let mut a = meta();
        a.owner = "al".into();
        a.uid = "u1ice".into();
        assert_ne!(k.compute(&a), k.compute(&meta()));
    }

    /// Nested objects give the same MAC whatever order their keys were inserted in, and after
    /// a JSON round trip (what every backend does).
    #[test]
    fn attribute_encoding_is_canonical() {
        let k = key();
        let mut a = meta();
        a.attributes
            .insert("x".into(), json!({"b": 1, "a": [1.5, -2, null, true]}));
        let mut b = meta();
        let mut o = serde_json::Map::new();
        o.insert("a".into(), json!([1.5, -2, null, true]));
        o.insert("b".into(), json!(1));
        b.attributes.insert("x".into(), Value::Object(o));
        assert_eq!(k.compute(&a), k.compute(&b));
        let round: ObjectMeta = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(k.compute(&round), k.compute(&a));
    }

    #[test]
    fn verify_needs_the_right_key_and_a_mac() {
        let k = key();
        let mut m = meta();
        assert!(k.verify(&m).is_err());
        m.mac = Some(k.compute(&m));
        assert!(k.verify(&m).is_ok());
        let other = MetaKey::derive(&[8u8; 32]).unwrap();
        assert!(other.verify(&m).is_err());
        m.owner = "mallory".into();
        assert!(k.verify(&m).is_err());
    }

    #[test]
    fn hex_round_trip() {
        let m = [0xabu8; 32];
        let s = tresor_crypto::hash::hex(&m);
        assert_eq!(serde_hex::decode(&s), Some(m));
        assert_eq!(serde_hex::decode("zz"), None);
    }
}
