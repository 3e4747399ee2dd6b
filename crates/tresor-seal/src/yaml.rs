//! YAML documents, block style: mappings (`key: value`) and sequences (`- value`) nested by
//! indentation, `#` comments, one document (an optional leading `---`). A value is a scalar on
//! its line (plain, `"…"`, `'…'`), a block scalar (`|` or `>` and its more-indented lines) or a
//! flow collection on one line (`[…]`, `{…}`, sealed as one value). Plain or quoted scalars
//! continued on further lines, several documents, tabs for indentation and complex keys are
//! refused with the line named: the scanner keeps exact byte spans, so comments, anchors,
//! layout and order stay as written.

use crate::error::{Result, syntax};
use crate::{KeyPath, Leaf, MAX_DEPTH, check_count};

struct Frame {
    indent: usize,
    path: Vec<String>,
    seq: bool,
    next: usize,
    keys: std::collections::HashSet<String>,
}

struct Pending {
    indent: usize,
    path: Vec<String>,
    /// A mapping value may be a sequence at the key's own indentation.
    same_seq: bool,
}

/// The values of `text`, in order.
pub(crate) fn scan(text: &str) -> Result<Vec<Leaf>> {
    let mut lines = Vec::new();
    let mut s = 0;
    for (i, c) in text.bytes().enumerate() {
        if c == b'\n' {
            lines.push((s, i));
            s = i + 1;
        }
    }
    if s < text.len() {
        lines.push((s, text.len()));
    }
    let mut st = State {
        t: text,
        lines,
        frames: Vec::new(),
        pending: None,
        leaves: Vec::new(),
    };
    let mut li = 0;
    let mut seen = false;
    while li < st.lines.len() {
        let (ls, le) = st.lines[li];
        let line = text[ls..le].trim_end_matches('\r');
        let trimmed = line.trim_start_matches(' ');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            li += 1;
            continue;
        }
        if trimmed.starts_with('\t') {
            return Err(syntax(text, ls, "tabs cannot indent YAML"));
        }
        crate::check_marker(text, ls)?;
        let indent = line.len() - trimmed.len();
        if indent == 0 && (trimmed == "---" || trimmed.starts_with("--- ") || trimmed == "...") {
            if seen || trimmed != "---" {
                return Err(syntax(text, ls, "one YAML document per sealed file"));
            }
            li += 1;
            continue;
        }
        seen = true;
        li = st.entry(li, indent, ls + indent)?;
    }
    Ok(st.leaves)
}

struct State<'a> {
    t: &'a str,
    lines: Vec<(usize, usize)>,
    frames: Vec<Frame>,
    pending: Option<Pending>,
    leaves: Vec<Leaf>,
}

fn is_item(s: &str) -> bool {
    s == "-" || s.starts_with("- ") || s.starts_with("-\r")
}

