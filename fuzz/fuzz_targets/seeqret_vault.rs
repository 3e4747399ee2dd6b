//! seeqret vault reader and `import-seeqret`: the input is `seeqrets.db` (`tresor_vault::fuzzing::fuzz_seeqret_vault`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tresor_vault::fuzzing::fuzz_seeqret_vault(data);
});
