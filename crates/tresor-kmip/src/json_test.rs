use super::*;
use crate::enums::Operation;
use crate::message::{ProtocolVersion, RequestMessage};

fn lim() -> Limits {
    Limits::default()
}

#[test]
fn every_type_round_trips() {
    let t = Ttlv::structure(
        Tag::REQUEST_PAYLOAD,
        vec![
            Ttlv::new(Tag::CRYPTOGRAPHIC_LENGTH, Value::Integer(-5)),
            Ttlv::new(Tag::new(0x540001).unwrap(), Value::LongInteger(-2)),
            Ttlv::new(
                Tag::new(0x540002).unwrap(),
                Value::BigInteger(vec![0xFF; 8]),
            ),
            Ttlv::enumeration(Tag::OPERATION, Operation::CREATE),
            Ttlv::new(Tag::OPERATION, Value::Enumeration(0x8000_0001)),
            Ttlv::new(Tag::new(0x540003).unwrap(), Value::Boolean(true)),
            Ttlv::text(Tag::UNIQUE_IDENTIFIER, "é\"\\x"),
            Ttlv::new(
                Tag::new(0x540004).unwrap(),
                Value::ByteString(vec![0, 1, 0xAB]),
            ),
            Ttlv::new(Tag::new(0x540005).unwrap(), Value::DateTime(1_700_000_000)),
            Ttlv::new(Tag::new(0x540006).unwrap(), Value::DateTime(i64::MIN)),
            Ttlv::new(Tag::new(0x540007).unwrap(), Value::Interval(u32::MAX)),
            Ttlv::new(Tag::new(0x540008).unwrap(), Value::DateTimeExtended(-1)),
        ],
    );
    let text = to_json(&t).to_string();
    assert_eq!(from_json(text.as_bytes(), &lim()).unwrap(), t, "{text}");
}

#[test]
fn reads_the_profile_spellings() {
    let text = br#"{"tag":"RequestPayload","value":[
        {"tag":"CryptographicUsageMask","type":"Integer","value":"Sign|Verify"},
        {"tag":"CryptographicUsageMask","type":"Integer","value":"0x0000000C"},
        {"tag":"0x42000A","type":"TextString","value":"x"},
        {"tag":"ObjectType","type":"Enumeration","value":"SymmetricKey"},
        {"tag":"ObjectType","type":"Enumeration","value":2},
        {"tag":"ActivationDate","type":"DateTime","value":"2024-01-31T13:00:00+01:00"},
        {"tag":"ActivationDate","type":"DateTime","value":"2024-01-31T12:00:00.5Z"},
        {"tag":"KeyMaterial","type":"ByteString","value":"00ff"}
    ]}"#;
    let t = from_json(text, &lim()).unwrap();
    let Value::Structure(items) = &t.value else {
        panic!()
    };
    assert_eq!(items[0].value, Value::Integer(0x03));
    assert_eq!(items[1].value, Value::Integer(0x0C));
    assert_eq!(items[2].tag, Tag::ATTRIBUTE_NAME);
    assert_eq!(items[3].value, items[4].value);
    assert_eq!(items[5].value, Value::DateTime(1_706_702_400));
    assert_eq!(items[6].value, Value::DateTime(1_706_702_400));
    assert_eq!(items[7].value, Value::ByteString(vec![0, 0xFF]));
}

#[test]
fn a_request_message_parses_as_the_binary_one() {
    let msg = RequestMessage::single(ProtocolVersion::V2_1, Operation::QUERY, Vec::new());
    let t = msg.to_ttlv();
    let back = from_json(to_json(&t).to_string().as_bytes(), &lim()).unwrap();
    assert_eq!(back.encode(), t.encode());
}

