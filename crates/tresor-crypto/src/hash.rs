//! Hashes and MACs (aws-lc-rs): SHA-256, HMAC-SHA-256.

use aws_lc_rs::{digest, hmac};

/// SHA-256 over the concatenation of `parts`.
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// HMAC-SHA-256 over the concatenation of `parts`, each prefixed with its length so that
/// part boundaries are unambiguous.
pub fn hmac_sha256_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    HmacSha256::new(key).parts(parts)
}

/// A prepared HMAC-SHA-256 key, for a key that MACs many messages (an audit chain): its
/// pad blocks are hashed once, not once per message.
#[derive(Clone)]
pub struct HmacSha256(hmac::Key);

impl std::fmt::Debug for HmacSha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacSha256([REDACTED])")
    }
}

impl HmacSha256 {
    /// Prepares `key`.
    pub fn new(key: &[u8]) -> Self {
        HmacSha256(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    /// As [`hmac_sha256_parts`] with this key (the same bytes are MACed: each part prefixed
    /// with its length as 8 big-endian bytes), fed to the hash in one update.
    pub fn parts(&self, parts: &[&[u8]]) -> [u8; 32] {
        let len: usize = parts.iter().map(|p| 8 + p.len()).sum();
        let mut msg = Vec::with_capacity(len);
        for p in parts {
            msg.extend_from_slice(&(p.len() as u64).to_be_bytes());
            msg.extend_from_slice(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&self.0, &msg).as_ref());
        out
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(
            hex(&sha256_parts(&[b"ab", b"c"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Length prefixes make ("ab","c") and ("a","bc") differ.
        assert_ne!(
            hmac_sha256_parts(b"k", &[b"ab", b"c"]),
            hmac_sha256_parts(b"k", &[b"a", b"bc"])
        );
    }
}
