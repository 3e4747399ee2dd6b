//! The engine's own tests: placeholders bind and fill, results are exact, attributes and
//! dates compare by the rules in `vectors_engine.rs`, and every vector file passes against a
//! server that answers as the vector expects.

use super::*;
use tresor_kmip::xml::parse_item;

fn at(xml: &str, now: i64) -> Ttlv {
    parse_item(xml, &Placeholders { now }).unwrap()
}

/// A response message around one batch item body.
fn response(item: &str) -> String {
    format!(
        r#"<ResponseMessage><ResponseHeader><ProtocolVersion>
            <ProtocolVersionMajor type="Integer" value="2"/><ProtocolVersionMinor type="Integer" value="1"/>
            </ProtocolVersion><TimeStamp type="DateTime" value="$NOW"/>
            <BatchCount type="Integer" value="1"/></ResponseHeader>
            <BatchItem>{item}</BatchItem></ResponseMessage>"#
    )
}

fn request(item: &str) -> String {
    format!(
        r#"<RequestMessage><RequestHeader><ProtocolVersion>
            <ProtocolVersionMajor type="Integer" value="2"/><ProtocolVersionMinor type="Integer" value="1"/>
            </ProtocolVersion><BatchCount type="Integer" value="1"/></RequestHeader>
            <BatchItem>{item}</BatchItem></RequestMessage>"#
    )
}

fn expect(item: &str, now: i64) -> (Ttlv, Ttlv) {
    let x = response(item);
    (at(&x, now), at(&x, now + SHIFT))
}

const CREATE_OK: &str = r#"<Operation type="Enumeration" value="Create"/>
        <ResultStatus type="Enumeration" value="Success"/>
        <ResponsePayload><ObjectType type="Enumeration" value="SymmetricKey"/>
        <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/></ResponsePayload>"#;

/// The expected response as a conforming server would send it: its own identifiers and
/// placeholder bytes, its clock a few seconds off.
fn as_server_would(t: &Ttlv) -> Ttlv {
    let value = match &t.value {
        Value::Structure(items) => Value::Structure(items.iter().map(as_server_would).collect()),
        Value::TextString(s) if is_placeholder_str(s) => {
            Value::TextString(format!("srv-{}", s.to_lowercase()))
        }
        Value::ByteString(b) if placeholder_bytes(b).is_some() => {
            Value::ByteString(b.iter().rev().copied().collect())
        }
        Value::DateTime(d) => Value::DateTime(d + 3),
        other => other.clone(),
    };
    Ttlv::new(t.tag, value)
}

/// Every vector file passes against a server answering exactly the expected responses
/// with its own identifiers: the rules reject nothing a conforming server may do here.
#[test]
fn a_conforming_server_passes_every_file() {
    // `$TRESOR_KMIP_VECTORS`, else `shared/kmip-vectors` beside the repository (as vectors.rs).
    let dir = std::env::var_os("TRESOR_KMIP_VECTORS").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kmip-vectors"),
        std::path::PathBuf::from,
    );
    let mut files = 0;
    for v in ["v1.4", "v2.1"] {
        for kind in ["mandatory", "optional"] {
            for f in std::fs::read_dir(dir.join(v).join(kind)).unwrap().flatten() {
                let file = load(&f.path(), 1_700_000_000).unwrap();
                let mut s = Session::default();
                for (i, ex) in file.exchanges.iter().enumerate() {
                    let sent = s.prepare(&ex.request);
                    let got = as_server_would(&ex.expected);
                    if let Err(m) = s.check(&sent, &ex.expected, &ex.shifted, &got) {
                        panic!("{} request {i}: {m}", file.name);
                    }
                    // Later requests carry the server's identifiers, never a placeholder
                    // that an earlier response bound.
                    for (k, v) in &s.bindings.text {
                        assert_ne!(k, v);
                    }
                }
                files += 1;
            }
        }
    }
    assert_eq!(files, 168);
}

