//! Reading seeqret's vaults and exports, to migrate to tresor.
//!
//! Everything here reads; nothing writes to a seeqret vault.
//!
//! # seeqret's formats (as of seeqret 1.0.5)
//!
//! **Vault directory** (`$SEEQRET`, made by `seeqret init DIR` as
//! `DIR/seeqret/`):
//!
//! | file | content |
//! |---|---|
//! | `seeqrets.db` | SQLite database, schema versions 1 to 7 |
//! | `seeqret.key` | a Fernet key: URL-safe base64 of 32 bytes (16 signing + 16 AES-128 key), 44 characters, no newline |
//! | `private.key` | the owner's X25519 (NaCl `crypto_box`) secret key: standard base64 of 32 bytes |
//! | `public.key` | the matching public key: standard base64 of 32 bytes |
//!
//! **Database schema** (the `migrations` table holds one row per applied
//! version, 1 to 7):
//! - v1: `users(id integer primary key, username text unique, email text,
//!   pubkey text)`, where `pubkey` is standard base64 of the X25519 public
//!   key and the row with `id = 1` is the vault owner;
//!   `secrets(id, app, env, key, value, unique(app, env, key))`, where
//!   `value` is the Fernet token (stored by Python as a BLOB of its ASCII
//!   text, though the column is declared `text`). The app and env of a
//!   secret added without `--app`/`--env` are the literal `*`.
//! - v2: `secrets.type text default 'str'` and `secrets.updated bool`.
//! - v3: `users.slack_handle`, `slack_key_fingerprint`,
//!   `slack_verified_at`; table `kv(key, encrypted_value blob, updated_at)`
//!   (Fernet-encrypted Slack settings, not migrated).
//! - v4: table `onboarding` (jseeqret's invite state machine, not migrated).
//! - v5: `users.name` (display name), `onboarding.name`.
//! - v6: `secrets.updated_at integer` (unix seconds, nullable).
//! - v7: table `remotes` (ssh push targets, not migrated).
//!
//! **Fernet token** (values at rest): URL-safe base64 of
//! `0x80 ‖ timestamp (u64 BE) ‖ IV (16) ‖ AES-128-CBC-PKCS7 ciphertext ‖
//! HMAC-SHA256 (32)`, the HMAC keyed with the first 16 key bytes over all
//! that precedes it, AES keyed with the last 16. seeqret never checks the
//! timestamp (no TTL), and neither does this module.
//!
//! **NaCl box** (values in transit): `crypto_box` (X25519, HSalsa20,
//! XSalsa20-Poly1305) between the sender's secret key and the recipient's
//! public key; the value is standard base64 of
//! `nonce (24) ‖ Poly1305 tag (16) ‖ ciphertext` (PyNaCl's `Box.encrypt`).
//!
//! **`json-crypt` export** (`seeqret export -s json-crypt`): a JSON object
//! `{"version": 1, "from": USER, "to": USER, "secrets": [...],
//! "signature": HEX}` where `USER` is `{"username", "email", "pubkey",
//! "name", "slack_*"}` and each secret is `{"app", "env", "key", "type",
//! "updated_at", "value"}` with `value` a NaCl box from `from` to `to`.
//! `signature` is not a signature: it is the hex SHA-256 of the plaintext
//! lines `app:env:key:type:value\n`, sorted by `(app, env, key)`. A blob
//! may come wrapped as `{"v": 1, "kind": "secret", "payload": EXPORT}`.
//!
//! **`command` export** (`seeqret export -s command`): one shell line per
//! secret, `seeqret load -uSENDER -scommand -v1::FP:APP:ENV:KEY:TYPE:BOX`,
//! where `FP` is the last 5 hex digits of the SHA-256 of
//! `APP:ENV:KEY:TYPE:VALUE` and `BOX` is the NaCl box as above.
//!
//! # Examples
//!
//! ```no_run
//! use tresor_vault::seeqret::SeeqretVault;
//!
//! let vault = SeeqretVault::open("/home/me/seeqret".as_ref())?;
//! for s in vault.secrets()? {
//!     println!("{}:{}:{} ({} bytes)", s.app, s.env, s.key, s.value().len());
//! }
//! # Ok::<(), tresor_vault::seeqret::SeeqretError>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use crypto_box::aead::Aead;
use crypto_box::{PublicKey, SalsaBox, SecretKey};
use hmac::{Hmac, Mac};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The largest export text [`parse_json_crypt`] reads (16 MiB).
pub const MAX_EXPORT_LEN: usize = 16 << 20;

