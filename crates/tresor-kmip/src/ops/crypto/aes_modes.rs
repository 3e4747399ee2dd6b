//! AES encryption and decryption in the block cipher modes the operations offer: GCM (on
//! aws-lc-rs for 12-byte IVs and full tags), CBC with PKCS#5 padding and ECB.

use aws_lc_rs::aead;
use zeroize::Zeroizing;

use super::gcm::{gcm_generic, gcm_tag_len};
use super::{OpError, Params, bad_params, crypto_err, random};
use crate::enums::{BlockCipherMode, PaddingMethod, ResultReason};

/// The result of an encryption.
pub(crate) struct Encrypted {
    pub(crate) data: Vec<u8>,
    pub(crate) iv: Option<Vec<u8>>,
    pub(crate) tag: Option<Vec<u8>>,
}

type Aes128Cbc = cbc::Encryptor<aes::Aes128>;
type Aes192Cbc = cbc::Encryptor<aes::Aes192>;
type Aes256Cbc = cbc::Encryptor<aes::Aes256>;

fn aead_alg(key: &[u8]) -> Result<&'static aead::Algorithm, OpError> {
    match key.len() {
        16 => Ok(&aead::AES_128_GCM),
        32 => Ok(&aead::AES_256_GCM),
        24 => Ok(&aead::AES_192_GCM),
        _ => Err(bad_params("aes key must be 128, 192 or 256 bits")),
    }
}

/// AES-GCM or AES-CBC-PKCS5 encryption with a symmetric key.
pub(crate) fn encrypt(
    key: &[u8],
    p: &Params,
    data: &[u8],
    iv: Option<&[u8]>,
    aad: &[u8],
) -> Result<Encrypted, OpError> {
    match p.mode.unwrap_or(BlockCipherMode::GCM) {
        BlockCipherMode::GCM => {
            let tag_len = p.gcm.check_tag(gcm_tag_len(p.tag_length)?)?;
            p.gcm.check_iv(iv)?;
            let (nonce, generated) = match iv {
                Some(n) => (n.to_vec(), false),
                None => (random(12)?.to_vec(), true),
            };
            if nonce.len() != 12 || tag_len != 16 {
                // Other IV lengths and truncated tags (CS-BC-M-GCM-1/2): SP 800-38D directly.
                let mut buf = data.to_vec();
                let tag = gcm_generic(key, &nonce, aad, &mut buf, true)?;
                return Ok(Encrypted {
                    data: buf,
                    iv: generated.then_some(nonce),
                    tag: Some(tag[..tag_len].to_vec()),
                });
            }
            let n = aead::Nonce::try_assume_unique_for_key(&nonce)
                .map_err(|_| bad_params("gcm nonce must be 12 bytes"))?;
            let k = aead::LessSafeKey::new(
                aead::UnboundKey::new(aead_alg(key)?, key)
                    .map_err(|_| bad_params("bad aes key"))?,
            );
            let mut buf = data.to_vec();
            let tag = k
                .seal_in_place_separate_tag(n, aead::Aad::from(aad), &mut buf)
                .map_err(|_| crypto_err("encryption failed"))?;
            Ok(Encrypted {
                data: buf,
                iv: generated.then_some(nonce),
                tag: Some(tag.as_ref().to_vec()),
            })
        }
        BlockCipherMode::CBC => {
            use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
            if !matches!(p.padding, None | Some(PaddingMethod::PKCS5)) {
                return Err(bad_params("aes-cbc supports pkcs5 padding only"));
            }
            let (iv, generated) = match iv {
                Some(n) => (n.to_vec(), false),
                None => (random(16)?.to_vec(), true),
            };
            let bad = |_| bad_params("aes-cbc needs a 16-byte iv and a 128/192/256-bit key");
            let out = match key.len() {
                16 => Aes128Cbc::new_from_slices(key, &iv)
                    .map_err(bad)?
                    .encrypt_padded_vec_mut::<Pkcs7>(data),
                24 => Aes192Cbc::new_from_slices(key, &iv)
                    .map_err(bad)?
                    .encrypt_padded_vec_mut::<Pkcs7>(data),
                32 => Aes256Cbc::new_from_slices(key, &iv)
                    .map_err(bad)?
                    .encrypt_padded_vec_mut::<Pkcs7>(data),
                _ => return Err(bad_params("aes key must be 128, 192 or 256 bits")),
            };
            Ok(Encrypted {
                data: out,
                iv: generated.then_some(iv),
                tag: None,
            })
        }
        BlockCipherMode::ECB => Ok(Encrypted {
            data: ecb(key, p.padding, data, true)?.to_vec(),
            iv: None,
            tag: None,
        }),
        m => Err(OpError::new(
            ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
            format!("block cipher mode {m} is not supported (GCM, CBC)"),
        )),
    }
}

