//! `env.template` parser and renderer (`tresor_vault::fuzzing::fuzz_template`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tresor_vault::fuzzing::fuzz_template(data);
});
