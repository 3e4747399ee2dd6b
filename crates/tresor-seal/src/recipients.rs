//! Recipients (age X25519 `age1…`, `ssh-ed25519 …`, `ssh-rsa …`) and identities (age identity
//! files, unencrypted OpenSSH private keys); the data key is wrapped to all recipients as one
//! age file, base64 on one header line.

use std::io::{Read, Write};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Result, SealError};
use crate::keys::DataKey;

/// An identity that can open data keys (an age or ssh private key).
pub type Identity = Box<dyn age::Identity>;

/// Longest recipient name.
pub const MAX_NAME: usize = 64;

/// The kinds of recipient a sealed file's data key can be wrapped to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecipientKind {
    /// An age X25519 key, `age1…`.
    Age,
    /// An ssh public key, `ssh-ed25519 …` or `ssh-rsa …`.
    Ssh,
    /// An AWS KMS key, `awskms:KEY` (key id, ARN or `alias/…`): KMS Encrypt / Decrypt.
    AwsKms,
    /// A symmetric key on a tresor KMIP server, `kmip://HOST:PORT/UID`: KMIP Encrypt /
    /// Decrypt over mutual TLS.
    Kmip,
}

impl RecipientKind {
    /// Whether the data key is wrapped by a key service ([`KeyService`]) rather than age.
    pub fn is_service(self) -> bool {
        matches!(self, Self::AwsKms | Self::Kmip)
    }
}

/// One recipient of a sealed file: its key and an optional name (`bob`; for ssh keys the
/// key's comment by default), written `KEY NAME` in the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The key: `age1…`, `ssh-ed25519 AAAA…`, `awskms:…`, `kmip://HOST:PORT/UID`.
    pub key: String,
    /// A name for people (`recipients rm FILE bob`).
    pub name: Option<String>,
    /// What kind of key.
    pub kind: RecipientKind,
}

fn check_name(n: &str) -> Result<()> {
    if n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(SealError::Key(format!(
            "invalid recipient name: at most {MAX_NAME} characters, no control characters"
        )));
    }
    Ok(())
}

impl Recipient {
    /// Parses `KEY [NAME]` (an ssh key's comment is its name).
    ///
    /// # Errors
    /// [`SealError::Key`] naming what is wrong.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let (kind, ntok) = if s.starts_with("age1") {
            (RecipientKind::Age, 1)
        } else if s.starts_with("ssh-ed25519 ") || s.starts_with("ssh-rsa ") {
            (RecipientKind::Ssh, 2)
        } else if s.starts_with("awskms:") {
            (RecipientKind::AwsKms, 1)
        } else if s.starts_with("kmip://") {
            (RecipientKind::Kmip, 1)
        } else {
            return Err(SealError::Key(format!(
                "unknown recipient '{}': expected an age key (age1…), an ssh public key (ssh-ed25519 …), an AWS KMS key (awskms:ARN|KEY-ID|alias/NAME) or a KMIP server key (kmip://HOST:PORT/UID)",
                s.chars().take(24).collect::<String>()
            )));
        };
        let mut rest = s;
        let mut key_parts = Vec::new();
        for _ in 0..ntok {
            let t = rest.trim_start();
            let end = t.find(char::is_whitespace).unwrap_or(t.len());
            key_parts.push(&t[..end]);
            rest = &t[end..];
        }
        let key = key_parts.join(" ");
        let name =
            Some(rest.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|n| !n.is_empty());
        if let Some(n) = &name {
            check_name(n)?;
        }
        let r = Recipient { key, name, kind };
        r.check()?;
        Ok(r)
    }

    fn check(&self) -> Result<()> {
        match self.kind {
            RecipientKind::Age => age::x25519::Recipient::from_str(&self.key)
                .map(|_| ())
                .map_err(|e| SealError::Key(format!("invalid age recipient '{}': {e}", self.key))),
            RecipientKind::Ssh => age::ssh::Recipient::from_str(&self.key)
                .map(|_| ())
                .map_err(|_| SealError::Key("invalid ssh public key recipient".into())),
            RecipientKind::AwsKms => {
                let k = &self.key["awskms:".len()..];
                if k.is_empty() || !k.is_ascii() {
                    return Err(SealError::Key(format!(
                        "invalid AWS KMS recipient '{}': awskms:ARN, awskms:KEY-ID or awskms:alias/NAME",
                        self.key
                    )));
                }
                Ok(())
            }
            RecipientKind::Kmip => {
                kmip_parts(&self.key)?;
                Ok(())
            }
        }
    }

    /// With a name (replacing any).
    ///
    /// # Errors
    /// [`SealError::Key`] for an invalid name.
    pub fn named(mut self, name: &str) -> Result<Self> {
        let n = name.split_whitespace().collect::<Vec<_>>().join(" ");
        check_name(&n)?;
        self.name = Some(n).filter(|n| !n.is_empty());
        Ok(self)
    }

    /// The header form: `KEY` or `KEY NAME`.
    pub fn entry(&self) -> String {
        match &self.name {
            Some(n) => format!("{} {n}", self.key),
            None => self.key.clone(),
        }
    }

    /// Whether `who` names this recipient: its name, its key (an ssh key with or without
    /// comment), or a prefix of its key of at least 8 characters.
    pub fn is(&self, who: &str) -> bool {
        let who = who.trim();
        if self.name.as_deref() == Some(who) {
            return true;
        }
        let key = Recipient::parse(who)
            .map(|r| r.key)
            .unwrap_or_else(|_| who.to_owned());
        key == self.key || (key.len() >= 8 && self.key.starts_with(&key))
    }
}

