//! Attacks on tresor's promises (docs/THREAT_MODEL.md), through the real `tresor` binary.

mod rollback;
