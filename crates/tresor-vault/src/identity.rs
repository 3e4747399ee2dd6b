//! Users and identities, and sharing secrets between vaults.
//!
//! Each vault owner has an identity: an age X25519 key (to receive exports), an Ed25519 key
//! (to sign them) and a NaCl X25519 key (to receive seeqret exports). They are sealed in the
//! store as a `PrivateKey` object. Known users are `PublicKey` objects carrying their public
//! keys as attributes.
//!
//! A tresor export is JSON: `{"format":"tresor-export/1","from","to","payload":<age
//! ciphertext, base64>,"signature":<ed25519 over the signed bytes, base64>}` where the signed
//! bytes are `"tresor-export/1\0" from "\0" to "\0" payload`. The age payload holds the secrets.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use tresor_crypto::SecretBytes;
use tresor_store::secret_name::{identity_name, user_name};
use tresor_store::{AttrCond, NewObject, ObjectMeta, ObjectType, Query};
use zeroize::Zeroizing;

use crate::filter::FilterSet;
use crate::vault::{ImportReport, ROLE, Vault};
use crate::{Result, VaultError};

const FORMAT: &str = "tresor-export/1";
/// Largest export or message file accepted (16 MiB).
pub const MAX_IMPORT: usize = 16 << 20;

/// A user known to a vault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    /// The user's identity (`user@host` or a chosen name).
    pub username: String,
    /// Email.
    pub email: String,
    /// age recipient (`age1…`), if known.
    pub age: Option<String>,
    /// Ed25519 verifying key (base64), if known.
    pub ed25519: Option<String>,
    /// seeqret/NaCl public key (base64), if known.
    pub seeqret: Option<String>,
    /// Whether this user is the vault's owner.
    pub owner: bool,
}

