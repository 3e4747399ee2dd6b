//! Backup reader and restore into a real vault (`tresor_vault::fuzzing::fuzz_backup`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tresor_vault::fuzzing::fuzz_backup(data);
});
