//! Key definitions, purposes, flows, error strategies, and what a key change did.

use crate::source::KeySource;

/// What a key is used for (keys-management's `SecretKeyUseCase`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// A single flow (authentication, signing, a token): the source is read on every get.
    OneWay,
    /// Two flows: encrypt (forward path) and decrypt (back path).
    RoundTrip,
}

/// Which path a key was last fetched for (keys-management's `SecretKeyFlow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    /// The only flow of a one-way key.
    Default,
    /// Encryption.
    Forward,
    /// Decryption.
    Back,
}

/// What to do when an on-change callback fails (keys-management's
/// `OnKeyChangedCallbackErrorStrategy`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorStrategy {
    /// Stop running callbacks and return without an error (keys-management's default). The
    /// callbacks not run stay pending in the rotation journal.
    #[default]
    Halt,
    /// Go on with the next callback; the failure is only reported in the
    /// [`ChangeReport`] and kept in the journal.
    Skip,
    /// Run every callback, then fail with [`crate::KeysError::Callbacks`] listing each failure.
    SkipAndRaise,
    /// Stop at the first failure with [`crate::KeysError::Callback`], whose source is the
    /// callback's error.
    RaiseImmediately,
}

/// How a named key is read, used and kept.
///
/// # Examples
/// ```
/// use tresor_keys::{KeyDefinition, KeySource, KeyValue, Purpose};
/// let def = KeyDefinition::new("orders", KeySource::from_fn(|| Ok(KeyValue::symmetric("k1"))))
///     .purpose(Purpose::RoundTrip)
///     .stateless(false);
/// assert!(def.keep_in_cache);
/// ```
#[derive(Clone, Debug)]
pub struct KeyDefinition {
    /// The key's name (`A-Z a-z 0-9 _ . -`, at most 128 bytes).
    pub name: String,
    /// Where its value comes from.
    pub source: KeySource,
    /// One-way or round-trip.
    pub purpose: Purpose,
    /// When false ("stated"), every version, the last flow and the rotation journal are kept
    /// in the store (sealed by the store's key provider), so a fresh manager restores them.
    /// When true, versions live only in memory (and only with `keep_in_cache`).
    pub stateless: bool,
    /// Keep key material in memory. Without it a stateless key keeps nothing (every get reads
    /// the source, as keys-management does) and a stated key reads versions from the store.
    pub keep_in_cache: bool,
    /// What to do when an on-change callback fails.
    pub on_change: ErrorStrategy,
}

impl KeyDefinition {
    /// A round-trip, stateless, cached key with the [`ErrorStrategy::Halt`] strategy:
    /// keys-management's `define_key` defaults.
    pub fn new(name: impl Into<String>, source: KeySource) -> Self {
        KeyDefinition {
            name: name.into(),
            source,
            purpose: Purpose::RoundTrip,
            stateless: true,
            keep_in_cache: true,
            on_change: ErrorStrategy::Halt,
        }
    }

    /// Sets the purpose.
    pub fn purpose(mut self, p: Purpose) -> Self {
        self.purpose = p;
        self
    }

    /// Sets `stateless`.
    pub fn stateless(mut self, s: bool) -> Self {
        self.stateless = s;
        self
    }

    /// Sets `keep_in_cache`.
    pub fn keep_in_cache(mut self, c: bool) -> Self {
        self.keep_in_cache = c;
        self
    }

    /// Sets the on-change error strategy.
    pub fn on_change(mut self, s: ErrorStrategy) -> Self {
        self.on_change = s;
        self
    }
}

/// What a key change did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChangeReport {
    /// The key.
    pub key: String,
    /// The previous primary version, if any.
    pub old_version: Option<u32>,
    /// The new primary version.
    pub new_version: u32,
    /// Callbacks that succeeded, in run order.
    pub succeeded: Vec<String>,
    /// Callbacks that failed (and were skipped, or halted the run).
    pub failed: Vec<String>,
    /// Callbacks not run because the run halted or raised.
    pub not_run: Vec<String>,
    /// True when [`ErrorStrategy::Halt`] stopped the run.
    pub halted: bool,
}
