//! Helpers for `cargo fuzz` targets (`fuzz/fuzz_targets/*.rs`); not a stable API.

use crate::message::{RequestMessage, ResponseMessage};
use crate::ttlv::Ttlv;

/// Decodes `data` as a TTLV message and, if that succeeds, asserts that re-encoding gives
/// back exactly `data`; also runs the typed message parsers over the tree.
///
/// # Panics
/// When the codec is not canonical: that is the bug the fuzzer looks for.
pub fn fuzz_ttlv(data: &[u8]) {
    if let Ok(t) = Ttlv::decode(data) {
        assert_eq!(t.encode(), data, "re-encoding differs from the input");
        if let Ok(req) = RequestMessage::from_ttlv(&t) {
            let again = req.to_ttlv();
            assert_eq!(RequestMessage::from_ttlv(&again).ok().as_ref(), Some(&req));
        }
        if let Ok(resp) = ResponseMessage::from_ttlv(&t) {
            let again = resp.to_ttlv();
            assert_eq!(
                ResponseMessage::from_ttlv(&again).ok().as_ref(),
                Some(&resp)
            );
        }
    }
}
