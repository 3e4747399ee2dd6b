//! `tresor kmip import-policy`: a PyKMIP operation policy file turned into grants on a real
//! store, checked through the real server over mutual TLS before and after (the real
//! `tresor` binary for both).
//!
//! `cargo test --workspace --all-features --test import_policy`

mod pykmip_common;

use std::process::Command;

use pykmip_common::*;
use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::enums::{
    CryptographicAlgorithm, ObjectType, Operation, ResultReason, ResultStatus,
};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

const V: ProtocolVersion = ProtocolVersion::V1_4;

fn create_payload(policy: Option<&str>) -> Vec<Ttlv> {
    let mut attrs = vec![
        Attribute::standard(
            Tag::CRYPTOGRAPHIC_ALGORITHM,
            Value::Enumeration(CryptographicAlgorithm::AES.0),
        ),
        Attribute::standard(Tag::CRYPTOGRAPHIC_LENGTH, Value::Integer(128)),
    ];
    if let Some(p) = policy {
        attrs.push(Attribute::standard(
            Tag::OPERATION_POLICY_NAME,
            Value::TextString(p.to_owned()),
        ));
    }
    vec![
        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
        AttributeSet {
            attributes: attrs,
            template_names: Vec::new(),
        }
        .to_ttlv(V, Container::Template),
    ]
}

fn import(store: &std::path::Path, args: &[&str]) -> std::process::Output {
    let cmd = tresor_kmip_cmd();
    Command::new(&cmd[0])
        .args(&cmd[1..])
        .arg("import-policy")
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("running kmip import-policy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pykmip_policies_become_grants() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path().join("certs");
    tresor_kmip::certs::init(&certs).expect("certificates");
    tresor_kmip::certs::client(&certs, "bob").expect("bob's certificate");
    let store = dir.path().join("store");
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"team": {"preset": {"SYMMETRIC_KEY": {
                "GET": "ALLOW_ALL", "LOCATE": "ALLOW_ALL", "GET_ATTRIBUTES": "ALLOW_ALL",
                "DESTROY": "ALLOW_OWNER", "REVOKE": "DISALLOW_ALL"}}}}"#,
    )
    .expect("policy file");

    let (team, private, plain) = {
        let server = TresorServer::start(&certs, &store, &[]);
        let owner = client(&certs, "client", server.port(), V);
        let mut uids = Vec::new();
        for p in [Some("team"), Some("private"), None] {
            let item = owner
                .call(Operation::CREATE, create_payload(p))
                .await
                .expect("create");
            ok("create", &item);
            uids.push(uid_of(&item));
        }
        // Before: bob sees nothing.
        let bob = client(&certs, "bob", server.port(), V);
        let item = bob
            .call(
                Operation::GET,
                vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, &uids[0])],
            )
            .await
            .expect("get");
        assert_eq!(item.result_reason, Some(ResultReason::ITEM_NOT_FOUND));
        (uids[0].clone(), uids[1].clone(), uids[2].clone())
    };

    // A dry run plans the grant and writes nothing; the real run writes it.
    let out = import(
        &store,
        &[
            policy.to_str().expect("utf-8 path"),
            "--identities",
            "bob",
            "--dry-run",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(plan["dry_run"], true);
    let grants = plan["grants"].as_array().expect("grants");
    assert_eq!(grants.len(), 1, "{plan}");
    assert_eq!(grants[0]["uid"], team.as_str());
    assert_eq!(grants[0]["identity"], "bob");
    assert_eq!(
        grants[0]["permissions"],
        serde_json::json!(["get", "locate"])
    );
    let notes = plan["notes"].to_string();
    assert!(
        notes.contains("'private'") && notes.contains("'default'"),
        "{notes}"
    );
    assert!(notes.contains("DISALLOW_ALL"), "{notes}");

    let server = TresorServer::start(&certs, &store, &[]);
    let bob = client(&certs, "bob", server.port(), V);
    let item = bob
        .call(
            Operation::GET,
            vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, &team)],
        )
        .await
        .expect("get");
    assert_eq!(
        item.result_reason,
        Some(ResultReason::ITEM_NOT_FOUND),
        "a dry run granted something"
    );
    drop(server);

    let out = import(
        &store,
        &[policy.to_str().expect("utf-8 path"), "--identities", "bob"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&team),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // After: bob gets and locates the 'team' key, may not destroy it, and still sees nothing
    // of the others.
    let server = TresorServer::start(&certs, &store, &[]);
    let bob = client(&certs, "bob", server.port(), V);
    let item = bob
        .call(
            Operation::GET,
            vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, &team)],
        )
        .await
        .expect("get");
    assert_eq!(
        item.result_status,
        ResultStatus::SUCCESS,
        "{:?}",
        item.result_message
    );
    let item = bob
        .call(
            Operation::DESTROY,
            vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, &team)],
        )
        .await
        .expect("destroy");
    assert_eq!(item.result_reason, Some(ResultReason::PERMISSION_DENIED));
    for other in [&private, &plain] {
        let item = bob
            .call(
                Operation::GET,
                vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, other)],
            )
            .await
            .expect("get");
        assert_eq!(item.result_reason, Some(ResultReason::ITEM_NOT_FOUND));
    }
    drop(server);

    // A malformed file: exit 2, the message names the rule, nothing written.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"team": {"SYMMETRIC_KEY": {"GET": "SOMETIMES"}}}"#).expect("bad");
    let out = import(
        &store,
        &[bad.to_str().expect("utf-8 path"), "--identities", "bob"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("team.SYMMETRIC_KEY.GET"), "{err}");
}
