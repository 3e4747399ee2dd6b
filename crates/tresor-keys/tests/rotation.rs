//! Versions, rotation, min decryption version, rewrap, trim, signing, the journal, threads.

#[path = "support/util.rs"]
mod util;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tresor_keys::{
    CallbackStatus, ErrorStrategy, KeyConfig, KeyDefinition, KeyManager, KeyType, KeyValue,
    KeysError, VersionState,
};
use util::{Counted, manager};

#[test]
fn old_ciphertexts_decrypt_until_retired_then_rewrap_and_trim() {
    let (_d, km) = manager();
    km.create("orders", KeyType::Aes256Gcm).unwrap();
    let mut cts = vec![km.encrypt("orders", b"under v1", b"ad").unwrap()];
    for v in 2..=4 {
        let r = km.rotate("orders").unwrap();
        assert_eq!((r.old_version, r.new_version), (Some(v - 1), v));
        cts.push(
            km.encrypt("orders", format!("under v{v}").as_bytes(), b"ad")
                .unwrap(),
        );
    }
    for (i, ct) in cts.iter().enumerate() {
        assert!(
            ct.starts_with(&format!("tresor:orders:v{}:", i + 1)),
            "{ct}"
        );
        assert_eq!(
            km.decrypt(ct, b"ad").unwrap().expose(),
            format!("under v{}", i + 1).as_bytes()
        );
        assert!(matches!(km.decrypt(ct, b"other"), Err(KeysError::Decrypt)));
    }
    // A fresh manager (another process) decrypts them too: nothing depends on call order.
    let km2 = KeyManager::open(km.store().clone()).unwrap();
    assert_eq!(km2.decrypt(&cts[0], b"ad").unwrap().expose(), b"under v1");

    km.configure(
        "orders",
        KeyConfig {
            min_decryption_version: Some(3),
            ..KeyConfig::default()
        },
    )
    .unwrap();
    for ct in &cts[..2] {
        let e = km.decrypt(ct, b"ad").unwrap_err();
        assert!(
            matches!(e, KeysError::VersionRetired { min: 3, .. }),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("below its minimum decryption version 3; refused"),
            "{e}"
        );
    }
    // The other manager sees the new minimum as soon as it needs a version it has not seen.
    assert_eq!(km2.decrypt(&cts[3], b"ad").unwrap().expose(), b"under v4");

    let re = km.rewrap(&cts[2], b"ad").unwrap();
    assert!(re.starts_with("tresor:orders:v4:"), "{re}");
    assert_eq!(km.decrypt(&re, b"ad").unwrap().expose(), b"under v3");
    assert!(km.rewrap(&cts[0], b"ad").is_err());

    let info = km.show("orders").unwrap();
    let states: Vec<_> = info.versions.iter().map(|v| v.state).collect();
    assert_eq!(
        states,
        vec![
            VersionState::Retired,
            VersionState::Retired,
            VersionState::DecryptOnly,
            VersionState::Primary
        ]
    );
    assert_eq!(km.trim("orders").unwrap(), 2);
    assert_eq!(km.trim("orders").unwrap(), 0);
    let info = km.show("orders").unwrap();
    assert_eq!(info.versions[0].state, VersionState::Destroyed);
    // Lowering the minimum again cannot bring destroyed material back.
    km.configure(
        "orders",
        KeyConfig {
            min_decryption_version: Some(1),
            ..KeyConfig::default()
        },
    )
    .unwrap();
    assert!(matches!(
        km.decrypt(&cts[0], b"ad"),
        Err(KeysError::UnknownVersion { version: 1, .. })
    ));
    assert_eq!(km.decrypt(&cts[2], b"ad").unwrap().expose(), b"under v3");

    for bad in [0, 5] {
        let e = km
            .configure(
                "orders",
                KeyConfig {
                    min_decryption_version: Some(bad),
                    ..KeyConfig::default()
                },
            )
            .unwrap_err();
        assert!(matches!(e, KeysError::Refused { .. }));
    }
}

