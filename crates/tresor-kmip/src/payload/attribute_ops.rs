//! The operations that change or list one object's attributes: Add Attribute, Set
//! Attribute, Modify Attribute, Delete Attribute and Get Attribute List.
//!
//! KMIP 1.x carries the attribute as an `Attribute` (name, index, value) and names one by
//! `Attribute Name` text with an `Attribute Index`; 2.x wraps it in `New Attribute` /
//! `Current Attribute` and names it with an `Attribute Reference`. Requests are written in
//! the form of the version given to [`Payload::to_items`]; both forms are read, as the
//! server always has.

use super::attributes::{reference, referenced_names};
use super::{Payload, PayloadError, Request, UidRef, opt_integer, push_opt, req_text};
use crate::attributes::{Attribute, AttributeName};
use crate::enums::Operation;
use crate::message::ProtocolVersion;
use crate::ops::attrs::key_of;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

fn invalid(e: crate::KmipError) -> PayloadError {
    PayloadError::Invalid(e.to_string())
}

/// The attribute an Add/Set/Modify Attribute request carries: the one attribute of a 2.x
/// `New Attribute`, else the 1.x `Attribute`.
pub(crate) fn read_new_attribute(p: &Ttlv) -> Result<Attribute, PayloadError> {
    if let Some(a) = p.find(Tag::NEW_ATTRIBUTE) {
        let inner = a.items().first().ok_or(PayloadError::Missing {
            parent: Tag::NEW_ATTRIBUTE,
            field: Tag::ATTRIBUTE,
        })?;
        return Attribute::from_v2(inner).map_err(invalid);
    }
    let a = p.find(Tag::ATTRIBUTE).ok_or(PayloadError::Missing {
        parent: Tag::REQUEST_PAYLOAD,
        field: Tag::ATTRIBUTE,
    })?;
    Attribute::from_v1(a).map_err(invalid)
}

/// The attribute of a 2.x `Current Attribute`, if the payload has one.
fn read_current_attribute(p: &Ttlv) -> Result<Option<Attribute>, PayloadError> {
    p.find(Tag::CURRENT_ATTRIBUTE)
        .map(|c| match c.items().first() {
            Some(a) => Attribute::from_v2(a).map_err(invalid),
            None => Err(PayloadError::Missing {
                parent: Tag::CURRENT_ATTRIBUTE,
                field: Tag::ATTRIBUTE,
            }),
        })
        .transpose()
}

/// The new attribute in `version`'s form: 2.x `New Attribute`, 1.x `Attribute`.
fn new_attribute_item(a: &Attribute, version: ProtocolVersion) -> Ttlv {
    if version.is_v2() {
        Ttlv::structure(Tag::NEW_ATTRIBUTE, vec![a.to_v2()])
    } else {
        a.to_v1()
    }
}

/// The 2.x `Current Attribute` holding `a`.
fn current_attribute_item(a: &Attribute) -> Ttlv {
    Ttlv::structure(Tag::CURRENT_ATTRIBUTE, vec![a.to_v2()])
}

fn uid_items(uid: Option<&UidRef>) -> Vec<Ttlv> {
    let mut out = Vec::new();
    push_opt(&mut out, uid.map(UidRef::to_ttlv));
    out
}

/// Defines a request carrying one new attribute (Add Attribute, Set Attribute).
macro_rules! new_attribute_request {
    ($op:expr, $name:literal, $req:ident, $resp:ident) => {
        #[doc = concat!("A ", $name, " request: the object and the attribute (KMIP 1.x ")]
        #[doc = "`Attribute`, 2.x `New Attribute`)."]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $req {
            /// The object (absent: the ID Placeholder).
            pub unique_identifier: Option<UidRef>,
            /// The attribute.
            pub attribute: Attribute,
        }

        impl $req {
            #[doc = concat!("A ", $name, " of `attribute` on object `uid`.")]
            pub fn new(uid: impl Into<String>, attribute: Attribute) -> Self {
                $req {
                    unique_identifier: Some(UidRef::text(uid)),
                    attribute,
                }
            }
        }

        impl Payload for $req {
            const TAG: Tag = Tag::REQUEST_PAYLOAD;

            fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
                Ok($req {
                    unique_identifier: UidRef::of(p),
                    attribute: read_new_attribute(p)?,
                })
            }

            fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv> {
                let mut out = uid_items(self.unique_identifier.as_ref());
                out.push(new_attribute_item(&self.attribute, version));
                out
            }
        }

        impl Request for $req {
            const OPERATION: Operation = $op;
            type Response = $resp;
        }
    };
}

