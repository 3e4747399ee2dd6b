//! Clap argument types of `tresor kmip ...` and the parsing of their values: hex, enumeration
//! names, NAME=VALUE attributes and KMIP versions.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};

use super::usage;
use crate::attributes::{Attribute, AttributeName, AttributeSet};
use crate::enums::{self, NameType};
use crate::error::KmipError;
use crate::message::ProtocolVersion;
use crate::ops::attrs;
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
    #[arg(long, value_name = "ADDR", env = "TRESOR_KMIP_LISTEN")]
    pub listen: Option<String>,
    /// Server certificate (PEM).
    #[arg(long, value_name = "FILE", env = "TRESOR_KMIP_CERT")]
    pub cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, value_name = "FILE", env = "TRESOR_KMIP_KEY")]
    pub key: Option<PathBuf>,
    /// CA certificate client certificates must chain to (PEM).
    #[arg(long, value_name = "FILE", env = "TRESOR_KMIP_CA")]
    pub ca: Option<PathBuf>,
    /// Refuse client certificates listed in this CRL (PEM, e.g. the certs folder's ca.crl
    /// that `tresor kmip certs revoke` writes); re-read with the certificates on SIGHUP.
    #[arg(long, value_name = "FILE", env = "TRESOR_KMIP_CRL")]
    pub crl: Option<PathBuf>,
    /// Where a client's identity comes from: cn (the first UTF8String or PrintableString
    /// common name), san-email or san-uri.
    #[arg(long, value_name = "SOURCE", value_parser = ["cn", "san-email", "san-uri"], env = "TRESOR_KMIP_IDENTITY_FROM")]
    pub identity_from: Option<String>,
    /// Server limits.
    #[command(flatten)]
    pub limits: ServeLimitArgs,
    /// A configuration file: `tresor.toml` (a `.toml` file: every flag, limits and logging;
    /// see docs/SERVER.md) or a PyKMIP server.conf (`[server]` hostname, port,
    /// certificate_path, key_path, ca_path, auth_suite, enable_tls_client_auth,
    /// database_path). A flag or its environment variable wins over the file; SIGHUP
    /// re-reads it (certificates, CA, CRL, limits).
    #[arg(long, value_name = "FILE", env = "TRESOR_KMIP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Store directory (default: the tresor vault).
    #[arg(long, value_name = "DIR")]
    // A String, not a PathBuf: the tresor binary has a global `--store` of the same id.
    pub store: Option<String>,
    /// Do not require the clientAuth extended key usage on client certificates.
    #[arg(long, env = "TRESOR_KMIP_NO_CLIENT_AUTH_EKU")]
    pub no_client_auth_eku: bool,
    /// An identity that may use every object (repeatable).
    #[arg(long, value_name = "IDENTITY")]
    pub admin: Vec<String>,
    /// Append the audit stream (one JSON line per audited operation, with the store's audit
    /// head after each write) to FILE, or `-` for stdout. Default: audit.jsonl beside the
    /// vault's audit head (a SQLite vault); none for other stores unless given.
    #[arg(long, value_name = "FILE|-", env = "TRESOR_KMIP_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    /// Which reads the audit stream records: all, none, or a comma-separated list of get,
    /// versions, encrypt, decrypt, sign, mac, mac-verify, signature-verify, get-attributes,
    /// get-attribute-list, locate, check, rng-retrieve, query, discover-versions, interop,
    /// log. Writes are always recorded.
    /// [default: get,versions,encrypt,decrypt,sign,mac,mac-verify]
    #[arg(long, value_name = "LIST", env = "TRESOR_KMIP_AUDIT_READS")]
    pub audit_reads: Option<String>,
    /// Write no audit stream.
    #[arg(long, conflicts_with = "audit_log", env = "TRESOR_KMIP_NO_AUDIT_LOG")]
    pub no_audit_log: bool,
    /// Rotate the secrets whose rotation is due (`tresor rotate --due`) every DURATION while
    /// serving (30s, 1m, 1h). Read by the tresor binary, which composes rotation with the
    /// server; the KMIP crate itself ignores it.
    #[arg(long, value_name = "DURATION", env = "TRESOR_ROTATE_DUE_EVERY")]
    pub rotate_due_every: Option<String>,
    /// Also listen on ADDR for KMIP's JSON encoding over HTTPS (`POST /kmip/2_1`, the KMIP
    /// 2.1 HTTPS/JSON profile, and Cosmian's bare-payload form): the same mutual TLS,
    /// identities, limits, store and operations as the binary listener.
    #[arg(long, value_name = "ADDR", env = "TRESOR_KMIP_HTTP_LISTEN")]
    pub http_listen: Option<String>,
    /// A throw-away server for tests: a store and key in memory, a fresh CA and
    /// certificates, a `pykmip.conf` `[client]` section on stdout once listening; nothing is
    /// left on disk after exit. The `client` certificate may create names under every app.
    #[arg(long)]
    pub ephemeral: bool,
    /// With --ephemeral: write the certificates to DIR (new or empty; they are removed at
    /// exit) instead of the private in-memory folder.
    #[arg(long, value_name = "DIR", requires = "ephemeral")]
    pub certs: Option<PathBuf>,
    /// Log lines on stderr as text (`kmip: message key=value …`) or json (one object per
    /// line); the level comes from TRESOR_LOG in RUST_LOG syntax (default info).
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"], env = "TRESOR_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Serve Prometheus metrics (/metrics), /healthz and /readyz over plain HTTP on ADDR
    /// (e.g. 127.0.0.1:9464; off by default). Bind it to loopback or an operations network.
    #[arg(long, value_name = "ADDR", env = "TRESOR_KMIP_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// On SIGTERM/SIGINT: stop accepting, let in-flight requests finish for at most
    /// SECONDS, then close (default 10).
    #[arg(long, value_name = "SECONDS", env = "TRESOR_KMIP_DRAIN_TIMEOUT")]
    pub drain_timeout: Option<u64>,
}

