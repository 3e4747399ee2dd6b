//! Cryptographic operations with a server-held key: `encrypt`, `decrypt`, `sign`, `verify`,
//! `mac`, `mac-verify`, and `rng`.

use std::process::ExitCode;

use super::{Conn, uid};
use crate::kmip::args::{ConnArgs, DataArgs, enum_value, unhex};
use crate::kmip::output::{first_bytes, hex, print_validity};
use tresor_kmip::KmipError;
use tresor_kmip::enums::{self, Operation};
use tresor_kmip::tags::Tag;
use tresor_kmip::ttlv::Ttlv;

fn crypto_params(items: Vec<Ttlv>) -> Ttlv {
    Ttlv::structure(Tag::CRYPTOGRAPHIC_PARAMETERS, items)
}

/// The block cipher mode named `mode` and the Cryptographic Parameters items both directions
/// share: the mode, and PKCS#5 padding for CBC.
fn cipher_params(mode: &str) -> Result<(u32, Vec<Ttlv>), KmipError> {
    let m = enum_value(&enums::BlockCipherMode::DEF, "mode", mode)?;
    let mut cp = vec![Ttlv::enumeration(Tag::BLOCK_CIPHER_MODE, m)];
    if m == enums::BlockCipherMode::CBC.0 {
        cp.push(Ttlv::enumeration(
            Tag::PADDING_METHOD,
            enums::PaddingMethod::PKCS5,
        ));
    }
    Ok((m, cp))
}

/// Cryptographic Parameters with the `--padding` method of sign/verify, if given.
fn padding_params(padding: Option<String>) -> Result<Option<Ttlv>, KmipError> {
    padding
        .map(|p| {
            Ok(crypto_params(vec![Ttlv::enumeration(
                Tag::PADDING_METHOD,
                enum_value(&enums::PaddingMethod::DEF, "padding", &p)?,
            )]))
        })
        .transpose()
}

/// An Authenticated Encryption Additional Data item from hex `--aad`.
fn aad_item(aad: Option<String>) -> Result<Option<Ttlv>, KmipError> {
    aad.map(|a| {
        Ok(Ttlv::bytes(
            Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA,
            unhex(&a)?,
        ))
    })
    .transpose()
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
    let (m, mut cp) = cipher_params(mode)?;
    if m != enums::BlockCipherMode::CBC.0 {
        cp.push(Ttlv::integer(Tag::TAG_LENGTH, 16));
    }
    cp.push(Ttlv::enumeration(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        enums::CryptographicAlgorithm::AES,
    ));
    let mut payload = vec![uid(&data.uid), crypto_params(cp), data.to_ttlv(false)?];
    if let Some(iv) = iv {
        payload.push(Ttlv::bytes(Tag::IV_COUNTER_NONCE, unhex(&iv)?));
    }
    payload.extend(aad_item(aad)?);
    conn.call_print(Operation::ENCRYPT, payload).await
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
    let (_, cp) = cipher_params(mode)?;
    let mut payload = vec![
        uid(&data.uid),
        crypto_params(cp),
        data.to_ttlv(true)?,
        Ttlv::bytes(Tag::IV_COUNTER_NONCE, unhex(iv)?),
    ];
    payload.extend(aad_item(aad)?);
    if let Some(t) = tag {
        payload.push(Ttlv::bytes(Tag::AUTHENTICATED_ENCRYPTION_TAG, unhex(&t)?));
    }
    let item = conn.call(Operation::DECRYPT, payload).await?;
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
    let mut payload = vec![uid(&data.uid)];
    payload.extend(padding_params(padding)?);
    payload.push(data.to_ttlv(false)?);
    conn.call_print(Operation::SIGN, payload).await
}

/// `verify`: prints valid/invalid; exit code 1 if invalid.
pub(super) async fn verify(
    c: &ConnArgs,
    data: &DataArgs,
    signature: &str,
    padding: Option<String>,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let mut payload = vec![uid(&data.uid)];
    payload.extend(padding_params(padding)?);
    payload.push(data.to_ttlv(false)?);
    payload.push(Ttlv::bytes(Tag::SIGNATURE_DATA, unhex(signature)?));
    let item = conn.call(Operation::SIGNATURE_VERIFY, payload).await?;
    Ok(print_validity(conn.json, &item))
}

/// `mac`: prints the response payload (the MAC).
pub(super) async fn mac(c: &ConnArgs, data: &DataArgs) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let payload = vec![uid(&data.uid), data.to_ttlv(false)?];
    conn.call_print(Operation::MAC, payload).await
}

/// `mac-verify`: prints valid/invalid; exit code 1 if invalid.
pub(super) async fn mac_verify(
    c: &ConnArgs,
    data: &DataArgs,
    mac: &str,
) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let payload = vec![
        uid(&data.uid),
        data.to_ttlv(false)?,
        Ttlv::bytes(Tag::MAC_DATA, unhex(mac)?),
    ];
    let item = conn.call(Operation::MAC_VERIFY, payload).await?;
    Ok(print_validity(conn.json, &item))
}

/// `rng --length N`: prints the response payload (the random bytes, as hex).
pub(super) async fn rng(c: &ConnArgs, length: i32) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    conn.call_print(
        Operation::RNG_RETRIEVE,
        vec![Ttlv::integer(Tag::DATA_LENGTH, length)],
    )
    .await
}
