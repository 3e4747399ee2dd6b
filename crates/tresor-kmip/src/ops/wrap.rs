//! Key wrapping: Get with a Key Wrapping Specification returns the key block's material
//! encrypted under another managed key, and Register accepts such a wrapped key block.
//!
//! Supported: Wrapping Method Encrypt, an AES wrapping key (128 or 256 bits) named by the
//! Encryption Key Information, Block Cipher Mode NIST Key Wrap (RFC 3394, the default) or AES
//! Key Wrap with Padding (RFC 5649), Encoding Option No Encoding (the Key Value is the wrapped
//! Key Material bytes). The wrapping key must be usable by the client (`use` permission), in
//! the right state and allow Wrap Key (Get) or Unwrap Key (Register) in its usage mask.
//! Everything else (MAC/sign wrapping, TTLV encoding, wrapping transparent key material) is
//! refused with a precise reason. Which objects may leave wrapped, and under which keys, is
//! decided by `release` before anything is wrapped.

use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrap, KeyWrapPadded};
use tresor_store::ObjectType;
use zeroize::Zeroizing;

use super::{OpError, Session};
use crate::enums::{
    BlockCipherMode, CryptographicUsageMask, EncodingOption, ResultReason, WrappingMethod,
};
use crate::payload::crypto::CryptographicParameters;
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// What a Key Wrapping Specification (Get) or Key Wrapping Data (Register) asks for.
#[derive(Debug)]
struct Spec {
    uid: String,
    padded: bool,
    key_info: Ttlv,
    /// The request named Encoding Option No Encoding itself: KMIP 1.1+ §2.1.5 wraps only
    /// the Key Material, so the Key Value stays a structure holding the wrapped bytes (the
    /// shape PyKMIP's reader expects). Without the option the Key Value is answered as one
    /// Byte String, as the OASIS vectors (AX-M-2-14/21) show.
    no_encoding_asked: bool,
}

fn unsupported(msg: impl Into<String>) -> OpError {
    OpError::new(ResultReason::KEY_WRAP_TYPE_NOT_SUPPORTED, msg.into())
}

fn read_spec(s: &Session<'_>, t: &Ttlv) -> Result<Spec, OpError> {
    let method = t
        .find(Tag::WRAPPING_METHOD)
        .and_then(Ttlv::as_enumeration)
        .unwrap_or(WrappingMethod::ENCRYPT.0);
    if method != WrappingMethod::ENCRYPT.0 {
        return Err(unsupported(format!(
            "wrapping method {} is not supported (Encrypt)",
            WrappingMethod(method)
        )));
    }
    if t.find(Tag::MAC_SIGNATURE_KEY_INFORMATION).is_some() {
        return Err(unsupported("mac/signature key wrapping is not supported"));
    }
    let asked = t.find(Tag::ENCODING_OPTION).and_then(Ttlv::as_enumeration);
    let encoding = asked.unwrap_or(EncodingOption::NO_ENCODING.0);
    if encoding != EncodingOption::NO_ENCODING.0 {
        return Err(OpError::new(
            ResultReason::ENCODING_OPTION_ERROR,
            "only the No Encoding option is supported for key wrapping",
        ));
    }
    let info = t
        .find(Tag::ENCRYPTION_KEY_INFORMATION)
        .ok_or_else(|| OpError::missing(Tag::ENCRYPTION_KEY_INFORMATION, t.tag))?;
    let uid = s.target_uid(info)?;
    let mode = CryptographicParameters::of(info).and_then(|cp| cp.block_cipher_mode);
    let padded = match mode {
        None | Some(BlockCipherMode::NIST_KEY_WRAP) => false,
        Some(BlockCipherMode::AES_KEY_WRAP_PADDING) => true,
        Some(m) => {
            return Err(unsupported(format!(
                "block cipher mode {m} is not supported for key wrapping (NISTKeyWrap, \
                 AESKeyWrapPadding)"
            )));
        }
    };
    let mut key_info = vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid.clone())];
    if let Some(cp) = info.find(Tag::CRYPTOGRAPHIC_PARAMETERS) {
        key_info.push(cp.clone());
    }
    Ok(Spec {
        uid,
        padded,
        key_info: Ttlv::structure(Tag::ENCRYPTION_KEY_INFORMATION, key_info),
        no_encoding_asked: asked.is_some(),
    })
}

