//! `tresor load` of tresor exports (age + Ed25519) and seeqret exports into a real vault (`tresor_vault::fuzzing::fuzz_load`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tresor_vault::fuzzing::fuzz_load(data);
});