/// Defines a response holding the identifier and, in KMIP 1.x, the attribute concerned.
macro_rules! attribute_response {
    ($name:literal, $resp:ident) => {
        #[doc = concat!("A ", $name, " response: the object's identifier and, in KMIP 1.x, ")]
        #[doc = "the attribute concerned with its Attribute Index."]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $resp {
            /// The object's identifier.
            pub unique_identifier: String,
            /// The attribute (written in KMIP 1.x only).
            pub attribute: Option<Attribute>,
        }

        impl Payload for $resp {
            const TAG: Tag = Tag::RESPONSE_PAYLOAD;

            fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
                Ok($resp {
                    unique_identifier: req_text(p, Tag::UNIQUE_IDENTIFIER)?,
                    attribute: p
                        .find(Tag::ATTRIBUTE)
                        .map(Attribute::from_v1)
                        .transpose()
                        .map_err(invalid)?,
                })
            }

            fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv> {
                let mut out = vec![Ttlv::text(
                    Tag::UNIQUE_IDENTIFIER,
                    self.unique_identifier.clone(),
                )];
                if !version.is_v2() {
                    push_opt(&mut out, self.attribute.as_ref().map(Attribute::to_v1));
                }
                out
            }
        }
    };
}

new_attribute_request!(
    Operation::ADD_ATTRIBUTE,
    "Add Attribute",
    AddAttributeRequest,
    AddAttributeResponse
);
attribute_response!("Add Attribute", AddAttributeResponse);

new_attribute_request!(
    Operation::SET_ATTRIBUTE,
    "Set Attribute",
    SetAttributeRequest,
    SetAttributeResponse
);

uid_response!("Set Attribute", SetAttributeResponse);

/// A Modify Attribute request: KMIP 1.x names the instance by the new attribute's index,
/// 2.x by its current value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifyAttributeRequest {
    /// The object (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
    /// The instance to replace (2.x `Current Attribute`; not written in 1.x).
    pub current_attribute: Option<Attribute>,
    /// The new value (1.x `Attribute`, with the instance's index; 2.x `New Attribute`).
    pub new_attribute: Attribute,
}

impl ModifyAttributeRequest {
    /// A Modify Attribute of object `uid` to `new_attribute`.
    pub fn new(uid: impl Into<String>, new_attribute: Attribute) -> Self {
        ModifyAttributeRequest {
            unique_identifier: Some(UidRef::text(uid)),
            current_attribute: None,
            new_attribute,
        }
    }
}

impl Payload for ModifyAttributeRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    /// Reads the new attribute first, then the current one (the order the server checks).
    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        let new_attribute = read_new_attribute(p)?;
        Ok(ModifyAttributeRequest {
            unique_identifier: UidRef::of(p),
            current_attribute: read_current_attribute(p)?,
            new_attribute,
        })
    }

    fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = uid_items(self.unique_identifier.as_ref());
        if version.is_v2() {
            push_opt(
                &mut out,
                self.current_attribute.as_ref().map(current_attribute_item),
            );
        }
        out.push(new_attribute_item(&self.new_attribute, version));
        out
    }
}

impl Request for ModifyAttributeRequest {
    const OPERATION: Operation = Operation::MODIFY_ATTRIBUTE;
    type Response = ModifyAttributeResponse;
}

attribute_response!("Modify Attribute", ModifyAttributeResponse);

/// What a Delete Attribute removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteTarget {
    /// The instance with this value (2.x `Current Attribute`, written as such in every
    /// version).
    Current(Attribute),
    /// The attribute named (1.x `Attribute Name`, 2.x `Attribute Reference`).
    Reference {
        /// The attribute.
        name: AttributeName,
        /// The instance (1.x `Attribute Index`, not written in 2.x); none: every instance.
        index: Option<i32>,
    },
}

/// A Delete Attribute request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteAttributeRequest {
    /// The object (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
    /// What to delete.
    pub target: DeleteTarget,
}

impl DeleteAttributeRequest {
    /// A Delete Attribute of attribute `name` (instance `index`) of object `uid`.
    pub fn new(uid: impl Into<String>, name: AttributeName, index: Option<i32>) -> Self {
        DeleteAttributeRequest {
            unique_identifier: Some(UidRef::text(uid)),
            target: DeleteTarget::Reference { name, index },
        }
    }
}

