//! The binary TTLV encoding (Tag, Type, Length, Value) of KMIP.
//!
//! Every item is a 3-byte [`Tag`], a 1-byte [`ItemType`], a 4-byte big-endian length and the
//! value, padded with zero bytes to a multiple of eight. [`Ttlv`] is one item and, for a
//! Structure, the tree below it.
//!
//! Decoding is bounded by [`Limits`], never panics, and is canonical: padding must be zero,
//! fixed-length types must have their exact length, and Booleans must be 0 or 1, so any input
//! that decodes re-encodes to the same bytes.
//!
//! # Examples
//! ```
//! use tresor_kmip::{Tag, Ttlv, Value};
//! let item = Ttlv::structure(Tag::PROTOCOL_VERSION, vec![
//!     Ttlv::new(Tag::PROTOCOL_VERSION_MAJOR, Value::Integer(2)),
//!     Ttlv::new(Tag::PROTOCOL_VERSION_MINOR, Value::Integer(1)),
//! ]);
//! let bytes = item.encode();
//! assert_eq!(bytes.len(), 8 + 2 * 16);
//! assert_eq!(Ttlv::decode(&bytes)?, item);
//! # Ok::<(), tresor_kmip::TtlvError>(())
//! ```

mod reader;
pub mod stream;

use std::fmt;

pub(crate) use reader::{Codec, Reader};

use crate::error::TtlvError;
use crate::tags::Tag;

/// Length of an item header on the wire: tag (3), type (1), length (4).
pub const HEADER_LEN: usize = 8;

/// Bounds on what a peer can make the decoder accept or allocate.
///
/// Checked on each header before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest message, header included, in bytes (default 1 MiB).
    pub max_message: usize,
    /// The deepest nesting of structures (default 16; the message itself is level 1).
    pub max_depth: u8,
    /// The most items in one message (default 10 000).
    pub max_items: u32,
    /// The longest Text String, Byte String or Big Integer value (default 64 KiB).
    pub max_string: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 1 << 20,
            max_depth: 16,
            max_items: 10_000,
            max_string: 64 << 10,
        }
    }
}

/// The type byte of a TTLV item.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemType {
    /// `0x01`: a sequence of items.
    Structure,
    /// `0x02`: signed 32-bit integer.
    Integer,
    /// `0x03`: signed 64-bit integer.
    LongInteger,
    /// `0x04`: arbitrary-precision two's complement integer.
    BigInteger,
    /// `0x05`: unsigned 32-bit enumeration value.
    Enumeration,
    /// `0x06`: 64-bit 0 or 1.
    Boolean,
    /// `0x07`: UTF-8 text.
    TextString,
    /// `0x08`: bytes.
    ByteString,
    /// `0x09`: seconds since the Unix epoch, signed 64-bit.
    DateTime,
    /// `0x0A`: unsigned 32-bit seconds.
    Interval,
    /// `0x0B`: microseconds since the Unix epoch, signed 64-bit (KMIP 2.0).
    DateTimeExtended,
}

impl ItemType {
    /// The type byte.
    pub const fn to_u8(self) -> u8 {
        match self {
            ItemType::Structure => 0x01,
            ItemType::Integer => 0x02,
            ItemType::LongInteger => 0x03,
            ItemType::BigInteger => 0x04,
            ItemType::Enumeration => 0x05,
            ItemType::Boolean => 0x06,
            ItemType::TextString => 0x07,
            ItemType::ByteString => 0x08,
            ItemType::DateTime => 0x09,
            ItemType::Interval => 0x0A,
            ItemType::DateTimeExtended => 0x0B,
        }
    }

    /// The type for a type byte, if KMIP defines it.
    pub const fn from_u8(b: u8) -> Option<ItemType> {
        Some(match b {
            0x01 => ItemType::Structure,
            0x02 => ItemType::Integer,
            0x03 => ItemType::LongInteger,
            0x04 => ItemType::BigInteger,
            0x05 => ItemType::Enumeration,
            0x06 => ItemType::Boolean,
            0x07 => ItemType::TextString,
            0x08 => ItemType::ByteString,
            0x09 => ItemType::DateTime,
            0x0A => ItemType::Interval,
            0x0B => ItemType::DateTimeExtended,
            _ => return None,
        })
    }

