//! `tresor run --mask`: the child's stdout and stderr pass through tresor, which replaces
//! every secret value it injected — and the usual encodings of it — by
//! [`CONCEALED`], as the bytes stream by.
//!
//! What is replaced, for each injected value of at least [`MIN_LEN`] bytes:
//! - the value itself;
//! - its base64, standard and URL-safe alphabets, with and without `=` padding, and the part
//!   of its base64 that is the same wherever the value sits inside a longer base64 text (the
//!   three byte alignments: `Authorization: Basic base64(user:password)` is caught);
//! - its URL encodings: RFC 3986 (everything but `A-Za-z0-9-._~` as `%XX`, upper- and
//!   lower-case hex), JavaScript's `encodeURIComponent` (also keeps `!'()*`), and form
//!   encoding (space as `+`).
//!
//! Streaming: a match is replaced only once it is complete, and the bytes that could still
//! be the start of a value (the longest end of what was read that is a prefix of some
//! pattern, so at most the longest pattern less one byte) are held back until more output
//! comes or the stream ends. A value split across writes, across reads, or written a byte at
//! a time with pauses is still replaced; output that cannot be the start of a value is passed
//! on at once (a prompt without a newline is not held).
//!
//! Best effort, as `op run`'s: see the threat model for what it does not catch.

use std::io::IsTerminal as _;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use clap::Args;
use zeroize::Zeroizing;

/// What replaces a secret in the child's output.
pub const CONCEALED: &[u8] = b"<concealed by tresor>";

/// Values shorter than this are not masked: replacing every `1` or `on` in the output would
/// garble it and tell which short strings are secrets.
pub const MIN_LEN: usize = 4;

/// `run --mask` / `--no-mask`.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct MaskArgs {
    /// Replace the injected secret values (and their base64 and URL-encoded forms) in the
    /// command's stdout and stderr by `<concealed by tresor>`. On by default when stdout is not
    /// a terminal (CI logs, pipes, files); best effort: see the threat model.
    #[arg(long, overrides_with = "no_mask")]
    pub mask: bool,
    /// Pass the command's output through untouched (tresor replaces itself by the command).
    #[arg(long, overrides_with = "mask")]
    pub no_mask: bool,
}

impl MaskArgs {
    /// Whether to mask: `--mask`, `--no-mask`, else when stdout is not a terminal.
    pub fn enabled(&self) -> bool {
        if self.no_mask {
            false
        } else {
            self.mask || !std::io::stdout().is_terminal()
        }
    }
}

/// The compiled patterns of a set of secret values.
pub struct Masker {
    ac: AhoCorasick,
    /// Every pattern, sorted: to tell whether the end of a buffer may start one.
    sorted: Vec<Zeroizing<Vec<u8>>>,
    longest: usize,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masker")
            .field("patterns", &self.sorted.len())
            .finish_non_exhaustive()
    }
}

/// Percent-encodes `v`, leaving the bytes `keep` accepts; `plus`: space as `+`.
fn percent(v: &[u8], keep: impl Fn(u8) -> bool, plus: bool, upper: bool) -> Vec<u8> {
    let hex: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = Vec::with_capacity(v.len() * 3);
    for &b in v {
        if keep(b) {
            out.push(b);
        } else if plus && b == b' ' {
            out.push(b'+');
        } else {
            out.extend([b'%', hex[usize::from(b >> 4)], hex[usize::from(b & 15)]]);
        }
    }
    out
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The base64 characters fully determined by `v` when it starts `k` bytes (0..3) into a
/// longer base64-encoded text.
fn base64_core(engine: &impl base64::Engine, v: &[u8], k: usize) -> Vec<u8> {
    let mut padded = vec![0u8; k];
    padded.extend_from_slice(v);
    let enc = engine.encode(&padded);
    let (lo, hi) = (8 * k, 8 * (k + v.len()));
    enc.bytes()
        .enumerate()
        .filter(|&(i, _)| 6 * i >= lo && 6 * i + 6 <= hi)
        .map(|(_, c)| c)
        .collect()
}

/// The patterns that stand for one value.
fn forms(v: &[u8]) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut out = vec![v.to_vec()];
    for e in [&STANDARD, &URL_SAFE] {
        out.push(e.encode(v).into_bytes());
    }
    for e in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        out.push(e.encode(v).into_bytes());
        for k in 0..3 {
            out.push(base64_core(e, v, k));
        }
    }
    let js = |b: u8| unreserved(b) || matches!(b, b'!' | b'\'' | b'(' | b')' | b'*');
    for upper in [true, false] {
        out.push(percent(v, unreserved, false, upper));
        out.push(percent(v, unreserved, true, upper));
        out.push(percent(v, js, false, upper));
        out.push(percent(v, js, true, upper));
    }
    out.retain(|p| p.len() >= MIN_LEN);
    out
}

