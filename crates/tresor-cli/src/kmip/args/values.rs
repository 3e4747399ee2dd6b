//! The attribute and data flags of the client commands and the parsing of flag values: hex,
//! enumeration names, NAME=VALUE attributes and KMIP versions.

use clap::Args;

use crate::kmip::usage;
use tresor_kmip::KmipError;
use tresor_kmip::attributes::{Attribute, AttributeName, AttributeSet};
use tresor_kmip::enums::{self, NameType};
use tresor_kmip::message::ProtocolVersion;
use tresor_kmip::tags::Tag;
use tresor_kmip::ttlv::Value;

/// Attribute flags for create, register and locate.
#[derive(Debug, Clone, Default, Args)]
pub struct AttrArgs {
    /// Name.
    #[arg(long)]
    pub name: Option<String>,
    /// Usage mask names, e.g. "Encrypt Decrypt" or "Sign|Verify".
    #[arg(long)]
    pub usage: Option<String>,
    /// Object group.
    #[arg(long)]
    pub group: Option<String>,
    /// Any attribute as NAME=VALUE (repeatable), e.g. x-owner=alice.
    #[arg(long = "attr", value_name = "NAME=VALUE")]
    pub attr: Vec<String>,
}

/// The key and data of a cryptographic command.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// The key.
    pub uid: String,
    /// The data.
    #[arg(long)]
    pub data: String,
    /// --data is hex (default: text for encrypt/sign/mac, hex for decrypt).
    #[arg(long)]
    pub hex: bool,
}

/// Decodes hex (surrounding whitespace ignored).
pub(in crate::kmip) fn unhex(s: &str) -> Result<Vec<u8>, KmipError> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return Err(usage(format!("'{s}' is not hex")));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| usage(format!("'{s}' is not hex")))
        })
        .collect()
}

/// Looks up an enumeration value by name, ignoring case, `_` and `-`.
pub(in crate::kmip) fn enum_value(
    def: &enums::EnumDef,
    what: &str,
    s: &str,
) -> Result<u32, KmipError> {
    def.value_of(s)
        .or_else(|| {
            def.values
                .iter()
                .find(|(_, n)| {
                    n.eq_ignore_ascii_case(s)
                        || n.replace('_', "")
                            .eq_ignore_ascii_case(&s.replace(['_', '-'], ""))
                })
                .map(|(v, _)| *v)
        })
        .ok_or_else(|| usage(format!("unknown {what} '{s}'")))
}

/// Parses NAME=VALUE into an attribute, typing VALUE by the attribute's definition.
pub(in crate::kmip) fn parse_attr(spec: &str) -> Result<Attribute, KmipError> {
    let (name, value) = spec
        .split_once('=')
        .ok_or_else(|| usage(format!("attribute '{spec}' is not NAME=VALUE")))?;
    let name = name.trim();
    let an = tresor_kmip::attributes::name_of_store_key(name).unwrap_or(AttributeName::Custom {
        vendor: None,
        name: name.to_owned(),
    });
    let v = match &an {
        AttributeName::Standard(Tag::NAME) => {
            return Ok(Attribute::name(value, NameType::UNINTERPRETED_TEXT_STRING));
        }
        AttributeName::Standard(t) => match enums::for_tag(*t) {
            Some(d) if d.mask => Value::Integer(
                d.parse_mask(value)
                    .or_else(|| value.parse::<u32>().ok())
                    .ok_or_else(|| usage(format!("'{value}' is not a {name} mask")))?
                    as i32,
            ),
            Some(d) => Value::Enumeration(enum_value(d, name, value)?),
            None if name.contains("Date") => Value::DateTime(
                value
                    .parse()
                    .map_err(|_| usage(format!("{name} '{value}' is not Unix seconds")))?,
            ),
            None => match value.parse::<i32>() {
                Ok(i) if *t == Tag::CRYPTOGRAPHIC_LENGTH => Value::Integer(i),
                _ if matches!(*t, Tag::SENSITIVE | Tag::EXTRACTABLE) => {
                    Value::Boolean(value.eq_ignore_ascii_case("true"))
                }
                Ok(i) if !matches!(*t, Tag::OBJECT_GROUP | Tag::CONTACT_INFORMATION) => {
                    Value::Integer(i)
                }
                _ => Value::TextString(value.to_owned()),
            },
        },
        AttributeName::Custom { .. } => Value::TextString(value.to_owned()),
    };
    Ok(Attribute {
        name: an,
        index: None,
        value: v,
    })
}

impl AttrArgs {
    /// The attributes the flags name.
    pub(in crate::kmip) fn to_set(&self) -> Result<AttributeSet, KmipError> {
        let mut set = AttributeSet::default();
        if let Some(n) = &self.name {
            set.push(Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING));
        }
        if let Some(u) = &self.usage {
            set.push(parse_attr(&format!("Cryptographic Usage Mask={u}"))?);
        }
        if let Some(g) = &self.group {
            set.push(Attribute::standard(
                Tag::OBJECT_GROUP,
                Value::TextString(g.clone()),
            ));
        }
        for a in &self.attr {
            set.push(parse_attr(a)?);
        }
        Ok(set)
    }
}

/// Parses MAJOR.MINOR into a supported protocol version.
pub(in crate::kmip) fn parse_version(v: &str) -> Result<ProtocolVersion, KmipError> {
    let (a, b) = v
        .split_once('.')
        .ok_or_else(|| usage(format!("kmip version '{v}' is not MAJOR.MINOR")))?;
    let pv = ProtocolVersion::new(
        a.parse()
            .map_err(|_| usage(format!("bad kmip version '{v}'")))?,
        b.parse()
            .map_err(|_| usage(format!("bad kmip version '{v}'")))?,
    );
    if !ProtocolVersion::SUPPORTED.contains(&pv) {
        return Err(usage(format!(
            "kmip version '{v}' is not supported (1.0..2.1)"
        )));
    }
    Ok(pv)
}

/// Parses a Cryptographic Algorithm name (AES, RSA, HMAC_SHA256...).
pub(in crate::kmip) fn algorithm(s: &str) -> Result<u32, KmipError> {
    enum_value(&enums::CryptographicAlgorithm::DEF, "algorithm", s)
}

impl DataArgs {
    /// The `--data` bytes: hex with `--hex` or when `default_hex`, else the text's bytes.
    pub(in crate::kmip) fn bytes(&self, default_hex: bool) -> Result<Vec<u8>, KmipError> {
        if self.hex || default_hex {
            unhex(&self.data)
        } else {
            Ok(self.data.as_bytes().to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_parse_by_definition() {
        let a = parse_attr("Cryptographic Usage Mask=Encrypt Decrypt").unwrap();
        assert_eq!(a.value, Value::Integer(12));
        let a = parse_attr("Cryptographic Algorithm=AES").unwrap();
        assert_eq!(a.value, Value::Enumeration(3));
        let a = parse_attr("x-owner=alice").unwrap();
        assert_eq!(a.value, Value::TextString("alice".into()));
        let a = parse_attr("Object Group=42").unwrap();
        assert_eq!(a.value, Value::TextString("42".into()));
        assert!(parse_attr("no-equals").is_err());
        assert!(parse_attr("Cryptographic Algorithm=Frob").is_err());
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("2.1").unwrap(), ProtocolVersion::V2_1);
        assert!(parse_version("3.0").is_err());
        assert!(parse_version("x").is_err());
    }
}
