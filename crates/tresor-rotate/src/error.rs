//! Errors of rotation: which secret, which step, what to do.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The steps of one rotation, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Step {
    /// Make the new value (policy, the command's `generate`, IAM CreateAccessKey).
    Generate,
    /// Give the service the new value (ALTER ROLE, the command's `apply`).
    Apply,
    /// Check the service accepts the new value (log in, STS GetCallerIdentity).
    Verify,
    /// Make the new value current in the vault.
    Commit,
    /// Remove the old value from the service after the grace period (DeleteAccessKey).
    Retire,
    /// The post-rotation hook.
    Hook,
}

impl Step {
    /// The step's name as printed and stored (`generate`, `apply`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Generate => "generate",
            Step::Apply => "apply",
            Step::Verify => "verify",
            Step::Commit => "commit",
            Step::Retire => "retire",
            Step::Hook => "hook",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a rotator's step failed, in words that never hold a secret value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepFailure(pub String);

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StepFailure {
    /// A failure with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        StepFailure(msg.into())
    }
}

/// Errors of the rotation engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] tresor_store::StoreError),
    /// The secret does not exist (or is not a vault secret).
    #[error("secret '{0}' not found")]
    NotFound(String),
    /// No rotator is attached to the secret.
    #[error("secret '{0}' has no rotator")]
    NoRotator(String),
    /// The input was wrong (a duration, an alphabet, a rotator option).
    #[error("{0}")]
    Invalid(String),
    /// Another rotation of the secret has not finished.
    #[error(
        "a rotation of '{name}' is unfinished (stopped at '{phase}' since {started}); run 'tresor rotate --resume' to finish it"
    )]
    InProgress {
        /// The secret.
        name: String,
        /// The journal's phase.
        phase: String,
        /// When it started (Unix seconds).
        started: i64,
    },
    /// A step failed.
    #[error("rotation of '{name}' failed at step '{step}': {why}; {state}")]
    Step {
        /// The secret.
        name: String,
        /// The step that failed.
        step: Step,
        /// What went wrong (never the value).
        why: StepFailure,
        /// What the vault holds now (e.g. "version 3 (the old value) is still current").
        state: String,
    },
    /// The rotator's record is not what tresor writes (a hand-edited or foreign attribute).
    #[error("rotator record of '{name}' is invalid: {why}")]
    BadRecord {
        /// The secret.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// The rotator kind was not built into this tresor.
    #[error("the '{0}' rotator is not built into this tresor (feature missing)")]
    Unsupported(&'static str),
}

impl RotateError {
    /// What to do next, for the CLI's `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            RotateError::Step {
                step: Step::Retire, ..
            } => Some(
                "the new value is current; fix the cause, then 'tresor rotate --resume' retires the old one".into(),
            ),
            RotateError::Step { step: Step::Hook, .. } => Some(
                "the rotation is done; fix the hook, then 'tresor rotate --resume' runs it again".into(),
            ),
            RotateError::Step { .. } => Some(
                "fix the cause (the service, its admin credentials, the command), then run 'tresor rotate --resume' to retry from that step, or 'tresor rotate NAME' to start over".into(),
            ),
            RotateError::NoRotator(n) => Some(format!(
                "attach one first: tresor rotator set {n} postgres|aws-iam|exec …"
            )),
            _ => None,
        }
    }
}

/// Results of this crate.
pub type Result<T, E = RotateError> = std::result::Result<T, E>;
