//! Schedules: `--every 30d`, the clock (injectable for tests and dry runs), due computation.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Result, RotateError};

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    /// Unix seconds.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock that always says the same time (tests; `TRESOR_ROTATE_CLOCK`).
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

/// Parses a duration: a number and a unit `s`, `m`, `h`, `d` or `w` (`30d`, `12h`, `90s`).
///
/// # Errors
/// [`RotateError::Invalid`] naming the input and the accepted forms.
///
/// # Examples
/// ```
/// assert_eq!(tresor_rotate::parse_duration("30d")?, 30 * 86_400);
/// assert_eq!(tresor_rotate::parse_duration("90s")?, 90);
/// assert!(tresor_rotate::parse_duration("soon").is_err());
/// # Ok::<(), tresor_rotate::RotateError>(())
/// ```
pub fn parse_duration(s: &str) -> Result<u64> {
    let bad = || {
        RotateError::Invalid(format!(
            "invalid duration '{s}': write a number and a unit s, m, h, d or w (90s, 15m, 12h, 30d, 2w)"
        ))
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    n.checked_mul(mult)
        .filter(|v| *v <= 100 * 365 * 86_400)
        .ok_or_else(bad)
}

/// Formats seconds back the way [`parse_duration`] reads them (largest exact unit).
pub fn format_duration(secs: u64) -> String {
    for (unit, n) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs >= n && (secs / n) * n == secs {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

/// When a rotator with period `every` that last rotated at `last` (or was attached at
/// `since`) is next due.
pub fn due_at(every: Option<u64>, last: Option<i64>, since: i64) -> Option<i64> {
    let every = i64::try_from(every?).ok()?;
    Some(last.unwrap_or(since).saturating_add(every))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for s in ["30d", "12h", "90s", "2w", "15m"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
        for s in ["", "d", "10", "10y", "-1d", "1.5d", "99999999999999w"] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
    }

    #[test]
    fn due_from_last_or_attach_time() {
        assert_eq!(due_at(Some(10), None, 100), Some(110));
        assert_eq!(due_at(Some(10), Some(200), 100), Some(210));
        assert_eq!(due_at(None, Some(200), 100), None);
    }
}
