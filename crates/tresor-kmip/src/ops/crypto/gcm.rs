//! AES-GCM after SP 800-38D in Rust, for any IV length and truncated tags: GHASH, the
//! streaming state of a multi-part Encrypt or Decrypt ([`GcmStream`]) and the tag length a
//! request asks for.

use super::{OpError, bad_params};
use crate::enums::ResultReason;

/// The GCM tag length in bytes: 16 by default; SP 800-38D allows 16..=12, 8 and 4.
pub(super) fn gcm_tag_len(asked: Option<i32>) -> Result<usize, OpError> {
    match asked.unwrap_or(16) {
        n @ (4 | 8 | 12..=16) => Ok(n as usize),
        // The reason CS-BC-M-GCM-1 (1.4 and 2.1) expects for an invalid tag length.
        n => Err(OpError::new(
            ResultReason::GENERAL_FAILURE,
            format!("gcm tag length {n} is not 4, 8 or 12 to 16 bytes"),
        )),
    }
}

/// GF(2^128) multiplication of GCM (SP 800-38D algorithm 1), without key-dependent branches.
fn gf_mul(x: u128, y: u128) -> u128 {
    const R: u128 = 0xE1 << 120;
    let (mut z, mut v) = (0u128, y);
    for i in 0..128 {
        z ^= v & 0u128.wrapping_sub((x >> (127 - i)) & 1);
        v = (v >> 1) ^ (R & 0u128.wrapping_sub(v & 1));
    }
    z
}

/// GHASH over `data` zero-padded to whole blocks, continuing from `y`.
fn ghash(h: u128, mut y: u128, data: &[u8]) -> u128 {
    for chunk in data.chunks(16) {
        let mut b = [0u8; 16];
        b[..chunk.len()].copy_from_slice(chunk);
        y = gf_mul(y ^ u128::from_be_bytes(b), h);
    }
    y
}

/// An AES key schedule of any of the three sizes.
enum AnyAes {
    A128(aes::Aes128),
    A192(aes::Aes192),
    A256(aes::Aes256),
}

impl AnyAes {
    fn new(key: &[u8]) -> Result<Self, OpError> {
        use aes::cipher::KeyInit;
        let bad = |_| bad_params("bad aes key");
        Ok(match key.len() {
            16 => AnyAes::A128(aes::Aes128::new_from_slice(key).map_err(bad)?),
            24 => AnyAes::A192(aes::Aes192::new_from_slice(key).map_err(bad)?),
            32 => AnyAes::A256(aes::Aes256::new_from_slice(key).map_err(bad)?),
            _ => return Err(bad_params("aes key must be 128, 192 or 256 bits")),
        })
    }

    fn block(&self, x: u128) -> u128 {
        use aes::cipher::{BlockEncrypt, generic_array::GenericArray};
        let mut b = GenericArray::from(x.to_be_bytes());
        match self {
            AnyAes::A128(k) => k.encrypt_block(&mut b),
            AnyAes::A192(k) => k.encrypt_block(&mut b),
            AnyAes::A256(k) => k.encrypt_block(&mut b),
        }
        u128::from_be_bytes(b.into())
    }
}

/// AES-GCM (SP 800-38D) over data given in parts: the state of one streaming Encrypt or
/// Decrypt (KMIP Init Indicator ... Final Indicator), or of a one-shot call with an IV that
/// aws-lc does not take (any length but 12 bytes) or a truncated tag.
///
/// The state holds no key: every part is processed with the key loaded for that request,
/// so the key's state, usage mask and usage limits are checked on every part. It holds the
/// pre-counter block, the running GHASH value (zeroized on drop), up to 15 bytes of cipher
/// text not yet hashed and the byte counts.
pub(crate) struct GcmStream {
    j0: u128,
    ghash: u128,
    pending: Vec<u8>,
    done: u64,
    aad_len: u64,
    encrypt: bool,
}

impl Drop for GcmStream {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.ghash.zeroize();
        self.j0.zeroize();
    }
}

impl std::fmt::Debug for GcmStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcmStream")
            .field("done", &self.done)
            .field("encrypt", &self.encrypt)
            .finish_non_exhaustive()
    }
}

/// The most data one GCM invocation may process (SP 800-38D: 2^39 - 256 bits).
const GCM_MAX_BYTES: u64 = (1 << 36) - 32;

impl GcmStream {
    /// Starts an encryption (`encrypt`) or decryption with `iv` (any non-empty length) and
    /// the additional authenticated data.
    pub(crate) fn start(key: &[u8], iv: &[u8], aad: &[u8], encrypt: bool) -> Result<Self, OpError> {
        let c = AnyAes::new(key)?;
        if iv.is_empty() {
            return Err(bad_params("gcm needs a non-empty iv"));
        }
        let h = c.block(0);
        let j0 = if iv.len() == 12 {
            let mut b = [0u8; 16];
            b[..12].copy_from_slice(iv);
            b[15] = 1;
            u128::from_be_bytes(b)
        } else {
            let bits = (iv.len() as u128) * 8;
            gf_mul(ghash(h, 0, iv) ^ bits, h)
        };
        Ok(GcmStream {
            j0,
            ghash: ghash(h, 0, aad),
            pending: Vec::with_capacity(16),
            done: 0,
            aad_len: aad.len() as u64,
            encrypt,
        })
    }

