//! keys-management's per-key lifecycle as a store-less state machine: which flow a get
//! without a flow takes, which value each flow gives, what a get leaves behind, what a
//! stated key saves and restores, and how on-change callbacks run under an
//! [`ErrorStrategy`].
//!
//! [`KeyManager`](crate::KeyManager) keeps versions in a tresor store; keys-management's
//! users instead bring their own state repository, crypto tool and keys store (a function
//! of no arguments). This module is the part of keys-management that decides, with the
//! outside world behind the [`LifecycleIo`] trait, so that a binding (tresor's Python
//! drop-in `keys_management`) keeps the decisions and the key material here and only calls
//! back into the user's objects. Values are generic (`V`): the Python binding keeps
//! `str` and `bytes` apart, zeroized on drop.
//!
//! # Examples
//! ```
//! use tresor_keys::lifecycle::{KeyLifecycle, KeyPair, LifecycleIo, SavedState};
//! use tresor_keys::{Flow, Purpose};
//!
//! struct Store(u32);
//! impl LifecycleIo<String> for Store {
//!     type Error = std::convert::Infallible;
//!     fn read_pair(&mut self) -> Result<KeyPair<String>, Self::Error> {
//!         self.0 += 1;
//!         Ok(KeyPair::symmetric(format!("key_{}", self.0)))
//!     }
//!     fn read_one(&mut self) -> Result<String, Self::Error> { Ok("one".into()) }
//!     fn fetch_state(&mut self) -> Result<Option<SavedState<String>>, Self::Error> { Ok(None) }
//! }
//!
//! let mut k = KeyLifecycle::new(Purpose::RoundTrip, true, true);
//! let mut io = Store(0);
//! assert_eq!(k.get(None, &mut io).unwrap(), (Flow::Forward, "key_1".to_string()));
//! // The store moved on, the back path still gives the key the data was encrypted with.
//! io.0 = 5;
//! assert_eq!(k.get(None, &mut io).unwrap(), (Flow::Back, "key_1".to_string()));
//! assert_eq!(k.get(None, &mut io).unwrap(), (Flow::Forward, "key_6".to_string()));
//! ```

use std::fmt;

use crate::definition::{ErrorStrategy, Flow, Purpose};
use crate::journal::CallbackStatus;

/// A forward path (encrypt) and back path (decrypt) value; one value means both.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair<V> {
    /// The forward path (encryption) value.
    pub forward: V,
    /// The back path (decryption) value.
    pub back: V,
}

impl<V: Clone> KeyPair<V> {
    /// The same value for both paths.
    pub fn symmetric(v: V) -> Self {
        KeyPair {
            forward: v.clone(),
            back: v,
        }
    }
}

impl<V> fmt::Debug for KeyPair<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyPair(<redacted>)")
    }
}

/// What a stated key writes to its state repository and reads back: its last flow and,
/// after a forward get, the back path value the data was encrypted for.
#[derive(Clone, PartialEq, Eq)]
pub struct SavedState<V> {
    /// The last flow (None: never used).
    pub flow: Option<Flow>,
    /// The keys to restore (a saved back path value is restored as a symmetric pair).
    pub keys: Option<KeyPair<V>>,
}

impl<V> fmt::Debug for SavedState<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SavedState")
            .field("flow", &self.flow)
            .field("keys", &self.keys.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The outside world of one key: its keys store and its saved state.
pub trait LifecycleIo<V> {
    /// The error the outside world fails with (returned unchanged).
    type Error;
    /// Calls the keys store of a round-trip key: a value or a (forward, back) pair.
    fn read_pair(&mut self) -> Result<KeyPair<V>, Self::Error>;
    /// Calls the keys store of a one-way key: its only value.
    fn read_one(&mut self) -> Result<V, Self::Error>;
    /// Reads (and decrypts) the key's saved state; `None` when nothing was saved yet.
    fn fetch_state(&mut self) -> Result<Option<SavedState<V>>, Self::Error>;
}

/// Why a get was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum LifecycleError<E> {
    /// A round-trip key was asked for [`Flow::Default`].
    RoundTripNeedsPath,
    /// A one-way key was asked for a forward or back path (keys-management built this
    /// error and forgot to raise it).
    OneWayNeedsDefault,
    /// The keys store or the state repository failed.
    Io(E),
}

impl<E: fmt::Display> fmt::Display for LifecycleError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LifecycleError::RoundTripNeedsPath => {
                f.write_str("a round-trip key has forward and back path flows, not default")
            }
            LifecycleError::OneWayNeedsDefault => {
                f.write_str("a one-way key has only the default flow")
            }
            LifecycleError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for LifecycleError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LifecycleError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// One key's definition flags and state: last flow, current and previous keys.
