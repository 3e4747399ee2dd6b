//! MySQL and Percona Server `keyring_kmip` (libkmip; KMIP 1.1/1.2).
//!
//! Reconstructed from Percona's keyring_kmip documentation and the MySQL keyring service:
//! each keyring key (InnoDB master keys `INNODBKey-<server uuid>-<n>`, binlog keys, user
//! keys) is registered as a symmetric key or secret data under its key id as Name; fetched
//! by Locate-by-name then Get; removed (`keyring_key_remove`) with Revoke and Destroy; a key
//! id may be registered again after removal. Locate by name must return the object with
//! that name — FortiGate's and others' reports show servers that return the same object for
//! every name.

use tresor_kmip::ProtocolVersion;
use tresor_kmip::enums::{CryptographicUsageMask as M, ObjectType};

use super::common::Fixture;
use super::steps::{Appliance, mask, name};

pub async fn run(f: &Fixture) {
    let v = ProtocolVersion::V1_2;
    let a = Appliance {
        who: "keyring_kmip",
        v,
        c: f.client("client", v),
    };
    let ids = [
        "INNODBKey-3e11fa47-71ca-11e1-9e33-c80aa9429562-1",
        "INNODBKey-3e11fa47-71ca-11e1-9e33-c80aa9429562-2",
        "percona_binlog_0",
    ];
    let mut uids = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let key = [i as u8 + 1; 32];
        uids.push(
            a.register_aes(&key, vec![name(id), mask(M::ENCRYPT | M::DECRYPT)])
                .await,
        );
    }
    let secret_uid = a
        .register_secret(b"user key bytes", 1, vec![name("mysql_user_key")])
        .await;
    // Locate by each name: that object, not another.
    for (i, id) in ids.iter().enumerate() {
        let found = a.locate_name(id, Some(ObjectType::SYMMETRIC_KEY)).await;
        assert_eq!(found, vec![uids[i].clone()], "locate {id}");
        assert_eq!(a.material(&found[0]).await, vec![i as u8 + 1; 32]);
    }
    assert_eq!(
        a.locate_name("mysql_user_key", None).await,
        vec![secret_uid.clone()]
    );
    assert_eq!(a.material(&secret_uid).await, b"user key bytes");
    // keyring_key_remove: revoke (if active) and destroy; the id is then free for a new key.
    a.destroy(&uids[0]).await;
    assert!(
        a.locate_name(ids[0], None).await.is_empty(),
        "removed key located"
    );
    let again = a
        .register_aes(
            &[9u8; 32],
            vec![name(ids[0]), mask(M::ENCRYPT | M::DECRYPT)],
        )
        .await;
    assert_eq!(a.locate_name(ids[0], None).await, vec![again.clone()]);
    assert_eq!(a.material(&again).await, vec![9u8; 32]);
    // An active key is revoked before it is destroyed.
    a.activate(&uids[1]).await;
    a.revoke(&uids[1]).await;
    a.destroy(&uids[1]).await;
    assert!(a.locate_name(ids[1], None).await.is_empty());
}
