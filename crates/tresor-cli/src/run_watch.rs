//! `tresor run` when tresor stays the parent of the command: `--watch` (restart it — SIGTERM,
//! then SIGKILL after a grace period — whenever a secret it was given changes: a rotation
//! (`tresor rotate`), an edit by another process, a rollback; the vault is read again every
//! 500 ms, so a change is seen within 0.5 s plus one read) and `--mask` (its stdout and stderr
//! pass through [`crate::mask`]). The child's exit ends tresor with the child's exit code.

use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use tokio::signal::unix::{SignalKind, signal};
use zeroize::Zeroizing;

use crate::mask::Masker;

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

/// A running child and the tasks copying its output through the masker.
struct Running {
    child: tokio::process::Child,
    copies: Vec<tokio::task::JoinHandle<()>>,
}

fn spawn(
    command: &[String],
    vars: &Vars,
    is_credential_var: fn(&str) -> bool,
    masker: Option<&Arc<Masker>>,
) -> Result<Running> {
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
    if masker.is_some() {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run '{}'", command[0]))?;
    let mut copies = Vec::new();
    if let Some(m) = masker {
        if let Some(out) = child.stdout.take() {
            copies.push(tokio::spawn(copy_masked(
                out,
                own_fd(&std::io::stdout())?,
                m.clone(),
            )));
        }
        if let Some(err) = child.stderr.take() {
            copies.push(tokio::spawn(copy_masked(
                err,
                own_fd(&std::io::stderr())?,
                m.clone(),
            )));
        }
    }
    Ok(Running { child, copies })
}

/// A file on a copy of `fd`: tresor's stdout/stderr written without `std::io::Stdout`'s
/// lock, which the command dispatcher holds while the command runs.
fn own_fd(fd: &impl std::os::fd::AsFd) -> Result<tokio::fs::File> {
    let owned = fd
        .as_fd()
        .try_clone_to_owned()
        .context("duplicating tresor's output")?;
    Ok(tokio::fs::File::from_std(std::fs::File::from(owned)))
}

/// Copies one output of the child to ours, masked, until it ends. A closed output of ours
/// (`| head`) stops the copy; the child then gets EPIPE/SIGPIPE as it would without tresor.
async fn copy_masked(
    mut from: impl tokio::io::AsyncRead + Unpin,
    mut to: impl tokio::io::AsyncWrite + Unpin,
    masker: Arc<Masker>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = masker.stream();
    let mut buf = Zeroizing::new(vec![0u8; 64 << 10]);
    let mut out = Zeroizing::new(Vec::with_capacity(64 << 10));
    loop {
        let n = match from.read(&mut buf[..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        out.clear();
        stream.push(&buf[..n], &mut out);
        if !out.is_empty() && (to.write_all(&out).await.is_err() || to.flush().await.is_err()) {
            return;
        }
    }
    out.clear();
    stream.finish(&mut out);
    let _ = to.write_all(&out).await;
    let _ = to.flush().await;
}

impl Running {
    /// Waits for the copies to pass on the last output (a grandchild holding the pipe open
    /// is not waited for more than a second).
    async fn drain(&mut self) {
        for c in self.copies.drain(..) {
            let abort = c.abort_handle();
            if tokio::time::timeout(Duration::from_secs(1), c)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

/// Sends `sig` to the child, if it is still there.
fn signal_child(child: &tokio::process::Child, sig: rustix::process::Signal) {
    if let Some(pid) = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32))
    {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// SIGTERM, then SIGKILL if the child is still there after `grace`.
async fn stop(child: &mut tokio::process::Child, grace: Duration) {
    if child.id().is_some() {
        signal_child(child, rustix::process::Signal::TERM);
        if tokio::time::timeout(grace, child.wait()).await.is_ok() {
            return;
        }
        eprintln!("tresor: the command did not exit {grace:?} after SIGTERM; sending SIGKILL");
    }
    let _ = child.kill().await;
}

/// The exit code for the child's status: its code, or 128+N when signal N killed it (as a
/// shell reports it).
fn exit_code(st: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt as _;
    match (st.code(), st.signal()) {
        (Some(c), _) => ExitCode::from(c.clamp(0, 255) as u8),
        (None, Some(s)) => ExitCode::from((128 + s).clamp(0, 255) as u8),
        _ => ExitCode::from(2),
    }
}

/// The masker for the values given so far (old values stay masked after a restart).
fn masker_for(seen: &mut Vec<Zeroizing<Vec<u8>>>, vars: &Vars) -> Option<Arc<Masker>> {
    for (k, v) in vars {
        let b = v.as_bytes();
        if b.len() < crate::mask::MIN_LEN && !b.is_empty() {
            eprintln!(
                "tresor: --mask: the value of {k} is shorter than {} bytes and is not masked",
                crate::mask::MIN_LEN
            );
        }
        if !seen.iter().any(|s| s.as_slice() == b) {
            seen.push(Zeroizing::new(b.to_vec()));
        }
    }
    Masker::new(seen.iter().map(|v| v.as_slice())).map(Arc::new)
}

/// Runs `command` with the variables `resolve` gives: with `watch`, restarting it when they
/// change; with `mask`, passing its stdout and stderr through [`Masker`]. tresor stays the
/// parent: SIGTERM and SIGHUP to tresor are passed to the command (with `watch`, SIGTERM
/// stops it as a restart does, then tresor exits 143); SIGINT reaches the command from the
/// terminal (same process group) and tresor waits for it. The command's exit code is
/// tresor's; a command killed by signal N makes tresor exit 128+N.
///
/// # Errors
/// The first resolution fails, the command cannot start, an invalid `--watch-grace`.
pub fn run(
    resolve: &mut dyn FnMut() -> Result<Vars>,
    command: &[String],
    watch: Option<&WatchArgs>,
    mask: bool,
    is_credential_var: fn(&str) -> bool,
) -> Result<ExitCode> {
    let grace = match watch {
        Some(w) => Duration::from_secs(
            tresor_rotate::parse_duration(&w.watch_grace).context("--watch-grace")?,
        ),
        None => Duration::ZERO,
    };
    let mut vars = resolve()?;
    let mut seen = fingerprint(&vars);
    let mut masked: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    // Multi-thread (one worker), so the watch can read the vault in `block_in_place`: a
    // remote vault (`--server`) runs its own runtime, which cannot start inside this one.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        // Ctrl-C reaches the child too (same process group): tresor waits for it to exit.
        let mut int = signal(SignalKind::interrupt())?;
        let mut last_warning = String::new();
        loop {
            let masker = if mask {
                masker_for(&mut masked, &vars)
            } else {
                None
            };
            let mut run = spawn(command, &vars, is_credential_var, masker.as_ref())?;
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    st = run.child.wait() => {
                        let st = st?;
                        run.drain().await;
                        return Ok(exit_code(st));
                    }
                    _ = term.recv() => {
                        if watch.is_some() {
                            stop(&mut run.child, grace).await;
                            run.drain().await;
                            return Ok(ExitCode::from(143));
                        }
                        signal_child(&run.child, rustix::process::Signal::TERM);
                    }
                    _ = hup.recv() => signal_child(&run.child, rustix::process::Signal::HUP),
                    _ = int.recv() => {}
                    _ = tick.tick(), if watch.is_some() => match tokio::task::block_in_place(&mut *resolve) {
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
            stop(&mut run.child, grace).await;
            run.drain().await;
        }
    })
}
