//! Split Key objects (KMIP 1.0 §2.2.5): one part of a key split among several holders.
//! Register stores the part's key block like a symmetric key's, and its split parameters
//! (Split Key Parts, Key Part Identifier, Split Key Threshold, Split Key Method, Prime Field
//! Size) in the store attribute [`SPLIT_ATTR`] (a `tresor.` attribute: not a KMIP
//! attribute, never set by clients); Get rebuilds the Split Key structure. Create Split Key /
//! Join Split Key (KMIP 1.2) are not implemented.

use serde_json::{Value as Json, json};

use super::OpError;
use crate::enums::SplitKeyMethod;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// The store attribute holding a split key part's parameters.
pub(crate) const SPLIT_ATTR: &str = tresor_store::secret_name::SPLIT_KEY;

/// Reads a Register request's Split Key: returns a Symmetric Key structure with the same key
/// block (for `objects::read_object`) and the split parameters to store.
///
/// # Errors
/// Missing Data for a missing required field, Invalid Field for a bad value.
pub(crate) fn read(t: &Ttlv) -> Result<(Ttlv, Json), OpError> {
    let int = |tag: Tag| -> Result<i32, OpError> {
        t.find(tag)
            .ok_or_else(|| OpError::missing(tag, Tag::SPLIT_KEY))?
            .as_integer()
            .ok_or_else(|| OpError::invalid_field(format!("split key {tag} is not an integer")))
    };
    let parts = int(Tag::SPLIT_KEY_PARTS)?;
    let id = int(Tag::KEY_PART_IDENTIFIER)?;
    let threshold = int(Tag::SPLIT_KEY_THRESHOLD)?;
    let method = t
        .find(Tag::SPLIT_KEY_METHOD)
        .and_then(Ttlv::as_enumeration)
        .ok_or_else(|| OpError::missing(Tag::SPLIT_KEY_METHOD, Tag::SPLIT_KEY))?;
    if !(1..=parts).contains(&threshold) || !(1..=parts).contains(&id) {
        return Err(OpError::invalid_field(format!(
            "split key part {id} with threshold {threshold} of {parts} parts is not valid"
        )));
    }
    let prime = t.find(Tag::PRIME_FIELD_SIZE).and_then(|p| match &p.value {
        Value::BigInteger(b) => Some(b.clone()),
        _ => None,
    });
    if method == SplitKeyMethod::POLYNOMIAL_SHARING_PRIME_FIELD.0 && prime.is_none() {
        return Err(OpError::missing(Tag::PRIME_FIELD_SIZE, Tag::SPLIT_KEY));
    }
    let block = t
        .find(Tag::KEY_BLOCK)
        .ok_or_else(|| OpError::missing(Tag::KEY_BLOCK, Tag::SPLIT_KEY))?;
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    Ok((
        Ttlv::structure(Tag::SYMMETRIC_KEY, vec![block.clone()]),
        json!({
            "parts": parts,
            "id": id,
            "threshold": threshold,
            "method": method,
            "prime": prime.as_deref().map(hex),
        }),
    ))
}

/// Rebuilds a Split Key structure from the Symmetric Key structure `objects::write_object`
/// made of the part's material and its stored parameters.
///
/// # Errors
/// General Failure when the stored parameters are missing.
pub(crate) fn write(symmetric: Ttlv, params: Option<&Json>) -> Result<Ttlv, OpError> {
    let p = params.ok_or_else(|| {
        OpError::new(
            crate::enums::ResultReason::GENERAL_FAILURE,
            "the split key's parameters are missing",
        )
    })?;
    let int = |k: &str| {
        p.get(k)
            .and_then(Json::as_i64)
            .and_then(|v| i32::try_from(v).ok())
            .unwrap_or(0)
    };
    let mut items = vec![
        Ttlv::integer(Tag::SPLIT_KEY_PARTS, int("parts")),
        Ttlv::integer(Tag::KEY_PART_IDENTIFIER, int("id")),
        Ttlv::integer(Tag::SPLIT_KEY_THRESHOLD, int("threshold")),
        Ttlv::enumeration(
            Tag::SPLIT_KEY_METHOD,
            u32::try_from(int("method")).unwrap_or(0),
        ),
    ];
    if let Some(h) = p.get("prime").and_then(Json::as_str) {
        let bytes: Vec<u8> = (0..h.len() / 2)
            .filter_map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        items.push(Ttlv::new(Tag::PRIME_FIELD_SIZE, Value::BigInteger(bytes)));
    }
    items.extend(
        symmetric
            .items()
            .iter()
            .filter(|i| i.tag == Tag::KEY_BLOCK)
            .cloned(),
    );
    Ok(Ttlv::structure(Tag::SPLIT_KEY, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_parameters_round_trip() {
        let block = Ttlv::structure(
            Tag::KEY_BLOCK,
            vec![Ttlv::integer(Tag::CRYPTOGRAPHIC_LENGTH, 128)],
        );
        let t = Ttlv::structure(
            Tag::SPLIT_KEY,
            vec![
                Ttlv::integer(Tag::SPLIT_KEY_PARTS, 3),
                Ttlv::integer(Tag::KEY_PART_IDENTIFIER, 2),
                Ttlv::integer(Tag::SPLIT_KEY_THRESHOLD, 2),
                Ttlv::enumeration(Tag::SPLIT_KEY_METHOD, SplitKeyMethod::XOR),
                block.clone(),
            ],
        );
        let (sym, params) = read(&t).unwrap();
        assert_eq!(sym.tag, Tag::SYMMETRIC_KEY);
        assert_eq!(write(sym, Some(&params)).unwrap(), t);
    }

    #[test]
    fn a_part_outside_its_split_is_refused() {
        let t = Ttlv::structure(
            Tag::SPLIT_KEY,
            vec![
                Ttlv::integer(Tag::SPLIT_KEY_PARTS, 2),
                Ttlv::integer(Tag::KEY_PART_IDENTIFIER, 3),
                Ttlv::integer(Tag::SPLIT_KEY_THRESHOLD, 2),
                Ttlv::enumeration(Tag::SPLIT_KEY_METHOD, SplitKeyMethod::XOR),
            ],
        );
        assert!(read(&t).is_err());
    }
}
