use super::*;

type Db = [(&'static str, &'static str, &'static str, &'static str)];

const DB: &Db = &[
    ("app", "dev", "DB_USER", "dev-user"),
    ("app", "dev", "DB_PASS", "dev-pass"),
    ("app", "prod", "DB_PASS", "prod-pass"),
    ("*", "local", "FOO", "local-foo"),
    ("other", "dev", "API_KEY", "k"),
];

fn lookup(db: &Db) -> impl FnMut(&Filter) -> Vec<(String, Zeroizing<String>)> + '_ {
    move |f| {
        db.iter()
            .filter(|(a, e, k, _)| f.is_match(a, e, k))
            .map(|(_, _, k, v)| (k.to_string(), Zeroizing::new(v.to_string())))
            .collect()
    }
}

fn parse(text: &str) -> Template {
    match Template::parse(text) {
        Ok(t) => t,
        Err(e) => panic!("{text:?} should parse: {e}"),
    }
}

fn parse_err(text: &str) -> TemplateError {
    match Template::parse(text) {
        Ok(t) => panic!("{text:?} should fail, got {t:?}"),
        Err(e) => e,
    }
}

fn render(text: &str) -> Result<Vec<(String, String)>, TemplateError> {
    parse(text)
        .render(lookup(DB))
        .map(|v| v.into_iter().map(|(n, v)| (n, v.to_string())).collect())
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn seeqret_help_example() {
    let text = "@seeqret>=0.3\n# Database credentials\napp:dev:DB_*\n:local:\n\
                # Rename\nLOCAL_FOO=:local:FOO\nNODE_ENV=production\nDEBUG=false\n\
                BETTER_AUTH_URL=\"http://localhost:5176\"\n";
    let t = parse(text);
    assert_eq!(t.pins().len(), 1);
    assert!(t.check_pins("0.1.0").is_ok());
    assert_eq!(
        render(text).unwrap_or_default(),
        pairs(&[
            ("DB_USER", "dev-user"),
            ("DB_PASS", "dev-pass"),
            ("FOO", "local-foo"),
            ("LOCAL_FOO", "local-foo"),
            ("NODE_ENV", "production"),
            ("DEBUG", "false"),
            ("BETTER_AUTH_URL", "http://localhost:5176"),
        ])
    );
}

#[test]
fn rename_vs_constant() {
    let t = parse("A=:dev:X\nB=X\nC='a:b'\nD = \"q\"\nE=\nF=\"\nG=x=y");
    let d: Vec<&Directive> = t.directives().iter().map(|(_, d)| d).collect();
    assert!(
        matches!(d[0], Directive::Rename { name, filter } if name == "A" && filter.as_str() == ":dev:X")
    );
    assert!(matches!(d[1], Directive::Constant { name, value } if name == "B" && value == "X"));
    assert!(matches!(d[2], Directive::Constant { value, .. } if value == "a:b"));
    assert!(matches!(d[3], Directive::Constant { name, value } if name == "D" && value == "q"));
    assert!(matches!(d[4], Directive::Constant { value, .. } if value.is_empty()));
    assert!(matches!(d[5], Directive::Constant { value, .. } if value == "\""));
    assert!(matches!(d[6], Directive::Constant { value, .. } if value == "x=y"));
    assert_eq!(t.directives()[6].0, 7);
}

#[test]
fn rename_needs_exactly_one_match() {
    let e = render("P=app::DB_PASS").map(|_| ()).unwrap_err();
    assert_eq!(e.line, 1);
    assert_eq!(
        e.to_string(),
        "error in env.template at line 1: filter 'app::DB_PASS' for 'P' must match one secret, but matched 2"
    );
    let e = render("# x\nP=app:dev:NOPE").map(|_| ()).unwrap_err();
    assert!(matches!(
        e.kind,
        TemplateErrorKind::RenameMatches { count: 0, .. }
    ));
    assert_eq!(e.line, 2);
    assert_eq!(
        render("P=app:prod:DB_PASS").unwrap_or_default(),
        pairs(&[("P", "prod-pass")])
    );
}

#[test]
fn duplicates_are_errors() {
    let e = render("app::DB_PASS").map(|_| ()).unwrap_err();
    assert_eq!(
        e.kind,
        TemplateErrorKind::Duplicate {
            name: "DB_PASS".into(),
            first_line: 1
        }
    );
    let e = render("FOO=1\n\n:local:FOO").map(|_| ()).unwrap_err();
    assert_eq!(e.line, 3);
    assert_eq!(
        e.to_string(),
        "error in env.template at line 3: duplicate output name 'FOO' (first on line 1)"
    );
}

#[test]
fn unmatched_filter_lines_are_fine() {
    assert_eq!(
        render("nothing:here:X\nA=1").unwrap_or_default(),
        pairs(&[("A", "1")])
    );
}

#[test]
fn bad_lines() {
    let e = parse_err("ok\n@include other\n");
    assert_eq!(e.line, 2);
    assert_eq!(
        e.to_string(),
        "error in env.template at line 2: unknown directive '@include other' (expected e.g. @seeqret>=1.0 or @tresor>=0.1)"
    );
    let e = parse_err("a:b:c:d");
    assert!(
        e.to_string().contains("too many ':' parts at column 6"),
        "{e}"
    );
    let e = parse_err("\n\nX=a:b:[");
    assert_eq!(e.line, 3);
    assert!(matches!(
        parse_err("MY VAR=1").kind,
        TemplateErrorKind::InvalidName(_)
    ));
    assert!(matches!(
        parse_err("=1").kind,
        TemplateErrorKind::InvalidName(_)
    ));
    assert!(matches!(
        parse_err("@seeqret=>1").kind,
        TemplateErrorKind::UnknownDirective(_)
    ));
    assert!(matches!(
        parse_err("@seeqret>=").kind,
        TemplateErrorKind::UnknownDirective(_)
    ));
    assert!(matches!(
        parse_err("@seeqret>=1.0 extra").kind,
        TemplateErrorKind::UnknownDirective(_)
    ));
}

#[test]
fn pins() {
    let t = parse("@SEEQRET >= 0.3\n@tresor>0.0.9\n@seeqret<2\n@seeqret!=1.0.4\n@tresor==0.1");
    assert_eq!(t.pins().len(), 5);
    assert!(t.check_pins("0.1.0").is_ok());
    let e = t.check_pins("0.2").map(|_| ()).unwrap_err();
    assert_eq!(e.line, 5);
    assert_eq!(
        e.to_string(),
        "error in env.template at line 5: template requires tresor==0.1, but this is tresor 0.2"
    );
    let e = parse("# first\n@seeqret>=9.0")
        .check_pins("0.1.0")
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.line, 2);
    assert!(
        e.to_string()
            .contains("requires seeqret>=9.0, but this is seeqret 1.0.5")
    );
    assert!(parse("@seeqret<=1.0.5").check_pins("0").is_ok());
    assert!(parse("@seeqret<1.0.5").check_pins("0").is_err());
}

