//! The bounded cursor and the symmetric [`Codec`] trait, in the style of rustls' `codec.rs`.

use std::cell::Cell;

use super::{HEADER_LEN, ItemType, Limits, Ttlv, Value, padded};
use crate::error::TtlvError;
use crate::tags::Tag;

/// A type that encodes to and decodes from TTLV bytes.
pub(crate) trait Codec<'a>: Sized {
    /// Appends the encoding to `out`; cannot fail.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads one value from `r`.
    fn read(r: &mut Reader<'a>) -> Result<Self, TtlvError>;
}

/// A borrowed cursor over TTLV bytes that never indexes out of bounds or panics.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    offs: usize,
    depth: u8,
    items: &'a Cell<u32>,
    limits: &'a Limits,
}

impl<'a> Reader<'a> {
    /// A reader over a whole message.
    pub(crate) fn new(buf: &'a [u8], limits: &'a Limits, items: &'a Cell<u32>) -> Self {
        Reader {
            buf,
            offs: 0,
            depth: 0,
            items,
            limits,
        }
    }

    /// Bytes not yet read.
    pub(crate) fn left(&self) -> usize {
        self.buf.len().saturating_sub(self.offs)
    }

    /// Returns true if and only if bytes are left.
    pub(crate) fn any_left(&self) -> bool {
        self.left() > 0
    }

    /// Takes `len` bytes.
    pub(crate) fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], TtlvError> {
        let end = self
            .offs
            .checked_add(len)
            .ok_or(TtlvError::MissingData(what))?;
        let out = self
            .buf
            .get(self.offs..end)
            .ok_or(TtlvError::MissingData(what))?;
        self.offs = end;
        Ok(out)
    }

    /// Takes exactly `N` bytes as an array.
    pub(crate) fn take_array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], TtlvError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A reader over the next `len` bytes, one structure level deeper.
    fn sub(&mut self, tag: Tag, len: usize) -> Result<Reader<'a>, TtlvError> {
        let depth = self.depth.saturating_add(1);
        if depth > self.limits.max_depth {
            return Err(TtlvError::TooDeep {
                tag,
                max: self.limits.max_depth,
            });
        }
        let buf = self.take(len, "structure")?;
        Ok(Reader {
            buf,
            offs: 0,
            depth,
            items: self.items,
            limits: self.limits,
        })
    }

    fn count_item(&self) -> Result<(), TtlvError> {
        let n = self.items.get().saturating_add(1);
        if n > self.limits.max_items {
            return Err(TtlvError::TooManyItems {
                max: self.limits.max_items,
            });
        }
        self.items.set(n);
        Ok(())
    }

    /// Consumes the padding after a value of `len` bytes, which must be zero.
    fn padding(&mut self, tag: Tag, len: usize) -> Result<(), TtlvError> {
        let pad = self.take(padded(len) - len, "padding")?;
        if pad.iter().any(|&b| b != 0) {
            return Err(TtlvError::NonZeroPadding { tag });
        }
        Ok(())
    }
}

