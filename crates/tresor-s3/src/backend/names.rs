//! Name claims: `names/<app>/<env>/<KEY>` holds the uid owning a name; claiming, releasing
//! and resolving names, with the in-memory name cache.

use object_store::PutMode;
use tresor_store::StoreError;

use super::record::Record;
use super::requests::{PutOutcome, decode_err};
use super::{S3Backend, SResult};
use crate::keys;

impl S3Backend {
    /// The record holding `name`, through the name cache or `names/`.
    pub(super) fn record_by_name(&self, name: &str) -> SResult<Option<Record>> {
        let cached = self.names.lock().ok().and_then(|m| m.get(name).cloned());
        if let Some(uid) = cached {
            if let Some(rec) = self.load(&uid)?.rec
                && rec.meta.names.iter().any(|n| n == name)
            {
                return Ok(Some(rec));
            }
            if let Ok(mut m) = self.names.lock() {
                m.remove(name);
            }
        }
        let Some((body, _)) = self.get_raw(&self.name_path(name))? else {
            return Ok(None);
        };
        if body.is_empty() {
            return Ok(None);
        }
        let uid = String::from_utf8(body.to_vec())
            .map_err(|_| decode_err(&self.name_path(name), "uid is not UTF-8"))?;
        match self.load(&uid)?.rec {
            Some(rec) if rec.meta.names.iter().any(|n| n == name) => {
                if let Ok(mut m) = self.names.lock() {
                    m.insert(name.to_owned(), uid);
                }
                Ok(Some(rec))
            }
            _ => Ok(None),
        }
    }

    /// Claims `name` for `uid`; `Ok(Some(etag))` on success, `Err(NameTaken)` if another live
    /// object holds it.
    pub(super) fn claim_name(&self, name: &str, uid: &str) -> SResult<Option<String>> {
        let p = self.name_path(name);
        for _ in 0..16 {
            match self.put_raw(&p, uid.as_bytes().to_vec(), PutMode::Create)? {
                PutOutcome::Done(e) => return Ok(e),
                PutOutcome::Lost => {}
            }
            let Some((body, etag)) = self.get_raw(&p)? else {
                continue;
            };
            if body.as_ref() == uid.as_bytes() {
                return Ok(etag);
            }
            if !body.is_empty() {
                let holder = String::from_utf8_lossy(&body).into_owned();
                if self
                    .load(&holder)?
                    .rec
                    .is_some_and(|r| r.meta.names.iter().any(|n| n == name))
                {
                    return Err(StoreError::NameTaken(name.to_owned()));
                }
            }
            // A tombstone or a stale claim: take it over if nobody beats us to it.
            match self.put_raw(&p, uid.as_bytes().to_vec(), Self::update_mode(&etag))? {
                PutOutcome::Done(e) => return Ok(e),
                PutOutcome::Lost => continue,
            }
        }
        Err(StoreError::Conflict(name.to_owned()))
    }

    /// Frees `name` if it still points at `uid` (a conditional tombstone).
    pub(super) fn release_name(&self, name: &str, uid: &str) -> SResult<()> {
        let p = self.name_path(name);
        for _ in 0..4 {
            let Some((body, etag)) = self.get_raw(&p)? else {
                return Ok(());
            };
            if body.as_ref() != uid.as_bytes() {
                return Ok(());
            }
            if let PutOutcome::Done(_) = self.put_raw(&p, Vec::new(), Self::update_mode(&etag))? {
                if let Ok(mut m) = self.names.lock() {
                    m.remove(name);
                }
                return Ok(());
            }
        }
        Ok(())
    }

    pub(super) fn release_all(&self, names: &[String], uid: &str) {
        for n in names {
            let _ = self.release_name(n, uid);
        }
    }

    /// Names under a name prefix (`app:` or `app:dev:`), from key listings only (no bodies read).
    ///
    /// # Errors
    /// On an S3 error.
    pub fn list_names(&self, prefix: &str) -> SResult<Vec<String>> {
        // List the deepest whole-component folder, then filter on the rest.
        let (folder, _) = prefix.rsplit_once(':').unwrap_or(("", prefix));
        let rel = if folder.is_empty() && !prefix.contains(':') {
            "names".to_owned()
        } else {
            format!("names/{}", keys::encode_name(folder))
        };
        let base = format!("{}/", self.path("names").as_ref());
        let mut out: Vec<String> = self
            .list(&rel)?
            .into_iter()
            .filter(|(_, size)| *size > 0)
            .filter_map(|(p, _)| keys::decode_name(p.as_ref().strip_prefix(&base)?))
            .filter(|n| n.starts_with(prefix))
            .collect();
        out.sort();
        Ok(out)
    }
}
