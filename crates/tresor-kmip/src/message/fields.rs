//! [`Fields`], the cursor the message types decode a structure's fields with: known fields
//! in order, the rest kept.

use crate::error::KmipError;
use crate::tags::Tag;
use crate::ttlv::{ItemType, Ttlv, Value};

/// A cursor over a structure's fields that takes known fields in order and keeps the rest.
pub(crate) struct Fields<'a> {
    parent: Tag,
    items: Vec<Option<&'a Ttlv>>,
    /// Tags taken as single fields: a second one is a malformed message, not an extra.
    single: Vec<Tag>,
}

impl<'a> Fields<'a> {
    /// Fields of `t`, which must be a structure tagged `expected`.
    pub(crate) fn new(t: &'a Ttlv, expected: Tag) -> Result<Self, KmipError> {
        if t.tag != expected {
            return Err(KmipError::UnexpectedTag {
                expected,
                found: t.tag,
            });
        }
        match &t.value {
            Value::Structure(items) => Ok(Fields {
                parent: expected,
                items: items.iter().map(Some).collect(),
                single: Vec::new(),
            }),
            _ => Err(KmipError::InvalidField {
                parent: expected,
                field: expected,
                reason: "not a structure",
            }),
        }
    }

    /// Takes the first field tagged `tag`.
    pub(crate) fn take(&mut self, tag: Tag) -> Option<&'a Ttlv> {
        self.single.push(tag);
        self.items
            .iter_mut()
            .find(|i| i.is_some_and(|t| t.tag == tag))
            .and_then(Option::take)
    }

    /// Takes every field tagged `tag`.
    pub(crate) fn take_all(&mut self, tag: Tag) -> Vec<&'a Ttlv> {
        self.items
            .iter_mut()
            .filter(|i| i.is_some_and(|t| t.tag == tag))
            .filter_map(Option::take)
            .collect()
    }

    pub(crate) fn take_req(&mut self, tag: Tag) -> Result<&'a Ttlv, KmipError> {
        self.take(tag).ok_or(KmipError::MissingField {
            parent: self.parent,
            field: tag,
        })
    }

    fn wrong(&self, field: Tag, want: ItemType) -> KmipError {
        KmipError::InvalidField {
            parent: self.parent,
            field,
            reason: match want {
                ItemType::Integer => "not an integer",
                ItemType::Enumeration => "not an enumeration",
                ItemType::TextString => "not a text string",
                ItemType::ByteString => "not a byte string",
                ItemType::Boolean => "not a boolean",
                ItemType::DateTime => "not a date-time",
                ItemType::Structure => "not a structure",
                _ => "wrong item type",
            },
        }
    }

    pub(crate) fn integer(&self, tag: Tag) -> Result<i32, KmipError> {
        let t =
            self.items
                .iter()
                .flatten()
                .find(|t| t.tag == tag)
                .ok_or(KmipError::MissingField {
                    parent: self.parent,
                    field: tag,
                })?;
        t.as_integer()
            .ok_or_else(|| self.wrong(tag, ItemType::Integer))
    }

    pub(crate) fn take_integer(&mut self, tag: Tag) -> Result<Option<i32>, KmipError> {
        self.take_map(tag, ItemType::Integer, Ttlv::as_integer)
    }

    pub(crate) fn take_enum(&mut self, tag: Tag) -> Result<Option<u32>, KmipError> {
        self.take_map(tag, ItemType::Enumeration, Ttlv::as_enumeration)
    }

    pub(crate) fn take_bool(&mut self, tag: Tag) -> Result<Option<bool>, KmipError> {
        self.take_map(tag, ItemType::Boolean, Ttlv::as_bool)
    }

    pub(crate) fn take_date_time(&mut self, tag: Tag) -> Result<Option<i64>, KmipError> {
        self.take_map(tag, ItemType::DateTime, Ttlv::as_date_time)
    }

    pub(crate) fn take_text(&mut self, tag: Tag) -> Result<Option<String>, KmipError> {
        self.take_map(tag, ItemType::TextString, |t| {
            t.as_text().map(str::to_owned)
        })
    }

    pub(crate) fn take_bytes(&mut self, tag: Tag) -> Result<Option<Vec<u8>>, KmipError> {
        self.take_map(tag, ItemType::ByteString, |t| {
            t.as_bytes().map(<[u8]>::to_vec)
        })
    }

    pub(crate) fn take_struct(&mut self, tag: Tag) -> Result<Option<&'a Ttlv>, KmipError> {
        self.take_map(tag, ItemType::Structure, |t| {
            matches!(t.value, Value::Structure(_)).then_some(t)
        })
    }

    fn take_map<T>(
        &mut self,
        tag: Tag,
        want: ItemType,
        f: impl FnOnce(&'a Ttlv) -> Option<T>,
    ) -> Result<Option<T>, KmipError> {
        match self.take(tag) {
            None => Ok(None),
            Some(t) => f(t).map(Some).ok_or_else(|| self.wrong(tag, want)),
        }
    }

    /// The fields not taken, in order (kept as `extra` and written back).
    ///
    /// # Errors
    /// [`KmipError::InvalidField`] when one of them repeats a single field already taken
    /// (a second `BatchCount` in a header): kept as an extra it would be written back before
    /// the modelled one and read as it on the next decode, so the message would not survive
    /// a round trip (found by the `ttlv` fuzz target).
    pub(crate) fn rest(self) -> Result<Vec<Ttlv>, KmipError> {
        let rest: Vec<Ttlv> = self.items.into_iter().flatten().cloned().collect();
        if let Some(dup) = rest.iter().find(|t| self.single.contains(&t.tag)) {
            return Err(KmipError::InvalidField {
                parent: self.parent,
                field: dup.tag,
                reason: "appears more than once",
            });
        }
        Ok(rest)
    }
}

/// The header and batch items of a message structure `t` tagged `message` (a request or a
/// response: the two differ only in their tags and field types), read with `header` and
/// `item`. Any other field is an error.
///
/// # Errors
/// [`KmipError::UnexpectedTag`] for another structure, [`KmipError::MissingField`] without
/// the header, [`KmipError::InvalidField`] for an unexpected field, or what `header` and
/// `item` return.
pub(crate) fn read_message<'a, H, I>(
    t: &'a Ttlv,
    message: Tag,
    header_tag: Tag,
    header: impl FnOnce(&'a Ttlv) -> Result<H, KmipError>,
    item: impl FnMut(&'a Ttlv) -> Result<I, KmipError>,
) -> Result<(H, Vec<I>), KmipError> {
    let mut f = Fields::new(t, message)?;
    let header = header(f.take_req(header_tag)?)?;
    let items = f
        .take_all(Tag::BATCH_ITEM)
        .into_iter()
        .map(item)
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(other) = f.rest()?.first() {
        return Err(KmipError::InvalidField {
            parent: message,
            field: other.tag,
            reason: "unexpected field",
        });
    }
    Ok((header, items))
}
