use std::path::{Path, PathBuf};

use super::*;
use crate::message::{RequestMessage, ResponseMessage};

/// The OASIS vectors: `$TRESOR_KMIP_VECTORS`, else `shared/kmip-vectors` beside the repo.
pub(crate) fn vectors_dir() -> PathBuf {
    match std::env::var_os("TRESOR_KMIP_VECTORS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kmip-vectors"),
    }
}

pub(crate) fn vector_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for v in ["v1.4", "v2.1"] {
        for kind in ["mandatory", "optional"] {
            let dir = vectors_dir().join(v).join(kind);
            let rd = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("test vectors missing at {}: {e}", dir.display()));
            for f in rd.flatten() {
                if f.path().extension().is_some_and(|e| e == "xml") {
                    out.push(f.path());
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_vector_round_trips() {
    let ph = Placeholders::default();
    let (mut files, mut requests, mut responses) = (0, 0, 0);
    let mut bytes = 0usize;
    let mut failures = Vec::new();
    for path in vector_files() {
        let xml = std::fs::read_to_string(&path).unwrap();
        let msgs = match parse_messages(&xml, &ph) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        assert!(!msgs.is_empty(), "{} holds no message", path.display());
        files += 1;
        for (i, (kind, t)) in msgs.iter().enumerate() {
            let wire = t.encode();
            bytes += wire.len();
            let back =
                Ttlv::decode(&wire).unwrap_or_else(|e| panic!("{} #{i}: {e}", path.display()));
            assert_eq!(&back, t, "{} #{i}", path.display());
            assert_eq!(back.encode(), wire);
            // The typed layer gives back the same tree.
            let typed = match kind {
                MessageKind::Request => {
                    requests += 1;
                    RequestMessage::from_ttlv(t).map(|m| m.to_ttlv())
                }
                MessageKind::Response => {
                    responses += 1;
                    ResponseMessage::from_ttlv(t).map(|m| m.to_ttlv())
                }
            };
            match typed {
                Ok(again) if &again == t => {}
                Ok(again) => failures.push(format!(
                    "{} #{i}: typed round trip differs:\n{t:?}\n{again:?}",
                    path.display()
                )),
                Err(e) => failures.push(format!("{} #{i}: {e}", path.display())),
            }
        }
    }
    eprintln!(
        "kmip vectors: {files} files, {requests} requests, {responses} responses, {bytes} TTLV bytes"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(files, 168);
}

#[test]
fn date_times() {
    let ph = Placeholders { now: 1000 };
    assert_eq!(date_time("$NOW", &ph), Some(1000));
    assert_eq!(date_time("$NOW+3600", &ph), Some(4600));
    assert_eq!(date_time("$NOW-3600", &ph), Some(-2600));
    assert_eq!(date_time("1970-01-01T00:00:06+00:00", &ph), Some(6));
    assert_eq!(
        date_time("2000-01-01T00:00:00+10:00", &ph),
        Some(946_684_800 - 36_000)
    );
    assert_eq!(date_time("2018-12-09T18:43:13Z", &ph), Some(1_544_380_993));
    assert_eq!(date_time("yesterday", &ph), None);
}

#[test]
fn values_by_name() {
    let ph = Placeholders::default();
    let t = parse_item(
        r#"<Attribute>
             <AttributeName type="TextString" value="Cryptographic Usage Mask"/>
             <AttributeValue type="Integer" value="Encrypt Decrypt"/>
           </Attribute>"#,
        &ph,
    )
    .unwrap();
    assert_eq!(
        t.find(Tag::ATTRIBUTE_VALUE).and_then(Ttlv::as_integer),
        Some(12)
    );
    let t = parse_item(
        r#"<AttributeReference type="Enumeration" value="CryptographicAlgorithm"/>"#,
        &ph,
    )
    .unwrap();
    assert_eq!(t.as_enumeration(), Some(0x420028));
    let t = parse_item(r#"<Modulus type="BigInteger" value="ff01"/>"#, &ph).unwrap();
    assert_eq!(
        t.value,
        Value::BigInteger(vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
    );
    assert!(parse_item(r#"<State type="Enumeration" value="Sleepy"/>"#, &ph).is_err());
    assert!(parse_item(r#"<NoSuchTag type="Integer" value="1"/>"#, &ph).is_err());
}

/// Writes the vectors as binary TTLV seeds for `cargo fuzz` when `TRESOR_FUZZ_SEEDS` names a
/// directory (e.g. `fuzz/corpus/ttlv`).
#[test]
fn write_fuzz_seeds() {
    let Some(dir) = std::env::var_os("TRESOR_FUZZ_SEEDS") else {
        return;
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ph = Placeholders::default();
    for path in vector_files() {
        let xml = std::fs::read_to_string(&path).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        for (i, (_, t)) in parse_messages(&xml, &ph).unwrap().iter().enumerate() {
            std::fs::write(dir.join(format!("{stem}-{i}")), t.encode()).unwrap();
        }
    }
}

#[test]
fn fuzz_helper_accepts_vectors() {
    let ph = Placeholders::default();
    for path in vector_files().iter().take(20) {
        let xml = std::fs::read_to_string(path).unwrap();
        for (_, t) in parse_messages(&xml, &ph).unwrap() {
            crate::fuzzing::fuzz_ttlv(&t.encode());
        }
    }
}
