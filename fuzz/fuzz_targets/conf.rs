//! PyKMIP `server.conf` and `pykmip.conf` readers, from memory (`tresor_kmip::fuzzing::fuzz_conf`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tresor_kmip::fuzzing::fuzz_conf(data);
});
