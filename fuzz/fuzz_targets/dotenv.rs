//! `.env` parser and renderer: parse → render → parse is the identity; any value renders and reads back (`tresor_vault::fuzzing::fuzz_dotenv`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tresor_vault::fuzzing::fuzz_dotenv(data);
});
