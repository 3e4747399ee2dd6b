//! Offboarding: `tresor access-report NAME` (every secret NAME could read, and how) and
//! `tresor users rm NAME [--rotate]` (remove them, revoke their grants, rotate what has a
//! rotator, and print the rest as the rotation checklist).
//!
//! Where the vault knows NAME's access from:
//! - **exports**: `tresor export --to NAME` records one audit entry per exported secret
//!   (`export`, the secret's uid, `to NAME`) and one summary (`N secrets to NAME`); a summary
//!   without per-secret entries (an export made before tresor recorded them) is reported as
//!   an export whose secrets are not known;
//! - **ownership and grants** (a store shared with `tresor kmip serve`): objects NAME owns,
//!   and objects whose `tresor.grants` give NAME `get` or `all` now; past grants from the
//!   audit chain (`kmip grant NAME …` updates), since NAME could read while they held;
//! - **the audit chain**: entries whose actor is NAME (what NAME wrote through a server);
//! - **a KMIP server's audit log** (`--audit-log FILE`, `tresor kmip serve --audit-log`):
//!   successful reads by NAME.
//!
//! Other places NAME could read secrets from (sealed files, which `tresor seal` keeps outside
//! the vault) plug in through [`AccessSource`].

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::json;
use tresor_store::{ObjectMeta, Query};
use tresor_vault::{Vault, vault_view};

use crate::output;

/// The store attribute holding KMIP grants (`{"IDENTITY": "get,locate"}`).
const GRANTS_ATTR: &str = tresor_store::secret_name::GRANTS;

/// One way a user could read a secret.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Access {
    /// `export`, `owner`, `grant`, `past-grant`, `wrote`, `read` (server audit log), or a
    /// kind an [`AccessSource`] defines (e.g. `sealed-file recipient`).
    pub kind: String,
    /// When (Unix seconds), if known.
    pub when: Option<i64>,
    /// Details (never a value).
    pub detail: String,
}

/// A secret (or file) a user could read, with every way they could.
#[derive(Clone, Debug, Serialize)]
pub struct Reached {
    /// `APP:ENV:KEY` for a vault secret (or `uid` when it was removed since), or a path.
    pub name: String,
    /// The store uid, for a vault object.
    pub uid: Option<String>,
    /// Where it lives: `vault`, or the [`AccessSource::label`] that reported it (filled in
    /// when the source leaves it empty).
    pub source: String,
    /// Whether it still exists in the vault (a removed secret needs no rotation here, but its
    /// value may still be in use elsewhere).
    pub exists: bool,
    /// Every access found.
    pub accesses: Vec<Access>,
}

/// Another place a user's access is recorded (sealed files: `tresor seal` recipients).
pub trait AccessSource {
    /// What the source is (`sealed files`), for the report.
    fn label(&self) -> &str;
    /// What `user` could read there.
    ///
    /// # Errors
    /// The source cannot be read.
    fn reached(&self, user: &str) -> Result<Vec<Reached>>;
}

/// An export whose secrets were not recorded one by one.
#[derive(Clone, Debug, Serialize)]
pub struct UnknownExport {
    /// When.
    pub when: i64,
    /// The audit entry's detail (`N secrets to NAME`).
    pub detail: String,
}

/// Everything `user` could read.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The user (a vault user and/or a KMIP identity).
    pub user: String,
    /// What they could read, sorted by name.
    pub secrets: Vec<Reached>,
    /// Exports to them whose secrets are not known.
    pub unknown_exports: Vec<UnknownExport>,
}

/// The number of secrets in an export summary `N secrets to USER`, if it is one for `user`.
fn export_summary(detail: &str, user: &str) -> Option<usize> {
    detail
        .strip_suffix(&format!(" secrets to {user}"))?
        .parse()
        .ok()
}

/// Whether a grant string (`get,locate`) lets its holder read.
fn grant_reads(perms: &str) -> bool {
    perms.split(',').any(|p| matches!(p.trim(), "get" | "all"))
}

