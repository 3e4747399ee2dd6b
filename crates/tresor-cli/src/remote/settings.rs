//! [`RemoteSettings`]: where the remote vault is and how the client authenticates (flags,
//! then a PyKMIP-style `pykmip.conf`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use tresor_kmip::ProtocolVersion;
use tresor_kmip::client::ClientConfig;
use tresor_vault::VaultError;

/// Where the remote vault is and how to authenticate.
#[derive(Debug, Clone, Default)]
pub struct RemoteSettings {
    /// `HOST:PORT` (port 5696 when absent).
    pub server: String,
    /// Client certificate (PEM).
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    pub key: Option<PathBuf>,
    /// CA of the server (PEM).
    pub ca: Option<PathBuf>,
    /// A PyKMIP-style `pykmip.conf` whose `[client]` section fills what the flags leave out.
    pub config: Option<PathBuf>,
}

impl RemoteSettings {
    pub(super) fn client_config(&self) -> Result<ClientConfig> {
        let (host, port) = match self.server.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_matches(['[', ']']).to_owned(),
                p.parse::<u16>().map_err(|_| {
                    anyhow!(
                        "--server '{}': '{p}' is not a port number (HOST:PORT)",
                        self.server
                    )
                })?,
            ),
            None => (self.server.clone(), tresor_kmip::client::DEFAULT_PORT),
        };
        if host.is_empty() {
            bail!("--server '{}' names no host (HOST:PORT)", self.server);
        }
        let mut cfg = match &self.config {
            Some(p) => ClientConfig::from_pykmip_conf(p, "client")
                .with_context(|| format!("client settings in '{}'", p.display()))?,
            None => {
                let missing: Vec<&str> = [
                    ("--cert", self.cert.is_none()),
                    ("--key", self.key.is_none()),
                    ("--ca", self.ca.is_none()),
                ]
                .into_iter()
                .filter(|(_, m)| *m)
                .map(|(f, _)| f)
                .collect();
                if !missing.is_empty() {
                    bail!(VaultError::Refused(format!(
                        "--server needs a client certificate: {} missing (flags, \
                         TRESOR_CLIENT_CERT/KEY/CA, or a [client] section with certfile, keyfile \
                         and ca_certs in VAULT/client.conf)",
                        missing.join(", ")
                    )));
                }
                ClientConfig::new(host.clone(), PathBuf::new(), PathBuf::new(), PathBuf::new())
            }
        };
        cfg.host = host;
        cfg.port = port;
        if let Some(p) = &self.cert {
            cfg.certfile = p.clone();
        }
        if let Some(p) = &self.key {
            cfg.keyfile = p.clone();
        }
        if let Some(p) = &self.ca {
            cfg.ca_certs = p.clone();
        }
        cfg.protocol_version = ProtocolVersion::V1_4;
        Ok(cfg)
    }

    /// The `client.conf` of a vault folder, if it exists.
    pub fn config_in(dir: &Path) -> Option<PathBuf> {
        let p = dir.join("client.conf");
        p.is_file().then_some(p)
    }
}