/// `(HOST:PORT, UID)` of a `kmip://HOST:PORT/UID` recipient.
///
/// # Errors
/// [`SealError::Key`] for a malformed one.
pub fn kmip_parts(key: &str) -> Result<(String, String)> {
    let bad = || {
        SealError::Key(format!(
            "invalid KMIP recipient '{key}': kmip://HOST:PORT/UID (the uid of a symmetric key on a tresor KMIP server)"
        ))
    };
    let rest = key.strip_prefix("kmip://").ok_or_else(bad)?;
    let (addr, uid) = rest.split_once('/').ok_or_else(bad)?;
    if addr.is_empty() || uid.is_empty() || uid.contains('/') || !key.is_ascii() {
        return Err(bad());
    }
    Ok((addr.to_owned(), uid.to_owned()))
}

/// Parses one recipient string into an age recipient; `Err` names what is wrong (and says so
/// for a KMS or KMIP recipient, which age cannot wrap to).
pub fn parse_recipient(s: &str) -> Result<Box<dyn age::Recipient + Send>> {
    let r = Recipient::parse(s)?;
    match r.kind {
        RecipientKind::Age => Ok(Box::new(
            age::x25519::Recipient::from_str(&r.key).map_err(|e| SealError::Key(e.to_string()))?,
        )),
        RecipientKind::Ssh => Ok(Box::new(
            age::ssh::Recipient::from_str(&r.key)
                .map_err(|_| SealError::Key("invalid ssh public key recipient".into()))?,
        )),
        _ => Err(SealError::Key(format!(
            "'{}' is a key-service recipient, not an age one",
            r.key
        ))),
    }
}

/// The canonical form of a recipient string: `KEY` or `KEY NAME` (whitespace collapsed; an
/// ssh key's comment is its name).
///
/// # Errors
/// [`SealError::Key`] if it is not a recipient.
pub fn normalize_recipient(s: &str) -> Result<String> {
    Ok(Recipient::parse(s)?.entry())
}

