//! Conformance: locating objects by indexed and unindexed attributes, with limit and
//! offset.

use std::sync::Arc;

use tresor_crypto::LocalKek;

use crate::{AttrCond, Backend, NewObject, ObjectType, Query, State};

use super::{secret, store};

/// Conditions on attributes the store keeps no index rows for (`query::is_indexed`) give the
/// same answers, with limit and offset applied after them.
pub(super) fn locate_unindexed(b: Arc<dyn Backend>) {
    use serde_json::json;
    assert!(!crate::query::is_indexed("Sensitive") && !crate::query::is_indexed("Activation Date"));
    assert!(crate::query::is_indexed("app") && crate::query::is_indexed("Digest.DigestValue"));
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b, &kek);
    s.write(|tx| {
        for i in 0..6 {
            let mut k = NewObject::new(ObjectType::SymmetricKey);
            k.names = vec![format!("k{i}")];
            k.attributes.insert("Sensitive".into(), json!(i % 2 == 0));
            k.attributes
                .insert("Activation Date".into(), json!(1000 + i));
            k.attributes
                .insert("app".into(), json!(if i < 4 { "web" } else { "api" }));
            tx.create(k)?;
        }
        Ok(())
    })
    .unwrap();
    let names = |q: Query| -> Vec<String> {
        s.locate(&q)
            .unwrap()
            .iter()
            .map(|m| m.name().unwrap_or_default().to_owned())
            .collect()
    };
    let sensitive = AttrCond::Eq("Sensitive".into(), "true".into());
    assert_eq!(
        names(Query {
            attrs: vec![sensitive.clone()],
            ..Default::default()
        }),
        ["k0", "k2", "k4"]
    );
    assert_eq!(
        names(Query {
            attrs: vec![sensitive.clone(), AttrCond::Eq("app".into(), "web".into())],
            ..Default::default()
        }),
        ["k0", "k2"]
    );
    assert_eq!(
        names(Query {
            attrs: vec![sensitive],
            limit: Some(1),
            offset: 1,
            ..Default::default()
        }),
        ["k2"],
        "limit and offset apply after the unindexed condition"
    );
    assert_eq!(
        names(Query {
            attrs: vec![AttrCond::In(
                "Activation Date".into(),
                vec!["1001".into(), "1005".into()]
            )],
            ..Default::default()
        }),
        ["k1", "k5"]
    );
    assert_eq!(
        names(Query {
            attrs: vec![AttrCond::Exists("Activation Date".into())],
            name_prefix: Some("k".into()),
            limit: Some(2),
            ..Default::default()
        }),
        ["k0", "k1"]
    );
}

pub(super) fn locate_by_index(b: Arc<dyn Backend>) {
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(b, &kek);
    s.write(|tx| {
        for app in ["web", "api"] {
            for key in ["DB_PASS", "DB_USER", "TOKEN"] {
                tx.create(secret(
                    &format!("{app}:dev:{key}"),
                    "x",
                    &[("app", app), ("env", "dev"), ("key", key)],
                ))?;
            }
        }
        let mut k = NewObject::new(ObjectType::SymmetricKey);
        k.state = State::PreActive;
        k.attributes
            .insert("group".into(), serde_json::json!(["g1", "g2"]));
        tx.create(k)?;
        Ok(())
    })
    .unwrap();
    let q = |attrs: Vec<AttrCond>| Query {
        attrs,
        ..Default::default()
    };
    assert_eq!(
        s.locate(&q(vec![AttrCond::Eq("app".into(), "web".into())]))
            .unwrap()
            .len(),
        3
    );
    let r = s
        .locate(&q(vec![AttrCond::Prefix("key".into(), "DB_".into())]))
        .unwrap();
    assert_eq!(r.len(), 4);
    assert!(
        r.windows(2).all(|w| w[0].name() <= w[1].name()),
        "ordered by name"
    );
    assert_eq!(
        s.locate(&q(vec![
            AttrCond::In("app".into(), vec!["web".into(), "api".into()]),
            AttrCond::Eq("key".into(), "TOKEN".into())
        ]))
        .unwrap()
        .len(),
        2
    );
    assert_eq!(
        s.locate(&q(vec![AttrCond::Eq("group".into(), "g2".into())]))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.locate(&q(vec![AttrCond::Exists("group".into())]))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.locate(&Query {
            object_type: Some(ObjectType::SymmetricKey),
            ..Default::default()
        })
        .unwrap()
        .len(),
        1
    );
    assert_eq!(
        s.locate(&Query {
            state: Some(State::Active),
            ..Default::default()
        })
        .unwrap()
        .len(),
        6
    );
    assert_eq!(
        s.locate(&Query {
            name: Some("api:dev:TOKEN".into()),
            ..Default::default()
        })
        .unwrap()
        .len(),
        1
    );
    let page = s
        .locate(&Query {
            limit: Some(2),
            offset: 1,
            state: Some(State::Active),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].name(), Some("api:dev:DB_USER"));
    // Updating attributes re-indexes.
    let uid = s.get_by_name("web:dev:TOKEN").unwrap().unwrap().uid;
    s.write(|tx| {
        tx.update(&uid, "", |m| {
            m.attributes.insert("app".into(), "mobile".into());
            Ok(())
        })
        .map(|_| ())
    })
    .unwrap();
    assert_eq!(
        s.locate(&q(vec![AttrCond::Eq("app".into(), "web".into())]))
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        s.locate(&q(vec![AttrCond::Eq("app".into(), "mobile".into())]))
            .unwrap()
            .len(),
        1
    );
}
