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
//! Every multi-object write is one request message, which the server runs in one store
//! transaction (Undo on the first failure), so `importenv` and `rm` stay all-or-nothing.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use tresor_crypto::SecretBytes;
use tresor_kmip::attributes::Attribute;
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{
    BatchErrorContinuationOption, NameType, ObjectType, Operation, ResultReason, ResultStatus,
    RevocationReasonCode, SecretDataType, State,
};
use tresor_kmip::message::{RequestBatchItem, RequestHeader, ResponseBatchItem};
use tresor_kmip::vendor;
use tresor_kmip::{ProtocolVersion, RequestMessage, Tag, Ttlv, Value};
use tresor_store::VersionInfo;
use tresor_vault::filter::{Filter, FilterSet, validate_full_name};
use tresor_vault::reference::Reference;
use tresor_vault::{ImportReport, SecretInfo, VaultError, secret_name};

use crate::door::SecretsDoor;

/// Where the remote vault is and how to authenticate.
#[derive(Debug, Clone, Default)]
pub struct RemoteSettings {
    /// `HOST:PORT` (port 5696 when absent).
    pub server: String,
    /// Client certificate (PEM).
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    pub key: Option<PathBuf>,
    /// CA of the server (PEM).
    pub ca: Option<PathBuf>,
    /// A PyKMIP-style `pykmip.conf` whose `[client]` section fills what the flags leave out.
    pub config: Option<PathBuf>,
}

impl RemoteSettings {
    fn client_config(&self) -> Result<ClientConfig> {
        let (host, port) = match self.server.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_matches(['[', ']']).to_owned(),
                p.parse::<u16>().map_err(|_| {
                    anyhow!(
                        "--server '{}': '{p}' is not a port number (HOST:PORT)",
                        self.server
                    )
                })?,
            ),
            None => (self.server.clone(), tresor_kmip::client::DEFAULT_PORT),
        };
        if host.is_empty() {
            bail!("--server '{}' names no host (HOST:PORT)", self.server);
        }
        let mut cfg = match &self.config {
            Some(p) => ClientConfig::from_pykmip_conf(p, "client")
                .with_context(|| format!("client settings in '{}'", p.display()))?,
            None => {
                let missing: Vec<&str> = [
                    ("--cert", self.cert.is_none()),
                    ("--key", self.key.is_none()),
                    ("--ca", self.ca.is_none()),
                ]
                .into_iter()
                .filter(|(_, m)| *m)
                .map(|(f, _)| f)
                .collect();
                if !missing.is_empty() {
                    bail!(VaultError::Refused(format!(
                        "--server needs a client certificate: {} missing (flags, \
                         TRESOR_CLIENT_CERT/KEY/CA, or a [client] section with certfile, keyfile \
                         and ca_certs in VAULT/client.conf)",
                        missing.join(", ")
                    )));
                }
                ClientConfig::new(host.clone(), PathBuf::new(), PathBuf::new(), PathBuf::new())
            }
        };
        cfg.host = host;
        cfg.port = port;
        if let Some(p) = &self.cert {
            cfg.certfile = p.clone();
        }
        if let Some(p) = &self.key {
            cfg.keyfile = p.clone();
        }
        if let Some(p) = &self.ca {
            cfg.ca_certs = p.clone();
        }
        cfg.protocol_version = ProtocolVersion::V1_4;
        Ok(cfg)
    }

    /// The `client.conf` of a vault folder, if it exists.
    pub fn config_in(dir: &Path) -> Option<PathBuf> {
        let p = dir.join("client.conf");
        p.is_file().then_some(p)
    }
}