/// The in-place form (`encrypt_bytes_cached_into`, the Python wheel's path) writes exactly
/// what `encrypt_bytes` would: the same header, a ciphertext `decrypt_bytes` opens, and
/// refuses a buffer of any other length without writing a partial ciphertext.
#[test]
fn in_place_encrypt_matches_encrypt_bytes() {
    let (_d, km) = manager();
    for (name, ty) in [
        ("ip-aes", KeyType::Aes256Gcm),
        ("ip-chacha", KeyType::ChaCha20Poly1305),
    ] {
        km.create(name, ty).unwrap();
        let pt = b"in place";
        let reference = km.encrypt_bytes(name, pt, b"ad").unwrap();
        let len = KeyManager::encrypted_len(name, pt.len());
        assert_eq!(len, reference.len());
        let mut out = vec![0u8; len];
        km.encrypt_bytes_cached_into(name, pt, b"ad", &mut out)
            .expect("the key is cached after encrypt_bytes")
            .unwrap();
        // Same header (name and version); fresh nonce, so the rest differs.
        let head = 3 + 1 + name.len() + 4;
        assert_eq!(out[..head], reference[..head]);
        assert_ne!(out[head..], reference[head..]);
        assert_eq!(km.decrypt_bytes(&out, b"ad").unwrap().expose(), pt);
        assert!(km.decrypt_bytes(&out, b"other").is_err());
        for bad in [len - 1, len + 1] {
            let mut b = vec![0u8; bad];
            let r = km
                .encrypt_bytes_cached_into(name, pt, b"ad", &mut b)
                .unwrap();
            assert!(matches!(r, Err(KeysError::Malformed { .. })), "{bad}");
            assert!(b.iter().all(|&x| x == 0), "nothing written on refusal");
        }
    }
    // A key that is not defined is not cached: the caller falls back to encrypt_bytes.
    assert!(
        km.encrypt_bytes_cached_into("nope", b"x", b"", &mut [0u8; 64])
            .is_none()
    );
}

#[test]
fn binary_form_and_tampering() {
    let (_d, km) = manager();
    km.create("b", KeyType::ChaCha20Poly1305).unwrap();
    let ct = km.encrypt_bytes("b", b"payload", b"").unwrap();
    assert_eq!(km.decrypt_bytes(&ct, b"").unwrap().expose(), b"payload");
    for i in 0..ct.len() {
        let mut t = ct.clone();
        t[i] ^= 0x01;
        assert!(km.decrypt_bytes(&t, b"").is_err(), "flip at {i}");
    }
    for i in 0..ct.len() {
        assert!(km.decrypt_bytes(&ct[..i], b"").is_err());
    }
    let text = km.encrypt("b", b"", b"").unwrap();
    assert_eq!(km.decrypt(&text, b"").unwrap().expose(), b"");
    for bad in [
        "",
        "tresor:b:v1:",
        "tresor:b:v1:AAAA",
        "tresor:nope:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "garbage",
    ] {
        assert!(km.decrypt(bad, b"").is_err(), "{bad}");
    }
    assert!(matches!(
        km.decrypt("tresor:b:v9:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", b""),
        Err(KeysError::UnknownVersion { version: 9, .. })
    ));
}

#[test]
fn signing_keys() {
    let (_d, km) = manager();
    for t in [KeyType::HmacSha256, KeyType::Ed25519] {
        let name = format!("sig-{}", t.as_str());
        let info = km.create(&name, t).unwrap();
        assert_eq!(info.public_key.is_some(), t == KeyType::Ed25519);
        let s1 = km.sign(&name, b"message").unwrap();
        assert!(s1.starts_with(&format!("tresor:{name}:v1:")));
        km.rotate(&name).unwrap();
        let s2 = km.sign(&name, b"message").unwrap();
        assert!(km.verify(&s1, b"message").unwrap());
        assert!(km.verify(&s2, b"message").unwrap());
        assert!(!km.verify(&s2, b"massage").unwrap());
        assert!(matches!(
            km.encrypt(&name, b"x", b""),
            Err(KeysError::Unsupported { .. })
        ));
        km.configure(
            &name,
            KeyConfig {
                min_decryption_version: Some(2),
                ..KeyConfig::default()
            },
        )
        .unwrap();
        assert!(matches!(
            km.verify(&s1, b"message"),
            Err(KeysError::VersionRetired { .. })
        ));
    }
    km.create("aes", KeyType::Aes256Gcm).unwrap();
    assert!(matches!(
        km.sign("aes", b"m"),
        Err(KeysError::Unsupported { .. })
    ));
    assert!(matches!(
        km.create("aes", KeyType::Aes256Gcm),
        Err(KeysError::Exists(_))
    ));
}

