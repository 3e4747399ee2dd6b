//! Test-only helpers shared by tresor's integration tests (used as a dev-dependency only).
//!
//! [`TestServer`] starts a server child (typically `tresor kmip serve`), keeps every line it
//! prints on stderr, and waits until it announces `listening on ADDR`. The copies of this
//! harness that the test targets used to carry each did the same thing with small
//! differences; this is the one definition.
//!
//! Also here, once: [`run_ok`] and [`skip_or_fail`], the `tresor` commands of [`cli`] (a
//! clean environment, test certificates, `kmip serve` arguments), the KMIP payload builders
//! of [`kmip`], and the throw-away PostgreSQL clusters of [`pg`].

pub mod cli;
pub mod kmip;
pub mod pg;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long [`TestServer::start`] waits for `listening on ADDR` by default.
/// (Generous: the test command runs many servers at once on a loaded CI machine.)
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);

/// The line a server prints when its main listener is up: `listening on ADDR`.
pub const LISTENING_ON: &str = "listening on ";

/// A server child process whose stderr is read line by line on a thread.
///
/// Every stderr line is kept (see [`TestServer::stderr_lines`]); the child is killed
/// (SIGKILL) and reaped on drop unless it was already stopped with
/// [`TestServer::terminate`] or [`TestServer::kill`].
#[derive(Debug)]
pub struct TestServer {
    child: Child,
    addr: String,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
    stdout_reader: Option<JoinHandle<()>>,
    /// With [`TestServer::log_on_panic`]: the heading of the log printed on a panicking drop.
    panic_heading: Option<String>,
}

impl TestServer {
    /// Spawns `cmd` with stderr piped and waits (at most [`DEFAULT_START_TIMEOUT`]) for a
    /// stderr line `listening on ADDR`. Panics, with everything the process printed on
    /// stderr, if it exits or stays silent instead.
    pub fn start(cmd: &mut Command) -> TestServer {
        Self::start_with(cmd, DEFAULT_START_TIMEOUT, |e| e)
    }

    /// [`TestServer::start`] with a start timeout and a wrapper around the child's stderr
    /// (for example a reader that also copies the log to a file); panics on failure.
    pub fn start_with<R, F>(cmd: &mut Command, timeout: Duration, wrap: F) -> TestServer
    where
        R: Read + Send + 'static,
        F: FnOnce(ChildStderr) -> R,
    {
        Self::try_start_with(cmd, timeout, wrap).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`TestServer::start_with`] that returns the failure (with the process's stderr)
    /// instead of panicking.
    pub fn try_start_with<R, F>(
        cmd: &mut Command,
        timeout: Duration,
        wrap: F,
    ) -> Result<TestServer, String>
    where
        R: Read + Send + 'static,
        F: FnOnce(ChildStderr) -> R,
    {
        let what = format!("{cmd:?}");
        let mut child = cmd
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawning {what}: {e}"))?;
        let stderr = wrap(child.stderr.take().expect("stderr is piped"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let addr = line.strip_prefix(LISTENING_ON).map(first_word);
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                if let (Some(a), Some(t)) = (addr, tx.as_ref()) {
                    let _ = t.send(a);
                    tx = None;
                }
            }
        });
        let mut server = TestServer {
            child,
            addr: String::new(),
            lines,
            reader: Some(reader),
            stdout_reader: None,
            panic_heading: None,
        };
        match rx.recv_timeout(timeout) {
            Ok(addr) => {
                server.addr = addr;
                Ok(server)
            }
            Err(e) => {
                let why = match e {
                    mpsc::RecvTimeoutError::Timeout => format!("nothing within {timeout:?}"),
                    mpsc::RecvTimeoutError::Disconnected => "its stderr closed".to_owned(),
                };
                // Reap the child but do not wait for the end of its stderr (a grandchild
                // could hold it open): the message has the lines read so far.
                let _ = server.child.kill();
                let _ = server.child.wait();
                Err(format!(
                    "{what} did not print '{LISTENING_ON}ADDR' ({why}); its stderr:\n{}",
                    server.stderr_lines().join("\n")
                ))
            }
        }
    }

    /// [`TestServer::start_with`] of `cmd` with its stdout piped too, and kept with stderr's
    /// lines ([`TestServer::keep_stdout`]): one log of everything the server printed.
    pub fn start_keeping_stdout<R, F>(cmd: &mut Command, timeout: Duration, wrap: F) -> TestServer
    where
        R: Read + Send + 'static,
        F: FnOnce(ChildStderr) -> R,
    {
        let mut server = Self::start_with(cmd.stdout(Stdio::piped()), timeout, wrap);
        server.keep_stdout();
        server
    }

    /// On a drop during a panic (a failing test), prints `--- HEADING ---` and the log.
    pub fn log_on_panic(&mut self, heading: &str) {
        self.panic_heading = Some(heading.to_owned());
    }