/// The vault file names seeqret uses.
const DB_FILE: &str = "seeqrets.db";
const FERNET_FILE: &str = "seeqret.key";
const PRIVATE_FILE: &str = "private.key";
const PUBLIC_FILE: &str = "public.key";

/// An error from reading seeqret data. It never contains a secret value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeeqretError {
    /// A vault file could not be read.
    #[error("cannot read seeqret file '{}'", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The directory holds no seeqret vault.
    #[error("'{}' is not a seeqret vault (no {DB_FILE})", .0.display())]
    NotAVault(PathBuf),
    /// The database could not be read.
    #[error("cannot read the seeqret database")]
    Sqlite(#[from] rusqlite::Error),
    /// A key file or public key is malformed.
    #[error("invalid seeqret key {0}")]
    BadKey(String),
    /// A value failed authentication or decryption (wrong key, or
    /// tampered data).
    #[error("seeqret value could not be decrypted")]
    Decrypt,
    /// A decrypted value is not UTF-8.
    #[error("seeqret value of '{0}' is not UTF-8")]
    NotUtf8(String),
    /// An export is malformed.
    #[error("invalid seeqret export: {0}")]
    Format(String),
    /// An export is addressed to another key.
    #[error("seeqret export is addressed to '{0}', not to this key")]
    NotForMe(String),
    /// A `command` line's fingerprint does not match its content.
    #[error("fingerprint mismatch for seeqret secret '{0}'")]
    Fingerprint(String),
    /// A `json-crypt` export's checksum does not match its content.
    #[error("seeqret export checksum mismatch (secrets altered or reordered)")]
    Checksum,
}

type Result<T, E = SeeqretError> = std::result::Result<T, E>;

/// One secret read from seeqret.
#[derive(Clone, PartialEq, Eq)]
pub struct SeeqretSecret {
    /// The app (`*` for seeqret's "any app").
    pub app: String,
    /// The environment (`*` for "any").
    pub env: String,
    /// The key.
    pub key: String,
    value: Zeroizing<String>,
    /// seeqret's type tag (`str` almost always).
    pub value_type: String,
    /// When the value last changed (unix seconds), if recorded.
    pub updated_at: Option<i64>,
}

impl SeeqretSecret {
    /// The plaintext value (a secret: do not log it).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Takes the plaintext value out.
    pub fn into_value(self) -> Zeroizing<String> {
        self.value
    }

    /// The `app:env:key` name.
    pub fn name(&self) -> String {
        format!("{}:{}:{}", self.app, self.env, self.key)
    }
}

impl fmt::Debug for SeeqretSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeeqretSecret")
            .field("app", &self.app)
            .field("env", &self.env)
            .field("key", &self.key)
            .field("value", &"[REDACTED]")
            .field("value_type", &self.value_type)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// A user known to a seeqret vault, or named in an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeeqretUser {
    /// The machine identity, usually `user@host`.
    pub username: String,
    /// The email address.
    pub email: String,
    /// The X25519 public key, standard base64 of 32 bytes.
    pub pubkey: String,
    /// The display name (schema v5+), if set.
    pub name: Option<String>,
}

impl SeeqretUser {
    /// Decodes [`SeeqretUser::pubkey`].
    ///
    /// # Errors
    ///
    /// [`SeeqretError::BadKey`] if it is not base64 of 32 bytes.
    pub fn public_key(&self) -> Result<[u8; 32]> {
        decode_public_key(&self.pubkey)
    }
}

