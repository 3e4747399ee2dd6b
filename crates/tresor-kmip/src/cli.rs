//! The `tresor kmip ...` subcommands: the server, certificates, grants and a client command
//! for every operation.
//!
//! Exit codes: 0 success; 1 a negative answer (object not found, Locate found nothing, a
//! signature or MAC did not verify); 2 an error.
//!
//! Client commands take `--server HOST:PORT --cert F --key F --ca F`, or `--config
//! pykmip.conf` (its `[client]` section, or `--section`). Unless `--kmip-version` is given,
//! the client negotiates the version with Discover Versions. Output is human-readable, or
//! JSON with `--json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::{Value as Json, json};

use crate::attributes::{Attribute, AttributeName, AttributeSet, Container};
use crate::client::{ClientConfig, KmipClient};
use crate::enums::{self, KeyFormatType, NameType, ObjectType, Operation, ResultStatus};
use crate::error::KmipError;
use crate::message::{ProtocolVersion, RequestMessage, ResponseBatchItem};
use crate::ops::{GRANTS_ATTR, PERMISSIONS, attrs};
use crate::server::{Server, ServerConfig};
use crate::tags::Tag;
use crate::ttlv::{Ttlv, Value};

/// Opens the tresor store: `Some(dir)` a store directory (created if missing), `None` the
/// default vault.
pub type OpenStore<'a> =
    &'a dyn Fn(
        Option<&Path>,
    ) -> Result<Arc<tresor_store::Store>, Box<dyn std::error::Error + Send + Sync>>;

/// Connection flags shared by every client command.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Server address HOST:PORT (default port 5696).
    #[arg(long, value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// Client certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// CA certificate of the server (PEM).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// A PyKMIP pykmip.conf; flags given on the command line override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The section of --config to read.
    #[arg(long, default_value = "client")]
    pub section: String,
    /// Speak this KMIP version (1.0..2.1) instead of negotiating one.
    #[arg(long, value_name = "MAJOR.MINOR")]
    pub kmip_version: Option<String>,
    /// Request timeout in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `tresor kmip serve` flags.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed on stderr).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Server certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// CA certificate client certificates must chain to (PEM).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// A PyKMIP server.conf ([server] hostname, port, certificate_path, key_path, ca_path,
    /// auth_suite, enable_tls_client_auth, database_path).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Store directory (default: the tresor vault).
    #[arg(long, value_name = "DIR")]
    // A String, not a PathBuf: the tresor binary has a global `--store` of the same id.
    pub store: Option<String>,
    /// Do not require the clientAuth extended key usage on client certificates.
    #[arg(long)]
    pub no_client_auth_eku: bool,
    /// An identity that may use every object (repeatable).
    #[arg(long, value_name = "IDENTITY")]
    pub admin: Vec<String>,
}

/// `tresor kmip certs` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum CertsCommand {
    /// Write ca.crt, server.crt/server.key and client.crt/client.key into DIR.
    Init {
        /// Target directory.
        dir: PathBuf,
    },
    /// Issue NAME.crt/NAME.key (CN NAME, clientAuth) from the CA in DIR.
    Client {
        /// Directory holding ca.crt and ca.key.
        dir: PathBuf,
        /// The client identity (certificate common name).
        name: String,
    },
}

