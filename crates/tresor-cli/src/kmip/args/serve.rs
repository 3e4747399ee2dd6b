//! The flags of `tresor kmip serve`: [`ServeArgs`] and its server limits
//! ([`ServeLimitArgs`]).

use std::path::PathBuf;

use clap::Args;

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
    /// re-reads it (certificates, CA, CRL, limits, key cache bound).
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
    /// Most keys whose unsealed material is kept in memory for Encrypt, Decrypt, Sign,
    /// Signature Verify, MAC and MAC Verify (default 1024; 0: unseal the key on every use).
    /// Each request still reads and checks the key's state, dates and usage mask; a key
    /// changed by any writer is unsealed again. Re-read on SIGHUP (a smaller bound evicts).
    #[arg(long, value_name = "N", env = "TRESOR_KMIP_KEY_CACHE_ENTRIES")]
    pub key_cache_entries: Option<usize>,
    /// Threads serving connections (default 2). Up to N-1 requests that write wait for
    /// their commit on their own thread; more hand their connections to another thread
    /// first. More than the machine's cores rarely helps. Read once at start.
    #[arg(long, value_name = "N", env = "TRESOR_KMIP_WORKER_THREADS",
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub worker_threads: Option<u16>,
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