/// A vault on a KMIP server.
pub struct RemoteVault {
    rt: tokio::runtime::Runtime,
    client: KmipClient,
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

/// What the server says about one object (vendor Versions).
struct Described {
    uid: String,
    name: Option<String>,
    kind: Option<String>,
    owner: Option<String>,
    caller: Option<String>,
    object_type: String,
    state: String,
    updated: i64,
    version: u32,
    versions: Vec<VersionInfo>,
    value: Option<SecretBytes>,
}

fn uid_item(uid: &str) -> Ttlv {
    Ttlv::text(Tag::UNIQUE_IDENTIFIER, uid.to_owned())
}

fn secret_data(value: &[u8]) -> Ttlv {
    Ttlv::structure(
        Tag::SECRET_DATA,
        vec![
            Ttlv::enumeration(Tag::SECRET_DATA_TYPE, SecretDataType::PASSWORD),
            Ttlv::structure(
                Tag::KEY_BLOCK,
                vec![
                    Ttlv::enumeration(
                        Tag::KEY_FORMAT_TYPE,
                        tresor_kmip::enums::KeyFormatType::OPAQUE,
                    ),
                    Ttlv::structure(
                        Tag::KEY_VALUE,
                        vec![Ttlv::bytes(Tag::KEY_MATERIAL, value.to_vec())],
                    ),
                ],
            ),
        ],
    )
}

fn name_attr(name: &str) -> Ttlv {
    Attribute::name(name, NameType::UNINTERPRETED_TEXT_STRING).to_v1()
}

fn text_attr(attr: &str, value: &str) -> Ttlv {
    Attribute {
        name: tresor_kmip::AttributeName::Custom {
            vendor: None,
            name: attr.to_owned(),
        },
        index: None,
        value: Value::TextString(value.to_owned()),
    }
    .to_v1()
}

/// The key material (or vendor value) bytes of a response.
fn material_of(item: &ResponseBatchItem) -> Option<SecretBytes> {
    fn walk(t: &Ttlv) -> Option<&[u8]> {
        if t.tag == Tag::KEY_MATERIAL
            && let Some(b) = t.as_bytes()
        {
            return Some(b);
        }
        t.items().iter().find_map(walk)
    }
    item.payload_items()
        .iter()
        .find_map(walk)
        .map(|b| SecretBytes::new(b.to_vec()))
}

/// Hides tresor's own objects; names every other object as the local vault does.
fn view(d: &Described) -> Option<(String, String, String)> {
    let name = d.name.as_deref().unwrap_or(&d.uid);
    if name.starts_with("tresor:") || name.starts_with("tresor-key:") {
        return None;
    }
    let parts: Vec<&str> = name.split(':').collect();
    if let [a, e, k] = parts.as_slice()
        && validate_full_name(a, e, k).is_ok()
    {
        return Some(((*a).into(), (*e).into(), (*k).into()));
    }
    Some((
        "kmip".into(),
        d.object_type.to_ascii_lowercase(),
        name.replace(':', "_"),
    ))
}

fn info(d: &Described, app: String, env: String, key: String) -> SecretInfo {
    SecretInfo {
        uid: d.uid.clone(),
        name: d.name.clone().unwrap_or_else(|| d.uid.clone()),
        app,
        env,
        key,
        kind: d.kind.clone().unwrap_or_else(|| {
            if d.object_type == "SecretData" {
                "str".into()
            } else {
                "key".into()
            }
        }),
        object_type: d.object_type.clone(),
        state: d.state.clone(),
        version: d.version,
        updated: d.updated,
    }
}

impl RemoteVault {
    /// Connects (lazily: the first request opens the TLS connection).
    ///
    /// # Errors
    /// Bad `--server`, missing or unreadable certificate files.
    pub fn connect(settings: &RemoteSettings) -> Result<RemoteVault> {
        let cfg = settings.client_config()?;
        let client = KmipClient::new(cfg)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        Ok(RemoteVault {
            rt,
            client,
            server: settings.server.clone(),
            owners: RefCell::new(HashMap::new()),
        })
    }

