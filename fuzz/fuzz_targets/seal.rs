//! Sealed files (`tresor seal`, issue 18): the .env, JSON, YAML and TOML scanners, the seal
//! header reader and the whole open path on an attacker's file; in seal mode, the round trip
//! and the MAC. See `tresor_seal::fuzzing::fuzz_seal`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tresor_seal::fuzzing::fuzz_seal(data);
});
