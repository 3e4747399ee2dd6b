//! KMIP enumerations and bit masks (KMIP 1.0–2.1), names <-> numbers.
//!
//! Each enumeration is a `u32` newtype with associated constants, in the style of rustls'
//! `enum_builder!`: values this table does not know (vendor extensions `0x8xxxxxxx`) are kept.
//! Every type also exposes its table as [`EnumDef`] so generic code (the XML reader, the
//! conformance harness) can turn names into numbers.

use std::fmt;

use crate::tags::Tag;

/// The table of one enumeration or mask: its XML name and its `(value, name)` pairs.
#[derive(Debug)]
pub struct EnumDef {
    /// The enumeration's name as in the KMIP XML profile (`"CryptographicAlgorithm"`).
    pub name: &'static str,
    /// Returns true if and only if this is a bit mask carried in an Integer item.
    pub mask: bool,
    /// `(value, name)` pairs, sorted by value.
    pub values: &'static [(u32, &'static str)],
}

impl EnumDef {
    /// The name of `value`, if the table knows it.
    pub fn name_of(&self, value: u32) -> Option<&'static str> {
        self.values
            .iter()
            .find(|&&(v, _)| v == value)
            .map(|&(_, n)| n)
    }

    /// The value named `name`, if the table knows it.
    pub fn value_of(&self, name: &str) -> Option<u32> {
        self.values
            .iter()
            .find(|&&(_, n)| n == name)
            .map(|&(v, _)| v)
    }

    /// The value named `name`, also when written without the underscores of the OASIS name
    /// (`SHA256` for `SHA_256`, `P256` for `P_256`: Cosmian's spelling) or in another letter
    /// case (`SEED`, the Secret Data Type name tresor wrote before it said `Seed`), as long as
    /// that reading names exactly one value.
    ///
    /// ```
    /// use tresor_kmip::enums::{HashingAlgorithm, SecretDataType};
    /// assert_eq!(HashingAlgorithm::DEF.value_of_loose("SHA256"), Some(HashingAlgorithm::SHA_256.0));
    /// assert_eq!(SecretDataType::DEF.value_of_loose("SEED"), Some(SecretDataType::SEED.0));
    /// assert_eq!(SecretDataType::DEF.value_of_loose("Pin"), None);
    /// ```
    pub fn value_of_loose(&self, name: &str) -> Option<u32> {
        if let Some(v) = self.value_of(name) {
            return Some(v);
        }
        let bare = |n: &str| {
            n.chars()
                .filter(|&c| c != '_')
                .map(|c| c.to_ascii_lowercase())
                .collect::<String>()
        };
        let want = bare(name);
        let mut found = self.values.iter().filter(|&&(_, n)| bare(n) == want);
        match (found.next(), found.next()) {
            (Some(&(v, _)), None) => Some(v),
            _ => None,
        }
    }

    /// Parses a mask written as space- or `|`-separated names (`"Encrypt Decrypt"`).
    pub fn parse_mask(&self, text: &str) -> Option<u32> {
        text.split([' ', '|'])
            .filter(|s| !s.is_empty())
            .try_fold(0u32, |acc, part| {
                let bit = match part.strip_prefix("0x") {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => self.value_of(part)?,
                };
                Some(acc | bit)
            })
    }
}

macro_rules! kmip_enum {
    ($rust:ident, $xml:literal, $mask:literal, { $($c:ident = $v:literal => $n:literal,)* }) => {
        #[doc = concat!("KMIP `", $xml, "` value; unknown values are kept as they are.")]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $rust(pub u32);

        #[allow(missing_docs)]
        impl $rust {
            $(
                #[doc = concat!("`", $n, "`")]
                pub const $c: Self = Self($v);
            )*
        }

        impl $rust {
            /// The table of this enumeration.
            pub const DEF: EnumDef = EnumDef {
                name: $xml,
                mask: $mask,
                values: &[$(($v, $n)),*],
            };

            /// The value's name in the KMIP XML spelling, if known.
            pub fn name(self) -> Option<&'static str> {
                Self::DEF.name_of(self.0)
            }

            /// Looks a value up by its XML name.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::DEF.value_of(name).map(Self)
            }
        }

        impl fmt::Debug for $rust {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}::{}", $xml, n),
                    None => write!(f, "{}(0x{:08X})", $xml, self.0),
                }
            }
        }

        impl fmt::Display for $rust {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "0x{:08X}", self.0),
                }
            }
        }

        impl From<u32> for $rust {
            fn from(v: u32) -> Self {
                Self(v)
            }
        }

        impl From<$rust> for u32 {
            fn from(v: $rust) -> u32 {
                v.0
            }
        }
    };
}

include!("enums_table.rs");

