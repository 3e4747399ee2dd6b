//! Cryptographic operations with a server-held key: `encrypt`, `decrypt`, `sign`, `verify`,
//! `mac`, `mac-verify`, and `rng`.

use std::process::ExitCode;

use super::Conn;
use crate::kmip::args::{ConnArgs, DataArgs, enum_value, unhex};
use crate::kmip::output::{first_bytes, hex, print_validity};
use tresor_kmip::KmipError;
use tresor_kmip::enums::{self, BlockCipherMode, PaddingMethod};
use tresor_kmip::payload::UidRef;
use tresor_kmip::payload::crypto::{
    CryptographicParameters, DecryptRequest, EncryptRequest, MacRequest, MacVerifyRequest,
    RngRetrieveRequest, SignRequest, SignatureVerifyRequest,
};
use tresor_kmip::tags::Tag;

/// The Cryptographic Parameters both directions share for block cipher mode `mode`: the
/// mode, and PKCS#5 padding for CBC.
fn cipher_params(mode: &str) -> Result<CryptographicParameters, KmipError> {
    let m = BlockCipherMode(enum_value(&BlockCipherMode::DEF, "mode", mode)?);
    Ok(CryptographicParameters {
        block_cipher_mode: Some(m),
        padding_method: (m == BlockCipherMode::CBC).then_some(PaddingMethod::PKCS5),
        ..CryptographicParameters::default()
    })
}

/// Cryptographic Parameters with the `--padding` method of sign/verify, if given.
fn padding_params(padding: Option<String>) -> Result<Option<CryptographicParameters>, KmipError> {
    padding
        .map(|p| {
            Ok(CryptographicParameters {
                padding_method: Some(PaddingMethod(enum_value(
                    &PaddingMethod::DEF,
                    "padding",
                    &p,
                )?)),
                ..CryptographicParameters::default()
            })
        })
        .transpose()
}

/// Hex `--iv`, `--tag`, `--aad` values.
fn opt_hex(v: Option<String>) -> Result<Option<Vec<u8>>, KmipError> {
    v.map(|h| unhex(&h)).transpose()
}

/// `encrypt`: AES-GCM (16-byte tag) or AES-CBC (PKCS#5); prints the response payload.
pub(super) async fn encrypt(
    c: &ConnArgs,
    data: &DataArgs,
    mode: &str,
    iv: Option<String>,
    aad: Option<String>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let mut cp = cipher_params(mode)?;
    if cp.block_cipher_mode != Some(BlockCipherMode::CBC) {
        cp.tag_length = Some(16);
    }
    cp.cryptographic_algorithm = Some(enums::CryptographicAlgorithm::AES);
    let req = EncryptRequest {
        unique_identifier: Some(UidRef::text(&data.uid)),
        cryptographic_parameters: Some(cp),
        data: Some(data.bytes(false)?),
        iv_counter_nonce: opt_hex(iv)?,
        authenticated_encryption_additional_data: opt_hex(aad)?,
        ..EncryptRequest::default()
    };
    conn.call_print(&req).await
}

/// `decrypt`: prints the plaintext (as text if UTF-8, else hex).
pub(super) async fn decrypt(
    c: &ConnArgs,
    data: &DataArgs,
    mode: &str,
    iv: &str,
    tag: Option<String>,
    aad: Option<String>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let req = DecryptRequest {
        unique_identifier: Some(UidRef::text(&data.uid)),
        cryptographic_parameters: Some(cipher_params(mode)?),
        data: Some(data.bytes(true)?),
        iv_counter_nonce: Some(unhex(iv)?),
        authenticated_encryption_additional_data: opt_hex(aad)?,
        authenticated_encryption_tag: opt_hex(tag)?,
        ..DecryptRequest::default()
    };
    let item = conn.call(&req).await?;
    if c.json {
        conn.print(&item);
    } else {
        let d = first_bytes(&item, Tag::DATA).unwrap_or_default();
        match String::from_utf8(d) {
            Ok(s) => println!("{s}"),
            Err(e) => println!("{}", hex(e.as_bytes())),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sign`: prints the response payload (the signature).
pub(super) async fn sign(
    c: &ConnArgs,
    data: &DataArgs,
    padding: Option<String>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let req = SignRequest {
        unique_identifier: Some(UidRef::text(&data.uid)),
        cryptographic_parameters: padding_params(padding)?,
        data: Some(data.bytes(false)?),
        ..SignRequest::default()
    };
    conn.call_print(&req).await
}

/// `verify`: prints valid/invalid; exit code 1 if invalid.
pub(super) async fn verify(
    c: &ConnArgs,
    data: &DataArgs,
    signature: &str,
    padding: Option<String>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let req = SignatureVerifyRequest {
        unique_identifier: Some(UidRef::text(&data.uid)),
        cryptographic_parameters: padding_params(padding)?,
        data: Some(data.bytes(false)?),
        signature_data: Some(unhex(signature)?),
        ..SignatureVerifyRequest::default()
    };
    let item = conn.call(&req).await?;
    Ok(print_validity(conn.json, &item))
}

/// `mac`: prints the response payload (the MAC).
pub(super) async fn mac(c: &ConnArgs, data: &DataArgs) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let req = MacRequest {
        unique_identifier: Some(UidRef::text(&data.uid)),
        data: Some(data.bytes(false)?),
        ..MacRequest::default()
    };
    conn.call_print(&req).await
}

/// `mac-verify`: prints valid/invalid; exit code 1 if invalid.
pub(super) async fn mac_verify(
    c: &ConnArgs,
    data: &DataArgs,
    mac: &str,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let req = MacVerifyRequest {
        unique_identifier: Some(UidRef::text(&data.uid)),
        data: Some(data.bytes(false)?),
        mac_data: Some(unhex(mac)?),
        ..MacVerifyRequest::default()
    };
    let item = conn.call(&req).await?;
    Ok(print_validity(conn.json, &item))
}

/// `rng --length N`: prints the response payload (the random bytes, as hex).
pub(super) async fn rng(c: &ConnArgs, length: i32) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    conn.call_print(&RngRetrieveRequest::new(length)).await
}
