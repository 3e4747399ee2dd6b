//! The cryptography behind the operations, on aws-lc-rs (and RustCrypto `cbc` for
//! AES-CBC with PKCS#5 padding).

use crate::enums::ResultReason;

use super::OpError;

mod aes_modes;
mod gcm;
mod keys;
mod mac;
mod params;
mod signatures;

pub(super) use aes_modes::strip_pkcs5;
pub(crate) use aes_modes::{Encrypted, decrypt, encrypt};
pub(crate) use gcm::{GcmStream, gcm_tag_length};
pub(crate) use keys::{key_bits, key_pair, random, symmetric_key};
pub(crate) use mac::{mac, mac_verify};
pub(crate) use params::{GcmRule, Params};
#[cfg(test)]
pub(crate) use signatures::verify;
pub(crate) use signatures::{Signer, Verifier};

fn crypto_err(what: &str) -> OpError {
    OpError::new(ResultReason::CRYPTOGRAPHIC_FAILURE, what.to_owned())
}

fn bad_params(what: impl Into<String>) -> OpError {
    OpError::new(ResultReason::BAD_CRYPTOGRAPHIC_PARAMETERS, what.into())
}
