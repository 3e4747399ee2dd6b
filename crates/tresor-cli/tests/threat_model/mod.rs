//! Trust-model attacks through the real `tresor` binary, one module per part of issue 13
//! (the promises are listed in `docs/THREAT_MODEL.md`).

mod certs;
mod db_writer;
mod imports;
mod key_files;
mod rekey;
mod restore;
mod rollback;
mod run_env;
mod team;
mod unlock;
