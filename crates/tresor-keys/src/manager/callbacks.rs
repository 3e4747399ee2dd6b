//! On-change callbacks: what a callback is told, running a change's callbacks under its
//! key's error strategy while marking each in the rotation journal, and resuming or
//! discarding the callbacks a crash or a halt left pending.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use tresor_store::{AttrCond, Query, StoreError};

use crate::definition::{ChangeReport, ErrorStrategy};
use crate::error::{BoxError, CallbackFailure, KeysError, Result};
use crate::journal::{A_JOURNAL, A_PENDING, CallbackStatus, JournalEntry, store_journal};
use crate::lifecycle::{CallbacksOutcome, run_callbacks};
use crate::state::{Entry, OBJECT_PREFIX, lk, rd};
use crate::value::KeyValue;

use super::KeyManager;

/// What an on-change callback is told.
pub struct KeyChange<'a> {
    /// The manager, to call back into (no lock is held while callbacks run).
    pub manager: &'a KeyManager,
    /// The key.
    pub name: &'a str,
    /// The version that was primary before, if any.
    pub old_version: Option<u32>,
    /// The new primary version (0 for a key that keeps no versions).
    pub new_version: u32,
    /// The value before, if known.
    pub old: Option<&'a KeyValue>,
    /// The new value.
    pub new: &'a KeyValue,
    /// True when this run resumes a rotation journaled before a crash or a halt.
    pub resumed: bool,
}

impl fmt::Debug for KeyChange<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyChange")
            .field("name", &self.name)
            .field("old_version", &self.old_version)
            .field("new_version", &self.new_version)
            .field("resumed", &self.resumed)
            .finish_non_exhaustive()
    }
}

