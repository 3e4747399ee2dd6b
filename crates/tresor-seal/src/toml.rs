//! TOML documents, parsed by `toml_edit` (which keeps each value's byte span): every value
//! that is not a table (strings, numbers, booleans, dates, and arrays as one value) is sealed;
//! tables, inline tables and arrays of tables are structure, in clear, as are comments.

use crate::error::{Result, SealError, syntax};
use crate::{KeyPath, Leaf, MAX_DEPTH, check_count};

/// The values of `text`, in document order.
pub(crate) fn scan(text: &str) -> Result<Vec<Leaf>> {
    let doc = toml_edit::ImDocument::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        syntax(text, at, e.message().trim().to_owned())
    })?;
    let mut out = Vec::new();
    table(text, doc.as_table(), &mut Vec::new(), &mut out, 0)?;
    out.sort_by_key(|l| l.span.start);
    Ok(out)
}

fn table(
    text: &str,
    t: &toml_edit::Table,
    path: &mut Vec<String>,
    out: &mut Vec<Leaf>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(SealError::TooLarge("nested deeper than 64 levels".into()));
    }
    for (k, item) in t.iter() {
        path.push(k.to_owned());
        match item {
            toml_edit::Item::None => {}
            toml_edit::Item::Value(v) => value(text, v, path, out, depth + 1)?,
            toml_edit::Item::Table(t) => table(text, t, path, out, depth + 1)?,
            toml_edit::Item::ArrayOfTables(a) => {
                for (i, t) in a.iter().enumerate() {
                    path.push(i.to_string());
                    table(text, t, path, out, depth + 1)?;
                    path.pop();
                }
            }
        }
        path.pop();
    }
    Ok(())
}

fn value(
    text: &str,
    v: &toml_edit::Value,
    path: &mut Vec<String>,
    out: &mut Vec<Leaf>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(SealError::TooLarge("nested deeper than 64 levels".into()));
    }
    if let toml_edit::Value::InlineTable(t) = v {
        for (k, v) in t.iter() {
            path.push(k.to_owned());
            value(text, v, path, out, depth + 1)?;
            path.pop();
        }
        return Ok(());
    }
    let Some(span) = v.span() else {
        return Err(syntax(
            text,
            0,
            format!("no position for the value of {}", path.join(".")),
        ));
    };
    out.push(Leaf {
        path: KeyPath(path.clone()),
        span,
    });
    check_count(out.len())
}

/// The text a token takes in TOML: a basic string.
pub(crate) fn token_literal(token: &str) -> String {
    format!("\"{token}\"")
}

/// The token in a sealed value's raw text, if it is one.
pub(crate) fn token_of(raw: &str) -> Option<&str> {
    raw.strip_prefix('"')?.strip_suffix('"')
}

/// The value a raw TOML value stands for, as an environment variable would take it: strings
/// unquoted, anything else as written.
pub fn unquote(raw: &str) -> String {
    match raw.parse::<toml_edit::Value>() {
        Ok(toml_edit::Value::String(s)) => s.value().clone(),
        _ => raw.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        let t = "# c\ntitle = \"x\" # note\n[db]\nport = 5432\nhosts = [\"a\", \"b\"]\ninline = { user = 'u', n = 1 }\n[[srv]]\nname = \"\"\"multi\nline\"\"\"\n";
        let got: Vec<(String, &str)> = scan(t)
            .unwrap()
            .iter()
            .map(|l| (l.path.dotted(), &t[l.span.clone()]))
            .collect();
        assert_eq!(
            got,
            vec![
                ("title".into(), "\"x\""),
                ("db.port".into(), "5432"),
                ("db.hosts".into(), "[\"a\", \"b\"]"),
                ("db.inline.user".into(), "'u'"),
                ("db.inline.n".into(), "1"),
                ("srv.0.name".into(), "\"\"\"multi\nline\"\"\""),
            ]
        );
        assert!(
            scan("a = 1\na = 2\n")
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
    }
}