impl State<'_> {
    fn line_end(&self, li: usize) -> usize {
        let (ls, le) = self.lines[li];
        ls + self.t[ls..le].trim_end_matches('\r').len()
    }

    /// One entry (sequence item or mapping key) starting at byte `pos`, column `col`, on line
    /// `li`; returns the next line to read.
    fn entry(&mut self, li: usize, col: usize, pos: usize) -> Result<usize> {
        let t = self.t;
        let le = self.line_end(li);
        let content = &t[pos..le];
        let item = is_item(content);
        while self.frames.last().is_some_and(|f| f.indent > col) {
            self.frames.pop();
        }
        if !item && self.frames.last().is_some_and(|f| f.indent == col && f.seq) {
            // `key:` followed by `- a` at the key's own indentation: that sequence ends here.
            let is_pending_seq = self.frames.len() >= 2
                && self.frames[self.frames.len() - 2].indent == col
                && !self.frames[self.frames.len() - 2].seq;
            if is_pending_seq {
                self.frames.pop();
            }
        }
        let fits = self
            .frames
            .last()
            .is_some_and(|f| f.indent == col && f.seq == item);
        if fits && self.pending.is_none() {
            // the current container
        } else if let Some(p) = self.pending.take() {
            let ok = col > p.indent || (item && p.same_seq && col == p.indent);
            if !ok {
                // the pending key had no nested value: it is an empty (null) value
                if self
                    .frames
                    .last()
                    .is_some_and(|f| f.indent == col && f.seq == item)
                {
                    return self.entry_in_frame(li, col, pos, item);
                }
                return Err(syntax(t, pos, "unexpected indentation"));
            }
            if self.frames.len() >= MAX_DEPTH {
                return Err(syntax(t, pos, "nested deeper than 64 levels"));
            }
            self.frames.push(Frame {
                indent: col,
                path: p.path,
                seq: item,
                next: 0,
                keys: Default::default(),
            });
        } else if self.frames.is_empty() && self.leaves.is_empty() {
            self.frames.push(Frame {
                indent: col,
                path: Vec::new(),
                seq: item,
                next: 0,
                keys: Default::default(),
            });
        } else if !fits {
            return Err(syntax(t, pos, "unexpected indentation"));
        }
        self.entry_in_frame(li, col, pos, item)
    }

    fn entry_in_frame(&mut self, li: usize, col: usize, pos: usize, item: bool) -> Result<usize> {
        let t = self.t;
        let le = self.line_end(li);
        let f = self.frames.last_mut().expect("a frame");
        if item {
            let idx = f.next;
            f.next += 1;
            let mut path = f.path.clone();
            path.push(idx.to_string());
            let mut p = pos + 1;
            while p < le && t.as_bytes()[p] == b' ' {
                p += 1;
            }
            let rest = &t[p..le];
            if rest.is_empty() || rest.starts_with('#') {
                self.pending = Some(Pending {
                    indent: col,
                    path,
                    same_seq: false,
                });
                return Ok(li + 1);
            }
            if is_item(rest) {
                return Err(syntax(
                    t,
                    p,
                    "'- -' (a sequence directly in a sequence item) is not supported; put the inner list on its own lines",
                ));
            }
            if key_end(rest).is_some() {
                let c2 = col + (p - pos);
                if self.frames.len() >= MAX_DEPTH {
                    return Err(syntax(t, pos, "nested deeper than 64 levels"));
                }
                self.frames.push(Frame {
                    indent: c2,
                    path,
                    seq: false,
                    next: 0,
                    keys: Default::default(),
                });
                return self.entry_in_frame(li, c2, p, false);
            }
            return self.scalar(li, col, p, path);
        }
        let content = &t[pos..le];
        if content.starts_with("? ") || content == "?" {
            return Err(syntax(t, pos, "complex keys ('? ') are not supported"));
        }
        let Some((kend, vstart)) = key_end(content) else {
            return Err(syntax(t, pos, "expected 'key: value' or '- value'"));
        };
        let key = unquote(content[..kend].trim_end());
        if !f.keys.insert(key.clone()) {
            return Err(syntax(
                t,
                pos,
                format!("duplicate key '{}'", key.escape_debug()),
            ));
        }
        let mut path = f.path.clone();
        path.push(key);
        let mut p = pos + vstart;
        while p < le && t.as_bytes()[p] == b' ' {
            p += 1;
        }
        let rest = &t[p..le];
        if rest.is_empty() || rest.starts_with('#') {
            self.pending = Some(Pending {
                indent: col,
                path,
                same_seq: true,
            });
            return Ok(li + 1);
        }
        self.scalar(li, col, p, path)
    }

    /// A scalar value starting at `p` on line `li`, its entry at column `col`.
    fn scalar(&mut self, li: usize, col: usize, p: usize, path: Vec<String>) -> Result<usize> {
        let t = self.t;
        let b = t.as_bytes();
        let le = self.line_end(li);
        let c = b[p];
        let mut next = li + 1;
        let end = match c {
            b'|' | b'>' => {
                let mut end = le;
                let mut k = li + 1;
                while k < self.lines.len() {
                    let (ls, _) = self.lines[k];
                    let e = self.line_end(k);
                    let line = &t[ls..e];
                    let ind = line.len() - line.trim_start_matches(' ').len();
                    if line.trim().is_empty() {
                        k += 1;
                        continue;
                    }
                    if ind <= col {
                        break;
                    }
                    end = e;
                    k += 1;
                    next = k;
                }
                let hdr = &t[p + 1..le];
                let hdr = hdr.split(" #").next().unwrap_or("").trim();
                if !hdr.chars().all(|c| matches!(c, '+' | '-' | '1'..='9')) {
                    return Err(syntax(t, p, "invalid block scalar header"));
                }
                end
            }
            b'"' | b'\'' => {
                let mut k = p + 1;
                loop {
                    if k >= le {
                        return Err(syntax(
                            t,
                            p,
                            "a quoted scalar must end on its line (use '|' for text on several lines)",
                        ));
                    }
                    if c == b'"' && b[k] == b'\\' {
                        k += 2;
                        continue;
                    }
                    if b[k] == c {
                        if c == b'\'' && k + 1 < le && b[k + 1] == b'\'' {
                            k += 2;
                            continue;
                        }
                        break;
                    }
                    k += 1;
                }
                k + 1
            }
            b'[' | b'{' => {
                let mut depth = 0usize;
                let mut k = p;
                let mut q: Option<u8> = None;
                loop {
                    if k >= le {
                        return Err(syntax(t, p, "a flow collection must end on its line"));
                    }
                    match (q, b[k]) {
                        (Some(b'"'), b'\\') => k += 1,
                        (Some(x), y) if x == y => q = None,
                        (Some(_), _) => {}
                        (None, b'"' | b'\'') => q = Some(b[k]),
                        (None, b'[' | b'{') => depth += 1,
                        (None, b']' | b'}') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    k += 1;
                }
                k + 1
            }
            _ => {
                let mut e = p;
                while e < le && !(b[e] == b'#' && matches!(b[e - 1], b' ' | b'\t')) {
                    e += 1;
                }
                while e > p && matches!(b[e - 1], b' ' | b'\t') {
                    e -= 1;
                }
                e
            }
        };
        if !matches!(c, b'|' | b'>') {
            let rest = t[end..le].trim_start();
            if !rest.is_empty() && !rest.starts_with('#') {
                return Err(syntax(t, end, "unexpected text after the value"));
            }
            // A plain scalar continued on a more-indented line.
            let mut k = li + 1;
            while k < self.lines.len() {
                let (ls, _) = self.lines[k];
                let line = &t[ls..self.line_end(k)];
                let tr = line.trim_start_matches(' ');
                if tr.is_empty() || tr.starts_with('#') {
                    k += 1;
                    continue;
                }
                if line.len() - tr.len() > col {
                    return Err(syntax(
                        t,
                        ls,
                        "a value continued on another line is not supported (quote it or use '|')",
                    ));
                }
                break;
            }
        }
        self.leaves.push(Leaf {
            path: KeyPath(path),
            span: p..end,
        });
        check_count(self.leaves.len())?;
        Ok(next)
    }
}

