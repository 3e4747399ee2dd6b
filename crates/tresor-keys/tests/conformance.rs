//! keys-management's documented behaviour, as tresor-keys keeps it (minus its bugs).

#[path = "support/util.rs"]
mod util;

use std::error::Error as _;
use std::sync::{Arc, Mutex};

use tresor_keys::{
    ErrorStrategy, Flow, KeyDefinition, KeyManager, KeySource, KeyType, KeyValue, KeysError,
    Purpose, SourceError,
};
use tresor_store::{NewObject, ObjectType};
use util::{Counted, manager, store};

fn sym(s: &str) -> KeyValue {
    KeyValue::symmetric(s)
}

#[test]
fn readme_general_usage() {
    let (_d, km) = manager();
    let src = Counted::new(sym("value_1"));
    km.define_key(
        KeyDefinition::new("my_first_key", src.source())
            .stateless(true)
            .keep_in_cache(true),
    )
    .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    km.on_change("my_first_key", "print", move |c| {
        let old = c
            .old
            .map(|o| String::from_utf8_lossy(o.encrypt_key().expose()).into_owned());
        let new = String::from_utf8_lossy(c.new.encrypt_key().expose()).into_owned();
        s2.lock().unwrap().push(format!(
            "key_changed from {} to {}.",
            old.unwrap_or_default(),
            new
        ));
        Ok(())
    })
    .unwrap();
    assert_eq!(km.encrypt_key("my_first_key").unwrap().expose(), b"value_1");
    km.key_changed("my_first_key", Some(sym("value_1")), sym("value_2"))
        .unwrap();
    src.set(sym("value_2"));
    assert_eq!(km.decrypt_key("my_first_key").unwrap().expose(), b"value_1");
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["key_changed from value_1 to value_2.".to_owned()]
    );
    assert_eq!(km.encrypt_key("my_first_key").unwrap().expose(), b"value_2");
    assert_eq!(km.decrypt_key("my_first_key").unwrap().expose(), b"value_2");
    // Declared changes run callbacks once; the forward path found value_2 already recorded.
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn symmetric_and_pair_sources() {
    let (_d, km) = manager();
    km.define_key(KeyDefinition::new(
        "sym",
        Counted::new(sym("same")).source(),
    ))
    .unwrap();
    km.define_key(KeyDefinition::new(
        "pair",
        Counted::new(KeyValue::pair("enc-key", "dec-key")).source(),
    ))
    .unwrap();
    km.define_key(KeyDefinition::new(
        "spair",
        Counted::new(KeyValue::pair("v", "v")).source(),
    ))
    .unwrap();
    assert_eq!(km.encrypt_key("sym").unwrap().expose(), b"same");
    assert_eq!(km.decrypt_key("sym").unwrap().expose(), b"same");
    assert_eq!(km.encrypt_key("pair").unwrap().expose(), b"enc-key");
    assert_eq!(km.decrypt_key("pair").unwrap().expose(), b"dec-key");
    assert_eq!(km.encrypt_key("spair").unwrap().expose(), b"v");
    assert_eq!(km.decrypt_key("spair").unwrap().expose(), b"v");
}

#[test]
fn caching_and_store_calls() {
    let (_d, km) = manager();
    // Stateless, cached: the back path uses the cached key.
    let a = Counted::new(sym("a1"));
    km.define_key(KeyDefinition::new("cached", a.source()))
        .unwrap();
    km.encrypt_key("cached").unwrap();
    assert_eq!(a.calls(), 1);
    for _ in 0..3 {
        assert_eq!(km.decrypt_key("cached").unwrap().expose(), b"a1");
    }
    assert_eq!(a.calls(), 1, "back path must come from the cache");
    km.encrypt_key("cached").unwrap();
    assert_eq!(a.calls(), 2, "forward path always reads the source");

    // Stateless, not cached: every get reads the source, and a change loses the old key
    // (keys-management's example 4: documented data loss).
    let b = Counted::new(sym("b1"));
    km.define_key(KeyDefinition::new("nocache", b.source()).keep_in_cache(false))
        .unwrap();
    let k = km.encrypt_key("nocache").unwrap();
    assert_eq!(k.version(), 0);
    km.decrypt_key("nocache").unwrap();
    km.decrypt_key("nocache").unwrap();
    assert_eq!(b.calls(), 3);
    b.set(sym("b2"));
    assert_eq!(km.decrypt_key("nocache").unwrap().expose(), b"b2");

    // Stated, not cached: the back path reads the state (the store), not the source.
    let c = Counted::new(sym("c1"));
    km.define_key(
        KeyDefinition::new("stated", c.source())
            .stateless(false)
            .keep_in_cache(false),
    )
    .unwrap();
    km.encrypt_key("stated").unwrap();
    c.set(sym("c2"));
    assert_eq!(km.decrypt_key("stated").unwrap().expose(), b"c1");
    assert_eq!(c.calls(), 1);
}

