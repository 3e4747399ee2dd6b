//! The `kmip_json` fuzz target's seeds (`fuzz/seeds/kmip_json/`) all read as JSON TTLV and
//! go through the target's entry point (`tresor_kmip::json::fuzz_json`) without a finding.

#[test]
fn kmip_json_seeds_parse_and_round_trip() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/kmip_json");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("seeds folder") {
        let p = e.unwrap().path();
        let data = std::fs::read(&p).unwrap();
        tresor_kmip::json::from_json(&data, &tresor_kmip::Limits::default())
            .unwrap_or_else(|e| panic!("seed {} does not parse: {e}", p.display()));
        tresor_kmip::json::fuzz_json(&data);
        n += 1;
    }
    assert!(n >= 3, "{n} seeds");
}
