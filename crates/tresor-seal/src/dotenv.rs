//! `.env` files: `KEY=value` lines, `export KEY=value`, quoted values (`"…"` with escapes and
//! several lines, `'…'`, `` `…` ``), `#` comments. A value's span is its raw text, quotes
//! included; an inline comment after it stays in clear.

use crate::error::{Result, syntax};
use crate::{KeyPath, Leaf, check_count};

/// Scans `text` for its values, in order. Refuses duplicate keys and lines that are neither
/// blank, a comment nor `KEY=VALUE`, naming the line.
pub(crate) fn scan(text: &str) -> Result<Vec<Leaf>> {
    let b = text.as_bytes();
    let mut out: Vec<Leaf> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut i = 0;
    while i < b.len() {
        let line_start = i;
        let line_end = memchr(b, i, b'\n');
        let mut p = skip_ws(b, i, line_end);
        if p == line_end || b[p] == b'#' {
            i = line_end + 1;
            continue;
        }
        crate::check_marker(text, line_start)?;
        if b[p..line_end].starts_with(b"export ") {
            p = skip_ws(b, p + 7, line_end);
        }
        let key_start = p;
        while p < line_end && (b[p].is_ascii_alphanumeric() || matches!(b[p], b'_' | b'.' | b'-')) {
            p += 1;
        }
        if p == key_start || b[key_start].is_ascii_digit() {
            return Err(syntax(
                text,
                line_start,
                "expected KEY=VALUE (a name of letters, digits and _)",
            ));
        }
        let key = &text[key_start..p];
        p = skip_ws(b, p, line_end);
        if p >= line_end || b[p] != b'=' {
            return Err(syntax(
                text,
                line_start,
                format!("expected '=' after {key}"),
            ));
        }
        p = skip_ws(b, p + 1, line_end);
        let (start, end) = if p < line_end && matches!(b[p], b'"' | b'\'' | b'`') {
            let q = b[p];
            let mut k = p + 1;
            loop {
                if k >= b.len() {
                    return Err(syntax(
                        text,
                        p,
                        format!("unterminated quoted value of {key}"),
                    ));
                }
                if b[k] == b'\\' && q == b'"' {
                    k += 2;
                    continue;
                }
                if b[k] == q {
                    break;
                }
                k += 1;
            }
            (p, k + 1)
        } else {
            let mut e = p;
            while e < line_end && !(b[e] == b'#' && e > p && matches!(b[e - 1], b' ' | b'\t')) {
                e += 1;
            }
            while e > p && matches!(b[e - 1], b' ' | b'\t' | b'\r') {
                e -= 1;
            }
            (p, e)
        };
        let rest_end = memchr(b, end, b'\n');
        let r = skip_ws(b, end, rest_end);
        // A comment right after a closing quote (`"v"#c`) is refused: sealed, the value becomes
        // a bare token, and a bare value runs on through a `#` with no space before it.
        if r == end
            && r < rest_end
            && b[r] == b'#'
            && b.get(start)
                .is_some_and(|c| matches!(c, b'"' | b'\'' | b'`'))
        {
            return Err(syntax(
                text,
                end,
                format!("a comment after the value of {key} needs a space before '#'"),
            ));
        }
        if r < rest_end && b[r] != b'#' && b[r] != b'\r' {
            return Err(syntax(
                text,
                end,
                format!("unexpected text after the value of {key}"),
            ));
        }
        if !seen.insert(key) {
            return Err(syntax(text, line_start, format!("duplicate key {key}")));
        }
        out.push(Leaf {
            path: KeyPath(vec![key.to_owned()]),
            span: start..end,
        });
        check_count(out.len())?;
        i = rest_end + 1;
    }
    Ok(out)
}

/// The (name, value) pairs of a plaintext `.env` text, values unquoted.
///
/// # Errors
/// [`crate::SealError::Syntax`] naming the line.
pub fn scan_pairs(text: &str) -> Result<Vec<(String, zeroize::Zeroizing<String>)>> {
    Ok(scan(text)?
        .into_iter()
        .map(|l| {
            let v = zeroize::Zeroizing::new(unquote(&text[l.span]));
            (l.path.0.into_iter().next().unwrap_or_default(), v)
        })
        .collect())
}

/// The text a token takes in a `.env` file: bare (base64url has no special character).
pub(crate) fn token_literal(token: &str) -> String {
    token.to_owned()
}

/// The token in a sealed value's raw text, if it is one.
pub(crate) fn token_of(raw: &str) -> Option<&str> {
    Some(raw)
}

/// The value a raw `.env` value stands for: quotes removed, `\n` `\r` `\t` `\"` `\\` expanded
/// in double quotes.
pub fn unquote(raw: &str) -> String {
    let b = raw.as_bytes();
    if b.len() >= 2 && b[0] == b'"' && b[b.len() - 1] == b'"' {
        let mut s = String::new();
        let mut it = raw[1..raw.len() - 1].chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                match it.next() {
                    Some('n') => s.push('\n'),
                    Some('r') => s.push('\r'),
                    Some('t') => s.push('\t'),
                    Some(o) => s.push(o),
                    None => s.push('\\'),
                }
            } else {
                s.push(c);
            }
        }
        s
    } else if b.len() >= 2 && (b[0] == b'\'' || b[0] == b'`') && b[b.len() - 1] == b[0] {
        raw[1..raw.len() - 1].to_owned()
    } else {
        raw.to_owned()
    }
}

/// A value quoted for a `.env` line: bare when it is safe, else double-quoted with escapes.
pub fn quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"_-.,:/@+=%".contains(&c))
    {
        return value.to_owned();
    }
    let mut s = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            o => s.push(o),
        }
    }
    s.push('"');
    s
}

fn memchr(b: &[u8], from: usize, c: u8) -> usize {
    b[from.min(b.len())..]
        .iter()
        .position(|&x| x == c)
        .map_or(b.len(), |p| from + p)
}

fn skip_ws(b: &[u8], mut p: usize, end: usize) -> usize {
    while p < end && matches!(b[p], b' ' | b'\t') {
        p += 1;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        let t = "# c\nA=1\nexport B = \"x\\\"y\" # note\nC='multi\nline'\nD=plain # c\nE=\n";
        let l = scan(t).unwrap();
        let got: Vec<(&str, &str)> = l
            .iter()
            .map(|l| (l.path.0[0].as_str(), &t[l.span.clone()]))
            .collect();
        assert_eq!(
            got,
            vec![
                ("A", "1"),
                ("B", "\"x\\\"y\""),
                ("C", "'multi\nline'"),
                ("D", "plain"),
                ("E", "")
            ]
        );
        assert_eq!(unquote("\"a\\nb\""), "a\nb");
    }

    #[test]
    fn refusals_name_the_line() {
        assert!(
            scan("A=1\nA=2\n")
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
        assert!(
            scan("A=1\nnot a line\n")
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
        assert!(
            scan("A=\"open\n")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
        // Found by the `seal` fuzz target: sealed, `"v"#c` became `TOKEN#c`, which read back
        // as one bare value. A space before the comment keeps it a comment.
        let e = scan("A=1\nB=\"s3cr3t\"# rotated\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("space before '#'"),
            "{e}"
        );
        assert_eq!(scan("B=\"s3cr3t\" # rotated\n").unwrap().len(), 1);
        assert_eq!(scan("B=s3cr3t#notacomment\n").unwrap().len(), 1);
    }
}
