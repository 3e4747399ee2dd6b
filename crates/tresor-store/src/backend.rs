//! The persistence seam: one trait every backend (SQLite, PostgreSQL, S3) implements.
//!
//! The [`crate::Store`] does all cryptography and bookkeeping; a backend only keeps rows and
//! applies a [`Batch`] atomically, checking each [`Precondition`] and appending the audit
//! entries to the chain in the same transaction.

use crate::Result;
use crate::audit::{AuditDraft, AuditEntry, AuditSigner};
use crate::model::{ObjectMeta, SealedVersion};
use crate::query::Query;

/// What must hold for a write to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// The object must not exist (create).
    Absent,
    /// The object must be at this revision (update).
    Rev(u64),
}

/// One write of a batch.
#[derive(Clone, Debug)]
pub enum Write {
    /// Insert or update an object's metadata (names and attribute index follow it).
    PutObject {
        /// New metadata (its `rev` is the new revision).
        meta: ObjectMeta,
        /// What must hold first.
        expect: Precondition,
    },
    /// Insert a new version.
    PutVersion(SealedVersion),
    /// Erase the material of every version of an object (metadata kept).
    DestroyMaterial {
        /// The object.
        uid: String,
        /// Only versions below this one; `None` for all.
        below: Option<u32>,
    },
    /// Replace the sealed material of one version, only if it still holds `from` (a rekey:
    /// same ciphertext, data key wrapped by the new key). Otherwise nothing is applied
    /// ([`crate::StoreError::Conflict`]).
    RewrapVersion {
        /// The object.
        uid: String,
        /// The version.
        version: u32,
        /// The sealed blob it must still hold.
        from: Vec<u8>,
        /// Its replacement.
        to: Vec<u8>,
    },
    /// Set a store-wide setting, only if it still holds `expect` (`None`: absent); otherwise
    /// nothing is applied ([`crate::StoreError::Conflict`]).
    SetMeta {
        /// The setting.
        key: String,
        /// Its new value.
        value: Vec<u8>,
        /// What it must hold first.
        expect: Option<Vec<u8>>,
    },
    /// Require a store-wide setting to be absent or equal to `value`, or apply nothing
    /// ([`crate::StoreError::KeyRotated`]): a writer sealing under a key that a rekey has
    /// replaced since it opened the store is refused.
    MetaAbsentOr {
        /// The setting.
        key: String,
        /// The value it may hold.
        value: Vec<u8>,
    },
    /// Require every stored sealed version to start with `prefix`
    /// ([`tresor_crypto::envelope::wrapped_prefix`] of the store's key), or apply nothing
    /// ([`crate::StoreError::Conflict`]): the last write of a rekey, catching a version
    /// another writer added under the old key since the rekey read the store.
    AllSealedStartWith {
        /// The prefix.
        prefix: Vec<u8>,
    },
    /// Remove an object, its versions and its names.
    DeleteObject {
        /// The object.
        uid: String,
        /// Revision it must be at.
        expect: u64,
    },
}

/// Writes applied together or not at all.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// The writes, in order.
    pub writes: Vec<Write>,
    /// Audit entries appended in the same transaction.
    pub audit: Vec<AuditDraft>,
}

/// Every row of a store, for backup, restore and migration between backends.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dump {
    /// Store-wide settings (the sealed audit key among them).
    pub meta: Vec<(String, Vec<u8>)>,
    /// Every object.
    pub objects: Vec<ObjectMeta>,
    /// Every version (material sealed, as stored).
    pub versions: Vec<SealedVersion>,
    /// The whole audit chain.
    pub audit: Vec<AuditEntry>,
}

/// An object with one of its versions (absent when it has no such version), as
/// [`Backend::get_many_by_name`] answers.
pub type Found = (ObjectMeta, Option<SealedVersion>);

/// The most names one [`Backend::get_many_by_name`] call is given (callers split longer
/// lists): bounds the size of the one query.
pub const MAX_MANY: usize = 10_000;

/// A place to keep objects. Implementations must be safe to share between threads.
pub trait Backend: Send + Sync {
    /// A short name (`sqlite`, `postgres`, `s3`).
    fn kind(&self) -> &'static str;
    /// One object by uid.
    fn get(&self, uid: &str) -> Result<Option<ObjectMeta>>;
    /// One object by (any of its) names.
    fn get_by_name(&self, name: &str) -> Result<Option<ObjectMeta>>;
    /// An object by name with its current version, in one read (the hot path).
    fn get_current_by_name(
        &self,
        name: &str,
    ) -> Result<Option<(ObjectMeta, Option<SealedVersion>)>>;
    /// Objects by name, each with one of its versions (`0`: the current one), in the order
    /// of `wanted`: `None` where no object holds the name, and a `None` version where the
    /// object has no such version. The SQL backends answer all of it with one query (one
    /// read, one snapshot); the default (the S3 backend) reads each name on its own.
    fn get_many_by_name(&self, wanted: &[(&str, u32)]) -> Result<Vec<Option<Found>>> {
        wanted
            .iter()
            .map(|&(name, version)| {
                if version == 0 {
                    return self.get_current_by_name(name);
                }
                match self.get_by_name(name)? {
                    None => Ok(None),
                    Some(m) => {
                        let v = self.version(&m.uid, version)?;
                        Ok(Some((m, v)))
                    }
                }
            })
            .collect()
    }
    /// One version.
    fn version(&self, uid: &str, version: u32) -> Result<Option<SealedVersion>>;
    /// All versions, oldest first.
    fn versions(&self, uid: &str) -> Result<Vec<SealedVersion>>;
    /// Objects matching `q`.
    fn locate(&self, q: &Query) -> Result<Vec<ObjectMeta>>;
    /// Applies `batch` atomically.
    fn commit(&self, batch: &Batch, signer: &AuditSigner) -> Result<()>;
    /// Audit entries with `seq > after`, oldest first, at most `limit`.
    fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>>;
    /// A store-wide setting.
    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Sets a store-wide setting only if absent; returns the value now stored.
    fn meta_init(&self, key: &str, value: &[u8]) -> Result<Vec<u8>>;
    /// Number of objects.
    fn count(&self) -> Result<u64>;
    /// Every row, as one consistent snapshot.
    fn dump(&self) -> Result<Dump>;
    /// Replaces every row with `dump`, atomically.
    fn replace_all(&self, dump: &Dump) -> Result<()>;
    /// Brings a store written before metadata MACs forward: gives every object without a MAC
    /// the one `mac` computes, sets the store setting `marker` (to `b"1"`), and appends `note`
    /// to the audit chain when it MACed any object; returns how many. A SQL backend refuses
    /// ([`crate::StoreError::Tampered`]) when some objects already carry a MAC: its bringing
    /// forward is atomic, so only an edit of the database leaves a store half MACed. SQL backends do
    /// all of it in one transaction; S3 (no multi-object transactions) writes each record with
    /// a conditional PUT, then the marker, so a crash midway is finished by the next open.
    fn backfill_macs(
        &self,
        mac: &dyn Fn(&ObjectMeta) -> [u8; 32],
        marker: &str,
        note: &AuditDraft,
        signer: &AuditSigner,
    ) -> Result<u64>;

    /// Sizes of the write groups this process committed (see the group commit of the SQL
    /// backends), as `(batches per group, groups)`; empty for a backend that commits each
    /// batch alone.
    fn group_sizes(&self) -> Vec<(usize, u64)> {
        Vec::new()
    }
}