/// The unique identifier of the wrapping key a Key Wrapping Specification names (what
/// `release::authorize` checks before the material is read).
pub(crate) fn wrapping_key_uid(s: &Session<'_>, spec: &Ttlv) -> Result<String, OpError> {
    Ok(read_spec(s, spec)?.uid)
}

/// Loads the wrapping key: a symmetric AES key the client may use, in a usable state, whose
/// usage mask allows `bit`. Returns it with its metadata.
fn wrapping_key(
    s: &mut Session<'_>,
    uid: &str,
    bit: CryptographicUsageMask,
    protect: bool,
) -> Result<(AesKek, tresor_store::ObjectMeta), OpError> {
    let meta = s.load(uid, "use")?;
    if meta.object_type != ObjectType::SymmetricKey {
        return Err(OpError::new(
            ResultReason::WRAPPING_OBJECT_NOT_FOUND,
            format!(
                "wrapping key '{uid}' is a {}, not a symmetric key",
                meta.object_type
            ),
        ));
    }
    use tresor_store::State;
    let ok_state = if protect {
        meta.state == State::Active
    } else {
        matches!(
            meta.state,
            State::Active | State::Deactivated | State::Compromised
        )
    };
    if !ok_state {
        return Err(OpError::new(
            ResultReason::WRONG_KEY_LIFECYCLE_STATE,
            format!("wrapping key '{uid}' is {}", meta.state),
        ));
    }
    if let Some(mask) = meta
        .attributes
        .get("Cryptographic Usage Mask")
        .and_then(serde_json::Value::as_i64)
        && !CryptographicUsageMask(mask as u32).allows(bit)
    {
        return Err(OpError::new(
            if s.version.is_v2() {
                ResultReason::INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
            } else {
                ResultReason::PERMISSION_DENIED
            },
            format!(
                "wrapping key '{uid}': its usage mask does not allow {}",
                CryptographicUsageMask::DEF.name_of(bit.0).unwrap_or("this")
            ),
        ));
    }
    let key = s.txn.material(uid, 0)?;
    let cipher = match key.expose().len() {
        16 => &AES_128,
        32 => &AES_256,
        n => {
            return Err(unsupported(format!(
                "wrapping key '{uid}' has {} bits; AES key wrap takes 128 or 256",
                n * 8
            )));
        }
    };
    let kek = AesKek::new(cipher, key.expose()).map_err(|_| unsupported("bad wrapping key"))?;
    Ok((kek, meta))
}