    /// The type's name in the KMIP XML encoding (`"TextString"`).
    pub const fn name(self) -> &'static str {
        match self {
            ItemType::Structure => "Structure",
            ItemType::Integer => "Integer",
            ItemType::LongInteger => "LongInteger",
            ItemType::BigInteger => "BigInteger",
            ItemType::Enumeration => "Enumeration",
            ItemType::Boolean => "Boolean",
            ItemType::TextString => "TextString",
            ItemType::ByteString => "ByteString",
            ItemType::DateTime => "DateTime",
            ItemType::Interval => "Interval",
            ItemType::DateTimeExtended => "DateTimeExtended",
        }
    }

    /// The type named `name` in the KMIP XML encoding.
    pub fn from_name(name: &str) -> Option<ItemType> {
        (0x01..=0x0B)
            .filter_map(ItemType::from_u8)
            .find(|t| t.name() == name)
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The value of a TTLV item.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// The items of a structure, in order.
    Structure(Vec<Ttlv>),
    /// A 32-bit integer (also carries masks such as Cryptographic Usage Mask).
    Integer(i32),
    /// A 64-bit integer.
    LongInteger(i64),
    /// A big integer: big-endian two's complement bytes as on the wire (a multiple of 8).
    BigInteger(Vec<u8>),
    /// An enumeration value; see [`crate::enums`] for the names.
    Enumeration(u32),
    /// A boolean.
    Boolean(bool),
    /// UTF-8 text.
    TextString(String),
    /// Bytes. `Debug` prints only the length, since key material travels in byte strings.
    ByteString(Vec<u8>),
    /// Seconds since the Unix epoch.
    DateTime(i64),
    /// A duration in seconds.
    Interval(u32),
    /// Microseconds since the Unix epoch.
    DateTimeExtended(i64),
}

impl Value {
    /// The item type of this value.
    pub fn item_type(&self) -> ItemType {
        match self {
            Value::Structure(_) => ItemType::Structure,
            Value::Integer(_) => ItemType::Integer,
            Value::LongInteger(_) => ItemType::LongInteger,
            Value::BigInteger(_) => ItemType::BigInteger,
            Value::Enumeration(_) => ItemType::Enumeration,
            Value::Boolean(_) => ItemType::Boolean,
            Value::TextString(_) => ItemType::TextString,
            Value::ByteString(_) => ItemType::ByteString,
            Value::DateTime(_) => ItemType::DateTime,
            Value::Interval(_) => ItemType::Interval,
            Value::DateTimeExtended(_) => ItemType::DateTimeExtended,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Structure(items) => f.debug_list().entries(items).finish(),
            Value::Integer(v) => write!(f, "Integer({v})"),
            Value::LongInteger(v) => write!(f, "LongInteger({v})"),
            Value::BigInteger(b) => write!(f, "BigInteger({} bytes)", b.len()),
            Value::Enumeration(v) => write!(f, "Enumeration(0x{v:08X})"),
            Value::Boolean(v) => write!(f, "Boolean({v})"),
            Value::TextString(s) => write!(f, "TextString({s:?})"),
            Value::ByteString(b) => write!(f, "ByteString({} bytes)", b.len()),
            Value::DateTime(v) => write!(f, "DateTime({v})"),
            Value::Interval(v) => write!(f, "Interval({v})"),
            Value::DateTimeExtended(v) => write!(f, "DateTimeExtended({v})"),
        }
    }
}

/// One TTLV item: a tag and its value (for a Structure, the tree below it).
#[derive(Clone, PartialEq, Eq)]
pub struct Ttlv {
    /// The item's tag.
    pub tag: Tag,
    /// The item's value.
    pub value: Value,
}

impl fmt::Debug for Ttlv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:?}", self.tag, self.value)
    }
}

impl Ttlv {
    /// Makes an item.
    pub fn new(tag: Tag, value: Value) -> Ttlv {
        Ttlv { tag, value }
    }

    /// Makes a structure item.
    pub fn structure(tag: Tag, items: Vec<Ttlv>) -> Ttlv {
        Ttlv::new(tag, Value::Structure(items))
    }

    /// Makes an Integer item.
    pub fn integer(tag: Tag, v: i32) -> Ttlv {
        Ttlv::new(tag, Value::Integer(v))
    }

    /// Makes an Enumeration item.
    pub fn enumeration(tag: Tag, v: impl Into<u32>) -> Ttlv {
        Ttlv::new(tag, Value::Enumeration(v.into()))
    }

    /// Makes a Text String item.
    pub fn text(tag: Tag, v: impl Into<String>) -> Ttlv {
        Ttlv::new(tag, Value::TextString(v.into()))
    }

    /// Makes a Byte String item.
    pub fn bytes(tag: Tag, v: impl Into<Vec<u8>>) -> Ttlv {
        Ttlv::new(tag, Value::ByteString(v.into()))
    }

    /// The items of a structure; empty for any other type.
    pub fn items(&self) -> &[Ttlv] {
        match &self.value {
            Value::Structure(items) => items,
            _ => &[],
        }
    }

    /// The first direct child tagged `tag`.
    pub fn find(&self, tag: Tag) -> Option<&Ttlv> {
        self.items().iter().find(|i| i.tag == tag)
    }

    /// Every direct child tagged `tag`, in order.
    pub fn find_all(&self, tag: Tag) -> impl Iterator<Item = &Ttlv> {
        self.items().iter().filter(move |i| i.tag == tag)
    }

    /// The value as an Integer.
    pub fn as_integer(&self) -> Option<i32> {
        match self.value {
            Value::Integer(v) => Some(v),
            _ => None,
        }
    }