    /// Sends one request message; every item must succeed (with `undo`, a failure rolls the
    /// whole message back on the server).
    fn batch(&self, items: Vec<RequestBatchItem>, undo: bool) -> Result<Vec<ResponseBatchItem>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let n = items.len();
        let mut header = RequestHeader::new(ProtocolVersion::V1_4, i32::try_from(n)?);
        if undo {
            header.batch_error_continuation_option = Some(BatchErrorContinuationOption::UNDO);
        }
        let msg = RequestMessage {
            header,
            batch_items: items,
        };
        let ops: Vec<Operation> = msg.batch_items.iter().map(|i| i.operation).collect();
        crate::door::count_read();
        let resp = self
            .rt
            .block_on(self.client.request(&msg))
            .with_context(|| format!("KMIP server {}", self.server))?;
        for (i, item) in resp.batch_items.iter().enumerate() {
            if item.result_status != ResultStatus::SUCCESS
                && item.result_status != ResultStatus::OPERATION_UNDONE
            {
                let reason = item.result_reason.unwrap_or(ResultReason::GENERAL_FAILURE);
                let msg = item.result_message.clone().unwrap_or_default();
                let op = ops.get(i).copied().unwrap_or(Operation::LOCATE);
                let op_name = match op {
                    vendor::ADD_VERSION => "add version".to_owned(),
                    vendor::VERSIONS => "versions".to_owned(),
                    vendor::PURGE => "purge".to_owned(),
                    o => o.name().unwrap_or("operation").to_owned(),
                };
                bail!(
                    "the server {} refused {op_name}: {msg} ({})",
                    self.server,
                    reason.name().unwrap_or("error")
                );
            }
        }
        if resp.batch_items.len() != n {
            bail!(
                "the server {} answered {} of {n} operations",
                self.server,
                resp.batch_items.len()
            );
        }
        Ok(resp.batch_items)
    }

    fn one(&self, op: Operation, payload: Vec<Ttlv>) -> Result<ResponseBatchItem> {
        let mut r = self.batch(vec![RequestBatchItem::new(op, payload)], false)?;
        Ok(r.remove(0))
    }

    fn uids(item: &ResponseBatchItem) -> Vec<String> {
        item.payload_items()
            .iter()
            .filter(|t| t.tag == Tag::UNIQUE_IDENTIFIER)
            .filter_map(|t| t.as_text().map(str::to_owned))
            .collect()
    }

    /// The uid holding exactly `name`, if the identity may see it.
    fn by_names(&self, names: &[String]) -> Result<Vec<Option<String>>> {
        let items = names
            .iter()
            .map(|n| RequestBatchItem::new(Operation::LOCATE, vec![name_attr(n)]))
            .collect();
        Ok(self
            .batch(items, false)?
            .iter()
            .map(|r| Self::uids(r).into_iter().next())
            .collect())
    }