/// The server limits of `tresor kmip serve` (each also a `[server]` key of --config, the flag
/// name with `_`; 0 turns a count or rate limit off).
#[derive(Debug, Clone, Default, Args)]
pub struct ServeLimitArgs {
    /// Most batch items in one request (default 64).
    #[arg(long, value_name = "N", env = "TRESOR_KMIP_MAX_BATCH_ITEMS")]
    pub max_batch_items: Option<usize>,
    /// Largest response in bytes (default 8388608).
    #[arg(long, value_name = "BYTES", env = "TRESOR_KMIP_MAX_RESPONSE_SIZE")]
    pub max_response_size: Option<usize>,
    /// Most connections open at once (default 1024).
    #[arg(long, value_name = "N", env = "TRESOR_KMIP_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Most connections open per client identity (default 32).
    #[arg(
        long,
        value_name = "N",
        env = "TRESOR_KMIP_MAX_CONNECTIONS_PER_IDENTITY"
    )]
    pub max_connections_per_identity: Option<usize>,
    /// Requests per second per client identity (default 0: off).
    #[arg(long, value_name = "N", env = "TRESOR_KMIP_MAX_REQUESTS_PER_SECOND")]
    pub max_requests_per_second: Option<u32>,
    /// Seconds a started message or TLS handshake may take to arrive (default 30).
    #[arg(long, value_name = "SECONDS", env = "TRESOR_KMIP_READ_TIMEOUT")]
    pub read_timeout: Option<u64>,
    /// Seconds writing a response may take (default 30).
    #[arg(long, value_name = "SECONDS", env = "TRESOR_KMIP_WRITE_TIMEOUT")]
    pub write_timeout: Option<u64>,
    /// Seconds an idle connection is kept (default 300).
    #[arg(long, value_name = "SECONDS", env = "TRESOR_KMIP_IDLE_TIMEOUT")]
    pub idle_timeout: Option<u64>,
    /// Most RNG Retrieve bytes per request, summed over its batch (default 1048576).
    #[arg(long, value_name = "BYTES", env = "TRESOR_KMIP_MAX_RNG_BYTES")]
    pub max_rng_bytes: Option<usize>,
    /// Most Create Key Pair items per request (default 4).
    #[arg(long, value_name = "N", env = "TRESOR_KMIP_MAX_KEY_PAIRS")]
    pub max_key_pairs: Option<usize>,
    /// Largest RSA modulus Create Key Pair generates, in bits (default 4096).
    #[arg(long, value_name = "BITS", env = "TRESOR_KMIP_MAX_RSA_BITS")]
    pub max_rsa_bits: Option<i32>,
}

