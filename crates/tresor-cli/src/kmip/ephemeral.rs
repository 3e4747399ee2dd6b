//! `tresor kmip serve --ephemeral`: a throw-away KMIP server for other projects' tests.
//!
//! Everything it writes lives in one private folder (0700) on a memory file system
//! (`/dev/shm` when it is a writable tmpfs, else `$XDG_RUNTIME_DIR`, else the temporary
//! folder, with a warning that it is on disk): a SQLite store sealed by a key that exists
//! only in memory, and a fresh CA with a server and a `client` certificate. `--certs DIR`
//! writes the certificates to DIR instead (created, and removed again at exit when this
//! command created it; otherwise only the files it wrote are removed). A ready
//! `pykmip.conf` `[client]` section goes to stdout once the server listens; the folder and
//! the files are removed when it exits (SIGTERM, SIGINT, or an error). Only a SIGKILL leaves
//! the folder behind: its name starts with `tresor-ephemeral-`.
//!
//! The `client` certificate may create names under every app (an app policy `*`), so a
//! test suite can use any name; other certificates of the same CA follow the normal rules.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use super::args::ServeArgs;
use super::{server_runtime, usage};
use tresor_kmip::KmipError;
use tresor_kmip::server::{Server, ServerConfig};

/// The prefix of the private folder an ephemeral server works in.
pub const EPHEMERAL_PREFIX: &str = "tresor-ephemeral-";

/// The folder for the private working folder: a writable tmpfs when there is one.
fn memory_base() -> (PathBuf, bool) {
    let shm = Path::new("/dev/shm");
    if is_writable_dir(shm) {
        return (shm.to_owned(), true);
    }
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)
        && is_writable_dir(&x)
    {
        return (x, true);
    }
    (std::env::temp_dir(), false)
}

fn is_writable_dir(p: &Path) -> bool {
    p.is_dir()
        && tempfile::Builder::new()
            .prefix(".tresor-probe-")
            .tempfile_in(p)
            .is_ok()
}

/// Files written into a folder the caller gave (`--certs DIR`), removed on drop.
struct CertsGuard {
    dir: PathBuf,
    created_dir: bool,
    files: Vec<PathBuf>,
}