#[test]
fn binds_identifier_and_fills_later_requests() {
    let mut s = Session::default();
    let req = at(
        &request(r#"<Operation type="Enumeration" value="Create"/>"#),
        0,
    );
    let (e, sh) = expect(CREATE_OK, 1000);
    let got_xml = response(CREATE_OK).replace("$UNIQUE_IDENTIFIER_0", "key-17");
    let got = at(&got_xml, 1005);
    s.check(&req, &e, &sh, &got).unwrap();
    assert!(s.generated.contains("key-17"));
    let next = at(
        &request(
            r#"<Operation type="Enumeration" value="Get"/><RequestPayload>
                <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/></RequestPayload>"#,
        ),
        0,
    );
    let sent = s.prepare(&next);
    let uid = sent
        .find(Tag::BATCH_ITEM)
        .and_then(|b| b.find(Tag::REQUEST_PAYLOAD))
        .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
        .and_then(Ttlv::as_text);
    assert_eq!(uid, Some("key-17"));
    // A later response naming another identifier for the same placeholder is a mismatch.
    let other = at(&got_xml.replace("key-17", "key-18"), 1005);
    let m = s.check(&req, &e, &sh, &other).unwrap_err();
    assert_eq!(m.path, "BatchItem[0]/ResponsePayload/UniqueIdentifier");
    assert!(m.got.contains("key-18"), "{m}");
}

#[test]
fn result_reason_and_status_are_exact() {
    let mut s = Session::default();
    let req = at(
        &request(r#"<Operation type="Enumeration" value="Destroy"/>"#),
        0,
    );
    let exp = r#"<Operation type="Enumeration" value="Destroy"/>
            <ResultStatus type="Enumeration" value="OperationFailed"/>
            <ResultReason type="Enumeration" value="WrongKeyLifecycleState"/>
            <ResultMessage type="TextString" value="DENIED"/>"#;
    let (e, sh) = expect(exp, 0);
    // Different message text is fine.
    let got = at(&response(&exp.replace("DENIED", "object 3 is active")), 0);
    s.check(&req, &e, &sh, &got).unwrap();
    let got = at(
        &response(&exp.replace("WrongKeyLifecycleState", "PermissionDenied")),
        0,
    );
    let m = s.check(&req, &e, &sh, &got).unwrap_err();
    assert_eq!(m.path, "BatchItem[0]/ResultReason");
    assert_eq!(m.expected, "ResultReason=WrongKeyLifecycleState");
    assert_eq!(
        m.got,
        "ResultReason=PermissionDenied (ResultMessage=\"DENIED\")"
    );
}

#[test]
fn attributes_in_any_order_dates_near_now_and_random_digests() {
    let mut s = Session::default();
    s.generated.insert("k1".into());
    let req = at(
        &request(
            r#"<Operation type="Enumeration" value="GetAttributes"/><RequestPayload>
                <UniqueIdentifier type="TextString" value="k1"/>
                <AttributeReference type="Enumeration" value="State"/>
                <AttributeReference type="Enumeration" value="InitialDate"/>
                <AttributeReference type="Enumeration" value="Digest"/></RequestPayload>"#,
        ),
        0,
    );
    let exp = r#"<Operation type="Enumeration" value="GetAttributes"/>
            <ResultStatus type="Enumeration" value="Success"/>
            <ResponsePayload><UniqueIdentifier type="TextString" value="k1"/><Attributes>
              <State type="Enumeration" value="PreActive"/>
              <InitialDate type="DateTime" value="$NOW"/>
              <Digest><HashingAlgorithm type="Enumeration" value="SHA_256"/>
                <DigestValue type="ByteString" value="bc12861408b8ac72"/>
                <KeyFormatType type="Enumeration" value="Raw"/></Digest>
            </Attributes></ResponsePayload>"#;
    let (e, sh) = expect(exp, 1_000_000);
    let got_ok = r#"<Operation type="Enumeration" value="GetAttributes"/>
            <ResultStatus type="Enumeration" value="Success"/>
            <ResponsePayload><UniqueIdentifier type="TextString" value="k1"/><Attributes>
              <Digest><HashingAlgorithm type="Enumeration" value="SHA_256"/>
                <DigestValue type="ByteString" value="0011223344556677"/>
                <KeyFormatType type="Enumeration" value="Raw"/></Digest>
              <InitialDate type="DateTime" value="$NOW"/>
              <State type="Enumeration" value="PreActive"/>
            </Attributes></ResponsePayload>"#;
    s.check(&req, &e, &sh, &at(&response(got_ok), 1_000_030))
        .unwrap();
    // A date far from now fails, naming the attribute.
    let m = s
        .check(
            &req,
            &e,
            &sh,
            &at(&response(got_ok), 1_000_000 + 2 * NOW_TOLERANCE),
        )
        .unwrap_err();
    assert_eq!(
        m.path,
        "BatchItem[0]/ResponsePayload/Attributes/InitialDate"
    );
    // A wrong state fails.
    let bad = got_ok.replace("PreActive", "Active");
    let m = s
        .check(&req, &e, &sh, &at(&response(&bad), 1_000_000))
        .unwrap_err();
    assert_eq!(m.path, "BatchItem[0]/ResponsePayload/Attributes/State");
    assert_eq!(m.got, "State=Active");
    // A digest of another length fails even for a generated key.
    let short = got_ok.replace("0011223344556677", "0011");
    let m = s
        .check(&req, &e, &sh, &at(&response(&short), 1_000_000))
        .unwrap_err();
    assert!(m.path.ends_with("Digest/DigestValue"), "{m}");
    // For a registered (not generated) key the digest must be the expected one.
    s.generated.clear();
    let m = s
        .check(&req, &e, &sh, &at(&response(got_ok), 1_000_000))
        .unwrap_err();
    assert!(m.path.ends_with("Digest/DigestValue"), "{m}");
    // An extra attribute nobody asked for fails.
    s.generated.insert("k1".into());
    let extra = got_ok.replace(
        "<State ",
        r#"<CryptographicLength type="Integer" value="256"/><State "#,
    );
    let m = s
        .check(&req, &e, &sh, &at(&response(&extra), 1_000_000))
        .unwrap_err();
    assert_eq!(m.expected, "nothing");
    assert_eq!(m.got, "CryptographicLength=256");
}

#[test]
fn legacy_attribute_lists_match_by_name() {
    let mut s = Session::default();
    let req = at(
        &request(
            r#"<Operation type="Enumeration" value="GetAttributes"/><RequestPayload>
                <UniqueIdentifier type="TextString" value="k"/></RequestPayload>"#,
        ),
        0,
    );
    let attr = |n: &str, v: &str| {
        format!(
            r#"<Attribute><AttributeName type="TextString" value="{n}"/>
                <AttributeValue type="Integer" value="{v}"/></Attribute>"#
        )
    };
    let body = |attrs: &str| {
        format!(
            r#"<Operation type="Enumeration" value="GetAttributes"/>
                <ResultStatus type="Enumeration" value="Success"/>
                <ResponsePayload><UniqueIdentifier type="TextString" value="k"/>{attrs}</ResponsePayload>"#
        )
    };
    let exp = body(&(attr("Cryptographic Length", "256") + &attr("x-ID", "7")));
    let (e, sh) = expect(&exp, 0);
    // No names asked: extra attributes are allowed, order is free.
    let got = body(
        &(attr("x-ID", "7") + &attr("Lease Time", "5") + &attr("Cryptographic Length", "256")),
    );
    s.check(&req, &e, &sh, &at(&response(&got), 0)).unwrap();
    // A missing one is named.
    let got = body(&attr("Cryptographic Length", "256"));
    let m = s.check(&req, &e, &sh, &at(&response(&got), 0)).unwrap_err();
    assert_eq!(m.path, "BatchItem[0]/ResponsePayload/Attribute[x-ID]");
    assert_eq!(m.got, "nothing");
    // A wrong value is reported inside the attribute.
    let got = body(&(attr("x-ID", "8") + &attr("Cryptographic Length", "256")));
    let m = s.check(&req, &e, &sh, &at(&response(&got), 0)).unwrap_err();
    assert_eq!(
        m.path,
        "BatchItem[0]/ResponsePayload/Attribute[x-ID]/AttributeValue"
    );
    assert_eq!(m.expected, "AttributeValue=7");
}

#[test]
fn byte_placeholders_bind_and_fill() {
    let mut s = Session::default();
    let req = at(
        &request(
            r#"<Operation type="Enumeration" value="Encrypt"/><RequestPayload>
            <UniqueIdentifier type="TextString" value="k"/></RequestPayload>"#,
        ),
        0,
    );
    let exp = r#"<Operation type="Enumeration" value="Encrypt"/>
            <ResultStatus type="Enumeration" value="Success"/>
            <ResponsePayload><UniqueIdentifier type="TextString" value="k"/>
            <Data type="ByteString" value="$DATA_0"/>
            <IVCounterNonce type="ByteString" value="$IV_COUNTER_NONCE"/></ResponsePayload>"#;
    let (e, sh) = expect(exp, 0);
    let got = exp
        .replace("$DATA_0", "aabbcc")
        .replace("$IV_COUNTER_NONCE", "000102");
    s.check(&req, &e, &sh, &at(&response(&got), 0)).unwrap();
    let next = at(
        &request(
            r#"<Operation type="Enumeration" value="Decrypt"/><RequestPayload>
            <Data type="ByteString" value="$DATA_0"/><IVCounterNonce type="ByteString" value="$IV_COUNTER_NONCE"/>
            </RequestPayload>"#,
        ),
        0,
    );
    let sent = s.prepare(&next);
    let p = sent
        .find(Tag::BATCH_ITEM)
        .and_then(|b| b.find(Tag::REQUEST_PAYLOAD))
        .unwrap();
    assert_eq!(
        p.find(Tag::DATA).and_then(Ttlv::as_bytes),
        Some(&[0xaa, 0xbb, 0xcc][..])
    );
    assert_eq!(
        p.find(Tag::IV_COUNTER_NONCE).and_then(Ttlv::as_bytes),
        Some(&[0, 1, 2][..])
    );
    // Literal cipher text of a registered key with a client-chosen IV must match exactly.
    let req = at(
        &request(
            r#"<Operation type="Enumeration" value="Encrypt"/><RequestPayload>
            <UniqueIdentifier type="TextString" value="k"/>
            <IVCounterNonce type="ByteString" value="000102"/></RequestPayload>"#,
        ),
        0,
    );
    let exp2 = exp.replace("$DATA_0", "aabbcc");
    let (e2, sh2) = expect(&exp2, 0);
    let got2 = got.replace("aabbcc", "aabbcd");
    let m = s
        .check(&req, &e2, &sh2, &at(&response(&got2), 0))
        .unwrap_err();
    assert_eq!(m.path, "BatchItem[0]/ResponsePayload/Data");
}

#[test]
fn batch_count_and_missing_items_are_reported() {
    let mut s = Session::default();
    let req = at(
        &request(r#"<Operation type="Enumeration" value="Create"/>"#),
        0,
    );
    let (e, sh) = expect(CREATE_OK, 0);
    let got = at(
        &response(&CREATE_OK.replace(
            r#"<ObjectType type="Enumeration" value="SymmetricKey"/>"#,
            "",
        )),
        0,
    );
    let m = s.check(&req, &e, &sh, &got).unwrap_err();
    assert_eq!(m.path, "BatchItem[0]/ResponsePayload/ObjectType");
    assert_eq!(m.expected, "ObjectType=SymmetricKey");
    assert!(m.got.starts_with("UniqueIdentifier"), "{m}");
}