/// The `tresor kmip` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum KmipCommand {
    /// Run the KMIP server (mutual TLS) over the tresor store.
    Serve(ServeArgs),
    /// Create development certificates.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Allow IDENTITY to use object UID (a local admin command on the store, no TLS).
    Grant {
        /// Store directory (default: the tresor vault).
        #[arg(long, value_name = "DIR")]
        store: Option<String>,
        /// The object.
        uid: String,
        /// The client identity (certificate CN).
        identity: String,
        /// Comma-separated permissions: get, locate, use, modify, destroy, all; "none" revokes.
        ops: String,
    },
    /// Ask which KMIP versions the server speaks.
    DiscoverVersions(ConnArgs),
    /// Ask the server for its operations, object types and information.
    Query(ConnArgs),
    /// Create a symmetric key.
    Create {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// Algorithm (AES, HMAC_SHA256...).
        #[arg(long, default_value = "AES")]
        algorithm: String,
        /// Length in bits.
        #[arg(long, default_value_t = 256)]
        length: i32,
        /// Attribute flags.
        #[command(flatten)]
        attrs: AttrArgs,
    },
    /// Create a key pair (RSA, EC, Ed25519).
    CreateKeyPair {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// Algorithm: RSA, ECDSA (or EC), Ed25519.
        #[arg(long, default_value = "RSA")]
        algorithm: String,
        /// Length in bits (RSA 2048/3072/4096, EC 256/384).
        #[arg(long)]
        length: Option<i32>,
        /// Public key name.
        #[arg(long)]
        public_name: Option<String>,
        /// Attribute flags.
        #[command(flatten)]
        attrs: AttrArgs,
    },
    /// Register an object from a file or a value.
    Register {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// Object type: SymmetricKey, SecretData, OpaqueObject, Certificate, PrivateKey, PublicKey.
        #[arg(long = "type", value_name = "TYPE")]
        object_type: String,
        /// Read the object's bytes from FILE.
        #[arg(long, value_name = "FILE", conflicts_with = "value")]
        file: Option<PathBuf>,
        /// The object's bytes, as text.
        #[arg(long)]
        value: Option<String>,
        /// Key format: Raw, Opaque, PKCS_1, PKCS_8, X_509, ECPrivateKey.
        #[arg(long)]
        format: Option<String>,
        /// Algorithm of a key.
        #[arg(long)]
        algorithm: Option<String>,
        /// Length of a key in bits.
        #[arg(long)]
        length: Option<i32>,
        /// Attribute flags.
        #[command(flatten)]
        attrs: AttrArgs,
    },
    /// Get an object; its material goes to --out or stdout.
    Get {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// The object.
        uid: String,
        /// Key format to return (Raw, PKCS_1, PKCS_8, X_509, TransparentSymmetricKey...).
        #[arg(long)]
        format: Option<String>,
        /// Write the material to FILE (0600).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Show an object's attributes (all, or the named ones).
    GetAttributes {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// The object.
        uid: String,
        /// Attribute names ("Cryptographic Length", "x-owner").
        names: Vec<String>,
    },
    /// List an object's attribute names.
    GetAttributeList {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// The object.
        uid: String,
    },
    /// Add an attribute instance: NAME=VALUE.
    AddAttribute {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// The object.
        uid: String,
        /// NAME=VALUE.
        attribute: String,
    },
    /// Set a single-valued attribute (KMIP 2.x): NAME=VALUE.
    SetAttribute {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// The object.
        uid: String,
        /// NAME=VALUE.
        attribute: String,
    },
    /// Replace an attribute instance: NAME=VALUE.
    ModifyAttribute {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// The object.
        uid: String,
        /// NAME=VALUE.
        attribute: String,
        /// Instance index (KMIP 1.x).
        #[arg(long)]
        index: Option<i32>,
    },
    /// Delete an attribute (one instance with --index).
    DeleteAttribute {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// The object.
        uid: String,
        /// The attribute name.
        name: String,
        /// Instance index.
        #[arg(long)]
        index: Option<i32>,
    },
    /// Find objects.
    Locate {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// Object type.
        #[arg(long = "type", value_name = "TYPE")]
        object_type: Option<String>,
        /// State (PreActive, Active, Deactivated, Compromised, Destroyed...).
        #[arg(long)]
        state: Option<String>,
        /// Algorithm.
        #[arg(long)]
        algorithm: Option<String>,
        /// Length.
        #[arg(long)]
        length: Option<i32>,
        /// At most this many.
        #[arg(long)]
        max: Option<i32>,
        /// Skip this many.
        #[arg(long)]
        offset: Option<i32>,
        /// Attribute flags.
        #[command(flatten)]
        attrs: AttrArgs,
    },
    /// Check an object against a usage mask.
    Check {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// The object.
        uid: String,
        /// Usage mask names ("Encrypt Decrypt").
        #[arg(long)]
        usage: Option<String>,
    },
    /// Activate an object.
    Activate {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// The object.
        uid: String,
    },
    /// Revoke an object.
    Revoke {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// The object.
        uid: String,
        /// Reason: Unspecified, KeyCompromise, CACompromise, AffiliationChanged, Superseded,
        /// CessationOfOperation, PrivilegeWithdrawn.
        #[arg(long, default_value = "CessationOfOperation")]
        reason: String,
        /// A revocation message.
        #[arg(long)]
        message: Option<String>,
        /// When the compromise happened (Unix seconds).
        #[arg(long)]
        compromise_date: Option<i64>,
    },
    /// Destroy an object's material (metadata is kept).
    Destroy {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// The object.
        uid: String,
    },
    /// Replace a symmetric key with a new one.
    ReKey {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// The object.
        uid: String,
        /// Activation offset of the new key in seconds.
        #[arg(long)]
        offset: Option<u32>,
    },
    /// Encrypt data (hex with --hex, else text) with a symmetric key.
    Encrypt {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// Key and data.
        #[command(flatten)]
        data: DataArgs,
        /// GCM or CBC.
        #[arg(long, default_value = "GCM")]
        mode: String,
        /// IV/nonce (hex); generated by the server when absent.
        #[arg(long)]
        iv: Option<String>,
        /// Additional authenticated data (hex, GCM).
        #[arg(long)]
        aad: Option<String>,
    },
    /// Decrypt hex data.
    Decrypt {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// Key and data.
        #[command(flatten)]
        data: DataArgs,
        /// GCM or CBC.
        #[arg(long, default_value = "GCM")]
        mode: String,
        /// IV/nonce (hex).
        #[arg(long)]
        iv: String,
        /// GCM tag (hex).
        #[arg(long)]
        tag: Option<String>,
        /// Additional authenticated data (hex).
        #[arg(long)]
        aad: Option<String>,
    },
    /// Sign data with a private key.
    Sign {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// Key and data.
        #[command(flatten)]
        data: DataArgs,
        /// RSA padding: PSS or PKCS1v1_5.
        #[arg(long)]
        padding: Option<String>,
    },
    /// Verify a signature with a public key (exit 1 if invalid).
    Verify {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// Key and data.
        #[command(flatten)]
        data: DataArgs,
        /// The signature (hex).
        #[arg(long)]
        signature: String,
        /// RSA padding: PSS or PKCS1v1_5.
        #[arg(long)]
        padding: Option<String>,
    },
    /// Compute an HMAC.
    Mac {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// Key and data.
        #[command(flatten)]
        data: DataArgs,
    },
    /// Verify an HMAC (exit 1 if invalid).
    MacVerify {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// Key and data.
        #[command(flatten)]
        data: DataArgs,
        /// The MAC (hex).
        #[arg(long)]
        mac: String,
    },
    /// Get random bytes from the server (printed as hex).
    Rng {
        /// Connection flags.
        #[command(flatten)]
        conn: ConnArgs,
        /// How many bytes.
        #[arg(long, default_value_t = 32)]
        length: i32,
    },
}

/// Attribute flags for create, register and locate.
#[derive(Debug, Clone, Default, Args)]
pub struct AttrArgs {
    /// Name.
    #[arg(long)]
    pub name: Option<String>,
    /// Usage mask names, e.g. "Encrypt Decrypt" or "Sign|Verify".
    #[arg(long)]
    pub usage: Option<String>,
    /// Object group.
    #[arg(long)]
    pub group: Option<String>,
    /// Any attribute as NAME=VALUE (repeatable), e.g. x-owner=alice.
    #[arg(long = "attr", value_name = "NAME=VALUE")]
    pub attr: Vec<String>,
}

/// The key and data of a cryptographic command.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// The key.
    pub uid: String,
    /// The data.
    #[arg(long)]
    pub data: String,
    /// --data is hex (default: text for encrypt/sign/mac, hex for decrypt).
    #[arg(long)]
    pub hex: bool,
}

fn usage(msg: impl Into<String>) -> KmipError {
    KmipError::Usage(msg.into())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, KmipError> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        return Err(usage(format!("'{s}' is not hex")));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| usage(format!("'{s}' is not hex")))
        })
        .collect()
}

fn enum_value(def: &enums::EnumDef, what: &str, s: &str) -> Result<u32, KmipError> {
    def.value_of(s)
        .or_else(|| {
            def.values
                .iter()
                .find(|(_, n)| {
                    n.eq_ignore_ascii_case(s)
                        || n.replace('_', "")
                            .eq_ignore_ascii_case(&s.replace(['_', '-'], ""))
                })
                .map(|(v, _)| *v)
        })
        .ok_or_else(|| usage(format!("unknown {what} '{s}'")))
}