/// AES-GCM or AES-CBC-PKCS5 decryption.
pub(crate) fn decrypt(
    key: &[u8],
    p: &Params,
    data: &[u8],
    iv: Option<&[u8]>,
    aad: &[u8],
    tag: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>, OpError> {
    let mode = p.mode.unwrap_or(BlockCipherMode::GCM);
    if mode == BlockCipherMode::ECB {
        return ecb(key, p.padding, data, false);
    }
    // CS-BC-M-11/12/13 (1.4 and 2.1) expect Invalid Message for a missing IV.
    let iv = iv.ok_or_else(|| {
        OpError::new(
            ResultReason::INVALID_MESSAGE,
            "decryption needs an iv/counter/nonce",
        )
    })?;
    match mode {
        BlockCipherMode::GCM => {
            let tag = tag.ok_or_else(|| {
                bad_params("gcm decryption needs the authenticated encryption tag")
            })?;
            p.gcm
                .check_tag(gcm_tag_len(i32::try_from(tag.len()).ok())?)?;
            if iv.len() != 12 || tag.len() != 16 {
                let mut buf = Zeroizing::new(data.to_vec());
                let want = gcm_generic(key, iv, aad, &mut buf, false)?;
                aws_lc_rs::constant_time::verify_slices_are_equal(&want[..tag.len()], tag)
                    .map_err(|_| crypto_err("decryption failed: authentication tag mismatch"))?;
                return Ok(buf);
            }
            let n = aead::Nonce::try_assume_unique_for_key(iv)
                .map_err(|_| bad_params("gcm nonce must be 12 bytes"))?;
            let k = aead::LessSafeKey::new(
                aead::UnboundKey::new(aead_alg(key)?, key)
                    .map_err(|_| bad_params("bad aes key"))?,
            );
            let mut buf = Zeroizing::new(data.to_vec());
            buf.extend_from_slice(tag);
            let plain = k
                .open_in_place(n, aead::Aad::from(aad), &mut buf)
                .map_err(|_| crypto_err("decryption failed: authentication tag mismatch"))?
                .len();
            buf.truncate(plain);
            Ok(buf)
        }
        BlockCipherMode::CBC => {
            use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
            let bad = |_| bad_params("aes-cbc needs a 16-byte iv and a 128/192/256-bit key");
            let pad = |_| crypto_err("decryption failed: bad padding");
            let out = match key.len() {
                16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
                    .map_err(bad)?
                    .decrypt_padded_vec_mut::<Pkcs7>(data)
                    .map_err(pad)?,
                24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
                    .map_err(bad)?
                    .decrypt_padded_vec_mut::<Pkcs7>(data)
                    .map_err(pad)?,
                32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
                    .map_err(bad)?
                    .decrypt_padded_vec_mut::<Pkcs7>(data)
                    .map_err(pad)?,
                _ => return Err(bad_params("aes key must be 128, 192 or 256 bits")),
            };
            Ok(Zeroizing::new(out))
        }
        m => Err(OpError::new(
            ResultReason::UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
            format!("block cipher mode {m} is not supported (GCM, CBC)"),
        )),
    }
}

/// AES-ECB over whole blocks, with no padding or PKCS#5 padding (CS-BC-M vectors).
fn ecb(
    key: &[u8],
    padding: Option<PaddingMethod>,
    data: &[u8],
    encrypt: bool,
) -> Result<Zeroizing<Vec<u8>>, OpError> {
    use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit, generic_array::GenericArray};
    let pkcs5 = match padding {
        None | Some(PaddingMethod::NONE) => false,
        Some(PaddingMethod::PKCS5) => true,
        Some(other) => {
            return Err(bad_params(format!(
                "aes-ecb supports no padding or pkcs5, not {other}"
            )));
        }
    };
    let mut buf = Zeroizing::new(data.to_vec());
    if encrypt && pkcs5 {
        let n = 16 - buf.len() % 16;
        buf.extend(std::iter::repeat_n(n as u8, n));
    }
    if buf.len() % 16 != 0 {
        return Err(bad_params(format!(
            "aes-ecb data of {} bytes is not a multiple of the 16-byte block",
            data.len()
        )));
    }
    fn run<C: BlockEncrypt + BlockDecrypt + KeyInit>(
        key: &[u8],
        buf: &mut [u8],
        encrypt: bool,
    ) -> Result<(), OpError> {
        let c = C::new_from_slice(key).map_err(|_| bad_params("bad aes key"))?;
        for block in buf.chunks_exact_mut(16) {
            let b = GenericArray::from_mut_slice(block);
            if encrypt {
                c.encrypt_block(b);
            } else {
                c.decrypt_block(b);
            }
        }
        Ok(())
    }
    match key.len() {
        16 => run::<aes::Aes128>(key, &mut buf, encrypt)?,
        24 => run::<aes::Aes192>(key, &mut buf, encrypt)?,
        32 => run::<aes::Aes256>(key, &mut buf, encrypt)?,
        _ => return Err(bad_params("aes key must be 128, 192 or 256 bits")),
    }
    if !encrypt && pkcs5 {
        strip_pkcs5(&mut buf, 16)?;
    }
    Ok(buf)
}

