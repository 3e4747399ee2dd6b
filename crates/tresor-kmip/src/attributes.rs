//! One neutral attribute representation for KMIP 1.x and 2.x.
//!
//! KMIP 1.x carries attributes as `Attribute { AttributeName, AttributeIndex?, AttributeValue }`
//! structures inside a `TemplateAttribute` (or `Common`/`PrivateKey`/`PublicKey`
//! `TemplateAttribute`); the name is spec text such as `"Cryptographic Algorithm"`.
//! KMIP 2.x puts each attribute directly under an `Attributes` structure, tagged with its own
//! tag (`CryptographicAlgorithm`), and vendor attributes as `Attribute { VendorIdentification,
//! AttributeName, AttributeValue }`.
//!
//! [`AttributeSet`] reads both and writes either, so a server handles attributes once.
//! Custom 1.x attributes `x-foo` / `y-foo` map to 2.x vendor attributes with vendor
//! identification `x` / `y` and name `foo`.
//!
//! # Examples
//! ```
//! use tresor_kmip::{attributes::*, enums::CryptographicAlgorithm, ProtocolVersion, Tag, Value};
//! let mut set = AttributeSet::default();
//! set.push(Attribute::standard(Tag::CRYPTOGRAPHIC_ALGORITHM, Value::Enumeration(CryptographicAlgorithm::AES.0)));
//! set.push(Attribute::standard(Tag::CRYPTOGRAPHIC_LENGTH, Value::Integer(256)));
//! let v1 = set.to_ttlv(ProtocolVersion::V1_4, Container::Template);
//! let v2 = set.to_ttlv(ProtocolVersion::V2_1, Container::Template);
//! assert_eq!(AttributeSet::from_ttlv(&v1)?, AttributeSet::from_ttlv(&v2)?);
//! assert_eq!(set.cryptographic_length(), Some(256));
//! # Ok::<(), tresor_kmip::KmipError>(())
//! ```

use std::fmt;

use crate::enums::{CryptographicAlgorithm, CryptographicUsageMask, NameType, ObjectType};
use crate::error::KmipError;
use crate::message::ProtocolVersion;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// Which attribute name an [`Attribute`] has.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttributeName {
    /// A standard KMIP attribute, named by its tag.
    Standard(Tag),
    /// A custom or vendor attribute.
    Custom {
        /// The 2.x vendor identification; `None` for 1.x `x-`/`y-` names.
        vendor: Option<String>,
        /// The name (`"x-owner"` for 1.x-style names).
        name: String,
    },
}

impl fmt::Display for AttributeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeName::Standard(t) => match t.attribute_name() {
                Some(n) => f.write_str(&n),
                None => write!(f, "{t}"),
            },
            AttributeName::Custom { vendor: None, name } => f.write_str(name),
            AttributeName::Custom {
                vendor: Some(v),
                name,
            } => write!(f, "{v}:{name}"),
        }
    }
}

/// One attribute: its name, its 1.x index if any, and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute's name.
    pub name: AttributeName,
    /// The KMIP 1.x `AttributeIndex` (dropped when writing 2.x).
    pub index: Option<i32>,
    /// The value; for structured attributes (`Name`, `Link`) a structure of the fields.
    pub value: Value,
}

impl Attribute {
    /// A standard attribute.
    pub fn standard(tag: Tag, value: Value) -> Self {
        Attribute {
            name: AttributeName::Standard(tag),
            index: None,
            value,
        }
    }

    /// A `Name` attribute with the given name type.
    pub fn name(name: impl Into<String>, name_type: NameType) -> Self {
        Attribute::standard(
            Tag::NAME,
            Value::Structure(vec![
                Ttlv::text(Tag::NAME_VALUE, name),
                Ttlv::enumeration(Tag::NAME_TYPE, name_type),
            ]),
        )
    }

    /// Reads a KMIP 1.x `Attribute { AttributeName, AttributeIndex?, AttributeValue }`.
    ///
    /// # Errors
    /// [`KmipError::InvalidAttribute`] when a field is missing or has the wrong type.
    pub fn from_v1(t: &Ttlv) -> Result<Self, KmipError> {
        let text = t
            .find(Tag::ATTRIBUTE_NAME)
            .and_then(Ttlv::as_text)
            .ok_or_else(|| invalid("Attribute", "missing attribute name"))?;
        let index = match t.find(Tag::ATTRIBUTE_INDEX) {
            None => None,
            Some(i) => Some(
                i.as_integer()
                    .ok_or_else(|| invalid(text, "attribute index is not an integer"))?,
            ),
        };
        let value = t
            .find(Tag::ATTRIBUTE_VALUE)
            .map(|v| v.value.clone())
            .ok_or_else(|| invalid(text, "missing attribute value"))?;
        Ok(Attribute {
            name: name_from_v1(text),
            index,
            value,
        })
    }

