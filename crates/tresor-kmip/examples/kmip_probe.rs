//! Probes a KMIP server with a PyKMIP-style config: Discover Versions, then Create an AES-256
//! key and Get it back, printing what the server answers.
//!
//! `cargo run -p tresor-kmip --example kmip_probe -- pykmip.conf [section] [kmip_version]`

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{CryptographicAlgorithm, CryptographicUsageMask, ObjectType, Operation};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: kmip_probe CONF [SECTION] [VERSION]")?;
    let section = args.next().unwrap_or_else(|| "client".to_owned());
    let mut config = ClientConfig::from_pykmip_conf(path.as_ref(), &section)?;
    if let Some(v) = args.next() {
        config.protocol_version = ProtocolVersion::SUPPORTED
            .into_iter()
            .find(|p| p.to_string() == v)
            .ok_or("version must be 1.0-2.1")?;
    }
    let version = config.protocol_version;
    let client = KmipClient::new(config)?;

    let dv = client.call(Operation::DISCOVER_VERSIONS, vec![]).await?;
    let versions: Vec<String> = dv
        .payload_items()
        .iter()
        .filter_map(|t| ProtocolVersion::from_ttlv(t).ok())
        .map(|v| v.to_string())
        .collect();
    println!("discover versions: {} {versions:?}", dv.result_status);

    let mut attrs = AttributeSet::default();
    attrs.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::AES.0),
    ));
    attrs.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(256),
    ));
    let mask = CryptographicUsageMask::ENCRYPT | CryptographicUsageMask::DECRYPT;
    attrs.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_USAGE_MASK,
        Value::Integer(mask.0 as i32),
    ));
    let create = client
        .call(
            Operation::CREATE,
            vec![
                Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
                attrs.to_ttlv(version, Container::Template),
            ],
        )
        .await?;
    println!(
        "create: {} {:?} {:?}",
        create.result_status, create.result_reason, create.result_message
    );
    let uid = create
        .payload_items()
        .iter()
        .find(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
        .and_then(Ttlv::as_text)
        .ok_or("create returned no unique identifier")?
        .to_owned();
    println!("created {uid}");
    let get = client
        .call(
            Operation::GET,
            vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid)],
        )
        .await?;
    let material = get
        .payload_items()
        .iter()
        .find(|t| t.tag == Tag::SYMMETRIC_KEY)
        .and_then(|k| k.find(Tag::KEY_BLOCK))
        .and_then(|b| b.find(Tag::KEY_VALUE))
        .and_then(|v| v.find(Tag::KEY_MATERIAL))
        .and_then(Ttlv::as_bytes)
        .map(<[u8]>::len);
    println!(
        "get: {} key material {:?} bytes",
        get.result_status, material
    );
    client.close().await;
    Ok(())
}