    fn describe(&self, uids: &[String], version: Option<u32>) -> Result<Vec<Described>> {
        let items = uids
            .iter()
            .map(|u| {
                let mut p = vec![uid_item(u)];
                if let Some(v) = version {
                    p.push(Ttlv::integer(
                        vendor::VERSION,
                        i32::try_from(v).unwrap_or(0),
                    ));
                }
                RequestBatchItem::new(vendor::VERSIONS, p)
            })
            .collect();
        let mut out = Vec::with_capacity(uids.len());
        for (u, r) in uids.iter().zip(self.batch(items, false)?) {
            let p = r.payload_items();
            let find = |t: Tag| p.iter().find(|x| x.tag == t);
            let text = |t: Tag| find(t).and_then(Ttlv::as_text).map(str::to_owned);
            let ot = find(Tag::OBJECT_TYPE)
                .and_then(Ttlv::as_enumeration)
                .and_then(|e| ObjectType::DEF.name_of(e))
                .unwrap_or("Unknown");
            let st = find(Tag::STATE)
                .and_then(Ttlv::as_enumeration)
                .and_then(|e| State::DEF.name_of(e))
                .unwrap_or("Unknown");
            let versions = p
                .iter()
                .filter(|t| t.tag == vendor::VERSION_INFO)
                .map(|t| VersionInfo {
                    version: t
                        .find(vendor::VERSION)
                        .and_then(Ttlv::as_integer)
                        .and_then(|v| u32::try_from(v).ok())
                        .unwrap_or(0),
                    created: t
                        .find(vendor::CREATED)
                        .and_then(Ttlv::as_date_time)
                        .unwrap_or(0),
                    created_by: t
                        .find(vendor::CREATED_BY)
                        .and_then(Ttlv::as_text)
                        .unwrap_or_default()
                        .to_owned(),
                    destroyed: t
                        .find(vendor::DESTROYED)
                        .and_then(Ttlv::as_bool)
                        .unwrap_or(false),
                })
                .collect();
            out.push(Described {
                uid: u.clone(),
                name: text(vendor::NAME),
                kind: text(vendor::KIND),
                owner: text(vendor::OWNER),
                caller: text(vendor::CALLER),
                object_type: ot.to_owned(),
                state: st.to_owned(),
                updated: find(Tag::LAST_CHANGE_DATE)
                    .and_then(Ttlv::as_date_time)
                    .unwrap_or(0),
                version: find(vendor::VERSION)
                    .and_then(Ttlv::as_integer)
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(0),
                versions,
                value: find(vendor::VALUE)
                    .and_then(Ttlv::as_bytes)
                    .map(|b| SecretBytes::new(b.to_vec())),
            });
        }
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
    fn conditions(f: &Filter) -> Vec<Ttlv> {
        let lit = f.literal_parts();
        if lit.app == Some("kmip") {
            return Vec::new();
        }
        match (lit.app, lit.env, lit.key) {
            (Some(a), Some(e), Some(k)) => vec![name_attr(&secret_name(a, e, k))],
            (Some(a), Some(e), None) => vec![text_attr("app", a), text_attr("env", e)],
            (_, _, Some(k)) => vec![text_attr("key", k)],
            (Some(a), _, _) => vec![text_attr("app", a)],
            (_, Some(e), _) => vec![text_attr("env", e)],
            _ => Vec::new(),
        }
    }

    /// Registers new secrets and stores new versions, in one all-or-nothing message.
    fn write(&self, new: &[(String, &[u8])], versions: &[(String, &[u8])]) -> Result<Vec<u32>> {
        let now = tresor_store::now();
        let mut items = Vec::new();
        for (name, value) in new {
            items.push(RequestBatchItem::new(
                Operation::REGISTER,
                vec![
                    Ttlv::enumeration(Tag::OBJECT_TYPE, ObjectType::SECRET_DATA),
                    Ttlv::structure(
                        Tag::TEMPLATE_ATTRIBUTE,
                        vec![
                            name_attr(name),
                            Attribute::standard(Tag::ACTIVATION_DATE, Value::DateTime(now)).to_v1(),
                        ],
                    ),
                    secret_data(value),
                ],
            ));
            // Fails (and so undoes the Register) unless the new object holds the name: it
            // may belong to an object this identity cannot see.
            items.push(RequestBatchItem::new(
                vendor::VERSIONS,
                vec![Ttlv::text(vendor::NAME, name.clone())],
            ));
        }
        for (uid, value) in versions {
            items.push(RequestBatchItem::new(
                vendor::ADD_VERSION,
                vec![uid_item(uid), secret_data(value)],
            ));
        }
        let r = self.batch(items, true)?;
        Ok(r.iter()
            .filter(|i| i.operation == Some(vendor::ADD_VERSION))
            .map(|i| {
                i.payload_items()
                    .iter()
                    .find(|t| t.tag == vendor::VERSION)
                    .and_then(Ttlv::as_integer)
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(0)
            })
            .collect())
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
        let items = filters
            .iter()
            .map(|f| RequestBatchItem::new(Operation::LOCATE, Self::conditions(f)))
            .collect();
        let mut uids: Vec<String> = Vec::new();
        for r in self.batch(items, false)? {
            for u in Self::uids(&r) {
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

    /// One request message (batch option Continue, so each reference gets its own answer):
    /// per reference, Locate by its exact name, then the vendor Versions of the located
    /// object (ID placeholder) with the version wanted (0: current) and the name again —
    /// which fails if the Locate found nothing and the placeholder is an earlier object's.
    /// The server answers the whole message from one store transaction.
    fn read_references(&self, refs: &[Reference]) -> Result<Vec<Option<SecretBytes>>> {
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        let mut items = Vec::with_capacity(refs.len() * 2);
        for r in refs {
            let name = r.name();
            items.push(RequestBatchItem::new(
                Operation::LOCATE,
                vec![name_attr(&name)],
            ));
            items.push(RequestBatchItem::new(
                vendor::VERSIONS,
                vec![
                    Ttlv::text(vendor::NAME, name),
                    Ttlv::integer(
                        vendor::VERSION,
                        i32::try_from(r.version.unwrap_or(0)).unwrap_or(i32::MAX),
                    ),
                ],
            ));
        }
        let n = items.len();
        let mut header = RequestHeader::new(ProtocolVersion::V1_4, i32::try_from(n)?);
        header.batch_error_continuation_option = Some(BatchErrorContinuationOption::CONTINUE);
        let msg = RequestMessage {
            header,
            batch_items: items,
        };
        crate::door::count_read();
        let resp = self
            .rt
            .block_on(self.client.request(&msg))
            .with_context(|| format!("KMIP server {}", self.server))?;
        if let [only] = resp.batch_items.as_slice()
            && n > 1
            && only.result_status != ResultStatus::SUCCESS
        {
            bail!(
                "the server {} refused to read {} references in one request: {} (each takes 2 batch items; raise the server's --max-batch-items)",
                self.server,
                refs.len(),
                only.result_message.clone().unwrap_or_default()
            );
        }
        if resp.batch_items.len() != n {
            bail!(
                "the server {} answered {} of {n} operations",
                self.server,
                resp.batch_items.len()
            );
        }
        let mut out = Vec::with_capacity(refs.len());
        for (r, pair) in refs.iter().zip(resp.batch_items.chunks(2)) {
            let [located, described] = pair else {
                bail!("the server {} answered an odd number of items", self.server);
            };
            let found =
                located.result_status == ResultStatus::SUCCESS && !Self::uids(located).is_empty();
            if !found {
                out.push(None);
                continue;
            }
            if described.result_status != ResultStatus::SUCCESS {
                let reason = described
                    .result_reason
                    .unwrap_or(ResultReason::GENERAL_FAILURE);
                // A version that does not exist (or was destroyed) is a missing reference.
                if reason == ResultReason::ITEM_NOT_FOUND
                    || reason == ResultReason::KEY_VALUE_NOT_PRESENT
                {
                    out.push(None);
                    continue;
                }
                bail!(
                    "the server {} refused to read {}: {} ({})",
                    self.server,
                    r,
                    described.result_message.clone().unwrap_or_default(),
                    reason.name().unwrap_or("error")
                );
            }
            let value = described
                .payload_items()
                .iter()
                .find(|t| t.tag == vendor::VALUE)
                .and_then(Ttlv::as_bytes)
                .map(|b| SecretBytes::new(b.to_vec()));
            out.push(value);
        }
        Ok(out)
    }

    fn value(&self, s: &SecretInfo) -> Result<SecretBytes> {
        self.note_foreign(s);
        let r = self.one(Operation::GET, vec![uid_item(&s.uid)])?;
        material_of(&r)
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
        let mut items = Vec::new();
        for t in targets {
            if t.state == "Active" {
                items.push(RequestBatchItem::new(
                    Operation::REVOKE,
                    vec![
                        uid_item(&t.uid),
                        Ttlv::structure(
                            Tag::REVOCATION_REASON,
                            vec![Ttlv::enumeration(
                                Tag::REVOCATION_REASON_CODE,
                                RevocationReasonCode::CESSATION_OF_OPERATION,
                            )],
                        ),
                    ],
                ));
            }
            items.push(RequestBatchItem::new(
                Operation::DESTROY,
                vec![uid_item(&t.uid)],
            ));
            items.push(RequestBatchItem::new(vendor::PURGE, vec![uid_item(&t.uid)]));
        }
        self.batch(items, true)?;
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
        let found = self.by_names(&names)?;
        let existing: Vec<String> = found.iter().flatten().cloned().collect();
        if let Some(i) = found.iter().position(Option::is_some)
            && !update
        {
            bail!(VaultError::Exists(names[i].clone()));
        }
        let current: Vec<ResponseBatchItem> = self.batch(
            existing
                .iter()
                .map(|u| RequestBatchItem::new(Operation::GET, vec![uid_item(u)]))
                .collect(),
            false,
        )?;
        let mut current = current.iter();
        let mut report = ImportReport::default();
        let mut new: Vec<(String, &[u8])> = Vec::new();
        let mut versions: Vec<(String, &[u8])> = Vec::new();
        for ((name, uid), (_, value)) in names.iter().zip(&found).zip(pairs) {
            match uid {
                Some(u) => {
                    let old = current.next().and_then(material_of);
                    if old.as_ref() == Some(value) {
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
            self.write(&new, &versions)?;
        }
        Ok(report)
    }
}
