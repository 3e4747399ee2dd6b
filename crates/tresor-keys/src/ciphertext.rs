//! Ciphertext and signature formats: every one names its key and version.
//!
//! * text: `tresor:NAME:vN:BASE64` where BASE64 (standard, padded) is `nonce || ct || tag`
//!   (or a signature);
//! * binary: `"TK" 0x01 || len(NAME) u8 || NAME || N u32 BE || nonce || ct || tag`.
//!
//! The AEAD's associated data is the binary header (`"TK" 0x01 .. N`) followed by the caller's
//! associated data, so both forms of one ciphertext authenticate the same bytes and a
//! ciphertext cannot be moved to another key or version.

use base64::Engine as _;

use crate::error::KeysError;

/// The text prefix.
pub const TEXT_PREFIX: &str = "tresor:";
const MAGIC: &[u8; 3] = b"TK\x01";
/// Longest key name.
pub const MAX_NAME_LEN: usize = 128;

/// A parsed ciphertext (or signature) header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The key's name.
    pub name: &'a str,
    /// The key version that made it.
    pub version: u32,
}

/// Checks a key name: 1 to 128 characters from `A-Z a-z 0-9 _ . -`.
///
/// # Errors
/// [`KeysError::InvalidName`].
pub fn validate_name(name: &str) -> Result<(), KeysError> {
    let bad = |why| {
        Err(KeysError::InvalidName {
            name: name.to_owned(),
            why,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("longer than 128 bytes");
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
    {
        return bad("only letters, digits, '_', '.' and '-' are allowed");
    }
    Ok(())
}

/// Appends the binary header of (`name`, `version`) to `out`; returns its length.
pub(crate) fn write_head(out: &mut Vec<u8>, name: &str, version: u32) -> usize {
    let start = out.len();
    out.resize(start + head_len(name), 0);
    put_head(&mut out[start..], name, version)
}

/// The length of the binary header for key `name`.
pub(crate) fn head_len(name: &str) -> usize {
    MAGIC.len() + 1 + name.len() + 4
}

/// Writes the binary header of (`name`, `version`) at the start of `out` (at least
/// [`head_len`] bytes); returns its length.
pub(crate) fn put_head(out: &mut [u8], name: &str, version: u32) -> usize {
    let n = head_len(name);
    let (magic, rest) = out[..n].split_at_mut(MAGIC.len());
    magic.copy_from_slice(MAGIC);
    rest[0] = name.len() as u8;
    rest[1..=name.len()].copy_from_slice(name.as_bytes());
    rest[1 + name.len()..].copy_from_slice(&version.to_be_bytes());
    n
}

/// Splits a binary ciphertext into its header, the header's length and the payload.
pub(crate) fn parse_binary(b: &[u8]) -> Result<(Header<'_>, usize), KeysError> {
    let bad = |why| KeysError::Malformed {
        what: "binary ciphertext",
        why,
    };
    if b.get(..3) != Some(MAGIC.as_slice()) {
        return Err(bad("wrong magic"));
    }
    let n = *b.get(3).ok_or(bad("truncated header"))? as usize;
    let name = b.get(4..4 + n).ok_or(bad("truncated name"))?;
    let name = std::str::from_utf8(name).map_err(|_| bad("name is not UTF-8"))?;
    validate_name(name).map_err(|_| bad("invalid key name"))?;
    let v = b.get(4 + n..8 + n).ok_or(bad("truncated version"))?;
    let version = u32::from_be_bytes(v.try_into().map_err(|_| bad("truncated version"))?);
    Ok((Header { name, version }, 8 + n))
}

/// Splits a binary ciphertext (from `KeyManager::encrypt_bytes`) into the header of its
/// text form (`tresor:NAME:vN:`) and the payload the text form carries in base64, so a
/// caller with a faster base64 encoder can build the text form itself.
///
/// # Errors
/// [`KeysError::Malformed`] if `b` is not a binary ciphertext.
pub fn text_head(b: &[u8]) -> Result<(String, &[u8]), KeysError> {
    let (h, n) = parse_binary(b)?;
    // Room for the base64 payload too, so appending it does not grow the string again.
    let mut head = String::with_capacity(
        TEXT_PREFIX.len() + h.name.len() + 13 + (b.len() - n).div_ceil(3) * 4,
    );
    head.push_str(TEXT_PREFIX);
    head.push_str(h.name);
    head.push_str(":v");
    head.push_str(&h.version.to_string());
    head.push(':');
    Ok((head, &b[n..]))
}

/// Splits a text ciphertext (or signature) into its header and decoded payload.
pub(crate) fn parse_text(s: &str) -> Result<(Header<'_>, Vec<u8>), KeysError> {
    let (h, payload) = split_text(s)?;
    let body = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|_| KeysError::Malformed {
            what: "ciphertext",
            why: "payload is not base64",
        })?;
    Ok((h, body))
}

fn split_text(s: &str) -> Result<(Header<'_>, &str), KeysError> {
    let bad = |why| KeysError::Malformed {
        what: "ciphertext",
        why,
    };
    let s = s.trim_end_matches(['\n', '\r']);
    let rest = s
        .strip_prefix(TEXT_PREFIX)
        .ok_or(bad("it does not start with 'tresor:'"))?;
    let mut it = rest.splitn(3, ':');
    let name = it.next().ok_or(bad("no key name"))?;
    validate_name(name).map_err(|_| bad("invalid key name"))?;
    let v = it.next().ok_or(bad("no version"))?;
    let v = v
        .strip_prefix('v')
        .ok_or(bad("version does not start with 'v'"))?;
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad("version is not a number"));
    }
    let version = v.parse::<u32>().map_err(|_| bad("version out of range"))?;
    let payload = it.next().ok_or(bad("no payload"))?;
    Ok((Header { name, version }, payload))
}

