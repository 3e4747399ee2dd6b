//! The attribute operations: Get Attributes, Get Attribute List, Add Attribute, Set
//! Attribute, Modify Attribute and Delete Attribute, and the list of every KMIP attribute
//! of an object they read from. (The KMIP ⇄ JSON attribute conversion is in `attrs`.)

use serde_json::{Value as Json, json};
use tresor_store::{AttrCond, ObjectMeta, ObjectType, Query, State};

use super::attrs::{self, READ_ONLY};
use super::manage::{object_names, touch};
use super::objects;
use super::{OpError, Session, effective_state, kmip_state};
use crate::attributes::{Attribute, AttributeName};
use crate::enums::ResultReason;
use crate::payload::Payload;
use crate::payload::attributes::{GetAttributesRequest, GetAttributesResponse, referenced_names};
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// Every KMIP attribute of an object, in a stable order (server attributes first).
pub(crate) fn object_attributes(s: &Session<'_>, meta: &ObjectMeta) -> Vec<Attribute> {
    let mut out = vec![
        Attribute::standard(Tag::UNIQUE_IDENTIFIER, Value::TextString(meta.uid.clone())),
        Attribute::standard(
            Tag::OBJECT_TYPE,
            Value::Enumeration(objects::kmip_type(meta.object_type).0),
        ),
        Attribute::standard(
            Tag::STATE,
            Value::Enumeration(kmip_state(effective_state(meta, tresor_store::now())).0),
        ),
    ];
    let mut names: Vec<Attribute> = meta
        .attributes
        .get("Name")
        .map(|j| attrs::attrs_from_json("Name", j))
        .unwrap_or_default();
    for n in &meta.names {
        let a = Attribute::name(n.clone(), crate::enums::NameType::UNINTERPRETED_TEXT_STRING);
        if !names.contains(&a) {
            names.push(a);
        }
    }
    out.extend(names);
    if !meta.attributes.contains_key("Initial Date") {
        out.push(Attribute::standard(
            Tag::INITIAL_DATE,
            Value::DateTime(meta.created),
        ));
    }
    for (k, v) in &meta.attributes {
        if k == "Name" || k == "Last Change Date" {
            continue;
        }
        out.extend(attrs::attrs_from_json(k, v));
    }
    out.push(Attribute::standard(
        Tag::LAST_CHANGE_DATE,
        Value::DateTime(meta.updated),
    ));
    if meta.object_type == ObjectType::SecretData
        && !meta.attributes.contains_key("Secret Data Type")
    {
        out.push(Attribute::standard(
            Tag::SECRET_DATA_TYPE,
            Value::Enumeration(crate::enums::SecretDataType::PASSWORD.0),
        ));
    }
    // Short Unique Identifier (2.0+): SHA-256 of the Unique Identifier (KMIP 2.0 §4.x).
    let short = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, meta.uid.as_bytes());
    out.insert(
        1,
        Attribute::standard(
            Tag::SHORT_UNIQUE_IDENTIFIER,
            Value::ByteString(short.as_ref().to_vec()),
        ),
    );
    let _ = s;
    out
}

/// Get Attributes: all, or the named ones.
pub(crate) fn get_attributes(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = GetAttributesRequest::from_ttlv(payload)?;
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
    let meta = s.load(&uid, "get")?;
    let wanted = req.attribute_names;
    let mut all = object_attributes(s, &meta);
    if wanted.is_empty() {
        // No names: the compatibility rule of `attr_versions` (what PyKMIP 0.11 decodes).
        all.retain(|a| super::attr_versions::in_all_attributes(&a.name, s.version));
    } else {
        // Named: what the client asked for, if its major version can carry it (a 1.0
        // client naming Fresh, a 1.1 attribute, gets it: Percona and MongoDB do).
        all.retain(|a| {
            wanted.contains(&a.name) && super::attr_versions::named_in(&a.name, s.version)
        });
    }
    s.placeholder = Some(uid.clone());
    if !s.version.is_v2() {
        // 1.x: multi-instance attributes carry their index when it is not 0 (an omitted
        // index means 0; the 1.4 vectors, e.g. SKLC-M-1-14's Digest, omit it).
        let mut counts: Vec<(AttributeName, i32)> = Vec::new();
        for a in &mut all {
            if attrs::is_multi(&a.name) {
                let c = match counts.iter_mut().find(|(n, _)| *n == a.name) {
                    Some((_, c)) => {
                        *c += 1;
                        *c
                    }
                    None => {
                        counts.push((a.name.clone(), 0));
                        0
                    }
                };
                a.index = (c > 0).then_some(c);
            }
        }
    }
    Ok(GetAttributesResponse {
        unique_identifier: uid,
        attributes: all,
    }
    .to_items(s.version))
}

