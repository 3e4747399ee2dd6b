//! Attack tests for the trust model (docs/THREAT_MODEL.md), one module per part, through the
//! real `tresor` binary.

mod team;