/// Parses NAME=VALUE into an attribute, typing VALUE by the attribute's definition.
fn parse_attr(spec: &str) -> Result<Attribute, KmipError> {
    let (name, value) = spec
        .split_once('=')
        .ok_or_else(|| usage(format!("attribute '{spec}' is not NAME=VALUE")))?;
    let name = name.trim();
    let an = attrs::name_of_key(name).unwrap_or(AttributeName::Custom {
        vendor: None,
        name: name.to_owned(),
    });
    let v = match &an {
        AttributeName::Standard(Tag::NAME) => {
            return Ok(Attribute::name(value, NameType::UNINTERPRETED_TEXT_STRING));
        }
        AttributeName::Standard(t) => match enums::for_tag(*t) {
            Some(d) if d.mask => Value::Integer(
                d.parse_mask(value)
                    .or_else(|| value.parse::<u32>().ok())
                    .ok_or_else(|| usage(format!("'{value}' is not a {name} mask")))?
                    as i32,
            ),
            Some(d) => Value::Enumeration(enum_value(d, name, value)?),
            None if name.contains("Date") => Value::DateTime(
                value
                    .parse()
                    .map_err(|_| usage(format!("{name} '{value}' is not Unix seconds")))?,
            ),
            None => match value.parse::<i32>() {
                Ok(i) if *t == Tag::CRYPTOGRAPHIC_LENGTH => Value::Integer(i),
                _ if matches!(*t, Tag::SENSITIVE | Tag::EXTRACTABLE) => {
                    Value::Boolean(value.eq_ignore_ascii_case("true"))
                }
                Ok(i) if !matches!(*t, Tag::OBJECT_GROUP | Tag::CONTACT_INFORMATION) => {
                    Value::Integer(i)
                }
                _ => Value::TextString(value.to_owned()),
            },
        },
        AttributeName::Custom { .. } => Value::TextString(value.to_owned()),
    };
    Ok(Attribute {
        name: an,
        index: None,
        value: v,
    })
}

impl AttrArgs {
    fn to_set(&self) -> Result<AttributeSet, KmipError> {
        let mut set = AttributeSet::default();
        if let Some(n) = &self.name {
            set.push(Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING));
        }
        if let Some(u) = &self.usage {
            set.push(parse_attr(&format!("Cryptographic Usage Mask={u}"))?);
        }
        if let Some(g) = &self.group {
            set.push(Attribute::standard(
                Tag::OBJECT_GROUP,
                Value::TextString(g.clone()),
            ));
        }
        for a in &self.attr {
            set.push(parse_attr(a)?);
        }
        Ok(set)
    }
}

fn client_config(c: &ConnArgs) -> Result<ClientConfig, KmipError> {
    let mut cfg = match &c.config {
        Some(p) => ClientConfig::from_pykmip_conf(p, &c.section)?,
        None => {
            let need = |o: &Option<PathBuf>, f: &str| {
                o.clone()
                    .ok_or_else(|| usage(format!("--{f} is required without --config")))
            };
            ClientConfig::new(
                "127.0.0.1",
                need(&c.cert, "cert")?,
                need(&c.key, "key")?,
                need(&c.ca, "ca")?,
            )
        }
    };
    if let Some(s) = &c.server {
        let (h, p) = match s.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_matches(['[', ']']).to_owned(),
                p.parse()
                    .map_err(|_| usage(format!("--server '{s}': bad port")))?,
            ),
            None => (s.clone(), crate::client::DEFAULT_PORT),
        };
        cfg.host = h;
        cfg.port = p;
    }
    if let Some(p) = &c.cert {
        cfg.certfile = p.clone();
    }
    if let Some(p) = &c.key {
        cfg.keyfile = p.clone();
    }
    if let Some(p) = &c.ca {
        cfg.ca_certs = p.clone();
    }
    if let Some(t) = c.timeout {
        cfg.request_timeout = std::time::Duration::from_secs(t);
    }
    if let Some(v) = &c.kmip_version {
        cfg.protocol_version = parse_version(v)?;
    }
    Ok(cfg)
}

fn parse_version(v: &str) -> Result<ProtocolVersion, KmipError> {
    let (a, b) = v
        .split_once('.')
        .ok_or_else(|| usage(format!("kmip version '{v}' is not MAJOR.MINOR")))?;
    let pv = ProtocolVersion::new(
        a.parse()
            .map_err(|_| usage(format!("bad kmip version '{v}'")))?,
        b.parse()
            .map_err(|_| usage(format!("bad kmip version '{v}'")))?,
    );
    if !ProtocolVersion::SUPPORTED.contains(&pv) {
        return Err(usage(format!(
            "kmip version '{v}' is not supported (1.0..2.1)"
        )));
    }
    Ok(pv)
}

/// A connected client plus the negotiated version.
struct Conn {
    client: KmipClient,
    version: ProtocolVersion,
    json: bool,
}

impl Conn {
    async fn open(c: &ConnArgs) -> Result<Conn, KmipError> {
        let cfg = client_config(c)?;
        let explicit = c.kmip_version.is_some();
        let mut version = cfg.protocol_version;
        let client = KmipClient::new(cfg)?;
        if !explicit {
            let payload = ProtocolVersion::SUPPORTED
                .iter()
                .map(|v| v.to_ttlv())
                .collect();
            let msg = RequestMessage::single(
                ProtocolVersion::V1_2,
                Operation::DISCOVER_VERSIONS,
                payload,
            );
            let resp = client.request(&msg).await?;
            if let Some(v) = resp
                .batch_items
                .first()
                .filter(|b| b.result_status == ResultStatus::SUCCESS)
                .and_then(|b| b.payload_items().first())
                .and_then(|t| ProtocolVersion::from_ttlv(t).ok())
            {
                version = v;
            }
        }
        Ok(Conn {
            client,
            version,
            json: c.json,
        })
    }

    async fn call(
        &self,
        op: Operation,
        payload: Vec<Ttlv>,
    ) -> Result<ResponseBatchItem, KmipError> {
        let msg = RequestMessage::single(self.version, op, payload);
        let resp = self.client.request(&msg).await?;
        let item = resp
            .batch_items
            .into_iter()
            .next()
            .ok_or(KmipError::MissingField {
                parent: Tag::RESPONSE_MESSAGE,
                field: Tag::BATCH_ITEM,
            })?;
        if item.result_status != ResultStatus::SUCCESS {
            return Err(KmipError::Failed {
                operation: op.name().unwrap_or("operation").to_owned(),
                reason: item
                    .result_reason
                    .map(|r| r.name().map(str::to_owned).unwrap_or_else(|| r.to_string()))
                    .unwrap_or_else(|| "unknown".into()),
                message: item.result_message.clone().unwrap_or_default(),
            });
        }
        Ok(item)
    }

    fn template(&self, set: &AttributeSet, container: Container) -> Ttlv {
        set.to_ttlv(self.version, container)
    }

    /// Prints a payload: JSON, or `Tag: value` lines.
    fn print(&self, item: &ResponseBatchItem) {
        let items = item.payload_items();
        if self.json {
            let j = attrs::to_json(None, &Value::Structure(items.to_vec()));
            println!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
        } else {
            for t in items {
                print_ttlv(t, 0);
            }
        }
    }
}

fn print_ttlv(t: &Ttlv, depth: usize) {
    let name = t
        .tag
        .name()
        .map(str::to_owned)
        .unwrap_or_else(|| t.tag.to_string());
    let pad = "  ".repeat(depth);
    match &t.value {
        Value::Structure(items) => {
            // 1.x attributes print as "Name: value".
            if t.tag == Tag::ATTRIBUTE
                && let Ok(a) = Attribute::from_v1(t).or_else(|_| Attribute::from_v2(t))
            {
                println!("{pad}{}: {}", a.name, show_value(a.name_tag(), &a.value));
                return;
            }
            println!("{pad}{name}:");
            for i in items {
                print_ttlv(i, depth + 1);
            }
        }
        v => println!("{pad}{name}: {}", show_value(Some(t.tag), v)),
    }
}

