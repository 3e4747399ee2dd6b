//! Cryptographic Parameters: how an operation uses its key (mode, padding, hashing,
//! algorithm, IV and tag lengths, ...).

use crate::enums::{
    BlockCipherMode, CryptographicAlgorithm, DigitalSignatureAlgorithm, HashingAlgorithm,
    KeyRoleType, MaskGenerator, PaddingMethod,
};
use crate::payload::{opt_enum, opt_integer, push_opt};
use crate::tags::Tag;
use crate::ttlv::Ttlv;

use super::{bool_item, bytes_item};
use crate::payload::{opt_bool, opt_bytes};

/// A `CryptographicParameters` structure (KMIP 1.0 to 2.1).
///
/// Every field is optional. An enumeration keeps the value sent, known or not, so the
/// operation using it can refuse an unknown one with its own Result Reason; a field of the
/// wrong item type reads as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CryptographicParameters {
    /// The block cipher mode (GCM, CBC, ECB, ...).
    pub block_cipher_mode: Option<BlockCipherMode>,
    /// The padding method (PKCS5, PSS, OAEP, None, ...).
    pub padding_method: Option<PaddingMethod>,
    /// The hashing algorithm (of a signature, an HMAC, a Hash).
    pub hashing_algorithm: Option<HashingAlgorithm>,
    /// The key role type (KMIP 1.x payment keys: BDK, KEK, ...).
    pub key_role_type: Option<KeyRoleType>,
    /// The digital signature algorithm (KMIP 1.2 and later).
    pub digital_signature_algorithm: Option<DigitalSignatureAlgorithm>,
    /// The cryptographic algorithm (KMIP 1.2 and later).
    pub cryptographic_algorithm: Option<CryptographicAlgorithm>,
    /// Whether the server chooses the IV/Counter/Nonce.
    pub random_iv: Option<bool>,
    /// The IV length in bits.
    pub iv_length: Option<i32>,
    /// The authenticated encryption tag length in bytes.
    pub tag_length: Option<i32>,
    /// The fixed field length of a deterministic IV, in bits.
    pub fixed_field_length: Option<i32>,
    /// The invocation field length of a deterministic IV, in bits.
    pub invocation_field_length: Option<i32>,
    /// The counter length in bits (CTR mode).
    pub counter_length: Option<i32>,
    /// The initial counter value (CTR mode).
    pub initial_counter_value: Option<i32>,
    /// The salt length of RSA-PSS, in bytes (KMIP 1.4 and later).
    pub salt_length: Option<i32>,
    /// The mask generation function of RSA-OAEP and RSA-PSS (KMIP 1.4 and later).
    pub mask_generator: Option<MaskGenerator>,
    /// The hashing algorithm of the mask generation function (KMIP 1.4 and later).
    pub mask_generator_hashing_algorithm: Option<HashingAlgorithm>,
    /// The encoding parameters (label) of RSA-OAEP (KMIP 1.4 and later).
    pub p_source: Option<Vec<u8>>,
    /// The trailer field of RSA-PSS (KMIP 1.4 and later).
    pub trailer_field: Option<i32>,
}

impl CryptographicParameters {
    /// Reads a `CryptographicParameters` structure (any item: one that is not a structure
    /// has no fields, so it reads as parameters that set nothing).
    pub fn from_ttlv(t: &Ttlv) -> Self {
        let int = |tag| opt_integer(t, tag);
        CryptographicParameters {
            block_cipher_mode: opt_enum(t, Tag::BLOCK_CIPHER_MODE).map(BlockCipherMode),
            padding_method: opt_enum(t, Tag::PADDING_METHOD).map(PaddingMethod),
            hashing_algorithm: opt_enum(t, Tag::HASHING_ALGORITHM).map(HashingAlgorithm),
            key_role_type: opt_enum(t, Tag::KEY_ROLE_TYPE).map(KeyRoleType),
            digital_signature_algorithm: opt_enum(t, Tag::DIGITAL_SIGNATURE_ALGORITHM)
                .map(DigitalSignatureAlgorithm),
            cryptographic_algorithm: opt_enum(t, Tag::CRYPTOGRAPHIC_ALGORITHM)
                .map(CryptographicAlgorithm),
            random_iv: opt_bool(t, Tag::RANDOM_IV),
            iv_length: int(Tag::IV_LENGTH),
            tag_length: int(Tag::TAG_LENGTH),
            fixed_field_length: int(Tag::FIXED_FIELD_LENGTH),
            invocation_field_length: int(Tag::INVOCATION_FIELD_LENGTH),
            counter_length: int(Tag::COUNTER_LENGTH),
            initial_counter_value: int(Tag::INITIAL_COUNTER_VALUE),
            salt_length: int(Tag::SALT_LENGTH),
            mask_generator: opt_enum(t, Tag::MASK_GENERATOR).map(MaskGenerator),
            mask_generator_hashing_algorithm: opt_enum(t, Tag::MASK_GENERATOR_HASHING_ALGORITHM)
                .map(HashingAlgorithm),
            p_source: opt_bytes(t, Tag::P_SOURCE),
            trailer_field: int(Tag::TRAILER_FIELD),
        }
    }

    /// The Cryptographic Parameters field of `payload`, if it has one.
    pub fn of(payload: &Ttlv) -> Option<Self> {
        payload
            .find(Tag::CRYPTOGRAPHIC_PARAMETERS)
            .map(CryptographicParameters::from_ttlv)
    }

