//! Who a client is: the identity in its certificate; another identity's objects are refused
//! unless granted.

use std::path::Path;

use tresor_kmip::ProtocolVersion;
use tresor_kmip::enums::{Operation, ResultReason};

use super::common::*;
use super::{create, locate_by_name, located};

#[test]
fn identity_comes_from_the_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = tresor_kmip::certs::init(dir.path()).expect("certs");
    let c = tresor_kmip::certs::client(dir.path(), "carol").expect("carol");
    assert_eq!(
        tresor_kmip::server::identity_of_cert_file(&f.client_cert).expect("id"),
        "client"
    );
    assert_eq!(
        tresor_kmip::server::identity_of_cert_file(&c.cert).expect("id"),
        "carol"
    );
    assert!(tresor_kmip::server::identity_of_cert_file(Path::new("/nonexistent")).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_identities_are_refused_unless_granted() {
    let f = start().await;
    let v = ProtocolVersion::V2_0;
    let alice = f.client("alice", v);
    let bob = f.client("bob", v);
    let u = create(&alice, v, Some("alices-key")).await;
    // No grant at all: the answer for an absent object (tests/threat_model_team.rs).
    let r = bob.call(Operation::GET, vec![uid(&u)]).await.expect("get");
    assert_eq!(r.result_reason, Some(ResultReason::OBJECT_NOT_FOUND));
    let r = bob
        .call(Operation::DESTROY, vec![uid(&u)])
        .await
        .expect("destroy");
    assert_eq!(r.result_reason, Some(ResultReason::OBJECT_NOT_FOUND));
    let found = bob
        .call(Operation::LOCATE, locate_by_name(v, "alices-key"))
        .await
        .expect("locate");
    assert!(located(&found).is_empty());
    assert_eq!(
        f.store.get(&u).expect("get").expect("present").owner,
        "alice"
    );

    // The grant is a store attribute (what `tresor kmip grant` writes).
    f.store
        .write_as("admin", |tx| {
            tx.update(&u, "grant", |m| {
                m.attributes.insert(
                    tresor_kmip::ops::GRANTS_ATTR.into(),
                    serde_json::json!({"bob": "get,locate"}),
                );
                Ok(())
            })?;
            Ok(())
        })
        .expect("grant");
    ok(&bob.call(Operation::GET, vec![uid(&u)]).await.expect("get"));
    let found = bob
        .call(Operation::LOCATE, locate_by_name(v, "alices-key"))
        .await
        .expect("locate");
    assert_eq!(located(&found), vec![u.clone()]);
    let r = bob
        .call(Operation::DESTROY, vec![uid(&u)])
        .await
        .expect("destroy");
    assert_eq!(r.result_reason, Some(ResultReason::PERMISSION_DENIED));
    f.stop().await;
}