    /// Waits (polling every 50 ms, at most `timeout`) until a kept line contains `needle`;
    /// panics with the log otherwise.
    pub fn wait_for(&self, needle: &str, timeout: Duration) {
        let start = Instant::now();
        while !self.log().contains(needle) {
            assert!(
                start.elapsed() < timeout,
                "no line with {needle:?} within {timeout:?}; server log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The address of the main listener (`ADDR` in `listening on ADDR`, without what may
    /// follow it, such as `--ephemeral`'s `(ready in N ms)`).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The port of [`TestServer::addr`].
    pub fn port(&self) -> u16 {
        port_of(&self.addr)
    }

    /// The address another listener announced in a stderr line `PREFIX… listening on ADDR`
    /// (for example `listener("kmip: HTTPS/JSON")`), among the lines printed so far.
    pub fn listener(&self, prefix: &str) -> Option<String> {
        self.stderr_lines().iter().find_map(|l| {
            l.strip_prefix(prefix)?
                .split_once(LISTENING_ON)
                .map(|(_, a)| first_word(a))
        })
    }

    /// Every stderr line so far (and stdout's, after [`TestServer::keep_stdout`]), for checks
    /// on the log.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Every line kept so far, each followed by a newline (for messages and `contains`).
    pub fn log(&self) -> String {
        let mut log = String::new();
        for line in self.stderr_lines() {
            log.push_str(&line);
            log.push('\n');
        }
        log
    }

    /// Also keeps the lines of the child's stdout (when the command piped it), read on a
    /// thread into the same list as stderr's; for servers whose tests check both streams.
    pub fn keep_stdout(&mut self) {
        let Some(stdout) = self.child.stdout.take() else {
            return;
        };
        let sink = self.lines.clone();
        self.stdout_reader = Some(std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        }));
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child process (for its stdout when the command piped it).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM (with `kill -TERM PID`) and waits for the process to exit; after it
    /// returns, [`TestServer::stderr_lines`] holds everything the process printed.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("-TERM");
        self.wait()
    }

    /// Sends `signal` (`kill SIGNAL PID`, e.g. `-HUP`); panics if `kill` fails.
    pub fn signal(&self, signal: &str) {
        let st = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(st.success(), "kill {signal} {}", self.child.id());
    }

    /// Waits (polling every 50 ms, at most `timeout`) for the process to exit; its status.
    /// Panics with the log if it still runs.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return st;
            }
            assert!(
                start.elapsed() < timeout,
                "server still running after {timeout:?}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL (kill -9, std's [`Child::kill`]) and reap; returns its exit status.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL the server");
        self.wait()
    }

    /// Waits for the process to exit and for its stderr to be read to the end.
    pub fn wait(&mut self) -> ExitStatus {
        let status = self.child.wait().expect("waiting for the server");
        for r in [self.reader.take(), self.stdout_reader.take()]
            .into_iter()
            .flatten()
        {
            let _ = r.join();
        }
        status
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(heading) = &self.panic_heading
            && std::thread::panicking()
        {
            eprintln!("--- {heading} ---\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port of `HOST:PORT` (panics on anything else).
pub fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("not HOST:PORT: {addr:?}"))
}

/// Runs `c` to completion; panics with its stderr unless it succeeds; its stdout.
pub fn run_ok(mut c: Command) -> String {
    let out = c.output().expect("run tresor");
    assert!(
        out.status.success(),
        "tresor failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A missing service: a failure under `CI=true` (scripts/test.sh provides it), a printed
/// skip elsewhere.
pub fn skip_or_fail(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why} under CI: scripts/test.sh must provide it"
    );
    eprintln!("SKIPPED: {why}; run scripts/test.sh");
}

/// The first whitespace-separated word of `s` (empty if none).
fn first_word(s: &str) -> String {
    s.split_whitespace().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn waits_for_listening_and_keeps_the_lines() {
        let mut s = TestServer::start(&mut sh(
            "echo 'kmip: metrics (/metrics) listening on 127.0.0.1:7' >&2; \
             echo 'listening on 127.0.0.1:5 (ready in 3 ms)' >&2; \
             trap 'echo bye >&2; exit 0' TERM; while :; do sleep 0.05; done",
        ));
        assert_eq!(s.addr(), "127.0.0.1:5");
        assert_eq!(s.port(), 5);
        assert_eq!(s.listener("kmip: metrics").as_deref(), Some("127.0.0.1:7"));
        assert_eq!(s.listener("kmip: HTTPS"), None);
        assert!(s.running());
        let st = s.terminate();
        assert!(st.success(), "{st:?}");
        assert_eq!(s.stderr_lines().last().map(String::as_str), Some("bye"));
        assert!(s.log().ends_with("bye\n"));
    }

    #[test]
    fn keeps_stdout_waits_for_a_line_and_ends_on_a_signal() {
        let mut s = TestServer::start_keeping_stdout(
            // USR1, not HUP: a shell cannot trap a signal ignored when it started, and HUP is
            // ignored under `nohup`. The trap is set before the lines that say it is ready.
            &mut sh("trap 'exit 7' USR1; echo 'listening on 127.0.0.1:9' >&2; \
                     echo 'on stdout'; while :; do sleep 0.05; done"),
            DEFAULT_START_TIMEOUT,
            |e| e,
        );
        s.log_on_panic("sh log");
        s.wait_for("on stdout", Duration::from_secs(30));
        s.signal("-USR1");
        assert_eq!(s.wait_exit(Duration::from_secs(30)).code(), Some(7));
        assert!(!s.running());
    }

    #[test]
    fn a_server_that_exits_first_is_an_error_with_its_output() {
        let e = TestServer::try_start_with(
            &mut sh("echo 'no such store' >&2; exit 3"),
            DEFAULT_START_TIMEOUT,
            |e| e,
        )
        .unwrap_err();
        assert!(e.contains("its stderr closed"), "{e}");
        assert!(e.contains("no such store"), "{e}");
    }

    #[test]
    fn a_silent_server_times_out() {
        let e =
            TestServer::try_start_with(&mut sh("exec sleep 30"), Duration::from_millis(200), |e| e)
                .unwrap_err();
        assert!(e.contains("nothing within"), "{e}");
    }
}
