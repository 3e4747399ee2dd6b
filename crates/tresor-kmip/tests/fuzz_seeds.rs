//! Feeds every committed fuzz seed (`fuzz/seeds/<target>/`) through its fuzz entry point, so
//! `cargo test` runs the same code the fuzzers do.
//!
//! `TRESOR_WRITE_FUZZ_SEEDS=1 cargo test -p tresor-kmip --test fuzz_seeds` rewrites the
//! generated seeds first.

use std::path::PathBuf;

use tresor_kmip::attributes::{Attribute, AttributeSet, Container};
use tresor_kmip::enums::{
    BatchErrorContinuationOption, CryptographicAlgorithm, CryptographicUsageMask, NameType,
    ObjectType, Operation, ResultStatus, SecretDataType,
};
use tresor_kmip::message::{RequestBatchItem, RequestHeader, RequestMessage, ResponseMessage};
use tresor_kmip::payload::register::SecretData;
use tresor_kmip::{ProtocolVersion, Tag, Ttlv, Value};

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .map(|p| {
            let b = std::fs::read(&p).expect("seed");
            (p, b)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

fn write_seed(target: &str, name: &str, data: &[u8]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    std::fs::create_dir_all(&dir).expect("seed dir");
    std::fs::write(dir.join(name), data).expect("writing a seed");
}

fn aes_template(v: ProtocolVersion, name: &str) -> Ttlv {
    let mask = CryptographicUsageMask::ENCRYPT | CryptographicUsageMask::DECRYPT;
    let mut set = AttributeSet::default();
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_ALGORITHM,
        Value::Enumeration(CryptographicAlgorithm::AES.0),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_LENGTH,
        Value::Integer(256),
    ));
    set.push(Attribute::standard(
        Tag::CRYPTOGRAPHIC_USAGE_MASK,
        Value::Integer(mask.0 as i32),
    ));
    set.push(Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING));
    set.to_ttlv(v, Container::Template)
}

fn create(v: ProtocolVersion, name: &str) -> RequestBatchItem {
    RequestBatchItem::new(
        Operation::CREATE,
        vec![
            Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
            aes_template(v, name),
        ],
    )
}

fn batch(
    v: ProtocolVersion,
    option: Option<BatchErrorContinuationOption>,
    items: Vec<RequestBatchItem>,
) -> Vec<u8> {
    let mut header = RequestHeader::new(v, items.len() as i32);
    header.batch_error_continuation_option = option;
    RequestMessage {
        header,
        batch_items: items,
    }
    .to_ttlv()
    .encode()
}

fn write_dispatch_seeds() {
    let op = |o: Operation, p: Vec<Ttlv>| RequestBatchItem::new(o, p);
    for v in [ProtocolVersion::V1_4, ProtocolVersion::new(2, 0)] {
        let tag = format!("{}{}", v.major, v.minor);
        write_seed(
            "kmip_dispatch",
            &format!("create-get-{tag}"),
            &batch(
                v,
                None,
                vec![
                    create(v, &format!("k{tag}")),
                    op(Operation::ACTIVATE, vec![]),
                    op(Operation::GET, vec![]),
                    op(
                        Operation::GET_ATTRIBUTES,
                        vec![Ttlv::text(Tag::ATTRIBUTE_NAME, "State")],
                    ),
                ],
            ),
        );
        write_seed(
            "kmip_dispatch",
            &format!("encrypt-{tag}"),
            &batch(
                v,
                Some(BatchErrorContinuationOption::CONTINUE),
                vec![
                    create(v, &format!("e{tag}")),
                    op(Operation::ACTIVATE, vec![]),
                    op(
                        Operation::ENCRYPT,
                        vec![Ttlv::bytes(Tag::DATA, b"attack at dawn".to_vec())],
                    ),
                    op(Operation::REVOKE, vec![]),
                    op(Operation::DESTROY, vec![]),
                ],
            ),
        );
    }
    let v = ProtocolVersion::V1_4;
    write_seed(
        "kmip_dispatch",
        "register-locate",
        &batch(
            v,
            Some(BatchErrorContinuationOption::UNDO),
            vec![
                op(
                    Operation::REGISTER,
                    vec![
                        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SECRET_DATA),
                        Ttlv::structure(Tag::TEMPLATE_ATTRIBUTE, vec![]),
                        SecretData::new(SecretDataType::PASSWORD, b"hunter2".to_vec()).to_ttlv(),
                    ],
                ),
                op(Operation::LOCATE, vec![]),
                op(
                    Operation::RNG_RETRIEVE,
                    vec![Ttlv::integer(Tag::DATA_LENGTH, 16)],
                ),
            ],
        ),
    );
    write_seed(
        "kmip_dispatch",
        "query-discover",
        &batch(
            v,
            None,
            vec![
                op(Operation::QUERY, vec![]),
                op(Operation::DISCOVER_VERSIONS, vec![]),
            ],
        ),
    );
}

fn write_conf_seeds() {
    write_seed(
        "conf",
        "server.conf",
        b"[server]\nhostname=127.0.0.1\nport=5696\ncertificate_path=/c/s.crt\nkey_path=/c/s.key\n\
          ca_path=/c/ca.crt\nauth_suite=TLS1.2\nenable_tls_client_auth=False\n\
          database_path=/tmp/db\npolicy_path=/p\nlogging_level=DEBUG\n",
    );
    write_seed(
        "conf",
        "pykmip.conf",
        b"# PyKMIP client\n[client]\nhost=127.0.0.1\nport=5696\ncertfile=client.crt\n\
          keyfile=/k/client.key\nca_certs=ca.crt\ncert_reqs=CERT_REQUIRED\n\
          ssl_version=PROTOCOL_SSLv23\ndo_handshake_on_connect=True\nsuppress_ragged_eofs=True\n\
          timeout: 2.5\nkmip_version=2.0\nserver_name=kmip.example\n",
    );
}

#[test]
fn dispatch_seeds_run_and_answer() {
    if std::env::var_os("TRESOR_WRITE_FUZZ_SEEDS").is_some() {
        write_dispatch_seeds();
    }
    let mut succeeded = 0;
    for (path, data) in seeds("kmip_dispatch") {
        let out = tresor_kmip::fuzzing::fuzz_dispatch(&data)
            .unwrap_or_else(|| panic!("{} is not a request", path.display()));
        let resp = ResponseMessage::from_ttlv(&Ttlv::decode(&out).expect("response TTLV"))
            .expect("response message");
        succeeded += resp
            .batch_items
            .iter()
            .filter(|i| i.result_status == ResultStatus::SUCCESS)
            .count();
    }
    // The seeds reach the operations, not only the error paths.
    assert!(succeeded >= 10, "only {succeeded} batch items succeeded");
}

#[test]
fn conf_seeds_run() {
    if std::env::var_os("TRESOR_WRITE_FUZZ_SEEDS").is_some() {
        write_conf_seeds();
    }
    for (_, data) in seeds("conf") {
        tresor_kmip::fuzzing::fuzz_conf(&data);
    }
}

#[test]
fn ttlv_seeds_run() {
    // The request seeds are TTLV too.
    for (_, data) in seeds("kmip_dispatch") {
        tresor_kmip::fuzzing::fuzz_ttlv(&data);
    }
}