/// Get Attribute List: the names of the object's attributes.
pub(crate) fn get_attribute_list(
    s: &mut Session<'_>,
    payload: &Ttlv,
) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let meta = s.load(&uid, "get")?;
    let mut names: Vec<AttributeName> = Vec::new();
    for a in object_attributes(s, &meta) {
        // The list names the attributes the request's version defines.
        if !super::attr_versions::defined_in(&a.name, s.version) {
            continue;
        }
        if !names.contains(&a.name) {
            names.push(a.name);
        }
    }
    s.placeholder = Some(uid.clone());
    let mut out = vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)];
    for n in names {
        if s.version.is_v2() {
            out.push(match &n {
                AttributeName::Standard(t) => {
                    Ttlv::enumeration(Tag::ATTRIBUTE_REFERENCE, t.value())
                }
                AttributeName::Custom { .. } => {
                    let a = Attribute {
                        name: n.clone(),
                        index: None,
                        value: Value::Integer(0),
                    }
                    .to_v2();
                    let mut items: Vec<Ttlv> = a
                        .items()
                        .iter()
                        .filter(|i| i.tag != Tag::ATTRIBUTE_VALUE)
                        .cloned()
                        .collect();
                    items.truncate(2);
                    Ttlv::structure(Tag::ATTRIBUTE_REFERENCE, items)
                }
            });
        } else {
            out.push(Ttlv::text(Tag::ATTRIBUTE_NAME, attrs::key_of(&n)));
        }
    }
    Ok(out)
}

fn read_only_error(s: &Session<'_>, name: &AttributeName) -> OpError {
    OpError::new(
        if s.version.is_v2() {
            ResultReason::ATTRIBUTE_READ_ONLY
        } else {
            ResultReason::PERMISSION_DENIED
        },
        format!("attribute '{name}' is read-only"),
    )
}

fn check_writable(s: &Session<'_>, a: &AttributeName) -> Result<(), OpError> {
    match a {
        AttributeName::Standard(t) if READ_ONLY.contains(t) => Err(read_only_error(s, a)),
        AttributeName::Custom { name, .. } if name == super::GRANTS_ATTR => {
            Err(read_only_error(s, a))
        }
        _ => super::reserved::check_key(a),
    }
}

/// The attribute carried by an Add/Set/Modify request (1.x `Attribute`, 2.x `NewAttribute`).
fn carried_attribute(payload: &Ttlv, tag_v2: Tag) -> Result<Attribute, OpError> {
    let bad = |e: crate::KmipError| OpError::new(ResultReason::INVALID_FIELD, e.to_string());
    if let Some(a) = payload.find(tag_v2) {
        let inner = a
            .items()
            .first()
            .ok_or_else(|| OpError::missing(Tag::ATTRIBUTE, tag_v2))?;
        return Attribute::from_v2(inner).map_err(bad);
    }
    let a = payload
        .find(Tag::ATTRIBUTE)
        .ok_or_else(|| OpError::missing(Tag::ATTRIBUTE, Tag::REQUEST_PAYLOAD))?;
    Attribute::from_v1(a).map_err(bad)
}

/// The 2.x Current Attribute of a Modify/Delete Attribute request, if it has one.
fn current_attribute(payload: &Ttlv) -> Result<Option<Attribute>, OpError> {
    payload
        .find(Tag::CURRENT_ATTRIBUTE)
        .map(|c| {
            c.items()
                .first()
                .map(Attribute::from_v2)
                .transpose()
                .map_err(|e| OpError::new(ResultReason::INVALID_FIELD, e.to_string()))?
                .ok_or_else(|| OpError::missing(Tag::ATTRIBUTE, Tag::CURRENT_ATTRIBUTE))
        })
        .transpose()
}

fn attribute_echo(s: &Session<'_>, uid: &str, a: &Attribute, with_attr: bool) -> Vec<Ttlv> {
    let mut out = vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid.to_owned())];
    if with_attr && !s.version.is_v2() {
        out.push(a.to_v1());
    }
    out
}