/// Decodes a seeqret public key (standard base64 of 32 bytes).
///
/// # Errors
///
/// [`SeeqretError::BadKey`] if it is not base64 of 32 bytes.
pub fn decode_public_key(b64: &str) -> Result<[u8; 32]> {
    let bytes = STANDARD
        .decode(b64.trim())
        .map_err(|_| SeeqretError::BadKey("public key: not base64".into()))?;
    bytes
        .try_into()
        .map_err(|_| SeeqretError::BadKey("public key: not 32 bytes".into()))
}

/// The public key for an X25519 secret key, in the form a seeqret user
/// passes to `seeqret add user --pubkey` (standard base64).
///
/// # Examples
///
/// ```
/// let pk = tresor_vault::seeqret::seeqret_public_key(&[7u8; 32]);
/// assert_eq!(pk.len(), 44);
/// ```
pub fn seeqret_public_key(my_x25519_secret: &[u8; 32]) -> String {
    let sk = SecretKey::from_bytes(*my_x25519_secret);
    STANDARD.encode(sk.public_key().as_bytes())
}

/// An opened seeqret vault directory.
pub struct SeeqretVault {
    dir: PathBuf,
    conn: Connection,
    fernet: Zeroizing<[u8; 32]>,
    schema_version: i64,
}

impl fmt::Debug for SeeqretVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeeqretVault")
            .field("dir", &self.dir)
            .field("schema_version", &self.schema_version)
            .finish_non_exhaustive()
    }
}

