//! The cryptographic parameters of a request ([`Params`]) and what a key allows for AES-GCM
//! ([`GcmRule`]).

use super::OpError;
use crate::enums::{
    BlockCipherMode, CryptographicAlgorithm as Alg, DigitalSignatureAlgorithm, HashingAlgorithm,
    PaddingMethod, ResultReason,
};
use crate::payload::crypto::CryptographicParameters;

/// Parameters of an Encrypt/Decrypt/Sign/MAC request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pub(crate) mode: Option<BlockCipherMode>,
    pub(crate) padding: Option<PaddingMethod>,
    pub(crate) hashing: Option<HashingAlgorithm>,
    pub(crate) algorithm: Option<Alg>,
    pub(crate) signature_algorithm: Option<DigitalSignatureAlgorithm>,
    pub(crate) tag_length: Option<i32>,
    /// What the key allows for AES-GCM (tag lengths, caller-chosen IVs).
    pub(crate) gcm: GcmRule,
}

impl Params {
    /// The parameters `cp` sets, the algorithm defaulting to `key_algorithm` (the key's
    /// own); values are kept as sent, for the operations to refuse what they do not offer.
    pub(crate) fn of(
        cp: &CryptographicParameters,
        key_algorithm: impl FnOnce() -> Option<Alg>,
    ) -> Self {
        Params {
            mode: cp.block_cipher_mode,
            padding: cp.padding_method,
            hashing: cp.hashing_algorithm,
            algorithm: cp.cryptographic_algorithm.or_else(key_algorithm),
            signature_algorithm: cp.digital_signature_algorithm,
            tag_length: cp.tag_length,
            ..Params::default()
        }
    }
}

/// What a key allows for AES-GCM, from its stored Cryptographic Parameters.
///
/// - Tag length: the key's stored Tag Length if it has one (any SP 800-38D length,
///   including the 4 and 8 bytes meant for special uses), else 12 to 16 bytes (SP 800-38D's
///   general-use lengths; the OASIS vectors CS-BC-M-GCM-1/2 use 12 to 15 on keys without
///   parameters). A shorter tag makes forgeries cheap: 4 bytes fall to 2^32 tries.
/// - IV: the caller may choose the IV/Counter/Nonce of an Encrypt only if the key's stored
///   Random IV is false, or it has none and the caller is the key's owner or an admin. A
///   key stored with Random IV = true, or used by a grantee, gets a fresh random IV from the
///   server (returned in the response): a caller who could repeat an IV another client used
///   would learn that client's key stream and the GHASH key, and so read and forge its
///   messages.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GcmRule {
    /// The key's stored Tag Length in bytes, if it has one.
    pub(crate) tag_length: Option<usize>,
    /// The server chooses the IV; a caller's IV is refused.
    pub(crate) server_iv: bool,
}

impl GcmRule {
    /// The rule for a key with stored Cryptographic Parameters `stored`, used by its owner
    /// or an admin (`privileged`) or by a grantee.
    pub(crate) fn of(stored: Option<&CryptographicParameters>, privileged: bool) -> Self {
        let tag_length = stored
            .and_then(|p| p.tag_length)
            .and_then(|n| usize::try_from(n).ok());
        let random_iv = stored.and_then(|p| p.random_iv);
        GcmRule {
            tag_length,
            server_iv: random_iv.unwrap_or(!privileged),
        }
    }

    /// Checks a tag length (bytes) against the key's rule.
    ///
    /// # Errors
    /// Invalid Field naming the length.
    pub(crate) fn check_tag(&self, len: usize) -> Result<usize, OpError> {
        let ok = match self.tag_length {
            Some(t) => len == t,
            None => (12..=16).contains(&len),
        };
        if ok {
            return Ok(len);
        }
        Err(OpError::new(
            ResultReason::INVALID_FIELD,
            match self.tag_length {
                Some(t) => format!(
                    "gcm tag length {len} bytes is refused: this key's cryptographic \
                     parameters set {t} bytes"
                ),
                None => format!(
                    "gcm tag length {len} bytes is refused: 12 to 16 bytes, unless the key's \
                     cryptographic parameters set another tag length"
                ),
            },
        ))
    }

    /// Checks that the caller may supply `iv` for a GCM encryption.
    ///
    /// # Errors
    /// Invalid Field saying the server chooses this key's IVs.
    pub(crate) fn check_iv(&self, iv: Option<&[u8]>) -> Result<(), OpError> {
        if self.server_iv && iv.is_some() {
            return Err(OpError::new(
                ResultReason::INVALID_FIELD,
                "a caller-chosen gcm iv/counter/nonce is refused for this key (its \
                 cryptographic parameters set Random IV, or only its owner may choose IVs): \
                 send no IV and use the one returned",
            ));
        }
        Ok(())
    }
}
