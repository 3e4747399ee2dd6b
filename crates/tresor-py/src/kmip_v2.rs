//! KMIP 2.x for `tresor.kmip.ProxyKmipClient`: the Python side builds every payload in the
//! 1.x shape (PyKMIP's `TemplateAttribute`s and `Attribute` structures); when the connection
//! speaks 2.x, requests are rewritten here into the 2.x shape before they are sent, and
//! responses back into the 1.x shape the Python side reads — what PyKMIP's own client does
//! for `kmip_version=KMIPVersion.KMIP_2_0`.
//!
//! | operation | request (1.x → 2.x) | response (2.x → 1.x) |
//! |---|---|---|
//! | Create, Register, Derive Key | `TemplateAttribute` → `Attributes` | |
//! | Re-key | unchanged (PyKMIP 0.11 sends its `TemplateAttribute` at 2.0 too) | |
//! | Create Key Pair | `Common/Private/PublicKeyTemplateAttribute` → `Common/Private/PublicKeyAttributes` | |
//! | Locate | each `Attribute` → one `Attributes` | |
//! | Get Attributes | each `Attribute Name` → `Attribute Reference` (vendor "", name) | `Attributes` → `Attribute`s |
//! | Get Attribute List | | each `Attribute Reference` → `Attribute Name` |

use tresor_kmip::attributes::Container;
use tresor_kmip::enums::Operation;
use tresor_kmip::{
    Attribute, AttributeName, AttributeSet, KmipError, ProtocolVersion, Tag, Ttlv, Value,
};

/// Rewrites a 1.x-shaped request payload into the 2.x shape for `version`.
///
/// # Errors
/// A malformed attribute or template.
pub(crate) fn request_to_v2(
    op: Operation,
    items: Vec<Ttlv>,
    version: ProtocolVersion,
) -> Result<Vec<Ttlv>, KmipError> {
    let mut out = Vec::with_capacity(items.len());
    let mut locate_attrs: Option<Vec<Ttlv>> = None;
    for item in items {
        if let (Some(c), true) = (Container::from_tag(item.tag), converts_templates(op)) {
            out.push(AttributeSet::from_ttlv(&item)?.to_ttlv(version, c));
        } else if op == Operation::LOCATE && item.tag == Tag::ATTRIBUTE {
            let a = Attribute::from_v1(&item)?.to_v2();
            match &mut locate_attrs {
                Some(v) => v.push(a),
                None => {
                    locate_attrs = Some(vec![a]);
                    // Keep the Attributes structure where the first Attribute was.
                    out.push(Ttlv::structure(Tag::ATTRIBUTES, Vec::new()));
                }
            }
        } else if op == Operation::GET_ATTRIBUTES && item.tag == Tag::ATTRIBUTE_NAME {
            let name = item.as_text().unwrap_or_default().to_owned();
            out.push(Ttlv::structure(
                Tag::ATTRIBUTE_REFERENCE,
                vec![
                    Ttlv::text(Tag::VENDOR_IDENTIFICATION, String::new()),
                    Ttlv::text(Tag::ATTRIBUTE_NAME, name),
                ],
            ));
        } else {
            out.push(item);
        }
    }
    if let Some(attrs) = locate_attrs {
        for o in &mut out {
            if o.tag == Tag::ATTRIBUTES {
                o.value = Value::Structure(attrs);
                break;
            }
        }
    }
    Ok(out)
}

/// The operations whose templates PyKMIP 0.11's client writes as 2.x `Attributes` (it
/// leaves Re-key's `TemplateAttribute` as is, and so does this).
fn converts_templates(op: Operation) -> bool {
    [
        Operation::CREATE,
        Operation::CREATE_KEY_PAIR,
        Operation::REGISTER,
        Operation::DERIVE_KEY,
    ]
    .contains(&op)
}

/// Rewrites a 2.x response payload into the 1.x shape the Python side reads.
///
/// # Errors
/// A malformed attribute.
pub(crate) fn response_from_v2(items: &[Ttlv]) -> Result<Vec<Ttlv>, KmipError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item.tag {
            Tag::ATTRIBUTES => {
                for a in item.items() {
                    out.push(Attribute::from_v2(a)?.to_v1());
                }
            }
            Tag::ATTRIBUTE_REFERENCE => {
                out.push(Ttlv::text(Tag::ATTRIBUTE_NAME, reference_name(item)))
            }
            _ => out.push(item.clone()),
        }
    }
    Ok(out)
}

/// The 1.x attribute name of a 2.x `Attribute Reference` (a tag, or a vendor and a name).
fn reference_name(r: &Ttlv) -> String {
    match &r.value {
        Value::Enumeration(e) => match Tag::new(*e) {
            Some(t) => t.attribute_name().unwrap_or_else(|| t.to_string()),
            None => format!("0x{e:06X}"),
        },
        _ => {
            let vendor = r
                .find(Tag::VENDOR_IDENTIFICATION)
                .and_then(Ttlv::as_text)
                .unwrap_or("");
            let name = r
                .find(Tag::ATTRIBUTE_NAME)
                .and_then(Ttlv::as_text)
                .unwrap_or("");
            match vendor {
                "" => name.to_owned(),
                v => Attribute {
                    name: AttributeName::Custom {
                        vendor: if v == "x" || v == "y" {
                            None
                        } else {
                            Some(v.to_owned())
                        },
                        name: if v == "x" || v == "y" {
                            format!("{v}-{name}")
                        } else {
                            name.to_owned()
                        },
                    },
                    index: None,
                    value: Value::Integer(0),
                }
                .to_v1()
                .find(Tag::ATTRIBUTE_NAME)
                .and_then(Ttlv::as_text)
                .unwrap_or(name)
                .to_owned(),
            }
        }
    }
}