    /// Reads one KMIP 2.x attribute item (a child of `Attributes`, `NewAttribute`...).
    ///
    /// # Errors
    /// [`KmipError::InvalidAttribute`] for a malformed vendor attribute.
    pub fn from_v2(t: &Ttlv) -> Result<Self, KmipError> {
        if t.tag != Tag::ATTRIBUTE {
            return Ok(Attribute::standard(t.tag, t.value.clone()));
        }
        let vendor = t
            .find(Tag::VENDOR_IDENTIFICATION)
            .and_then(Ttlv::as_text)
            .ok_or_else(|| invalid("Attribute", "missing vendor identification"))?;
        let name = t
            .find(Tag::ATTRIBUTE_NAME)
            .and_then(Ttlv::as_text)
            .ok_or_else(|| invalid(vendor, "missing attribute name"))?;
        let value = t
            .find(Tag::ATTRIBUTE_VALUE)
            .map(|v| v.value.clone())
            .ok_or_else(|| invalid(name, "missing attribute value"))?;
        let name = match vendor {
            "x" | "y" => AttributeName::Custom {
                vendor: None,
                name: format!("{vendor}-{name}"),
            },
            _ => AttributeName::Custom {
                vendor: Some(vendor.to_owned()),
                name: name.to_owned(),
            },
        };
        Ok(Attribute {
            name,
            index: None,
            value,
        })
    }

    /// Writes a KMIP 1.x `Attribute` structure.
    pub fn to_v1(&self) -> Ttlv {
        let name = match &self.name {
            AttributeName::Standard(t) => t.attribute_name().unwrap_or_else(|| t.to_string()),
            AttributeName::Custom { vendor: None, name } => name.clone(),
            AttributeName::Custom {
                vendor: Some(v),
                name,
            } => format!("x-{v}-{name}"),
        };
        let mut v = vec![Ttlv::text(Tag::ATTRIBUTE_NAME, name)];
        v.extend(self.index.map(|i| Ttlv::integer(Tag::ATTRIBUTE_INDEX, i)));
        v.push(Ttlv::new(Tag::ATTRIBUTE_VALUE, self.value.clone()));
        Ttlv::structure(Tag::ATTRIBUTE, v)
    }

    /// Writes a KMIP 2.x attribute item.
    pub fn to_v2(&self) -> Ttlv {
        match &self.name {
            AttributeName::Standard(t) => Ttlv::new(*t, self.value.clone()),
            AttributeName::Custom { vendor, name } => {
                let (vendor, name) = match (vendor, name.split_once('-')) {
                    (Some(v), _) => (v.clone(), name.clone()),
                    (None, Some((p @ ("x" | "y"), rest))) => (p.to_owned(), rest.to_owned()),
                    (None, _) => ("x".to_owned(), name.clone()),
                };
                Ttlv::structure(
                    Tag::ATTRIBUTE,
                    vec![
                        Ttlv::text(Tag::VENDOR_IDENTIFICATION, vendor),
                        Ttlv::text(Tag::ATTRIBUTE_NAME, name),
                        Ttlv::new(Tag::ATTRIBUTE_VALUE, self.value.clone()),
                    ],
                )
            }
        }
    }

    /// Writes the attribute in the encoding of `version`.
    pub fn to_version(&self, version: ProtocolVersion) -> Ttlv {
        if version.is_v2() {
            self.to_v2()
        } else {
            self.to_v1()
        }
    }
}

fn invalid(name: &str, reason: &'static str) -> KmipError {
    KmipError::InvalidAttribute {
        name: name.to_owned(),
        reason,
    }
}

fn name_from_v1(text: &str) -> AttributeName {
    if text.starts_with("x-") || text.starts_with("y-") {
        return AttributeName::Custom {
            vendor: None,
            name: text.to_owned(),
        };
    }
    match Tag::from_attribute_name(text) {
        Some(t) => AttributeName::Standard(t),
        None => AttributeName::Custom {
            vendor: None,
            name: text.to_owned(),
        },
    }
}