/// Removes PKCS#5/#7 padding for a cipher of `block` bytes, refusing padding that is not
/// 1..=`block` bytes all equal to their count.
pub(in crate::ops) fn strip_pkcs5(buf: &mut Vec<u8>, block: usize) -> Result<(), OpError> {
    let n = usize::from(buf.last().copied().unwrap_or(0));
    let ok = (1..=block).contains(&n)
        && n <= buf.len()
        && buf[buf.len() - n..].iter().all(|&b| usize::from(b) == n);
    if !ok {
        return Err(crypto_err("decryption failed: bad padding"));
    }
    let keep = buf.len() - n;
    buf.truncate(keep);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::CryptographicAlgorithm as Alg;
    use crate::ops::crypto::symmetric_key;

    #[test]
    fn gcm_and_cbc_round_trip() {
        let key = symmetric_key(Alg::AES, 256).unwrap();
        for mode in [BlockCipherMode::GCM, BlockCipherMode::CBC] {
            let p = Params {
                mode: Some(mode),
                ..Params::default()
            };
            let e = encrypt(&key, &p, b"hello world", None, b"ad").unwrap();
            assert_ne!(e.data, b"hello world");
            let d = decrypt(&key, &p, &e.data, e.iv.as_deref(), b"ad", e.tag.as_deref()).unwrap();
            assert_eq!(&d[..], b"hello world");
        }
        let p = Params::default();
        let e = encrypt(&key, &p, b"x", None, b"").unwrap();
        let mut tag = e.tag.unwrap();
        tag[0] ^= 1;
        assert!(decrypt(&key, &p, &e.data, e.iv.as_deref(), b"", Some(&tag)).is_err());
    }
}