#[test]
fn one_way_reads_the_source_each_time() {
    let (_d, km) = manager();
    let s = Counted::new(sym("token-1"));
    km.define_key(KeyDefinition::new("token", s.source()).purpose(Purpose::OneWay))
        .unwrap();
    for i in 1..=3 {
        assert_eq!(km.get_key("token").unwrap().expose(), b"token-1");
        assert_eq!(s.calls(), i);
    }
    assert_eq!(km.last_flow("token").unwrap(), Some(Flow::Default));
    s.set(sym("token-2"));
    assert_eq!(km.get_key("token").unwrap().expose(), b"token-2");
    assert!(matches!(
        km.decrypt_key("token"),
        Err(KeysError::Unsupported { .. })
    ));
}

#[test]
fn last_flow_compatibility_mode() {
    let (_d, km) = manager();
    let s = Counted::new(KeyValue::pair("E", "D"));
    km.define_key(KeyDefinition::new("lib", s.source()))
        .unwrap();
    // No previous use: forward. Then it alternates as keys-management's get_key does.
    assert_eq!(km.get_key("lib").unwrap().expose(), b"E");
    assert_eq!(km.get_key("lib").unwrap().expose(), b"D");
    assert_eq!(km.get_key("lib").unwrap().expose(), b"E");
    km.set_last_flow("lib", Flow::Back).unwrap();
    assert_eq!(km.get_key("lib").unwrap().expose(), b"E");
}

