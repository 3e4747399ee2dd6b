//! [`RemoteVault`]: the vault commands against a `tresor kmip serve` server (`--server`).
//!
//! Mapping (KMIP 1.4 over mutual TLS, identity = the client certificate's CN):
//! - a vault secret `app:env:KEY` is a Secret Data object whose Name is `app:env:KEY`; the
//!   server also stores `app`, `env`, `key` as attributes;
//! - `list`/filters: one Locate per filter with its most selective condition (the exact Name,
//!   else `app`+`env`, else `key`, `app` or `env`), then the vault's own glob matching on the
//!   names, client-side; the server answers only with objects the identity owns or was
//!   granted `locate` on;
//! - `get`: Get; `add`: Register (Activation Date now, so the secret is Active as a local one)
//!   in an Undo batch that also checks the object really got the name;
//! - versions: tresor's vendor operations ([`tresor_kmip::vendor`]): Add Version for
//!   `add --force`/`edit value`/`rollback`, Versions for `history` and `list`'s version column;
//! - `rm`: Revoke (when Active) + Destroy + vendor Purge, all targets in one Undo batch;
//! - owners: Versions names each object's owner and the identity the server sees; `list`,
//!   `get --json` and `history` show the owner, and a command that reads or writes a secret
//!   someone else owns says so on stderr (a name created first by another identity is never
//!   used silently as one's own; who may create names under an app is the server's app
//!   policy, `tresor kmip apps`).
//!
//! - references (`inject`, `run`) and `importenv`'s lookup: tresor's vendor Read Names, every
//!   name in one batch item (up to 4,000 per request), answered from one store read.
//!
//! The KMIP requests and answers are [`tresor_kmip::client::SecretsClient`]'s; this module
//! maps the vault's commands, filters and messages onto it.
//!
//! Every multi-object write is one request message, which the server runs in one store
//! transaction (Undo on the first failure), so `rm` and an `importenv` of up to 32 new keys
//! (64 operations, the server's default `--max-batch-items`) stay all-or-nothing; a larger
//! `importenv` is written in several such requests, each all-or-nothing, the whole not
//! (it says so on stderr, and on a failure how many were written).

use std::cell::RefCell;
use std::collections::HashMap;

use anyhow::{Context, Result, anyhow, bail};
use tresor_crypto::SecretBytes;
use tresor_kmip::client::{
    BlockingKmipClient, Condition, Removal, SecretDescription, SecretsClient,
};
use tresor_kmip::vendor::read_names::ReadNamesAnswer;
use tresor_store::VersionInfo;
use tresor_store::secret_name::{APP, ENV, KEY, KMIP_APP};
use tresor_vault::filter::{Filter, FilterSet, validate_full_name};
use tresor_vault::reference::Reference;
use tresor_vault::{ImportReport, SecretInfo, VaultError, secret_name};

use crate::door::SecretsDoor;

mod items;
mod settings;

use items::{info, missing_reason, refusal, view};
pub use settings::RemoteSettings;

/// The most operations [`RemoteVault`] puts in one write request: `tresor kmip serve`'s
/// default `--max-batch-items`.
const MAX_ITEMS_PER_REQUEST: usize = 64;

/// A secret to write: a name (new) or uid (new version), and its value.
type Pending<'a> = (String, &'a [u8]);

/// A vault on a KMIP server.
pub struct RemoteVault {
    client: SecretsClient,
    server: String,
    /// Who owns each object described so far, and who the server says this client is:
    /// `uid -> (owner, caller)`.
    owners: RefCell<HashMap<String, (String, String)>>,
}

