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
    /// Attribute conditions.
    pub attrs: Vec<AttrCond>,
    /// At most this many results.
    pub limit: Option<usize>,
    /// Skip this many results.
    pub offset: usize,
}
