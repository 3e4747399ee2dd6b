//! Round trips, determinism, tampering and merges on every format.

use proptest::prelude::*;

use super::*;

fn id() -> (Vec<Identity>, String) {
    let i = age::x25519::Identity::generate();
    let r = i.to_public().to_string();
    (vec![Box::new(i)], r)
}

const SAMPLES: &[(Format, &str)] = &[
    (
        Format::Dotenv,
        "# db\nDB_USER=admin\nexport DB_PASS=\"p@ss word\" # inline\nEMPTY=\nMULTI='a\nb'\n",
    ),
    (
        Format::Json,
        "{\n  \"db\": {\n    \"user\": \"admin\",\n    \"port\": 5432,\n    \"tls\": true\n  },\n  \"keys\": [\"a\", \"b\"],\n  \"none\": null\n}\n",
    ),
    (
        Format::Yaml,
        "# config\ndb:\n  user: admin # who\n  pass: 'it''s'\n  hosts:\n    - a\n    - b\nnote: |\n  two\n  lines\n",
    ),
    (
        Format::Toml,
        "# config\ntitle = \"t\"\n[db]\nuser = \"admin\" # who\nport = 5432\nhosts = [\"a\", \"b\"]\n",
    ),
];

#[test]
fn round_trip_every_format() {
    for (f, plain) in SAMPLES {
        let (ids, r) = id();
        let s = seal(plain, *f, std::slice::from_ref(&r)).unwrap();
        assert!(!s.contains("admin"), "{f:?}: {s}");
        assert!(s.contains("# tresor-seal") || s.contains("\"tresor_seal\""));
        let o = open(&s, *f, &ids).unwrap();
        assert_eq!(o.plaintext(), *plain, "{f:?}");
        // re-sealing the same plaintext gives the same file byte for byte
        assert_eq!(o.reseal(plain).unwrap(), s, "{f:?}");
        if *f == Format::Json {
            let v: serde_json::Value = serde_json::from_str(&s).unwrap();
            assert!(v.get("tresor_seal").is_some());
        }
        if *f == Format::Toml {
            s.parse::<toml_edit::DocumentMut>().unwrap();
        }
    }
}

