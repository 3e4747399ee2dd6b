//! JSON documents: every scalar (string, number, true, false, null) is a value, found by a
//! bounded scanner that keeps each one's byte span; objects and arrays are structure, kept in
//! clear. The top level must be an object (the seal header is one of its members).

use std::ops::Range;

use crate::error::{Result, syntax};
use crate::{KeyPath, Leaf, MAX_DEPTH, check_count};

/// A member of the top-level object: its name and its span from the key's opening quote to
/// the end of its value.
#[derive(Debug)]
pub(crate) struct Member {
    pub name: String,
    pub span: Range<usize>,
    pub value: Range<usize>,
}

/// The values and top-level members of `text`.
pub(crate) fn scan(text: &str) -> Result<(Vec<Leaf>, Vec<Member>)> {
    let mut s = Scanner {
        t: text,
        b: text.as_bytes(),
        p: 0,
        leaves: Vec::new(),
        members: Vec::new(),
    };
    s.ws();
    if s.peek() != Some(b'{') {
        return Err(syntax(
            text,
            s.p,
            "a sealed JSON file must be an object at the top level",
        ));
    }
    let mut path = Vec::new();
    s.value(&mut path, 0)?;
    s.ws();
    if s.p != s.b.len() {
        return Err(syntax(text, s.p, "unexpected text after the JSON document"));
    }
    Ok((s.leaves, s.members))
}

struct Scanner<'a> {
    t: &'a str,
    b: &'a [u8],
    p: usize,
    leaves: Vec<Leaf>,
    members: Vec<Member>,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.p).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.p += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T> {
        Err(syntax(self.t, self.p, what))
    }

    fn value(&mut self, path: &mut Vec<String>, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return self.err("nested deeper than 64 levels");
        }
        self.ws();
        match self.peek() {
            Some(b'{') => {
                self.p += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.p += 1;
                    return Ok(());
                }
                let mut seen = std::collections::HashSet::new();
                loop {
                    self.ws();
                    let kstart = self.p;
                    if self.peek() != Some(b'"') {
                        return self.err("expected a quoted key");
                    }
                    self.string()?;
                    let name: String = serde_json::from_str(&self.t[kstart..self.p])
                        .or_else(|_| self.err("invalid key string"))?;
                    if !seen.insert(name.clone()) {
                        return Err(syntax(
                            self.t,
                            kstart,
                            format!("duplicate key '{}'", name.escape_debug()),
                        ));
                    }
                    self.ws();
                    if self.peek() != Some(b':') {
                        return self.err("expected ':'");
                    }
                    self.p += 1;
                    self.ws();
                    let vstart = self.p;
                    path.push(name.clone());
                    self.value(path, depth + 1)?;
                    path.pop();
                    if depth == 0 {
                        self.members.push(Member {
                            name,
                            span: kstart..self.p,
                            value: vstart..self.p,
                        });
                    }
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.p += 1,
                        Some(b'}') => {
                            self.p += 1;
                            return Ok(());
                        }
                        None => return self.err("unexpected end of the document (truncated?)"),
                        _ => return self.err("expected ',' or '}'"),
                    }
                }
            }
            Some(b'[') => {
                self.p += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.p += 1;
                    return Ok(());
                }
                let mut i = 0usize;
                loop {
                    path.push(i.to_string());
                    self.value(path, depth + 1)?;
                    path.pop();
                    i += 1;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.p += 1,
                        Some(b']') => {
                            self.p += 1;
                            return Ok(());
                        }
                        None => return self.err("unexpected end of the document (truncated?)"),
                        _ => return self.err("expected ',' or ']'"),
                    }
                }
            }
            Some(_) => {
                let start = self.p;
                if self.peek() == Some(b'"') {
                    self.string()?;
                } else {
                    while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || b"+-.".contains(&c))
                    {
                        self.p += 1;
                    }
                    if self.p == start {
                        return self.err("expected a value");
                    }
                }
                let raw = &self.t[start..self.p];
                if serde_json::from_str::<serde_json::Value>(raw).is_err() {
                    return Err(syntax(self.t, start, "invalid JSON value"));
                }
                self.leaves.push(Leaf {
                    path: KeyPath(path.clone()),
                    span: start..self.p,
                });
                check_count(self.leaves.len())
            }
            None => self.err("unexpected end of the document (truncated?)"),
        }
    }

    fn string(&mut self) -> Result<()> {
        self.p += 1;
        loop {
            match self.peek() {
                None | Some(b'\n') => return self.err("unterminated string"),
                Some(b'\\') => self.p += 2,
                Some(b'"') => {
                    self.p += 1;
                    return Ok(());
                }
                Some(_) => self.p += 1,
            }
        }
    }
}

/// The text a token takes in JSON: a string.
pub(crate) fn token_literal(token: &str) -> String {
    format!("\"{token}\"")
}

/// The token in a sealed value's raw text, if it is one.
pub(crate) fn token_of(raw: &str) -> Option<&str> {
    raw.strip_prefix('"')?.strip_suffix('"')
}

/// The value a raw JSON scalar stands for, as an environment variable would take it: a
/// string unquoted, anything else as written.
pub fn unquote(raw: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::String(s)) => s,
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_paths() {
        let t = "{\n  \"a\": \"x\",\n  \"b\": {\"c\": [1, true, null]},\n  \"d\": -1.5e3\n}\n";
        let (l, m) = scan(t).unwrap();
        let got: Vec<(String, &str)> = l
            .iter()
            .map(|l| (l.path.dotted(), &t[l.span.clone()]))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), "\"x\""),
                ("b.c.0".into(), "1"),
                ("b.c.1".into(), "true"),
                ("b.c.2".into(), "null"),
                ("d".into(), "-1.5e3")
            ]
        );
        assert_eq!(m.len(), 3);
        assert!(scan("{\"a\":1,\"a\":2}").is_err());
        assert!(
            scan("{\"a\":1")
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        assert!(scan(&deep).unwrap_err().to_string().contains("deeper"));
    }
}
