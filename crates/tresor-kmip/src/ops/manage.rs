//! Helpers shared by the object-management operations (`create`, `attribute_ops`,
//! `lifecycle`, `locate`): recording a change to an object's metadata, and listing an
//! object's names (a request's attributes are read by its typed payload).

use serde_json::{Value as Json, json};
use tresor_store::ObjectMeta;

/// Records a change to an object's metadata: its Last Change Date, the Always Sensitive /
/// Never Extractable flags, and store names that follow the Name attribute.
pub(super) fn touch(m: &mut ObjectMeta) {
    m.attributes
        .insert("Last Change Date".into(), json!(tresor_store::now()));
    // Once sensitive is cleared (or extractable set) the object never was always sensitive
    // (never extractable).
    if m.attributes.get("Sensitive") == Some(&json!(false))
        && m.attributes.contains_key("Always Sensitive")
    {
        m.attributes.insert("Always Sensitive".into(), json!(false));
    }
    if m.attributes.get("Extractable") == Some(&json!(true))
        && m.attributes.contains_key("Never Extractable")
    {
        m.attributes
            .insert("Never Extractable".into(), json!(false));
    }
    // Store names follow the Name attribute (when the object has one), so Locate by an old
    // name no longer finds it.
    if let Some(j) = m.attributes.get("Name") {
        let current: Vec<String> = match j {
            Json::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            Json::String(x) => vec![x.clone()],
            _ => Vec::new(),
        };
        m.names.retain(|n| current.contains(n));
    }
}

/// Every name of an object: its store names and its Name attribute values.
pub(super) fn object_names(m: &ObjectMeta) -> Vec<String> {
    let mut v = m.names.clone();
    if let Some(Json::Array(a)) = m.attributes.get("Name") {
        v.extend(a.iter().filter_map(|x| x.as_str().map(str::to_owned)));
    }
    v
}