/// A key service that wraps and unwraps data keys for [`RecipientKind::AwsKms`] and
/// [`RecipientKind::Kmip`] recipients (AWS KMS Encrypt/Decrypt, KMIP Encrypt/Decrypt). The
/// `context` binds a wrapped key to the data key it holds (KMS encryption context, KMIP
/// authenticated data); implementations live where the clients are (`tresor-cli`).
pub trait KeyService {
    /// Wraps the 32-byte `key` to `recipient` (its key, e.g. `awskms:alias/team`).
    ///
    /// # Errors
    /// What the service said (no key material in it).
    fn wrap(
        &self,
        recipient: &str,
        key: &[u8; 32],
        context: &str,
    ) -> std::result::Result<Vec<u8>, String>;

    /// Unwraps what [`KeyService::wrap`] gave.
    ///
    /// # Errors
    /// What the service said: denied, unreachable, not the right key or context.
    fn unwrap(
        &self,
        recipient: &str,
        wrapped: &[u8],
        context: &str,
    ) -> std::result::Result<zeroize::Zeroizing<Vec<u8>>, String>;
}

/// The wrap context of a data key: names the format version and the key's public id.
fn context(key_id: &str) -> String {
    format!("tresor-seal v1 data key {key_id}")
}

/// Reads the identities in a file: an age identity file (`AGE-SECRET-KEY-1…` lines) or an
/// unencrypted OpenSSH private key.
///
/// # Errors
/// [`SealError::Key`] naming the file when it cannot be read or holds no usable identity.
pub fn load_identities(path: &std::path::Path) -> Result<Vec<Identity>> {
    let shown = path.display();
    let mut f = std::fs::File::open(path)
        .map_err(|e| SealError::Key(format!("cannot read identity file {shown}: {e}")))?;
    let mut text = String::new();
    std::io::Read::by_ref(&mut f)
        .take(1 << 20)
        .read_to_string(&mut text)
        .map_err(|e| SealError::Key(format!("cannot read identity file {shown}: {e}")))?;
    let text = zeroize::Zeroizing::new(text);
    if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
        let id = age::ssh::Identity::from_buffer(
            std::io::BufReader::new(text.as_bytes()),
            Some(shown.to_string()),
        )
        .map_err(|e| SealError::Key(format!("cannot read ssh key {shown}: {e}")))?;
        if let age::ssh::Identity::Encrypted(_) = id {
            return Err(SealError::Key(format!(
                "ssh key {shown} is passphrase-protected: use an age identity, or an unencrypted copy in a 0600 file"
            )));
        }
        if let age::ssh::Identity::Unsupported(_) = id {
            return Err(SealError::Key(format!(
                "ssh key {shown}: unsupported key type"
            )));
        }
        return Ok(vec![Box::new(id)]);
    }
    let file = age::IdentityFile::from_buffer(std::io::BufReader::new(text.as_bytes()))
        .map_err(|e| SealError::Key(format!("cannot read identity file {shown}: {e}")))?;
    let ids = file
        .into_identities()
        .map_err(|e| SealError::Key(format!("cannot read identity file {shown}: {e}")))?;
    if ids.is_empty() {
        return Err(SealError::Key(format!(
            "identity file {shown} holds no identity"
        )));
    }
    Ok(ids.into_iter().map(|i| i as Identity).collect())
}

