//! The audit chain as the [`Store`] keeps it: the audit head recorded outside the
//! database, moved forward by each commit, and the verification of the whole chain.

use std::sync::atomic::Ordering;

use crate::Result;
#[cfg(doc)]
use crate::StoreError;
use crate::audit::{AuditEntry, AuditSigner};
use crate::head::AuditHead;

use super::Store;

/// Result of [`Store::verify_audit`].
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: u64,
    /// The first entry whose MAC or position is wrong, if any.
    pub first_bad: Option<u64>,
    /// The seq the audit head kept outside the database names, if a head was checked.
    pub head: Option<u64>,
    /// `(head seq, last seq in the chain)` when the head names an entry past the end of the
    /// chain: entries were deleted or an older database was restored.
    pub missing_tail: Option<(u64, u64)>,
    /// The head names an entry the chain has with another MAC: the chain was replaced (an
    /// older database restored, then written to).
    pub head_mismatch: Option<u64>,
    /// The head is malformed or its MAC does not verify under this store's audit key.
    pub head_tampered: bool,
}

impl AuditReport {
    /// Returns true if and only if the chain verifies and agrees with the head (if any).
    pub fn is_ok(&self) -> bool {
        self.first_bad.is_none()
            && self.missing_tail.is_none()
            && self.head_mismatch.is_none()
            && !self.head_tampered
    }
}