/// `tresor kmip certs` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum CertsCommand {
    /// Write ca.crt, server.crt/server.key, client.crt/client.key and an empty ca.crl into DIR.
    Init {
        /// Target directory.
        dir: PathBuf,
        /// Days the client certificate is valid.
        #[arg(long, value_name = "DAYS", default_value_t = 365)]
        days: u32,
        /// Days the server certificate is valid.
        #[arg(long, value_name = "DAYS", default_value_t = 730)]
        server_days: u32,
        /// Days the CA is valid.
        #[arg(long, value_name = "DAYS", default_value_t = 3650)]
        ca_days: u32,
    },
    /// Issue NAME.crt/NAME.key (CN NAME, clientAuth) from the CA in DIR.
    Client {
        /// Directory holding ca.crt and ca.key.
        dir: PathBuf,
        /// The client identity (certificate common name).
        name: String,
        /// Days the certificate is valid.
        #[arg(long, value_name = "DAYS", default_value_t = 365)]
        days: u32,
    },
    /// Add a certificate to DIR/ca.crl (signed by the CA in DIR); a server started with
    /// `--crl DIR/ca.crl` refuses it after SIGHUP.
    Revoke {
        /// Directory holding ca.crt, ca.key and ca.crl.
        dir: PathBuf,
        /// The client whose DIR/NAME.crt to revoke.
        #[arg(required_unless_present_any = ["serial", "cert"], conflicts_with_all = ["serial", "cert"])]
        name: Option<String>,
        /// Revoke this serial number (hex).
        #[arg(long, value_name = "HEX", conflicts_with = "cert")]
        serial: Option<String>,
        /// Revoke this certificate file.
        #[arg(long, value_name = "FILE")]
        cert: Option<PathBuf>,
    },
}

/// `tresor kmip apps` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AppsCommand {
    /// Print each app policy and the identities it allows.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Allow IDENTITY to create names under APP ('*': every app; IDENTITY '*': everyone).
    Allow {
        /// The app (the first part of APP:ENV:KEY), or '*'.
        app: String,
        /// The client identity (certificate CN), or '*'.
        identity: String,
    },
    /// Stop IDENTITY creating names under APP (its existing objects stay its own).
    Deny {
        /// The app, or '*'.
        app: String,
        /// The client identity, or '*'.
        identity: String,
    },
}