impl User {
    /// The public key string `tresor add user --pubkey` accepts for this user.
    pub fn public_key(&self) -> String {
        match (&self.age, &self.ed25519) {
            (Some(a), Some(e)) => format!("{a}:{e}"),
            _ => self.seeqret.clone().unwrap_or_default(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct IdentityMaterial {
    age: String,
    ed25519: String,
    nacl: String,
}

/// The owner's private keys.
pub struct Identity {
    age: age::x25519::Identity,
    signing: SigningKey,
    nacl: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity([REDACTED])")
    }
}

fn random32() -> Result<Zeroizing<[u8; 32]>> {
    let mut k = Zeroizing::new([0u8; 32]);
    tresor_crypto::random_fill(k.as_mut())?;
    Ok(k)
}

/// Parses a public key: `age1…:<ed25519 base64>` (tresor) or a bare base64 X25519 key (seeqret).
///
/// # Errors
/// [`VaultError::BadPublicKey`] saying what is wrong.
pub fn parse_public_key(s: &str) -> Result<(Option<String>, Option<String>, Option<String>)> {
    let s = s.trim();
    if let Some((a, e)) = s.split_once(':') {
        a.parse::<age::x25519::Recipient>()
            .map_err(|e| VaultError::BadPublicKey(format!("age recipient: {e}")))?;
        let bytes = B64
            .decode(e)
            .map_err(|_| VaultError::BadPublicKey("ed25519 key is not base64".into()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| VaultError::BadPublicKey("ed25519 key is not 32 bytes".into()))?;
        VerifyingKey::from_bytes(&arr)
            .map_err(|_| VaultError::BadPublicKey("not an ed25519 point".into()))?;
        Ok((Some(a.to_owned()), Some(e.to_owned()), None))
    } else if s.starts_with("age1") {
        Err(VaultError::BadPublicKey("an age recipient alone cannot verify signatures; use the full key from 'tresor public-key' (age1…:…)".into()))
    } else {
        crate::seeqret::decode_public_key(s).map_err(|_| {
            VaultError::BadPublicKey(
                "expected 'age1…:BASE64' from 'tresor public-key' or a seeqret base64 key".into(),
            )
        })?;
        Ok((None, None, Some(s.to_owned())))
    }
}

fn user_from(m: &ObjectMeta, owner: &str) -> Option<User> {
    let username = m.attr_str("username")?.to_owned();
    Some(User {
        owner: username == owner,
        email: m.attr_str("email").unwrap_or("").to_owned(),
        age: m.attr_str("age").map(str::to_owned),
        ed25519: m.attr_str("ed25519").map(str::to_owned),
        seeqret: m.attr_str("seeqret").map(str::to_owned),
        username,
    })
}

pub(crate) fn create_owner(v: &Vault) -> Result<()> {
    let id = age::x25519::Identity::generate();
    let seed = random32()?;
    let signing = SigningKey::from_bytes(&seed);
    let nacl = random32()?;
    use age::secrecy::ExposeSecret as _;
    let mat = Zeroizing::new(
        serde_json::to_vec(&IdentityMaterial {
            age: id.to_string().expose_secret().to_owned(),
            ed25519: B64.encode(seed.as_ref()),
            nacl: B64.encode(nacl.as_ref()),
        })
        .map_err(|e| VaultError::Refused(e.to_string()))?,
    );
    let user = v.config().user.clone();
    let email = v.config().email.clone();
    let age_pub = id.to_public().to_string();
    let ed_pub = B64.encode(signing.verifying_key().as_bytes());
    let seeqret_pub = crate::seeqret::seeqret_public_key(&nacl);
    v.store().write(|tx| {
        let mut n = NewObject::new(ObjectType::PrivateKey);
        n.names.push(identity_name(&user));
        n.attributes.insert(ROLE.into(), "identity".into());
        n.material = Some(mat.to_vec());
        tx.create(n)?;
        let mut u = NewObject::new(ObjectType::PublicKey);
        u.names.push(user_name(&user));
        u.attributes.insert(ROLE.into(), "user".into());
        u.attributes.insert("username".into(), user.clone().into());
        u.attributes.insert("email".into(), email.clone().into());
        u.attributes.insert("age".into(), age_pub.clone().into());
        u.attributes.insert("ed25519".into(), ed_pub.clone().into());
        u.attributes
            .insert("seeqret".into(), seeqret_pub.clone().into());
        tx.create(u)?;
        Ok(())
    })?;
    Ok(())
}

impl Vault {
    /// The owner's identity.
    ///
    /// # Errors
    /// If the identity object is missing or damaged.
    pub fn identity(&self) -> Result<Identity> {
        let name = identity_name(&self.config().user);
        let (_, mat) = self.store().read_by_name(&name)?.ok_or_else(|| {
            VaultError::Refused(format!(
                "this vault has no identity for '{}'",
                self.config().user
            ))
        })?;
        let m: IdentityMaterial =
            serde_json::from_slice(mat.expose()).map_err(|e| VaultError::Rejected {
                what: "identity",
                why: e.to_string(),
            })?;
        let age = m
            .age
            .parse::<age::x25519::Identity>()
            .map_err(|e| VaultError::Rejected {
                what: "identity",
                why: e.to_string(),
            })?;
        let seed = Zeroizing::new(B64.decode(&m.ed25519).map_err(|e| VaultError::Rejected {
            what: "identity",
            why: e.to_string(),
        })?);
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Rejected {
                what: "identity",
                why: "bad ed25519 seed".into(),
            })?;
        let nacl_v = Zeroizing::new(B64.decode(&m.nacl).map_err(|e| VaultError::Rejected {
            what: "identity",
            why: e.to_string(),
        })?);
        let mut nacl = Zeroizing::new([0u8; 32]);
        if nacl_v.len() != 32 {
            return Err(VaultError::Rejected {
                what: "identity",
                why: "bad nacl key".into(),
            });
        }
        nacl.copy_from_slice(&nacl_v);
        Ok(Identity {
            age,
            signing: SigningKey::from_bytes(&seed),
            nacl,
        })
    }

    /// Every known user, the owner first.
    ///
    /// # Errors
    /// Store errors.
    pub fn users(&self) -> Result<Vec<User>> {
        let q = Query {
            attrs: vec![AttrCond::Eq(ROLE.into(), "user".into())],
            ..Default::default()
        };
        let owner = &self.config().user;
        let mut users: Vec<User> = self
            .store()
            .locate(&q)?
            .iter()
            .filter_map(|m| user_from(m, owner))
            .collect();
        users.sort_by_key(|u| (!u.owner, u.username.clone()));
        Ok(users)
    }

    /// One user.
    ///
    /// # Errors
    /// [`VaultError::UnknownUser`].
    pub fn user(&self, name: &str) -> Result<User> {
        let m = self
            .store()
            .get_by_name(&user_name(name))?
            .ok_or_else(|| VaultError::UnknownUser(name.to_owned()))?;
        user_from(&m, &self.config().user).ok_or_else(|| VaultError::UnknownUser(name.to_owned()))
    }

    /// The owner as a user.
    ///
    /// # Errors
    /// If the owner record is missing.
    pub fn owner(&self) -> Result<User> {
        self.user(&self.config().user.clone())
    }

    /// Adds a user from a public key string ([`parse_public_key`]).
    ///
    /// # Errors
    /// [`VaultError::BadPublicKey`], [`VaultError::UserExists`].
    pub fn add_user(&self, username: &str, email: &str, pubkey: &str) -> Result<User> {
        if username.is_empty() || username.contains(char::is_control) || username.contains(':') {
            return Err(VaultError::Refused(format!(
                "invalid user name '{}': empty, ':' or control characters",
                username.escape_debug()
            )));
        }
        let (age, ed, seeqret) = parse_public_key(pubkey)?;
        let r = self.store().write(|tx| {
            let mut u = NewObject::new(ObjectType::PublicKey);
            u.names.push(user_name(username));
            u.attributes.insert(ROLE.into(), "user".into());
            u.attributes.insert("username".into(), username.into());
            u.attributes.insert("email".into(), email.into());
            for (k, v) in [("age", &age), ("ed25519", &ed), ("seeqret", &seeqret)] {
                if let Some(v) = v {
                    u.attributes.insert(k.into(), v.clone().into());
                }
            }
            tx.create(u).map(|_| ())
        });
        match r {
            Err(tresor_store::StoreError::NameTaken(_)) => {
                Err(VaultError::UserExists(username.to_owned()))
            }
            r => r.map_err(VaultError::from),
        }?;
        self.user(username)
    }

    /// Removes a user (not the owner).
    ///
    /// # Errors
    /// [`VaultError::UnknownUser`], or refused for the owner.
    pub fn remove_user(&self, username: &str) -> Result<()> {
        if username == self.config().user {
            return Err(VaultError::Refused(
                "the vault owner cannot be removed".into(),
            ));
        }
        let m = self
            .store()
            .get_by_name(&user_name(username))?
            .ok_or_else(|| VaultError::UnknownUser(username.to_owned()))?;
        self.store().write(|tx| tx.delete(&m.uid))?;
        Ok(())
    }

    /// The seeqret-format public key of this vault's owner.
    ///
    /// # Errors
    /// If the identity cannot be read.
    pub fn seeqret_public_key(&self) -> Result<String> {
        Ok(crate::seeqret::seeqret_public_key(&self.identity()?.nacl))
    }

    /// Writes an export of the secrets matching `filters` for `to`, encrypted to their age
    /// recipient and signed by this vault's owner. Returns the file text and the count.
    ///
    /// # Errors
    /// [`VaultError::UnknownUser`], or a user without a tresor key.
    pub fn export(&self, to: &str, filters: &FilterSet) -> Result<(String, usize)> {
        let user = self.user(to)?;
        let recipient = user
            .age
            .as_deref()
            .ok_or_else(|| VaultError::Refused(format!("user '{to}' has only a seeqret key; tresor exports need their 'tresor public-key'")))?
            .parse::<age::x25519::Recipient>()
            .map_err(|e| VaultError::BadPublicKey(e.to_string()))?;
        let found = self.list(filters)?;
        let mut secrets = Vec::with_capacity(found.len());
        for s in &found {
            let v = self.value(s)?;
            secrets.push(serde_json::json!({
                "app": s.app, "env": s.env, "key": s.key, "type": s.kind,
                "value": B64.encode(v.expose()),
            }));
        }
        let from = self.config().user.clone();
        let inner = Zeroizing::new(
            serde_json::to_vec(&serde_json::json!({"format": FORMAT, "from": from, "to": to, "created": tresor_store::now(), "secrets": secrets}))
                .map_err(|e| VaultError::Refused(e.to_string()))?,
        );
        drop(secrets);
        let payload = age::encrypt(&recipient, &inner)
            .map_err(|e| VaultError::Refused(format!("age encryption failed: {e}")))?;
        let id = self.identity()?;
        let sig = id.signing.sign(&signed_bytes(&from, to, &payload));
        let out = serde_json::json!({
            "format": FORMAT, "from": from, "to": to,
            "payload": B64.encode(&payload),
            "signature": B64.encode(sig.to_bytes()),
        });
        self.store().write(|tx| {
            // One entry per secret (what `tresor access-report` lists), then the summary.
            for s in &found {
                tx.record("export", Some(&s.uid), format!("to {to}"));
            }
            tx.record("export", None, format!("{} secrets to {to}", found.len()));
            Ok(())
        })?;
        Ok((format!("{out:#}\n"), found.len()))
    }

    /// Loads an export into this vault in one transaction: a tresor export (signature checked
    /// against the known sender), a seeqret `json-crypt` export, or seeqret `command` lines.
    /// `from` names the expected sender (required for seeqret command lines without `-u`).
    ///
    /// # Errors
    /// [`VaultError::Rejected`] for a tampered, truncated, wrongly signed or foreign file;
    /// [`VaultError::UnknownUser`] for an unknown sender. Nothing is written on error.
    pub fn load(&self, text: &str, from: Option<&str>) -> Result<ImportReport> {
        if text.len() > MAX_IMPORT {
            return Err(VaultError::Rejected {
                what: "import",
                why: format!("larger than {MAX_IMPORT} bytes"),
            });
        }
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            let v: serde_json::Value =
                serde_json::from_str(text).map_err(|e| VaultError::Rejected {
                    what: "import",
                    why: format!("not valid JSON ({e}); truncated?"),
                })?;
            if v.get("format").and_then(|f| f.as_str()) == Some(FORMAT) {
                return self.load_tresor(&v, from);
            }
            return self.load_seeqret_json(text, from);
        }
        self.load_seeqret_commands(text, from)
    }

    fn load_tresor(
        &self,
        v: &serde_json::Value,
        expect_from: Option<&str>,
    ) -> Result<ImportReport> {
        let rej = |why: String| VaultError::Rejected {
            what: "tresor export",
            why,
        };
        let field = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .ok_or_else(|| rej(format!("missing '{k}'")))
        };
        let (sender, to) = (field("from")?, field("to")?);
        if let Some(f) = expect_from
            && f != sender
        {
            return Err(rej(format!("it is from '{sender}', not '{f}'")));
        }
        let me = self.config().user.clone();
        if to != me {
            return Err(rej(format!(
                "it is addressed to '{to}', not to this vault's owner '{me}'"
            )));
        }
        let user = self.user(sender)?;
        let ed = user
            .ed25519
            .ok_or_else(|| rej(format!("user '{sender}' has no signing key")))?;
        let ed: [u8; 32] = B64
            .decode(ed)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| rej("sender key is damaged".into()))?;
        let vk = VerifyingKey::from_bytes(&ed).map_err(|_| rej("sender key is damaged".into()))?;
        let payload = B64
            .decode(field("payload")?)
            .map_err(|_| rej("payload is not base64".into()))?;
        let sig = B64
            .decode(field("signature")?)
            .map_err(|_| rej("signature is not base64".into()))?;
        let sig: [u8; 64] = sig
            .try_into()
            .map_err(|_| rej("signature has the wrong length".into()))?;
        vk.verify_strict(&signed_bytes(sender, to, &payload), &ed25519_dalek::Signature::from_bytes(&sig))
            .map_err(|_| rej(format!("signature does not verify against '{sender}''s key: tampered, or not signed by them")))?;
        let id = self.identity()?;
        let inner = Zeroizing::new(
            age::decrypt(&id.age, &payload).map_err(|e| rej(format!("cannot decrypt: {e}")))?,
        );
        let inner: serde_json::Value =
            serde_json::from_slice(&inner).map_err(|e| rej(e.to_string()))?;
        if inner.get("from").and_then(|x| x.as_str()) != Some(sender)
            || inner.get("to").and_then(|x| x.as_str()) != Some(to)
        {
            return Err(rej(
                "inner sender/recipient do not match the envelope".into()
            ));
        }
        let list = inner
            .get("secrets")
            .and_then(|s| s.as_array())
            .ok_or_else(|| rej("no secrets".into()))?;
        let mut items = Vec::with_capacity(list.len());
        for s in list {
            let g = |k: &str| {
                s.get(k)
                    .and_then(|x| x.as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| rej(format!("secret without '{k}'")))
            };
            let value = SecretBytes::new(
                B64.decode(g("value")?)
                    .map_err(|_| rej("value is not base64".into()))?,
            );
            items.push((
                g("app")?,
                g("env")?,
                g("key")?,
                g("type").unwrap_or_else(|_| "str".into()),
                value,
            ));
        }
        self.import_named(&items, &format!("tresor export from {sender}"), &())
    }

