//! A set of filters that matches when any of them matches.

use super::{Filter, FilterError};

/// A set of filters that matches when any of them matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterSet {
    filters: Vec<Filter>,
}

impl FilterSet {
    /// Parses each filter text and collects them into a set.
    ///
    /// # Errors
    ///
    /// Returns the [`FilterError`] of the first filter that fails to parse.
    pub fn new<I, S>(filters: I) -> Result<FilterSet, FilterError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let filters = filters
            .into_iter()
            .map(|s| Filter::new(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FilterSet { filters })
    }

    /// An empty set, which matches nothing.
    pub fn empty() -> FilterSet {
        FilterSet::default()
    }

    /// Adds a compiled filter to the set.
    pub fn push(&mut self, filter: Filter) {
        self.filters.push(filter);
    }

    /// The filters in the set, in the order they were added.
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// Returns true if and only if the set has no filters.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// The number of filters in the set.
    pub fn len(&self) -> usize {
        self.filters.len()
    }

    /// Returns true if and only if any filter matches `app:env:key`.
    pub fn is_match(&self, app: &str, env: &str, key: &str) -> bool {
        self.filters.iter().any(|f| f.is_match(app, env, key))
    }

    /// The indices of the filters that match `app:env:key`.
    pub fn matches(&self, app: &str, env: &str, key: &str) -> Vec<usize> {
        self.filters
            .iter()
            .enumerate()
            .filter(|(_, f)| f.is_match(app, env, key))
            .map(|(i, _)| i)
            .collect()
    }
}

impl FromIterator<Filter> for FilterSet {
    fn from_iter<T: IntoIterator<Item = Filter>>(iter: T) -> Self {
        FilterSet {
            filters: iter.into_iter().collect(),
        }
    }
}
