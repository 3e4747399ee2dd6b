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
use crate::payload::attribute_ops::{
    AddAttributeRequest, AddAttributeResponse, DeleteAttributeRequest, DeleteAttributeResponse,
    DeleteTarget, GetAttributeListRequest, GetAttributeListResponse, ModifyAttributeRequest,
    ModifyAttributeResponse, SetAttributeRequest, SetAttributeResponse, read_new_attribute,
};
use crate::payload::attributes::{GetAttributesRequest, GetAttributesResponse};
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
    let req = GetAttributeListRequest::from_ttlv(payload)?;
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
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
    Ok(GetAttributeListResponse {
        unique_identifier: uid,
        attribute_names: names,
    }
    .to_items(s.version))
}

/// Reads request `R`. A request that cannot be read is refused for a missing identifier
/// first, as when the handlers read the identifier before anything else.
fn parse<R: Payload>(s: &Session<'_>, payload: &Ttlv) -> Result<R, OpError> {
    R::from_ttlv(payload).map_err(|e| match s.target_uid(payload) {
        Err(no_uid) => no_uid,
        Ok(_) => e.into(),
    })
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

/// The checks on the attribute an Add/Set/Modify Attribute request writes.
fn check_new_attribute(s: &Session<'_>, a: &Attribute) -> Result<(), OpError> {
    check_writable(s, &a.name)?;
    super::reserved::check_attribute(a, None)?;
    super::access::may_set_name(s, a)
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
    let req: AddAttributeRequest = parse(s, payload)?;
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
    let a = req.attribute;
    check_new_attribute(s, &a)?;
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
    let echo = Attribute {
        index: Some(index),
        ..a
    };
    Ok(AddAttributeResponse {
        unique_identifier: uid,
        attribute: Some(echo),
    }
    .to_items(s.version))
}

/// Set Attribute (2.x): sets a single-valued attribute.
pub(crate) fn set_attribute(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req: SetAttributeRequest = parse(s, payload)?;
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
    let a = req.attribute;
    check_new_attribute(s, &a)?;
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
    Ok(SetAttributeResponse {
        unique_identifier: uid,
    }
    .to_items(s.version))
}

/// Modify Attribute: replaces one instance (1.x by index, 2.x by current value).
pub(crate) fn modify_attribute(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req = match ModifyAttributeRequest::from_ttlv(payload) {
        Ok(r) => r,
        Err(e) => {
            // Refused in the order the checks always ran: the identifier, the new attribute
            // and its checks, then the current attribute.
            s.target_uid(payload)?;
            check_new_attribute(s, &read_new_attribute(payload)?)?;
            return Err(e.into());
        }
    };
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
    let new = req.new_attribute;
    check_new_attribute(s, &new)?;
    let current = req.current_attribute;
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
    Ok(ModifyAttributeResponse {
        unique_identifier: uid,
        attribute: Some(echo),
    }
    .to_items(s.version))
}

/// Delete Attribute: removes one instance (by index or value) or all of them.
pub(crate) fn delete_attribute(s: &mut Session<'_>, payload: &Ttlv) -> Result<Vec<Ttlv>, OpError> {
    let req: DeleteAttributeRequest = parse(s, payload)?;
    let uid = s.resolve_uid(req.unique_identifier.as_ref())?;
    let (name, index, value) = match req.target {
        DeleteTarget::Current(a) => (a.name.clone(), None, Some(attrs::attr_to_json(&a))),
        DeleteTarget::Reference { name, index } => (name, index, None),
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
    // 1.x echoes the instance deleted (the response type writes it in 1.x only).
    let attribute = deleted
        .into_iter()
        .nth(usize::try_from(index.unwrap_or(0)).unwrap_or(0))
        .map(|a| Attribute { index, ..a });
    Ok(DeleteAttributeResponse {
        unique_identifier: uid,
        attribute,
    }
    .to_items(s.version))
}