    fn seeqret_sender(&self, from: Option<&str>) -> Result<(String, [u8; 32])> {
        let name =
            from.ok_or_else(|| VaultError::Refused("say who sent it: --from USER".into()))?;
        let user = self.user(name)?;
        let key = user
            .seeqret
            .ok_or_else(|| VaultError::Refused(format!("user '{name}' has no seeqret key")))?;
        Ok((name.to_owned(), crate::seeqret::decode_public_key(&key)?))
    }

    fn load_seeqret_json(&self, text: &str, from: Option<&str>) -> Result<ImportReport> {
        let id = self.identity()?;
        let sender = match from {
            Some(f) => Some(self.seeqret_sender(Some(f))?),
            None => None,
        };
        let export =
            crate::seeqret::parse_json_crypt(text, &id.nacl, sender.as_ref().map(|(_, k)| k))?;
        if sender.is_none() {
            // Without --from, the sender must still be a known user with that key.
            let known = self
                .users()?
                .into_iter()
                .any(|u| u.seeqret.as_deref().map(str::trim) == Some(export.from.pubkey.trim()));
            if !known {
                return Err(VaultError::UnknownUser(export.from.username.clone()));
            }
        }
        let items: Vec<_> = export.secrets.into_iter().map(named_item).collect();
        self.import_named(
            &items,
            &format!("seeqret export from {}", export.from.username),
            &(),
        )
    }