    /// The value as an Enumeration.
    pub fn as_enumeration(&self) -> Option<u32> {
        match self.value {
            Value::Enumeration(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a Text String.
    pub fn as_text(&self) -> Option<&str> {
        match &self.value {
            Value::TextString(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a Byte String.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.value {
            Value::ByteString(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a Boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Boolean(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a Date-Time (seconds since the epoch).
    pub fn as_date_time(&self) -> Option<i64> {
        match self.value {
            Value::DateTime(v) => Some(v),
            _ => None,
        }
    }

    /// The number of items in this tree, itself included: what [`Limits::max_items`] bounds
    /// when the encoded message is read back.
    pub fn item_count(&self) -> usize {
        1 + self.items().iter().map(Ttlv::item_count).sum::<usize>()
    }

    /// True if this tree holds more than `max` items (what [`Limits::max_items`] bounds when
    /// its encoding is read back). Counts only when the encoded size allows more than `max`
    /// (every item takes at least 8 bytes), so small messages cost one size computation.
    pub fn item_count_exceeds(&self, max: u32) -> bool {
        self.item_count_exceeds_len(max, self.encoded_len())
    }

    /// As [`Ttlv::item_count_exceeds`], given this item's [`Ttlv::encoded_len`] (already
    /// measured by the caller).
    pub fn item_count_exceeds_len(&self, max: u32, encoded_len: usize) -> bool {
        let max = max as usize;
        encoded_len / HEADER_LEN > max && self.item_count() > max
    }

    /// The number of bytes [`Ttlv::encode`] writes for this item.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + padded(self.value_len())
    }

    fn value_len(&self) -> usize {
        match &self.value {
            Value::Structure(items) => items.iter().map(Ttlv::encoded_len).sum(),
            Value::Integer(_) | Value::Enumeration(_) | Value::Interval(_) => 4,
            Value::LongInteger(_)
            | Value::Boolean(_)
            | Value::DateTime(_)
            | Value::DateTimeExtended(_) => 8,
            Value::BigInteger(b) | Value::ByteString(b) => b.len(),
            Value::TextString(s) => s.len(),
        }
    }

    /// Encodes this item (and its tree) to TTLV bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        Codec::encode(self, &mut out);
        out
    }

    /// Decodes one message with the default [`Limits`]; trailing bytes are an error.
    ///
    /// # Errors
    /// Any [`TtlvError`]: truncated input, bad lengths or padding, a limit exceeded.
    pub fn decode(bytes: &[u8]) -> Result<Ttlv, TtlvError> {
        Ttlv::decode_with(bytes, &Limits::default())
    }

    /// Decodes one message under `limits`; trailing bytes are an error.
    ///
    /// # Errors
    /// Any [`TtlvError`]: truncated input, bad lengths or padding, a limit exceeded.
    pub fn decode_with(bytes: &[u8], limits: &Limits) -> Result<Ttlv, TtlvError> {
        if bytes.len() > limits.max_message {
            return Err(TtlvError::MessageTooLarge {
                len: bytes.len() as u64,
                max: limits.max_message,
            });
        }
        let items = std::cell::Cell::new(0);
        let mut r = Reader::new(bytes, limits, &items);
        let t = <Ttlv as Codec>::read(&mut r)?;
        if r.any_left() {
            return Err(TtlvError::TrailingData(r.left()));
        }
        Ok(t)
    }
}

/// Rounds `n` up to a multiple of eight.
pub(crate) const fn padded(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// Checks a message header and returns the length of the value that follows it.
///
/// A server reads [`HEADER_LEN`] bytes, calls this, and only then allocates and reads the
/// rest, so a peer cannot make it allocate more than `limits.max_message`.
///
/// # Errors
/// [`TtlvError::NotAStructure`] unless the item is a structure,
/// [`TtlvError::MessageTooLarge`] when it is over the limit, [`TtlvError::BadLength`] when the
/// length is not a multiple of eight.
pub fn message_len(header: &[u8; HEADER_LEN], limits: &Limits) -> Result<usize, TtlvError> {
    let tag = Tag::from_u24([header[0], header[1], header[2]]);
    let item_type = match ItemType::from_u8(header[3]) {
        Some(t) => t,
        None => {
            return Err(TtlvError::UnknownItemType {
                tag,
                item_type: header[3],
            });
        }
    };
    if item_type != ItemType::Structure {
        return Err(TtlvError::NotAStructure { tag, item_type });
    }
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    let total = u64::from(len) + HEADER_LEN as u64;
    if total > limits.max_message as u64 {
        return Err(TtlvError::MessageTooLarge {
            len: total,
            max: limits.max_message,
        });
    }
    if len % 8 != 0 {
        return Err(TtlvError::BadLength {
            tag,
            item_type,
            len,
            expected: "a multiple of 8",
        });
    }
    Ok(len as usize)
}

#[cfg(test)]
#[path = "ttlv_test.rs"]
mod tests;
