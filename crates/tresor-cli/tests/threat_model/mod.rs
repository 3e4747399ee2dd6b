//! Issue 13 ("trust model"): each promise of docs/THREAT_MODEL.md, attacked through the real
//! `tresor` binary.

mod imports;
mod key_files;
mod restore;
mod run_env;
mod unlock;
