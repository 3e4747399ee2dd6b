//! The `exec` rotator: a user command run once per step.
//!
//! `COMMAND generate|apply|verify|retire`, with `TRESOR_SECRET_NAME` and `TRESOR_ROTATE_STEP`
//! in its environment (tresor's own credentials removed). Values travel on pipes, never in
//! arguments or the environment: `generate` may print the new value on stdout (empty output:
//! tresor draws one from the policy); `apply` and `verify` read the new value on stdin;
//! `retire` reads the old value on stdin. A non-zero exit fails the step, and so does running
//! over 5 minutes (the command is killed); the command's stderr goes to tresor's stderr.

use std::io::{Read, Write};

use std::process::{Command, Stdio};

use tresor_crypto::SecretBytes;

use crate::error::StepFailure;
use crate::rotator::{Rotator, StepCtx, scrub_env};

/// Largest value `generate` may print (64 KiB).
const MAX_VALUE: u64 = 64 << 10;

/// Runs a command per step.
#[derive(Debug)]
pub struct ExecRotator {
    command: String,
}

impl ExecRotator {
    /// A rotator running `command`.
    pub fn new(command: impl Into<String>) -> Self {
        ExecRotator {
            command: command.into(),
        }
    }

    fn run(
        &self,
        cx: &StepCtx<'_>,
        step: &str,
        input: Option<&SecretBytes>,
    ) -> Result<Vec<u8>, StepFailure> {
        let mut cmd = Command::new(&self.command);
        cmd.arg(step);
        scrub_env(&mut cmd);
        cmd.env("TRESOR_SECRET_NAME", cx.name)
            .env("TRESOR_ROTATE_STEP", step)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| StepFailure::new(format!("cannot run '{}': {e}", self.command)))?;
        if let (Some(v), Some(mut stdin)) = (input, child.stdin.take()) {
            // A command that does not read its input closes the pipe: not an error.
            let _ = stdin.write_all(v.expose());
        }
        // stdout is read on its own thread so that a command that never exits is still
        // stopped by the timeout.
        let reader = child.stdout.take().map(|stdout| {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                stdout
                    .take(MAX_VALUE + 1)
                    .read_to_end(&mut out)
                    .map(|_| out)
            })
        });
        let status =
            crate::rotator::wait_bounded(&mut child, &format!("'{} {step}'", self.command))?;
        let out = match reader.map(|r| r.join()) {
            None => Vec::new(),
            Some(Ok(Ok(out))) => out,
            Some(Ok(Err(e))) => {
                return Err(StepFailure::new(format!("reading '{}': {e}", self.command)));
            }
            Some(Err(_)) => return Err(StepFailure::new(format!("reading '{}'", self.command))),
        };
        let out = zeroize::Zeroizing::new(out);
        if !status.success() {
            return Err(StepFailure::new(format!(
                "'{} {step}' {}",
                self.command,
                match status.code() {
                    Some(c) => format!("exited with status {c}"),
                    None => "was killed by a signal".into(),
                }
            )));
        }
        if out.len() as u64 > MAX_VALUE {
            return Err(StepFailure::new(format!(
                "'{} {step}' printed more than {MAX_VALUE} bytes",
                self.command
            )));
        }
        Ok(out.to_vec())
    }
}

impl Rotator for ExecRotator {
    fn kind(&self) -> &'static str {
        "exec"
    }

    fn generate(&mut self, cx: &StepCtx<'_>) -> Result<SecretBytes, StepFailure> {
        let out = SecretBytes::new(self.run(cx, "generate", None)?);
        let mut v = out.expose().clone();
        while v.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            v.pop();
        }
        let v = SecretBytes::new(v);
        if v.expose().is_empty() {
            return cx
                .policy
                .generate()
                .map_err(|e| StepFailure::new(e.to_string()));
        }
        Ok(v)
    }

    fn apply(&mut self, cx: &StepCtx<'_>, new: &SecretBytes) -> Result<(), StepFailure> {
        self.run(cx, "apply", Some(new)).map(drop)
    }

    fn verify(&mut self, cx: &StepCtx<'_>, new: &SecretBytes) -> Result<(), StepFailure> {
        self.run(cx, "verify", Some(new)).map(drop)
    }

    fn retire(&mut self, cx: &StepCtx<'_>, old: &SecretBytes) -> Result<(), StepFailure> {
        self.run(cx, "retire", Some(old)).map(drop)
    }
}