impl std::fmt::Debug for RemoteVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteVault")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl RemoteVault {
    /// Connects (lazily: the first request opens the TLS connection).
    ///
    /// # Errors
    /// Bad `--server`, missing or unreadable certificate files.
    pub fn connect(settings: &RemoteSettings) -> Result<RemoteVault> {
        let cfg = settings.client_config()?;
        let client = SecretsClient::new(BlockingKmipClient::new(cfg)?, settings.server.clone())
            .on_request(crate::door::count_read);
        Ok(RemoteVault {
            client,
            server: settings.server.clone(),
            owners: RefCell::new(HashMap::new()),
        })
    }

    /// The uid holding exactly `name`, if the identity may see it.
    fn by_names(&self, names: &[String]) -> Result<Vec<Option<String>>> {
        Ok(self.client.locate_names(names)?)
    }

    /// Describes `uids` (vendor Versions) and remembers who owns each.
    fn describe(&self, uids: &[String], version: Option<u32>) -> Result<Vec<SecretDescription>> {
        let out = self.client.describe(uids, version)?;
        if let Ok(mut o) = self.owners.try_borrow_mut() {
            for d in &out {
                if let (Some(owner), Some(caller)) = (&d.owner, &d.caller) {
                    o.insert(d.uid.clone(), (owner.clone(), caller.clone()));
                }
            }
        }
        Ok(out)
    }

    /// Says on stderr when a secret this command reads or writes belongs to another
    /// identity (shared with this one by a grant), so a value is never taken silently from
    /// an object someone else created under the name.
    fn note_foreign(&self, s: &SecretInfo) {
        if let Some((owner, caller)) = self.owners.borrow().get(&s.uid)
            && owner != caller
        {
            eprintln!(
                "note: '{}' on {} is owned by '{owner}', not by you ('{caller}')",
                s.name, self.server
            );
        }
    }

    /// The Locate conditions for a filter: its most selective literal part.
    fn conditions(f: &Filter) -> Vec<Condition> {
        let lit = f.literal_parts();
        if lit.app == Some(KMIP_APP) {
            return Vec::new();
        }
        match (lit.app, lit.env, lit.key) {
            (Some(a), Some(e), Some(k)) => vec![Condition::Name(secret_name(a, e, k))],
            (Some(a), Some(e), None) => vec![text_attr(APP, a), text_attr(ENV, e)],
            (_, _, Some(k)) => vec![text_attr(KEY, k)],
            (Some(a), _, _) => vec![text_attr(APP, a)],
            (_, Some(e), _) => vec![text_attr(ENV, e)],
            _ => Vec::new(),
        }
    }

    /// The answers of vendor Read Names for `entries` (`(name, version)`, 0: current), in
    /// order (see [`SecretsClient::read_names`]).
    fn read_names(&self, entries: &[(String, u32)]) -> Result<Vec<ReadNamesAnswer>> {
        Ok(self.client.read_names(entries)?)
    }

    /// [`RemoteVault::write`] for any number of secrets: one all-or-nothing message when
    /// its items fit [`MAX_ITEMS_PER_REQUEST`] (the server's default `--max-batch-items`),
    /// else several messages of at most that many items, each all-or-nothing on its own but
    /// not together: a failure leaves the earlier messages written, and says how many.
    fn write_in_requests(
        &self,
        new: &[(String, &[u8])],
        versions: &[(String, &[u8])],
    ) -> Result<()> {
        let items = new.len() * 2 + versions.len();
        if items <= MAX_ITEMS_PER_REQUEST {
            self.write(new, versions)?;
            return Ok(());
        }
        let per_new = MAX_ITEMS_PER_REQUEST / 2;
        let chunks: Vec<(&[Pending<'_>], &[Pending<'_>])> = new
            .chunks(per_new)
            .map(|c| (c, &[][..]))
            .chain(versions.chunks(MAX_ITEMS_PER_REQUEST).map(|c| (&[][..], c)))
            .collect();
        eprintln!(
            "note: writing {} secret(s) in {} requests of at most {MAX_ITEMS_PER_REQUEST} \
             operations (the server's default batch limit): each request is all-or-nothing, \
             the import as a whole is not",
            new.len() + versions.len(),
            chunks.len()
        );
        let mut done = 0;
        for (n, v) in &chunks {
            self.write(n, v).with_context(|| {
                format!(
                    "after {done} of {} secret(s) were written (the rest were not)",
                    new.len() + versions.len()
                )
            })?;
            done += n.len() + v.len();
        }
        Ok(())
    }

    /// Registers new secrets and stores new versions, in one all-or-nothing message.
    fn write(&self, new: &[(String, &[u8])], versions: &[(String, &[u8])]) -> Result<Vec<u32>> {
        Ok(self.client.write(new, versions)?)
    }
}

