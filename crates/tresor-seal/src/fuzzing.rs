//! Entry point for the `cargo fuzz` target `seal` (`fuzz/fuzz_targets/seal.rs`); not a stable
//! API.
//!
//! The first byte picks the format (bits 0–1: `.env`, JSON, YAML, TOML) and the mode (bit 2);
//! the rest is the file (UTF-8). Every input goes through the format's scanner, the header
//! reader and [`crate::open`] (an attacker's sealed file, as `unseal`/`git merge` read it).
//! In seal mode, a text the scanner accepts is sealed to a fixed test identity, and the
//! sealed file must open to exactly the text, reseal to itself byte for byte, and be refused
//! after any one byte is changed.

use std::str::FromStr;
use std::sync::OnceLock;

use crate::{Format, Identity, header, open, seal};

/// A test identity, not a secret: it seals and opens the fuzzer's files.
const TEST_IDENTITY: &str =
    "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX";

fn identity() -> &'static (String, age::x25519::Identity) {
    static ID: OnceLock<(String, age::x25519::Identity)> = OnceLock::new();
    ID.get_or_init(|| {
        let id = age::x25519::Identity::from_str(TEST_IDENTITY).expect("a valid test identity");
        (id.to_public().to_string(), id)
    })
}

/// Runs one fuzz input (see the module documentation).
///
/// # Panics
/// When a scanner gives a span outside the text or out of order, or a sealed file does not
/// round-trip, or a changed sealed file opens.
pub fn fuzz_seal(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = [Format::Dotenv, Format::Json, Format::Yaml, Format::Toml][usize::from(sel & 3)];
    // Scanner: spans inside the text, on character boundaries, in order, not overlapping.
    let spans = format.scan_spans(text);
    if let Ok(spans) = &spans {
        let mut last = 0;
        for s in spans {
            assert!(
                s.start >= last && s.start <= s.end && s.end <= text.len(),
                "{format:?}: bad span {s:?}"
            );
            assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
            last = s.end;
        }
    }
    // Header reader and the whole open path, on the input as a sealed file.
    if let Ok(Some((body, h))) = header::split(format, text) {
        assert!(body.len() <= text.len());
        let _ = header::join(format, &body, &h);
    }
    let (rcpt, id) = identity();
    let ids: Vec<Identity> = vec![Box::new(id.clone())];
    let _ = open(text, format, &ids).map(|o| o.plaintext_view().map(|_| ()));
    if sel & 4 == 0 || spans.is_err() {
        return;
    }
    // Seal mode.
    let Ok(sealed) = seal(text, format, std::slice::from_ref(rcpt)) else {
        return;
    };
    let o = open(&sealed, format, &ids).expect("a file just sealed opens");
    // The comment header starts on a line of its own: a last line without '\n' gets one.
    let want = if format != Format::Json && !text.is_empty() && !text.ends_with('\n') {
        format!("{text}\n")
    } else {
        text.to_owned()
    };
    assert_eq!(
        o.plaintext(),
        want,
        "{format:?}: the round trip changed the text"
    );
    assert_eq!(
        o.reseal(&want).expect("reseal"),
        sealed,
        "{format:?}: reseal not byte for byte"
    );
    let at = usize::from(sel >> 3) * sealed.len() / 32;
    let mut b = sealed.clone().into_bytes();
    if let Some(c) = b.get_mut(at) {
        *c = if *c == b'A' { b'B' } else { b'A' };
        if let Ok(t) = String::from_utf8(b)
            && t != sealed
        {
            assert!(
                open(&t, format, &ids).is_err(),
                "{format:?}: a changed byte at {at} was accepted"
            );
        }
    }
}
