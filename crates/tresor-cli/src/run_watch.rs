//! `tresor run --watch`: run the command, and restart it (SIGTERM, then SIGKILL after a grace
//! period) whenever a secret it was given changes: a rotation (`tresor rotate`), an edit by
//! another process, a rollback. The vault is read again every 500 ms; the child's exit ends
//! tresor with the child's exit code.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use tokio::signal::unix::{SignalKind, signal};
use zeroize::Zeroizing;

/// The variables a child gets.
pub type Vars = Vec<(String, Zeroizing<String>)>;

/// How often the vault is read for changes.
const POLL: Duration = Duration::from_millis(500);

/// `run --watch` flags.
#[derive(Args, Debug, Clone)]
pub struct WatchArgs {
    /// Restart the command (SIGTERM, then SIGKILL after --watch-grace) when one of the
    /// secrets it was given changes (checked every 500 ms). tresor stays as the parent and
    /// exits with the command's exit code; SIGTERM to tresor stops the command the same way.
    #[arg(long)]
    pub watch: bool,
    /// How long the command has to exit after SIGTERM before it gets SIGKILL (90s, 15m).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        requires = "watch"
    )]
    pub watch_grace: String,
}

fn fingerprint(vars: &Vars) -> [u8; 32] {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(vars.len() * 4);
    let lens: Vec<[u8; 16]> = vars
        .iter()
        .map(|(k, v)| {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&(k.len() as u64).to_be_bytes());
            b[8..].copy_from_slice(&(v.len() as u64).to_be_bytes());
            b
        })
        .collect();
    for ((k, v), l) in vars.iter().zip(&lens) {
        parts.push(l);
        parts.push(k.as_bytes());
        parts.push(v.as_bytes());
    }
    tresor_crypto::hash::sha256_parts(&parts)
}

fn spawn(
    command: &[String],
    vars: &Vars,
    is_credential_var: fn(&str) -> bool,
) -> Result<tokio::process::Child> {
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..]);
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(is_credential_var) {
            cmd.env_remove(&k);
        }
    }
    for (k, v) in vars {
        cmd.env(k, v.as_str());
    }
    cmd.spawn()
        .with_context(|| format!("cannot run '{}'", command[0]))
}

/// SIGTERM, then SIGKILL if the child is still there after `grace`.
async fn stop(child: &mut tokio::process::Child, grace: Duration) {
    if let Some(pid) = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32))
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if tokio::time::timeout(grace, child.wait()).await.is_ok() {
            return;
        }
        eprintln!("tresor: the command did not exit {grace:?} after SIGTERM; sending SIGKILL");
    }
    let _ = child.kill().await;
}

fn exit_code(st: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt as _;
    match (st.code(), st.signal()) {
        (Some(c), _) => ExitCode::from(c.clamp(0, 255) as u8),
        (None, Some(s)) => ExitCode::from((128 + s).clamp(0, 255) as u8),
        _ => ExitCode::from(2),
    }
}

/// Runs `command` with the variables `resolve` gives, restarting it when they change.
///
/// # Errors
/// The first resolution fails, the command cannot start, an invalid `--watch-grace`.
pub fn run(
    resolve: &mut dyn FnMut() -> Result<Vars>,
    command: &[String],
    args: &WatchArgs,
    is_credential_var: fn(&str) -> bool,
) -> Result<ExitCode> {
    let grace = Duration::from_secs(
        tresor_rotate::parse_duration(&args.watch_grace).context("--watch-grace")?,
    );
    let mut vars = resolve()?;
    let mut seen = fingerprint(&vars);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut term = signal(SignalKind::terminate())?;
        // Ctrl-C reaches the child too (same process group): tresor waits for it to exit.
        let mut int = signal(SignalKind::interrupt())?;
        let mut last_warning = String::new();
        loop {
            let mut child = spawn(command, &vars, is_credential_var)?;
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    st = child.wait() => return Ok(exit_code(st?)),
                    _ = term.recv() => {
                        stop(&mut child, grace).await;
                        return Ok(ExitCode::from(143));
                    }
                    _ = int.recv() => {}
                    _ = tick.tick() => match resolve() {
                        Ok(new) => {
                            let fp = fingerprint(&new);
                            if fp != seen {
                                vars = new;
                                seen = fp;
                                break;
                            }
                        }
                        Err(e) => {
                            // Keep the command running on what it has; say so once per cause.
                            let msg = format!("{e:#}");
                            if msg != last_warning {
                                eprintln!("warning: run --watch: cannot read the secrets ({msg}); the command keeps the values it has");
                                last_warning = msg;
                            }
                        }
                    },
                }
            }
            eprintln!("tresor: a secret changed; restarting '{}'", command[0]);
            stop(&mut child, grace).await;
        }
    })
}
