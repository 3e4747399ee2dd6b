use proptest::prelude::*;

use super::*;

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(Value::Integer),
        any::<i64>().prop_map(Value::LongInteger),
        (1usize..4)
            .prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n * 8))
            .prop_map(Value::BigInteger),
        any::<u32>().prop_map(Value::Enumeration),
        any::<bool>().prop_map(Value::Boolean),
        ".{0,20}".prop_map(Value::TextString),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::ByteString),
        any::<i64>().prop_map(Value::DateTime),
        any::<u32>().prop_map(Value::Interval),
        any::<i64>().prop_map(Value::DateTimeExtended),
    ]
}

fn tag() -> impl Strategy<Value = Tag> {
    prop_oneof![
        Just(Tag::UNIQUE_IDENTIFIER),
        Just(Tag::ATTRIBUTE),
        (0u32..=Tag::MAX).prop_map(|v| Tag::new(v).unwrap_or(Tag::ATTRIBUTE)),
    ]
}

fn tree() -> impl Strategy<Value = Ttlv> {
    let leaf = (tag(), leaf()).prop_map(|(t, v)| Ttlv::new(t, v));
    leaf.prop_recursive(6, 64, 8, |inner| {
        (tag(), proptest::collection::vec(inner, 0..8)).prop_map(|(t, v)| Ttlv::structure(t, v))
    })
}

proptest! {
    #[test]
    fn round_trip(x in tree()) {
        let bytes = x.encode();
        prop_assert_eq!(bytes.len(), x.encoded_len());
        prop_assert_eq!(bytes.len() % 8, 0);
        let back = Ttlv::decode(&bytes).expect("decodes");
        prop_assert_eq!(&back, &x);
        prop_assert_eq!(back.encode(), bytes);
    }

    #[test]
    fn never_panics_on_garbage(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(t) = Ttlv::decode(&data) {
            prop_assert_eq!(t.encode(), data);
        }
    }

    #[test]
    fn never_panics_on_mutations(x in tree(), pos in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = x.encode();
        let i = pos % bytes.len();
        bytes[i] = byte;
        if let Ok(t) = Ttlv::decode(&bytes) {
            prop_assert_eq!(t.encode(), bytes);
        }
    }
}

/// The encoding example of the KMIP 1.4 spec, section 9.1.2: an Integer 8.
#[test]
fn spec_examples() {
    let i = Ttlv::new(Tag::COMPROMISE_DATE, Value::Integer(8));
    assert_eq!(
        i.encode(),
        [0x42, 0x00, 0x20, 0x02, 0, 0, 0, 4, 0, 0, 0, 8, 0, 0, 0, 0]
    );
    let t = Ttlv::text(Tag::COMPROMISE_DATE, "Hello World");
    assert_eq!(
        t.encode(),
        [
            0x42, 0x00, 0x20, 0x07, 0, 0, 0, 0x0B, b'H', b'e', b'l', b'l', b'o', b' ', b'W', b'o',
            b'r', b'l', b'd', 0, 0, 0, 0, 0
        ]
    );
    let b = Ttlv::new(Tag::COMPROMISE_DATE, Value::Boolean(true));
    assert_eq!(
        b.encode(),
        [0x42, 0x00, 0x20, 0x06, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1]
    );
    let s = Ttlv::structure(
        Tag::COMPROMISE_DATE,
        vec![
            Ttlv::enumeration(Tag::APPLICATION_SPECIFIC_INFORMATION, 254u32),
            Ttlv::integer(Tag::ARCHIVE_DATE, 255),
        ],
    );
    assert_eq!(
        s.encode(),
        [
            0x42, 0x00, 0x20, 0x01, 0, 0, 0, 0x20, 0x42, 0x00, 0x04, 0x05, 0, 0, 0, 4, 0, 0, 0,
            0xFE, 0, 0, 0, 0, 0x42, 0x00, 0x05, 0x02, 0, 0, 0, 4, 0, 0, 0, 0xFF, 0, 0, 0, 0
        ]
    );
}

fn int_item(len: u32, pad: u8) -> Vec<u8> {
    let mut v = vec![0x42, 0x00, 0x20, 0x02];
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 8, pad, 0, 0, 0]);
    v
}