/// Wraps `key` to every recipient: (base64 of one age file for the age and ssh recipients,
/// empty when there is none; one `(recipient key, "KEY_ID.BASE64")` per key-service
/// recipient).
pub(crate) fn wrap(
    key: &DataKey,
    recipients: &[String],
    service: Option<&dyn KeyService>,
) -> Result<(String, Vec<(String, String)>)> {
    if recipients.is_empty() {
        return Err(SealError::Key(
            "a sealed file needs at least one recipient (-r age1… or -r 'ssh-ed25519 …')".into(),
        ));
    }
    let rs = recipients
        .iter()
        .map(|r| Recipient::parse(r))
        .collect::<Result<Vec<_>>>()?;
    let mut wraps = Vec::new();
    let ctx = context(&key.id());
    for r in rs.iter().filter(|r| r.kind.is_service()) {
        let svc = service.ok_or_else(|| {
            SealError::Key(format!(
                "no key service to wrap the data key to '{}'",
                r.key
            ))
        })?;
        let w = svc.wrap(&r.key, key.bytes(), &ctx).map_err(|why| {
            SealError::Key(format!("cannot wrap the data key to '{}': {why}", r.key))
        })?;
        wraps.push((
            r.key.clone(),
            format!("{}.{}", key.id(), STANDARD.encode(w)),
        ));
    }
    wraps.sort();
    let ages = rs
        .iter()
        .filter(|r| !r.kind.is_service())
        .map(|r| parse_recipient(&r.key))
        .collect::<Result<Vec<_>>>()?;
    if ages.is_empty() {
        return Ok((String::new(), wraps));
    }
    let enc =
        age::Encryptor::with_recipients(ages.iter().map(|r| r.as_ref() as &dyn age::Recipient))
            .map_err(|e| SealError::Key(format!("cannot wrap the data key: {e}")))?;
    let mut out = Vec::new();
    let mut w = enc
        .wrap_output(&mut out)
        .map_err(|_| SealError::Crypto("age wrap"))?;
    w.write_all(key.bytes())
        .map_err(|_| SealError::Crypto("age wrap"))?;
    w.finish().map_err(|_| SealError::Crypto("age wrap"))?;
    Ok((STANDARD.encode(out), wraps))
}

/// Opens the wrapped data key: with the first identity that fits the age file, else through
/// `service` with each key-service recipient in turn.
pub(crate) fn unwrap(
    wrapped: &str,
    wraps: &[(String, String)],
    ids: &[Identity],
    service: Option<&dyn KeyService>,
) -> Result<DataKey> {
    let mut why = Vec::new();
    if !wrapped.is_empty() {
        match unwrap_age(wrapped, ids) {
            Err(SealError::NoIdentity) => {}
            r => return r,
        }
    }
    for (r, token) in wraps {
        let bad = |what: &str| SealError::Header {
            line: 0,
            what: format!("the data key wrapped to '{r}' {what}"),
        };
        let (key_id, b64) = token.split_once('.').ok_or_else(|| bad("is malformed"))?;
        let blob = STANDARD.decode(b64).map_err(|_| bad("is not base64"))?;
        let Some(svc) = service else { continue };
        match svc.unwrap(r, &blob, &context(key_id)) {
            Ok(k) => {
                let k = DataKey::from_bytes(&k)?;
                if !tresor_crypto::ct_eq(k.id().as_bytes(), key_id.as_bytes()) {
                    return Err(bad("does not match its key id"));
                }
                return Ok(k);
            }
            Err(e) => why.push(format!("{r}: {e}")),
        }
    }
    if why.is_empty() {
        Err(SealError::NoIdentity)
    } else {
        Err(SealError::Key(format!(
            "none of the identities given is a recipient of this file, and no key service opened it ({})",
            why.join("; ")
        )))
    }
}

fn unwrap_age(wrapped: &str, ids: &[Identity]) -> Result<DataKey> {
    let raw = STANDARD.decode(wrapped).map_err(|_| SealError::Header {
        line: 0,
        what: "the wrapped data key is not base64".into(),
    })?;
    let d = age::Decryptor::new(&raw[..]).map_err(|_| SealError::Header {
        line: 0,
        what: "the wrapped data key is damaged".into(),
    })?;
    let mut r = d
        .decrypt(ids.iter().map(|i| i.as_ref()))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => SealError::NoIdentity,
            _ => SealError::Header {
                line: 0,
                what: "the wrapped data key does not open".into(),
            },
        })?;
    let mut k = zeroize::Zeroizing::new(Vec::new());
    r.read_to_end(&mut k).map_err(|_| SealError::Header {
        line: 0,
        what: "the wrapped data key is damaged".into(),
    })?;
    DataKey::from_bytes(&k)
}
