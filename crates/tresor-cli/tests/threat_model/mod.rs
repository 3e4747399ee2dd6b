//! Trust-model attacks through the real `tresor` binary, one module per part of issue 13
//! (see docs/THREAT_MODEL.md).

mod db_writer;
mod rollback;
