//! seeqret `json-crypt` and `command` export parsers (`tresor_vault::fuzzing::fuzz_seeqret_export`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tresor_vault::fuzzing::fuzz_seeqret_export(data);
});