fn show_value(tag: Option<Tag>, v: &Value) -> String {
    match v {
        Value::Structure(_) => attrs::to_json(tag, v).to_string(),
        Value::ByteString(b) | Value::BigInteger(b) => hex(b),
        Value::TextString(s) => s.clone(),
        other => match attrs::to_json(tag, other) {
            Json::String(s) => s,
            j => j.to_string(),
        },
    }
}

trait NameTag {
    fn name_tag(&self) -> Option<Tag>;
}

impl NameTag for Attribute {
    fn name_tag(&self) -> Option<Tag> {
        match self.name {
            AttributeName::Standard(t) => Some(t),
            AttributeName::Custom { .. } => None,
        }
    }
}

fn uid(u: &str) -> Ttlv {
    Ttlv::text(Tag::UNIQUE_IDENTIFIER, u)
}

fn data_bytes(d: &DataArgs, default_hex: bool) -> Result<Vec<u8>, KmipError> {
    if d.hex || default_hex {
        unhex(&d.data)
    } else {
        Ok(d.data.as_bytes().to_vec())
    }
}

fn crypto_params(items: Vec<Ttlv>) -> Ttlv {
    Ttlv::structure(Tag::CRYPTOGRAPHIC_PARAMETERS, items)
}

fn first_text(item: &ResponseBatchItem, tag: Tag) -> Option<String> {
    item.payload_items()
        .iter()
        .find(|t| t.tag == tag)
        .and_then(Ttlv::as_text)
        .map(str::to_owned)
}

fn first_bytes(item: &ResponseBatchItem, tag: Tag) -> Option<Vec<u8>> {
    item.payload_items()
        .iter()
        .find(|t| t.tag == tag)
        .and_then(Ttlv::as_bytes)
        .map(<[u8]>::to_vec)
}

fn runtime() -> Result<tokio::runtime::Runtime, KmipError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| KmipError::io("starting the async runtime", e))
}