///
/// Semantics (keys-management 0.1.5's, minus its bugs):
/// - a get without a flow: a one-way key takes [`Flow::Default`]; a round-trip key takes
///   [`Flow::Back`] after a forward get and [`Flow::Forward`] otherwise (a stated key that
///   was never used first restores its saved state);
/// - forward reads the keys store (the keys it held become the previous keys); back gives
///   the previous keys if any, else the current ones (reading the store, or the saved state
///   of a stated key, when it holds none);
/// - after a get the current keys become the previous ones; a default get, and a back get
///   without `keep_in_cache`, forget them.
pub struct KeyLifecycle<V> {
    purpose: Purpose,
    stateless: bool,
    keep_in_cache: bool,
    last_flow: Option<Flow>,
    current: Option<KeyPair<V>>,
    previous: Option<KeyPair<V>>,
}

impl<V> fmt::Debug for KeyLifecycle<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLifecycle")
            .field("purpose", &self.purpose)
            .field("stateless", &self.stateless)
            .field("keep_in_cache", &self.keep_in_cache)
            .field("last_flow", &self.last_flow)
            .field(
                "has_keys",
                &(self.current.is_some() || self.previous.is_some()),
            )
            .finish()
    }
}

impl<V: Clone> KeyLifecycle<V> {
    /// A key with no state yet.
    pub fn new(purpose: Purpose, stateless: bool, keep_in_cache: bool) -> Self {
        KeyLifecycle {
            purpose,
            stateless,
            keep_in_cache,
            last_flow: None,
            current: None,
            previous: None,
        }
    }

    /// One-way or round-trip.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// True for a stated key (its state is saved and restored).
    pub fn is_stated(&self) -> bool {
        !self.stateless
    }

    /// True when back path keys are kept after a back get.
    pub fn keep_in_cache(&self) -> bool {
        self.keep_in_cache
    }

    /// The flow of the last get.
    pub fn last_flow(&self) -> Option<Flow> {
        self.last_flow
    }

    /// Sets the last flow (an on-change callback may).
    pub fn set_last_flow(&mut self, f: Option<Flow>) {
        self.last_flow = f;
    }

    /// The keys read by the last forward get (None once a get completed).
    pub fn current(&self) -> Option<&KeyPair<V>> {
        self.current.as_ref()
    }

    /// The keys before the current ones.
    pub fn previous(&self) -> Option<&KeyPair<V>> {
        self.previous.as_ref()
    }

    /// Sets the current keys (keys-management's `set_previous_keys`, which does this).
    pub fn set_current(&mut self, k: Option<KeyPair<V>>) {
        self.current = k;
    }

    /// Any keys held.
    pub fn has_keys(&self) -> bool {
        self.current.is_some() || self.previous.is_some()
    }

    /// The keys a back get gives now: the previous ones, else the current ones.
    pub fn back_path_keys(&self) -> Option<&KeyPair<V>> {
        self.previous.as_ref().or(self.current.as_ref())
    }

    /// Current keys become previous (kept when there are none).
    pub fn clean_keys(&mut self) {
        if let Some(c) = self.current.take() {
            self.previous = Some(c);
        }
    }

    /// Forgets the previous keys.
    pub fn clean_previous_keys(&mut self) {
        self.previous = None;
    }

    /// Forgets all keys.
    pub fn clean_state(&mut self) {
        self.clean_keys();
        self.clean_previous_keys();
    }

    /// Reads the keys store: the current keys become the previous ones.
    pub fn set_keys_from_store<I: LifecycleIo<V>>(&mut self, io: &mut I) -> Result<(), I::Error> {
        let fresh = io.read_pair()?;
        self.previous = self.current.take();
        self.current = Some(fresh);
        Ok(())
    }

    /// Restores a saved state (a stated key's first use in this process).
    pub fn restore<I: LifecycleIo<V>>(&mut self, io: &mut I) -> Result<(), I::Error> {
        if let Some(s) = io.fetch_state()? {
            if s.flow.is_some() {
                self.last_flow = s.flow;
            }
            if s.keys.is_some() {
                self.current = s.keys;
            }
        }
        Ok(())
    }

    /// The flow a get without a flow takes.
    pub fn next_flow<I: LifecycleIo<V>>(&mut self, io: &mut I) -> Result<Flow, I::Error> {
        if self.purpose == Purpose::OneWay {
            return Ok(Flow::Default);
        }
        if self.last_flow.is_none() && self.is_stated() {
            self.restore(io)?;
        }
        Ok(if self.last_flow == Some(Flow::Forward) {
            Flow::Back
        } else {
            Flow::Forward
        })
    }

    /// The value for `flow` (the next one when None) and the flow taken; updates the state.
    pub fn get<I: LifecycleIo<V>>(
        &mut self,
        flow: Option<Flow>,
        io: &mut I,
    ) -> Result<(Flow, V), LifecycleError<I::Error>> {
        let flow = match flow {
            Some(f) => f,
            None => self.next_flow(io).map_err(LifecycleError::Io)?,
        };
        let value = self.value_for(flow, io)?;
        self.after_get(flow);
        Ok((flow, value))
    }

