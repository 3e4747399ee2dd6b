//! The object model shared by every door (vault, KMIP, key lifecycle).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The kind of a managed object (the KMIP object types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ObjectType {
    /// A secret value (a vault secret, a password).
    SecretData,
    /// A symmetric key.
    SymmetricKey,
    /// A public key.
    PublicKey,
    /// A private key.
    PrivateKey,
    /// An X.509 certificate.
    Certificate,
    /// Opaque bytes.
    OpaqueObject,
    /// One part of a split key (KMIP Split Key: the part's key block, its split parameters
    /// in the attributes).
    SplitKey,
}

/// The KMIP lifecycle states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[non_exhaustive]
pub enum State {
    /// Created, not yet usable for protection.
    PreActive,
    /// Usable.
    Active,
    /// Usable only to process (decrypt, verify) existing data.
    Deactivated,
    /// Compromised: process only, with care.
    Compromised,
    /// Material destroyed; metadata kept.
    Destroyed,
    /// Compromised, then destroyed.
    DestroyedCompromised,
}

macro_rules! str_enum {
    ($t:ty, $what:literal, [$($v:ident),*]) => {
        impl $t {
            /// The canonical name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => stringify!($v)),* }
            }
            /// Every value.
            pub const ALL: &'static [$t] = &[$(Self::$v),*];
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(|| format!(concat!("unknown ", $what, " '{}'"), s))
            }
        }
    };
}
str_enum!(
    ObjectType,
    "object type",
    [
        SecretData,
        SymmetricKey,
        PublicKey,
        PrivateKey,
        Certificate,
        OpaqueObject,
        SplitKey
    ]
);
str_enum!(
    State,
    "state",
    [
        PreActive,
        Active,
        Deactivated,
        Compromised,
        Destroyed,
        DestroyedCompromised
    ]
);

impl State {
    /// Returns true if and only if the material of an object in this state is gone.
    pub fn is_destroyed(self) -> bool {
        matches!(self, State::Destroyed | State::DestroyedCompromised)
    }
}

/// Typed attributes: JSON values by name. Scalar values (and arrays of scalars) are indexed
/// for [`crate::Query`].
pub type Attributes = BTreeMap<String, serde_json::Value>;

/// A managed object's metadata (everything but its material).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Unique id.
    pub uid: String,
    /// Kind of object.
    pub object_type: ObjectType,
    /// Lifecycle state.
    pub state: State,
    /// The identity that owns it.
    pub owner: String,
    /// Names, each unique in the store. The first is the primary name.
    pub names: Vec<String>,
    /// Typed attributes.
    pub attributes: Attributes,
    /// The newest version of the material (0: none yet).
    pub current_version: u32,
    /// Creation time (Unix seconds).
    pub created: i64,
    /// Last change (Unix seconds).
    pub updated: i64,
    /// Revision, bumped by every write; the optimistic-concurrency token.
    pub rev: u64,
    /// The metadata MAC over every field above, set by the [`crate::Store`] on each write and
    /// checked on each read (`None` only in a store written before MACs, until it is brought
    /// forward). Callers never need to set it.
    #[serde(
        default,
        with = "crate::mac::serde_hex",
        skip_serializing_if = "Option::is_none"
    )]
    pub mac: Option<[u8; 32]>,
}

impl ObjectMeta {
    /// The primary name, if any.
    pub fn name(&self) -> Option<&str> {
        self.names.first().map(String::as_str)
    }

    /// A string attribute, if present and a string.
    pub fn attr_str(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).and_then(|v| v.as_str())
    }
}

/// What to create.
#[derive(Clone, Debug)]
pub struct NewObject {
    /// Kind of object.
    pub object_type: ObjectType,
    /// Initial state.
    pub state: State,
    /// Names (may be empty).
    pub names: Vec<String>,
    /// Owner; `None` means the store's acting identity.
    pub owner: Option<String>,
    /// Attributes.
    pub attributes: Attributes,
    /// Initial material (version 1), if any.
    pub material: Option<Vec<u8>>,
    /// A uid chosen by the caller; `None` generates one.
    pub uid: Option<String>,
}