/// The `tresor kmip` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum KmipCommand {
    /// Run the KMIP server (mutual TLS) over the tresor store.
    #[command(after_help = "Examples:\n  \
        tresor kmip serve --cert server.crt --key server.key --ca ca.crt\n  \
        # a throw-away server for a test suite: prints a pykmip.conf [client] section\n  \
        tresor kmip serve --ephemeral --listen 127.0.0.1:0 > pykmip.conf\n  \
        tresor kmip serve --ephemeral --certs ./kmip-certs --listen 127.0.0.1:5696\n  \
        # production: a config file, JSON logs, metrics; SIGHUP reloads, SIGTERM drains\n  \
        TRESOR_LOG=info tresor kmip serve --config /etc/tresor/tresor.toml \\\n      \
        --log-format json --metrics-listen 127.0.0.1:9464 --drain-timeout 10\n  \
        tresor config check /etc/tresor/tresor.toml\n\n\
        Each flag also reads TRESOR_KMIP_<FLAG> (e.g. TRESOR_KMIP_LISTEN, \
        TRESOR_KMIP_MAX_BATCH_ITEMS); a flag wins over its variable, which wins over --config.")]
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
    /// Who may create names under an app (APP:ENV:KEY) on the server: app policies in the
    /// store (a local admin command, no TLS). No policy: only admins may create.
    Apps {
        /// Store directory (default: the tresor vault).
        #[arg(long, value_name = "DIR")]
        store: Option<String>,
        /// What to do.
        #[command(subcommand)]
        cmd: AppsCommand,
    },
    /// Import PyKMIP JSON operation policies as grants (a local admin command on the store).
    ///
    /// Each object's `Operation Policy Name` (PyKMIP's operation_policy_name, `default` when
    /// absent) picks its policy; ALLOW_ALL rules become grants to the --identities (preset)
    /// or to a group's identities (--group); ALLOW_OWNER needs nothing (owners may already).
    ///
    /// Examples:
    ///   tresor kmip import-policy policies/team.json --identities bob,carol --dry-run
    ///   tresor kmip import-policy team.json --identities bob --group auditors=dave --json
    ///
    /// Exit codes: 0 done; 2 an error (bad file, identity or store).
    ImportPolicy {
        /// Store directory (default: the tresor vault).
        #[arg(long, value_name = "DIR")]
        store: Option<String>,
        /// PyKMIP policy file (JSON).
        file: std::path::PathBuf,
        /// Identities ALLOW_ALL (preset) rules grant to, comma-separated.
        #[arg(long, value_name = "ID,ID")]
        identities: Vec<String>,
        /// A PyKMIP group and its identities: GROUP=ID,ID (repeatable).
        #[arg(long, value_name = "GROUP=ID,ID")]
        group: Vec<String>,
        /// Print the grants without writing them.
        #[arg(long)]
        dry_run: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Check a connection step by step (TCP, TLS version and suite, server certificate,
    /// hostname, client certificate, Discover Versions, Query), with a hint per failure.
    ///
    /// Exit code 0 when every check passed, 1 when one failed, 2 for a usage error.
    #[command(after_help = "Examples:\n  \
        tresor kmip doctor --server kmip.example:5696 --cert client.crt --key client.key --ca ca.crt\n  \
        tresor kmip doctor --config pykmip.conf --json")]
    Doctor(ConnArgs),
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

/// Decodes hex (surrounding whitespace ignored).
pub(super) fn unhex(s: &str) -> Result<Vec<u8>, KmipError> {
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

/// Looks up an enumeration value by name, ignoring case, `_` and `-`.
pub(super) fn enum_value(def: &enums::EnumDef, what: &str, s: &str) -> Result<u32, KmipError> {
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
pub(super) fn parse_attr(spec: &str) -> Result<Attribute, KmipError> {
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
    /// The attributes the flags name.
    pub(super) fn to_set(&self) -> Result<AttributeSet, KmipError> {
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

/// Parses MAJOR.MINOR into a supported protocol version.
pub(super) fn parse_version(v: &str) -> Result<ProtocolVersion, KmipError> {
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

/// Parses a Cryptographic Algorithm name (AES, RSA, HMAC_SHA256...).
pub(super) fn algorithm(s: &str) -> Result<u32, KmipError> {
    enum_value(&enums::CryptographicAlgorithm::DEF, "algorithm", s)
}

impl DataArgs {
    /// The `--data` bytes as a Data item: hex with `--hex` or when `default_hex`, else the
    /// text's bytes.
    pub(super) fn to_ttlv(&self, default_hex: bool) -> Result<Ttlv, KmipError> {
        let bytes = if self.hex || default_hex {
            unhex(&self.data)?
        } else {
            self.data.as_bytes().to_vec()
        };
        Ok(Ttlv::bytes(Tag::DATA, bytes))
    }
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

/// `tresor config` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum ConfigCommand {
    /// Check a server configuration file (tresor.toml, or a PyKMIP server.conf) as `tresor
    /// kmip serve --config FILE` reads it: syntax, keys, values (errors name the line) and the
    /// certificate files it names.
    #[command(after_help = "Examples:\n  \
        tresor config check /etc/tresor/tresor.toml\n  \
        tresor config check server.conf --json")]
    Check {
        /// The configuration file.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}