impl Drop for CertsGuard {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        if self.created_dir {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Refuses the flags that name files or stores: an ephemeral server makes its own.
fn check_flags(a: &ServeArgs) -> Result<(), KmipError> {
    let given = [
        ("--cert", a.cert.is_some()),
        ("--key", a.key.is_some()),
        ("--ca", a.ca.is_some()),
        ("--crl", a.crl.is_some()),
        ("--config", a.config.is_some()),
        ("--store", a.store.is_some()),
        ("--audit-log", a.audit_log.is_some()),
    ];
    if let Some((f, _)) = given.iter().find(|(_, g)| *g) {
        return Err(usage(format!(
            "{f} cannot be used with --ephemeral: an ephemeral server makes its own CA, \
             certificates and in-memory store (use --certs DIR to choose where the \
             certificates go)"
        )));
    }
    Ok(())
}

/// The `[client]` section of a `pykmip.conf` for the ephemeral server's client certificate.
pub fn pykmip_client_section(
    host: &str,
    port: u16,
    certs: &tresor_kmip::certs::CertFiles,
) -> String {
    format!(
        "[client]\nhost={host}\nport={port}\ncertfile={}\nkeyfile={}\nca_certs={}\n\
         cert_reqs=CERT_REQUIRED\nssl_version=PROTOCOL_SSLv23\ndo_handshake_on_connect=True\n\
         suppress_ragged_eofs=True\n",
        certs.client_cert.display(),
        certs.client_key.display(),
        certs.ca_cert.display()
    )
}

/// `tresor kmip serve --ephemeral`.
pub(super) fn serve_ephemeral(a: ServeArgs) -> Result<ExitCode, KmipError> {
    let started = Instant::now();
    check_flags(&a)?;
    let (base, in_memory) = memory_base();
    let work = tempfile::Builder::new()
        .prefix(EPHEMERAL_PREFIX)
        .tempdir_in(&base)
        .map_err(|e| {
            KmipError::io(
                format!("creating a private folder in {}", base.display()),
                e,
            )
        })?;
    if !in_memory {
        eprintln!(
            "kmip: warning: no writable memory file system (/dev/shm, $XDG_RUNTIME_DIR): the \
             ephemeral store is in {} (on disk until exit)",
            work.path().display()
        );
    }
    let (certs_dir, guard) = match &a.certs {
        Some(d) => {
            let created_dir = !d.exists();
            let names = [
                "ca.crt",
                "ca.key",
                "server.crt",
                "server.key",
                "client.crt",
                "client.key",
                tresor_kmip::certs::CRL_FILE,
            ];
            if let Some(n) = names.iter().find(|n| d.join(n).exists()) {
                return Err(usage(format!(
                    "--certs {}: it already holds {n}; give an empty or new folder (an \
                     ephemeral server removes its certificates at exit)",
                    d.display()
                )));
            }
            let guard = CertsGuard {
                dir: d.clone(),
                created_dir,
                files: names.iter().map(|n| d.join(n)).collect(),
            };
            (d.clone(), Some(guard))
        }
        None => (work.path().join("certs"), None),
    };
    let certs = tresor_kmip::certs::init(&certs_dir)?;
    let client_id = tresor_kmip::server::identity_of_cert_file(&certs.client_cert)?;
    let kek = Arc::new(
        tresor_crypto::LocalKek::generate()
            .map_err(|e| KmipError::Store(format!("making the store key: {e}")))?,
    );
    let store = Arc::new(
        tresor_store::Store::open_sqlite(&work.path().join("store.db"), kek, "tresor-ephemeral")
            .map_err(|e| KmipError::Store(e.to_string()))?,
    );
    tresor_kmip::apps::set(&store, tresor_kmip::ops::access::ANY, &client_id, true)
        .map_err(|e| KmipError::Store(e.to_string()))?;
    let mut config = ServerConfig::new(&certs.server_cert, &certs.server_key, &certs.ca_cert);
    if let Some(l) = &a.listen {
        config.listen.clone_from(l);
    }
    super::serve::apply_limits(&a.limits, &mut config);
    if let Some(n) = a.key_cache_entries {
        config.key_cache_entries = n;
    }
    config.admins.clone_from(&a.admin);
    if a.no_client_auth_eku {
        config.require_client_auth_eku = false;
    }
    if let Some(s) = &a.identity_from {
        config.identity_from = s.parse()?;
    }
    let work_path = work.path().to_owned();
    let shown = work_path.clone();
    let http_listen = a.http_listen.clone();
    let rt = server_runtime(a.worker_threads)?;
    let result = rt.block_on(async move {
        let mut server = Server::bind(config, store).await?;
        if let Some(h) = &http_listen {
            server = server.with_http(h).await?;
        }
        let addr = server.local_addr();
        let host = match addr.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
            ip => ip.to_string(),
        };
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(pykmip_client_section(&host, addr.port(), &certs).as_bytes());
        let _ = out.flush();
        drop(out);
        eprintln!(
            "kmip: ephemeral server: store and key in memory ({}), certificates in {}, \
             client identity '{client_id}' may create names under every app; all removed at exit",
            shown.display(),
            certs_dir.display()
        );
        if let Some(h) = server.http_local_addr() {
            eprintln!("kmip: HTTPS/JSON (POST /kmip/2_1) listening on {h}");
        }
        eprintln!(
            "listening on {addr} (ready in {} ms)",
            started.elapsed().as_millis()
        );
        server.serve(super::shutdown_signal()).await;
        eprintln!("kmip: shut down; removing {}", shown.display());
        Ok::<_, KmipError>(())
    });
    drop(rt);
    drop(guard);
    work.close()
        .map_err(|e| KmipError::io(format!("removing {}", work_path.display()), e))?;
    result?;
    Ok(ExitCode::SUCCESS)
}