impl NewObject {
    /// A new object of `object_type`, state Active, no names, no material.
    pub fn new(object_type: ObjectType) -> Self {
        NewObject {
            object_type,
            state: State::Active,
            names: Vec::new(),
            owner: None,
            attributes: Attributes::new(),
            material: None,
            uid: None,
        }
    }
}

/// One version of an object's material, sealed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SealedVersion {
    /// The object.
    pub uid: String,
    /// Version number, from 1.
    pub version: u32,
    /// When written (Unix seconds).
    pub created: i64,
    /// Who wrote it.
    pub created_by: String,
    /// The sealed material (`tresor_crypto::envelope::Sealed` wire form); `None` once destroyed.
    pub sealed: Option<Vec<u8>>,
}

/// Public facts about a version (no material).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionInfo {
    /// Version number.
    pub version: u32,
    /// When written (Unix seconds).
    pub created: i64,
    /// Who wrote it.
    pub created_by: String,
    /// Whether its material was destroyed.
    pub destroyed: bool,
}

impl From<&SealedVersion> for VersionInfo {
    fn from(v: &SealedVersion) -> Self {
        VersionInfo {
            version: v.version,
            created: v.created,
            created_by: v.created_by.clone(),
            destroyed: v.sealed.is_none(),
        }
    }
}

/// The associated data that binds a sealed version to its row.
pub(crate) fn material_aad(uid: &str, version: u32, t: ObjectType) -> Vec<u8> {
    // Same bytes as `format!("tresor/v1\0{uid}\0{version}\0{type}")`, without the formatter
    // (it showed in profiles of the read path).
    let t = t.as_str();
    let mut num = [0u8; 10];
    let mut i = num.len();
    let mut v = version;
    loop {
        i -= 1;
        num[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let mut out = Vec::with_capacity(13 + uid.len() + (num.len() - i) + t.len());
    out.extend_from_slice(b"tresor/v1\0");
    out.extend_from_slice(uid.as_bytes());
    out.push(0);
    out.extend_from_slice(&num[i..]);
    out.push(0);
    out.extend_from_slice(t.as_bytes());
    out
}

/// Current Unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A new uid in UUID version 7 form (RFC 9562): 48 bits of Unix time in milliseconds, then
/// 74 random bits.
///
/// Time first, so that uids created one after the other sort together: a B-tree keyed by uid
/// (the objects, their versions, the attribute index) then takes a group of new objects in
/// one leaf page instead of one page each, which is what lets group commit write a few pages
/// per group rather than a few per object. The random bits keep uids unguessable; the time
/// they reveal is the object's Initial Date, an attribute anyone who may see the object can
/// read anyway.
pub fn new_uid() -> crate::Result<String> {
    let mut b = [0u8; 16];
    tresor_crypto::random_fill(&mut b)?;
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = tresor_crypto::hash::hex(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

#[cfg(test)]
mod aad_tests {
    use super::*;

    /// The hand-built associated data must stay byte-for-byte what every existing database was
    /// sealed with.
    #[test]
    fn material_aad_is_the_documented_format() {
        for version in [0, 1, 9, 10, 99, 100, 12_345, u32::MAX] {
            for t in [ObjectType::SecretData, ObjectType::SymmetricKey] {
                let want = format!("tresor/v1\0uid-1\0{version}\0{}", t.as_str()).into_bytes();
                assert_eq!(material_aad("uid-1", version, t), want, "version {version}");
            }
        }
    }
}

#[cfg(test)]
mod uid_tests {
    use super::new_uid;

    /// UUID v7 form; later uids sort after earlier ones (by the millisecond); no two alike.
    #[test]
    fn uids_are_v7_time_ordered_and_distinct() {
        let a = new_uid().unwrap();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "7", "{a}");
        assert!("89ab".contains(&a[19..20]), "{a}");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_uid().unwrap();
        assert!(b > a, "{a} then {b}");
        let many: std::collections::HashSet<String> =
            (0..10_000).map(|_| new_uid().unwrap()).collect();
        assert_eq!(many.len(), 10_000);
        // The time part is now, not zero or a constant.
        let ms = u64::from_str_radix(&b[..8], 16).unwrap() << 16
            | u64::from_str_radix(&b[9..13], 16).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(now.abs_diff(ms) < 60_000, "{ms} vs {now}");
    }
}
