//! S3 object record bodies, decoded as the S3 backend reads them (`tresor_s3::fuzzing::fuzz_record`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tresor_s3::fuzzing::fuzz_record(data);
});
