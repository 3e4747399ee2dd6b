//! tresor's Python door: the native module `tresor._tresor` of the `tresor` wheel.
//!
//! Built by maturin (see `pyproject.toml` beside this crate) into one abi3 wheel for
//! CPython >= 3.9 on Linux. The wheel's pure-Python packages (`python/`) wrap what this
//! module exports:
//!
//! | Python | here |
//! | --- | --- |
//! | `tresor.keyring` | `keyring`: `set`/`get`/`invalidate` on any kernel keyring |
//! | `python_linux_keyutils` | `keyutils`: the drop-in `set_secret`/`get_secret`/`invalidate_secret`, `KeyRingIdentifier` |
//! | `tresor.vault`, `tresor.seeqret` | `vault`: open/get/list/add/env on the developer vault |
//! | `tresor.keys` | `keys`: versioned keys, transit encrypt/decrypt/rewrap/sign/verify |
//! | `keys_management` | `keys_management`: each defined key's lifecycle state and decisions, the callbacks' error strategies (tresor-keys' `lifecycle`) |
//! | `tresor.kmip` | `kmip`: one KMIP connection under `tresor.kmip.ProxyKmipClient` |
//! | `tresor.errors` | `errors`: one exception class per error kind, raised from Rust |
//!
//! Every system call runs with the interpreter detached (`Python::detach`), so other
//! Python threads keep running while the kernel answers.

mod errors;
mod keyring;
mod keys;
mod keys_management;
mod keyutils;
mod kmip;
mod kmip_v2;
mod vault;

use pyo3::prelude::*;

/// The native half of the `tresor` package (import `tresor`, not this module).
#[pymodule]
fn _tresor(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The wheel is a composition root, as the `tresor` binary is (its `compose` module):
    // `s3://` stores open through tresor-s3's backend, installed once here.
    #[cfg(feature = "s3")]
    tresor_store::store_url::install(tresor_s3::S3Backend::open_backend);
    keyring::register(m)?;
    keyutils::register(m)?;
    vault::register(m)?;
    keys::register(m)?;
    keys_management::register(m)?;
    kmip::register(m)?;
    Ok(())
}