/// Refuses a Name the object already has, or another object has (Non Unique Name
/// Attribute; BL-M-8-21 adds the name an object was registered with a second time).
fn check_name_free(
    s: &Session<'_>,
    uid: &str,
    meta: &ObjectMeta,
    name: &str,
) -> Result<(), OpError> {
    let taken_here = object_names(meta).iter().any(|x| x == name);
    let taken_elsewhere = || -> Result<bool, OpError> {
        if s.txn.get_by_name(name)?.is_some_and(|m| m.uid != uid) {
            return Ok(true);
        }
        let q = Query {
            attrs: vec![AttrCond::Eq("Name".into(), name.to_owned())],
            limit: Some(2),
            ..Query::default()
        };
        Ok(s.store.locate(&q)?.iter().any(|m| m.uid != uid))
    };
    if taken_here || taken_elsewhere()? {
        return Err(OpError::new(
            ResultReason::NON_UNIQUE_NAME_ATTRIBUTE,
            format!("the name '{name}' is already in use"),
        ));
    }
    Ok(())
}

/// Add Attribute: a new instance of a multi-instance attribute, or a first value.
pub(crate) fn add_attribute(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let a = carried_attribute(payload, Tag::NEW_ATTRIBUTE)?;
    check_writable(s, &a.name)?;
    super::reserved::check_attribute(&a, None)?;
    super::access::may_set_name(s, &a)?;
    let meta = s.load(&uid, "modify")?;
    let key = attrs::key_of(&a.name);
    let j = attrs::attr_to_json(&a);
    if a.name == AttributeName::Standard(Tag::NAME)
        && let Some(n) = j.as_str()
    {
        check_name_free(s, &uid, &meta, n)?;
    }
    let multi = attrs::is_multi(&a.name);
    let mut index = 0;
    if !multi && meta.attributes.contains_key(&key) {
        return Err(OpError::new(
            if s.version.is_v2() {
                ResultReason::ATTRIBUTE_SINGLE_VALUED
            } else {
                ResultReason::ILLEGAL_OPERATION
            },
            format!(
                "object '{uid}' already has the single-valued attribute '{}'",
                a.name
            ),
        ));
    }
    s.txn.update(&uid, &format!("add attribute {key}"), |m| {
        if multi {
            match m.attributes.get_mut(&key) {
                Some(Json::Array(v)) => {
                    index = v.len() as i32;
                    v.push(j.clone());
                }
                _ => {
                    m.attributes.insert(key.clone(), json!([j.clone()]));
                }
            }
        } else {
            m.attributes.insert(key.clone(), j.clone());
        }
        touch(m);
        Ok(())
    })?;
    s.placeholder = Some(uid.clone());
    // 1.x: the response names the instance it assigned (KMIP 1.x Add Attribute: "the added
    // attribute with the Attribute Index assigned"; 0 for a single-valued attribute).
    let mut echo = a.clone();
    echo.index = Some(index);
    Ok(attribute_echo(s, &uid, &echo, true))
}

/// Set Attribute (2.x): sets a single-valued attribute.
pub(crate) fn set_attribute(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let a = carried_attribute(payload, Tag::NEW_ATTRIBUTE)?;
    check_writable(s, &a.name)?;
    super::reserved::check_attribute(&a, None)?;
    super::access::may_set_name(s, &a)?;
    let meta = s.load(&uid, "modify")?;
    if attrs::is_multi(&a.name) && matches!(a.name, AttributeName::Standard(_)) {
        return Err(OpError::new(
            ResultReason::MULTI_VALUED_ATTRIBUTE,
            format!("attribute '{}' is multi-valued; use add attribute", a.name),
        ));
    }
    let key = attrs::key_of(&a.name);
    let j = attrs::attr_to_json(&a);
    let multi = attrs::is_multi(&a.name);
    super::release::check_not_loosened(&uid, &meta.attributes, &key, Some(&j))?;
    s.txn.update(&uid, &format!("set attribute {key}"), |m| {
        m.attributes
            .insert(key.clone(), if multi { json!([j]) } else { j });
        touch(m);
        Ok(())
    })?;
    s.placeholder = Some(uid.clone());
    Ok(vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)])
}

