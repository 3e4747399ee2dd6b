//! The rotation journal: which callbacks of which rotation are still to run, kept in the key's
//! store object so a crash never loses track of them.

use serde_json::json;
use tresor_store::Attributes;

use crate::error::Result;

pub(crate) const A_JOURNAL: &str = "x-rotation-journal";
pub(crate) const A_PENDING: &str = "x-pending-callbacks";

/// Where one callback of one rotation stands (keys-management's `CallbackStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallbackStatus {
    /// Not run yet (or interrupted).
    Pending,
    /// Ran and succeeded.
    Succeeded,
    /// Ran and failed; run again by [`KeyManager::resume`](crate::KeyManager::resume).
    Failed,
}

/// One callback's line in a journal entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JournalCallback {
    /// The callback's registered name.
    pub name: String,
    /// Where it stands.
    pub status: CallbackStatus,
    /// The last error message, if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One rotation whose callbacks have not all succeeded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JournalEntry {
    /// Random id.
    pub id: String,
    /// The primary version before.
    pub from: Option<u32>,
    /// The new primary version.
    pub to: u32,
    /// When the rotation was recorded (Unix seconds).
    pub created: i64,
    /// The callbacks registered at that time.
    pub callbacks: Vec<JournalCallback>,
}

impl JournalEntry {
    pub(crate) fn new(id: String, from: Option<u32>, to: u32, names: &[String]) -> Self {
        JournalEntry {
            id,
            from,
            to,
            created: tresor_store::now(),
            callbacks: names
                .iter()
                .map(|n| JournalCallback {
                    name: n.clone(),
                    status: CallbackStatus::Pending,
                    error: None,
                })
                .collect(),
        }
    }

    /// Returns true if and only if every callback succeeded.
    pub fn is_done(&self) -> bool {
        self.callbacks
            .iter()
            .all(|c| c.status == CallbackStatus::Succeeded)
    }
}

pub(crate) fn new_id() -> Result<String> {
    let mut b = [0u8; 8];
    tresor_crypto::random_fill(&mut b)?;
    Ok(tresor_crypto::hash::hex(&b))
}

/// Writes the journal attributes (removing them when nothing is pending).
pub(crate) fn store_journal(attrs: &mut Attributes, j: &[JournalEntry]) {
    let open: Vec<&JournalEntry> = j.iter().filter(|e| !e.is_done()).collect();
    if open.is_empty() {
        attrs.remove(A_JOURNAL);
        attrs.remove(A_PENDING);
    } else {
        attrs.insert(
            A_JOURNAL.into(),
            serde_json::to_value(&open).unwrap_or_default(),
        );
        let n: usize = open
            .iter()
            .map(|e| {
                e.callbacks
                    .iter()
                    .filter(|c| c.status != CallbackStatus::Succeeded)
                    .count()
            })
            .sum();
        attrs.insert(A_PENDING.into(), json!(n));
    }
}
