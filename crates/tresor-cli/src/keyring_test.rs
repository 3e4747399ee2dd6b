//! `tresor keyring` commands run in process on in-memory streams (moved from
//! tresor-keyring's `tests/kernel.rs` with the command).

use std::time::Duration;

use super::{CreateArg, Io, KeyringCommand, parse_timeout, run_with};
use tresor_keyring::{KeyringError, Ring};

fn uniq(test: &str) -> String {
    format!("tresor-it-{test}-{}", std::process::id())
}

fn cli(cmd: KeyringCommand, json: bool, stdin: &[u8]) -> (Result<u8, KeyringError>, Vec<u8>) {
    let mut input = stdin;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut io = Io {
        stdin: &mut input,
        stdin_is_tty: false,
        stdout: &mut stdout,
        stderr: &mut stderr,
    };
    let r = run_with(cmd, json, &mut io).map(|c| {
        if c == std::process::ExitCode::SUCCESS {
            0
        } else {
            2
        }
    });
    (r, stdout)
}

#[test]
fn cli_commands_in_process() {
    let name = uniq("cli");
    let ring = Ring::Process;
    let (r, out) = cli(
        KeyringCommand::Set {
            name: name.clone(),
            ring: ring.clone(),
            timeout: Some("10m".into()),
            logon: false,
            create: CreateArg::Always,
        },
        false,
        b"from-stdin",
    );
    assert_eq!(r.unwrap(), 0);
    let id: i32 = String::from_utf8(out).unwrap().trim().parse().unwrap();

    let (r, out) = cli(
        KeyringCommand::Get {
            name: name.clone(),
            ring: ring.clone(),
        },
        false,
        b"",
    );
    assert_eq!(r.unwrap(), 0);
    assert_eq!(out, b"from-stdin");

    let (r, out) = cli(
        KeyringCommand::Search {
            name: name.clone(),
            ring: ring.clone(),
            recurse: false,
            logon: false,
        },
        true,
        b"",
    );
    assert_eq!(r.unwrap(), 0);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["id"], id);
    assert_eq!(v["type"], "user");

    let (r, out) = cli(KeyringCommand::List { ring: ring.clone() }, true, b"");
    assert_eq!(r.unwrap(), 0);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == name.as_str())
    );

    let (r, _) = cli(
        KeyringCommand::Invalidate {
            name: name.clone(),
            ring: ring.clone(),
        },
        false,
        b"",
    );
    assert_eq!(r.unwrap(), 0);
    let (r, out) = cli(
        KeyringCommand::Get {
            name: name.clone(),
            ring,
        },
        false,
        b"",
    );
    let e = r.unwrap_err();
    assert!(e.is_not_found());
    assert!(out.is_empty());
}

#[test]
fn timeouts_parse() {
    assert_eq!(parse_timeout("10m").unwrap(), Duration::from_secs(600));
    assert_eq!(parse_timeout("45").unwrap(), Duration::from_secs(45));
    assert_eq!(parse_timeout("1d").unwrap(), Duration::from_secs(86400));
    for bad in [
        "",
        "m",
        "0",
        "-1s",
        "1.5h",
        "10x",
        "1 m",
        "99999999999999999999d",
    ] {
        let e = parse_timeout(bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "invalid timeout '{bad}': expected a number with an optional unit s, m, h or d (e.g. 10m)"
            )
        );
    }
}