/// Where a mapping key ends in `s` (`key: …` or `key:` at the end), and where its value
/// begins; `None` if `s` is no mapping entry.
fn key_end(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut k = 0;
    if matches!(b.first(), Some(b'"' | b'\'')) {
        let q = b[0];
        k = 1;
        while k < b.len() && b[k] != q {
            if b[k] == b'\\' && q == b'"' {
                k += 1;
            }
            k += 1;
        }
        k += 1;
        if k > b.len() {
            return None;
        }
        if b.get(k) == Some(&b':') && (k + 1 == b.len() || b[k + 1] == b' ') {
            return Some((k, k + 1));
        }
        return None;
    }
    if matches!(
        b.first(),
        Some(b'[' | b'{' | b'#' | b'|' | b'>' | b'&' | b'*' | b'!')
    ) {
        return None;
    }
    while k < b.len() {
        if b[k] == b':' && (k + 1 == b.len() || b[k + 1] == b' ') {
            return Some((k, k + 1));
        }
        if b[k] == b'#' && k > 0 && b[k - 1] == b' ' {
            return None;
        }
        k += 1;
    }
    None
}

/// The text a token takes in YAML: a double-quoted scalar.
pub(crate) fn token_literal(token: &str) -> String {
    format!("\"{token}\"")
}

/// The token in a sealed value's raw text, if it is one.
pub(crate) fn token_of(raw: &str) -> Option<&str> {
    raw.strip_prefix('"')?.strip_suffix('"')
}

/// The value a raw YAML scalar stands for (quotes removed; block scalars joined), as an
/// environment variable would take it.
pub fn unquote(raw: &str) -> String {
    let r = raw.trim();
    if r.len() >= 2 && r.starts_with('"') && r.ends_with('"') {
        return serde_json::from_str::<String>(r).unwrap_or_else(|_| r[1..r.len() - 1].to_owned());
    }
    if r.len() >= 2 && r.starts_with('\'') && r.ends_with('\'') {
        return r[1..r.len() - 1].replace("''", "'");
    }
    if let Some(rest) = r.strip_prefix('|').or_else(|| r.strip_prefix('>')) {
        let folded = r.starts_with('>');
        let body: Vec<&str> = rest.lines().skip(1).collect();
        let ind = body
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        let lines: Vec<&str> = body.iter().map(|l| l.get(ind..).unwrap_or("")).collect();
        let mut s = lines.join(if folded { " " } else { "\n" });
        s.push('\n');
        return s;
    }
    r.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(t: &str) -> Vec<(String, String)> {
        scan(t)
            .unwrap()
            .iter()
            .map(|l| (l.path.dotted(), t[l.span.clone()].to_owned()))
            .collect()
    }

    #[test]
    fn spans() {
        let t = "---\n# top\ndb:\n  user: admin # inline\n  pass: \"s3 cr#t\"\n  hosts:\n  - a\n  - b: 1\n    c: 'it''s'\nkey: |\n  line1\n\n  line2\nflow: [1, \"x]\"]\nlast:\n";
        assert_eq!(
            pairs(t),
            vec![
                ("db.user".into(), "admin".into()),
                ("db.pass".into(), "\"s3 cr#t\"".into()),
                ("db.hosts.0".into(), "a".into()),
                ("db.hosts.1.b".into(), "1".into()),
                ("db.hosts.1.c".into(), "'it''s'".into()),
                ("key".into(), "|\n  line1\n\n  line2".into()),
                ("flow".into(), "[1, \"x]\"]".into()),
            ]
        );
        assert_eq!(unquote("|\n  line1\n  line2"), "line1\nline2\n");
    }

    #[test]
    fn refusals() {
        for (t, line) in [
            ("a: 1\na: 2\n", 2),
            ("a: \"open\n", 1),
            ("a: plain\n  more\n", 2),
            ("a:\n\tb: 1\n", 2),
            ("a: 1\n---\nb: 2\n", 2),
            ("a: 1\n   b: 2\n", 2),
        ] {
            let e = scan(t).unwrap_err().to_string();
            assert!(e.contains(&format!("line {line}")), "{t:?}: {e}");
        }
    }
}
