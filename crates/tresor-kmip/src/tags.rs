//! KMIP tags (KMIP 1.0–2.1): the 3-byte numbers that name every TTLV item.
//!
//! [`Tag`] keeps any 24-bit value, so tags this table does not know (vendor extensions in
//! `0x54xxxx`, later KMIP versions) survive a decode/encode round trip unchanged.

use std::fmt;

/// A TTLV tag: a 24-bit number, `0x42xxxx` for the KMIP standard tags.
///
/// # Examples
/// ```
/// use tresor_kmip::Tag;
/// assert_eq!(Tag::from_name("ActivationDate"), Some(Tag::ACTIVATION_DATE));
/// assert_eq!(Tag::ACTIVATION_DATE.name(), Some("ActivationDate"));
/// assert_eq!(Tag::new(0x540001).and_then(Tag::name), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(u32);

include!("tags_table.rs");

impl Tag {
    /// The largest value a tag can hold (3 bytes on the wire).
    pub const MAX: u32 = 0x00FF_FFFF;

    /// Returns the tag for `value`, or `None` when it does not fit in 24 bits.
    pub const fn new(value: u32) -> Option<Tag> {
        if value <= Self::MAX {
            Some(Tag(value))
        } else {
            None
        }
    }

    /// Builds a tag from the three bytes read off the wire.
    pub(crate) const fn from_u24(b: [u8; 3]) -> Tag {
        Tag(((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32)
    }

    /// The tag number.
    pub const fn value(self) -> u32 {
        self.0
    }

    /// The three bytes written on the wire.
    pub(crate) const fn to_u24(self) -> [u8; 3] {
        [(self.0 >> 16) as u8, (self.0 >> 8) as u8, self.0 as u8]
    }

    /// The tag's name in the KMIP XML spelling (`"UniqueIdentifier"`), if it is a known tag.
    pub fn name(self) -> Option<&'static str> {
        TAG_NAMES
            .binary_search_by_key(&self.0, |&(v, _)| v)
            .ok()
            .and_then(|i| TAG_NAMES.get(i))
            .map(|&(_, n)| n)
    }

    /// Looks a tag up by its XML name (`"UniqueIdentifier"`) or by a hex number (`"0x540001"`).
    pub fn from_name(name: &str) -> Option<Tag> {
        if let Some(hex) = name.strip_prefix("0x").or_else(|| name.strip_prefix("0X")) {
            return u32::from_str_radix(hex, 16).ok().and_then(Tag::new);
        }
        TAG_NAMES
            .iter()
            .find(|&&(_, n)| n == name)
            .map(|&(v, _)| Tag(v))
    }

    /// Looks a tag up by its KMIP 1.x attribute name (`"Cryptographic Algorithm"`): the
    /// spec name with the spaces removed is the XML name.
    pub fn from_attribute_name(name: &str) -> Option<Tag> {
        let squashed: String = name
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| {
                if c == '-' || c == '#' || c == '.' {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        Tag::from_name(&squashed)
    }

    /// The KMIP 1.x attribute name for this tag (`"Cryptographic Algorithm"`), if known.
    ///
    /// KMIP 1.x names attributes with the spec's words; the XML name splits back into them at
    /// each lower-to-upper change (acronyms such as `"CN"` stay together).
    pub fn attribute_name(self) -> Option<String> {
        let name = self.name()?;
        if let Some(&(_, n)) = ATTRIBUTE_NAME_EXCEPTIONS.iter().find(|&&(t, _)| t == self) {
            return Some(n.to_owned());
        }
        let mut out = String::with_capacity(name.len() + 4);
        let chars: Vec<char> = name.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) => {
                    (c.is_ascii_uppercase() && (p.is_ascii_lowercase() || p.is_ascii_digit()))
                        || (c.is_ascii_uppercase()
                            && p.is_ascii_uppercase()
                            && next.is_some_and(|n| n.is_ascii_lowercase()))
                }
            };
            if boundary {
                out.push(' ');
            }
            out.push(c);
        }
        Some(out)
    }
}

/// KMIP 1.x attribute names whose words cannot be recovered from the XML name.
static ATTRIBUTE_NAME_EXCEPTIONS: &[(Tag, &str)] = &[
    (
        Tag::X_509_CERTIFICATE_IDENTIFIER,
        "X.509 Certificate Identifier",
    ),
    (Tag::X_509_CERTIFICATE_SUBJECT, "X.509 Certificate Subject"),
    (Tag::X_509_CERTIFICATE_ISSUER, "X.509 Certificate Issuer"),
    (Tag::PKCS_12_FRIENDLY_NAME, "PKCS#12 Friendly Name"),
];

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "Tag(0x{:06X})", self.0),
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:06X}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in TAG_NAMES.windows(2) {
            assert!(w[0].0 < w[1].0, "{:x} then {:x}", w[0].0, w[1].0);
        }
        let mut names: Vec<_> = TAG_NAMES.iter().map(|t| t.1).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len(), "duplicate tag names");
    }

    #[test]
    fn well_known_numbers() {
        assert_eq!(Tag::REQUEST_MESSAGE.value(), 0x420078);
        assert_eq!(Tag::RESPONSE_MESSAGE.value(), 0x42007B);
        assert_eq!(Tag::UNIQUE_IDENTIFIER.value(), 0x420094);
        assert_eq!(Tag::UNIQUE_BATCH_ITEM_ID.name(), Some("UniqueBatchItemID"));
        assert_eq!(
            Tag::from_name("CRTCoefficient").map(Tag::value),
            Some(0x420027)
        );
        assert_eq!(Tag::from_name("0x540001").map(Tag::value), Some(0x540001));
        assert_eq!(Tag::from_name("0x1000000"), None);
        assert_eq!(Tag::from_name("NoSuchTag"), None);
        assert_eq!(Tag::from_name("Attributes").map(Tag::value), Some(0x420125));
        assert_eq!(
            Tag::from_name("ProtectionStorageMask").map(Tag::value),
            Some(0x42015E)
        );
    }

    #[test]
    fn attribute_names_round_trip() {
        for (name, tag) in [
            ("Cryptographic Algorithm", Tag::CRYPTOGRAPHIC_ALGORITHM),
            ("Cryptographic Usage Mask", Tag::CRYPTOGRAPHIC_USAGE_MASK),
            ("Unique Identifier", Tag::UNIQUE_IDENTIFIER),
            ("Certificate Subject CN", Tag::CERTIFICATE_SUBJECT_CN),
            ("x-custom", Tag(0)),
        ] {
            if tag.0 == 0 {
                assert_eq!(Tag::from_attribute_name(name), None);
                continue;
            }
            assert_eq!(Tag::from_attribute_name(name), Some(tag), "{name}");
            assert_eq!(tag.attribute_name().as_deref(), Some(name));
        }
    }
}