#[test]
fn an_edit_changes_that_value_and_the_mac_only() {
    let (ids, r) = id();
    let plain = "A=1\nB=2\nC=3\n";
    let s = seal(plain, Format::Dotenv, &[r]).unwrap();
    let o = open(&s, Format::Dotenv, &ids).unwrap();
    let s2 = o.reseal("A=1\nB=changed\nC=3\n").unwrap();
    let changed: Vec<(&str, &str)> = s.lines().zip(s2.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert!(changed[0].0.starts_with("B="));
    assert!(changed[1].0.starts_with("# tresor-mac: "));
}

#[test]
fn every_flipped_byte_is_refused() {
    for (f, plain) in SAMPLES {
        let (ids, r) = id();
        let s = seal(plain, *f, &[r]).unwrap();
        let b = s.as_bytes();
        for i in (0..b.len()).step_by(7) {
            let mut t = b.to_vec();
            t[i] ^= 0x01;
            let Ok(t) = String::from_utf8(t) else {
                continue;
            };
            assert!(open(&t, *f, &ids).is_err(), "{f:?}: flip at {i} accepted");
        }
        // truncated anywhere
        for cut in [s.len() / 3, s.len() / 2, s.len() - 2] {
            if let Some(t) = s.get(..cut) {
                assert!(open(t, *f, &ids).is_err(), "{f:?}: cut at {cut} accepted");
            }
        }
    }
}

#[test]
fn tampered_value_names_key_and_line() {
    let (ids, r) = id();
    let s = seal("A=1\nB=2\n", Format::Dotenv, &[r]).unwrap();
    let lines: Vec<&str> = s.lines().collect();
    let swapped = s.replacen(lines[1], &lines[1].replace("B=", "X="), 1);
    let e = open(&swapped, Format::Dotenv, &ids)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'X'") && e.contains("line 2"), "{e}");
    let b_tok = lines[1].trim_start_matches("B=");
    let moved = s.replacen(lines[0], &format!("A={b_tok}"), 1);
    let e = open(&moved, Format::Dotenv, &ids).unwrap_err().to_string();
    assert!(e.contains("'A'") && e.contains("line 1"), "{e}");
}

#[test]
fn recipients_rotation() {
    let (ids_a, a) = id();
    let (ids_b, b) = id();
    let s = seal("K=v\n", Format::Dotenv, &[a.clone(), b.clone()]).unwrap();
    let o = open(&s, Format::Dotenv, &ids_b).unwrap();
    let k1 = o.data_key_id();
    let s2 = o.with_recipients(std::slice::from_ref(&a), true).unwrap();
    assert!(matches!(
        open(&s2, Format::Dotenv, &ids_b),
        Err(SealError::NoIdentity)
    ));
    let o2 = open(&s2, Format::Dotenv, &ids_a).unwrap();
    assert_ne!(o2.data_key_id(), k1);
    assert_eq!(o2.plaintext(), "K=v\n");
}

fn git_like_merge(b: &str, o: &str, t: &str) -> std::io::Result<(String, bool)> {
    // A minimal line merge for unit tests: equal-length line lists merged line by line.
    let (bl, ol, tl): (Vec<&str>, Vec<&str>, Vec<&str>) = (
        b.lines().collect(),
        o.lines().collect(),
        t.lines().collect(),
    );
    if bl.len() != ol.len() || bl.len() != tl.len() {
        return Ok((o.to_owned(), ol == tl));
    }
    let mut out = String::new();
    let mut clean = true;
    for i in 0..bl.len() {
        let l = if ol[i] == tl[i] || tl[i] == bl[i] {
            ol[i]
        } else if ol[i] == bl[i] {
            tl[i]
        } else {
            clean = false;
            ol[i]
        };
        out.push_str(l);
        out.push('\n');
    }
    Ok((out, clean))
}

#[test]
fn merge_per_key() {
    for (f, base, ours, theirs, conflict) in [
        (
            Format::Dotenv,
            "A=1\nB=2\n",
            "A=10\nB=2\n",
            "A=1\nB=20\n",
            false,
        ),
        (
            Format::Dotenv,
            "A=1\nB=2\n",
            "A=10\nB=2\n",
            "A=11\nB=2\n",
            true,
        ),
        (
            Format::Json,
            "{\"a\": 1,\n\"b\": 2}\n",
            "{\"a\": 10,\n\"b\": 2}\n",
            "{\"a\": 1,\n\"b\": 20}\n",
            false,
        ),
        (
            Format::Yaml,
            "a: 1\nb: 2\n",
            "a: 10\nb: 2\n",
            "a: 1\nb: 20\n",
            false,
        ),
        (
            Format::Toml,
            "a = 1\nb = 2\n",
            "a = 10\nb = 2\n",
            "a = 1\nb = 20\n",
            false,
        ),
    ] {
        let (ids, r) = id();
        let sb = seal(base, f, std::slice::from_ref(&r)).unwrap();
        let ob = open(&sb, f, &ids).unwrap();
        let so = ob.reseal(ours).unwrap();
        let st = ob.reseal(theirs).unwrap();
        let m = merge::merge(Some(&sb), &so, &st, f, &ids, &mut git_like_merge).unwrap();
        let om = open(&m.text, f, &ids).unwrap();
        if conflict {
            assert_eq!(m.conflicts, vec!["A".to_string()]);
            let v = om.plaintext_view().unwrap();
            assert_eq!(
                v.as_str(),
                "<<<<<<< ours\nA=10\n=======\nA=11\n>>>>>>> theirs\nB=2\n"
            );
            assert!(matches!(om.reseal(&v), Err(SealError::ConflictMarker(1))));
            assert!(om.values().is_err());
        } else {
            assert!(m.conflicts.is_empty());
            let want = match f {
                Format::Dotenv => "A=10\nB=20\n",
                Format::Json => "{\"a\": 10,\n\"b\": 20}\n",
                Format::Yaml => "a: 10\nb: 20\n",
                Format::Toml => "a = 10\nb = 20\n",
            };
            assert_eq!(om.plaintext(), want);
        }
    }
}

#[test]
fn run_values() {
    let (ids, r) = id();
    let s = seal(
        "A=\"x\\ny\"\nB='q'\n",
        Format::Dotenv,
        std::slice::from_ref(&r),
    )
    .unwrap();
    let v = open(&s, Format::Dotenv, &ids).unwrap().values().unwrap();
    assert_eq!(v[0].1.as_str(), "x\ny");
    assert_eq!(v[1].1.as_str(), "q");
    let s = seal(
        "{\"A\": \"s\", \"N\": 1, \"o\": {\"x\": 1}}",
        Format::Json,
        &[r],
    )
    .unwrap();
    let v = open(&s, Format::Json, &ids).unwrap().values().unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].1.as_str(), "s");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn dotenv_values_round_trip(vals in proptest::collection::vec("[ -~&&[^\"\\\\]]{0,40}", 1..8)) {
        let (ids, r) = id();
        let plain: String = vals.iter().enumerate().map(|(i, v)| format!("K{i}=\"{v}\"\n")).collect();
        let s = seal(&plain, Format::Dotenv, &[r]).unwrap();
        let o = open(&s, Format::Dotenv, &ids).unwrap();
        prop_assert_eq!(o.plaintext(), plain.as_str());
        let vs = o.values().unwrap();
        for (i, v) in vals.iter().enumerate() {
            prop_assert_eq!(vs[i].1.as_str(), v.as_str());
        }
    }

    #[test]
    fn json_strings_round_trip(vals in proptest::collection::vec(any::<String>(), 1..6)) {
        let (ids, r) = id();
        let obj: serde_json::Map<String, serde_json::Value> = vals.iter().enumerate()
            .map(|(i, v)| (format!("k{i}"), serde_json::Value::String(v.clone()))).collect();
        let plain = serde_json::to_string_pretty(&obj).unwrap();
        let s = seal(&plain, Format::Json, &[r]).unwrap();
        let o = open(&s, Format::Json, &ids).unwrap();
        prop_assert_eq!(o.plaintext(), plain.as_str());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    /// Any text: the scanners answer (values or an error), never panic.
    #[test]
    fn scanners_never_panic(t in "(?s)[ -~\n\t\"'#:=\\-\\[\\]{}|>é✓]{0,200}") {
        for f in [Format::Dotenv, Format::Json, Format::Yaml, Format::Toml] {
            let _ = f.scan(&t);
            let _ = is_sealed(&t, f);
        }
    }

    /// A sealed file with a span of bytes replaced: refused, never a panic, never a wrong value.
    #[test]
    fn mutated_files_are_refused(i in 0usize..10_000, len in 1usize..8, fill in "[ -~\n]{1,8}") {
        let (ids, r) = id();
        for (f, plain) in SAMPLES {
            let s = seal(plain, *f, std::slice::from_ref(&r)).unwrap();
            let at = i % s.len();
            let end = (at + len).min(s.len());
            if !s.is_char_boundary(at) || !s.is_char_boundary(end) || s[at..end] == fill {
                continue;
            }
            let mut t = s.clone();
            t.replace_range(at..end, &fill);
            if t == s {
                continue;
            }
            prop_assert!(open(&t, *f, &ids).is_err(), "{:?}: mutation at {} accepted", f, at);
        }
    }
}
