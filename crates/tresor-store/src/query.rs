//! Locate queries, answered from indexes.

use crate::model::{Attributes, ObjectMeta, ObjectType, State};

/// A condition on an indexed attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttrCond {
    /// The attribute equals the value (or one element of an array attribute does).
    Eq(String, String),
    /// The attribute starts with the prefix.
    Prefix(String, String),
    /// The attribute is present.
    Exists(String),
    /// The attribute equals one of the values.
    In(String, Vec<String>),
}

impl AttrCond {
    /// The attribute (or `attr.field` of a structure) the condition is on.
    pub fn attr(&self) -> &str {
        match self {
            AttrCond::Eq(a, _)
            | AttrCond::Prefix(a, _)
            | AttrCond::Exists(a)
            | AttrCond::In(a, _) => a,
        }
    }

    /// Returns true if and only if `rows` (an object's [`index_rows`]) satisfy the condition.
    fn holds(&self, rows: &[(String, String)]) -> bool {
        let mut values = rows
            .iter()
            .filter(|(a, _)| a == self.attr())
            .map(|(_, v)| v);
        match self {
            AttrCond::Eq(_, x) => values.any(|v| v == x),
            AttrCond::Prefix(_, p) => values.any(|v| v.starts_with(p.as_str())),
            AttrCond::Exists(_) => values.next().is_some(),
            AttrCond::In(_, xs) => values.any(|v| xs.contains(v)),
        }
    }
}

/// Attribute index rows (`attr` or `attr.field`) the store keeps no index entry for.
///
/// Every index entry of a new object lands on its own b-tree leaf (the index is ordered by
/// attribute first), so each one is a page written and fsync'd by the commit: a KMIP key with
/// every attribute indexed cost ~30 WAL pages per Create, 17–20 of them index leaves. These
/// rows never narrow a search: flags that half the store shares, fields of structures that
/// are the same for every key of a kind, and dates, which Locate compares as ranges on the
/// candidates. A [`Query`] may still name them: [`crate::Store::locate`] checks such
/// conditions on the objects the indexed conditions found (see [`Query::matches`]).
const UNINDEXED: &[&str] = &[
    "Sensitive",
    "Extractable",
    "Always Sensitive",
    "Never Extractable",
    "Fresh",
    "Key Format Type",
    "Digest.HashingAlgorithm",
    "Digest.KeyFormatType",
];

/// Returns true if and only if the store indexes attribute row `attr` (an attribute name, or
/// `attr.field` for a field of a structure attribute), so a [`Query`] condition on it is
/// answered from the index rather than checked on candidates.
pub(crate) fn is_indexed(attr: &str) -> bool {
    !(UNINDEXED.contains(&attr)
        || attr.ends_with(" Date")
        || attr.starts_with("Random Number Generator."))
}

/// The attribute rows of `attrs` as the store sees them: scalars, each element of an array,
/// and one level of structure fields as `attr.field` (deeper values are not indexed).
pub(crate) fn index_rows(attrs: &Attributes) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in attrs {
        push_rows(k, v, &mut out);
    }
    out
}

/// The rows the SQL backends write to their attribute index: [`index_rows`] that are
/// [`is_indexed`].
pub(crate) fn indexed_rows(attrs: &Attributes) -> Vec<(String, String)> {
    let mut rows = index_rows(attrs);
    rows.retain(|(a, _)| is_indexed(a));
    rows
}

fn push_rows(name: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::String(s) => out.push((name.to_owned(), s.clone())),
        Value::Number(n) => out.push((name.to_owned(), n.to_string())),
        Value::Bool(b) => out.push((name.to_owned(), b.to_string())),
        Value::Array(a) => a.iter().for_each(|x| push_rows(name, x, out)),
        Value::Object(m) => {
            for (k, x) in m {
                if !matches!(x, Value::Object(_) | Value::Array(_)) {
                    push_rows(&format!("{name}.{k}"), x, out);
                }
            }
        }
        Value::Null => {}
    }
}

/// What to look for; every set field must match. Results are ordered by primary name, then uid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Only this type.
    pub object_type: Option<ObjectType>,
    /// Only this state.
    pub state: Option<State>,
    /// Only objects of this owner.
    pub owner: Option<String>,
    /// Only the object with this exact name.
    pub name: Option<String>,
    /// Only objects with a name starting with this prefix (a range scan of the name index).
    pub name_prefix: Option<String>,
    /// Attribute conditions.
    pub attrs: Vec<AttrCond>,
    /// At most this many results.
    pub limit: Option<usize>,
    /// Skip this many results.
    pub offset: usize,
}