impl Payload for DeleteAttributeRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    /// Reads a `Current Attribute` if there is one, else the first attribute named and its
    /// `Attribute Index`.
    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        let target = match read_current_attribute(p)? {
            Some(a) => DeleteTarget::Current(a),
            None => DeleteTarget::Reference {
                name: referenced_names(p)
                    .into_iter()
                    .next()
                    .ok_or(PayloadError::Missing {
                        parent: Tag::REQUEST_PAYLOAD,
                        field: Tag::ATTRIBUTE_NAME,
                    })?,
                index: opt_integer(p, Tag::ATTRIBUTE_INDEX),
            },
        };
        Ok(DeleteAttributeRequest {
            unique_identifier: UidRef::of(p),
            target,
        })
    }

    fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = uid_items(self.unique_identifier.as_ref());
        match &self.target {
            DeleteTarget::Current(a) => out.push(current_attribute_item(a)),
            DeleteTarget::Reference { name, index } => {
                out.push(reference(name, version));
                if !version.is_v2() {
                    push_opt(
                        &mut out,
                        index.map(|i| Ttlv::integer(Tag::ATTRIBUTE_INDEX, i)),
                    );
                }
            }
        }
        out
    }
}

impl Request for DeleteAttributeRequest {
    const OPERATION: Operation = Operation::DELETE_ATTRIBUTE;
    type Response = DeleteAttributeResponse;
}

attribute_response!("Delete Attribute", DeleteAttributeResponse);

/// A Get Attribute List request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetAttributeListRequest {
    /// The object (absent: the ID Placeholder).
    pub unique_identifier: Option<UidRef>,
}

impl GetAttributeListRequest {
    /// The attribute names of object `uid`.
    pub fn new(uid: impl Into<String>) -> Self {
        GetAttributeListRequest {
            unique_identifier: Some(UidRef::text(uid)),
        }
    }
}

impl Payload for GetAttributeListRequest {
    const TAG: Tag = Tag::REQUEST_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(GetAttributeListRequest {
            unique_identifier: UidRef::of(p),
        })
    }

    fn to_items(&self, _: ProtocolVersion) -> Vec<Ttlv> {
        uid_items(self.unique_identifier.as_ref())
    }
}

impl Request for GetAttributeListRequest {
    const OPERATION: Operation = Operation::GET_ATTRIBUTE_LIST;
    type Response = GetAttributeListResponse;
}

/// A Get Attribute List response: the object's identifier and its attributes' names
/// (KMIP 1.x `Attribute Name` text, 2.x `Attribute Reference`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAttributeListResponse {
    /// The object's identifier.
    pub unique_identifier: String,
    /// The names, in order.
    pub attribute_names: Vec<AttributeName>,
}

/// A 2.x `Attribute Reference` as Get Attribute List writes it: a standard attribute's tag,
/// or the vendor and name a vendor attribute is written with (`x-owner`: vendor `x`, name
/// `owner`).
fn list_reference(name: &AttributeName) -> Ttlv {
    match name {
        AttributeName::Standard(t) => Ttlv::enumeration(Tag::ATTRIBUTE_REFERENCE, t.value()),
        AttributeName::Custom { .. } => {
            let a = Attribute {
                name: name.clone(),
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
    }
}

impl Payload for GetAttributeListResponse {
    const TAG: Tag = Tag::RESPONSE_PAYLOAD;

    fn from_ttlv(p: &Ttlv) -> Result<Self, PayloadError> {
        Ok(GetAttributeListResponse {
            unique_identifier: req_text(p, Tag::UNIQUE_IDENTIFIER)?,
            attribute_names: referenced_names(p),
        })
    }

    fn to_items(&self, version: ProtocolVersion) -> Vec<Ttlv> {
        let mut out = vec![Ttlv::text(
            Tag::UNIQUE_IDENTIFIER,
            self.unique_identifier.clone(),
        )];
        for n in &self.attribute_names {
            out.push(if version.is_v2() {
                list_reference(n)
            } else {
                Ttlv::text(Tag::ATTRIBUTE_NAME, key_of(n))
            });
        }
        out
    }
}

#[cfg(test)]
#[path = "attribute_ops_test.rs"]
mod tests;