/// An on-change callback (keys-management's `KeyChangedCallback`).
pub type OnChangeFn = Arc<dyn Fn(&KeyChange<'_>) -> Result<(), BoxError> + Send + Sync>;

fn panic_message(p: Box<dyn std::any::Any + Send>) -> BoxError {
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("callback panicked: {msg}").into()
}

impl KeyManager {
    /// Runs `names` (those still registered) for one change, marking each in the journal.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_callbacks(
        &self,
        e: &Arc<Entry>,
        jid: Option<&str>,
        from: Option<u32>,
        to: u32,
        old: Option<&KeyValue>,
        new: &KeyValue,
        names: &[String],
        resumed: bool,
    ) -> Result<ChangeReport> {
        let cbs: Vec<_> = {
            let map = rd(&self.callbacks);
            let list = map.get(&e.name);
            names
                .iter()
                .filter_map(|n| list.and_then(|l| l.iter().find(|(m, _)| m == n)).cloned())
                .collect()
        };
        // The strategy's decisions (which callback runs, when to stop, what to raise) are
        // tresor-keys' one `lifecycle::run_callbacks`; here each run is also marked in the
        // journal, and the errors are kept for the report.
        let mut errors: Vec<(String, BoxError)> = Vec::new();
        let mut journal_failed: Option<KeysError> = None;
        let names: Vec<String> = cbs.iter().map(|(n, _)| n.clone()).collect();
        let strategy = e.strategy();
        let run = run_callbacks(strategy, &names, |cb_name| {
            if journal_failed.is_some() {
                return Err(());
            }
            let Some((_, cb)) = cbs.iter().find(|(n, _)| n == cb_name) else {
                return Err(());
            };
            let change = KeyChange {
                manager: self,
                name: &e.name,
                old_version: from,
                new_version: to,
                old,
                new,
                resumed,
            };
            let res = catch_unwind(AssertUnwindSafe(|| cb(&change)))
                .unwrap_or_else(|p| Err(panic_message(p)));
            let (status, message) = match &res {
                Ok(()) => (CallbackStatus::Succeeded, None),
                Err(err) => (CallbackStatus::Failed, Some(err.to_string())),
            };
            if let Err(j) = self.journal_mark(e, jid, cb_name, status, message) {
                journal_failed = Some(j);
                return Err(());
            }
            res.map_err(|err| errors.push((cb_name.to_owned(), err)))
        });
        if let Some(j) = journal_failed {
            return Err(j);
        }
        let with = |wanted: CallbackStatus| -> Vec<String> {
            run.statuses
                .iter()
                .filter(|(_, s)| *s == wanted)
                .map(|(n, _)| n.clone())
                .collect()
        };
        match run.outcome {
            CallbacksOutcome::Raise(failed) => {
                if strategy == ErrorStrategy::RaiseImmediately {
                    let source = errors
                        .into_iter()
                        .find(|(n, _)| *n == failed)
                        .map_or_else(|| "callback failed".into(), |(_, err)| err);
                    return Err(KeysError::Callback {
                        key: e.name.clone(),
                        callback: failed,
                        source,
                    });
                }
                Err(KeysError::Callbacks {
                    key: e.name.clone(),
                    failures: errors
                        .into_iter()
                        .map(|(callback, error)| CallbackFailure { callback, error })
                        .collect(),
                })
            }
            outcome => Ok(ChangeReport {
                key: e.name.clone(),
                old_version: from,
                new_version: to,
                succeeded: with(CallbackStatus::Succeeded),
                failed: with(CallbackStatus::Failed),
                not_run: with(CallbackStatus::Pending),
                halted: matches!(outcome, CallbacksOutcome::Halted(_)),
            }),
        }
    }

    fn journal_mark(
        &self,
        e: &Entry,
        jid: Option<&str>,
        cb: &str,
        status: CallbackStatus,
        error: Option<String>,
    ) -> Result<()> {
        let Some(jid) = jid else { return Ok(()) };
        let _w = lk(&e.write);
        let Some(uid) = e.snap().uid.clone() else {
            return Ok(());
        };
        let meta = self.store.write(|tx| {
            tx.update(&uid, &format!("key callback '{cb}' {status:?}"), |m| {
                let mut j: Vec<JournalEntry> = m
                    .attributes
                    .get(A_JOURNAL)
                    .and_then(|j| serde_json::from_value(j.clone()).ok())
                    .unwrap_or_default();
                for entry in j.iter_mut().filter(|x| x.id == jid) {
                    for c in entry.callbacks.iter_mut().filter(|c| c.name == cb) {
                        c.status = status;
                        c.error = error.clone();
                    }
                }
                store_journal(&mut m.attributes, &j);
                Ok(())
            })
        })?;
        let mut s = (*e.snap()).clone();
        s.journal = meta
            .attributes
            .get(A_JOURNAL)
            .and_then(|j| serde_json::from_value(j.clone()).ok())
            .unwrap_or_default();
        e.set_snap(s);
        Ok(())
    }

    /// Rotations of `name` whose callbacks have not all succeeded.
    ///
    /// # Errors
    /// [`KeysError::Undefined`].
    pub fn pending(&self, name: &str) -> Result<Vec<JournalEntry>> {
        let e = self.entry(name)?;
        Ok(e.snap().journal.clone())
    }

    /// Re-runs every journaled callback that is pending or failed and is registered now, for
    /// every key with unfinished rotations in the store (call it after defining keys and
    /// registering callbacks, e.g. after a crash). One result per journal entry.
    ///
    /// # Errors
    /// On a store error while finding the journals.
    pub fn resume(&self) -> Result<Vec<Result<ChangeReport>>> {
        let q = Query {
            attrs: vec![AttrCond::Exists(A_PENDING.into())],
            ..Query::default()
        };
        let mut out = Vec::new();
        for meta in self.store.locate(&q)? {
            let Some(name) = meta.name().and_then(|n| n.strip_prefix(OBJECT_PREFIX)) else {
                continue;
            };
            let e = match self.entry(name) {
                Ok(e) => e,
                Err(err) => {
                    out.push(Err(err));
                    continue;
                }
            };
            self.reload(&e)?;
            for j in e.snap().journal.clone() {
                out.push(self.resume_entry(&e, &j));
            }
        }
        Ok(out)
    }

    fn resume_entry(&self, e: &Arc<Entry>, j: &JournalEntry) -> Result<ChangeReport> {
        let registered = self.callbacks(&e.name);
        let names: Vec<String> = j
            .callbacks
            .iter()
            .filter(|c| c.status != CallbackStatus::Succeeded && registered.contains(&c.name))
            .map(|c| c.name.clone())
            .collect();
        let new = self.version_material(e, j.to)?.value.clone();
        let old = match j.from {
            Some(f) => Some(self.version_material(e, f)?.value.clone()),
            None => None,
        };
        self.run_callbacks(
            e,
            Some(&j.id),
            j.from,
            j.to,
            old.as_ref(),
            &new,
            &names,
            true,
        )
    }

    /// Drops a key's unfinished journal entries without running them (an operator's
    /// decision: the data they would have re-encrypted is handled otherwise).
    ///
    /// # Errors
    /// [`KeysError::Undefined`], store errors.
    pub fn discard_pending(&self, name: &str) -> Result<usize> {
        let e = self.entry(name)?;
        let _w = lk(&e.write);
        let Some(uid) = e.snap().uid.clone() else {
            return Ok(0);
        };
        let n = self.store.write(|tx| {
            let mut n = 0;
            tx.update(&uid, "discard pending key callbacks", |m| {
                n = m
                    .attributes
                    .get(A_JOURNAL)
                    .and_then(|j| j.as_array())
                    .map_or(0, Vec::len);
                m.attributes.remove(A_JOURNAL);
                m.attributes.remove(A_PENDING);
                Ok::<(), StoreError>(())
            })?;
            Ok(n)
        })?;
        drop(_w);
        self.reload(&e)?;
        Ok(n)
    }
}
