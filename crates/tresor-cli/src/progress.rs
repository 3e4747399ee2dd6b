//! Progress and feedback for long commands (`importenv`, `add file`, `import-seeqret`,
//! `s3 import-s3keyring`, `migrate`, `backup`, `restore`): the one place that draws.
//!
//! - A bar (a spinner while the number of steps is unknown) on stderr, only when stderr is a
//!   terminal, without `--quiet` and without `--json`; colours only without `NO_COLOR`.
//! - A one-line summary at the end (what was done, how many, how long) on stderr, unless
//!   `--quiet` or `--json` (the command then prints its JSON, with `seconds`, on stdout).
//!
//! Libraries report through [`tresor_store::progress::Progress`]; they never draw.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tresor_store::progress::Progress;

static QUIET: AtomicBool = AtomicBool::new(false);
static SHOW: OnceLock<bool> = OnceLock::new();

/// Applies the global `--quiet` flag (once, before any task starts).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Whether a bar may be drawn at all: stderr is a terminal and no `--quiet`.
fn may_draw() -> bool {
    !quiet() && *SHOW.get_or_init(|| std::io::IsTerminal::is_terminal(&std::io::stderr()))
}

/// One long command's feedback: its bar while it runs, its summary at the end.
pub struct Task {
    /// Made at the first phase: a command that reports none (`s3 get`, `s3 configure` and
    /// its prompts) never draws.
    bar: OnceLock<ProgressBar>,
    draw: bool,
    started: Instant,
    json: bool,
}

impl Task {
    /// Starts the feedback of a command; `json` is its `--json` flag (no bar, no stderr
    /// summary: the JSON on stdout is the summary).
    pub fn start(json: bool) -> Task {
        Task {
            bar: OnceLock::new(),
            draw: may_draw() && !json,
            started: Instant::now(),
            json,
        }
    }

    /// The bar, made on first use; `None` when nothing may be drawn.
    fn bar(&self) -> Option<&ProgressBar> {
        self.draw.then(|| {
            self.bar.get_or_init(|| {
                let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                b.set_style(spinner_style());
                b.enable_steady_tick(Duration::from_millis(100));
                b
            })
        })
    }

    /// Seconds since the start, rounded to milliseconds (for JSON summaries).
    pub fn seconds(&self) -> f64 {
        (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
    }

    /// Removes the bar and prints `summary`, followed by the time taken, on stderr (unless
    /// `--quiet` or `--json`).
    pub fn done(&self, summary: &str) {
        if let Some(b) = self.bar.get() {
            b.finish_and_clear();
        }
        if !quiet() && !self.json {
            eprintln!("{summary} in {}", took(self.started.elapsed()));
        }
    }

    /// Removes the bar (an error, or a question to ask on the terminal).
    pub fn clear(&self) {
        if let Some(b) = self.bar.get() {
            b.finish_and_clear();
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.clear();
    }
}

impl Progress for Task {
    fn phase(&self, what: &str, total: Option<u64>) {
        let Some(b) = self.bar() else { return };
        match total {
            Some(n) => {
                b.set_style(bar_style());
                b.set_length(n);
                b.set_position(0);
            }
            None => {
                b.set_style(spinner_style());
                b.unset_length();
            }
        }
        b.set_message(what.to_owned());
    }

    fn advance(&self, n: u64) {
        if let Some(b) = self.bar.get() {
            b.inc(n);
        }
    }

    fn finish(&self, summary: &str) {
        self.done(summary);
    }
}

/// `1.234 s`, or `850 ms` under a second.
fn took(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

fn bar_style() -> ProgressStyle {
    let t = if crate::output::color_stderr() {
        "{msg} {bar:30.cyan/blue} {pos}/{len} {elapsed}"
    } else {
        "{msg} {bar:30} {pos}/{len} {elapsed}"
    };
    ProgressStyle::with_template(t).unwrap_or_else(|_| ProgressStyle::default_bar())
}

fn spinner_style() -> ProgressStyle {
    let t = if crate::output::color_stderr() {
        "{spinner:.cyan} {msg} {elapsed}"
    } else {
        "{spinner} {msg} {elapsed}"
    };
    ProgressStyle::with_template(t).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(super::took(Duration::from_millis(850)), "850 ms");
        assert_eq!(super::took(Duration::from_millis(1234)), "1.234 s");
    }
}
