//! tresor's developer vault: `app:env:KEY` names and the tools around them.
//!
//! | module | job |
//! |---|---|
//! | [`filter`] | the `app:env:KEY` filter grammar with globs ([`filter::Filter`], [`filter::FilterSet`]) |
//! | [`template`] | seeqret-compatible `env.template` parsing and rendering |
//! | [`dotenv`] | `.env` rendering (safe quoting) and parsing |
//! | [`seeqret`] | reading seeqret vaults and exports, for migration |
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod dotenv;
pub mod filter;
pub mod seeqret;
pub mod template;
