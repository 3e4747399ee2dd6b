//! Locate: finding the objects that match a request's attributes, through the store's
//! indexes (plus this batch's uncommitted writes), with name, date, identifier, access
//! and storage-status filtering and Maximum Items / Offset Items paging.

use serde_json::Value as Json;
use tresor_store::{AttrCond, ObjectMeta, Query, State};

use super::attrs;
use super::manage::object_names;
use super::objects;
use super::{OpError, Session, effective_state, store_state};
use crate::attributes::{AttributeName, AttributeSet};
use crate::enums::ObjectType as KmipType;
use crate::message::ProtocolVersion;
use crate::payload::Payload;
use crate::payload::locate::{LocateRequest, LocateResponse};
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// The most identifiers one Locate answers with, whatever Maximum Items asks: 5,000
/// identifiers (~240 KB) keep the response well inside what KMIP clients decode (tresor's own
/// decoder refuses messages of more than 10,000 items or 1 MiB). A client pages past them with
/// Offset Items; from KMIP 1.3 on, Located Items in the response tells it how many matched.
pub(crate) const MAX_LOCATED: usize = 5_000;

/// Locate: objects matching every given attribute, from the store's indexes.
pub(crate) fn locate(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = LocateRequest::from_ttlv(payload)?;
    Ok(locate_with(s, &req, true)?.to_items(s.version))
}

