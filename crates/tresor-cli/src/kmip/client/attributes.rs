//! Reading and changing attributes: `get-attributes`, `get-attribute-list`, `add-attribute`,
//! `set-attribute`, `modify-attribute`, `delete-attribute`.

use std::process::ExitCode;

use super::{Conn, uid};
use crate::kmip::args::{ConnArgs, parse_attr};
use crate::kmip::usage;
use tresor_kmip::KmipError;
use tresor_kmip::attributes::{Attribute, AttributeName};
use tresor_kmip::enums::Operation;
use tresor_kmip::tags::Tag;
use tresor_kmip::ttlv::Ttlv;

/// A KMIP 2.x Attribute Reference to the attribute named `name`: a standard attribute's tag,
/// or a vendor attribute `VENDOR-NAME` (vendor `x` without a `-`).
fn attribute_reference(name: &str) -> Ttlv {
    match tresor_kmip::attributes::name_of_store_key(name) {
        Some(AttributeName::Standard(t)) => Ttlv::enumeration(Tag::ATTRIBUTE_REFERENCE, t.value()),
        _ => {
            let (v, n) = name.split_once('-').unwrap_or(("x", name));
            Ttlv::structure(
                Tag::ATTRIBUTE_REFERENCE,
                vec![
                    Ttlv::text(Tag::VENDOR_IDENTIFICATION, v),
                    Ttlv::text(Tag::ATTRIBUTE_NAME, n),
                ],
            )
        }
    }
}

/// The attribute item of an Add/Modify Attribute request: a 2.x New Attribute, or the 1.x
/// Attribute.
fn new_attribute(conn: &Conn, a: &Attribute) -> Ttlv {
    if conn.version.is_v2() {
        Ttlv::structure(Tag::NEW_ATTRIBUTE, vec![a.to_v2()])
    } else {
        a.to_v1()
    }
}

/// `get-attributes`: all attributes, or the named ones.
pub(super) async fn get_attributes(
    c: &ConnArgs,
    u: &str,
    names: Vec<String>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let mut payload = vec![uid(u)];
    for n in names {
        if conn.version.is_v2() {
            payload.push(attribute_reference(&n));
        } else {
            payload.push(Ttlv::text(Tag::ATTRIBUTE_NAME, n));
        }
    }
    conn.call_print(Operation::GET_ATTRIBUTES, payload).await
}

/// `get-attribute-list`: the attribute names.
pub(super) async fn get_attribute_list(c: &ConnArgs, u: &str) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    conn.call_print(Operation::GET_ATTRIBUTE_LIST, vec![uid(u)])
        .await
}

/// `add-attribute UID NAME=VALUE`.
pub(super) async fn add_attribute(
    c: &ConnArgs,
    u: &str,
    attribute: &str,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let a = parse_attr(attribute)?;
    let payload = vec![uid(u), new_attribute(&conn, &a)];
    conn.call_print(Operation::ADD_ATTRIBUTE, payload).await
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
    let payload = vec![uid(u), new_attribute(&conn, &a)];
    conn.call_print(Operation::SET_ATTRIBUTE, payload).await
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
    let payload = vec![uid(u), new_attribute(&conn, &a)];
    conn.call_print(Operation::MODIFY_ATTRIBUTE, payload).await
}

/// `delete-attribute UID NAME [--index N]` (the index is sent to 1.x servers only).
pub(super) async fn delete_attribute(
    c: &ConnArgs,
    u: &str,
    name: String,
    index: Option<i32>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let mut payload = vec![uid(u)];
    if conn.version.is_v2() {
        payload.push(attribute_reference(&name));
    } else {
        payload.push(Ttlv::text(Tag::ATTRIBUTE_NAME, name));
        if let Some(i) = index {
            payload.push(Ttlv::integer(Tag::ATTRIBUTE_INDEX, i));
        }
    }
    conn.call_print(Operation::DELETE_ATTRIBUTE, payload).await
}
