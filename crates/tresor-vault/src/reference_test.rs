use proptest::prelude::*;

use super::*;
use crate::filter::validate_full_name;
use crate::{InitOptions, Vault};

/// A name part the vault accepts: any characters but ':' and control characters, not only
/// whitespace; drawn heavily from the troublesome ones (space, unicode, '/', '%', '#', '?',
/// '&', '=', '+', quotes, glob characters).
fn part(allow_empty: bool) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        3 => prop::sample::select(vec![
            ' ', '/', '%', '#', '?', '&', '=', '+', '"', '\'', '*', '[', ']', ',', '.', '~',
            '-', '_', '\\', '@', '!', 'é', 'ß', '日', '本', '🔑', '\u{a0}', '\u{2028}',
        ]),
        2 => prop::char::range('a', 'z'),
        1 => any::<char>(),
    ];
    prop::collection::vec(ch, if allow_empty { 0..12 } else { 1..12 })
        .prop_map(|v| v.into_iter().collect::<String>())
        .prop_filter("a valid vault name part", move |s| {
            let p = if allow_empty {
                NamePart::App
            } else {
                NamePart::Key
            };
            validate_name(p, s).is_ok()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Every name the vault accepts round-trips through a reference, with and without
    /// version and field; and the written form uses only the documented alphabet.
    #[test]
    fn every_vault_name_round_trips(
        app in part(true), env in part(true), key in part(false),
        version in prop::option::of(1u32..),
        field in prop::option::of(part(false)),
    ) {
        prop_assert!(validate_full_name(&app, &env, &key).is_ok());
        let r = Reference { app, env, key, version, field };
        let text = r.to_string();
        prop_assert!(text[SCHEME.len()..].chars().all(is_reference_char), "{}", text);
        prop_assert_eq!(Reference::parse(&text).unwrap(), r.clone());
        // Found whole inside a text, between quotes, after a colon, before a comma.
        let doc = format!("a: \"{text}\", b: {text}, c");
        let found: Vec<_> = find(&doc).into_iter().map(|(rg, p)| (doc[rg].to_owned(), p.unwrap())).collect();
        prop_assert_eq!(found, vec![(text.clone(), r.clone()), (text, r)]);
    }

    /// Parsing never panics, and whatever parses prints back to the same reference.
    #[test]
    fn parse_is_total_and_stable(s in "tresor://[ -~]{0,40}") {
        if let Ok(r) = Reference::parse(&s) {
            prop_assert_eq!(Reference::parse(&r.to_string()).unwrap(), r);
        }
    }
}

#[test]
fn named_shapes() {
    for (app, env, key, text) in [
        (
            "shop",
            "prod",
            "DB_PASSWORD",
            "tresor://shop/prod/DB_PASSWORD",
        ),
        ("", "dev", "K", "tresor:///dev/K"),
        ("my app", "dév", "a/b", "tresor://my%20app/d%C3%A9v/a%2Fb"),
        ("x", "y", "50%#frag", "tresor://x/y/50%25%23frag"),
        ("x", "y", "q?a=b&c", "tresor://x/y/q%3Fa%3Db%26c"),
        ("*", "*", "🔑", "tresor://%2A/%2A/%F0%9F%94%91"),
    ] {
        let r = Reference::new(app, env, key);
        assert_eq!(r.to_string(), text);
        assert_eq!(Reference::parse(text).unwrap(), r);
    }
    let r = Reference::parse("tresor://a/b/C?field=user%20name&version=2").unwrap();
    assert_eq!(r.field.as_deref(), Some("user name"));
    assert_eq!(r.version, Some(2));
    assert_eq!(r.to_string(), "tresor://a/b/C?version=2&field=user%20name");
}

#[test]
fn bad_references_say_what_is_wrong() {
    for (text, says) in [
        ("tresor://a/b", "three segments"),
        ("tresor://a/b/c/d", "three segments"),
        ("tresor://a/b/", "KEY"),
        ("tresor://a/b/c d", "percent-encoded"),
        ("tresor://a/b/%zz", "two hex digits"),
        ("tresor://a/b/%FF", "UTF-8"),
        ("tresor://a%3A/b/c", "APP"),
        ("tresor://a/b/c?version=0", "version"),
        ("tresor://a/b/c?version=x", "version"),
        ("tresor://a/b/c?version=1&version=2", "twice"),
        ("tresor://a/b/c?colour=red", "unknown parameter 'colour'"),
        ("tresor://a/b/c?field", "no '='"),
        ("tresor://a/%20/c", "ENV"),
        ("op://a/b/c", "tresor://"),
    ] {
        let e = Reference::parse(text).unwrap_err().to_string();
        assert!(e.contains(says), "{text}: {e}");
    }
}

#[test]
fn find_in_text() {
    let t = "url=tresor://a/b/C.\nx: 'tresor://a/b/D?version=2' ${tresor://a/b/E} tresor://bad";
    let f = find(t);
    let names: Vec<String> = f
        .iter()
        .map(|(_, r)| {
            r.as_ref()
                .map(|r| r.to_string())
                .unwrap_or_else(|e| e.to_string())
        })
        .collect();
    assert_eq!(
        names,
        [
            "tresor://a/b/C",
            "tresor://a/b/D?version=2",
            "tresor://a/b/E",
            "invalid reference 'tresor://bad': expected three segments APP/ENV/KEY, found 1 (write '/' inside a name as %2F)"
        ]
    );
    assert_eq!(&t[f[0].0.clone()], "tresor://a/b/C");
}

#[test]
fn fields_of_json_values() {
    let r = Reference::parse("tresor://a/b/c?field=user").unwrap();
    let v = r
        .select(SecretBytes::from(r#"{"user":"bob","port":5432}"#))
        .unwrap();
    assert_eq!(v.expose(), b"bob");
    let r = Reference::parse("tresor://a/b/c?field=port").unwrap();
    let v = r
        .select(SecretBytes::from(r#"{"user":"bob","port":5432}"#))
        .unwrap();
    assert_eq!(v.expose(), b"5432");
    let e = r
        .select(SecretBytes::from("hunter2"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not JSON") && !e.contains("hunter2"), "{e}");
    let r = Reference::parse("tresor://a/b/c?field=nope").unwrap();
    let e = r.select(SecretBytes::from("{}")).unwrap_err().to_string();
    assert!(e.contains("no member 'nope'"), "{e}");
}

#[test]
fn read_references_reads_names_versions_and_misses() {
    let dir = tempfile::tempdir().unwrap();
    let v = Vault::init(&dir.path().join("v"), InitOptions::default()).unwrap();
    v.add("my app", "dév", "a/b #%", b"one", "str", false)
        .unwrap();
    v.add("my app", "dév", "a/b #%", b"two", "str", true)
        .unwrap();
    v.add("x", "y", "Z", b"z", "str", false).unwrap();
    let refs: Vec<Reference> = [
        "tresor://my%20app/d%C3%A9v/a%2Fb%20%23%25",
        "tresor://my%20app/d%C3%A9v/a%2Fb%20%23%25?version=1",
        "tresor://my%20app/d%C3%A9v/a%2Fb%20%23%25?version=3",
        "tresor://x/y/Z",
        "tresor://x/y/MISSING",
        // A glob is not a filter here: only the exact name.
        "tresor://x/y/%2A",
    ]
    .iter()
    .map(|s| Reference::parse(s).unwrap())
    .collect();
    let got: Vec<Option<Vec<u8>>> = v
        .read_references(&refs)
        .unwrap()
        .into_iter()
        .map(|o| o.map(|s| s.expose().to_vec()))
        .collect();
    assert_eq!(
        got,
        [
            Some(b"two".to_vec()),
            Some(b"one".to_vec()),
            None,
            Some(b"z".to_vec()),
            None,
            None
        ]
    );
}