/// Get: replaces the key block's Key Value by the wrapped Key Material and adds the Key
/// Wrapping Data. `object` is the object structure `write_object` built.
pub(crate) fn wrap_object(s: &mut Session<'_>, spec: &Ttlv, object: Ttlv) -> Result<Ttlv, OpError> {
    let spec = read_spec(s, spec)?;
    let mut kek = Some(wrapping_key(s, &spec.uid, CryptographicUsageMask::WRAP_KEY, true)?.0);
    let Value::Structure(items) = object.value else {
        return Err(unsupported("this object has no key block to wrap"));
    };
    let mut out = Vec::with_capacity(items.len());
    let mut wrapped_any = false;
    for it in items {
        if it.tag != Tag::KEY_BLOCK {
            out.push(it);
            continue;
        }
        let Value::Structure(block) = it.value else {
            return Err(unsupported("malformed key block"));
        };
        let mut nb = Vec::with_capacity(block.len() + 1);
        for b in block {
            if b.tag != Tag::KEY_VALUE {
                nb.push(b);
                continue;
            }
            let material = b
                .find(Tag::KEY_MATERIAL)
                .and_then(Ttlv::as_bytes)
                .ok_or_else(|| {
                    unsupported(
                        "only byte-string key material can be wrapped (ask for a Raw, PKCS#1, \
                         PKCS#8 or X.509 key format)",
                    )
                })?;
            let kek = kek
                .take()
                .ok_or_else(|| unsupported("an object has one key value to wrap"))?;
            let mut buf = vec![0u8; material.len() + 16];
            let n = if spec.padded {
                kek.wrap_with_padding(material, &mut buf).map(|o| o.len())
            } else {
                kek.wrap(material, &mut buf).map(|o| o.len())
            }
            .map_err(|_| {
                OpError::new(
                    ResultReason::CRYPTOGRAPHIC_FAILURE,
                    "key wrap failed (NIST key wrap needs a multiple of 8 bytes, at least 16; \
                     AESKeyWrapPadding takes any length)",
                )
            })?;
            buf.truncate(n);
            nb.push(if spec.no_encoding_asked {
                Ttlv::structure(Tag::KEY_VALUE, vec![Ttlv::bytes(Tag::KEY_MATERIAL, buf)])
            } else {
                Ttlv::bytes(Tag::KEY_VALUE, buf)
            });
            wrapped_any = true;
        }
        nb.push(Ttlv::structure(
            Tag::KEY_WRAPPING_DATA,
            vec![
                Ttlv::enumeration(Tag::WRAPPING_METHOD, WrappingMethod::ENCRYPT),
                spec.key_info.clone(),
                Ttlv::enumeration(Tag::ENCODING_OPTION, EncodingOption::NO_ENCODING),
            ],
        ));
        out.push(Ttlv::structure(Tag::KEY_BLOCK, nb));
    }
    if !wrapped_any {
        return Err(unsupported("this object has no key value to wrap"));
    }
    Ok(Ttlv::structure(object.tag, out))
}

/// Register: a key block with Key Wrapping Data is unwrapped with the named key; returns the
/// object structure with the plain Key Material and without the wrapping data, and the
/// unwrapping key's metadata (`None` when the block was not wrapped).
pub(crate) fn unwrap_object(
    s: &mut Session<'_>,
    object: &Ttlv,
) -> Result<(Ttlv, Option<tresor_store::ObjectMeta>), OpError> {
    let Some(block) = object.find(Tag::KEY_BLOCK) else {
        return Ok((object.clone(), None));
    };
    let Some(data) = block.find(Tag::KEY_WRAPPING_DATA) else {
        return Ok((object.clone(), None));
    };
    let spec = read_spec(s, data)?;
    let (kek, kek_meta) = wrapping_key(s, &spec.uid, CryptographicUsageMask::UNWRAP_KEY, false)?;
    let wrapped = block
        .find(Tag::KEY_VALUE)
        .and_then(|v| match &v.value {
            Value::ByteString(b) => Some(b.as_slice()),
            _ => v.find(Tag::KEY_MATERIAL).and_then(Ttlv::as_bytes),
        })
        .ok_or_else(|| OpError::missing(Tag::KEY_VALUE, Tag::KEY_BLOCK))?;
    let mut buf = Zeroizing::new(vec![0u8; wrapped.len()]);
    let n = if spec.padded {
        kek.unwrap_with_padding(wrapped, &mut buf).map(|o| o.len())
    } else {
        kek.unwrap(wrapped, &mut buf).map(|o| o.len())
    }
    .map_err(|_| {
        OpError::new(
            ResultReason::CRYPTOGRAPHIC_FAILURE,
            "key unwrap failed: wrong wrapping key or damaged key value",
        )
    })?;
    buf.truncate(n);
    let new_block: Vec<Ttlv> = block
        .items()
        .iter()
        .filter(|b| b.tag != Tag::KEY_WRAPPING_DATA)
        .map(|b| {
            if b.tag == Tag::KEY_VALUE {
                Ttlv::structure(
                    Tag::KEY_VALUE,
                    vec![Ttlv::bytes(Tag::KEY_MATERIAL, buf.to_vec())],
                )
            } else {
                b.clone()
            }
        })
        .collect();
    let items = object
        .items()
        .iter()
        .map(|i| {
            if i.tag == Tag::KEY_BLOCK {
                Ttlv::structure(Tag::KEY_BLOCK, new_block.clone())
            } else {
                i.clone()
            }
        })
        .collect();
    Ok((Ttlv::structure(object.tag, items), Some(kek_meta)))
}
