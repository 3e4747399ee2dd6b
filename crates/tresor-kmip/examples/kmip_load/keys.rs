//! The keys of the crypto benches and the requests that use them, in the form each peer
//! takes (`--peer`; the module documentation of `main.rs` says what differs per peer).

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::KmipClient;
use tresor_kmip::enums::{
    BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, Operation, RecommendedCurve,
};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

use super::{Error, Opts, Peer, check, create_payload, uid};

/// An active AES-256 key for the encrypt benches (created, then activated).
pub(super) async fn encrypt_key(c: &KmipClient, v: ProtocolVersion) -> Result<String, Error> {
    let created = c.call(Operation::CREATE, create_payload(v, None)).await?;
    check("create", &created)?;
    let id = uid(&created)?;
    check(
        "activate",
        &c.call(
            Operation::ACTIVATE,
            vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, id.clone())],
        )
        .await?,
    )?;
    Ok(id)
}

/// The Encrypt of the encrypt benches: 1 KiB under `id`, AES-GCM (the key's default mode),
/// the IV chosen by the server. For PyKMIP the parameters are named (it has no defaults).
pub(super) fn encrypt_payload(peer: Peer, id: &str) -> Vec<Ttlv> {
    let mut p = vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, id)];
    if peer == Peer::Pykmip {
        p.push(Ttlv::structure(
            Tag::CRYPTOGRAPHIC_PARAMETERS,
            vec![
                Ttlv::enumeration(Tag::BLOCK_CIPHER_MODE, BlockCipherMode::GCM.0),
                Ttlv::enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm::AES.0),
                Ttlv::integer(Tag::TAG_LENGTH, 16),
            ],
        ));
    }
    p.push(Ttlv::bytes(Tag::DATA, vec![0x5a_u8; 1024]));
    p
}

/// The Cryptographic Domain Parameters attribute naming `curve`.
fn domain_parameters(curve: u32) -> Attribute {
    Attribute::standard(
        Tag::CRYPTOGRAPHIC_DOMAIN_PARAMETERS,
        Value::Structure(vec![Ttlv::enumeration(Tag::RECOMMENDED_CURVE, curve)]),
    )
}

/// An active private key for the sign benches: `p256` (ECDSA on P-256) or `ed25519`, created
/// over `c` in the form `o.peer` takes (module documentation).
pub(super) async fn sign_key(o: &Opts, c: &KmipClient, alg: &str) -> Result<String, Error> {
    let mut common = AttributeSet::default();
    let algorithm = match alg {
        "p256" => CryptographicAlgorithm::ECDSA,
        "ed25519" => CryptographicAlgorithm::ED25519,
        other => return Err(format!("sign algorithm '{other}' is not p256 or ed25519").into()),
    };
    common.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(algorithm.0),
    ));
    let length = Attribute::standard(Tag::CRYPTOGRAPHIC_LENGTH, Value::Integer(256));
    // Cosmian takes an Ed25519 key pair only in KMIP 2.1: a set-up connection speaks it.
    let mut v = o.version;
    let mut own = None;
    match (o.peer, alg) {
        (Peer::Tresor, "p256") => {
            common.push(Attribute::standard(
                Tag::RECOMMENDED_CURVE,
                Value::Enumeration(RecommendedCurve::P_256.0),
            ));
            common.push(length);
        }
        (Peer::Cosmian, "p256") => {
            common.push(domain_parameters(RecommendedCurve::P_256.0));
            common.push(length);
        }
        (Peer::Cosmian, _) => {
            v = ProtocolVersion::V2_1;
            own = Some(o.client_version(v)?);
        }
        (Peer::Pykmip, _) => common.push(length),
        (Peer::Tresor, _) => {}
    }
    let setup = own.as_ref().unwrap_or(c);
    // Active from the start.
    common.push(Attribute::standard(
        Tag::ACTIVATION_DATE,
        Value::DateTime(1),
    ));
    let mask = |m: CryptographicUsageMask| {
        let mut set = AttributeSet::default();
        set.push(Attribute::standard(
            Tag::CRYPTOGRAPHIC_USAGE_MASK,
            Value::Integer(i32::try_from(m.0).unwrap_or(0)),
        ));
        set
    };
    let kp = setup
        .call(
            Operation::CREATE_KEY_PAIR,
            vec![
                common.to_ttlv(v, Container::Common),
                mask(CryptographicUsageMask::SIGN).to_ttlv(v, Container::PrivateKey),
                mask(CryptographicUsageMask::VERIFY).to_ttlv(v, Container::PublicKey),
            ],
        )
        .await?;
    check("create key pair", &kp)?;
    if let Some(own) = own {
        own.close().await;
    }
    let id = kp
        .payload_items()
        .iter()
        .find(|t| t.tag == Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER)
        .and_then(Ttlv::as_text)
        .map(str::to_owned)
        .ok_or("create key pair: no private key identifier")?;
    // One Sign before the clock: the key is the kind asked for (an Ed25519 signature is 64
    // bytes, an ECDSA P-256 one a DER sequence of at most 72), not another the server chose.
    let signed = c.call(Operation::SIGN, sign_payload(&id)).await?;
    check("sign", &signed)?;
    let len = signed
        .payload_items()
        .iter()
        .find(|t| t.tag == Tag::SIGNATURE_DATA)
        .and_then(Ttlv::as_bytes)
        .map_or(0, <[u8]>::len);
    let fits = match alg {
        "ed25519" => len == 64,
        _ => (8..=72).contains(&len),
    };
    if !fits {
        return Err(format!("sign: a {len}-byte signature is not {alg}").into());
    }
    Ok(id)
}

/// The Sign of the sign benches: a 32-byte message under `id` (the key's default scheme).
pub(super) fn sign_payload(id: &str) -> Vec<Ttlv> {
    vec![
        Ttlv::text(Tag::UNIQUE_IDENTIFIER, id),
        Ttlv::bytes(Tag::DATA, vec![0x5a_u8; 32]),
    ]
}