#[test]
fn rejects_non_canonical() {
    assert!(matches!(
        Ttlv::decode(&int_item(4, 1)),
        Err(TtlvError::NonZeroPadding { .. })
    ));
    assert!(matches!(
        Ttlv::decode(&int_item(8, 0)),
        Err(TtlvError::BadLength { .. })
    ));
    let mut b = Ttlv::new(Tag::COMPROMISE_DATE, Value::Boolean(true)).encode();
    b[15] = 2;
    assert!(matches!(
        Ttlv::decode(&b),
        Err(TtlvError::InvalidBoolean { .. })
    ));
    let mut t = Ttlv::text(Tag::COMPROMISE_DATE, "ab").encode();
    t[8] = 0xFF;
    assert!(matches!(
        Ttlv::decode(&t),
        Err(TtlvError::InvalidUtf8 { .. })
    ));
    let mut ok = int_item(4, 0);
    ok.push(0);
    assert!(matches!(Ttlv::decode(&ok), Err(TtlvError::TrailingData(1))));
    let mut bad_type = int_item(4, 0);
    bad_type[3] = 0x0C;
    assert!(matches!(
        Ttlv::decode(&bad_type),
        Err(TtlvError::UnknownItemType {
            item_type: 0x0C,
            ..
        })
    ));
}

#[test]
fn rejects_overrun_without_allocating() {
    let mut v = vec![0x42, 0x00, 0x20, 0x08];
    v.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        Ttlv::decode(&v),
        Err(TtlvError::LengthOverrun { .. })
    ));
}

fn nest(depth: usize) -> Ttlv {
    let mut t = Ttlv::integer(Tag::BATCH_COUNT, 1);
    for _ in 0..depth {
        t = Ttlv::structure(Tag::ATTRIBUTE, vec![t]);
    }
    t
}

#[test]
fn depth_limit() {
    assert!(Ttlv::decode(&nest(16).encode()).is_ok());
    assert!(matches!(
        Ttlv::decode(&nest(17).encode()),
        Err(TtlvError::TooDeep { max: 16, .. })
    ));
    let l = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    assert!(Ttlv::decode_with(&nest(2).encode(), &l).is_ok());
    assert!(Ttlv::decode_with(&nest(3).encode(), &l).is_err());
}

#[test]
fn item_and_string_and_message_limits() {
    let many = Ttlv::structure(
        Tag::ATTRIBUTE,
        (0..10_000)
            .map(|i| Ttlv::integer(Tag::BATCH_COUNT, i))
            .collect(),
    );
    assert!(matches!(
        Ttlv::decode(&many.encode()),
        Err(TtlvError::TooManyItems { max: 10_000 })
    ));
    let long = Ttlv::bytes(Tag::KEY_MATERIAL, vec![0u8; (64 << 10) + 1]);
    assert!(matches!(
        Ttlv::decode(&long.encode()),
        Err(TtlvError::StringTooLong { .. })
    ));
    let ok = Ttlv::bytes(Tag::KEY_MATERIAL, vec![0u8; 64 << 10]);
    assert!(Ttlv::decode(&ok.encode()).is_ok());
    let small = Limits {
        max_message: 64,
        ..Limits::default()
    };
    assert!(matches!(
        Ttlv::decode_with(&nest(7).encode(), &small),
        Err(TtlvError::MessageTooLarge { .. })
    ));
}

#[test]
fn header_check() {
    let msg = nest(2).encode();
    let mut h = [0u8; HEADER_LEN];
    h.copy_from_slice(&msg[..8]);
    assert_eq!(message_len(&h, &Limits::default()), Ok(msg.len() - 8));
    h[4..8].copy_from_slice(&(1u32 << 20).to_be_bytes());
    assert!(matches!(
        message_len(&h, &Limits::default()),
        Err(TtlvError::MessageTooLarge { .. })
    ));
}

#[test]
fn unknown_tags_survive() {
    let t = Ttlv::structure(
        Tag::new(0x54_0001).unwrap_or(Tag::ATTRIBUTE),
        vec![Ttlv::text(
            Tag::new(0x54_0002).unwrap_or(Tag::ATTRIBUTE),
            "vendor",
        )],
    );
    let back = Ttlv::decode(&t.encode()).unwrap();
    assert_eq!(back.tag.value(), 0x54_0001);
    assert_eq!(back, t);
}

#[test]
fn debug_hides_byte_strings() {
    let t = Ttlv::bytes(Tag::KEY_MATERIAL, b"topsecret".to_vec());
    let d = format!("{t:?}");
    assert!(!d.contains("topsecret") && !d.contains("116"), "{d}");
    assert!(d.contains("9 bytes"));
}