impl Masker {
    /// The masker for `values`; `None` when no value is long enough to mask. Values shorter
    /// than [`MIN_LEN`] are skipped (the caller says so).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<Masker> {
        let mut all: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        for v in values {
            if v.len() < MIN_LEN {
                continue;
            }
            all.extend(forms(v).into_iter().map(Zeroizing::new));
        }
        if all.is_empty() {
            return None;
        }
        all.sort_by(|a, b| a.as_slice().cmp(b.as_slice()));
        all.dedup_by(|a, b| a.as_slice() == b.as_slice());
        let sorted = all;
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(sorted.iter().map(|p| p.as_slice()))
            .ok()?;
        let longest = sorted.iter().map(|p| p.len()).max().unwrap_or(0);
        Some(Masker {
            ac,
            sorted,
            longest,
        })
    }

    /// Whether `tail` is a proper prefix of some pattern.
    fn may_start(&self, tail: &[u8]) -> bool {
        let i = self.sorted.partition_point(|p| p.as_slice() < tail);
        // The first pattern not below `tail` starts with it if any pattern does.
        self.sorted
            .get(i)
            .is_some_and(|p| p.len() > tail.len() && p.starts_with(tail))
    }

    /// A new stream (one per output of the child).
    pub fn stream(&self) -> MaskStream<'_> {
        MaskStream {
            m: self,
            buf: Zeroizing::new(Vec::new()),
        }
    }
}

/// One output stream being masked: what was read and not yet passed on.
pub struct MaskStream<'a> {
    m: &'a Masker,
    buf: Zeroizing<Vec<u8>>,
}

impl MaskStream<'_> {
    /// Takes `data` just read; appends to `out` what can be passed on now.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.buf.extend_from_slice(data);
        self.drain(false, out);
    }

    /// The stream ended: appends the rest to `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.drain(true, out);
    }

    fn drain(&mut self, eof: bool, out: &mut Vec<u8>) {
        let buf = &self.buf;
        let len = buf.len();
        // Where the held-back end starts: the longest end that may still grow into a pattern.
        let hold = if eof {
            len
        } else {
            let max = self.m.longest.saturating_sub(1).min(len);
            (1..=max)
                .rev()
                .find(|&k| self.m.may_start(&buf[len - k..]))
                .map_or(len, |k| len - k)
        };
        let mut pos = 0;
        for m in self.m.ac.find_iter(buf.as_slice()) {
            // A match starting before `hold` cannot grow any more (else the end from its
            // start would be a longer held prefix).
            if m.start() >= hold {
                break;
            }
            out.extend_from_slice(&buf[pos..m.start()]);
            out.extend_from_slice(CONCEALED);
            pos = m.end();
        }
        let cut = hold.max(pos);
        out.extend_from_slice(&buf[pos..cut]);
        let rest = Zeroizing::new(buf[cut..].to_vec());
        self.buf = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_all(m: &Masker, chunks: &[&[u8]]) -> String {
        let mut s = m.stream();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn whole_split_and_encoded() {
        let secret = b"s3cr3t p@ss/word+x";
        let m = Masker::new([secret.as_slice(), b"ab".as_slice()]).unwrap();
        let text = format!(
            "a {} b {} c {} d {} e ab",
            std::str::from_utf8(secret).unwrap(),
            base64::engine::general_purpose::STANDARD.encode(secret),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
            percent(secret, unreserved, false, true).escape_ascii()
        );
        let whole = mask_all(&m, &[text.as_bytes()]);
        assert_eq!(
            whole,
            "a <concealed by tresor> b <concealed by tresor> c <concealed by tresor> d <concealed by tresor> e ab"
        );
        // One byte at a time gives the same.
        let bytes: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
        assert_eq!(mask_all(&m, &bytes), whole);
        // Inside a longer base64 text, at each alignment.
        for pre in ["", "u", "us", "usr:"] {
            let mut v = pre.as_bytes().to_vec();
            v.extend_from_slice(secret);
            v.extend_from_slice(b"-tail");
            let b = base64::engine::general_purpose::STANDARD.encode(&v);
            let masked = mask_all(&m, &[b.as_bytes()]);
            assert!(masked.contains("<concealed by tresor>"), "{pre}: {masked}");
        }
    }

    #[test]
    fn output_that_cannot_start_a_value_is_not_held() {
        let m = Masker::new([b"hunter22".as_slice()]).unwrap();
        let mut s = m.stream();
        let mut out = Vec::new();
        s.push(b"Password: ", &mut out);
        assert_eq!(out, b"Password: ");
        out.clear();
        s.push(b"xx hun", &mut out);
        assert_eq!(out, b"xx ");
        out.clear();
        s.push(b"ter22!", &mut out);
        assert_eq!(out, b"<concealed by tresor>!");
    }
}