#[test]
fn ed25519_signatures_verify_with_the_public_key_alone() {
    let (_d, km) = manager();
    let info = km.create("ed", KeyType::Ed25519).unwrap();
    use base64::Engine as _;
    let pk = base64::engine::general_purpose::STANDARD
        .decode(info.public_key.unwrap())
        .unwrap();
    let sig = km.sign("ed", b"hello").unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(sig.rsplit(':').next().unwrap())
        .unwrap();
    let v = aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, &pk);
    assert!(v.verify(b"hello", &raw).is_ok());
}

#[test]
fn unfinished_callbacks_block_retiring_their_old_version_until_resumed() {
    let (_d, km) = manager();
    km.create("t", KeyType::Aes256Gcm).unwrap();
    let ct = km.encrypt("t", b"data", b"").unwrap();
    let broken = Arc::new(AtomicBool::new(true));
    let store_ct = Arc::new(Mutex::new(ct));
    let (b, s) = (broken.clone(), store_ct.clone());
    km.on_change("t", "reencrypt", move |c| {
        if b.load(Ordering::SeqCst) {
            return Err("database unavailable".into());
        }
        let mut g = s.lock().unwrap();
        *g = c.manager.rewrap(&g, b"")?;
        Ok(())
    })
    .unwrap();
    // Store-only keys use SkipAndRaise.
    assert!(matches!(km.rotate("t"), Err(KeysError::Callbacks { .. })));
    let p = km.pending("t").unwrap();
    assert_eq!((p.len(), p[0].from, p[0].to), (1, Some(1), 2));
    assert_eq!(p[0].callbacks[0].status, CallbackStatus::Failed);
    assert_eq!(
        p[0].callbacks[0].error.as_deref(),
        Some("database unavailable")
    );
    let e = km
        .configure(
            "t",
            KeyConfig {
                min_decryption_version: Some(2),
                ..KeyConfig::default()
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("unfinished callbacks"), "{e}");

    // A fresh manager (after a restart) registers the callback and resumes.
    broken.store(false, Ordering::SeqCst);
    let km2 = KeyManager::open(km.store().clone()).unwrap();
    let (b2, s2) = (broken.clone(), store_ct.clone());
    km2.on_change("t", "reencrypt", move |c| {
        assert!(c.resumed);
        assert!(!b2.load(Ordering::SeqCst));
        let mut g = s2.lock().unwrap();
        *g = c.manager.rewrap(&g, b"")?;
        Ok(())
    })
    .unwrap();
    let res = km2.resume().unwrap();
    assert_eq!(res.len(), 1);
    assert_eq!(
        res[0].as_ref().unwrap().succeeded,
        vec!["reencrypt".to_owned()]
    );
    assert!(km2.pending("t").unwrap().is_empty());
    assert!(km2.resume().unwrap().is_empty());
    km2.configure(
        "t",
        KeyConfig {
            min_decryption_version: Some(2),
            ..KeyConfig::default()
        },
    )
    .unwrap();
    let ct = store_ct.lock().unwrap().clone();
    assert!(ct.starts_with("tresor:t:v2:"));
    assert_eq!(km2.decrypt(&ct, b"").unwrap().expose(), b"data");
    assert_eq!(km2.trim("t").unwrap(), 1);
}

#[test]
fn discard_pending_is_explicit() {
    let (_d, km) = manager();
    km.define_key(
        KeyDefinition::new("k", Counted::new(KeyValue::symmetric("a")).source())
            .stateless(false)
            .on_change(ErrorStrategy::Halt),
    )
    .unwrap();
    km.encrypt_key("k").unwrap();
    km.on_change("k", "fails", |_| Err("no".into())).unwrap();
    let r = km.key_changed("k", None, KeyValue::symmetric("b")).unwrap();
    assert!(r.halted);
    assert_eq!(km.pending("k").unwrap().len(), 1);
    assert_eq!(km.discard_pending("k").unwrap(), 1);
    assert!(km.pending("k").unwrap().is_empty());
    km.configure(
        "k",
        KeyConfig {
            min_decryption_version: Some(2),
            ..KeyConfig::default()
        },
    )
    .unwrap();
}

#[test]
fn auto_rotate_setting_is_kept() {
    let (_d, km) = manager();
    km.create("a", KeyType::Aes256Gcm).unwrap();
    let i = km
        .configure(
            "a",
            KeyConfig {
                auto_rotate_secs: Some(30 * 86_400),
                ..KeyConfig::default()
            },
        )
        .unwrap();
    assert_eq!(i.auto_rotate_secs, 2_592_000);
    // Not due yet: nothing rotates.
    assert!(km.rotate_due().unwrap().is_empty());
    assert_eq!(km.show("a").unwrap().primary_version, 1);
    let i = km
        .configure(
            "a",
            KeyConfig {
                auto_rotate_secs: Some(0),
                ..KeyConfig::default()
            },
        )
        .unwrap();
    assert_eq!(i.auto_rotate_secs, 0);
}

#[test]
fn concurrent_gets_during_rotation_stay_consistent() {
    let (_d, km) = manager();
    km.create("hot", KeyType::Aes256Gcm).unwrap();
    let src = Counted::new(KeyValue::symmetric([1u8; 32].as_slice()));
    km.define_key(KeyDefinition::new("def", src.source()).stateless(false))
        .unwrap();
    km.encrypt_key("def").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let rotations = Arc::new(AtomicU32::new(0));
    std::thread::scope(|s| {
        for t in 0..3 {
            let (km, stop) = (km.clone(), stop.clone());
            s.spawn(move || {
                let mut last = 0;
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) || n < 50 {
                    let msg = format!("t{t}-{n}");
                    let ct = km.encrypt("hot", msg.as_bytes(), b"").unwrap();
                    let v = tresor_keys::ciphertext::inspect(&ct).unwrap().version;
                    assert!(v >= last, "primary went back from {last} to {v}");
                    last = v;
                    assert_eq!(km.decrypt(&ct, b"").unwrap().expose(), msg.as_bytes());
                    let k = km.encrypt_key("def").unwrap();
                    assert_eq!(
                        km.decrypt_key_version("def", k.version()).unwrap().expose(),
                        k.expose()
                    );
                    n += 1;
                }
            });
        }
        let (km, rotations) = (km.clone(), rotations.clone());
        s.spawn(move || {
            for i in 0..15u8 {
                km.rotate("hot").unwrap();
                km.key_changed("def", None, KeyValue::symmetric([i + 2; 32].as_slice()))
                    .unwrap();
                src.set(KeyValue::symmetric([i + 2; 32].as_slice()));
                rotations.fetch_add(1, Ordering::SeqCst);
            }
            stop.store(true, Ordering::SeqCst);
        });
    });
    assert_eq!(km.show("hot").unwrap().primary_version, 16);
    assert_eq!(km.show("def").unwrap().primary_version, 16);
}

#[test]
fn decrypt_into_caller_buffer() {
    let (_d, km) = manager();
    km.create("i", KeyType::Aes256Gcm).unwrap();
    let ct = km.encrypt_bytes("i", b"abc", b"x").unwrap();
    let mut out = b"prefix:".to_vec();
    km.decrypt_bytes_into(&ct, b"x", &mut out).unwrap();
    assert_eq!(out, b"prefix:abc");
    assert!(km.decrypt_bytes_into(&ct, b"y", &mut out).is_err());
    assert_eq!(out, b"prefix:abc", "unchanged on error");
}