/// Modify Attribute: replaces one instance (1.x by index, 2.x by current value).
pub(crate) fn modify_attribute(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let new = carried_attribute(payload, Tag::NEW_ATTRIBUTE)?;
    check_writable(s, &new.name)?;
    super::reserved::check_attribute(&new, None)?;
    super::access::may_set_name(s, &new)?;
    let current = current_attribute(payload)?;
    let meta = s.load(&uid, "modify")?;
    // The Activation Date may change only while the object is Pre-Active (SKLC-M-3 and
    // AKLC-M-3: 2.x Wrong Key Lifecycle State, 1.x Permission Denied).
    if new.name == AttributeName::Standard(Tag::ACTIVATION_DATE) && meta.state != State::PreActive {
        return Err(OpError::new(
            if s.version.is_v2() {
                ResultReason::WRONG_KEY_LIFECYCLE_STATE
            } else {
                ResultReason::PERMISSION_DENIED
            },
            format!(
                "object '{uid}' is {}; its activation date can change only while pre-active",
                meta.state
            ),
        ));
    }
    let key = attrs::key_of(&new.name);
    let existing = meta.attributes.get(&key).cloned().ok_or_else(|| {
        OpError::new(
            if s.version.is_v2() {
                ResultReason::ATTRIBUTE_NOT_FOUND
            } else {
                ResultReason::ITEM_NOT_FOUND
            },
            format!("object '{uid}' has no attribute '{}'", new.name),
        )
    })?;
    let j = attrs::attr_to_json(&new);
    let mut echo_index = 0;
    let updated = match existing {
        Json::Array(mut v) => {
            let pos = match &current {
                Some(c) => {
                    let cj = attrs::attr_to_json(c);
                    v.iter().position(|x| *x == cj)
                }
                None => usize::try_from(new.index.unwrap_or(0))
                    .ok()
                    .filter(|&i| i < v.len()),
            };
            let pos = pos.ok_or_else(|| {
                OpError::new(
                    if s.version.is_v2() {
                        ResultReason::ATTRIBUTE_INSTANCE_NOT_FOUND
                    } else {
                        ResultReason::ITEM_NOT_FOUND
                    },
                    format!("object '{uid}' has no such instance of '{}'", new.name),
                )
            })?;
            if let Some(slot) = v.get_mut(pos) {
                *slot = j;
            }
            echo_index = i32::try_from(pos).unwrap_or(0);
            Json::Array(v)
        }
        _ => j,
    };
    super::release::check_not_loosened(&uid, &meta.attributes, &key, Some(&updated))?;
    s.txn
        .update(&uid, &format!("modify attribute {key}"), |m| {
            m.attributes.insert(key.clone(), updated);
            touch(m);
            Ok(())
        })?;
    s.placeholder = Some(uid.clone());
    let echo = Attribute {
        index: Some(echo_index),
        ..new
    };
    Ok(attribute_echo(s, &uid, &echo, true))
}

/// Delete Attribute: removes one instance (by index or value) or all of them.
pub(crate) fn delete_attribute(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let uid = s.target_uid(payload)?;
    let (name, index, value) = if let Some(a) = current_attribute(payload)? {
        (a.name.clone(), None, Some(attrs::attr_to_json(&a)))
    } else {
        let n = referenced_names(payload)
            .into_iter()
            .next()
            .ok_or_else(|| OpError::missing(Tag::ATTRIBUTE_NAME, Tag::REQUEST_PAYLOAD))?;
        let idx = payload
            .find(Tag::ATTRIBUTE_INDEX)
            .and_then(Ttlv::as_integer);
        (n, idx, None)
    };
    check_writable(s, &name)?;
    let meta = s.load(&uid, "modify")?;
    let key = attrs::key_of(&name);
    let not_found = || {
        OpError::new(
            if s.version.is_v2() {
                ResultReason::ATTRIBUTE_NOT_FOUND
            } else {
                ResultReason::ITEM_NOT_FOUND
            },
            format!("object '{uid}' has no attribute '{name}'"),
        )
    };
    let existing = meta.attributes.get(&key).cloned().ok_or_else(not_found)?;
    let deleted = attrs::attrs_from_json(&key, &existing);
    let remaining = match existing {
        Json::Array(mut v) => {
            let pos = match (&value, index) {
                (Some(val), _) => v.iter().position(|x| x == val),
                (None, Some(i)) => usize::try_from(i).ok().filter(|&i| i < v.len()),
                (None, None) => None,
            };
            match (pos, &value, index) {
                (Some(p), _, _) => {
                    v.remove(p);
                    (!v.is_empty()).then_some(Json::Array(v))
                }
                (None, None, None) => None,
                _ => return Err(not_found()),
            }
        }
        _ => None,
    };
    super::release::check_not_loosened(&uid, &meta.attributes, &key, remaining.as_ref())?;
    s.txn
        .update(&uid, &format!("delete attribute {key}"), |m| {
            match &remaining {
                Some(r) => {
                    m.attributes.insert(key.clone(), r.clone());
                }
                None => {
                    m.attributes.remove(&key);
                }
            }
            if key == "Name" && remaining.is_none() {
                m.names.clear();
            }
            touch(m);
            Ok(())
        })?;
    s.placeholder = Some(uid.clone());
    let mut out = vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)];
    if !s.version.is_v2()
        && let Some(a) = deleted
            .into_iter()
            .nth(usize::try_from(index.unwrap_or(0)).unwrap_or(0))
    {
        out.push(Attribute { index, ..a }.to_v1());
    }
    Ok(out)
}
