//! Fuzz the TTLV codec: any input that decodes must re-encode to the same bytes, and the typed
//! message layer must round-trip whatever it accepts.
//!
//! Seed it from the OASIS vectors:
//! `TRESOR_FUZZ_SEEDS=$PWD/fuzz/corpus/ttlv cargo test -p tresor-kmip write_fuzz_seeds`
//! then `cargo +nightly fuzz run ttlv`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tresor_kmip::fuzzing::fuzz_ttlv(data);
});
