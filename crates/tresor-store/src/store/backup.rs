//! Dump and restore of a whole [`Store`], with the checks a restore makes first: the
//! dump's audit key, its audit chain and every object's metadata MAC.

use std::sync::Arc;

use tresor_crypto::envelope::{self, Sealed};

use crate::audit::AuditSigner;
use crate::head::AuditHead;
use crate::mac::MetaKey;
use crate::{Result, StoreError};

use super::metamac::{MAC_MARKER, MAC_MIGRATION, tampered};
use super::{AUDIT_KEY, AUDIT_KEY_AAD, Store};

impl Store {
    /// Every row of the store (material stays sealed), for backup and migration. The audit
    /// key is checked (created for a new store) first, so every dump carries one.
    ///
    /// # Errors
    /// On a backend error; [`StoreError::Crypto`] if the key provider is wrong.
    pub fn dump(&self) -> Result<crate::Dump> {
        self.check_key()?;
        self.backend.dump()
    }

    /// Replaces the whole store with `dump`, atomically, after checking that this store's key
    /// opens the dump's audit key, that its audit chain verifies and that every object's
    /// metadata MAC verifies. A dump made by a tresor before metadata MACs (no MACs, no
    /// marker) gets its MACs computed here, as opening such a store would.
    ///
    /// # Errors
    /// [`StoreError::Crypto`] if the dump was made under another key, [`StoreError::Invalid`]
    /// if its audit chain is broken, [`StoreError::Tampered`] if an object's MAC does not
    /// match (or is missing from a dump that had them).
    pub fn restore(&self, dump: &crate::Dump) -> Result<()> {
        let sealed = dump
            .meta
            .iter()
            .find(|(k, _)| k == AUDIT_KEY)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| StoreError::Decode("the dump has no audit key".into()))?;
        let key = envelope::open(
            self.provider.as_ref(),
            AUDIT_KEY_AAD,
            &Sealed::from_bytes(&sealed)?,
        )?;
        let mk = Arc::new(MetaKey::derive(key.expose())?);
        let signer = Arc::new(AuditSigner::new(key));
        if let Err(seq) = signer.verify(&dump.audit) {
            return Err(StoreError::Invalid {
                uid: String::new(),
                why: format!("the dump's audit chain breaks at entry {seq}"),
            });
        }
        let dump = &macs_for_restore(dump, &mk)?;
        // Whatever happens below, forget the audit key this store had: the next write
        // re-reads it (the dump's, once replaced).
        if let Ok(mut g) = self.signer.lock() {
            *g = None;
        }
        if let Ok(mut g) = self.meta_key.lock() {
            *g = None;
        }
        self.backend.replace_all(dump)?;
        if let Ok(mut g) = self.meta_key.lock() {
            *g = Some(mk);
        }
        // A deliberate restore: the head follows the restored chain.
        let head = dump
            .audit
            .last()
            .map(|e| AuditHead::new(&signer, e.seq, &e.mac));
        if let Ok(mut g) = self.signer.lock() {
            *g = Some(signer);
        }
        self.reset_head(head)
    }
}

/// The dump to write on restore: every MAC checked; a dump from before metadata MACs gets
/// them (and the marker saying so).
fn macs_for_restore<'d>(
    dump: &'d crate::Dump,
    mk: &MetaKey,
) -> Result<std::borrow::Cow<'d, crate::Dump>> {
    let marked = dump.meta.iter().any(|(k, _)| k == MAC_MARKER);
    if !marked
        && (dump.audit.iter().any(|e| e.action == MAC_MIGRATION)
            || dump.objects.iter().any(|o| o.mac.is_some()))
    {
        return Err(tampered(
            "(dump)",
            format!("its '{MAC_MARKER}' setting was removed after its objects were MACed"),
        ));
    }
    for o in &dump.objects {
        if o.mac.is_some() || marked {
            mk.verify(o).map_err(|d| tampered(&o.uid, d.to_owned()))?;
        }
    }
    if marked {
        return Ok(std::borrow::Cow::Borrowed(dump));
    }
    let mut d = dump.clone();
    for o in &mut d.objects {
        if o.mac.is_none() {
            o.mac = Some(mk.compute(o));
        }
    }
    d.meta.push((MAC_MARKER.to_owned(), b"1".to_vec()));
    Ok(std::borrow::Cow::Owned(d))
}
