//! Feeds every committed fuzz seed (`fuzz/seeds/seal/`) through the `seal` fuzz entry point
//! (`tresor_seal::fuzzing::fuzz_seal`), so `cargo test` runs the code the fuzzer does.

use std::path::PathBuf;

#[test]
fn seal_seeds_run_through_the_fuzz_entry_point() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/seal");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        let data = std::fs::read(&p).unwrap();
        tresor_seal::fuzzing::fuzz_seal(&data);
        n += 1;
    }
    assert!(n >= 5, "seeds missing in {}", dir.display());
    // Every format in seal mode, with a changed byte at each 32nd of the sealed file.
    for fmt in 0u8..4 {
        for pos in 0u8..32 {
            // (the .env text has no final newline: the header adds one)
            let mut d = vec![(pos << 3) | 4 | fmt];
            d.extend_from_slice(match fmt {
                0 => b"A=1\nB=\"two\" # c".as_slice(),
                1 => b"{\"a\": \"1\", \"b\": [2, 3]}\n".as_slice(),
                2 => b"a: 1\nb:\n  - two\n".as_slice(),
                _ => b"a = 1\n[b]\nc = \"two\"\n".as_slice(),
            });
            tresor_seal::fuzzing::fuzz_seal(&d);
        }
    }
}
