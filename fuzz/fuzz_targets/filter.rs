//! `app:env:KEY` filters: re-parse, and every glob agrees with SQLite's GLOB (`tresor_vault::fuzzing::fuzz_filter`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tresor_vault::fuzzing::fuzz_filter(data);
});
