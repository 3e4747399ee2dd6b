//! The [`Rotator`] trait: one service's four steps.

use tresor_crypto::SecretBytes;

use crate::error::StepFailure;
use crate::policy::ValuePolicy;

/// What a rotator is told at each step.
pub struct StepCtx<'a> {
    /// The secret's name (`APP:ENV:KEY`).
    pub name: &'a str,
    /// The value current in the vault (the old one during a rotation; the new one at retire).
    pub current: &'a SecretBytes,
    /// How a generated value must look.
    pub policy: &'a ValuePolicy,
}

/// One service's rotation steps. Every step may run again after a crash (`--resume`), so
/// each must be idempotent: applying the same value twice, verifying twice, retiring an old
/// value already gone are all fine.
pub trait Rotator {
    /// `postgres`, `aws-iam`, `exec`.
    fn kind(&self) -> &'static str;

    /// Makes the new value. The default draws it from the policy.
    ///
    /// # Errors
    /// Why it could not (never holding a value).
    fn generate(&mut self, cx: &StepCtx<'_>) -> Result<SecretBytes, StepFailure> {
        cx.policy
            .generate()
            .map_err(|e| StepFailure::new(e.to_string()))
    }

    /// Gives the service the new value.
    ///
    /// # Errors
    /// Why the service refused.
    fn apply(&mut self, cx: &StepCtx<'_>, new: &SecretBytes) -> Result<(), StepFailure>;

    /// Checks the service accepts the new value.
    ///
    /// # Errors
    /// Why the check failed.
    fn verify(&mut self, cx: &StepCtx<'_>, new: &SecretBytes) -> Result<(), StepFailure>;

    /// Makes the service forget `old` (after the grace period). `cx.current` is the new value.
    ///
    /// # Errors
    /// Why the service refused.
    fn retire(&mut self, cx: &StepCtx<'_>, old: &SecretBytes) -> Result<(), StepFailure>;
}

/// Removes tresor's own credentials from a child's environment (the exec rotator's command,
/// the hook): every `TRESOR_*` variable, PostgreSQL's password variables and AWS secret keys.
pub(crate) fn scrub_env(cmd: &mut std::process::Command) {
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if k.starts_with("TRESOR_")
            || matches!(
                k,
                "PGPASSWORD" | "PGPASSFILE" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN"
            )
        {
            cmd.env_remove(k);
        }
    }
}

/// How long a command (an exec step, a hook) may run before it is killed.
pub(crate) const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Waits for `child` at most [`COMMAND_TIMEOUT`]; kills it (SIGKILL) after that.
pub(crate) fn wait_bounded(
    child: &mut std::process::Child,
    what: &str,
) -> Result<std::process::ExitStatus, crate::StepFailure> {
    let start = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Ok(st),
            Ok(None) if start.elapsed() >= COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(crate::StepFailure::new(format!(
                    "{what} did not finish within {} s and was killed",
                    COMMAND_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => return Err(crate::StepFailure::new(format!("waiting for {what}: {e}"))),
        }
    }
}