/// The condition "custom attribute `attr` is `value`" (the vault's `app`, `env`, `key`).
fn text_attr(attr: &str, value: &str) -> Condition {
    Condition::Text {
        name: attr.to_owned(),
        value: value.to_owned(),
    }
}

impl SecretsDoor for RemoteVault {
    fn get(&self, filter: &str) -> Result<SecretBytes> {
        let f = Filter::new(filter)?;
        let s = self.find_one(&f)?;
        self.value(&s)
    }

    fn list(&self, set: &FilterSet) -> Result<Vec<SecretInfo>> {
        let filters: Vec<Filter> = if set.is_empty() {
            vec![Filter::new("")?]
        } else {
            set.filters().to_vec()
        };
        let queries: Vec<Vec<Condition>> = filters.iter().map(Self::conditions).collect();
        let mut uids: Vec<String> = Vec::new();
        for found in self.client.locate(&queries)? {
            for u in found {
                if !uids.contains(&u) {
                    uids.push(u);
                }
            }
        }
        let mut out = Vec::new();
        for d in self.describe(&uids, None)? {
            if d.state.starts_with("Destroyed") {
                continue;
            }
            let Some((app, env, key)) = view(&d) else {
                continue;
            };
            if filters.iter().any(|f| f.is_match(&app, &env, &key)) {
                out.push(info(&d, app, env, key));
            }
        }
        out.sort_by(|a, b| (&a.app, &a.env, &a.key).cmp(&(&b.app, &b.env, &b.key)));
        Ok(out)
    }

    /// One Read Names item ([`tresor_kmip::vendor::read_names`]) in one request message for up to
    /// 4,000 references (more: one message per 4,000); the server answers it from one store
    /// read. A reference the identity may not see answers as a missing one.
    fn read_references(&self, refs: &[Reference]) -> Result<Vec<Option<SecretBytes>>> {
        let entries: Vec<(String, u32)> = refs
            .iter()
            .map(|r| (r.name(), r.version.unwrap_or(0)))
            .collect();
        let answers = self.read_names(&entries)?;
        let mut out = Vec::with_capacity(refs.len());
        for (r, a) in refs.iter().zip(answers) {
            match a {
                ReadNamesAnswer::Value { value, .. } => out.push(Some(value)),
                ReadNamesAnswer::Refused(reason) if missing_reason(reason) => out.push(None),
                ReadNamesAnswer::Refused(reason) => bail!(
                    "the server {} refused to read {r}: {}",
                    self.server,
                    refusal(reason)
                ),
            }
        }
        Ok(out)
    }

    fn value(&self, s: &SecretInfo) -> Result<SecretBytes> {
        self.note_foreign(s);
        self.client
            .get_value(&s.uid)?
            .ok_or_else(|| anyhow!("the server {} sent no value for '{}'", self.server, s.name))
    }

    fn add(
        &self,
        app: &str,
        env: &str,
        key: &str,
        value: &[u8],
        _kind: &str,
        force: bool,
    ) -> Result<u32> {
        validate_full_name(app, env, key)?;
        let name = secret_name(app, env, key);
        match self.by_names(std::slice::from_ref(&name))?.remove(0) {
            Some(uid) if force => {
                // Say so when the new version goes into someone else's object.
                for d in self.describe(std::slice::from_ref(&uid), None)? {
                    if let Some((a, e, k)) = view(&d) {
                        self.note_foreign(&info(&d, a, e, k));
                    }
                }
                Ok(self
                    .write(&[], &[(uid, value)])?
                    .first()
                    .copied()
                    .unwrap_or(0))
            }
            Some(_) => Err(VaultError::Exists(name).into()),
            None => {
                self.write(&[(name.clone(), value)], &[])?;
                Ok(1)
            }
        }
    }

