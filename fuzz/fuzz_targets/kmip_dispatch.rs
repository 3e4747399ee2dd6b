//! KMIP request dispatch after decode: every batch item through the server's operations against a real SQLite store; the response must encode and decode (`tresor_kmip::fuzzing::fuzz_dispatch`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tresor_kmip::fuzzing::fuzz_dispatch(data);
});
