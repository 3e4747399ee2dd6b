//! Locate queries, answered from indexes.

use crate::model::{ObjectType, State};

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
