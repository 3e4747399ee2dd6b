//! The key services behind sealed files' AWS KMS and KMIP recipients
//! ([`tresor_seal::KeyService`]), composed here because the sealed-file library has no door
//! dependency:
//!
//! - `awskms:KEY` — KMS `Encrypt`/`Decrypt` through tresor-s3's [`KmsProvider`] (region,
//!   endpoint and credentials as for the S3 store: `AWS_*`, `~/.aws`, `~/.config/tresor/s3.ini`),
//!   encryption context `{"tresor:store": "tresor-seal", "tresor:aad": hex(SHA-256(context))}`
//!   where the context names the data key's public id;
//! - `kmip://HOST:PORT/UID` — KMIP `Encrypt`/`Decrypt` (AES-256-GCM, the context as
//!   authenticated data) with symmetric key UID on a tresor KMIP server, over mutual TLS with
//!   the client certificate `--server` uses (`--cert/--key/--ca`, `TRESOR_CLIENT_*`, or the
//!   vault folder's `client.conf`). The wrapped form is `iv_len ‖ iv ‖ tag[16] ‖ ciphertext`.
//!
//! [`KmsProvider`]: https://docs.rs/tresor-s3

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{BlockCipherMode, CryptographicAlgorithm, ResultStatus};
use tresor_kmip::payload::crypto::{CryptographicParameters, DecryptRequest, EncryptRequest};
use tresor_kmip::payload::{Request, UidRef};
use tresor_kmip::{ProtocolVersion, Tag, Ttlv};
use zeroize::Zeroizing;

/// The client certificate for KMIP recipients: the `--server` flags (`--cert`, `--key`,
/// `--ca`, `TRESOR_CLIENT_*`), else the `[client]` section of the vault folder's
/// `client.conf` (PyKMIP style).
#[derive(Debug, Clone, Default)]
pub struct KmipAuth {
    /// Client certificate (PEM).
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    pub key: Option<PathBuf>,
    /// CA of the server (PEM).
    pub ca: Option<PathBuf>,
    /// A `client.conf` whose `[client]` section fills what the flags leave out.
    pub config: Option<PathBuf>,
}

/// The AWS KMS and KMIP clients, made on first use and kept for the command.
pub struct Services {
    auth: KmipAuth,
    rt: RefCell<Option<tokio::runtime::Runtime>>,
    kmip: RefCell<HashMap<String, KmipClient>>,
    #[cfg(feature = "s3")]
    kms: RefCell<HashMap<String, tresor_s3::KmsProvider>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

/// The KMS encryption context's store entry for sealed files.
#[cfg(feature = "s3")]
const KMS_STORE: &str = "tresor-seal";

impl Services {
    /// The services, with `auth` for KMIP servers.
    pub fn new(auth: KmipAuth) -> Self {
        Services {
            auth,
            rt: RefCell::new(None),
            kmip: RefCell::new(HashMap::new()),
            #[cfg(feature = "s3")]
            kms: RefCell::new(HashMap::new()),
        }
    }

    fn kmip_config(&self, addr: &str) -> Result<ClientConfig, String> {
        let (host, port) = match addr.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_matches(['[', ']']).to_owned(),
                p.parse::<u16>()
                    .map_err(|_| format!("'{p}' is not a port number"))?,
            ),
            None => (addr.to_owned(), tresor_kmip::client::DEFAULT_PORT),
        };
        let a = &self.auth;
        let mut cfg = match &a.config {
            Some(p) => ClientConfig::from_pykmip_conf(p, "client")
                .map_err(|e| format!("client settings in '{}': {e}", p.display()))?,
            None => {
                if a.cert.is_none() || a.key.is_none() || a.ca.is_none() {
                    return Err("a KMIP recipient needs a client certificate: --cert, --key and --ca (or TRESOR_CLIENT_CERT/KEY/CA, or a [client] section in VAULT/client.conf)".into());
                }
                ClientConfig::new(host.clone(), PathBuf::new(), PathBuf::new(), PathBuf::new())
            }
        };
        cfg.host = host;
        cfg.port = port;
        if let Some(p) = &a.cert {
            cfg.certfile = p.clone();
        }
        if let Some(p) = &a.key {
            cfg.keyfile = p.clone();
        }
        if let Some(p) = &a.ca {
            cfg.ca_certs = p.clone();
        }
        cfg.protocol_version = ProtocolVersion::V1_4;
        Ok(cfg)
    }

    /// Runs one KMIP operation against the server of `recipient` (`kmip://HOST:PORT/UID`):
    /// the request `request` makes for the recipient's key.
    fn kmip_call<R: Request>(
        &self,
        recipient: &str,
        request: impl FnOnce(UidRef) -> R,
    ) -> Result<tresor_kmip::message::ResponseBatchItem, String> {
        let op = R::OPERATION;
        let (addr, uid) = tresor_seal::kmip_parts(recipient).map_err(|e| e.to_string())?;
        let mut rt = self.rt.borrow_mut();
        if rt.is_none() {
            *rt = Some(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start the KMIP client: {e}"))?,
            );
        }
        let rt = rt.as_ref().expect("made above");
        let mut clients = self.kmip.borrow_mut();
        if !clients.contains_key(&addr) {
            let c = KmipClient::new(self.kmip_config(&addr)?)
                .map_err(|e| format!("KMIP client for {addr}: {e}"))?;
            clients.insert(addr.clone(), c);
        }
        let client = &clients[&addr];
        let items = request(UidRef::text(uid)).to_items(client.config().protocol_version);
        let item = rt
            .block_on(client.call(op, items))
            .map_err(|e| format!("KMIP server {addr}: {e}"))?;
        if item.result_status != ResultStatus::SUCCESS {
            return Err(format!(
                "KMIP {op:?} refused by {addr}: {}",
                item.result_message.as_deref().unwrap_or("no message")
            ));
        }
        Ok(item)
    }

    #[cfg(feature = "s3")]
    fn kms(
        &self,
        recipient: &str,
    ) -> Result<std::cell::RefMut<'_, tresor_s3::KmsProvider>, String> {
        let key = recipient
            .strip_prefix("awskms:")
            .ok_or("not an AWS KMS recipient")?;
        let mut m = self.kms.borrow_mut();
        if !m.contains_key(key) {
            let p = tresor_s3::KmsProvider::new(key, KMS_STORE, &tresor_s3::S3Settings::from_env())
                .map_err(|e| e.to_string())?;
            m.insert(key.to_owned(), p);
        }
        Ok(std::cell::RefMut::map(m, |m| {
            m.get_mut(key).expect("inserted above")
        }))
    }
}