#[test]
fn bad_sources_give_typed_errors_with_cause() {
    let (_d, km) = manager();
    km.define_key(KeyDefinition::new(
        "fails",
        KeySource::from_fn(|| Err("backend down".into())),
    ))
    .unwrap();
    let e = km.encrypt_key("fails").unwrap_err();
    assert!(
        matches!(&e, KeysError::Source { key, source: SourceError::Failed(_) } if key == "fails"),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "key 'fails': source failed: backend down");
    assert_eq!(
        e.source()
            .and_then(|s| s.source())
            .map(|s| s.to_string())
            .as_deref(),
        Some("backend down")
    );

    km.define_key(KeyDefinition::new(
        "empty",
        KeySource::from_fn(|| Ok(KeyValue::symmetric(""))),
    ))
    .unwrap();
    assert!(matches!(
        km.decrypt_key("empty"),
        Err(KeysError::Source {
            source: SourceError::Empty,
            ..
        })
    ));

    // Wrong type: a vault secret source pointing at a symmetric key.
    let mut n = NewObject::new(ObjectType::SymmetricKey);
    n.names.push("app:dev:NOT_A_SECRET".into());
    n.material = Some(vec![1; 32]);
    km.store().create(n).unwrap();
    km.define_key(KeyDefinition::new(
        "wrongtype",
        KeySource::VaultSecret("app:dev:NOT_A_SECRET".into()),
    ))
    .unwrap();
    let e = km.encrypt_key("wrongtype").unwrap_err();
    assert!(
        matches!(
            &e,
            KeysError::Source {
                source: SourceError::WrongType { .. },
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("expected a SecretData object, found SymmetricKey"),
        "{e}"
    );

    // A KMIP object of a type that is no key.
    let mut n = NewObject::new(ObjectType::Certificate);
    n.names.push("cert-1".into());
    n.material = Some(vec![1; 10]);
    km.store().create(n).unwrap();
    km.define_key(KeyDefinition::new(
        "cert",
        KeySource::KmipObject("cert-1".into()),
    ))
    .unwrap();
    assert!(matches!(
        km.encrypt_key("cert"),
        Err(KeysError::Source {
            source: SourceError::WrongType { .. },
            ..
        })
    ));

    km.define_key(KeyDefinition::new(
        "noenv",
        KeySource::Env("TRESOR_KEYS_TEST_SURELY_UNSET".into()),
    ))
    .unwrap();
    let e = km.encrypt_key("noenv").unwrap_err();
    assert!(matches!(
        &e,
        KeysError::Source {
            source: SourceError::Missing(_),
            ..
        }
    ));
    assert!(
        e.to_string()
            .contains("environment variable 'TRESOR_KEYS_TEST_SURELY_UNSET' not found"),
        "{e}"
    );

    km.define_key(KeyDefinition::new(
        "nofile",
        KeySource::File("/nonexistent/key".into()),
    ))
    .unwrap();
    assert!(matches!(
        km.encrypt_key("nofile"),
        Err(KeysError::Source {
            source: SourceError::Missing(_),
            ..
        })
    ));
}

#[test]
fn every_source_kind_reads_its_key() {
    let (dir, km) = manager();
    let mut n = NewObject::new(ObjectType::SecretData);
    n.names.push("app:prod:DB_KEY".into());
    n.material = Some(b"vault-secret-value".to_vec());
    km.store().create(n).unwrap();
    km.define_key(KeyDefinition::new(
        "vault",
        KeySource::VaultSecret("app:prod:DB_KEY".into()),
    ))
    .unwrap();
    assert_eq!(
        km.encrypt_key("vault").unwrap().expose(),
        b"vault-secret-value"
    );

    let mut n = NewObject::new(ObjectType::SymmetricKey);
    n.names.push("kmip-key".into());
    n.material = Some(vec![9; 32]);
    let meta = km.store().create(n).unwrap();
    km.define_key(KeyDefinition::new(
        "kmip_uid",
        KeySource::KmipObject(meta.uid.clone()),
    ))
    .unwrap();
    km.define_key(KeyDefinition::new(
        "kmip_name",
        KeySource::KmipObject("kmip-key".into()),
    ))
    .unwrap();
    assert_eq!(km.encrypt_key("kmip_uid").unwrap().expose(), &[9; 32]);
    assert_eq!(km.encrypt_key("kmip_name").unwrap().expose(), &[9; 32]);
    // A 32-byte symmetric key from a source encrypts with AES-256-GCM.
    let ct = km.encrypt("kmip_name", b"x", b"").unwrap();
    assert_eq!(km.decrypt(&ct, b"").unwrap().expose(), b"x");

    let f = dir.path().join("key.txt");
    std::fs::write(&f, "base64:aGVsbG8=\n").unwrap();
    km.define_key(KeyDefinition::new("file", KeySource::File(f)))
        .unwrap();
    assert_eq!(km.encrypt_key("file").unwrap().expose(), b"hello");

    let pair = KeySource::Pair(
        Box::new(KeySource::VaultSecret("app:prod:DB_KEY".into())),
        Box::new(KeySource::KmipObject("kmip-key".into())),
    );
    km.define_key(KeyDefinition::new("pair", pair)).unwrap();
    assert_eq!(
        km.encrypt_key("pair").unwrap().expose(),
        b"vault-secret-value"
    );
    assert_eq!(km.decrypt_key("pair").unwrap().expose(), &[9; 32]);
}

/// `std::env::set_var` is unsafe in the 2024 edition and unsafe code is forbidden here, so
/// this test re-executes itself with the variable set.
#[test]
fn env_source() {
    const VAR: &str = "TRESOR_KEYS_TEST_ENV_KEY";
    if std::env::var(VAR).is_err() {
        let exe = std::env::current_exe().unwrap();
        let st = std::process::Command::new(exe)
            .args(["--exact", "env_source", "--test-threads=1"])
            .env(VAR, "hex:00ff")
            .status()
            .unwrap();
        assert!(st.success(), "the re-executed test failed");
        return;
    }
    let (_d, km) = manager();
    km.define_key(KeyDefinition::new("env", KeySource::Env(VAR.into())))
        .unwrap();
    assert_eq!(km.encrypt_key("env").unwrap().expose(), &[0, 255]);
}

#[test]
fn keyring_source() {
    let ring = match tresor_keyring::Keyring::open(tresor_keyring::Ring::User) {
        Ok(r) => r,
        Err(e) => {
            // The kernel keyring is not reachable here (seccomp in some containers): the source
            // must then report the failure as a typed source error.
            let (_d, km) = manager();
            km.define_key(KeyDefinition::new(
                "kr",
                KeySource::Keyring {
                    ring: "user".into(),
                    name: "x".into(),
                    keys: Arc::new(tresor_keyring::KernelKeys),
                },
            ))
            .unwrap();
            assert!(
                matches!(km.encrypt_key("kr"), Err(KeysError::Source { .. })),
                "{e}"
            );
            return;
        }
    };
    let name = format!("tresor-keys-test-{}", std::process::id());
    ring.set(&name, b"keyring-key-value", tresor_keyring::Create::Always)
        .unwrap();
    let (_d, km) = manager();
    km.define_key(KeyDefinition::new(
        "kr",
        KeySource::Keyring {
            ring: "user".into(),
            name: name.clone(),
            keys: Arc::new(tresor_keyring::KernelKeys),
        },
    ))
    .unwrap();
    let got = km.encrypt_key("kr").map(|k| k.expose().to_vec());
    ring.invalidate(&name).unwrap();
    assert_eq!(got.unwrap(), b"keyring-key-value");
    km.define_key(KeyDefinition::new(
        "kr2",
        KeySource::Keyring {
            ring: "user".into(),
            name: name.clone(),
            keys: Arc::new(tresor_keyring::KernelKeys),
        },
    ))
    .unwrap();
    assert!(matches!(
        km.encrypt_key("kr2"),
        Err(KeysError::Source {
            source: SourceError::Missing(_),
            ..
        })
    ));
}

#[test]
fn undefined_keys_and_duplicates() {
    let (_d, km) = manager();
    assert!(matches!(km.encrypt_key("nope"), Err(KeysError::Undefined(n)) if n == "nope"));
    assert!(matches!(
        km.decrypt_key("nope"),
        Err(KeysError::Undefined(_))
    ));
    assert!(matches!(km.get_key("nope"), Err(KeysError::Undefined(_))));
    assert!(matches!(
        km.key_changed("nope", None, sym("x")),
        Err(KeysError::Undefined(_))
    ));
    assert!(matches!(
        km.on_change("nope", "cb", |_| Ok(())),
        Err(KeysError::Undefined(_))
    ));
    assert_eq!(
        km.encrypt_key("nope").unwrap_err().to_string(),
        "key 'nope' is not defined"
    );
    km.define_key(KeyDefinition::new("k", Counted::new(sym("v")).source()))
        .unwrap();
    assert!(matches!(
        km.define_key(KeyDefinition::new("k", Counted::new(sym("v")).source())),
        Err(KeysError::AlreadyDefined(_))
    ));
    assert!(matches!(
        km.define_key(KeyDefinition::new(
            "bad:name",
            Counted::new(sym("v")).source()
        )),
        Err(KeysError::InvalidName { .. })
    ));
}

#[test]
fn callback_names_never_collide() {
    let (_d, km) = manager();
    km.define_key(KeyDefinition::new("k", Counted::new(sym("v")).source()))
        .unwrap();
    km.on_change("k", "reencrypt", |_| Ok(())).unwrap();
    let e = km
        .on_change("k", "reencrypt", |_| Err("must not replace".into()))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "key 'k' already has an on-change callback named 'reencrypt'"
    );
    assert_eq!(km.callbacks("k"), vec!["reencrypt".to_owned()]);
    let r = km.key_changed("k", None, sym("w")).unwrap();
    assert_eq!(r.succeeded, vec!["reencrypt".to_owned()]);
}

/// The manager, the callbacks that ran, what `key_changed` returned, the temp dir.
type Run = (
    Arc<KeyManager>,
    Arc<Mutex<Vec<&'static str>>>,
    tresor_keys::Result<tresor_keys::ChangeReport>,
    tempfile::TempDir,
);

fn three_callbacks(strategy: ErrorStrategy, stated: bool) -> Run {
    let (d, km) = manager();
    km.define_key(
        KeyDefinition::new("k", Counted::new(sym("v1")).source())
            .on_change(strategy)
            .stateless(!stated),
    )
    .unwrap();
    km.encrypt_key("k").unwrap();
    let ran = Arc::new(Mutex::new(Vec::new()));
    for (name, fail) in [("first", false), ("second", true), ("third", false)] {
        let r = ran.clone();
        km.on_change("k", name, move |_| {
            r.lock().unwrap().push(name);
            if fail {
                Err(format!("{name} broke").into())
            } else {
                Ok(())
            }
        })
        .unwrap();
    }
    let res = km.key_changed("k", None, sym("v2"));
    (km, ran, res, d)
}

#[test]
fn strategy_halt_stops_quietly() {
    for stated in [false, true] {
        let (km, ran, res, _d) = three_callbacks(ErrorStrategy::Halt, stated);
        let r = res.unwrap();
        assert_eq!(*ran.lock().unwrap(), vec!["first", "second"]);
        assert!(r.halted);
        assert_eq!(
            (r.succeeded, r.failed, r.not_run),
            (
                vec!["first".into()],
                vec!["second".into()],
                vec!["third".into()]
            )
        );
        assert_eq!(km.show("k").unwrap().primary_version, 2);
        if stated {
            let p = km.pending("k").unwrap();
            assert_eq!(p.len(), 1);
            assert_eq!(
                p[0].callbacks
                    .iter()
                    .filter(|c| c.status != tresor_keys::CallbackStatus::Succeeded)
                    .count(),
                2
            );
        }
    }
}

#[test]
fn strategy_skip_continues() {
    let (_km, ran, res, _d) = three_callbacks(ErrorStrategy::Skip, false);
    let r = res.unwrap();
    assert_eq!(*ran.lock().unwrap(), vec!["first", "second", "third"]);
    assert!(!r.halted);
    assert_eq!(r.failed, vec!["second".to_owned()]);
    assert_eq!(r.succeeded, vec!["first".to_owned(), "third".to_owned()]);
}

#[test]
fn strategy_skip_and_raise_runs_all_then_lists_failures() {
    let (_km, ran, res, _d) = three_callbacks(ErrorStrategy::SkipAndRaise, true);
    assert_eq!(*ran.lock().unwrap(), vec!["first", "second", "third"]);
    let e = res.unwrap_err();
    match &e {
        KeysError::Callbacks { key, failures } => {
            assert_eq!(key, "k");
            assert_eq!(failures.len(), 1);
            assert_eq!(failures[0].callback, "second");
            assert_eq!(failures[0].error.to_string(), "second broke");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        e.to_string(),
        "key 'k': 1 on-change callback(s) failed: 'second': second broke"
    );
}

#[test]
fn strategy_raise_immediately_stops_with_source() {
    let (km, ran, res, _d) = three_callbacks(ErrorStrategy::RaiseImmediately, true);
    assert_eq!(*ran.lock().unwrap(), vec!["first", "second"]);
    let e = res.unwrap_err();
    assert!(
        matches!(&e, KeysError::Callback { callback, .. } if callback == "second"),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "key 'k': on-change callback 'second' failed");
    assert_eq!(
        e.source().map(|s| s.to_string()).as_deref(),
        Some("second broke")
    );
    // The change itself is recorded (new primary, old kept) and the journal remembers the rest.
    assert_eq!(km.show("k").unwrap().primary_version, 2);
    assert_eq!(km.decrypt_key_version("k", 2).unwrap().expose(), b"v2");
    assert_eq!(km.decrypt_key_version("k", 1).unwrap().expose(), b"v1");
    let p = km.pending("k").unwrap();
    assert_eq!(
        p[0].callbacks.iter().map(|c| c.status).collect::<Vec<_>>(),
        vec![
            tresor_keys::CallbackStatus::Succeeded,
            tresor_keys::CallbackStatus::Failed,
            tresor_keys::CallbackStatus::Pending
        ]
    );
}

#[test]
fn panicking_callback_is_a_failure_not_a_crash() {
    let (_d, km) = manager();
    km.define_key(
        KeyDefinition::new("k", Counted::new(sym("v1")).source())
            .on_change(ErrorStrategy::RaiseImmediately),
    )
    .unwrap();
    km.on_change("k", "boom", |_| panic!("kaboom")).unwrap();
    let e = km.key_changed("k", None, sym("v2")).unwrap_err();
    assert!(
        e.source().is_some_and(|s| s.to_string().contains("kaboom")),
        "{e:?}"
    );
}

#[test]
fn stated_keys_are_restored_by_a_fresh_manager() {
    let (_d, store) = store();
    {
        let km = KeyManager::open(store.clone()).unwrap();
        let s = Counted::new(sym("k1"));
        km.define_key(KeyDefinition::new("st", s.source()).stateless(false))
            .unwrap();
        assert_eq!(km.encrypt_key("st").unwrap().version(), 1);
        km.save_state("st").unwrap();
    }
    let km = KeyManager::open(store.clone()).unwrap();
    let s = Counted::new(sym("k2"));
    km.define_key(KeyDefinition::new("st", s.source()).stateless(false))
        .unwrap();
    // The last flow was forward: get_key gives the back path, from the saved state.
    assert_eq!(km.last_flow("st").unwrap(), Some(Flow::Forward));
    let k = km.get_key("st").unwrap();
    assert_eq!((k.expose(), k.version()), (b"k1".as_slice(), 1));
    assert_eq!(s.calls(), 0, "restored from the store, not the source");
    // The forward path sees the new source value and records it as v2, keeping v1.
    let k = km.encrypt_key("st").unwrap();
    assert_eq!((k.expose(), k.version()), (b"k2".as_slice(), 2));
    km.key_changed("st", None, sym("k3")).unwrap();
    drop(km);
    let km = KeyManager::open(store).unwrap();
    km.define_key(
        KeyDefinition::new("st", Counted::new(sym("k3")).source())
            .stateless(false)
            .keep_in_cache(false),
    )
    .unwrap();
    for (v, want) in [(1, "k1"), (2, "k2"), (3, "k3")] {
        assert_eq!(
            km.decrypt_key_version("st", v).unwrap().expose(),
            want.as_bytes()
        );
    }
    assert!(matches!(km.save_state("st"), Ok(())));
    let km2 = KeyManager::open(km.store().clone()).unwrap();
    km2.define_key(KeyDefinition::new("sl", Counted::new(sym("x")).source()))
        .unwrap();
    assert!(matches!(
        km2.save_state("sl"),
        Err(KeysError::Unsupported { .. })
    ));
}

#[test]
fn a_stated_key_cannot_shadow_a_generated_one() {
    let (_d, km) = manager();
    km.create("gen", KeyType::Aes256Gcm).unwrap();
    let km2 = KeyManager::open(km.store().clone()).unwrap();
    let e = km2
        .define_key(KeyDefinition::new("gen", Counted::new(sym("x")).source()).stateless(false))
        .unwrap_err();
    assert!(matches!(e, KeysError::Refused { .. }), "{e:?}");
}

#[test]
fn callbacks_may_call_back_into_the_manager() {
    let (_d, km) = manager();
    km.define_key(KeyDefinition::new("k", Counted::new(sym("v1")).source()).stateless(false))
        .unwrap();
    km.create("t", KeyType::Aes256Gcm).unwrap();
    let ct = km.encrypt("t", b"data", b"").unwrap();
    let out = Arc::new(Mutex::new(Vec::new()));
    let o = out.clone();
    km.on_change("k", "reads-same-key", move |c| {
        // Same thread and other threads read the key being changed: no lock is held.
        let here = c.manager.decrypt_key(c.name)?.expose().to_vec();
        let there = std::thread::scope(|s| {
            s.spawn(|| {
                let a = c.manager.encrypt_key(c.name).map(|k| k.version());
                let b = c.manager.show(c.name).map(|i| i.primary_version);
                (a, b)
            })
            .join()
        })
        .map_err(|_| "thread panicked")?;
        o.lock().unwrap().push((here, there.0?, there.1?));
        Ok(())
    })
    .unwrap();
    let t_ct = ct.clone();
    km.on_change("t", "rewraps", move |c| {
        let n = c.manager.rewrap(&t_ct, b"")?;
        assert!(n.starts_with(&format!("tresor:t:v{}:", c.new_version)));
        Ok(())
    })
    .unwrap();
    km.encrypt_key("k").unwrap();
    km.key_changed("k", None, sym("v2")).unwrap();
    let got = out.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, b"v1");
    assert_eq!(got[0].2, 2);
    km.rotate("t").unwrap();
}

#[test]
fn key_material_is_never_printed() {
    let (_d, km) = manager();
    km.define_key(KeyDefinition::new(
        "k",
        Counted::new(sym("supersecretvalue-0123456789")).source(),
    ))
    .unwrap();
    let k = km.encrypt_key("k").unwrap();
    let d = format!("{k:?} {km:?}");
    assert!(!d.contains("supersecret"), "{d}");
    assert!(d.contains("su****89"), "{d}");
}
