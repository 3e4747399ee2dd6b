use super::*;
use proptest::prelude::*;

fn ok(text: &str) -> Vec<(String, String)> {
    match parse(text) {
        Ok(v) => v
            .into_iter()
            .map(|e| (e.name.clone(), e.value().to_owned()))
            .collect(),
        Err(e) => panic!("{text:?} should parse: {e}"),
    }
}

fn bad(text: &str) -> DotenvError {
    match parse(text) {
        Ok(v) => panic!("{text:?} should fail, got {v:?}"),
        Err(e) => e,
    }
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn render_single_quotes_when_safe() {
    assert_eq!(&*render_value("abc"), "'abc'");
    assert_eq!(&*render_value(""), "''");
    assert_eq!(&*render_value("a $HOME # \"x\""), "'a $HOME # \"x\"'");
}

#[test]
fn render_double_quotes_otherwise() {
    assert_eq!(&*render_value("it's"), "\"it's\"");
    assert_eq!(&*render_value("a\\\\b"), "\"a\\\\\\\\b\"");
    assert_eq!(&*render_value("end\\"), "\"end\\\\\"");
    assert_eq!(&*render_value("l1\nl2\r\n"), "\"l1\\nl2\\r\\n\"");
    assert_eq!(&*render_value("'\"$"), "\"'\\\"$\"");
}

#[test]
fn render_single_quotes_lone_backslash_and_newline() {
    assert_eq!(&*render_value("a\\b"), "'a\\b'");
    assert_eq!(&*render_value("l1\nl2 $X"), "'l1\nl2 $X'");
}

#[test]
fn hazards_tell_parsers_apart() {
    assert!(hazards("plain $HOME \"q\" a\\b\nx").is_none());
    assert_eq!(
        hazards("${X}"),
        Hazards {
            python_interpolation: true,
            node: false
        }
    );
    assert!(hazards("it's $HOME").node);
    assert!(hazards("it's \"q\"").node);
    assert!(!hazards("it's\r\nfine").node);
}

#[test]
fn render_lines() {
    let out = render([("A", "1"), ("B", "x y")]);
    assert_eq!(&*out, "A='1'\nB='x y'\n");
    assert!(interpolation_hazard("a${B}"));
    assert!(!interpolation_hazard("a$B"));
}

#[test]
fn parse_basics() {
    let text = "# comment\n\nA=1\nexport B = two words  # trailing\nC=\"q\\\"x\\ny\" # c\nD='lit\\n'\nE=\nF= # only comment\nG=#hash\nH=a#b\n";
    assert_eq!(
        ok(text),
        pairs(&[
            ("A", "1"),
            ("B", "two words"),
            ("C", "q\"x\ny"),
            ("D", "lit\\n"),
            ("E", ""),
            ("F", ""),
            ("G", "#hash"),
            ("H", "a#b"),
        ])
    );
}

#[test]
fn parse_multiline_and_crlf() {
    let text = "A=\"line1\nline2\"\r\nB='x\r\ny'\r\nC=3";
    let v = parse(text).unwrap_or_default();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0].value(), "line1\nline2");
    assert_eq!(v[1].value(), "x\r\ny");
    assert_eq!((v[2].name.as_str(), v[2].value(), v[2].line), ("C", "3", 5));
}

