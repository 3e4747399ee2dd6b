//! The hash-chained audit log: every mutation appends an entry whose MAC covers the previous
//! entry's MAC, keyed by a store-specific audit key sealed under the vault key. Editing,
//! reordering or deleting an entry breaks the chain; so does forging one without the key.

use serde::Serialize;

/// What an audit entry says happened (never a value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditDraft {
    /// Who acted.
    pub actor: String,
    /// What they did (`create`, `new-version`, `update`, `delete`, `destroy`, …).
    pub action: String,
    /// The object acted on, if any.
    pub uid: Option<String>,
    /// Non-secret details (a name, a state change).
    pub detail: String,
}

/// A stored audit entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// When (Unix seconds).
    pub ts: i64,
    /// Who acted.
    pub actor: String,
    /// What they did.
    pub action: String,
    /// The object acted on.
    pub uid: Option<String>,
    /// Non-secret details.
    pub detail: String,
    /// MAC of the previous entry (hex; zeros for the first).
    pub prev: String,
    /// This entry's MAC (hex).
    pub mac: String,
}

/// Computes entry MACs.
pub struct AuditSigner {
    key: tresor_crypto::Secret<Vec<u8>>,
    /// `key`, prepared once (every commit MACs entries and a head with it).
    prepared: tresor_crypto::hash::HmacSha256,
    /// Where the entries MAC'd by [`AuditSigner::mac`] were chained (a per-commit signer from
    /// [`AuditSigner::for_commit`] tells the store where its commit found and left the chain).
    last: std::sync::Mutex<Option<Issued>>,
    /// Set by a group commit: the run of entries of the whole group this signer's commit was
    /// part of (every batch of the group that committed, in commit order).
    group: std::sync::Mutex<Option<Issued>>,
}

/// The run of consecutive entries a per-commit signer MAC'd last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issued {
    /// The seq and MAC of the entry the run was chained onto (`(0, GENESIS)` for the first).
    pub(crate) chained_onto: (u64, String),
    /// The seq and MAC of the run's last entry.
    pub(crate) last: (u64, String),
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditSigner([REDACTED])")
    }
}

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl AuditSigner {
    pub(crate) fn new(key: tresor_crypto::Secret<Vec<u8>>) -> Self {
        AuditSigner {
            prepared: tresor_crypto::hash::HmacSha256::new(key.expose()),
            key,
            last: std::sync::Mutex::new(None),
            group: std::sync::Mutex::new(None),
        }
    }

    /// A signer with the same key for one commit: after the backend applied the batch,
    /// [`AuditSigner::last_issued`] is the last entry it wrote (a backend that retries
    /// recomputes the MACs, so the last one computed is the last one stored).
    pub(crate) fn for_commit(&self) -> Self {
        AuditSigner {
            key: self.key.clone(),
            prepared: self.prepared.clone(),
            last: std::sync::Mutex::new(None),
            group: std::sync::Mutex::new(None),
        }
    }

    /// Where this signer's last run of entries was chained onto and where it ended.
    pub(crate) fn last_issued(&self) -> Option<Issued> {
        self.last.lock().ok().and_then(|g| g.clone())
    }

    /// Records where a commit applied for this signer by another thread (a group commit's
    /// leader, with its own copy) found and left the chain.
    pub(crate) fn set_last_issued(&self, last: Option<Issued>) {
        if let Ok(mut g) = self.last.lock() {
            *g = last;
        }
    }

    /// The run of entries of the commit group this signer's commit was part of, when a group
    /// commit recorded one ([`AuditSigner::set_group_issued`]).
    pub(crate) fn group_issued(&self) -> Option<Issued> {
        self.group.lock().ok().and_then(|g| g.clone())
    }

    /// Records the run of entries of the whole commit group (see [`AuditSigner::group_issued`]).
    pub(crate) fn set_group_issued(&self, group: Option<Issued>) {
        if let Ok(mut g) = self.group.lock() {
            *g = group;
        }
    }

    /// The MAC of an audit head naming entry `seq` with MAC `entry` (domain-separated from
    /// entry MACs).
    pub(crate) fn head_mac(&self, seq: u64, entry: &str) -> String {
        tresor_crypto::hash::hex(&self.prepared.parts(&[
            b"tresor audit head v1",
            &seq.to_be_bytes(),
            entry.as_bytes(),
        ]))
    }

    /// The MAC of an entry with the given fields.
    pub fn mac(&self, seq: u64, ts: i64, d: &AuditDraft, prev: &str) -> String {
        let mac = self.entry_mac(seq, ts, d, prev);
        if let Ok(mut g) = self.last.lock() {
            match g.as_mut() {
                // The next entry of the same run.
                Some(run) if run.last.0 + 1 == seq && run.last.1 == prev => {
                    run.last = (seq, mac.clone());
                }
                // A new run (the first entry, or a backend's retry of its commit).
                _ => {
                    *g = Some(Issued {
                        chained_onto: (seq.saturating_sub(1), prev.to_owned()),
                        last: (seq, mac.clone()),
                    })
                }
            }
        }
        mac
    }

    fn entry_mac(&self, seq: u64, ts: i64, d: &AuditDraft, prev: &str) -> String {
        let seq_b = seq.to_be_bytes();
        let ts_b = ts.to_be_bytes();
        let uid = d.uid.as_deref().unwrap_or("");
        tresor_crypto::hash::hex(&self.prepared.parts(&[
            b"tresor audit v1",
            &seq_b,
            &ts_b,
            d.actor.as_bytes(),
            d.action.as_bytes(),
            uid.as_bytes(),
            d.detail.as_bytes(),
            prev.as_bytes(),
        ]))
    }

    /// Checks a chain; returns the seq of the first bad entry.
    pub fn verify(&self, entries: &[AuditEntry]) -> Result<usize, u64> {
        let mut prev = GENESIS.to_string();
        for (i, e) in entries.iter().enumerate() {
            let draft = AuditDraft {
                actor: e.actor.clone(),
                action: e.action.clone(),
                uid: e.uid.clone(),
                detail: e.detail.clone(),
            };
            let want = self.entry_mac(e.seq, e.ts, &draft, &prev);
            if e.seq != i as u64 + 1
                || !tresor_crypto::ct_eq(e.prev.as_bytes(), prev.as_bytes())
                || !tresor_crypto::ct_eq(e.mac.as_bytes(), want.as_bytes())
            {
                return Err(e.seq);
            }
            prev = e.mac.clone();
        }
        Ok(entries.len())
    }
}
