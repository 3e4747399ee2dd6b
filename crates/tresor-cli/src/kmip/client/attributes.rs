//! Reading and changing attributes: `get-attributes`, `get-attribute-list`, `add-attribute`,
//! `set-attribute`, `modify-attribute`, `delete-attribute`.

use std::process::ExitCode;

use super::Conn;
use crate::kmip::args::{ConnArgs, parse_attr};
use crate::kmip::usage;
use tresor_kmip::KmipError;
use tresor_kmip::attributes::AttributeName;
use tresor_kmip::payload::attribute_ops::{
    AddAttributeRequest, DeleteAttributeRequest, GetAttributeListRequest, ModifyAttributeRequest,
    SetAttributeRequest,
};
use tresor_kmip::payload::attributes::GetAttributesRequest;

/// The attribute `name` names, as this command sends it: KMIP 1.x sends the name as typed;
/// 2.x a standard attribute's tag, or a vendor attribute `VENDOR-NAME` (vendor `x` without
/// a `-`).
fn attribute_name(conn: &Conn, name: &str) -> AttributeName {
    if !conn.version.is_v2() {
        return AttributeName::Custom {
            vendor: None,
            name: name.to_owned(),
        };
    }
    match tresor_kmip::attributes::name_of_store_key(name) {
        Some(AttributeName::Standard(t)) => AttributeName::Standard(t),
        _ => {
            let (v, n) = name.split_once('-').unwrap_or(("x", name));
            AttributeName::Custom {
                vendor: Some(v.to_owned()),
                name: n.to_owned(),
            }
        }
    }
}

/// `get-attributes`: all attributes, or the named ones.
pub(super) async fn get_attributes(
    c: &ConnArgs,
    u: &str,
    names: Vec<String>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let req = GetAttributesRequest {
        attribute_names: names.iter().map(|n| attribute_name(&conn, n)).collect(),
        ..GetAttributesRequest::new(u)
    };
    conn.call_print(&req).await
}

/// `get-attribute-list`: the attribute names.
pub(super) async fn get_attribute_list(c: &ConnArgs, u: &str) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    conn.call_print(&GetAttributeListRequest::new(u)).await
}

/// `add-attribute UID NAME=VALUE`.
pub(super) async fn add_attribute(
    c: &ConnArgs,
    u: &str,
    attribute: &str,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let a = parse_attr(attribute)?;
    conn.call_print(&AddAttributeRequest::new(u, a)).await
}

/// `set-attribute UID NAME=VALUE` (KMIP 2.x only).
pub(super) async fn set_attribute(
    c: &ConnArgs,
    u: &str,
    attribute: &str,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    if !conn.version.is_v2() {
        return Err(usage(
            "set attribute needs KMIP 2.x; use modify-attribute or add-attribute",
        ));
    }
    let a = parse_attr(attribute)?;
    conn.call_print(&SetAttributeRequest::new(u, a)).await
}

/// `modify-attribute UID NAME=VALUE [--index N]`.
pub(super) async fn modify_attribute(
    c: &ConnArgs,
    u: &str,
    attribute: &str,
    index: Option<i32>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let mut a = parse_attr(attribute)?;
    a.index = index;
    conn.call_print(&ModifyAttributeRequest::new(u, a)).await
}

/// `delete-attribute UID NAME [--index N]` (the index is sent to 1.x servers only).
pub(super) async fn delete_attribute(
    c: &ConnArgs,
    u: &str,
    name: String,
    index: Option<i32>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let req = DeleteAttributeRequest::new(u, attribute_name(&conn, &name), index);
    conn.call_print(&req).await
}
