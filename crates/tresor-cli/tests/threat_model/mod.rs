//! Trust-model attack tests (docs/THREAT_MODEL.md): one module per part of issue 13.

mod rekey;
