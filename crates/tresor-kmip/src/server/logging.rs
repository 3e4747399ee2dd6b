//! The server's log lines, written with `tracing` to stderr: `text` (one `kmip: …` line with
//! `key=value` fields, what `journalctl` and a terminal show) or `json` (one JSON object per
//! line, fields flattened, for a log pipeline). The level comes from `TRESOR_LOG` in
//! `RUST_LOG` syntax (default `info`; e.g. `TRESOR_LOG=warn` or
//! `TRESOR_LOG=info,tresor::kmip::access=off`).
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

/// The filter of `TRESOR_LOG`, or `info` when unset.
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

fn default_level() -> &'static str {
    "info"
}

/// Keeps the background log writer running; dropping it writes the lines still queued.
#[must_use = "dropping the guard stops the log writer: keep it until the server has stopped"]
pub struct LogGuard {
    _writer: Option<tracing_appender::non_blocking::WorkerGuard>,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard").finish_non_exhaustive()
    }
}

/// Installs the process's log writer (once; later calls keep the first). `level` is used
/// when `TRESOR_LOG` is unset (the config file's `[log] level`). Lines go to stderr from a
/// background thread (the request path only formats them; none is dropped: a full queue
/// makes the logging thread wait); keep the returned guard until the server has stopped.
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
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
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
    // Already installed (a second server in one process): keep the first.
    Ok(LogGuard {
        _writer: r.is_ok().then_some(guard),
    })
}