/// Which structure an [`AttributeSet`] is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// `TemplateAttribute` (1.x) / `Attributes` (2.x).
    Template,
    /// `CommonTemplateAttribute` / `CommonAttributes`.
    Common,
    /// `PrivateKeyTemplateAttribute` / `PrivateKeyAttributes`.
    PrivateKey,
    /// `PublicKeyTemplateAttribute` / `PublicKeyAttributes`.
    PublicKey,
}

impl Container {
    /// The tag of this container in `version`.
    pub fn tag(self, version: ProtocolVersion) -> Tag {
        match (self, version.is_v2()) {
            (Container::Template, false) => Tag::TEMPLATE_ATTRIBUTE,
            (Container::Template, true) => Tag::ATTRIBUTES,
            (Container::Common, false) => Tag::COMMON_TEMPLATE_ATTRIBUTE,
            (Container::Common, true) => Tag::COMMON_ATTRIBUTES,
            (Container::PrivateKey, false) => Tag::PRIVATE_KEY_TEMPLATE_ATTRIBUTE,
            (Container::PrivateKey, true) => Tag::PRIVATE_KEY_ATTRIBUTES,
            (Container::PublicKey, false) => Tag::PUBLIC_KEY_TEMPLATE_ATTRIBUTE,
            (Container::PublicKey, true) => Tag::PUBLIC_KEY_ATTRIBUTES,
        }
    }

    /// The container a tag names, in either version.
    pub fn from_tag(tag: Tag) -> Option<Container> {
        Some(match tag {
            Tag::TEMPLATE_ATTRIBUTE | Tag::ATTRIBUTES => Container::Template,
            Tag::COMMON_TEMPLATE_ATTRIBUTE | Tag::COMMON_ATTRIBUTES => Container::Common,
            Tag::PRIVATE_KEY_TEMPLATE_ATTRIBUTE | Tag::PRIVATE_KEY_ATTRIBUTES => {
                Container::PrivateKey
            }
            Tag::PUBLIC_KEY_TEMPLATE_ATTRIBUTE | Tag::PUBLIC_KEY_ATTRIBUTES => Container::PublicKey,
            _ => return None,
        })
    }
}

/// Attributes in order, independent of the protocol version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributeSet {
    /// The attributes, in the order received.
    pub attributes: Vec<Attribute>,
    /// KMIP 1.x template `Name` references found in a `TemplateAttribute`.
    pub template_names: Vec<Ttlv>,
}

impl AttributeSet {
    /// Reads a 1.x template-attribute or 2.x attributes structure (any [`Container`] tag).
    ///
    /// # Errors
    /// [`KmipError::UnexpectedTag`] for another structure, [`KmipError::InvalidAttribute`]
    /// for a malformed attribute.
    pub fn from_ttlv(t: &Ttlv) -> Result<Self, KmipError> {
        let v2 = match t.tag {
            Tag::TEMPLATE_ATTRIBUTE
            | Tag::COMMON_TEMPLATE_ATTRIBUTE
            | Tag::PRIVATE_KEY_TEMPLATE_ATTRIBUTE
            | Tag::PUBLIC_KEY_TEMPLATE_ATTRIBUTE => false,
            Tag::ATTRIBUTES
            | Tag::COMMON_ATTRIBUTES
            | Tag::PRIVATE_KEY_ATTRIBUTES
            | Tag::PUBLIC_KEY_ATTRIBUTES => true,
            found => {
                return Err(KmipError::UnexpectedTag {
                    expected: Tag::ATTRIBUTES,
                    found,
                });
            }
        };
        let mut set = AttributeSet::default();
        for item in t.items() {
            if v2 {
                set.attributes.push(Attribute::from_v2(item)?);
            } else if item.tag == Tag::ATTRIBUTE {
                set.attributes.push(Attribute::from_v1(item)?);
            } else if item.tag == Tag::NAME {
                set.template_names.push(item.clone());
            } else {
                return Err(invalid("TemplateAttribute", "unexpected field"));
            }
        }
        Ok(set)
    }

    /// Writes the set as `container` in the encoding of `version`.
    pub fn to_ttlv(&self, version: ProtocolVersion, container: Container) -> Ttlv {
        let mut v: Vec<Ttlv> = Vec::new();
        if !version.is_v2() {
            v.extend(self.template_names.iter().cloned());
        }
        v.extend(self.attributes.iter().map(|a| a.to_version(version)));
        Ttlv::structure(container.tag(version), v)
    }

