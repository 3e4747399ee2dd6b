//! The server's log lines, written with `tracing` to stderr: `text` (one `kmip: …` line with
//! `key=value` fields, what `journalctl` and a terminal show) or `json` (one JSON object per
//! line, fields flattened, for a log pipeline). The level comes from `TRESOR_LOG` in
//! `RUST_LOG` syntax (default `info,tresor::kmip::access=off`: everything at info but the
//! per-request access lines; `TRESOR_LOG=info` adds them, `TRESOR_LOG=warn` is quieter).
//!
//! Targets: `tresor::kmip::access` (one line per request message: identity, operations, uid,
//! result, duration, batch size), `tresor::kmip::conn` (one per connection: peer, TLS version
//! and suite, identity; and its close), `tresor::kmip::handshake` (one per refused
//! handshake: peer, reason code, detail), `tresor::kmip` (start, reload, drain, refusals over
//! limits).
//!
//! No line carries a secret: requests are logged by operation name, unique identifier and
//! result only, never a payload, key material or passphrase.

use std::str::FromStr;

use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::error::KmipError;

/// The environment variable holding the log filter (`RUST_LOG` syntax).
pub const LOG_ENV: &str = "TRESOR_LOG";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `kmip: message: key=value …`, one line per event.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the fields.
    Json,
}

impl FromStr for LogFormat {
    type Err = KmipError;

    fn from_str(s: &str) -> Result<Self, KmipError> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(KmipError::Usage(format!(
                "log format '{s}' is not text or json"
            ))),
        }
    }
}

/// The text format: `kmip: ` then the message and the fields (`key=value`), no timestamp (the
/// journal or the terminal adds one); errors say so first.
struct TextFormat;

impl<S, N> FormatEvent<S, N> for TextFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "kmip: ")?;
        if *event.metadata().level() == tracing::Level::ERROR {
            write!(writer, "error: ")?;
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// The filter of `TRESOR_LOG`, or `info` without access lines when unset.
///
/// # Errors
/// [`KmipError::Usage`] naming the variable for a filter that does not parse.
pub fn filter_from_env() -> Result<EnvFilter, KmipError> {
    match std::env::var(LOG_ENV) {
        Ok(v) if !v.trim().is_empty() => EnvFilter::builder().parse(&v).map_err(|e| {
            KmipError::Usage(format!(
                "{LOG_ENV}='{v}' is not a log filter ({e}); use RUST_LOG syntax, e.g. \
                 TRESOR_LOG=info or TRESOR_LOG=warn,tresor::kmip::access=info"
            ))
        }),
        _ => Ok(EnvFilter::new(default_level())),
    }
}

/// `info` without the per-request access lines: one line per request cost ~21,000 instructions
/// of a ~119,000-instruction KMIP Get (callgrind, release build; +18 %), and the audit stream
/// already records every request that reads material or changes the store. Operators who want
/// them set `TRESOR_LOG=info` (or `[log] level = "info"`).
fn default_level() -> &'static str {
    "info,tresor::kmip::access=off"
}

/// Log lines waiting for stderr: appended under a lock by the logging thread (no system call,
/// no wake-up per line), written by a flusher thread every [`FLUSH_EVERY`], at once past
/// [`FLUSH_BYTES`], and at exit.
#[derive(Debug, Default)]
struct Batch {
    buf: std::sync::Mutex<Vec<u8>>,
}

/// How often queued log lines are written.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// Queued bytes that make the logging thread write at once.
const FLUSH_BYTES: usize = 64 * 1024;

impl Batch {
    /// Writes what is queued (under the lock: lines keep their order).
    fn flush(&self) {
        let mut g = self
            .buf
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !g.is_empty() {
            let _ = std::io::Write::write_all(&mut std::io::stderr(), &g);
            g.clear();
        }
    }
}

/// The writer of one event: appends to the batch.
struct BatchLine(std::sync::Arc<Batch>);

impl std::io::Write for BatchLine {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let mut g = self
            .0
            .buf
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.extend_from_slice(b);
        if g.len() >= FLUSH_BYTES {
            std::io::stderr().write_all(&g)?;
            g.clear();
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Clone)]
struct BatchWriter(std::sync::Arc<Batch>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchWriter {
    type Writer = BatchLine;

    fn make_writer(&'a self) -> Self::Writer {
        BatchLine(self.0.clone())
    }
}

/// Keeps the log flusher running; dropping it writes the lines still queued.
#[must_use = "dropping the guard stops the log writer: keep it until the server has stopped"]
pub struct LogGuard {
    batch: Option<std::sync::Arc<Batch>>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    flusher: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard").finish_non_exhaustive()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.flusher.take() {
            let _ = t.join();
        }
        if let Some(b) = &self.batch {
            b.flush();
        }
    }
}

/// Installs the process's log writer (once; later calls keep the first). `level` is used
/// when `TRESOR_LOG` is unset (the config file's `[log] level`). Lines are queued in memory
/// and written to stderr every 100 ms (or at once past 64 KiB), so a request pays no system
/// call for its access line; keep the returned guard until the server has stopped (it writes
/// the rest). A process killed with SIGKILL loses at most the last 100 ms of log lines (the
/// audit stream is written before each response, not through this queue).
///
/// # Errors
/// [`KmipError::Usage`] for a `TRESOR_LOG` or `level` that does not parse.
pub fn init(format: LogFormat, level: Option<&str>) -> Result<LogGuard, KmipError> {
    let filter = match (
        std::env::var(LOG_ENV).ok().filter(|v| !v.trim().is_empty()),
        level,
    ) {
        (None, Some(l)) => EnvFilter::builder()
            .parse(l)
            .map_err(|e| KmipError::Usage(format!("log level '{l}' is not a log filter ({e})")))?,
        _ => filter_from_env()?,
    };
    let batch = std::sync::Arc::new(Batch::default());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(BatchWriter(batch.clone()))
        .with_ansi(false);
    let r = match format {
        LogFormat::Text => builder.event_format(TextFormat).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    if r.is_err() {
        // Already installed (a second server in one process): keep the first.
        return Ok(LogGuard {
            batch: None,
            stop: None,
            flusher: None,
        });
    }
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let b = batch.clone();
    let flusher = std::thread::Builder::new()
        .name("tresor-log".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(FLUSH_EVERY)
            {
                b.flush();
            }
        })
        .map_err(|e| KmipError::io("starting the log writer thread", e))?;
    Ok(LogGuard {
        batch: Some(batch),
        stop: Some(tx),
        flusher: Some(flusher),
    })
}
