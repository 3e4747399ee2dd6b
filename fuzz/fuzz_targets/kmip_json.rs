//! Fuzz the KMIP JSON TTLV reader (the `--http-listen` door's body parser): any text it
//! accepts must write back to JSON that reads to the same tree, and survive the binary codec.
//!
//! Seeds: `fuzz/seeds/kmip_json/` (checked by `crates/tresor-kmip/tests/fuzz_json_seeds.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tresor_kmip::json::fuzz_json(data);
});