/// Builds the report for `user` from the vault, the KMIP audit logs given, and `extra`.
///
/// # Errors
/// Store errors; an unreadable audit log.
pub fn report(
    v: &Vault,
    user: &str,
    audit_logs: &[PathBuf],
    extra: &[&dyn AccessSource],
) -> Result<Report> {
    let store = v.store();
    let objects: Vec<ObjectMeta> = store.locate(&Query::default())?;
    let by_uid: BTreeMap<&str, &ObjectMeta> = objects.iter().map(|m| (m.uid.as_str(), m)).collect();
    let mut found: BTreeMap<String, Vec<Access>> = BTreeMap::new();
    let mut add = |uid: &str, a: Access| {
        let list = found.entry(uid.to_owned()).or_default();
        if !list.contains(&a) {
            list.push(a);
        }
    };
    // Now: ownership and grants.
    for m in &objects {
        if vault_view(m).is_none() {
            continue;
        }
        if m.owner == user {
            add(
                &m.uid,
                Access {
                    kind: "owner".into(),
                    when: Some(m.created),
                    detail: "owns the object on the KMIP server".into(),
                },
            );
        }
        if let Some(perms) = m
            .attributes
            .get(GRANTS_ATTR)
            .and_then(|g| g.get(user))
            .and_then(|p| p.as_str())
            && grant_reads(perms)
        {
            add(
                &m.uid,
                Access {
                    kind: "grant".into(),
                    when: None,
                    detail: format!("KMIP grant '{perms}' (current)"),
                },
            );
        }
    }
    // The audit chain: exports, past grants, what the user wrote.
    let mut unknown_exports = Vec::new();
    let mut per_secret_exports: Vec<u64> = Vec::new();
    let mut summaries: Vec<(u64, i64, usize, String)> = Vec::new();
    let grant_prefix = format!("kmip grant {user} ");
    let mut after = 0;
    loop {
        let page = store.audit(after, 10_000)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            match (e.action.as_str(), e.uid.as_deref()) {
                ("export", Some(uid)) if e.detail == format!("to {user}") => {
                    per_secret_exports.push(e.seq);
                    add(
                        uid,
                        Access {
                            kind: "export".into(),
                            when: Some(e.ts),
                            detail: format!("exported by {} (audit #{})", e.actor, e.seq),
                        },
                    );
                }
                ("export", None) => {
                    if let Some(n) = export_summary(&e.detail, user) {
                        summaries.push((e.seq, e.ts, n, e.detail.clone()));
                    }
                }
                (_, Some(uid)) if e.detail.starts_with(&grant_prefix) => {
                    let perms = &e.detail[grant_prefix.len()..];
                    if grant_reads(perms) {
                        add(
                            uid,
                            Access {
                                kind: "past-grant".into(),
                                when: Some(e.ts),
                                detail: format!(
                                    "granted '{perms}' by {} (audit #{})",
                                    e.actor, e.seq
                                ),
                            },
                        );
                    }
                }
                (action, Some(uid)) if e.actor == user => add(
                    uid,
                    Access {
                        kind: "wrote".into(),
                        when: Some(e.ts),
                        detail: format!("{action} (audit #{})", e.seq),
                    },
                ),
                _ => {}
            }
        }
    }
    for (seq, ts, n, detail) in summaries {
        // The per-secret entries of an export come right before its summary.
        let covered = (seq.saturating_sub(n as u64)..seq)
            .filter(|s| per_secret_exports.contains(s))
            .count();
        if covered < n {
            unknown_exports.push(UnknownExport { when: ts, detail });
        }
    }
    // A KMIP server's audit log: successful reads by the user.
    for path in audit_logs {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the audit log '{}'", path.display()))?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let l: serde_json::Value = serde_json::from_str(line).with_context(|| {
                format!(
                    "{}:{}: not a JSON line of 'tresor kmip serve --audit-log'",
                    path.display(),
                    i + 1
                )
            })?;
            let s = |k: &str| l.get(k).and_then(|x| x.as_str());
            if s("identity") == Some(user)
                && s("kind") == Some("read")
                && s("result") == Some("success")
                && let Some(uid) = s("uid")
            {
                add(
                    uid,
                    Access {
                        kind: "read".into(),
                        when: None,
                        detail: format!(
                            "{} at {} ({}:{})",
                            s("op").unwrap_or("read"),
                            s("time").unwrap_or("?"),
                            path.display(),
                            i + 1
                        ),
                    },
                );
            }
        }
    }
    let mut secrets: Vec<Reached> = Vec::new();
    for (uid, accesses) in found {
        match by_uid.get(uid.as_str()) {
            Some(m) => {
                let Some((app, env, key)) = vault_view(m) else {
                    continue;
                };
                secrets.push(Reached {
                    name: tresor_vault::secret_name(&app, &env, &key),
                    uid: Some(uid),
                    source: "vault".into(),
                    exists: !m.state.is_destroyed(),
                    accesses,
                });
            }
            None => secrets.push(Reached {
                name: format!("{uid} (removed from the vault)"),
                uid: Some(uid),
                source: "vault".into(),
                exists: false,
                accesses,
            }),
        }
    }
    for src in extra {
        for mut r in src.reached(user)? {
            if r.source.is_empty() {
                r.source = src.label().to_owned();
            }
            secrets.push(r);
        }
    }
    secrets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Report {
        user: user.to_owned(),
        secrets,
        unknown_exports,
    })
}

fn date(ts: Option<i64>) -> String {
    ts.map(output::date).unwrap_or_else(|| "-".into())
}

