//! The post-rotation hook: `sh -c HOOK` with the secret's name (never its value).

use std::process::{Command, Stdio};

use crate::error::StepFailure;
use crate::rotator::scrub_env;

/// Runs `hook` through `/bin/sh -c` with `TRESOR_SECRET_NAME`, `TRESOR_SECRET_VERSION` and
/// `TRESOR_ROTATOR` set, tresor's credentials removed, stdin closed; killed after 5 minutes.
///
/// # Errors
/// The hook could not start or exited non-zero.
pub fn run_hook(hook: &str, name: &str, version: u32, rotator: &str) -> Result<(), StepFailure> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(hook);
    scrub_env(&mut cmd);
    let mut child = cmd
        .env("TRESOR_SECRET_NAME", name)
        .env("TRESOR_SECRET_VERSION", version.to_string())
        .env("TRESOR_ROTATOR", rotator)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| StepFailure::new(format!("cannot run the hook: {e}")))?;
    let status = crate::rotator::wait_bounded(&mut child, "the hook")?;
    if status.success() {
        Ok(())
    } else {
        Err(StepFailure::new(format!(
            "the hook {}",
            match status.code() {
                Some(c) => format!("exited with status {c}"),
                None => "was killed by a signal".into(),
            }
        )))
    }
}