impl Store {
    /// Moves the recorded head to `new` if it is ahead of the recorded one and the recorded
    /// one still names an entry of the chain. A recorded head that is forged, or that the
    /// chain no longer reaches, is left as it is: it is the evidence `verify_audit` reports.
    ///
    /// `chained_onto`: the seq and MAC of the entry this commit's entries were chained onto.
    /// When it is the recorded head's entry, the chain reaches that head without a read (the
    /// commit just linked to it); otherwise the entry is read back.
    pub(super) fn advance_head(
        &self,
        signer: &AuditSigner,
        new: &AuditHead,
        chained_onto: &(u64, String),
    ) -> Result<()> {
        let Some(sink) = &self.head else {
            return Ok(());
        };
        if self.last_head_seq.load(Ordering::Acquire) >= new.seq {
            // This process already recorded a newer head (another writer of the same group).
            return Ok(());
        }
        let _one_writer = self.head_writer.lock().unwrap_or_else(|p| p.into_inner());
        if self.last_head_seq.load(Ordering::Acquire) >= new.seq {
            // Recorded while this writer waited for the one before it.
            return Ok(());
        }
        let new_bytes = new.to_bytes();
        let mut written = false;
        sink.update(&mut |cur| {
            let Some(bytes) = cur else {
                written = true;
                return Ok(Some(new_bytes.clone()));
            };
            let Ok(old) = AuditHead::from_bytes(bytes) else {
                return Ok(None);
            };
            let ours = self.last_head.lock().is_ok_and(|l| {
                l.as_deref()
                    .is_some_and(|l| tresor_crypto::ct_eq(l, crate::head::recorded(bytes)))
            });
            if old.seq >= new.seq || !(ours || old.is_authentic(signer)) {
                return Ok(None);
            }
            // Whether (seq, mac) names the recorded head's entry.
            let names_old = |seq: u64, mac: &str| {
                seq == old.seq && tresor_crypto::ct_eq(mac.as_bytes(), old.entry.as_bytes())
            };
            let reached = names_old(chained_onto.0, &chained_onto.1) || {
                let at = self.backend.audit(old.seq.saturating_sub(1), 1)?;
                at.first().is_some_and(|e| names_old(e.seq, &e.mac))
            };
            written = reached;
            Ok(reached.then(|| new_bytes.clone()))
        })?;
        if written && let Ok(mut l) = self.last_head.lock() {
            // In the form the sink gives back, so the next commit's comparison can match.
            *l = Some(crate::head::recorded(&new_bytes).to_vec());
            self.last_head_seq.fetch_max(new.seq, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Records `head` (or removes the need for one: `None` for an empty chain) whatever was
    /// recorded before: after a deliberate [`Store::restore`].
    pub(super) fn reset_head(&self, head: Option<AuditHead>) -> Result<()> {
        let Some(sink) = &self.head else {
            return Ok(());
        };
        let _one_writer = self.head_writer.lock().unwrap_or_else(|p| p.into_inner());
        self.last_head_seq.store(0, Ordering::Release);
        let Some(head) = head else {
            return Ok(());
        };
        sink.update(&mut |_| Ok(Some(head.to_bytes())))
    }

    /// Audit entries with `seq > after`, at most `limit`.
    ///
    /// # Errors
    /// On a backend error.
    pub fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        self.backend.audit(after, limit)
    }

    /// Checks the whole audit chain, and that it reaches the audit head kept outside the
    /// database ([`Store::with_audit_head`]) if there is one.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Crypto`] if the key provider is wrong.
    pub fn verify_audit(&self) -> Result<AuditReport> {
        let head = match &self.head {
            Some(sink) => sink.read()?,
            None => None,
        };
        self.verify_audit_with(head.as_deref())
    }

    /// As [`Store::verify_audit`], checking the chain against `head` instead: the bytes of a
    /// head file, or a server's JSON-lines audit stream (its last head counts). `None`
    /// checks the chain alone. Bytes holding no head are reported as a tampered head.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Crypto`] if the key provider is wrong.
    pub fn verify_audit_with(&self, head: Option<&[u8]>) -> Result<AuditReport> {
        let signer = self.signer()?;
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self.backend.audit(after, 10_000)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            all.extend(page);
        }
        let mut report = AuditReport {
            entries: all.len() as u64,
            first_bad: signer.verify(&all).err(),
            ..AuditReport::default()
        };
        if let Some(bytes) = head {
            match AuditHead::find_last(bytes).filter(|h| h.is_authentic(&signer)) {
                None => report.head_tampered = true,
                Some(h) => {
                    report.head = Some(h.seq);
                    let end = all.last().map_or(0, |e| e.seq);
                    match usize::try_from(h.seq)
                        .ok()
                        .and_then(|i| all.get(i.wrapping_sub(1)))
                    {
                        _ if h.seq > end => report.missing_tail = Some((h.seq, end)),
                        Some(e)
                            if e.seq == h.seq
                                && tresor_crypto::ct_eq(e.mac.as_bytes(), h.entry.as_bytes()) => {}
                        _ => report.head_mismatch = Some(h.seq),
                    }
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::Store;
    use crate::head::{FileHead, HeadSink};
    use crate::model::{NewObject, ObjectType};

    /// After a commit the store remembers its head in the form the sink gives back, so the
    /// next commit recognises its own head without re-checking its MAC. Until session 11 it
    /// remembered `AuditHead::to_bytes` with its newline, which never equalled the trimmed
    /// read: every commit paid the MAC check (~10,000 instructions per KMIP Create).
    #[test]
    fn a_store_recognises_the_head_it_wrote_last() {
        let dir = tempfile::tempdir().unwrap();
        let sink = Arc::new(FileHead::new(dir.path().join("audit.head")));
        let kek = Arc::new(tresor_crypto::LocalKek::generate().unwrap());
        let store = Store::open_sqlite(&dir.path().join("t.db"), kek, "alice")
            .unwrap()
            .with_audit_head(sink.clone());
        for i in 0..2 {
            let mut new = NewObject::new(ObjectType::SecretData);
            new.names.push(format!("app:dev:K{i}"));
            new.material = Some(b"v".to_vec());
            store.create(new).unwrap();
            let remembered = store.last_head.lock().unwrap().clone();
            assert!(remembered.is_some(), "commit {i} left no remembered head");
            assert_eq!(remembered, sink.read().unwrap(), "commit {i}");
        }
    }
}