/// Locate; `push_limit`: hand Maximum Items + Offset Items to the store as a row limit. The
/// checks after the store (access, storage status, dates) may drop rows, so when they leave
/// fewer than asked for the search runs again without the limit.
fn locate_with(
    s: &mut Session<'_>,
    req: &LocateRequest,
    push_limit: bool,
) -> Result<LocateResponse, OpError> {
    let max = req
        .maximum_items
        .map(|m| usize::try_from(m.max(0)).unwrap_or(0));
    let offset = req
        .offset_items
        .map(|m| usize::try_from(m.max(0)).unwrap_or(0))
        .unwrap_or(0);
    // Storage Status Mask: On-line 1, Archival 2, Destroyed 4 (2.x). tresor archives nothing;
    // a destroyed object keeps its metadata, which 2.x calls Destroyed Storage and 1.x does
    // not store on-line at all: see `storage::located`.
    let storage = req.storage_status_mask;
    // KMIP 1.x puts Locate's attributes directly in the payload, 2.x in Attributes: the
    // request type reads both into one set.
    let set = &req.attributes;
    let mut q = Query::default();
    let mut names = Vec::new();
    let mut dates: Vec<(String, i64)> = Vec::new();
    for a in &set.attributes {
        match &a.name {
            AttributeName::Standard(Tag::OBJECT_TYPE) => {
                let t = match &a.value {
                    Value::Enumeration(e) => objects::store_type(KmipType(*e)),
                    _ => None,
                };
                match t {
                    Some(t) => q.object_type = Some(t),
                    None => return Ok(located(s, Vec::new())),
                }
            }
            AttributeName::Standard(Tag::STATE) => {
                let st = match &a.value {
                    Value::Enumeration(e) => store_state(crate::enums::State(*e)),
                    _ => None,
                };
                match st {
                    Some(st) => q.state = Some(st),
                    None => return Ok(located(s, Vec::new())),
                }
            }
            AttributeName::Standard(Tag::NAME) => {
                if let Some((n, _)) = (AttributeSet {
                    attributes: vec![a.clone()],
                    template_names: vec![],
                })
                .names()
                .into_iter()
                .next()
                {
                    names.push(n);
                }
            }
            AttributeName::Standard(Tag::UNIQUE_IDENTIFIER) => {
                if let Value::TextString(u) = &a.value {
                    q.attrs.push(AttrCond::Exists(format!("\u{0}uid:{u}")));
                }
            }
            name => {
                let key = attrs::key_of(name);
                let j = attrs::attr_to_json(a);
                if let (Some(n), true) = (j.as_i64(), key.contains("Date")) {
                    dates.push((key, n));
                    continue;
                }
                for (k, v) in attrs::index_pairs(&key, &j) {
                    q.attrs.push(AttrCond::Eq(k, v));
                }
            }
        }
    }
    // A Unique Identifier filter is checked directly, not through the index.
    let uid_filter: Vec<String> = q
        .attrs
        .iter()
        .filter_map(|c| match c {
            AttrCond::Exists(x) => x.strip_prefix("\u{0}uid:").map(str::to_owned),
            _ => None,
        })
        .collect();
    q.attrs
        .retain(|c| !matches!(c, AttrCond::Exists(x) if x.starts_with('\u{0}')));
    let want = max.map(|m| m + offset);
    let mut found: Vec<ObjectMeta> = Vec::new();
    let name = names.first().cloned();
    let post_filter = dates.is_empty() && uid_filter.is_empty() && names.len() <= 1;
    let limit = if post_filter && push_limit {
        want
    } else {
        None
    };
    let mut variants: Vec<Query> = Vec::new();
    for access in [true, false] {
        let mut base = q.clone();
        if access {
            base.owner = Some(s.identity.clone());
        } else if s.admins.iter().any(|a| a == &s.identity) {
            // Admins see everything: one query without owner.
        } else {
            base.attrs.push(AttrCond::Exists(format!(
                "{}.{}",
                super::GRANTS_ATTR,
                s.identity
            )));
        }
        if !access && s.admins.iter().any(|a| a == &s.identity) {
            variants.clear();
        }
        match &name {
            Some(n) => {
                let mut by_store_name = base.clone();
                by_store_name.name = Some(n.clone());
                by_store_name.limit = limit;
                variants.push(by_store_name);
                let mut by_attr = base;
                by_attr.attrs.push(AttrCond::Eq("Name".into(), n.clone()));
                by_attr.limit = limit;
                variants.push(by_attr);
            }
            None => {
                base.limit = limit;
                variants.push(base);
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    match &name {
        // By name: the name alone goes to the store (the names primary key, then the Name
        // attribute index), and the other conditions are checked on the few objects found.
        // Sending them too lets SQLite drive the query from a broad index instead (e.g. every
        // object of the owner: a scan of 100k rows for one name).
        Some(n) => {
            let by_name = [
                Query {
                    name: Some(n.clone()),
                    ..Query::default()
                },
                Query {
                    attrs: vec![AttrCond::Eq("Name".into(), n.clone())],
                    ..Query::default()
                },
            ];
            for v in &by_name {
                for m in s.store.locate(v)? {
                    if variants.iter().any(|q| q.matches(&m)) && seen.insert(m.uid.clone()) {
                        found.push(m);
                    }
                }
            }
        }
        None => {
            for v in &variants {
                for m in s.store.locate(v)? {
                    if seen.insert(m.uid.clone()) {
                        found.push(m);
                    }
                }
            }
        }
    }
    // Objects earlier items of this batch wrote are not in the store's indexes yet (or are
    // there as they were before): judge them from the transaction's own view.
    if !s.written.is_empty() {
        found.retain(|m| !s.written.contains(&m.uid));
        for uid in s.written.clone() {
            if let Some(m) = s.txn.get(&uid)?
                && variants.iter().any(|v| v.matches(&m))
            {
                found.push(m);
            }
        }
    }
    let asks_destroyed = q.state.is_some_and(State::is_destroyed);
    found.retain(|m| {
        s.may(m, "locate") && super::storage::located(s.version, storage, asks_destroyed, m.state)
    });
    let now = tresor_store::now();
    found.retain(|m| {
        let all_names: Vec<String> = object_names(m);
        names.iter().all(|n| all_names.contains(n))
            && (uid_filter.is_empty() || uid_filter.contains(&m.uid))
            && date_match(m, &dates)
            && q.state
                .is_none_or(|st| effective_state(m, now) == st || m.state == st)
    });
    if let Some(w) = limit
        && found.len() < w
    {
        return locate_with(s, req, false);
    }
    found.sort_by(|a, b| (a.name(), &a.uid).cmp(&(b.name(), &b.uid)));
    let total = found.len();
    let items: Vec<String> = found
        .into_iter()
        .skip(offset)
        .take(max.unwrap_or(MAX_LOCATED).min(MAX_LOCATED))
        .map(|m| m.uid)
        .collect();
    let mut out = located(s, items);
    if s.version >= ProtocolVersion::V1_3 {
        out.located_items = Some(i32::try_from(total).unwrap_or(i32::MAX));
    }
    Ok(out)
}

/// The response listing `uids` (without Located Items); the first becomes the ID
/// Placeholder.
fn located(s: &mut Session<'_>, uids: Vec<String>) -> LocateResponse {
    if let Some(first) = uids.first() {
        s.placeholder = Some(first.clone());
    }
    LocateResponse {
        located_items: None,
        unique_identifiers: uids,
    }
}

/// One date value means equality; two values of the same attribute mean a range.
fn date_match(m: &ObjectMeta, dates: &[(String, i64)]) -> bool {
    let mut keys: Vec<&String> = dates.iter().map(|(k, _)| k).collect();
    keys.dedup();
    keys.into_iter().all(|k| {
        let vals: Vec<i64> = dates
            .iter()
            .filter(|(x, _)| x == k)
            .map(|(_, v)| *v)
            .collect();
        let have = match k.as_str() {
            "Initial Date" => m
                .attributes
                .get(k)
                .and_then(Json::as_i64)
                .or(Some(m.created)),
            "Last Change Date" => Some(m.updated),
            _ => m.attributes.get(k).and_then(Json::as_i64),
        };
        let Some(h) = have else { return false };
        match vals.as_slice() {
            [one] => h == *one,
            [a, b, ..] => h >= *a.min(b) && h <= *a.max(b),
            [] => true,
        }
    })
}
