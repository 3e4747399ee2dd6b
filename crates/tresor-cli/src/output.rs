//! Output helpers: aligned tables, JSON, masking, colour policy.

use std::io::{IsTerminal, Write};

/// Whether to colour stderr: a terminal and no `NO_COLOR`.
pub fn color_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Prints rows as aligned columns under a header.
pub fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |out: &mut dyn Write, cells: Vec<&str>| -> std::io::Result<()> {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(out, header.to_vec())?;
    for r in rows {
        line(out, r.iter().map(String::as_str).collect())?;
    }
    Ok(())
}

/// Prints a JSON value followed by a newline.
pub fn json(out: &mut dyn Write, v: &serde_json::Value) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, v)?;
    writeln!(out)
}

/// A masked stand-in for a value.
pub const MASK: &str = "********";

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn date(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Makes a closed standard output (`tresor kmip query | head -1`) end the process quietly
/// with exit code 0, as [`crate::error::report`] does for a `BrokenPipe` error: `print!` and
/// `println!` panic on a closed pipe ("failed printing to stdout"), and this hook turns that
/// one panic into a quiet exit. Every other panic goes to the default hook. (SIGPIPE stays
/// ignored, as Rust sets it: the KMIP server and clients must see EPIPE on a socket, not die.)
pub fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::date(0), "1970-01-01 00:00:00");
        assert_eq!(super::date(1_700_000_000), "2023-11-14 22:13:20");
    }
}