#[test]
fn version_compare() {
    use std::cmp::Ordering::*;
    assert_eq!(compare_versions("1.0", "1.0.0"), Equal);
    assert_eq!(compare_versions("1.10", "1.9"), Greater);
    assert_eq!(compare_versions("0.3a", "0.3"), Equal);
    assert_eq!(compare_versions("2", "10"), Less);
    assert_eq!(compare_versions("99999999999999999999999", "1"), Greater);
}

#[test]
fn try_render_passes_lookup_errors() {
    #[derive(Debug, PartialEq)]
    enum MyErr {
        Lookup,
        Template(TemplateError),
    }
    impl From<TemplateError> for MyErr {
        fn from(e: TemplateError) -> Self {
            MyErr::Template(e)
        }
    }
    let t = parse("A=1\n::X");
    let r = t.try_render(|_| Err::<Vec<(String, Zeroizing<String>)>, _>(MyErr::Lookup));
    assert_eq!(r.map(|_| ()), Err(MyErr::Lookup));
    let r = parse("A=1\nA=2").try_render(|_| Ok::<_, MyErr>(vec![]));
    assert!(matches!(r, Err(MyErr::Template(_))));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            if let Ok(t) = Template::parse(&text) {
                let _ = t.check_pins("0.1.0");
                let _ = t.render(lookup(DB));
            }
        }

        #[test]
        fn parse_never_panics_templateish(text in "(@seeqret|@tresor|>=|==|<|#|[A-Z]{1,3}|=|:|\\*|'|\"|\n| |[0-9.]{1,4}){0,30}") {
            if let Ok(t) = Template::parse(&text) {
                let _ = t.check_pins("0.1.0");
                let _ = t.render(lookup(DB));
            }
        }
    }
}