/// Runs a `tresor kmip` command.
///
/// # Errors
/// [`KmipError`] for an error (exit code 2); negative answers return exit code 1.
pub fn run(cmd: KmipCommand, open_store: OpenStore<'_>) -> Result<ExitCode, KmipError> {
    match cmd {
        KmipCommand::Serve(a) => serve(a, open_store),
        KmipCommand::Certs(CertsCommand::Init { dir }) => {
            let f = crate::certs::init(&dir)?;
            eprintln!(
                "wrote {}, {}, {}, {}, {}",
                f.ca_cert.display(),
                f.server_cert.display(),
                f.server_key.display(),
                f.client_cert.display(),
                f.client_key.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        KmipCommand::Certs(CertsCommand::Client { dir, name }) => {
            let f = crate::certs::client(&dir, &name)?;
            eprintln!("wrote {}, {}", f.cert.display(), f.key.display());
            Ok(ExitCode::SUCCESS)
        }
        KmipCommand::Grant {
            store,
            uid,
            identity,
            ops,
        } => grant(
            open_store,
            store
                .as_deref()
                .filter(|s| !s.contains("://"))
                .map(Path::new),
            &uid,
            &identity,
            &ops,
        ),
        other => runtime()?.block_on(client_command(other)),
    }
}

fn serve(a: ServeArgs, open_store: OpenStore<'_>) -> Result<ExitCode, KmipError> {
    let mut config = ServerConfig::new(
        a.cert.clone().unwrap_or_default(),
        a.key.clone().unwrap_or_default(),
        a.ca.clone().unwrap_or_default(),
    );
    // A store URL (the tresor binary's global `--store postgres://…`) is not a directory: the
    // opener takes it from there and keeps the vault folder for the key.
    let mut store_dir = a
        .store
        .clone()
        .filter(|s| !s.contains("://"))
        .map(PathBuf::from);
    if let Some(p) = &a.config {
        let (c, db) = crate::server::from_pykmip_server_conf(p, config)?;
        config = c;
        if store_dir.is_none() {
            store_dir = db;
        }
    }
    if let Some(l) = a.listen {
        config.listen = l;
    }
    if let Some(c) = a.cert {
        config.cert = c;
    }
    if let Some(k) = a.key {
        config.key = k;
    }
    if let Some(c) = a.ca {
        config.ca = c;
    }
    if a.no_client_auth_eku {
        config.require_client_auth_eku = false;
    }
    config.admins = a.admin;
    for (p, f) in [
        (&config.cert, "--cert"),
        (&config.key, "--key"),
        (&config.ca, "--ca"),
    ] {
        if p.as_os_str().is_empty() {
            return Err(usage(format!(
                "{f} is required (or certificate_path/key_path/ca_path in --config)"
            )));
        }
    }
    let store = open_store(store_dir.as_deref()).map_err(|e| KmipError::Store(e.to_string()))?;
    let rt = runtime()?;
    rt.block_on(async move {
        let server = Server::bind(config, store).await?;
        eprintln!("listening on {}", server.local_addr());
        server.serve(shutdown_signal()).await;
        eprintln!("kmip: shut down");
        Ok::<_, KmipError>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut t), Ok(mut i)) => {
                tokio::select! {
                    _ = t.recv() => {}
                    _ = i.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn grant(
    open_store: OpenStore<'_>,
    dir: Option<&Path>,
    uid: &str,
    identity: &str,
    ops: &str,
) -> Result<ExitCode, KmipError> {
    let perms: Vec<&str> = ops
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let revoke = perms == ["none"];
    if !revoke && (perms.is_empty() || perms.iter().any(|p| !PERMISSIONS.contains(p))) {
        return Err(usage(format!(
            "permissions '{ops}' must be a comma-separated list of {} (or none)",
            PERMISSIONS.join(", ")
        )));
    }
    if identity.is_empty() || identity.contains(['.', ',']) {
        return Err(usage(format!(
            "identity '{identity}' must be non-empty without '.' or ','"
        )));
    }
    let store = open_store(dir).map_err(|e| KmipError::Store(e.to_string()))?;
    let actor = store.actor().to_owned();
    let joined = perms.join(",");
    let r = store.write_as(&actor, |tx| {
        tx.update(uid, &format!("kmip grant {identity} {joined}"), |m| {
            let g = m
                .attributes
                .entry(GRANTS_ATTR.to_owned())
                .or_insert_with(|| json!({}));
            if !g.is_object() {
                *g = json!({});
            }
            if let Some(o) = g.as_object_mut() {
                if revoke {
                    o.remove(identity);
                } else {
                    o.insert(identity.to_owned(), json!(joined));
                }
            }
            Ok(())
        })?;
        Ok(())
    });
    match r {
        Ok(()) => {
            eprintln!(
                "{}",
                if revoke {
                    format!("revoked {identity} on {uid}")
                } else {
                    format!("granted {joined} on {uid} to {identity}")
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(tresor_store::StoreError::NotFound(_)) => {
            eprintln!("error: object '{uid}' not found");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(KmipError::Store(e.to_string())),
    }
}

fn not_found(e: &KmipError) -> bool {
    matches!(e, KmipError::Failed { reason, .. } if reason == "ItemNotFound" || reason == "ObjectNotFound")
}

async fn client_command(cmd: KmipCommand) -> Result<ExitCode, KmipError> {
    let r = client_command_inner(cmd).await;
    match r {
        Err(e) if not_found(&e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
        other => other,
    }
}

async fn client_command_inner(cmd: KmipCommand) -> Result<ExitCode, KmipError> {
    use KmipCommand as K;
    let ok = Ok(ExitCode::SUCCESS);
    match cmd {
        K::Serve(_) | K::Certs(_) | K::Grant { .. } => Err(usage("not a client command")),
        K::DiscoverVersions(c) => {
            let conn = Conn::open(&c).await?;
            let payload = ProtocolVersion::SUPPORTED
                .iter()
                .map(|v| v.to_ttlv())
                .collect();
            let item = conn.call(Operation::DISCOVER_VERSIONS, payload).await?;
            let versions: Vec<String> = item
                .payload_items()
                .iter()
                .filter_map(|t| ProtocolVersion::from_ttlv(t).ok())
                .map(|v| v.to_string())
                .collect();
            if c.json {
                println!("{}", json!({"versions": versions}));
            } else {
                println!("{}", versions.join("\n"));
            }
            ok
        }
        K::Query(c) => {
            let conn = Conn::open(&c).await?;
            let payload = [
                enums::QueryFunction::QUERY_OPERATIONS,
                enums::QueryFunction::QUERY_OBJECTS,
                enums::QueryFunction::QUERY_SERVER_INFORMATION,
            ]
            .into_iter()
            .map(|f| Ttlv::enumeration(Tag::QUERY_FUNCTION, f))
            .collect();
            let item = conn.call(Operation::QUERY, payload).await?;
            conn.print(&item);
            ok
        }
        K::Create {
            conn: c,
            algorithm,
            length,
            attrs,
        } => {
            let conn = Conn::open(&c).await?;
            let mut set = attrs.to_set()?;
            set.push(Attribute::standard(
                Tag::CRYPTOGRAPHIC_ALGORITHM,
                Value::Enumeration(enum_value(
                    &enums::CryptographicAlgorithm::DEF,
                    "algorithm",
                    &algorithm,
                )?),
            ));
            set.push(Attribute::standard(
                Tag::CRYPTOGRAPHIC_LENGTH,
                Value::Integer(length),
            ));
            if attrs.usage.is_none() {
                let mask = if algorithm.to_ascii_uppercase().starts_with("HMAC") {
                    enums::CryptographicUsageMask::MAC_GENERATE
                        | enums::CryptographicUsageMask::MAC_VERIFY
                } else {
                    enums::CryptographicUsageMask::ENCRYPT | enums::CryptographicUsageMask::DECRYPT
                };
                set.push(Attribute::standard(
                    Tag::CRYPTOGRAPHIC_USAGE_MASK,
                    Value::Integer(mask.0 as i32),
                ));
            }
            let item = conn
                .call(
                    Operation::CREATE,
                    vec![
                        Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SYMMETRIC_KEY),
                        conn.template(&set, Container::Template),
                    ],
                )
                .await?;
            print_uid(&conn, &item);
            ok
        }
        K::CreateKeyPair {
            conn: c,
            algorithm,
            length,
            public_name,
            attrs,
        } => {
            let conn = Conn::open(&c).await?;
            let alg = match algorithm.to_ascii_uppercase().as_str() {
                "EC" => enums::CryptographicAlgorithm::ECDSA.0,
                _ => enum_value(&enums::CryptographicAlgorithm::DEF, "algorithm", &algorithm)?,
            };
            let mut common = AttributeSet::default();
            common.push(Attribute::standard(
                Tag::CRYPTOGRAPHIC_ALGORITHM,
                Value::Enumeration(alg),
            ));
            if let Some(l) = length {
                common.push(Attribute::standard(
                    Tag::CRYPTOGRAPHIC_LENGTH,
                    Value::Integer(l),
                ));
            }
            let mut private = attrs.to_set()?;
            if attrs.usage.is_none() {
                private.push(Attribute::standard(
                    Tag::CRYPTOGRAPHIC_USAGE_MASK,
                    Value::Integer(enums::CryptographicUsageMask::SIGN.0 as i32),
                ));
            }
            let mut public = AttributeSet::default();
            if let Some(n) = public_name {
                public.push(Attribute::name(n, NameType::UNINTERPRETED_TEXT_STRING));
            }
            public.push(Attribute::standard(
                Tag::CRYPTOGRAPHIC_USAGE_MASK,
                Value::Integer(enums::CryptographicUsageMask::VERIFY.0 as i32),
            ));
            let item = conn
                .call(
                    Operation::CREATE_KEY_PAIR,
                    vec![
                        conn.template(&common, Container::Common),
                        conn.template(&private, Container::PrivateKey),
                        conn.template(&public, Container::PublicKey),
                    ],
                )
                .await?;
            if c.json {
                conn.print(&item);
            } else {
                println!(
                    "private {}",
                    first_text(&item, Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER).unwrap_or_default()
                );
                println!(
                    "public {}",
                    first_text(&item, Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER).unwrap_or_default()
                );
            }
            ok
        }
        K::Register {
            conn: c,
            object_type,
            file,
            value,
            format,
            algorithm,
            length,
            attrs,
        } => {
            let conn = Conn::open(&c).await?;
            let ot = ObjectType(enum_value(&ObjectType::DEF, "object type", &object_type)?);
            let bytes = match (file, value) {
                (Some(f), _) => std::fs::read(&f)
                    .map_err(|e| KmipError::io(format!("reading '{}'", f.display()), e))?,
                (None, Some(v)) => v.into_bytes(),
                (None, None) => return Err(usage("register needs --file or --value")),
            };
            let bytes = pem_to_der(bytes);
            let alg = algorithm
                .map(|a| enum_value(&enums::CryptographicAlgorithm::DEF, "algorithm", &a))
                .transpose()?;
            let obj = register_object(ot, bytes, format.as_deref(), alg, length)?;
            let set = attrs.to_set()?;
            let item = conn
                .call(
                    Operation::REGISTER,
                    vec![
                        Ttlv::enumeration(Tag::OBJECT_TYPE, ot),
                        conn.template(&set, Container::Template),
                        obj,
                    ],
                )
                .await?;
            print_uid(&conn, &item);
            ok
        }
        K::Get {
            conn: c,
            uid: u,
            format,
            out,
        } => {
            let conn = Conn::open(&c).await?;
            let mut payload = vec![uid(&u)];
            if let Some(f) = format {
                payload.push(Ttlv::enumeration(
                    Tag::KEY_FORMAT_TYPE,
                    enum_value(&KeyFormatType::DEF, "key format", &f)?,
                ));
            }
            let item = conn.call(Operation::GET, payload).await?;
            let material = material_of(&item);
            match (out, material) {
                (Some(path), Some(m)) => {
                    write_private(&path, &m)?;
                    eprintln!("wrote {} bytes to {}", m.len(), path.display());
                }
                _ => conn.print(&item),
            }
            ok
        }
        K::GetAttributes {
            conn: c,
            uid: u,
            names,
        } => {
            let conn = Conn::open(&c).await?;
            let mut payload = vec![uid(&u)];
            for n in names {
                if conn.version.is_v2() {
                    match attrs::name_of_key(&n) {
                        Some(AttributeName::Standard(t)) => {
                            payload.push(Ttlv::enumeration(Tag::ATTRIBUTE_REFERENCE, t.value()))
                        }
                        _ => {
                            let (v, name) = n.split_once('-').unwrap_or(("x", &n));
                            payload.push(Ttlv::structure(
                                Tag::ATTRIBUTE_REFERENCE,
                                vec![
                                    Ttlv::text(Tag::VENDOR_IDENTIFICATION, v),
                                    Ttlv::text(Tag::ATTRIBUTE_NAME, name),
                                ],
                            ));
                        }
                    }
                } else {
                    payload.push(Ttlv::text(Tag::ATTRIBUTE_NAME, n));
                }
            }
            let item = conn.call(Operation::GET_ATTRIBUTES, payload).await?;
            conn.print(&item);
            ok
        }
        K::GetAttributeList { conn: c, uid: u } => {
            let conn = Conn::open(&c).await?;
            let item = conn
                .call(Operation::GET_ATTRIBUTE_LIST, vec![uid(&u)])
                .await?;
            conn.print(&item);
            ok
        }
        K::AddAttribute {
            conn: c,
            uid: u,
            attribute,
        } => {
            let conn = Conn::open(&c).await?;
            let a = parse_attr(&attribute)?;
            let payload = if conn.version.is_v2() {
                vec![
                    uid(&u),
                    Ttlv::structure(Tag::NEW_ATTRIBUTE, vec![a.to_v2()]),
                ]
            } else {
                vec![uid(&u), a.to_v1()]
            };
            let item = conn.call(Operation::ADD_ATTRIBUTE, payload).await?;
            conn.print(&item);
            ok
        }
        K::SetAttribute {
            conn: c,
            uid: u,
            attribute,
        } => {
            let conn = Conn::open(&c).await?;
            if !conn.version.is_v2() {
                return Err(usage(
                    "set attribute needs KMIP 2.x; use modify-attribute or add-attribute",
                ));
            }
            let a = parse_attr(&attribute)?;
            let payload = vec![
                uid(&u),
                Ttlv::structure(Tag::NEW_ATTRIBUTE, vec![a.to_v2()]),
            ];
            let item = conn.call(Operation::SET_ATTRIBUTE, payload).await?;
            conn.print(&item);
            ok
        }
        K::ModifyAttribute {
            conn: c,
            uid: u,
            attribute,
            index,
        } => {
            let conn = Conn::open(&c).await?;
            let mut a = parse_attr(&attribute)?;
            a.index = index;
            let payload = if conn.version.is_v2() {
                vec![
                    uid(&u),
                    Ttlv::structure(Tag::NEW_ATTRIBUTE, vec![a.to_v2()]),
                ]
            } else {
                vec![uid(&u), a.to_v1()]
            };
            let item = conn.call(Operation::MODIFY_ATTRIBUTE, payload).await?;
            conn.print(&item);
            ok
        }
        K::DeleteAttribute {
            conn: c,
            uid: u,
            name,
            index,
        } => {
            let conn = Conn::open(&c).await?;
            let mut payload = vec![uid(&u)];
            if conn.version.is_v2() {
                match attrs::name_of_key(&name) {
                    Some(AttributeName::Standard(t)) => {
                        payload.push(Ttlv::enumeration(Tag::ATTRIBUTE_REFERENCE, t.value()))
                    }
                    _ => {
                        let (v, n) = name.split_once('-').unwrap_or(("x", &name));
                        payload.push(Ttlv::structure(
                            Tag::ATTRIBUTE_REFERENCE,
                            vec![
                                Ttlv::text(Tag::VENDOR_IDENTIFICATION, v),
                                Ttlv::text(Tag::ATTRIBUTE_NAME, n),
                            ],
                        ));
                    }
                }
            } else {
                payload.push(Ttlv::text(Tag::ATTRIBUTE_NAME, name));
                if let Some(i) = index {
                    payload.push(Ttlv::integer(Tag::ATTRIBUTE_INDEX, i));
                }
            }
            let item = conn.call(Operation::DELETE_ATTRIBUTE, payload).await?;
            conn.print(&item);
            ok
        }
        K::Locate {
            conn: c,
            object_type,
            state,
            algorithm,
            length,
            max,
            offset,
            attrs,
        } => {
            let conn = Conn::open(&c).await?;
            let mut set = attrs.to_set()?;
            if let Some(t) = object_type {
                set.push(Attribute::standard(
                    Tag::OBJECT_TYPE,
                    Value::Enumeration(enum_value(&ObjectType::DEF, "object type", &t)?),
                ));
            }
            if let Some(s) = state {
                set.push(Attribute::standard(
                    Tag::STATE,
                    Value::Enumeration(enum_value(&enums::State::DEF, "state", &s)?),
                ));
            }
            if let Some(a) = algorithm {
                set.push(Attribute::standard(
                    Tag::CRYPTOGRAPHIC_ALGORITHM,
                    Value::Enumeration(enum_value(
                        &enums::CryptographicAlgorithm::DEF,
                        "algorithm",
                        &a,
                    )?),
                ));
            }
            if let Some(l) = length {
                set.push(Attribute::standard(
                    Tag::CRYPTOGRAPHIC_LENGTH,
                    Value::Integer(l),
                ));
            }
            let mut payload = Vec::new();
            if let Some(m) = max {
                payload.push(Ttlv::integer(Tag::MAXIMUM_ITEMS, m));
            }
            if let Some(o) = offset {
                payload.push(Ttlv::integer(Tag::OFFSET_ITEMS, o));
            }
            if conn.version.is_v2() {
                payload.push(conn.template(&set, Container::Template));
            } else {
                payload.extend(set.attributes.iter().map(Attribute::to_v1));
            }
            let item = conn.call(Operation::LOCATE, payload).await?;
            let uids: Vec<String> = item
                .payload_items()
                .iter()
                .filter(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
                .filter_map(|t| t.as_text().map(str::to_owned))
                .collect();
            if c.json {
                println!("{}", json!({"uids": uids}));
            } else {
                for u in &uids {
                    println!("{u}");
                }
            }
            Ok(if uids.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        K::Check {
            conn: c,
            uid: u,
            usage: mask,
        } => {
            let conn = Conn::open(&c).await?;
            let mut payload = vec![uid(&u)];
            if let Some(m) = mask {
                let v = enums::CryptographicUsageMask::DEF
                    .parse_mask(&m)
                    .ok_or_else(|| usage(format!("'{m}' is not a usage mask")))?;
                payload.push(Ttlv::integer(Tag::CRYPTOGRAPHIC_USAGE_MASK, v as i32));
            }
            let item = conn.call(Operation::CHECK, payload).await?;
            conn.print(&item);
            ok
        }
        K::Activate { conn: c, uid: u } => simple(&c, Operation::ACTIVATE, vec![uid(&u)]).await,
        K::Destroy { conn: c, uid: u } => simple(&c, Operation::DESTROY, vec![uid(&u)]).await,
        K::Revoke {
            conn: c,
            uid: u,
            reason,
            message,
            compromise_date,
        } => {
            let code = enum_value(
                &enums::RevocationReasonCode::DEF,
                "revocation reason",
                &reason,
            )?;
            let mut r = vec![Ttlv::enumeration(Tag::REVOCATION_REASON_CODE, code)];
            if let Some(m) = message {
                r.push(Ttlv::text(Tag::REVOCATION_MESSAGE, m));
            }
            let mut payload = vec![uid(&u), Ttlv::structure(Tag::REVOCATION_REASON, r)];
            if let Some(d) = compromise_date {
                payload.push(Ttlv::new(
                    Tag::COMPROMISE_OCCURRENCE_DATE,
                    Value::DateTime(d),
                ));
            }
            simple(&c, Operation::REVOKE, payload).await
        }
        K::ReKey {
            conn: c,
            uid: u,
            offset,
        } => {
            let mut payload = vec![uid(&u)];
            if let Some(o) = offset {
                payload.push(Ttlv::new(Tag::OFFSET, Value::Interval(o)));
            }
            simple(&c, Operation::RE_KEY, payload).await
        }
        K::Encrypt {
            conn: c,
            data,
            mode,
            iv,
            aad,
        } => {
            let conn = Conn::open(&c).await?;
            let m = enum_value(&enums::BlockCipherMode::DEF, "mode", &mode)?;
            let mut cp = vec![Ttlv::enumeration(Tag::BLOCK_CIPHER_MODE, m)];
            if m == enums::BlockCipherMode::CBC.0 {
                cp.push(Ttlv::enumeration(
                    Tag::PADDING_METHOD,
                    enums::PaddingMethod::PKCS5,
                ));
            } else {
                cp.push(Ttlv::integer(Tag::TAG_LENGTH, 16));
            }
            cp.push(Ttlv::enumeration(
                Tag::CRYPTOGRAPHIC_ALGORITHM,
                enums::CryptographicAlgorithm::AES,
            ));
            let mut payload = vec![
                uid(&data.uid),
                crypto_params(cp),
                Ttlv::bytes(Tag::DATA, data_bytes(&data, false)?),
            ];
            if let Some(iv) = iv {
                payload.push(Ttlv::bytes(Tag::IV_COUNTER_NONCE, unhex(&iv)?));
            }
            if let Some(a) = aad {
                payload.push(Ttlv::bytes(
                    Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA,
                    unhex(&a)?,
                ));
            }
            let item = conn.call(Operation::ENCRYPT, payload).await?;
            conn.print(&item);
            ok
        }
        K::Decrypt {
            conn: c,
            data,
            mode,
            iv,
            tag,
            aad,
        } => {
            let conn = Conn::open(&c).await?;
            let m = enum_value(&enums::BlockCipherMode::DEF, "mode", &mode)?;
            let mut cp = vec![Ttlv::enumeration(Tag::BLOCK_CIPHER_MODE, m)];
            if m == enums::BlockCipherMode::CBC.0 {
                cp.push(Ttlv::enumeration(
                    Tag::PADDING_METHOD,
                    enums::PaddingMethod::PKCS5,
                ));
            }
            let mut payload = vec![
                uid(&data.uid),
                crypto_params(cp),
                Ttlv::bytes(Tag::DATA, data_bytes(&data, true)?),
                Ttlv::bytes(Tag::IV_COUNTER_NONCE, unhex(&iv)?),
            ];
            if let Some(a) = aad {
                payload.push(Ttlv::bytes(
                    Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA,
                    unhex(&a)?,
                ));
            }
            if let Some(t) = tag {
                payload.push(Ttlv::bytes(Tag::AUTHENTICATED_ENCRYPTION_TAG, unhex(&t)?));
            }
            let item = conn.call(Operation::DECRYPT, payload).await?;
            if c.json {
                conn.print(&item);
            } else {
                let d = first_bytes(&item, Tag::DATA).unwrap_or_default();
                match String::from_utf8(d) {
                    Ok(s) => println!("{s}"),
                    Err(e) => println!("{}", hex(e.as_bytes())),
                }
            }
            ok
        }
        K::Sign {
            conn: c,
            data,
            padding,
        } => {
            let conn = Conn::open(&c).await?;
            let mut payload = vec![uid(&data.uid)];
            if let Some(p) = padding {
                payload.push(crypto_params(vec![Ttlv::enumeration(
                    Tag::PADDING_METHOD,
                    enum_value(&enums::PaddingMethod::DEF, "padding", &p)?,
                )]));
            }
            payload.push(Ttlv::bytes(Tag::DATA, data_bytes(&data, false)?));
            let item = conn.call(Operation::SIGN, payload).await?;
            conn.print(&item);
            ok
        }
        K::Verify {
            conn: c,
            data,
            signature,
            padding,
        } => {
            let conn = Conn::open(&c).await?;
            let mut payload = vec![uid(&data.uid)];
            if let Some(p) = padding {
                payload.push(crypto_params(vec![Ttlv::enumeration(
                    Tag::PADDING_METHOD,
                    enum_value(&enums::PaddingMethod::DEF, "padding", &p)?,
                )]));
            }
            payload.push(Ttlv::bytes(Tag::DATA, data_bytes(&data, false)?));
            payload.push(Ttlv::bytes(Tag::SIGNATURE_DATA, unhex(&signature)?));
            let item = conn.call(Operation::SIGNATURE_VERIFY, payload).await?;
            validity(&conn, &item)
        }
        K::Mac { conn: c, data } => {
            let conn = Conn::open(&c).await?;
            let payload = vec![
                uid(&data.uid),
                Ttlv::bytes(Tag::DATA, data_bytes(&data, false)?),
            ];
            let item = conn.call(Operation::MAC, payload).await?;
            conn.print(&item);
            ok
        }
        K::MacVerify { conn: c, data, mac } => {
            let conn = Conn::open(&c).await?;
            let payload = vec![
                uid(&data.uid),
                Ttlv::bytes(Tag::DATA, data_bytes(&data, false)?),
                Ttlv::bytes(Tag::MAC_DATA, unhex(&mac)?),
            ];
            let item = conn.call(Operation::MAC_VERIFY, payload).await?;
            validity(&conn, &item)
        }
        K::Rng { conn: c, length } => {
            let conn = Conn::open(&c).await?;
            let item = conn
                .call(
                    Operation::RNG_RETRIEVE,
                    vec![Ttlv::integer(Tag::DATA_LENGTH, length)],
                )
                .await?;
            conn.print(&item);
            ok
        }
    }
}

async fn simple(c: &ConnArgs, op: Operation, payload: Vec<Ttlv>) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let item = conn.call(op, payload).await?;
    print_uid(&conn, &item);
    Ok(ExitCode::SUCCESS)
}

fn print_uid(conn: &Conn, item: &ResponseBatchItem) {
    if conn.json {
        conn.print(item);
    } else if let Some(u) = first_text(item, Tag::UNIQUE_IDENTIFIER) {
        println!("{u}");
    }
}

fn validity(conn: &Conn, item: &ResponseBatchItem) -> Result<ExitCode, KmipError> {
    let valid = item
        .payload_items()
        .iter()
        .find(|t| t.tag == Tag::VALIDITY_INDICATOR)
        .and_then(Ttlv::as_enumeration)
        == Some(enums::ValidityIndicator::VALID.0);
    if conn.json {
        println!("{}", json!({"valid": valid}));
    } else {
        println!("{}", if valid { "valid" } else { "invalid" });
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Decodes a PEM file to DER; other bytes pass through.
fn pem_to_der(bytes: Vec<u8>) -> Vec<u8> {
    use rustls::pki_types::pem::{PemObject, SectionKind};
    if !bytes.starts_with(b"-----BEGIN") {
        return bytes;
    }
    match <(SectionKind, Vec<u8>)>::from_pem_slice(&bytes) {
        Ok((_, der)) => der,
        Err(_) => bytes,
    }
}

fn register_object(
    ot: ObjectType,
    bytes: Vec<u8>,
    format: Option<&str>,
    alg: Option<u32>,
    length: Option<i32>,
) -> Result<Ttlv, KmipError> {
    let tag = match ot {
        ObjectType::CERTIFICATE => {
            return Ok(Ttlv::structure(
                Tag::CERTIFICATE,
                vec![
                    Ttlv::enumeration(Tag::CERTIFICATE_TYPE, enums::CertificateType::X_509),
                    Ttlv::bytes(Tag::CERTIFICATE_VALUE, bytes),
                ],
            ));
        }
        ObjectType::OPAQUE_OBJECT => {
            return Ok(Ttlv::structure(
                Tag::OPAQUE_OBJECT,
                vec![
                    Ttlv::enumeration(Tag::OPAQUE_DATA_TYPE, enums::OpaqueDataType::NONE),
                    Ttlv::bytes(Tag::OPAQUE_DATA_VALUE, bytes),
                ],
            ));
        }
        ObjectType::SYMMETRIC_KEY => Tag::SYMMETRIC_KEY,
        ObjectType::SECRET_DATA => Tag::SECRET_DATA,
        ObjectType::PRIVATE_KEY => Tag::PRIVATE_KEY,
        ObjectType::PUBLIC_KEY => Tag::PUBLIC_KEY,
        other => return Err(usage(format!("cannot register a {other}"))),
    };
    let default = match ot {
        ObjectType::SECRET_DATA => "Opaque",
        ObjectType::PRIVATE_KEY => "PKCS_8",
        ObjectType::PUBLIC_KEY => "X_509",
        _ => "Raw",
    };
    let f = enum_value(&KeyFormatType::DEF, "key format", format.unwrap_or(default))?;
    let length =
        length.or_else(|| (ot == ObjectType::SYMMETRIC_KEY).then(|| (bytes.len() * 8) as i32));
    let mut block = vec![
        Ttlv::enumeration(Tag::KEY_FORMAT_TYPE, f),
        Ttlv::structure(Tag::KEY_VALUE, vec![Ttlv::bytes(Tag::KEY_MATERIAL, bytes)]),
    ];
    if let Some(a) = alg {
        block.push(Ttlv::enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM, a));
    }
    if let Some(l) = length {
        block.push(Ttlv::integer(Tag::CRYPTOGRAPHIC_LENGTH, l));
    }
    let mut items = Vec::new();
    if ot == ObjectType::SECRET_DATA {
        items.push(Ttlv::enumeration(
            Tag::SECRET_DATA_TYPE,
            enums::SecretDataType::PASSWORD,
        ));
    }
    items.push(Ttlv::structure(Tag::KEY_BLOCK, block));
    Ok(Ttlv::structure(tag, items))
}

/// The key material or value bytes of a Get response.
fn material_of(item: &ResponseBatchItem) -> Option<Vec<u8>> {
    fn walk(t: &Ttlv) -> Option<Vec<u8>> {
        match t.tag {
            Tag::KEY_MATERIAL | Tag::CERTIFICATE_VALUE | Tag::OPAQUE_DATA_VALUE | Tag::KEY => {
                if let Some(b) = t.as_bytes() {
                    return Some(b.to_vec());
                }
            }
            _ => {}
        }
        t.items().iter().find_map(walk)
    }
    item.payload_items().iter().find_map(walk)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KmipError> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .map_err(|e| KmipError::io(format!("writing '{}'", path.display()), e))?;
    f.write_all(bytes)
        .map_err(|e| KmipError::io(format!("writing '{}'", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_parse_by_definition() {
        let a = parse_attr("Cryptographic Usage Mask=Encrypt Decrypt").unwrap();
        assert_eq!(a.value, Value::Integer(12));
        let a = parse_attr("Cryptographic Algorithm=AES").unwrap();
        assert_eq!(a.value, Value::Enumeration(3));
        let a = parse_attr("x-owner=alice").unwrap();
        assert_eq!(a.value, Value::TextString("alice".into()));
        let a = parse_attr("Object Group=42").unwrap();
        assert_eq!(a.value, Value::TextString("42".into()));
        assert!(parse_attr("no-equals").is_err());
        assert!(parse_attr("Cryptographic Algorithm=Frob").is_err());
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("2.1").unwrap(), ProtocolVersion::V2_1);
        assert!(parse_version("3.0").is_err());
        assert!(parse_version("x").is_err());
    }
}