impl CryptographicUsageMask {
    /// Returns true if and only if every bit of `other` is set in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Returns true if and only if a key with this mask may be used for every use in `other`:
    /// the bits are set, or the mask holds Unrestricted (KMIP 2.0+, 0x00200000: any use; what
    /// Cosmian's `ckms` gives the keys it creates).
    ///
    /// ```
    /// use tresor_kmip::enums::CryptographicUsageMask as M;
    /// assert!((M::SIGN | M::VERIFY).allows(M::SIGN));
    /// assert!(!M::VERIFY.allows(M::SIGN));
    /// assert!(M::UNRESTRICTED.allows(M::SIGN | M::DECRYPT));
    /// ```
    pub fn allows(self, other: Self) -> bool {
        self.contains(other) || self.contains(Self::UNRESTRICTED)
    }
}

impl std::ops::BitOr for CryptographicUsageMask {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// Enumerations whose values are carried under a tag with a different name.
static TAG_ALIASES: &[(Tag, &EnumDef)] = &[
    (
        Tag::MASK_GENERATOR_HASHING_ALGORITHM,
        &HashingAlgorithm::DEF,
    ),
    (
        Tag::DIGITAL_SIGNATURE_ALGORITHM,
        &DigitalSignatureAlgorithm::DEF,
    ),
    (Tag::REVOCATION_REASON_CODE, &RevocationReasonCode::DEF),
    (Tag::KEY_WRAP_TYPE, &KeyWrapType::DEF),
];

/// Every enumeration and mask table, for generic lookups.
pub fn all() -> &'static [&'static EnumDef] {
    ALL
}

/// The enumeration or mask carried by items tagged `tag`, if known.
///
/// # Examples
/// ```
/// use tresor_kmip::{enums, Tag};
/// let def = enums::for_tag(Tag::OPERATION).unwrap();
/// assert_eq!(def.value_of("Create"), Some(1));
/// ```
pub fn for_tag(tag: Tag) -> Option<&'static EnumDef> {
    if let Some(&(_, d)) = TAG_ALIASES.iter().find(|&&(t, _)| t == tag) {
        return Some(d);
    }
    let name = tag.name()?;
    ALL.iter().copied().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_numbers() {
        assert_eq!(Operation::CREATE.0, 1);
        assert_eq!(Operation::DISCOVER_VERSIONS.0, 0x1E);
        assert_eq!(Operation::from_name("PKCS_11"), Some(Operation(0x33)));
        assert_eq!(ObjectType::SECRET_DATA.0, 7);
        assert_eq!(ResultStatus::OPERATION_FAILED.0, 1);
        assert_eq!(ResultReason::ITEM_NOT_FOUND.0, 1);
        assert_eq!(CryptographicAlgorithm::AES.0, 3);
        assert_eq!(
            CryptographicAlgorithm::from_name("DES3"),
            Some(CryptographicAlgorithm(2))
        );
        assert_eq!(State::PRE_ACTIVE.0, 1);
        assert_eq!(KeyFormatType::TRANSPARENT_SYMMETRIC_KEY.0, 7);
        assert_eq!(NameType::UNINTERPRETED_TEXT_STRING.0, 1);
        assert_eq!(RevocationReasonCode::KEY_COMPROMISE.0, 2);
        assert_eq!(LinkType::PUBLIC_KEY_LINK.0, 0x102);
        assert_eq!(BlockCipherMode::GCM.0, 9);
        assert_eq!(PaddingMethod::PKCS5.0, 3);
        assert_eq!(HashingAlgorithm::SHA_256.0, 6);
        assert_eq!(CryptographicUsageMask::ENCRYPT.0, 4);
    }

    #[test]
    fn unknown_values_survive() {
        let v = ObjectType(0x8000_0001);
        assert_eq!(v.name(), None);
        assert_eq!(format!("{v:?}"), "ObjectType(0x80000001)");
        assert_eq!(v.to_string(), "0x80000001");
    }

    #[test]
    fn masks_parse() {
        let d = &CryptographicUsageMask::DEF;
        assert!(d.mask);
        assert_eq!(d.parse_mask("Encrypt Decrypt"), Some(0x0C));
        assert_eq!(d.parse_mask("Sign|Verify"), Some(0x03));
        assert_eq!(d.parse_mask("Frobnicate"), None);
        let m = CryptographicUsageMask::ENCRYPT | CryptographicUsageMask::DECRYPT;
        assert!(m.contains(CryptographicUsageMask::DECRYPT));
        assert!(!m.contains(CryptographicUsageMask::SIGN));
    }

    #[test]
    fn tag_lookup() {
        assert_eq!(for_tag(Tag::STATE).map(|d| d.name), Some("State"));
        assert_eq!(
            for_tag(Tag::MASK_GENERATOR_HASHING_ALGORITHM).map(|d| d.name),
            Some("HashingAlgorithm")
        );
        assert!(for_tag(Tag::UNIQUE_BATCH_ITEM_ID).is_none());
    }

    #[test]
    fn tables_sorted_unique() {
        for d in ALL {
            for w in d.values.windows(2) {
                assert!(w[0].0 < w[1].0, "{}: {:x} {:x}", d.name, w[0].0, w[1].0);
            }
        }
    }
}
