//! VMware vSphere (vCenter "Standard Key Provider"), KMIP 1.1.
//!
//! Reconstructed from VMware's key-provider documentation and KMS vendors' vSphere guides:
//! vCenter checks the server (Discover Versions, Query), creates one AES-256 key per
//! encrypted VM / host with vendor custom attributes (`x-Vendor`, `x-Product`,
//! `x-Product_Version`), needs it Active, fetches it with Get by identifier (from ESXi
//! hosts too), reads its State and custom attributes back with Get Attributes, finds keys by
//! a custom attribute with Locate, and tags a key with Add Attribute.

use tresor_kmip::enums::{CryptographicUsageMask as M, Operation, State};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

use super::common::Fixture;
use super::steps::{Appliance, custom, mask};

pub async fn run(f: &Fixture) {
    let v = ProtocolVersion::V1_1;
    let a = Appliance {
        who: "vSphere",
        v,
        c: f.client("client", v),
    };
    // Discover Versions (1.1) must list 1.1; Query must list what vCenter uses.
    let dv = a
        .must(
            "discover versions",
            Operation::DISCOVER_VERSIONS,
            vec![ProtocolVersion::V1_1.to_ttlv()],
        )
        .await;
    let versions: Vec<ProtocolVersion> = dv
        .payload_items()
        .iter()
        .filter_map(|t| ProtocolVersion::from_ttlv(t).ok())
        .collect();
    assert_eq!(versions, vec![ProtocolVersion::V1_1]);
    let q = a
        .must(
            "query",
            Operation::QUERY,
            vec![Ttlv::enumeration(Tag::QUERY_FUNCTION, 1u32)],
        )
        .await;
    let ops: Vec<u32> = q
        .payload_items()
        .iter()
        .filter(|t| t.tag == Tag::OPERATION)
        .filter_map(Ttlv::as_enumeration)
        .collect();
    for op in [
        Operation::CREATE,
        Operation::GET,
        Operation::LOCATE,
        Operation::GET_ATTRIBUTES,
        Operation::ACTIVATE,
        Operation::ADD_ATTRIBUTE,
    ] {
        assert!(ops.contains(&op.0), "query lacks {op}");
    }
    // A 1.1 Query does not offer the 1.2 cryptographic operations.
    assert!(
        !ops.contains(&Operation::ENCRYPT.0),
        "1.1 query lists Encrypt"
    );

    let vendor = [
        custom("x-Vendor", "VMware, Inc."),
        custom("x-Product", "VMware vSphere"),
        custom("x-Product_Version", "8.0.2"),
    ];
    let mut attrs = vec![mask(M::ENCRYPT | M::DECRYPT)];
    attrs.extend(vendor.iter().cloned());
    let k1 = a.create_aes(256, attrs.clone()).await;
    let k2 = a.create_aes(256, attrs).await;
    a.activate(&k1).await;
    a.activate(&k2).await;
    assert_eq!(
        a.attribute(&k1, Tag::STATE).await,
        vec![Value::Enumeration(State::ACTIVE.0)]
    );
    assert_eq!(a.material(&k1).await.len(), 32);
    assert_ne!(a.material(&k1).await, a.material(&k2).await);
    assert_eq!(
        a.custom_attribute(&k1, "x-Product").await,
        vec![Value::TextString("VMware vSphere".into())]
    );
    // Locate by a custom attribute finds both keys, and only them.
    let item = a
        .must(
            "locate by x-Vendor",
            Operation::LOCATE,
            vec![custom("x-Vendor", "VMware, Inc.").to_v1()],
        )
        .await;
    let mut found: Vec<String> = item
        .payload_items()
        .iter()
        .filter(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
        .filter_map(|t| t.as_text().map(str::to_owned))
        .collect();
    found.sort();
    let mut want = vec![k1.clone(), k2.clone()];
    want.sort();
    assert_eq!(found, want, "locate by x-Vendor");
    // vCenter tags a key with the VM it protects: a new custom attribute, index 0 reported.
    assert_eq!(
        a.add_attribute(
            &k1,
            custom("x-VM_UUID", "4211c7e4-9e0b-a4c4-6f2b-5f6f0a9c8f11")
        )
        .await,
        Some(0)
    );
    // Get Attributes with no names answers 1.1 attributes only, custom ones included.
    let names = a.all_attribute_names(&k1).await;
    for n in ["State", "Cryptographic Algorithm", "x-Product", "x-VM_UUID"] {
        assert!(
            names.iter().any(|x| x == n),
            "all attributes lack {n}: {names:?}"
        );
    }
    for n in ["Key Format Type", "Original Creation Date", "Sensitive"] {
        assert!(!names.iter().any(|x| x == n), "1.1 answer carries {n}");
    }
}