    /// Appends an attribute.
    pub fn push(&mut self, a: Attribute) {
        self.attributes.push(a);
    }

    /// Returns true if and only if the set holds no attribute.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty()
    }

    /// The first value of the standard attribute `tag`.
    pub fn get(&self, tag: Tag) -> Option<&Value> {
        self.get_all(tag).next()
    }

    /// Every value of the standard attribute `tag`, in order.
    pub fn get_all(&self, tag: Tag) -> impl Iterator<Item = &Value> {
        self.attributes
            .iter()
            .filter(move |a| a.name == AttributeName::Standard(tag))
            .map(|a| &a.value)
    }

    /// Removes every instance of the standard attribute `tag`; returns how many there were.
    pub fn remove(&mut self, tag: Tag) -> usize {
        let before = self.attributes.len();
        self.attributes
            .retain(|a| a.name != AttributeName::Standard(tag));
        before - self.attributes.len()
    }

    /// Adds the attributes of `other` (e.g. `CommonAttributes` into `PrivateKeyAttributes`).
    pub fn merge(&mut self, other: &AttributeSet) {
        self.attributes.extend(other.attributes.iter().cloned());
    }

    fn enumeration(&self, tag: Tag) -> Option<u32> {
        match self.get(tag)? {
            Value::Enumeration(v) => Some(*v),
            _ => None,
        }
    }

    fn integer(&self, tag: Tag) -> Option<i32> {
        match self.get(tag)? {
            Value::Integer(v) => Some(*v),
            _ => None,
        }
    }

    /// The `Object Type` attribute.
    pub fn object_type(&self) -> Option<ObjectType> {
        self.enumeration(Tag::OBJECT_TYPE).map(ObjectType)
    }

    /// The `Cryptographic Algorithm` attribute.
    pub fn cryptographic_algorithm(&self) -> Option<CryptographicAlgorithm> {
        self.enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM)
            .map(CryptographicAlgorithm)
    }

    /// The `Cryptographic Length` attribute, in bits.
    pub fn cryptographic_length(&self) -> Option<i32> {
        self.integer(Tag::CRYPTOGRAPHIC_LENGTH)
    }

    /// The `Cryptographic Usage Mask` attribute.
    pub fn usage_mask(&self) -> Option<CryptographicUsageMask> {
        self.integer(Tag::CRYPTOGRAPHIC_USAGE_MASK)
            .map(|m| CryptographicUsageMask(m as u32))
    }

    /// Every `Name` attribute as `(value, type)`.
    pub fn names(&self) -> Vec<(String, NameType)> {
        self.get_all(Tag::NAME)
            .filter_map(|v| match v {
                Value::Structure(items) => {
                    let value = items.iter().find(|i| i.tag == Tag::NAME_VALUE)?.as_text()?;
                    let ty = items
                        .iter()
                        .find(|i| i.tag == Tag::NAME_TYPE)
                        .and_then(Ttlv::as_enumeration)
                        .unwrap_or(NameType::UNINTERPRETED_TEXT_STRING.0);
                    Some((value.to_owned(), NameType(ty)))
                }
                _ => None,
            })
            .collect()
    }
}

/// The attribute a key of a store object's attribute map names (`"Cryptographic
/// Algorithm"`, `"x-owner"`, `"vendor:name"`), or `None` for tresor's own keys (`app`,
/// `tresor.role`): how the server stores KMIP attributes, for tools that read or write them
/// by that key (`tresor kmip get-attributes NAME`, `--attr NAME=VALUE`).
pub fn name_of_store_key(key: &str) -> Option<AttributeName> {
    crate::ops::attrs::name_of_key(key)
}