    /// The `CryptographicParameters` structure, its fields in the specification's order.
    pub fn to_ttlv(&self) -> Ttlv {
        let mut out = Vec::new();
        let e = |tag, v: Option<u32>| v.map(|v| Ttlv::enumeration(tag, v));
        let int = |tag, v: Option<i32>| v.map(|v| Ttlv::integer(tag, v));
        let items = [
            e(
                Tag::BLOCK_CIPHER_MODE,
                self.block_cipher_mode.map(u32::from),
            ),
            e(Tag::PADDING_METHOD, self.padding_method.map(u32::from)),
            e(
                Tag::HASHING_ALGORITHM,
                self.hashing_algorithm.map(u32::from),
            ),
            e(Tag::KEY_ROLE_TYPE, self.key_role_type.map(u32::from)),
            e(
                Tag::DIGITAL_SIGNATURE_ALGORITHM,
                self.digital_signature_algorithm.map(u32::from),
            ),
            e(
                Tag::CRYPTOGRAPHIC_ALGORITHM,
                self.cryptographic_algorithm.map(u32::from),
            ),
            bool_item(Tag::RANDOM_IV, self.random_iv),
            int(Tag::IV_LENGTH, self.iv_length),
            int(Tag::TAG_LENGTH, self.tag_length),
            int(Tag::FIXED_FIELD_LENGTH, self.fixed_field_length),
            int(Tag::INVOCATION_FIELD_LENGTH, self.invocation_field_length),
            int(Tag::COUNTER_LENGTH, self.counter_length),
            int(Tag::INITIAL_COUNTER_VALUE, self.initial_counter_value),
            int(Tag::SALT_LENGTH, self.salt_length),
            e(Tag::MASK_GENERATOR, self.mask_generator.map(u32::from)),
            e(
                Tag::MASK_GENERATOR_HASHING_ALGORITHM,
                self.mask_generator_hashing_algorithm.map(u32::from),
            ),
            bytes_item(Tag::P_SOURCE, self.p_source.as_ref()),
            int(Tag::TRAILER_FIELD, self.trailer_field),
        ];
        for item in items {
            push_opt(&mut out, item);
        }
        Ttlv::structure(Tag::CRYPTOGRAPHIC_PARAMETERS, out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::payload::testing;

    /// Arbitrary parameters (every enumeration value, known or not).
    pub(crate) fn params() -> impl Strategy<Value = CryptographicParameters> {
        let e = || proptest::option::of(any::<u32>());
        let i = || proptest::option::of(any::<i32>());
        (
            (e(), e(), e(), e(), e(), e()),
            (proptest::option::of(any::<bool>()), i(), i(), i(), i(), i()),
            (i(), i(), e(), e()),
            (
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
                i(),
            ),
        )
            .prop_map(
                |((m, p, h, k, d, a), (r, ivl, tl, ff, inv, cl), (icv, sl, mg, mgh), (ps, tf))| {
                    CryptographicParameters {
                        block_cipher_mode: m.map(BlockCipherMode),
                        padding_method: p.map(PaddingMethod),
                        hashing_algorithm: h.map(HashingAlgorithm),
                        key_role_type: k.map(KeyRoleType),
                        digital_signature_algorithm: d.map(DigitalSignatureAlgorithm),
                        cryptographic_algorithm: a.map(CryptographicAlgorithm),
                        random_iv: r,
                        iv_length: ivl,
                        tag_length: tl,
                        fixed_field_length: ff,
                        invocation_field_length: inv,
                        counter_length: cl,
                        initial_counter_value: icv,
                        salt_length: sl,
                        mask_generator: mg.map(MaskGenerator),
                        mask_generator_hashing_algorithm: mgh.map(HashingAlgorithm),
                        p_source: ps,
                        trailer_field: tf,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn round_trips(cp in params()) {
            prop_assert_eq!(CryptographicParameters::from_ttlv(&cp.to_ttlv()), cp);
        }

        #[test]
        fn never_panics(t in testing::tree()) {
            let _ = CryptographicParameters::from_ttlv(&t);
            let _ = CryptographicParameters::of(&t);
        }
    }

    /// A Cryptographic Parameters item that is not a structure sets nothing (the server
    /// has always read it so), and fields of the wrong type read as absent.
    #[test]
    fn lenient_reading() {
        let odd = Ttlv::integer(Tag::CRYPTOGRAPHIC_PARAMETERS, 3);
        assert_eq!(
            CryptographicParameters::from_ttlv(&odd),
            CryptographicParameters::default()
        );
        let cp = Ttlv::structure(
            Tag::CRYPTOGRAPHIC_PARAMETERS,
            vec![
                Ttlv::integer(Tag::BLOCK_CIPHER_MODE, 1),
                Ttlv::enumeration(Tag::TAG_LENGTH, 16u32),
                Ttlv::enumeration(Tag::HASHING_ALGORITHM, 0x99u32),
            ],
        );
        let read = CryptographicParameters::from_ttlv(&cp);
        assert_eq!(read.block_cipher_mode, None);
        assert_eq!(read.tag_length, None);
        assert_eq!(read.hashing_algorithm, Some(HashingAlgorithm(0x99)));
    }
}
