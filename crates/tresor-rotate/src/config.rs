//! What `tresor rotator set` attaches to a secret, and the journal each rotation keeps.
//!
//! Both live as attributes of the secret's companion object `tresor:rotator:APP:ENV:KEY`
//! (reserved: no KMIP client or import can create or edit it) and are therefore covered by
//! the store's metadata MAC like every attribute: an edit made with SQL is refused as
//! tampered before any command is run or any value is sent anywhere.

use serde::{Deserialize, Serialize};

use crate::error::Step;
use crate::policy::ValuePolicy;

/// Which service a secret's value is checked by, and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RotatorKind {
    /// A PostgreSQL role's password.
    Postgres {
        /// The vault secret holding an admin connection string (`postgres://admin:pw@host/db`).
        dsn_secret: String,
        /// The role whose password the secret is; with `two_roles`, the group role whose
        /// two login roles `ROLE_a` and `ROLE_b` take turns.
        role: String,
        /// Dual credentials: alternate between the login roles `ROLE_a` and `ROLE_b` (members
        /// of ROLE); the secret holds a connection URL naming the login role, and the old
        /// one keeps working until it is retired after the grace period.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        two_roles: bool,
    },
    /// An AWS IAM user's access key; the secret holds `{"Version":1,"AccessKeyId":…,
    /// "SecretAccessKey":…}` (the `credential_process` format).
    AwsIam {
        /// The IAM user.
        user: String,
        /// IAM/STS endpoint (default: AWS; a moto or LocalStack URL in tests).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        /// Signing region.
        region: String,
    },
    /// A user command run once per step (`COMMAND generate|apply|verify|retire`).
    Exec {
        /// Path of the command.
        command: String,
    },
}

impl RotatorKind {
    /// `postgres`, `aws-iam` or `exec`.
    pub fn name(&self) -> &'static str {
        match self {
            RotatorKind::Postgres { .. } => "postgres",
            RotatorKind::AwsIam { .. } => "aws-iam",
            RotatorKind::Exec { .. } => "exec",
        }
    }

    /// One line describing the target (no secret in it).
    pub fn target(&self) -> String {
        match self {
            RotatorKind::Postgres {
                dsn_secret,
                role,
                two_roles,
            } => {
                if *two_roles {
                    format!("roles {role}_a/{role}_b via {dsn_secret}")
                } else {
                    format!("role {role} via {dsn_secret}")
                }
            }
            RotatorKind::AwsIam { user, endpoint, .. } => match endpoint {
                Some(e) => format!("user {user} at {e}"),
                None => format!("user {user}"),
            },
            RotatorKind::Exec { command } => format!("command {command}"),
        }
    }
}

/// A rotator attached to a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatorConfig {
    /// The service.
    #[serde(flatten)]
    pub kind: RotatorKind,
    /// Rotation period in seconds (`--every`), if scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
    /// Seconds the previous value stays valid at the service after a rotation (`--grace`).
    #[serde(default)]
    pub grace: u64,
    /// A command run after each rotation with the secret's name (never its value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// How generated values look.
    #[serde(default)]
    pub policy: ValuePolicy,
    /// When it was attached (Unix seconds): the schedule starts here until the first rotation.
    pub since: i64,
}

/// Where a rotation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// No rotation under way.
    #[default]
    Idle,
    /// Started; the new value is being made (nothing stored yet).
    Generating,
    /// The new value is stored as the pending version (not current).
    Pending,
    /// The service was given the new value.
    Applied,
    /// The service accepted the new value.
    Verified,
    /// A step failed; the old value is current.
    Failed,
}

impl Phase {
    /// The phase's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Generating => "generating",
            Phase::Pending => "pending",
            Phase::Applied => "applied",
            Phase::Verified => "verified",
            Phase::Failed => "failed",
        }
    }
}

/// An old value waiting for the end of its grace period before the service forgets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retire {
    /// The secret's version holding the old value.
    pub version: u32,
    /// Not before (Unix seconds).
    pub after: i64,
}

/// The rotation journal: written in the same store transaction as each step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Journal {
    /// Where the current (or last) rotation stands.
    pub phase: Phase,
    /// The secret's current version when the rotation started.
    #[serde(default)]
    pub from_version: u32,
    /// The companion's version holding the pending value (0: none).
    #[serde(default)]
    pub pending_version: u32,
    /// When the rotation started (Unix seconds).
    #[serde(default)]
    pub started: i64,
    /// The step that failed, in phase `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<Step>,
    /// Why it failed (never a value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The phase reached before the failure (where `--resume` goes on from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_from: Option<Phase>,
    /// The last successful rotation (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rotated: Option<i64>,
    /// The secret version it made current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_version: Option<u32>,
    /// An old value still to retire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire: Option<Retire>,
    /// The hook has yet to run for the last rotation.
    #[serde(default)]
    pub hook_pending: bool,
    /// Successful rotations so far.
    #[serde(default)]
    pub rotations: u64,
}