/// AES-GCM with a 16-byte tag.
fn gcm_params() -> Option<CryptographicParameters> {
    Some(CryptographicParameters {
        block_cipher_mode: Some(BlockCipherMode::GCM),
        cryptographic_algorithm: Some(CryptographicAlgorithm::AES),
        tag_length: Some(16),
        ..CryptographicParameters::default()
    })
}

fn payload_bytes(item: &tresor_kmip::message::ResponseBatchItem, tag: Tag) -> Option<Vec<u8>> {
    item.payload_items()
        .iter()
        .find(|t| t.tag == tag)
        .and_then(Ttlv::as_bytes)
        .map(<[u8]>::to_vec)
}

impl tresor_seal::KeyService for Services {
    fn wrap(&self, recipient: &str, key: &[u8; 32], context: &str) -> Result<Vec<u8>, String> {
        if recipient.starts_with("kmip://") {
            let item = self.kmip_call(recipient, |uid| EncryptRequest {
                unique_identifier: Some(uid),
                cryptographic_parameters: gcm_params(),
                data: Some(key.to_vec()),
                authenticated_encryption_additional_data: Some(context.as_bytes().to_vec()),
                ..EncryptRequest::default()
            })?;
            let ct = payload_bytes(&item, Tag::DATA).ok_or("KMIP Encrypt returned no data")?;
            let iv =
                payload_bytes(&item, Tag::IV_COUNTER_NONCE).ok_or("KMIP Encrypt returned no IV")?;
            let tag = payload_bytes(&item, Tag::AUTHENTICATED_ENCRYPTION_TAG)
                .ok_or("KMIP Encrypt returned no tag")?;
            if iv.is_empty() || iv.len() > 255 || tag.len() != 16 {
                return Err("KMIP Encrypt returned an unexpected IV or tag".into());
            }
            let mut out = vec![iv.len() as u8];
            out.extend_from_slice(&iv);
            out.extend_from_slice(&tag);
            out.extend_from_slice(&ct);
            return Ok(out);
        }
        #[cfg(feature = "s3")]
        if recipient.starts_with("awskms:") {
            use tresor_crypto::KeyProvider as _;
            let p = self.kms(recipient)?;
            let dek = tresor_crypto::DataKey::from_bytes(*key);
            return p
                .wrap(&dek, context.as_bytes())
                .map(|w| w.bytes)
                .map_err(|e| e.to_string());
        }
        Err(unsupported(recipient))
    }

    fn unwrap(
        &self,
        recipient: &str,
        wrapped: &[u8],
        context: &str,
    ) -> Result<Zeroizing<Vec<u8>>, String> {
        if recipient.starts_with("kmip://") {
            let n = *wrapped.first().ok_or("empty wrapped key")? as usize;
            if wrapped.len() < 1 + n + 16 {
                return Err("the wrapped key is too short".into());
            }
            let (iv, rest) = wrapped[1..].split_at(n);
            let (tag, ct) = rest.split_at(16);
            let item = self.kmip_call(recipient, |uid| DecryptRequest {
                unique_identifier: Some(uid),
                cryptographic_parameters: gcm_params(),
                data: Some(ct.to_vec()),
                iv_counter_nonce: Some(iv.to_vec()),
                authenticated_encryption_additional_data: Some(context.as_bytes().to_vec()),
                authenticated_encryption_tag: Some(tag.to_vec()),
                ..DecryptRequest::default()
            })?;
            return payload_bytes(&item, Tag::DATA)
                .map(Zeroizing::new)
                .ok_or_else(|| "KMIP Decrypt returned no data".into());
        }
        #[cfg(feature = "s3")]
        if let Some(k) = recipient.strip_prefix("awskms:") {
            use tresor_crypto::KeyProvider as _;
            let p = self.kms(recipient)?;
            let w = tresor_crypto::WrappedKey {
                key_id: format!("kms:{k}"),
                bytes: wrapped.to_vec(),
            };
            return match p.unwrap(&w, context.as_bytes()) {
                Some(Ok(dek)) => Ok(Zeroizing::new(dek.expose().to_vec())),
                Some(Err(e)) => Err(format!("KMS Decrypt: {e}")),
                None => Err("KMS Decrypt: not this key".into()),
            };
        }
        Err(unsupported(recipient))
    }
}

fn unsupported(recipient: &str) -> String {
    if recipient.starts_with("awskms:") {
        "this tresor was built without AWS support (cargo feature 's3')".into()
    } else {
        format!("no key service for '{recipient}'")
    }
}
