//! Objects: the lifecycle in every version, vault secrets as Secret Data, and Locate (within
//! a batch, by storage status, paged over many objects).

use tresor_kmip::enums::{
    BatchErrorContinuationOption, Operation, ResultReason, ResultStatus, RevocationReasonCode,
    State,
};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv};

use super::common::*;
use super::{batch, create, create_payload, item, locate_by_name, located, state_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_in_every_version() {
    let f = start().await;
    for v in ProtocolVersion::SUPPORTED {
        let c = f.client("client", v);
        let name = format!("life-{v}");
        let u = create(&c, v, Some(&name)).await;
        assert_eq!(state_of(&c, &u).await, State::PRE_ACTIVE.0, "{v}");

        let got = c.call(Operation::GET, vec![uid(&u)]).await.expect("get");
        ok(&got);
        let key = got
            .payload_items()
            .iter()
            .find(|t| t.tag == Tag::SYMMETRIC_KEY)
            .and_then(|k| k.find(Tag::KEY_BLOCK))
            .and_then(|b| b.find(Tag::KEY_VALUE))
            .and_then(|kv| kv.find(Tag::KEY_MATERIAL))
            .and_then(Ttlv::as_bytes)
            .expect("key material")
            .to_vec();
        assert_eq!(key.len(), 32);

        let found = c
            .call(Operation::LOCATE, locate_by_name(v, &name))
            .await
            .expect("locate");
        ok(&found);
        assert_eq!(located(&found), vec![u.clone()], "{v}");

        // Destroying an active object is refused; revoke first.
        ok(&c
            .call(Operation::ACTIVATE, vec![uid(&u)])
            .await
            .expect("activate"));
        assert_eq!(state_of(&c, &u).await, State::ACTIVE.0);
        let refused = c
            .call(Operation::DESTROY, vec![uid(&u)])
            .await
            .expect("destroy");
        assert_eq!(refused.result_status, ResultStatus::OPERATION_FAILED);
        let want = if v.is_v2() {
            ResultReason::WRONG_KEY_LIFECYCLE_STATE
        } else {
            ResultReason::PERMISSION_DENIED
        };
        assert_eq!(refused.result_reason, Some(want), "{v}");
        let reason = Ttlv::structure(
            Tag::REVOCATION_REASON,
            vec![Ttlv::enumeration(
                Tag::REVOCATION_REASON_CODE,
                RevocationReasonCode::CESSATION_OF_OPERATION,
            )],
        );
        ok(&c
            .call(Operation::REVOKE, vec![uid(&u), reason])
            .await
            .expect("revoke"));
        assert_eq!(state_of(&c, &u).await, State::DEACTIVATED.0);
        ok(&c
            .call(Operation::DESTROY, vec![uid(&u)])
            .await
            .expect("destroy"));
        assert_eq!(state_of(&c, &u).await, State::DESTROYED.0);
        let gone = c.call(Operation::GET, vec![uid(&u)]).await.expect("get");
        assert_eq!(gone.result_status, ResultStatus::OPERATION_FAILED);
        c.close().await;
    }
    // Metadata is kept, material is gone.
    let any = f
        .store
        .locate(&tresor_store::Query::default())
        .expect("locate");
    assert_eq!(any.len(), ProtocolVersion::SUPPORTED.len());
    for m in &any {
        assert!(f.store.material(m, 1).is_err());
    }
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_secrets_are_secret_data() {
    let f = start().await;
    // Names under an app need the app's permission (closed by default).
    tresor_kmip::apps::set(&f.store, "app", "client", true).expect("app policy");
    let v = ProtocolVersion::V1_4;
    let c = f.client("client", v);
    let r = c
        .call(
            Operation::REGISTER,
            tresor_testkit::kmip::register_secret_payload("app:dev:DB_PASSWORD", b"hunter2"),
        )
        .await
        .expect("register");
    ok(&r);
    let u = text(&r, Tag::UNIQUE_IDENTIFIER);
    let meta = f
        .store
        .get_by_name("app:dev:DB_PASSWORD")
        .expect("get")
        .expect("named");
    assert_eq!(meta.uid, u);
    for (k, want) in [
        ("app", "app"),
        ("env", "dev"),
        ("key", "DB_PASSWORD"),
        ("tresor.role", "secret"),
    ] {
        assert_eq!(meta.attr_str(k), Some(want), "{k}");
    }
    let (_, value) = f
        .store
        .read_by_name("app:dev:DB_PASSWORD")
        .expect("read")
        .expect("present");
    assert_eq!(value.expose(), b"hunter2");
    f.stop().await;
}

/// Locate sees what earlier items of the same batch created (not yet committed), and feeds
/// the ID Placeholder; the Storage Status Mask separates on-line from destroyed objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locate_within_a_batch_and_storage_status_mask() {
    let f = start().await;
    for v in [ProtocolVersion::V1_4, ProtocolVersion::V2_1] {
        let c = f.client("client", v);
        let name = format!("in-batch-{v}");
        let msg = batch(
            v,
            None,
            vec![
                item(Operation::CREATE, create_payload(v, Some(&name)), 1),
                item(Operation::LOCATE, locate_by_name(v, &name), 2),
                item(Operation::ACTIVATE, vec![], 3),
            ],
        );
        let resp = c.request(&msg).await.expect("batch");
        assert_eq!(resp.batch_items.len(), 3);
        resp.batch_items.iter().for_each(ok);
        let u = text(&resp.batch_items[0], Tag::UNIQUE_IDENTIFIER);
        assert_eq!(located(&resp.batch_items[1]), vec![u.clone()]);
        assert_eq!(text(&resp.batch_items[2], Tag::UNIQUE_IDENTIFIER), u);
        assert_eq!(state_of(&c, &u).await, State::ACTIVE.0);

        // Destroyed (after revoking): on-line storage only in 1.x; 2.x Destroyed Storage.
        let revoke = vec![
            uid(&u),
            Ttlv::structure(
                Tag::REVOCATION_REASON,
                vec![Ttlv::enumeration(
                    Tag::REVOCATION_REASON_CODE,
                    RevocationReasonCode::UNSPECIFIED,
                )],
            ),
        ];
        ok(&c.call(Operation::REVOKE, revoke).await.expect("revoke"));
        ok(&c
            .call(Operation::DESTROY, vec![uid(&u)])
            .await
            .expect("destroy"));
        for (mask, want) in [(1, !v.is_v2()), (4, v.is_v2()), (2, false), (5, true)] {
            let mut p = locate_by_name(v, &name);
            p.push(Ttlv::integer(Tag::STORAGE_STATUS_MASK, mask));
            let r = c.call(Operation::LOCATE, p).await.expect("locate");
            ok(&r);
            let expect: Vec<String> = if want { vec![u.clone()] } else { vec![] };
            assert_eq!(located(&r), expect, "{v} mask {mask}");
        }
    }
    f.stop().await;
}

/// A Locate over more objects than one response can carry: the answer is capped at 5,000
/// identifiers with Located Items giving the total, Offset Items pages to the rest, and a batch
/// of Locates whose answers together exceed the 10,000 items a KMIP decoder here reads back is
/// refused with Response Too Large, an answer the client still decodes. (Found by the
/// `kmip_dispatch` fuzz target: the server built a response its own decoder refused.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locate_over_many_objects_is_paged_and_an_oversized_batch_refused() {
    let f = start().await;
    let total = 5_100;
    f.store
        .write_as("admin", |tx| {
            for i in 0..total {
                tx.create(tresor_store::NewObject {
                    owner: Some("client".into()),
                    names: vec![format!("many-{i:05}")],
                    material: Some(b"x".to_vec()),
                    ..tresor_store::NewObject::new(tresor_store::ObjectType::SecretData)
                })?;
            }
            Ok(())
        })
        .expect("objects");
    let v = ProtocolVersion::V1_4;
    let c = f.client("client", v);
    let first = c.call(Operation::LOCATE, vec![]).await.expect("locate");
    ok(&first);
    let first_uids = located(&first);
    assert_eq!(first_uids.len(), 5_000);
    let count = first
        .payload_items()
        .iter()
        .find(|t| t.tag == Tag::LOCATED_ITEMS)
        .and_then(Ttlv::as_integer);
    assert_eq!(count, Some(total));
    let rest = c
        .call(
            Operation::LOCATE,
            vec![Ttlv::integer(Tag::OFFSET_ITEMS, 5_000)],
        )
        .await
        .expect("next page");
    ok(&rest);
    let rest_uids = located(&rest);
    assert_eq!(rest_uids.len(), (total - 5_000) as usize);
    let mut all: Vec<String> = first_uids.into_iter().chain(rest_uids).collect();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        total as usize,
        "the pages overlap or miss objects"
    );

    let msg = batch(
        v,
        Some(BatchErrorContinuationOption::CONTINUE),
        (1..=3)
            .map(|i| item(Operation::LOCATE, vec![], i))
            .collect(),
    );
    let resp = c.request(&msg).await.expect("an answer the client decodes");
    assert_eq!(resp.batch_items.len(), 3);
    for it in &resp.batch_items {
        assert_eq!(it.result_status, ResultStatus::OPERATION_FAILED);
        assert_eq!(it.result_reason, Some(ResultReason::RESPONSE_TOO_LARGE));
    }
    f.stop().await;
}