#[test]
fn parse_escapes_like_python_dotenv() {
    assert_eq!(ok(r#"A="\t\\\'\x""#), pairs(&[("A", "\t\\'\\x")]));
    assert_eq!(ok(r"A='\\ \' \t'"), pairs(&[("A", "\\ ' \\t")]));
    assert_eq!(ok("\u{feff}A=1"), pairs(&[("A", "1")]));
    assert_eq!(ok("exportX=1"), pairs(&[("exportX", "1")]));
    assert_eq!(ok("export=1"), pairs(&[("export", "1")]));
}

#[test]
fn parse_errors_have_lines() {
    let e = bad("A=1\n\nNOEQUALS\n");
    assert_eq!(e.line, 3);
    assert_eq!(
        e.to_string(),
        "error parsing .env at line 3: expected '=' after name 'NOEQUALS'"
    );
    let e = bad("A=1\nB=\"open\nstill\n");
    assert_eq!(e.line, 2);
    assert_eq!(
        e.to_string(),
        "error parsing .env at line 2: unterminated double-quoted value of 'B'"
    );
    assert_eq!(
        bad("A='x' y").kind,
        DotenvErrorKind::TrailingText("A".into())
    );
    assert_eq!(bad("=x").kind, DotenvErrorKind::MissingName);
    let e = bad("A=1\nA=2\n");
    assert_eq!(e.line, 2);
    assert_eq!(
        e.kind,
        DotenvErrorKind::Duplicate {
            name: "A".into(),
            first_line: 1
        }
    );
    let e = bad("a:b=1");
    assert!(matches!(e.kind, DotenvErrorKind::InvalidName(_)), "{e}");
    assert!(bad("A=\"x\\").to_string().contains("unterminated"));
}

#[test]
fn errors_and_debug_never_show_values() {
    let e = bad("A=\"supersecret");
    assert!(!e.to_string().contains("supersecret"));
    let v = parse("A=supersecret").unwrap_or_default();
    assert!(!format!("{v:?}").contains("supersecret"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn round_trip(values in proptest::collection::vec(any::<String>(), 1..5)) {
        let named: Vec<(String, String)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("K{i}"), v.clone()))
            .collect();
        let text = render(named.iter().map(|(a, b)| (a, b)));
        let back = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: Vec<(String, String)> = back.into_iter().map(|e| (e.name.clone(), e.value().to_owned())).collect();
        prop_assert_eq!(back, named);
    }

    #[test]
    fn round_trip_tricky(v in "[a'\"\\\\$#\n\r \t{}=]{0,16}") {
        let text = render([("K", v.as_str())]);
        let back = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.len(), 1);
        prop_assert_eq!(back[0].value(), v.as_str());
    }

    #[test]
    fn parse_never_panics(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn parse_never_panics_dotenvish(text in "(export |#|[A-Z]{1,3}|=|'|\"|\\\\|\n|\r| |x){0,30}") {
        let _ = parse(&text);
    }
}

/// Checks the rendering against the real python-dotenv, when
/// `TRESOR_SEEQRET_PY` names a python that has it.
#[test]
fn python_dotenv_reads_what_we_write() {
    let Some(py) = std::env::var_os("TRESOR_SEEQRET_PY") else {
        eprintln!("skipped: set TRESOR_SEEQRET_PY to a python with python-dotenv");
        return;
    };
    let values = [
        "plain",
        "",
        "with space",
        "a $HOME and $X",
        "hash # not comment",
        "#start",
        "it's",
        "\"double\"",
        "back\\slash",
        "multi\nline\r\nvalue",
        "all: ' \" \\ $ # \n \t {} =",
        "ünïcødé ✓",
        "trailing space ",
        " leading",
        "lone \\ backslash",
        "pair \\\\ of them",
        "ends in \\",
        "raw\nnewline $X",
        "cr\ronly",
    ];
    let named: Vec<(String, &str)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("K{i}"), *v))
        .collect();
    let text = render(named.iter().map(|(a, b)| (a, b)));
    let dir = std::env::temp_dir().join(format!("tresor-dotenv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(".env");
    std::fs::write(&path, text.as_bytes()).expect("write .env");
    let script = "import sys, json\nfrom dotenv import dotenv_values\n\
                  print(json.dumps(dotenv_values(sys.argv[1], interpolate=False)))";
    let out = std::process::Command::new(py)
        .args(["-c", script])
        .arg(&path)
        .output()
        .expect("run python");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: std::collections::BTreeMap<String, Option<String>> =
        serde_json::from_slice(&out.stdout).expect("json from python");
    for (name, value) in &named {
        assert_eq!(
            got.get(name),
            Some(&Some(value.to_string())),
            "value of {name}"
        );
    }
    assert_eq!(got.len(), named.len());
}

/// Checks the rendering against node's dotenv and dotenvx, when
/// `TRESOR_NODE_DOTENV_DIR` names a folder whose `node_modules` has
/// `dotenv` and `@dotenvx/dotenvx`: every value they should read back
/// exactly (no [`Hazards::node`]) must come back unchanged.
#[test]
fn node_dotenv_reads_what_we_write() {
    let Some(dir) = std::env::var_os("TRESOR_NODE_DOTENV_DIR") else {
        eprintln!(
            "skipped: set TRESOR_NODE_DOTENV_DIR to a folder with node_modules/{{dotenv,@dotenvx/dotenvx}}"
        );
        return;
    };
    let values = [
        "plain",
        "",
        "with space",
        "a $HOME and $X and ${Y}",
        "hash # not comment",
        "#start",
        "\"double\"",
        "lone \\ backslash",
        "raw\nnewline $X",
        "it's\nfine",
        "cr\r\nlines",
        "ünïcødé ✓",
        "trailing space ",
        // These need double quotes and carry \\, \" or $: node-hazardous.
        "it's $HOME",
        "pair \\\\ of them",
    ];
    let named: Vec<(String, &str)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("K{i}"), *v))
        .collect();
    let text = render(named.iter().map(|(a, b)| (a, b)));
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join(".env");
    std::fs::write(&path, text.as_bytes()).expect("write .env");
    let script = "const fs=require('fs'); const src=fs.readFileSync(process.argv[1],'utf8');\
                  console.log(JSON.stringify({dotenv: require('dotenv').parse(src),\
                  dotenvx: require('@dotenvx/dotenvx').parse(src, {processEnv: {HOME: '/h', X: 'x'}})}));";
    let out = std::process::Command::new("node")
        .current_dir(&dir)
        .args(["-e", script])
        .arg(&path)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json from node");
    let mut hazardous = 0;
    for (name, value) in &named {
        if hazards(value).node {
            hazardous += 1;
            continue;
        }
        for parser in ["dotenv", "dotenvx"] {
            assert_eq!(
                got[parser][name].as_str(),
                Some(*value),
                "{parser}: value of {name}"
            );
        }
    }
    assert_eq!(hazardous, 2);
}

/// Found by the `dotenv` fuzz target: a name starting with a byte-order mark on a later line
/// parsed as `\u{feff}A`, and rendered first in a file it read back as `A`.
#[test]
fn a_name_with_a_byte_order_mark_is_refused() {
    let e = bad("\n\u{feff}A=\u{5}JBMU");
    assert_eq!(e.line, 2);
    assert!(matches!(e.kind, DotenvErrorKind::ByteOrderMark(ref n) if n == "\u{feff}A"));
    assert!(matches!(
        bad("A\u{feff}B=1").kind,
        DotenvErrorKind::ByteOrderMark(_)
    ));
    // A byte-order mark that starts the file is still skipped.
    assert_eq!(ok("\u{feff}A=1"), pairs(&[("A", "1")]));
}