/// A TTLV value in the JSON form the store keeps attributes in (enumerations by name when
/// `tag` is a standard tag, dates and integers as numbers, structures as objects keyed by
/// field name, values with no natural JSON form as `{"$t": ItemType, "v": ...}`), for
/// printing attributes and payloads the way `tresor kmip` does.
pub fn value_to_store_json(tag: Option<Tag>, v: &Value) -> serde_json::Value {
    crate::ops::attrs::to_json(tag, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1_template() -> Ttlv {
        let attr = |name: &str, value: Value| {
            Ttlv::structure(
                Tag::ATTRIBUTE,
                vec![
                    Ttlv::text(Tag::ATTRIBUTE_NAME, name),
                    Ttlv::new(Tag::ATTRIBUTE_VALUE, value),
                ],
            )
        };
        Ttlv::structure(
            Tag::TEMPLATE_ATTRIBUTE,
            vec![
                attr("Cryptographic Algorithm", Value::Enumeration(3)),
                attr("Cryptographic Length", Value::Integer(128)),
                attr("Cryptographic Usage Mask", Value::Integer(12)),
                attr(
                    "Name",
                    Value::Structure(vec![
                        Ttlv::text(Tag::NAME_VALUE, "app:dev:DB"),
                        Ttlv::enumeration(Tag::NAME_TYPE, 1u32),
                    ]),
                ),
                attr("x-owner", Value::TextString("alice".into())),
            ],
        )
    }

    #[test]
    fn v1_to_v2_and_back() {
        let t1 = v1_template();
        let set = AttributeSet::from_ttlv(&t1).unwrap();
        assert_eq!(
            set.cryptographic_algorithm(),
            Some(CryptographicAlgorithm::AES)
        );
        assert_eq!(set.cryptographic_length(), Some(128));
        assert!(
            set.usage_mask()
                .is_some_and(|m| m.contains(CryptographicUsageMask::ENCRYPT))
        );
        assert_eq!(
            set.names(),
            vec![("app:dev:DB".to_owned(), NameType::UNINTERPRETED_TEXT_STRING)]
        );
        // Written back as 1.x it is byte-identical.
        assert_eq!(set.to_ttlv(ProtocolVersion::V1_2, Container::Template), t1);
        // As 2.x, each attribute is tagged and the custom one is a vendor attribute.
        let t2 = set.to_ttlv(ProtocolVersion::V2_0, Container::Template);
        assert_eq!(t2.tag, Tag::ATTRIBUTES);
        assert_eq!(t2.items()[0].tag, Tag::CRYPTOGRAPHIC_ALGORITHM);
        let vendor = &t2.items()[4];
        assert_eq!(
            vendor
                .find(Tag::VENDOR_IDENTIFICATION)
                .and_then(Ttlv::as_text),
            Some("x")
        );
        assert_eq!(
            vendor.find(Tag::ATTRIBUTE_NAME).and_then(Ttlv::as_text),
            Some("owner")
        );
        assert_eq!(AttributeSet::from_ttlv(&t2).unwrap(), set);
    }

    #[test]
    fn containers() {
        let set = AttributeSet::from_ttlv(&v1_template()).unwrap();
        for c in [
            Container::Template,
            Container::Common,
            Container::PrivateKey,
            Container::PublicKey,
        ] {
            for v in [ProtocolVersion::V1_0, ProtocolVersion::V2_1] {
                let t = set.to_ttlv(v, c);
                assert_eq!(Container::from_tag(t.tag), Some(c));
                assert_eq!(AttributeSet::from_ttlv(&t).unwrap(), set);
            }
        }
    }

    #[test]
    fn malformed() {
        let bad = Ttlv::structure(
            Tag::TEMPLATE_ATTRIBUTE,
            vec![Ttlv::structure(
                Tag::ATTRIBUTE,
                vec![Ttlv::text(Tag::ATTRIBUTE_NAME, "Name")],
            )],
        );
        let err = AttributeSet::from_ttlv(&bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "kmip: attribute 'Name' is invalid: missing attribute value"
        );
        assert!(AttributeSet::from_ttlv(&Ttlv::integer(Tag::NAME, 1)).is_err());
        let vendor = Ttlv::structure(
            Tag::ATTRIBUTES,
            vec![Ttlv::structure(Tag::ATTRIBUTE, vec![])],
        );
        assert!(AttributeSet::from_ttlv(&vendor).is_err());
    }

    #[test]
    fn remove_and_merge() {
        let mut set = AttributeSet::from_ttlv(&v1_template()).unwrap();
        assert_eq!(set.remove(Tag::CRYPTOGRAPHIC_LENGTH), 1);
        assert_eq!(set.cryptographic_length(), None);
        let mut other = AttributeSet::default();
        other.push(Attribute::name(
            "second",
            NameType::UNINTERPRETED_TEXT_STRING,
        ));
        set.merge(&other);
        assert_eq!(set.names().len(), 2);
        assert_eq!(
            AttributeName::Standard(Tag::CRYPTOGRAPHIC_USAGE_MASK).to_string(),
            "Cryptographic Usage Mask"
        );
    }
}
