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

/// Parses one recipient string; `Err` names what is wrong.
pub fn parse_recipient(s: &str) -> Result<Box<dyn age::Recipient + Send>> {
    let s = s.trim();
    if s.starts_with("age1") {
        return age::x25519::Recipient::from_str(s)
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|e| SealError::Key(format!("invalid age recipient '{s}': {e}")));
    }
    if s.starts_with("ssh-ed25519 ") || s.starts_with("ssh-rsa ") {
        return age::ssh::Recipient::from_str(s)
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|_| SealError::Key("invalid ssh public key recipient".into()));
    }
    Err(SealError::Key(format!(
        "unknown recipient '{}': expected an age key (age1…) or an ssh public key (ssh-ed25519 …)",
        s.chars().take(24).collect::<String>()
    )))
}

/// The canonical form of a recipient string (for ssh keys: type and key, comment dropped).
///
/// # Errors
/// [`SealError::Key`] if it is not a recipient.
pub fn normalize_recipient(s: &str) -> Result<String> {
    parse_recipient(s)?;
    let s = s.trim();
    if s.starts_with("ssh-") {
        let mut it = s.split_whitespace();
        return Ok(format!(
            "{} {}",
            it.next().unwrap_or_default(),
            it.next().unwrap_or_default()
        ));
    }
    Ok(s.to_owned())
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

/// Wraps `key` to every recipient: base64 of one age file.
pub(crate) fn wrap(key: &DataKey, recipients: &[String]) -> Result<String> {
    if recipients.is_empty() {
        return Err(SealError::Key(
            "a sealed file needs at least one recipient (-r age1… or -r 'ssh-ed25519 …')".into(),
        ));
    }
    let rs = recipients
        .iter()
        .map(|r| parse_recipient(r))
        .collect::<Result<Vec<_>>>()?;
    let enc = age::Encryptor::with_recipients(rs.iter().map(|r| r.as_ref() as &dyn age::Recipient))
        .map_err(|e| SealError::Key(format!("cannot wrap the data key: {e}")))?;
    let mut out = Vec::new();
    let mut w = enc
        .wrap_output(&mut out)
        .map_err(|_| SealError::Crypto("age wrap"))?;
    w.write_all(key.bytes())
        .map_err(|_| SealError::Crypto("age wrap"))?;
    w.finish().map_err(|_| SealError::Crypto("age wrap"))?;
    Ok(STANDARD.encode(out))
}

/// Opens the wrapped data key with the first identity that fits.
pub(crate) fn unwrap(wrapped: &str, ids: &[Identity]) -> Result<DataKey> {
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