/// `tresor access-report NAME [--audit-log FILE]... [--json]`.
pub fn access_report(
    v: &Vault,
    user: &str,
    audit_logs: &[PathBuf],
    json_out: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let r = report(v, user, audit_logs, &[])?;
    if json_out {
        output::json(out, &serde_json::to_value(&r)?)?;
    } else {
        print_report(out, &r)?;
    }
    Ok(if r.secrets.is_empty() && r.unknown_exports.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_report(out: &mut dyn Write, r: &Report) -> Result<()> {
    let rows: Vec<Vec<String>> = r
        .secrets
        .iter()
        .map(|s| {
            let kinds: Vec<&str> = {
                let mut k: Vec<&str> = s.accesses.iter().map(|a| a.kind.as_str()).collect();
                k.dedup();
                k
            };
            let first = s.accesses.iter().filter_map(|a| a.when).min();
            vec![s.name.clone(), kinds.join(","), date(first)]
        })
        .collect();
    output::table(out, &["SECRET", "ACCESS", "SINCE"], &rows)?;
    for u in &r.unknown_exports {
        writeln!(
            out,
            "warning: export '{}' on {}: its secrets were not recorded one by one; check what was exported then",
            u.detail,
            date(Some(u.when))
        )?;
    }
    Ok(())
}

/// `tresor users rm NAME [--rotate] [--yes] [--audit-log FILE]... [--json]`: removes the
/// user (when the vault knows them), revokes their KMIP grants, and — with `--rotate` —
/// rotates every secret they could read that has a rotator; prints the rest as the
/// rotation checklist.
#[allow(clippy::too_many_arguments)] // one per command-line option
pub fn users_rm(
    v: &Vault,
    user: &str,
    rotate: bool,
    yes: bool,
    audit_logs: &[PathBuf],
    json_out: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    if user == v.config().user {
        bail!(tresor_vault::VaultError::Refused(
            "the vault owner cannot be removed".into()
        ));
    }
    let known = v.user(user).is_ok();
    let r = report(v, user, audit_logs, &[])?;
    if !known && r.secrets.is_empty() && r.unknown_exports.is_empty() {
        bail!(tresor_vault::VaultError::UnknownUser(user.to_owned()));
    }
    let what = if rotate {
        format!(
            "remove user '{user}', revoke their grants and rotate {} secret(s) with a rotator?",
            r.secrets.len()
        )
    } else {
        format!("remove user '{user}' and revoke their grants?")
    };
    if !yes && !crate::input::confirm_removal(&what)? {
        return Ok(ExitCode::from(1));
    }
    if known {
        v.remove_user(user)?;
    }
    // Revoke current grants, as `tresor kmip grant UID NAME none` does.
    let mut revoked = Vec::new();
    for s in &r.secrets {
        if !s.accesses.iter().any(|a| a.kind == "grant") {
            continue;
        }
        let Some(uid) = &s.uid else { continue };
        v.store().write(|tx| {
            tx.update(uid, &format!("kmip grant {user} none"), |m| {
                if let Some(o) = m
                    .attributes
                    .get_mut(GRANTS_ATTR)
                    .and_then(|g| g.as_object_mut())
                {
                    o.remove(user);
                }
                Ok(())
            })
        })?;
        revoked.push(s.name.clone());
    }
    let rotators: Vec<String> = if rotate {
        crate::rotate_cmd::rotations(v)?
            .list()
            .map_err(anyhow::Error::from)?
            .into_iter()
            .map(|e| e.name)
            .collect()
    } else {
        Vec::new()
    };
    let mut rows = Vec::new();
    let mut failed = 0;
    for s in &r.secrets {
        let status = if !s.exists {
            "removed from the vault: rotate wherever the value is still used".to_owned()
        } else if rotate && rotators.contains(&s.name) {
            match crate::rotate_cmd::rotations(v)?.rotate(&s.name) {
                Ok(o) => format!("rotated v{} -> v{}", o.from_version, o.to_version),
                Err(e) => {
                    failed += 1;
                    format!("rotation FAILED: {e}")
                }
            }
        } else {
            "rotate by hand (no rotator: 'tresor rotator set' to automate)".to_owned()
        };
        rows.push((s, status));
    }
    if json_out {
        let secrets: Vec<serde_json::Value> = rows
            .iter()
            .map(|(s, st)| json!({"name": s.name, "uid": s.uid, "accesses": s.accesses, "status": st}))
            .collect();
        output::json(
            out,
            &json!({
                "user": user,
                "removed": known,
                "revoked_grants": revoked,
                "secrets": secrets,
                "unknown_exports": r.unknown_exports,
            }),
        )?;
    } else {
        if known {
            writeln!(out, "removed user '{user}'")?;
        }
        for n in &revoked {
            writeln!(out, "revoked {user}'s grant on {n}")?;
        }
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|(s, st)| {
                let mut k: Vec<&str> = s.accesses.iter().map(|a| a.kind.as_str()).collect();
                k.dedup();
                vec![s.name.clone(), k.join(","), st.clone()]
            })
            .collect();
        output::table(out, &["SECRET", "ACCESS", "ROTATION"], &table)?;
        for u in &r.unknown_exports {
            writeln!(
                out,
                "warning: export '{}' on {}: its secrets were not recorded; rotate what it held",
                u.detail,
                date(Some(u.when))
            )?;
        }
        eprintln!(
            "note: {user} keeps every value they read or were exported; only rotation makes those copies useless"
        );
    }
    Ok(if failed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The audit logs named on the command line, checked to exist.
pub fn audit_logs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    for p in paths {
        if !Path::new(p).is_file() {
            bail!("audit log '{}' is not a file", p.display());
        }
    }
    Ok(paths.to_vec())
}
