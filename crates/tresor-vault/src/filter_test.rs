use super::*;
use proptest::prelude::*;

fn f(s: &str) -> Filter {
    match Filter::new(s) {
        Ok(f) => f,
        Err(e) => panic!("filter {s:?} should parse: {e}"),
    }
}

fn err(s: &str) -> FilterError {
    match Filter::new(s) {
        Ok(f) => panic!("filter {s:?} should fail, got {f:?}"),
        Err(e) => e,
    }
}

#[test]
fn one_part_is_key() {
    let x = f("FOO");
    assert!(x.is_match("a", "b", "FOO"));
    assert!(x.is_match("*", "*", "FOO"));
    assert!(!x.is_match("a", "b", "FOOX"));
    assert!(x.app().is_any() && x.env().is_any());
}

#[test]
fn two_parts_are_app_env() {
    let x = f("myapp:dev");
    assert!(x.is_match("myapp", "dev", "ANY"));
    assert!(!x.is_match("myapp", "prod", "ANY"));
    assert!(!x.is_match("other", "dev", "ANY"));
    assert!(x.key().is_any());
}

#[test]
fn three_parts() {
    let x = f("myapp:dev:KEY");
    assert!(x.is_match("myapp", "dev", "KEY"));
    assert!(!x.is_match("myapp", "dev", "KEY2"));
    assert!(x.is_exact());
}

#[test]
fn empty_parts_match_anything() {
    for s in ["", ":", "::", ":dev:", "::KEY", "app::"] {
        let x = f(s);
        assert!(x.is_match("app", "dev", "KEY"), "{s}");
    }
    assert!(!f(":dev:").is_match("app", "prod", "KEY"));
    assert!(f("").is_match("", "", "x"));
}