/// SQL dialect details for [`Query::to_sql`].
pub(crate) struct Dialect {
    /// Placeholder for the n-th (1-based) argument: `?1` (SQLite) or `$1` (PostgreSQL).
    pub placeholder: fn(usize) -> String,
    /// A `COLLATE` clause giving byte order for text comparisons ("" where already so).
    pub collate: &'static str,
}

impl Query {
    /// Returns true if and only if `m` satisfies every condition of the query (limit and
    /// offset aside): the answer the indexes give, computed from the object itself.
    pub fn matches(&self, m: &ObjectMeta) -> bool {
        self.object_type.is_none_or(|t| t == m.object_type)
            && self.state.is_none_or(|st| st == m.state)
            && self.owner.as_ref().is_none_or(|o| *o == m.owner)
            && self.name.as_ref().is_none_or(|n| m.names.contains(n))
            && self
                .name_prefix
                .as_ref()
                .is_none_or(|p| m.names.iter().any(|n| n.starts_with(p.as_str())))
            && (self.attrs.is_empty() || {
                let rows = index_rows(&m.attributes);
                self.attrs.iter().all(|c| c.holds(&rows))
            })
    }

    /// Splits off the conditions on attributes the store does not index: `None` when every
    /// condition is indexed, else the query the indexes answer (without limit and offset,
    /// which apply after the rest is checked) and the conditions left to check.
    pub(crate) fn split_unindexed(&self) -> Option<(Query, Vec<AttrCond>)> {
        let (indexed, rest): (Vec<AttrCond>, Vec<AttrCond>) = self
            .attrs
            .iter()
            .cloned()
            .partition(|c| is_indexed(c.attr()));
        if rest.is_empty() {
            return None;
        }
        let base = Query {
            attrs: indexed,
            limit: None,
            offset: 0,
            ..self.clone()
        };
        Some((base, rest))
    }

    /// The `SELECT {cols} FROM objects o …` statement answering this query from the indexes,
    /// with its arguments. Shared by the SQL backends so they answer identically.
    pub(crate) fn to_sql(&self, cols: &str, d: &Dialect) -> (String, Vec<String>) {
        let mut sql = format!("SELECT {cols} FROM objects o WHERE 1=1");
        let mut args: Vec<String> = Vec::new();
        let mut arg = |sql: &mut String, frag: &str, v: &str| {
            args.push(v.to_owned());
            sql.push_str(&frag.replace('?', &(d.placeholder)(args.len())));
        };
        if let Some(t) = self.object_type {
            arg(&mut sql, " AND o.object_type=?", t.as_str());
        }
        if let Some(s) = self.state {
            arg(&mut sql, " AND o.state=?", s.as_str());
        }
        if let Some(o) = &self.owner {
            arg(&mut sql, " AND o.owner=?", o);
        }
        if let Some(n) = &self.name {
            arg(
                &mut sql,
                " AND o.uid IN (SELECT uid FROM names WHERE name=?)",
                n,
            );
        }
        if let Some(p) = &self.name_prefix {
            let lo = format!(
                " AND o.uid IN (SELECT uid FROM names WHERE name{} >= ?",
                d.collate
            );
            arg(&mut sql, &lo, p);
            arg(
                &mut sql,
                &format!(" AND name{} < ?)", d.collate),
                &format!("{p}\u{10FFFF}"),
            );
        }
        const SUB: &str = " AND o.uid IN (SELECT uid FROM attr_index WHERE attr=?";
        for c in &self.attrs {
            match c {
                AttrCond::Eq(a, v) => {
                    arg(&mut sql, SUB, a);
                    arg(&mut sql, " AND value=?)", v);
                }
                AttrCond::Prefix(a, p) => {
                    arg(&mut sql, SUB, a);
                    arg(&mut sql, &format!(" AND value{} >= ?", d.collate), p);
                    arg(
                        &mut sql,
                        &format!(" AND value{} < ?)", d.collate),
                        &format!("{p}\u{10FFFF}"),
                    );
                }
                AttrCond::Exists(a) => {
                    arg(&mut sql, SUB, a);
                    sql.push(')');
                }
                AttrCond::In(a, vs) => {
                    arg(&mut sql, SUB, a);
                    sql.push_str(" AND value IN (");
                    for (i, v) in vs.iter().enumerate() {
                        arg(&mut sql, if i == 0 { "?" } else { ",?" }, v);
                    }
                    sql.push_str("))");
                }
            }
        }
        sql.push_str(&format!(" ORDER BY o.name{c}, o.uid{c}", c = d.collate));
        if let Some(l) = self.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        } else {
            sql.push_str(" LIMIT -1");
        }
        sql.push_str(&format!(" OFFSET {}", self.offset));
        (sql, args)
    }
}