    fn value_for<I: LifecycleIo<V>>(
        &mut self,
        flow: Flow,
        io: &mut I,
    ) -> Result<V, LifecycleError<I::Error>> {
        match (self.purpose, flow) {
            (Purpose::RoundTrip, Flow::Forward) => {
                let fresh = io.read_pair().map_err(LifecycleError::Io)?;
                let value = fresh.forward.clone();
                self.previous = self.current.replace(fresh);
                Ok(value)
            }
            (Purpose::RoundTrip, Flow::Back) => {
                if !self.has_keys() && self.last_flow.is_none() && self.is_stated() {
                    self.restore(io).map_err(LifecycleError::Io)?;
                }
                if let Some(k) = self.back_path_keys() {
                    return Ok(k.back.clone());
                }
                let fresh = io.read_pair().map_err(LifecycleError::Io)?;
                let value = fresh.back.clone();
                self.previous = self.current.replace(fresh);
                Ok(value)
            }
            (Purpose::RoundTrip, Flow::Default) => Err(LifecycleError::RoundTripNeedsPath),
            (Purpose::OneWay, Flow::Default) => io.read_one().map_err(LifecycleError::Io),
            (Purpose::OneWay, _) => Err(LifecycleError::OneWayNeedsDefault),
        }
    }

    fn after_get(&mut self, flow: Flow) {
        self.clean_keys();
        self.last_flow = Some(flow);
        if flow == Flow::Default || (flow == Flow::Back && !self.keep_in_cache) {
            self.clean_previous_keys();
        }
    }

    /// What `save_state` writes: the last flow and, after a forward get, the back path value
    /// (read from the keys store when none is held). Does not change the state.
    pub fn state_to_save<I: LifecycleIo<V>>(
        &self,
        io: &mut I,
    ) -> Result<(Option<Flow>, Option<V>), I::Error> {
        let key = if self.last_flow == Some(Flow::Forward) {
            Some(match self.back_path_keys() {
                Some(k) => k.back.clone(),
                None => io.read_pair()?.back,
            })
        } else {
            None
        };
        Ok((self.last_flow, key))
    }
}

/// How a run of on-change callbacks ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallbacksOutcome {
    /// Every callback ran (failures, if any, were skipped).
    Completed,
    /// [`ErrorStrategy::Halt`]: the named callback failed and the run stopped, without an
    /// error.
    Halted(String),
    /// The caller must fail, with the named callback's error as the cause
    /// ([`ErrorStrategy::RaiseImmediately`]: the failing one, the rest not run;
    /// [`ErrorStrategy::SkipAndRaise`]: the first failure, after every callback ran).
    Raise(String),
}

/// One run of on-change callbacks: each callback's status and how the run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbacksRun {
    /// Each callback, in registration order, with its status (not run: `Pending`).
    pub statuses: Vec<(String, CallbackStatus)>,
    /// How the run ended.
    pub outcome: CallbacksOutcome,
}

impl CallbacksRun {
    /// The callbacks that failed, in run order.
    pub fn failed(&self) -> impl Iterator<Item = &str> {
        self.statuses
            .iter()
            .filter(|(_, s)| *s == CallbackStatus::Failed)
            .map(|(n, _)| n.as_str())
    }
}

/// Runs `names` in order through `run` under `strategy` (keys-management's
/// `KeyChangedContext.run_callbacks`). `run` reports a callback's failure as `Err`; what the
/// error is stays with the caller.
pub fn run_callbacks<E>(
    strategy: ErrorStrategy,
    names: &[String],
    mut run: impl FnMut(&str) -> Result<(), E>,
) -> CallbacksRun {
    let mut statuses: Vec<(String, CallbackStatus)> = names
        .iter()
        .map(|n| (n.clone(), CallbackStatus::Pending))
        .collect();
    let mut first_failure: Option<String> = None;
    for i in 0..statuses.len() {
        let name = statuses[i].0.clone();
        match run(&name) {
            Ok(()) => statuses[i].1 = CallbackStatus::Succeeded,
            Err(_) => {
                statuses[i].1 = CallbackStatus::Failed;
                match strategy {
                    ErrorStrategy::Halt => {
                        return CallbacksRun {
                            statuses,
                            outcome: CallbacksOutcome::Halted(name),
                        };
                    }
                    ErrorStrategy::RaiseImmediately => {
                        return CallbacksRun {
                            statuses,
                            outcome: CallbacksOutcome::Raise(name),
                        };
                    }
                    ErrorStrategy::Skip => {}
                    ErrorStrategy::SkipAndRaise => {
                        first_failure.get_or_insert(name);
                    }
                }
            }
        }
    }
    let outcome = match first_failure {
        Some(n) => CallbacksOutcome::Raise(n),
        None => CallbacksOutcome::Completed,
    };
    CallbacksRun { statuses, outcome }
}

#[cfg(test)]
#[path = "lifecycle_test.rs"]
mod tests;