/// Reads the key name and version of a text ciphertext or signature without decrypting it.
///
/// # Errors
/// [`KeysError::Malformed`].
///
/// # Examples
/// ```
/// let h = tresor_keys::ciphertext::inspect("tresor:orders:v3:AAAA")?;
/// assert_eq!((h.name, h.version), ("orders", 3));
/// # Ok::<(), tresor_keys::KeysError>(())
/// ```
pub fn inspect(s: &str) -> Result<Header<'_>, KeysError> {
    split_text(s).map(|(h, _)| h)
}

/// Formats a text ciphertext or signature.
pub(crate) fn to_text(name: &str, version: u32, payload: &[u8]) -> String {
    let mut s =
        String::with_capacity(TEXT_PREFIX.len() + name.len() + 12 + payload.len().div_ceil(3) * 4);
    s.push_str(TEXT_PREFIX);
    s.push_str(name);
    s.push_str(":v");
    s.push_str(&version.to_string());
    s.push(':');
    base64::engine::general_purpose::STANDARD.encode_string(payload, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_head_and_payload_make_the_text_form() {
        let mut b = Vec::new();
        write_head(&mut b, "orders", 7);
        b.extend_from_slice(b"nonce+ciphertext+tag");
        let (head, payload) = text_head(&b).unwrap();
        assert_eq!(head, "tresor:orders:v7:");
        let mut text = head.clone();
        base64::engine::general_purpose::STANDARD.encode_string(payload, &mut text);
        assert_eq!(text, to_text("orders", 7, b"nonce+ciphertext+tag"));
        assert!(text_head(b"not a ciphertext").is_err());
    }

    #[test]
    fn names() {
        assert!(validate_name("orders_key-1.a").is_ok());
        for bad in ["", "a:b", "a b", "é", &"x".repeat(129)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_round_trip_and_rejects() {
        let t = to_text("k", 7, b"payload");
        assert!(t.starts_with("tresor:k:v7:"));
        let (h, p) = parse_text(&t).unwrap();
        assert_eq!(
            (h.name, h.version, p.as_slice()),
            ("k", 7, b"payload".as_slice())
        );
        for bad in [
            "",
            "tresor:",
            "tresor:k",
            "tresor:k:7:AA",
            "tresor:k:v:AA",
            "tresor:k:v1",
            "tresor:k:v99999999999:AA",
            "vault:v1:AA",
            "tresor:k:v1:%%",
            "tresor:a b:v1:AA",
            "tresor:k:v+1:AA",
        ] {
            assert!(parse_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn binary_round_trip_and_rejects() {
        let mut b = Vec::new();
        let n = write_head(&mut b, "key", 42);
        b.extend_from_slice(b"rest");
        let (h, len) = parse_binary(&b).unwrap();
        assert_eq!((h.name, h.version, len), ("key", 42, n));
        for i in 0..n {
            assert!(parse_binary(&b[..i]).is_err());
        }
        assert!(parse_binary(b"XX\x01\x01k\0\0\0\x01").is_err());
        assert!(parse_binary(b"TK\x01\x01:\0\0\0\x01").is_err());
    }
}