    fn load_seeqret_commands(&self, text: &str, from: Option<&str>) -> Result<ImportReport> {
        let id = self.identity()?;
        let mut items = Vec::new();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let user_in_line = line.split_whitespace().find_map(|t| {
                t.strip_prefix("-u")
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned)
            });
            let who = from.map(str::to_owned).or(user_in_line);
            let (_, key) = self.seeqret_sender(who.as_deref())?;
            let c = crate::seeqret::parse_command_line(line, &id.nacl, &key)?;
            items.push(named_item(c.secret));
        }
        if items.is_empty() {
            return Err(VaultError::Rejected {
                what: "import",
                why: "no secrets found (not a tresor or seeqret export)".into(),
            });
        }
        self.import_named(&items, "seeqret command", &())
    }

    /// Imports a seeqret vault folder: its secrets and users, in one transaction each.
    ///
    /// # Errors
    /// [`VaultError::Seeqret`] if the folder is not a readable seeqret vault.
    pub fn import_seeqret(&self, dir: &std::path::Path) -> Result<(ImportReport, usize)> {
        self.import_seeqret_with(dir, &())
    }

    /// [`Vault::import_seeqret`], reporting each secret to `progress`.
    ///
    /// # Errors
    /// As [`Vault::import_seeqret`].
    pub fn import_seeqret_with(
        &self,
        dir: &std::path::Path,
        progress: &dyn tresor_store::progress::Progress,
    ) -> Result<(ImportReport, usize)> {
        progress.phase("reading the seeqret vault", None);
        let sv = crate::seeqret::SeeqretVault::open(dir)?;
        let items: Vec<_> = sv.secrets()?.into_iter().map(named_item).collect();
        let report = self.import_named(
            &items,
            &format!("seeqret vault {}", dir.display()),
            progress,
        )?;
        let mut users = 0;
        for u in sv.users()? {
            if self.user(&u.username).is_err() && u.username != self.config().user {
                self.add_user(&u.username, &u.email, &u.pubkey)?;
                users += 1;
            }
        }
        Ok((report, users))
    }
}

/// A seeqret secret as `(app, env, key, type, value)` for [`Vault::import_named`].
fn named_item(s: crate::seeqret::SeeqretSecret) -> (String, String, String, String, SecretBytes) {
    let (app, env, key, kind) = (
        s.app.clone(),
        s.env.clone(),
        s.key.clone(),
        s.value_type.clone(),
    );
    (
        app,
        env,
        key,
        kind,
        SecretBytes::new(s.into_value().as_bytes().to_vec()),
    )
}

fn signed_bytes(from: &str, to: &str, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(payload.len() + from.len() + to.len() + 20);
    m.extend_from_slice(FORMAT.as_bytes());
    m.push(0);
    m.extend_from_slice(from.as_bytes());
    m.push(0);
    m.extend_from_slice(to.as_bytes());
    m.push(0);
    m.extend_from_slice(payload);
    m
}