    fn set_values(&self, targets: &[SecretInfo], value: &[u8]) -> Result<()> {
        targets.iter().for_each(|t| self.note_foreign(t));
        let v: Vec<(String, &[u8])> = targets.iter().map(|t| (t.uid.clone(), value)).collect();
        self.write(&[], &v)?;
        Ok(())
    }

    fn remove(&self, targets: &[SecretInfo]) -> Result<()> {
        targets.iter().for_each(|t| self.note_foreign(t));
        let removals: Vec<Removal<'_>> = targets
            .iter()
            .map(|t| Removal {
                uid: &t.uid,
                active: t.state == "Active",
            })
            .collect();
        self.client.remove(&removals)?;
        Ok(())
    }

    fn owner(&self, s: &SecretInfo) -> Option<String> {
        self.owners.borrow().get(&s.uid).map(|(o, _)| o.clone())
    }

    fn history(&self, s: &SecretInfo) -> Result<Vec<VersionInfo>> {
        let d = self.describe(std::slice::from_ref(&s.uid), None)?;
        Ok(d.into_iter().next().map(|d| d.versions).unwrap_or_default())
    }

    fn value_at(&self, s: &SecretInfo, version: u32) -> Result<SecretBytes> {
        let d = self.describe(std::slice::from_ref(&s.uid), Some(version))?;
        d.into_iter()
            .next()
            .and_then(|d| d.value)
            .ok_or_else(|| anyhow!("the server sent no value for {} v{version}", s.name))
    }

    fn rollback(&self, s: &SecretInfo, version: u32) -> Result<u32> {
        let old = self.value_at(s, version)?;
        Ok(self
            .write(&[], &[(s.uid.clone(), old.expose().as_slice())])?
            .first()
            .copied()
            .unwrap_or(0))
    }

    fn import_pairs(
        &self,
        app: &str,
        env: &str,
        pairs: &[(String, SecretBytes)],
        update: bool,
        dry_run: bool,
    ) -> Result<ImportReport> {
        tresor_vault::check_import(app, env, pairs)?;
        let names: Vec<String> = pairs
            .iter()
            .map(|(k, _)| secret_name(app, env, k))
            .collect();
        // Which names exist, with their current values: one Read Names request.
        let entries: Vec<(String, u32)> = names.iter().map(|n| (n.clone(), 0)).collect();
        let answers = self.read_names(&entries)?;
        let mut found: Vec<Option<(String, SecretBytes)>> = Vec::with_capacity(names.len());
        for (name, a) in names.iter().zip(answers) {
            match a {
                ReadNamesAnswer::Value { uid, value } => found.push(Some((uid, value))),
                ReadNamesAnswer::Refused(r) if missing_reason(r) => found.push(None),
                ReadNamesAnswer::Refused(r) => bail!(
                    "the server {} refused to read '{name}': {}",
                    self.server,
                    refusal(r)
                ),
            }
        }
        if let Some(i) = found.iter().position(Option::is_some)
            && !update
        {
            bail!(VaultError::Exists(names[i].clone()));
        }
        let mut report = ImportReport::default();
        let mut new: Vec<(String, &[u8])> = Vec::new();
        let mut versions: Vec<(String, &[u8])> = Vec::new();
        for ((name, f), (_, value)) in names.iter().zip(&found).zip(pairs) {
            match f {
                Some((u, old)) => {
                    if old == value {
                        report.unchanged.push(name.clone());
                    } else {
                        versions.push((u.clone(), value.expose().as_slice()));
                        report.updated.push(name.clone());
                    }
                }
                None => {
                    new.push((name.clone(), value.expose().as_slice()));
                    report.added.push(name.clone());
                }
            }
        }
        if !dry_run {
            self.write_in_requests(&new, &versions)?;
        }
        Ok(report)
    }
}
