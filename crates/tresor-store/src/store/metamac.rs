//! The metadata MAC as the [`Store`] uses it: bringing a store written before metadata
//! MACs forward, and checking every object a read returns.

use crate::audit::{AuditDraft, AuditSigner};
use crate::mac::MetaKey;
use crate::model::ObjectMeta;
use crate::query::Query;
use crate::{Result, StoreError};

use super::Store;

/// The store setting present once every object carries a metadata MAC.
pub(super) const MAC_MARKER: &str = "metadata-mac";
/// The audit action of bringing a store written before metadata MACs forward.
pub(super) const MAC_MIGRATION: &str = "metadata-mac";

impl Store {
    /// Gives every object of a store written before metadata MACs its MAC, in one
    /// transaction, the first time the key is at hand; a no-op (one settings read) once the
    /// store's marker is set. Refused when the audit chain shows the store was already
    /// brought forward: then the marker was removed by someone editing the database, and
    /// MACing what they left would bless their edits.
    pub(super) fn bring_forward(&self, signer: &AuditSigner, mk: &MetaKey) -> Result<()> {
        if self.backend.meta_get(MAC_MARKER)?.is_some() {
            return Ok(());
        }
        let mut after = 0;
        loop {
            let page = self.backend.audit(after, 10_000)?;
            let Some(last) = page.last() else { break };
            if page.iter().any(|e| e.action == MAC_MIGRATION) {
                // Another process may have just brought it forward.
                if self.backend.meta_get(MAC_MARKER)?.is_some() {
                    return Ok(());
                }
                return Err(StoreError::Tampered {
                    uid: "(store)".into(),
                    detail: format!(
                        "its '{MAC_MARKER}' setting was removed after its objects were MACed"
                    ),
                });
            }
            after = last.seq;
        }
        let note = AuditDraft {
            actor: self.actor.clone(),
            action: MAC_MIGRATION.into(),
            uid: None,
            detail: "metadata MACs added to the objects written before them".into(),
        };
        self.backend
            .backfill_macs(&|m| mk.compute(m), MAC_MARKER, &note, signer)?;
        Ok(())
    }

    /// Checks an object found by `name`: its MAC, and that it carries the name (a forged
    /// name row pointing at another object is caught here).
    pub(super) fn check_named(mk: Option<&MetaKey>, m: &ObjectMeta, name: &str) -> Result<()> {
        check_remembered(mk, m)?;
        if !m.names.iter().any(|n| n == name) {
            return Err(tampered(
                &m.uid,
                format!("the name '{name}' leads to it, but it does not carry that name"),
            ));
        }
        Ok(())
    }

    /// Checks an object found by uid.
    pub(super) fn check_uid(mk: Option<&MetaKey>, m: &ObjectMeta, uid: &str) -> Result<()> {
        check_remembered(mk, m)?;
        if m.uid != uid {
            return Err(tampered(uid, format!("its row holds object '{}'", m.uid)));
        }
        Ok(())
    }

    /// Checks every object a query returned: its MAC, and that it really matches (a forged
    /// index row is caught here).
    pub(super) fn check_found(mk: Option<&MetaKey>, q: &Query, found: &[ObjectMeta]) -> Result<()> {
        for m in found {
            check(mk, m)?;
            if !q.matches(m) {
                return Err(tampered(
                    &m.uid,
                    "an index row lists it for a search it does not match".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Checks an object's metadata MAC (`mk` is `None` in a store without an audit key, where no
/// object can have been written by tresor).
fn check(mk: Option<&MetaKey>, m: &ObjectMeta) -> Result<()> {
    let Some(mk) = mk else {
        return Err(tampered(
            &m.uid,
            "the store has no audit key, so nothing in it can be checked".into(),
        ));
    };
    mk.verify(m).map_err(|d| tampered(&m.uid, d.to_owned()))
}

/// As [`check`], for one object read by uid or name: metadata verified before in exactly
/// this form is not MACed again ([`MetaKey::verify_remembered`]).
fn check_remembered(mk: Option<&MetaKey>, m: &ObjectMeta) -> Result<()> {
    let Some(mk) = mk else {
        return check(mk, m);
    };
    mk.verify_remembered(m)
        .map_err(|d| tampered(&m.uid, d.to_owned()))
}

pub(super) fn tampered(uid: &str, detail: String) -> StoreError {
    StoreError::Tampered {
        uid: uid.to_owned(),
        detail,
    }
}