impl<'a> Codec<'a> for Ttlv {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.tag.to_u24());
        out.push(self.value.item_type().to_u8());
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let start = out.len();
        match &self.value {
            Value::Structure(items) => items.iter().for_each(|i| Codec::encode(i, out)),
            Value::Integer(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::Enumeration(v) | Value::Interval(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::LongInteger(v) | Value::DateTime(v) | Value::DateTimeExtended(v) => {
                out.extend_from_slice(&v.to_be_bytes())
            }
            Value::Boolean(v) => out.extend_from_slice(&u64::from(*v).to_be_bytes()),
            Value::BigInteger(b) | Value::ByteString(b) => out.extend_from_slice(b),
            Value::TextString(s) => out.extend_from_slice(s.as_bytes()),
        }
        let len = out.len() - start;
        // Lengths past u32 cannot be produced by decoding; saturate rather than panic.
        let len32 = u32::try_from(len).unwrap_or(u32::MAX);
        if let Some(slot) = out.get_mut(len_at..len_at + 4) {
            slot.copy_from_slice(&len32.to_be_bytes());
        }
        out.resize(start + padded(len), 0);
    }

    fn read(r: &mut Reader<'a>) -> Result<Self, TtlvError> {
        let head: [u8; HEADER_LEN] = r.take_array("item header")?;
        r.count_item()?;
        let tag = Tag::from_u24([head[0], head[1], head[2]]);
        let item_type = ItemType::from_u8(head[3]).ok_or(TtlvError::UnknownItemType {
            tag,
            item_type: head[3],
        })?;
        let len32 = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let len = len32 as usize;
        if padded(len) > r.left() {
            return Err(TtlvError::LengthOverrun {
                tag,
                len: len32,
                left: r.left(),
            });
        }
        let exact = |want: u32, expected: &'static str| {
            if len32 == want {
                Ok(())
            } else {
                Err(TtlvError::BadLength {
                    tag,
                    item_type,
                    len: len32,
                    expected,
                })
            }
        };
        let string_limit = || {
            if len32 > r.limits.max_string {
                Err(TtlvError::StringTooLong {
                    tag,
                    len: len32,
                    max: r.limits.max_string,
                })
            } else {
                Ok(())
            }
        };
        let value = match item_type {
            ItemType::Structure => {
                if len % 8 != 0 {
                    return Err(TtlvError::BadLength {
                        tag,
                        item_type,
                        len: len32,
                        expected: "a multiple of 8",
                    });
                }
                let mut sub = r.sub(tag, len)?;
                let mut items = Vec::new();
                while sub.any_left() {
                    items.push(Ttlv::read(&mut sub)?);
                }
                return Ok(Ttlv::structure(tag, items));
            }
            ItemType::Integer => {
                exact(4, "4")?;
                Value::Integer(i32::from_be_bytes(r.take_array("integer")?))
            }
            ItemType::Enumeration => {
                exact(4, "4")?;
                Value::Enumeration(u32::from_be_bytes(r.take_array("enumeration")?))
            }
            ItemType::Interval => {
                exact(4, "4")?;
                Value::Interval(u32::from_be_bytes(r.take_array("interval")?))
            }
            ItemType::LongInteger => {
                exact(8, "8")?;
                Value::LongInteger(i64::from_be_bytes(r.take_array("long integer")?))
            }
            ItemType::DateTime => {
                exact(8, "8")?;
                Value::DateTime(i64::from_be_bytes(r.take_array("date-time")?))
            }
            ItemType::DateTimeExtended => {
                exact(8, "8")?;
                Value::DateTimeExtended(i64::from_be_bytes(r.take_array("date-time extended")?))
            }
            ItemType::Boolean => {
                exact(8, "8")?;
                match u64::from_be_bytes(r.take_array("boolean")?) {
                    0 => Value::Boolean(false),
                    1 => Value::Boolean(true),
                    _ => return Err(TtlvError::InvalidBoolean { tag }),
                }
            }
            ItemType::BigInteger => {
                if len == 0 || len % 8 != 0 {
                    return Err(TtlvError::BadLength {
                        tag,
                        item_type,
                        len: len32,
                        expected: "a non-zero multiple of 8",
                    });
                }
                string_limit()?;
                Value::BigInteger(r.take(len, "big integer")?.to_vec())
            }
            ItemType::ByteString => {
                string_limit()?;
                Value::ByteString(r.take(len, "byte string")?.to_vec())
            }
            ItemType::TextString => {
                string_limit()?;
                let raw = r.take(len, "text string")?;
                let s = std::str::from_utf8(raw).map_err(|_| TtlvError::InvalidUtf8 { tag })?;
                Value::TextString(s.to_owned())
            }
        };
        r.padding(tag, len)?;
        Ok(Ttlv::new(tag, value))
    }
}
