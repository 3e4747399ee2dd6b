//! `tresor` commands as the integration tests run them. The binary's path comes from the
//! test target (`env!("CARGO_BIN_EXE_tresor")`, which only a test of the crate that builds
//! it can name), so each function takes the command or the binary.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run_ok;

/// `kmip serve` on an ephemeral port of the loopback interface: the arguments before the
/// server's own (`tresor [GLOBAL…] kmip serve --listen 127.0.0.1:0 [ARGS…]`).
pub const KMIP_SERVE: [&str; 4] = ["kmip", "serve", "--listen", "127.0.0.1:0"];

/// `bin` with a cleared environment but `PATH`, and `HOME=home`, `NO_COLOR=1`.
pub fn command(bin: impl AsRef<OsStr>, home: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1");
    c
}

/// Test certificates: `TRESOR kmip certs init DIR` (a CA, `server` and `client`), run by
/// `tresor` (a `tresor` command such as [`command`]'s) and checked with [`run_ok`]; `DIR`.
pub fn certs_init(mut tresor: Command, dir: PathBuf) -> PathBuf {
    tresor.args(["kmip", "certs", "init"]).arg(&dir);
    run_ok(tresor);
    dir
}

/// Adds `kmip serve --listen 127.0.0.1:0` and [`serve_args`] of `certs` to `tresor` (a
/// `tresor` command, with any global options already given); more server options may
/// follow.
pub fn kmip_serve<'a>(tresor: &'a mut Command, certs: &Path) -> &'a mut Command {
    tresor.args(KMIP_SERVE).args(serve_args(certs))
}

/// `--cert/--key/--ca` for `kmip serve` from a `kmip certs init` folder (its `server`
/// certificate).
pub fn serve_args(certs: &Path) -> Vec<String> {
    tls_args(certs, "server")
}

/// `--cert DIR/NAME.crt --key DIR/NAME.key --ca DIR/ca.crt`: the certificate `name` of a
/// `kmip certs init` folder `certs` and its CA (a server's or a client's options).
pub fn tls_args(certs: &Path, name: &str) -> Vec<String> {
    vec![
        "--cert".into(),
        certs.join(format!("{name}.crt")).display().to_string(),
        "--key".into(),
        certs.join(format!("{name}.key")).display().to_string(),
        "--ca".into(),
        certs.join("ca.crt").display().to_string(),
    ]
}
