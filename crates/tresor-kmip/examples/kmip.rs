//! `tresor kmip ...` before the lead wires it into the tresor binary: the same CLI module,
//! with a store at DIR/tresor.db sealed by a local key in DIR/kmip.key (created 0600).
//!
//! ```text
//! cargo run -p tresor-kmip --example kmip -- certs init /tmp/k
//! cargo run -p tresor-kmip --example kmip -- serve --listen 127.0.0.1:0 \
//!     --cert /tmp/k/server.crt --key /tmp/k/server.key --ca /tmp/k/ca.crt --store /tmp/k/store
//! ```
//! Without `--store` the store is `$TRESOR_KMIP_STORE` or `./kmip-store`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tresor_kmip::cli::{KmipCommand, run};

#[derive(Parser)]
#[command(name = "tresor-kmip", about = "tresor kmip (development entry point)")]
struct Cli {
    #[command(subcommand)]
    cmd: KmipCommand,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn open_store(dir: Option<&Path>) -> Result<Arc<tresor_store::Store>, BoxError> {
    let dir: PathBuf = match dir {
        Some(d) => d.to_owned(),
        None => std::env::var_os("TRESOR_KMIP_STORE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("kmip-store")),
    };
    std::fs::create_dir_all(&dir)?;
    let key_path = dir.join("kmip.key");
    let kek = match std::fs::read(&key_path) {
        Ok(b) => {
            let arr: [u8; 32] = b
                .as_slice()
                .try_into()
                .map_err(|_| format!("'{}' is not a 32-byte key", key_path.display()))?;
            tresor_crypto::LocalKek::from_bytes(arr)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = tresor_crypto::LocalKek::generate()?;
            use std::io::Write;
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                o.mode(0o600);
            }
            o.open(&key_path)?.write_all(k.expose())?;
            k
        }
        Err(e) => return Err(e.into()),
    };
    let store = tresor_store::Store::open_sqlite(&dir.join("tresor.db"), Arc::new(kek), "server")?;
    Ok(Arc::new(store))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.cmd, &open_store) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