#[test]
fn sql_like_chars_are_literal() {
    // seeqret translated globs to SQL LIKE, so `_` matched any character.
    let x = f("DB_*");
    assert!(x.is_match("a", "b", "DB_PASS"));
    assert!(x.is_match("a", "b", "DB_"));
    assert!(!x.is_match("a", "b", "DBXPASS"));
    assert!(!x.is_match("a", "b", "db_pass"));
    let pct = f("A%B");
    assert!(pct.is_match("a", "b", "A%B"));
    assert!(!pct.is_match("a", "b", "AxyzB"));
    assert!(!pct.is_match("a", "b", "AB"));
    let dot = f("A.B");
    assert!(!dot.is_match("a", "b", "AxB"));
    let bs = f(r"A\*");
    assert!(bs.is_match("a", "b", r"A\"));
    assert!(bs.is_match("a", "b", r"A\xyz"));
}

#[test]
fn case_sensitive() {
    assert!(!f("::key").is_match("a", "b", "KEY"));
    assert!(!f("App:Dev:").is_match("app", "dev", "K"));
}

#[test]
fn question_mark_is_one_char() {
    let x = f("API_?EY");
    assert!(x.is_match("", "", "API_KEY"));
    assert!(x.is_match("", "", "API_ÆEY"));
    assert!(!x.is_match("", "", "API_EY"));
    assert!(!x.is_match("", "", "API_KKEY"));
}

#[test]
fn classes() {
    let x = f("K[abc]");
    assert!(x.is_match("", "", "Ka"));
    assert!(x.is_match("", "", "Kc"));
    assert!(!x.is_match("", "", "Kd"));
    assert!(!x.is_match("", "", "K"));
    let r = f("K[a-z0-9]");
    assert!(r.is_match("", "", "Kq"));
    assert!(r.is_match("", "", "K5"));
    assert!(!r.is_match("", "", "KQ"));
    let n = f("K[!x]");
    assert!(n.is_match("", "", "Ky"));
    assert!(!n.is_match("", "", "Kx"));
    assert!(!n.is_match("", "", "K"));
    let caret = f("K[^x]");
    assert!(caret.is_match("", "", "Ky"));
    assert!(!caret.is_match("", "", "Kx"));
    let close = f("K[]x]");
    assert!(close.is_match("", "", "K]"));
    assert!(close.is_match("", "", "Kx"));
    let dash = f("K[a-]");
    assert!(dash.is_match("", "", "K-"));
    assert!(dash.is_match("", "", "Ka"));
    assert!(!dash.is_match("", "", "Kb"));
    let lit = f("A[*]");
    assert!(lit.is_match("", "", "A*"));
    assert!(!lit.is_match("", "", "Ax"));
    let comma = f("A[,]B");
    assert!(comma.is_match("", "", "A,B"));
    assert_eq!(comma.key().globs().len(), 1);
}

#[test]
fn stars() {
    let x = f("*_PASS*WORD");
    assert!(x.is_match("", "", "DB_PASSWORD"));
    assert!(x.is_match("", "", "_PASSWORD"));
    assert!(x.is_match("", "", "X_PASS_X_WORD"));
    assert!(!x.is_match("", "", "DB_PASSWOR"));
    assert!(f("a**b").is_match("", "", "ab"));
    assert!(f("*a*a*a*a*b").is_match("", "", "aaaaaaaaaaaaaaaaab"));
    assert!(!f("*a*a*a*a*b").is_match("", "", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    // A lone star is "any".
    assert!(f("*:*:*").app().is_any());
    assert!(f("x,*").app().is_any() || f("x,*").key().is_any());
}

#[test]
fn comma_alternatives() {
    let x = f("app1,app2:dev:X");
    assert!(x.is_match("app1", "dev", "X"));
    assert!(x.is_match("app2", "dev", "X"));
    assert!(!x.is_match("app3", "dev", "X"));
    assert_eq!(x.app().literals(), Some(vec!["app1", "app2"]));
    let g = f(":dev,prod:DB_*,API_KEY");
    assert!(g.is_match("a", "prod", "API_KEY"));
    assert!(g.is_match("a", "dev", "DB_X"));
    assert!(!g.is_match("a", "test", "DB_X"));
}

#[test]
fn error_messages_and_columns() {
    let e = err("a:b:c:d");
    assert_eq!(e.kind, FilterErrorKind::TooManyParts);
    assert_eq!(e.column, 6);
    assert_eq!(
        e.to_string(),
        "error parsing filter 'a:b:c:d': too many ':' parts at column 6"
    );
    let e = err("app:dev:[abc");
    assert_eq!(e.kind, FilterErrorKind::UnclosedClass);
    assert_eq!(e.column, 9);
    assert_eq!(
        e.to_string(),
        "error parsing filter 'app:dev:[abc': unclosed character class; missing ']' at column 9"
    );
    let e = err("ab:[z-a]");
    assert_eq!(
        e.kind,
        FilterErrorKind::InvalidRange {
            start: 'z',
            end: 'a'
        }
    );
    assert_eq!(e.column, 5);
    let e = err("a,,b:x");
    assert_eq!(
        e.kind,
        FilterErrorKind::EmptyAlternative {
            part: NamePart::App
        }
    );
    assert_eq!(e.column, 3);
    let e = err("x:y:K,");
    assert_eq!(e.column, 7);
    let e = err("æø:y:K\n");
    assert_eq!(e.kind, FilterErrorKind::ControlChar { ch: '\n' });
    assert_eq!(e.column, 7);
    assert!(e.to_string().contains("'æø:y:K\\n'"), "{e}");
    // Column counts characters, not bytes.
    let e = err("æææ:b:c:d");
    assert_eq!(e.column, 8);
    assert!(err("[]").kind == FilterErrorKind::UnclosedClass);
    assert!(err("[!]").kind == FilterErrorKind::UnclosedClass);
}

#[test]
fn literal_parts_and_prefixes() {
    let x = f("app:dev:DB_*");
    let l = x.literal_parts();
    assert_eq!(l.app, Some("app"));
    assert_eq!(l.env, Some("dev"));
    assert_eq!(l.key, None);
    assert_eq!(x.key().prefixes(), Some(vec!["DB_"]));
    assert!(!x.is_exact());
    let y = f("a,b::*X");
    assert_eq!(y.literal_parts(), LiteralParts::default());
    assert_eq!(y.key().prefixes(), None);
    assert_eq!(y.key().literals(), None);
    assert_eq!(y.app().literals(), Some(vec!["a", "b"]));
    assert_eq!(f("K").literal_parts().key, Some("K"));
}

#[test]
fn display_and_from_str() {
    let x: Filter = match "a:b:C*".parse() {
        Ok(x) => x,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(x.to_string(), "a:b:C*");
    assert_eq!(x.as_str(), "a:b:C*");
    assert_eq!(x.key().globs()[0].to_string(), "C*");
}

#[test]
fn filter_set() {
    let set = match FilterSet::new(["a:dev:", "::X*"]) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(set.len(), 2);
    assert!(set.is_match("a", "dev", "Q"));
    assert!(set.is_match("b", "prod", "XY"));
    assert!(!set.is_match("b", "prod", "Y"));
    assert_eq!(set.matches("a", "dev", "X1"), vec![0, 1]);
    assert!(!FilterSet::empty().is_match("a", "b", "c"));
    assert!(FilterSet::empty().is_empty());
    assert_eq!(
        FilterSet::new(["ok", "a:b:c:d"])
            .map(|_| ())
            .unwrap_err()
            .column,
        6
    );
    let collected: FilterSet = [f("A"), f("B")].into_iter().collect();
    assert!(collected.is_match("", "", "B"));
}

#[test]
fn names() {
    assert!(validate_full_name("app", "dev", "KEY").is_ok());
    assert!(validate_full_name("", "", "KEY").is_ok());
    assert!(validate_full_name("*", "*", "KEY").is_ok());
    assert!(validate_full_name("my app", "dev", "KEY X").is_ok());
    let e = validate_name(NamePart::Key, "").map(|_| ()).unwrap_err();
    assert_eq!(e.kind, NameErrorKind::Empty);
    assert_eq!(e.to_string(), "invalid KEY name '': must not be empty");
    let e = validate_name(NamePart::App, "a:b").map(|_| ()).unwrap_err();
    assert_eq!(e.kind, NameErrorKind::Colon);
    let e = validate_name(NamePart::Env, "  ").map(|_| ()).unwrap_err();
    assert_eq!(e.kind, NameErrorKind::WhitespaceOnly);
    let e = validate_name(NamePart::Key, "A\u{7}")
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.kind, NameErrorKind::ControlChar);
    assert_eq!(
        e.to_string(),
        "invalid KEY name 'A\\u{7}': must not contain control characters"
    );
}

/// Reference matcher: plain recursion over characters (exponential in the
/// worst case, fine for the small inputs proptest makes).
fn reference(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => (0..=s.len()).any(|i| reference(rest, &s[i..])),
        Some(('?', rest)) => !s.is_empty() && reference(rest, &s[1..]),
        Some(('[', rest)) => {
            // Parse the class the same way the grammar describes it.
            let mut i = 0;
            let neg = matches!(rest.first(), Some('!' | '^'));
            if neg {
                i += 1;
            }
            let mut members: Vec<(char, char)> = Vec::new();
            let mut first = true;
            loop {
                let Some(&m) = rest.get(i) else { return false };
                if m == ']' && !first {
                    i += 1;
                    break;
                }
                first = false;
                if rest.get(i + 1) == Some(&'-') && rest.get(i + 2).is_some_and(|&h| h != ']') {
                    members.push((m, rest[i + 2]));
                    i += 3;
                } else {
                    members.push((m, m));
                    i += 1;
                }
            }
            match s.split_first() {
                Some((&c, srest)) => {
                    members.iter().any(|&(lo, hi)| lo <= c && c <= hi) != neg
                        && reference(&rest[i..], srest)
                }
                None => false,
            }
        }
        Some((&c, rest)) => s.first() == Some(&c) && reference(rest, &s[1..]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics(input in "\\PC{0,40}", app in "\\PC{0,8}", env in "\\PC{0,8}", key in "\\PC{0,12}") {
        if let Ok(x) = Filter::new(&input) {
            let _ = x.is_match(&app, &env, &key);
            let _ = x.literal_parts();
            for w in [NamePart::App, NamePart::Env, NamePart::Key] {
                let _ = x.part(w).prefixes();
                for g in x.part(w).globs() {
                    let _ = g.to_sqlite_glob();
                }
            }
        }
    }

    #[test]
    fn never_panics_any_chars(input in any::<String>()) {
        match Filter::new(&input) {
            Ok(x) => { let _ = x.is_match("a", "b", &input); }
            Err(e) => {
                prop_assert!(e.column >= 1 && e.column <= input.chars().count() + 1);
                let _ = e.to_string();
            }
        }
    }

    #[test]
    fn glob_syntax_never_panics(input in "[a-c*?\\[\\]!^,:-]{0,24}", key in "[a-c\\]\\[!^,-]{0,10}") {
        if let Ok(x) = Filter::new(&input) {
            let _ = x.is_match(&key, &key, &key);
        }
    }

    #[test]
    fn matches_reference(pat in "[ab*?_%]{1,8}|[ab]{0,2}\\[!?[ab\\]-]{1,3}\\][ab*]{0,3}", key in "[ab_%\\]-]{0,10}") {
        prop_assume!(!pat.contains(','));
        if let Ok(x) = Filter::new(&pat) {
            let p: Vec<char> = pat.chars().collect();
            let s: Vec<char> = key.chars().collect();
            prop_assert_eq!(x.is_match("", "", &key), reference(&p, &s), "pattern {} key {}", pat, key);
        }
    }

    #[test]
    fn literal_filters_match_themselves(key in "[A-Za-z0-9_%.-]{1,20}") {
        let x = Filter::new(&key).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(x.is_match("any", "env", &key));
        prop_assert_eq!(x.literal_parts().key, Some(key.as_str()));
    }
}

/// The SQLite translation must mean the same as the matcher, so a store can
/// push filters into `GLOB`.
mod sqlite_glob {
    use super::*;

    fn sqlite_match(conn: &rusqlite::Connection, pattern: &str, s: &str) -> bool {
        conn.query_row("select ?1 glob ?2", [s, pattern], |r| r.get::<_, bool>(0))
            .expect("glob query")
    }

    #[test]
    fn examples() {
        let conn = rusqlite::Connection::open_in_memory().expect("sqlite");
        for (pat, sql) in [
            ("DB_*", "DB_*"),
            ("A[*]?", "A[*]?"),
            ("x[!a-c]", "x[^a-c]"),
            ("K[]x]", "K[]x]"),
            ("K[a-]", "K[a-]"),
            ("K[+--]", "K[+-,-]"),
            ("K[!]-a]", "K[^]_-a^]"),
            ("K[-^]", "K[-^]"),
            ("K[!^]", "K[^^]"),
        ] {
            let f = Filter::new(pat).expect("parse");
            let g = &f.key().globs()[0];
            assert_eq!(g.to_sqlite_glob(), sql, "{pat}");
        }
        assert!(sqlite_match(&conn, "K[]x]", "K]"));
        assert!(!sqlite_match(&conn, "DB_*", "DBXPASS"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn same_as_sqlite(pat in "([ab*?%_\\]\\[!^-]|\\[!?[ab\\]^-]{1,3}\\]){1,6}", key in "[ab_%*?\\]\\[!^-]{0,8}") {
            let Ok(f) = Filter::new(&pat) else { return Ok(()) };
            let conn = rusqlite::Connection::open_in_memory().expect("sqlite");
            match f.key() {
                Part::Any => {}
                Part::Alternatives(globs) => {
                    for g in globs {
                        let sql = g.to_sqlite_glob();
                        prop_assert_eq!(g.is_match(&key), sqlite_match(&conn, &sql, &key),
                            "glob {} sql {} key {}", g, sql, key);
                    }
                }
            }
        }
    }
}