#[test]
fn limits_and_bad_items_are_refused_with_their_reason() {
    let small = Limits {
        max_message: 64,
        ..Limits::default()
    };
    let big = format!(
        r#"{{"tag":"UniqueIdentifier","type":"TextString","value":"{}"}}"#,
        "a".repeat(100)
    );
    assert!(matches!(
        from_json(big.as_bytes(), &small),
        Err(JsonError::TooLarge { .. })
    ));
    let mut deep = String::new();
    for _ in 0..40 {
        deep.push_str(r#"{"tag":"RequestPayload","value":["#);
    }
    deep.push_str(&"]}".repeat(40));
    assert!(matches!(
        from_json(deep.as_bytes(), &lim()),
        Err(JsonError::TooDeep(16))
    ));
    let brackets = "[".repeat(100_000);
    assert!(matches!(
        from_json(brackets.as_bytes(), &lim()),
        Err(JsonError::TooDeep(_))
    ));
    let few = Limits {
        max_items: 3,
        ..Limits::default()
    };
    let many = br#"{"tag":"RequestPayload","value":[
        {"tag":"UniqueIdentifier","type":"TextString","value":"a"},
        {"tag":"UniqueIdentifier","type":"TextString","value":"b"},
        {"tag":"UniqueIdentifier","type":"TextString","value":"c"}]}"#;
    assert!(matches!(
        from_json(many, &few),
        Err(JsonError::TooManyItems(3))
    ));
    for (bad, says) in [
        (&br#"{"tag":"Nope","value":[]}"#[..], "unknown tag"),
        (
            br#"{"tag":"UniqueIdentifier","type":"TextString","value":1}"#,
            "must be a string",
        ),
        (
            br#"{"tag":"ObjectType","type":"Enumeration","value":"Banana"}"#,
            "Banana",
        ),
        (
            br#"{"tag":"KeyMaterial","type":"ByteString","value":"abc"}"#,
            "hex",
        ),
        (
            br#"{"tag":"CryptographicLength","type":"Integer","value":4294967296}"#,
            "32-bit",
        ),
        (
            br#"{"tag":"ActivationDate","type":"DateTime","value":"yesterday"}"#,
            "ISO 8601",
        ),
        (
            br#"{"tag":"UniqueIdentifier","type":"Float","value":1}"#,
            "unknown type",
        ),
        (
            br#"{"tag":"RequestPayload","value":[], "extra":1}"#,
            "unknown field",
        ),
        (br#"[1]"#, "object"),
        (br#"{"tag":"#, "not JSON"),
    ] {
        let e = from_json(bad, &lim()).unwrap_err().to_string();
        assert!(e.contains(says), "{e} lacks {says}");
    }
}

/// Cosmian's client (`ckms`) spells enumeration values without the OASIS underscores and sends
/// a `Cascade` Boolean no KMIP version defines; it refuses `SHA_256` in an answer but reads hex.
#[test]
fn reads_and_writes_what_cosmians_client_speaks() {
    let text = br#"{"tag":"RequestPayload","value":[
        {"tag":"HashingAlgorithm","type":"Enumeration","value":"SHA256"},
        {"tag":"RecommendedCurve","type":"Enumeration","value":"P256"},
        {"tag":"Cascade","type":"Boolean","value":true},
        {"tag":"CryptographicAlgorithm","type":"Enumeration","value":"AES"}]}"#;
    let t = from_json(text, &lim()).unwrap();
    let oasis = from_json(
        br#"{"tag":"RequestPayload","value":[
        {"tag":"HashingAlgorithm","type":"Enumeration","value":"SHA_256"},
        {"tag":"RecommendedCurve","type":"Enumeration","value":"P_256"},
        {"tag":"CryptographicAlgorithm","type":"Enumeration","value":"AES"}]}"#,
        &lim(),
    )
    .unwrap();
    assert_eq!(
        t, oasis,
        "Cosmian's spelling reads as the OASIS one, Cascade dropped"
    );
    let out = to_json(&t).to_string();
    assert!(
        out.contains(r#""value":"0x00000006""#),
        "SHA_256 goes out as hex: {out}"
    );
    assert!(
        out.contains(r#""value":"AES""#),
        "names without an underscore stay: {out}"
    );
    assert!(
        !out.contains("SHA_256") && !out.contains("Cascade"),
        "{out}"
    );
    // Only a Boolean named Cascade is dropped; any other unknown tag is still refused, and a
    // name that matches no value (or more than one) still is.
    let bad_type =
        br#"{"tag":"RequestPayload","value":[{"tag":"Cascade","type":"Integer","value":1}]}"#;
    assert!(from_json(bad_type, &lim()).is_err());
    let unknown = br#"{"tag":"RequestPayload","value":[{"tag":"HashingAlgorithm","type":"Enumeration","value":"SHA2_56X"}]}"#;
    assert!(from_json(unknown, &lim()).is_err());
}
