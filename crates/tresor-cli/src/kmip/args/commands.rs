//! The subcommands: `tresor kmip ...` ([`KmipCommand`]) and its `certs` and `apps` groups,
//! and `tresor config ...`.

use std::path::PathBuf;

use clap::Subcommand;

use super::{AttrArgs, ConnArgs, DataArgs, ServeArgs};

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
