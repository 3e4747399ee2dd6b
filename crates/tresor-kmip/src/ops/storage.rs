//! The Storage Status Mask rule of Locate: which objects a Locate may return, by version.
//!
//! KMIP 1.0–1.4 (Locate, 4.9): the mask selects On-line (1) and Archival (2) storage. 1.x has
//! no storage status for a destroyed object, whose material is gone and whose metadata tresor
//! keeps on-line: a request that sends a mask with On-line asks for that metadata and gets
//! it; a request without a mask (what PyKMIP's `locate()` sends) does not. A Locate that
//! filters on a destroyed State gets them in any version.
//!
//! KMIP 2.0+ (Locate, 6.1.27 and Storage Status Mask, 11.x) adds Destroyed Storage (4): a
//! destroyed object is returned only when the mask has that bit (or the request asks for a
//! destroyed State). An omitted mask means On-line only.
//!
//! PyKMIP's server deletes an object on Destroy, so its Locate never finds one: the usual
//! clean-up loop `for uid in client.locate(): client.destroy(uid)` relies on this.

use tresor_store::State;

use crate::message::ProtocolVersion;

/// Storage Status Mask bit: On-line Storage.
pub(crate) const ON_LINE: i32 = 1;
/// Storage Status Mask bit: Archival Storage (tresor archives nothing).
pub(crate) const ARCHIVAL: i32 = 2;
/// Storage Status Mask bit: Destroyed Storage (KMIP 2.0+).
pub(crate) const DESTROYED: i32 = 4;

/// Returns true if and only if a Locate in `version` with Storage Status Mask `mask`
/// (`None`: omitted) returns an object in `state`. `asks_destroyed`: the request filters on
/// State Destroyed or Destroyed Compromised.
pub(crate) fn located(
    version: ProtocolVersion,
    mask: Option<i32>,
    asks_destroyed: bool,
    state: State,
) -> bool {
    let asked = mask;
    let mask = mask.unwrap_or(ON_LINE);
    if state.is_destroyed() {
        asks_destroyed
            || if version.is_v2() {
                mask & DESTROYED != 0
            } else {
                asked.is_some_and(|m| m & ON_LINE != 0)
            }
    } else {
        // Everything not destroyed is on-line; an Archival-only mask finds nothing.
        mask & ON_LINE != 0 || mask & (ARCHIVAL | DESTROYED) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: ProtocolVersion = ProtocolVersion::V1_2;
    const V2: ProtocolVersion = ProtocolVersion::V2_0;

    #[test]
    fn destroyed_objects_are_not_located_by_default() {
        for v in [V1, V2] {
            assert!(!located(v, None, false, State::Destroyed));
            assert!(!located(v, None, false, State::DestroyedCompromised));
            assert!(located(v, None, false, State::Active));
            assert!(located(v, None, false, State::PreActive));
        }
    }

    #[test]
    fn destroyed_storage_is_a_2x_bit() {
        assert!(located(V2, Some(DESTROYED), false, State::Destroyed));
        assert!(!located(V2, Some(DESTROYED), false, State::Active));
        assert!(located(V2, Some(ON_LINE | DESTROYED), false, State::Active));
        // 1.x has no Destroyed Storage: bit 4 is not a 1.x bit and finds nothing destroyed;
        // an explicit On-line mask asks for the kept metadata.
        assert!(!located(V1, Some(DESTROYED), false, State::Destroyed));
        assert!(located(V1, Some(ON_LINE), false, State::Destroyed));
        assert!(!located(V2, Some(ON_LINE), false, State::Destroyed));
        assert!(!located(V2, Some(ARCHIVAL), false, State::Active));
    }

    #[test]
    fn a_destroyed_state_filter_finds_them_in_any_version() {
        assert!(located(V1, None, true, State::Destroyed));
        assert!(located(V2, None, true, State::DestroyedCompromised));
    }
}