impl SeeqretVault {
    /// Opens a seeqret vault read-only: `dir` is the vault directory
    /// (holding `seeqrets.db`) or its parent (holding `seeqret/`).
    ///
    /// # Errors
    ///
    /// [`SeeqretError::NotAVault`] if neither holds a database, and
    /// [`SeeqretError::Io`], [`SeeqretError::BadKey`] or
    /// [`SeeqretError::Sqlite`] if the key file or database cannot be read.
    pub fn open(dir: &Path) -> Result<SeeqretVault> {
        let dir = if dir.join(DB_FILE).is_file() {
            dir.to_path_buf()
        } else if dir.join("seeqret").join(DB_FILE).is_file() {
            dir.join("seeqret")
        } else {
            return Err(SeeqretError::NotAVault(dir.to_path_buf()));
        };
        let fernet = read_fernet_key(&dir.join(FERNET_FILE))?;
        let conn = Connection::open_with_flags(
            dir.join(DB_FILE),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let has_migrations = table_exists(&conn, "migrations")?;
        if !table_exists(&conn, "secrets")? || !table_exists(&conn, "users")? {
            return Err(SeeqretError::NotAVault(dir));
        }
        let schema_version = if has_migrations {
            conn.query_row(
                "select coalesce(max(version), 0) from migrations",
                [],
                |r| r.get(0),
            )?
        } else {
            0
        };
        Ok(SeeqretVault {
            dir,
            conn,
            fernet,
            schema_version,
        })
    }

    /// The vault directory (the one holding `seeqrets.db`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The highest applied schema migration (1 to 7; 0 if unrecorded).
    pub fn schema_version(&self) -> i64 {
        self.schema_version
    }

    /// Every secret, decrypted, ordered by app, env and key.
    ///
    /// # Errors
    ///
    /// [`SeeqretError::Decrypt`] if a value does not open with the vault's
    /// Fernet key, [`SeeqretError::NotUtf8`] or [`SeeqretError::Sqlite`].
    pub fn secrets(&self) -> Result<Vec<SeeqretSecret>> {
        let has_type = column_exists(&self.conn, "secrets", "type")?;
        let has_ts = column_exists(&self.conn, "secrets", "updated_at")?;
        let sql = format!(
            "select app, env, key, value, {}, {} from secrets order by app, env, key",
            if has_type { "type" } else { "'str'" },
            if has_ts { "updated_at" } else { "null" },
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let app: String = row.get(0)?;
            let env: String = row.get(1)?;
            let key: String = row.get(2)?;
            let token: &[u8] = match row.get_ref(3)? {
                ValueRef::Text(t) | ValueRef::Blob(t) => t,
                _ => return Err(SeeqretError::Decrypt),
            };
            let plain = fernet_decrypt(&self.fernet, token)?;
            let name = crate::secret_name(&app, &env, &key);
            let value = utf8(plain, &name)?;
            out.push(SeeqretSecret {
                app,
                env,
                key,
                value,
                value_type: row
                    .get::<_, Option<String>>(4)?
                    .unwrap_or_else(|| "str".into()),
                updated_at: row.get(5)?,
            });
        }
        Ok(out)
    }

    /// Every user, in the order they were added (the owner first).
    ///
    /// # Errors
    ///
    /// [`SeeqretError::Sqlite`] if the table cannot be read.
    pub fn users(&self) -> Result<Vec<SeeqretUser>> {
        self.query_users("")
    }

    /// The vault owner (the user with id 1), if there is one.
    ///
    /// # Errors
    ///
    /// [`SeeqretError::Sqlite`] if the table cannot be read.
    pub fn owner(&self) -> Result<Option<SeeqretUser>> {
        Ok(self.query_users("where id = 1")?.into_iter().next())
    }

    fn query_users(&self, filter: &str) -> Result<Vec<SeeqretUser>> {
        let name = if column_exists(&self.conn, "users", "name")? {
            "name"
        } else {
            "null"
        };
        let sql = format!("select username, email, pubkey, {name} from users {filter} order by id");
        let mut stmt = self.conn.prepare(&sql)?;
        let users = stmt
            .query_map([], |r| {
                Ok(SeeqretUser {
                    username: r.get(0)?,
                    email: r.get(1)?,
                    pubkey: r.get(2)?,
                    name: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(users)
    }

    /// The owner's X25519 secret key from `private.key` (to read exports
    /// sent to this vault's owner).
    ///
    /// # Errors
    ///
    /// [`SeeqretError::Io`] or [`SeeqretError::BadKey`].
    pub fn private_key(&self) -> Result<Zeroizing<[u8; 32]>> {
        let path = self.dir.join(PRIVATE_FILE);
        let text = read_secret_file(&path)?;
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| SeeqretError::BadKey(format!("file '{PRIVATE_FILE}': not base64")))?,
        );
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(SeeqretError::BadKey(format!(
                "file '{PRIVATE_FILE}': not 32 bytes"
            )));
        }
        key.copy_from_slice(&bytes);
        Ok(key)
    }

    /// The owner's public key from `public.key` (standard base64).
    ///
    /// # Errors
    ///
    /// [`SeeqretError::Io`] or [`SeeqretError::BadKey`].
    pub fn public_key(&self) -> Result<String> {
        let path = self.dir.join(PUBLIC_FILE);
        let text =
            std::fs::read_to_string(&path).map_err(|source| SeeqretError::Io { path, source })?;
        let text = text.trim().to_owned();
        decode_public_key(&text)?;
        Ok(text)
    }
}

fn table_exists(conn: &Connection, table: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "select 1 from sqlite_master where type = 'table' and name = ?1",
            [table],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn column_exists(conn: &Connection, table: &str, column: &str) -> Result<bool> {
    let n: i64 = conn.query_row(
        "select count(*) from pragma_table_info(?1) where name = ?2",
        [table, column],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

fn read_secret_file(path: &Path) -> Result<Zeroizing<String>> {
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|source| SeeqretError::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn read_fernet_key(path: &Path) -> Result<Zeroizing<[u8; 32]>> {
    let text = read_secret_file(path)?;
    let bad = || SeeqretError::BadKey(format!("file '{FERNET_FILE}': not a Fernet key"));
    let bytes = Zeroizing::new(URL_SAFE.decode(text.trim()).map_err(|_| bad())?);
    if bytes.len() != 32 {
        return Err(bad());
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&bytes);
    Ok(key)
}

fn utf8(plain: Zeroizing<Vec<u8>>, name: &str) -> Result<Zeroizing<String>> {
    match std::str::from_utf8(&plain) {
        Ok(s) => Ok(Zeroizing::new(s.to_owned())),
        Err(_) => Err(SeeqretError::NotUtf8(name.to_owned())),
    }
}

/// Opens a Fernet token (its base64 text) with a 32-byte Fernet key.
fn fernet_decrypt(key: &[u8; 32], token_b64: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let token = URL_SAFE
        .decode(token_b64.trim_ascii())
        .map_err(|_| SeeqretError::Decrypt)?;
    // version (1) + timestamp (8) + iv (16) + at least one block + hmac (32)
    if token.len() < 1 + 8 + 16 + 16 + 32 || token.first() != Some(&0x80) {
        return Err(SeeqretError::Decrypt);
    }
    let (signed, tag) = token.split_at(token.len() - 32);
    let (signing_key, enc_key) = key.split_at(16);
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_key).map_err(|_| SeeqretError::Decrypt)?;
    mac.update(signed);
    mac.verify_slice(tag).map_err(|_| SeeqretError::Decrypt)?;
    let (iv, ct) = signed[9..].split_at(16);
    if ct.len() % 16 != 0 {
        return Err(SeeqretError::Decrypt);
    }
    let dec = cbc::Decryptor::<aes::Aes128>::new_from_slices(enc_key, iv)
        .map_err(|_| SeeqretError::Decrypt)?;
    dec.decrypt_padded_vec_mut::<Pkcs7>(ct)
        .map(Zeroizing::new)
        .map_err(|_| SeeqretError::Decrypt)
}

/// Opens a seeqret NaCl box (base64 of nonce ‖ tag ‖ ciphertext).
fn box_open(
    my_secret: &[u8; 32],
    sender_public: &[u8; 32],
    b64: &str,
) -> Result<Zeroizing<Vec<u8>>> {
    let raw = STANDARD
        .decode(b64.trim())
        .map_err(|_| SeeqretError::Decrypt)?;
    if raw.len() < 24 + 16 {
        return Err(SeeqretError::Decrypt);
    }
    let (nonce, ct) = raw.split_at(24);
    let b = SalsaBox::new(
        &PublicKey::from_bytes(*sender_public),
        &SecretKey::from_bytes(*my_secret),
    );
    b.decrypt(nonce.into(), ct)
        .map(Zeroizing::new)
        .map_err(|_| SeeqretError::Decrypt)
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// seeqret's per-secret fingerprint: the last 5 hex digits of the SHA-256
/// of `app:env:key:type:value`.
fn fingerprint(s: &SeeqretSecret) -> String {
    let text = Zeroizing::new(format!(
        "{}:{}:{}:{}:{}",
        s.app,
        s.env,
        s.key,
        s.value_type,
        s.value()
    ));
    let hex = sha256_hex(text.as_bytes());
    hex[hex.len() - 5..].to_owned()
}

/// seeqret's export checksum: hex SHA-256 of the sorted
/// `app:env:key:type:value\n` lines.
fn checksum(secrets: &[SeeqretSecret]) -> String {
    let mut sorted: Vec<&SeeqretSecret> = secrets.iter().collect();
    sorted.sort_by(|a, b| (&a.app, &a.env, &a.key).cmp(&(&b.app, &b.env, &b.key)));
    let mut text = Zeroizing::new(String::new());
    for s in sorted {
        text.push_str(&format!(
            "{}:{}:{}:{}:{}\n",
            s.app,
            s.env,
            s.key,
            s.value_type,
            s.value()
        ));
    }
    sha256_hex(text.as_bytes())
}

/// A decoded `json-crypt` export.
#[derive(Debug, Clone)]
pub struct JsonCryptExport {
    /// The sender, as the export names it.
    pub from: SeeqretUser,
    /// The recipient, as the export names it.
    pub to: SeeqretUser,
    /// The decrypted secrets, in export order.
    pub secrets: Vec<SeeqretSecret>,
}

#[derive(serde::Deserialize)]
struct RawUser {
    username: String,
    #[serde(default)]
    email: Option<String>,
    pubkey: String,
    #[serde(default)]
    name: Option<String>,
}

impl From<RawUser> for SeeqretUser {
    fn from(u: RawUser) -> SeeqretUser {
        SeeqretUser {
            username: u.username,
            email: u.email.unwrap_or_default(),
            pubkey: u.pubkey,
            name: u.name,
        }
    }
}

#[derive(serde::Deserialize)]
struct RawSecret {
    app: String,
    env: String,
    key: String,
    value: String,
    #[serde(rename = "type", default)]
    value_type: Option<String>,
    #[serde(default)]
    updated_at: Option<i64>,
}

#[derive(serde::Deserialize)]
struct RawExport {
    #[serde(default)]
    version: Option<i64>,
    from: RawUser,
    to: RawUser,
    secrets: Vec<RawSecret>,
    #[serde(default)]
    signature: Option<String>,
}

/// Decrypts a `json-crypt` export addressed to `my_x25519_secret`.
///
/// The values are opened with `sender_pubkey` when given (the sender's key
/// as known to the caller); otherwise with the key the export's `from`
/// names, in which case the caller must check that this key belongs to a
/// sender it trusts. The export's checksum is checked after decryption.
///
/// # Errors
///
/// [`SeeqretError::Format`] for malformed JSON, [`SeeqretError::NotForMe`]
/// if `to` names another public key, [`SeeqretError::Decrypt`] if a value
/// does not open, [`SeeqretError::Checksum`] if the names or values do not
/// match the checksum, [`SeeqretError::NotUtf8`].
pub fn parse_json_crypt(
    text: &str,
    my_x25519_secret: &[u8; 32],
    sender_pubkey: Option<&[u8; 32]>,
) -> Result<JsonCryptExport> {
    if text.len() > MAX_EXPORT_LEN {
        return Err(SeeqretError::Format(format!(
            "larger than {MAX_EXPORT_LEN} bytes"
        )));
    }
    let fmt_err = |e: serde_json::Error| SeeqretError::Format(e.to_string());
    let mut value: serde_json::Value = serde_json::from_str(text).map_err(fmt_err)?;
    // Unwrap jseeqret's {v, kind, payload} envelope.
    if let Some(kind) = value.get("kind").and_then(|k| k.as_str()) {
        if kind != "secret" {
            return Err(SeeqretError::Format(format!(
                "message kind '{kind}' is not a secret export"
            )));
        }
        value = value
            .get_mut("payload")
            .map(serde_json::Value::take)
            .ok_or_else(|| SeeqretError::Format("envelope without payload".into()))?;
    }
    let raw: RawExport = serde_json::from_value(value).map_err(fmt_err)?;
    if let Some(v) = raw.version.filter(|&v| v != 1) {
        return Err(SeeqretError::Format(format!("unsupported version {v}")));
    }
    let me = seeqret_public_key(my_x25519_secret);
    if decode_public_key(&raw.to.pubkey)? != decode_public_key(&me)? {
        return Err(SeeqretError::NotForMe(raw.to.username));
    }
    let sender = match sender_pubkey {
        Some(k) => *k,
        None => decode_public_key(&raw.from.pubkey)?,
    };
    let mut secrets = Vec::with_capacity(raw.secrets.len());
    for s in raw.secrets {
        let plain = box_open(my_x25519_secret, &sender, &s.value)?;
        let name = format!("{}:{}:{}", s.app, s.env, s.key);
        secrets.push(SeeqretSecret {
            value: utf8(plain, &name)?,
            app: s.app,
            env: s.env,
            key: s.key,
            value_type: s.value_type.unwrap_or_else(|| "str".into()),
            updated_at: s.updated_at,
        });
    }
    let checksum_ok = raw
        .signature
        .as_ref()
        .is_none_or(|sig| sig.eq_ignore_ascii_case(&checksum(&secrets)));
    if !checksum_ok {
        return Err(SeeqretError::Checksum);
    }
    Ok(JsonCryptExport {
        from: raw.from.into(),
        to: raw.to.into(),
        secrets,
    })
}

/// One decoded `command` export line.
#[derive(Debug, Clone)]
pub struct CommandLine {
    /// The sender's username, from the line's `-u` option, if present.
    pub from_user: Option<String>,
    /// The decrypted secret.
    pub secret: SeeqretSecret,
}

/// Decrypts one `command` export line: either the whole
/// `seeqret load -u… -scommand -v1::…` line or just its `1::…` value.
///
/// # Errors
///
/// [`SeeqretError::Format`] if the line is malformed,
/// [`SeeqretError::Decrypt`] if the value does not open with these keys,
/// [`SeeqretError::Fingerprint`] if the names do not match the
/// fingerprint, [`SeeqretError::NotUtf8`].
pub fn parse_command_line(
    line: &str,
    my_x25519_secret: &[u8; 32],
    sender_pubkey: &[u8; 32],
) -> Result<CommandLine> {
    let unquote = |s: &str| -> String {
        let s = s.trim();
        for q in ['\'', '"'] {
            if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
                return inner.to_owned();
            }
        }
        s.to_owned()
    };
    let mut value: Option<String> = None;
    let mut from_user: Option<String> = None;
    let mut tokens = line.split_whitespace();
    while let Some(tok) = tokens.next() {
        let mut take = |short: &str, long: &str| -> Option<String> {
            if tok == short || tok == long {
                tokens.next().map(unquote)
            } else if let Some(rest) = tok.strip_prefix(&format!("{long}=")) {
                Some(unquote(rest))
            } else {
                tok.strip_prefix(short)
                    .filter(|r| !r.is_empty())
                    .map(unquote)
            }
        };
        if let Some(v) = take("-v", "--value") {
            value = Some(v);
        } else if let Some(u) = take("-u", "--from-user") {
            from_user = Some(u);
        }
    }
    let value = match value {
        Some(v) => v,
        None if line.contains("::") && !line.trim_start().starts_with('-') => unquote(line),
        None => return Err(SeeqretError::Format("no -v value in command line".into())),
    };
    let parts: Vec<&str> = value.splitn(8, ':').collect();
    let [version, empty, fp, app, env, key, value_type, b64] = parts.as_slice() else {
        return Err(SeeqretError::Format(
            "command value must have 8 ':' fields".into(),
        ));
    };
    if *version != "1" || !empty.is_empty() {
        return Err(SeeqretError::Format(format!(
            "unsupported command version '{version}'"
        )));
    }
    let name = crate::secret_name(app, env, key);
    let plain = box_open(my_x25519_secret, sender_pubkey, b64)?;
    let secret = SeeqretSecret {
        app: (*app).to_owned(),
        env: (*env).to_owned(),
        key: (*key).to_owned(),
        value: utf8(plain, &name)?,
        value_type: (*value_type).to_owned(),
        updated_at: None,
    };
    if !fp.eq_ignore_ascii_case(&fingerprint(&secret)) {
        return Err(SeeqretError::Fingerprint(name));
    }
    Ok(CommandLine { from_user, secret })
}

/// Decrypts every `command` line of a text (blank lines and `#` comments
/// skipped).
///
/// # Errors
///
/// The first error of [`parse_command_line`].
pub fn parse_command_lines(
    text: &str,
    my_x25519_secret: &[u8; 32],
    sender_pubkey: &[u8; 32],
) -> Result<Vec<CommandLine>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| parse_command_line(l, my_x25519_secret, sender_pubkey))
        .collect()
}

#[cfg(test)]
#[path = "seeqret_test.rs"]
mod tests;
