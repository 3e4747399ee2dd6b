//! MongoDB Enterprise and Percona Server for MongoDB, KMIP 1.2 (default) and 1.0
//! (`kmipUseLegacyProtocol`, or servers without 1.2).
//!
//! Reconstructed from MongoDB's "Encryption at Rest / KMIP" documentation and Percona's
//! data-at-rest encryption guide, and from the issue reports against other servers: the
//! master key is registered as Secret Data (or created) under a name, activated
//! (`kmipActivateKeys`), fetched with Get on every start, its State polled with Get
//! Attributes (`kmipKeyStatePollingSeconds`), found again with Locate by name after a
//! restart, and the `Fresh` attribute is sent and read back even in KMIP 1.0 (Percona), which
//! a server strictly following 1.0 (Fresh is 1.1) must not refuse.

use tresor_kmip::enums::{CryptographicUsageMask as M, ObjectType, State};
use tresor_kmip::{ProtocolVersion, Tag, Value};

use super::common::Fixture;
use super::steps::{Appliance, flag, mask, name};

pub async fn run(f: &Fixture, v: ProtocolVersion) {
    let a = Appliance {
        who: "MongoDB/Percona",
        v,
        c: f.client("client", v),
    };
    let tag = format!("mongodb-master-{v}");
    let secret: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(7)).collect();
    let uid = a
        .register_secret(
            &secret,
            2, // Seed
            vec![
                name(&tag),
                mask(M::ENCRYPT | M::DECRYPT),
                flag(Tag::FRESH, true),
            ],
        )
        .await;
    // Not served yet: Fresh is true; the state is Pre-Active until activated.
    assert_eq!(
        a.attribute(&uid, Tag::FRESH).await,
        vec![Value::Boolean(true)],
        "Fresh after register (KMIP {v})"
    );
    assert_eq!(
        a.attribute(&uid, Tag::STATE).await,
        vec![Value::Enumeration(State::PRE_ACTIVE.0)]
    );
    a.activate(&uid).await;
    assert_eq!(
        a.attribute(&uid, Tag::STATE).await,
        vec![Value::Enumeration(State::ACTIVE.0)]
    );
    // mongod start: Get the key; now it has been served.
    assert_eq!(a.material(&uid).await, secret);
    assert_eq!(
        a.attribute(&uid, Tag::FRESH).await,
        vec![Value::Boolean(false)],
        "Fresh after get (KMIP {v})"
    );
    // Restart without a key id: Locate by name finds exactly the key.
    assert_eq!(
        a.locate_name(&tag, Some(ObjectType::SECRET_DATA)).await,
        vec![uid.clone()]
    );
    // Rotation (`--kmipRotateMasterKey`): a new key under a new name; the old one is revoked
    // and destroyed, and Locate by its name then finds nothing (Storage Status Mask).
    let rotated = format!("{tag}-2");
    let uid2 = a
        .register_secret(
            &secret[..16],
            2,
            vec![name(&rotated), flag(Tag::FRESH, true)],
        )
        .await;
    a.activate(&uid2).await;
    assert_eq!(a.locate_name(&rotated, None).await, vec![uid2.clone()]);
    a.revoke(&uid).await;
    a.destroy(&uid).await;
    assert!(
        a.locate_name(&tag, None).await.is_empty(),
        "destroyed key located"
    );
    // Every attribute of the answer without names is one the client's version defines.
    let names = a.all_attribute_names(&uid2).await;
    if v == ProtocolVersion::V1_0 {
        for n in ["Fresh", "Original Creation Date", "Key Format Type"] {
            assert!(!names.iter().any(|x| x == n), "1.0 answer carries {n}");
        }
    } else {
        assert!(names.iter().any(|x| x == "Fresh"), "1.2 answer lacks Fresh");
    }
}