    /// Returns true if and only if this stream encrypts.
    pub(crate) fn is_encrypt(&self) -> bool {
        self.encrypt
    }

    /// Encrypts or decrypts the next part in place.
    pub(crate) fn update(&mut self, key: &[u8], buf: &mut [u8]) -> Result<(), OpError> {
        let c = AnyAes::new(key)?;
        let h = c.block(0);
        if self.done.saturating_add(buf.len() as u64) > GCM_MAX_BYTES {
            return Err(bad_params(
                "gcm data exceeds the 64 GiB limit of one invocation",
            ));
        }
        if !self.encrypt {
            self.hash(h, buf);
        }
        let inc32 =
            |x: u128, n: u64| (x & !0xFFFF_FFFFu128) | ((x as u32).wrapping_add(n as u32) as u128);
        let mut i = 0;
        while i < buf.len() {
            let block = self.done / 16;
            let off = (self.done % 16) as usize;
            let ks = c.block(inc32(self.j0, block + 1)).to_be_bytes();
            let n = (16 - off).min(buf.len() - i);
            for (b, k) in buf[i..i + n].iter_mut().zip(&ks[off..off + n]) {
                *b ^= k;
            }
            i += n;
            self.done += n as u64;
        }
        if self.encrypt {
            self.hash(h, buf);
        }
        Ok(())
    }

    /// Adds cipher text to GHASH, keeping a partial block for the next part.
    fn hash(&mut self, h: u128, mut ct: &[u8]) {
        if !self.pending.is_empty() {
            let take = (16 - self.pending.len()).min(ct.len());
            self.pending.extend_from_slice(&ct[..take]);
            ct = &ct[take..];
            if self.pending.len() < 16 {
                return;
            }
            self.ghash = ghash(h, self.ghash, &self.pending);
            self.pending.clear();
        }
        let whole = ct.len() - ct.len() % 16;
        self.ghash = ghash(h, self.ghash, &ct[..whole]);
        self.pending.extend_from_slice(&ct[whole..]);
    }

    /// Ends the stream: the full 16-byte tag (the caller truncates or compares it).
    pub(crate) fn finish(mut self, key: &[u8]) -> Result<[u8; 16], OpError> {
        let c = AnyAes::new(key)?;
        let h = c.block(0);
        let mut s = ghash(h, self.ghash, &self.pending);
        let lens = ((u128::from(self.aad_len) * 8) << 64) | (u128::from(self.done) * 8);
        s = gf_mul(s ^ lens, h);
        let tag = (c.block(self.j0) ^ s).to_be_bytes();
        self.pending.clear();
        Ok(tag)
    }
}

/// AES-GCM (SP 800-38D) for any IV length: encrypts or decrypts `buf` in place and returns
/// the full 16-byte tag over the cipher text (the caller truncates or compares it).
pub(super) fn gcm_generic(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    encrypt: bool,
) -> Result<[u8; 16], OpError> {
    let mut g = GcmStream::start(key, iv, aad, encrypt)?;
    g.update(key, buf)?;
    g.finish(key)
}

/// The GCM tag length in bytes a request asks for (16 by default).
pub(crate) fn gcm_tag_length(asked: Option<i32>) -> Result<usize, OpError> {
    gcm_tag_len(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcm_in_parts_equals_one_shot() {
        let key = [3u8; 32];
        let plain: Vec<u8> = (0..100u8).collect();
        for iv in [&[1u8; 12][..], &[2u8; 8][..], &[5u8; 60][..]] {
            let mut whole = plain.clone();
            let want = gcm_generic(&key, iv, b"ad", &mut whole, true).unwrap();
            for split in [
                &[0usize, 100][..],
                &[1, 15, 16, 17, 51][..],
                &[16, 32, 48][..],
            ] {
                let mut g = GcmStream::start(&key, iv, b"ad", true).unwrap();
                let mut out = Vec::new();
                let mut at = 0;
                for &end in split.iter().chain([&100]) {
                    let mut part = plain[at..end.max(at)].to_vec();
                    g.update(&key, &mut part).unwrap();
                    out.extend(part);
                    at = end.max(at);
                }
                assert_eq!(out, whole, "iv {} split {split:?}", iv.len());
                assert_eq!(g.finish(&key).unwrap(), want);
                // Decrypting in parts gives the plain text and the same tag.
                let mut d = GcmStream::start(&key, iv, b"ad", false).unwrap();
                let (mut a, mut b) = (whole[..7].to_vec(), whole[7..].to_vec());
                d.update(&key, &mut a).unwrap();
                d.update(&key, &mut b).unwrap();
                a.extend(b);
                assert_eq!(a, plain);
                assert_eq!(d.finish(&key).unwrap(), want);
            }
        }
    }
}
