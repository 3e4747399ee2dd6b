//! `tresor kmip import-policy POLICY.json`: PyKMIP's JSON operation policies onto tresor's
//! owners and grants, so that a PyKMIP server's deployment moves with its rules.
//!
//! A PyKMIP policy file maps policy names to rules per object type and operation:
//!
//! ```json
//! {"team": {"preset": {"SYMMETRIC_KEY": {"GET": "ALLOW_ALL", "DESTROY": "ALLOW_OWNER"}},
//!           "groups": {"auditors": {"SYMMETRIC_KEY": {"GET_ATTRIBUTES": "ALLOW_ALL"}}}}}
//! ```
//!
//! (the older form without `preset`/`groups` is the `preset` itself). Each object names its
//! policy with the `Operation Policy Name` attribute (PyKMIP's `operation_policy_name`,
//! `default` when absent). tresor's model: the owner and the admins may do everything, others
//! need a per-object grant of `get`, `locate`, `use`, `modify` or `destroy`. The mapping:
//!
//! - `ALLOW_ALL` in `preset`: a grant to every identity of `--identities` (tresor has no
//!   grant to "anyone": the identities are named); in `groups.G`: to the identities of
//!   `--group G=ID,ID`.
//! - `ALLOW_OWNER`: nothing to grant (the owner may already).
//! - `DISALLOW_ALL`: nothing granted; reported, as tresor's owner and admins keep every right.
//! - Operations → permissions: Get, Get Attributes, Get Attribute List, Check → `get`;
//!   Locate → `locate`; Encrypt, Decrypt, Sign, Signature Verify, MAC, MAC Verify, Derive
//!   Key → `use`; Activate, Revoke, Add/Modify/Delete/Set Attribute, Re-Key → `modify`;
//!   Destroy → `destroy`. Create, Register, Query... are not about one object: ignored.
//!
//! Grants are added to the ones an object has (never removed). A local command on the store
//! (the server's owner), like `tresor kmip grant`; `--dry-run` only prints.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use serde_json::{Value as Json, json};
use tresor_store::{ObjectMeta, ObjectType, Query};

use super::args::OpenStore;
use super::usage;
use tresor_kmip::KmipError;
use tresor_kmip::ops::GRANTS_ATTR;

/// The store attribute holding an object's PyKMIP operation policy name.
pub const POLICY_ATTR: &str = "Operation Policy Name";

/// PyKMIP's policy for objects without an Operation Policy Name.
pub const DEFAULT_POLICY: &str = "default";

/// One grant to add: object, identity, permissions, and the policy it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedGrant {
    /// The object's unique identifier.
    pub uid: String,
    /// Who gets the grant.
    pub identity: String,
    /// tresor permissions (sorted).
    pub perms: Vec<String>,
    /// The PyKMIP policy name that gave it.
    pub policy: String,
}

/// What an import would do: the grants, and what could not be carried over.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Grants to add.
    pub grants: Vec<PlannedGrant>,
    /// Notes: policies the file lacks, DISALLOW_ALL rules tresor's owner model overrides,
    /// groups without identities.
    pub notes: Vec<String>,
}

/// The tresor permission a PyKMIP operation name maps to (`None`: not an object operation).
pub fn permission_of(operation: &str) -> Option<&'static str> {
    Some(match operation {
        "GET" | "GET_ATTRIBUTES" | "GET_ATTRIBUTE_LIST" | "CHECK" => "get",
        "LOCATE" => "locate",
        "ENCRYPT" | "DECRYPT" | "SIGN" | "SIGNATURE_VERIFY" | "MAC" | "MAC_VERIFY"
        | "DERIVE_KEY" => "use",
        "ACTIVATE" | "REVOKE" | "ADD_ATTRIBUTE" | "MODIFY_ATTRIBUTE" | "DELETE_ATTRIBUTE"
        | "SET_ATTRIBUTE" | "REKEY" | "RE_KEY" => "modify",
        "DESTROY" => "destroy",
        _ => return None,
    })
}

/// PyKMIP's object type name of a store object type.
fn pykmip_type(t: ObjectType) -> &'static str {
    match t {
        ObjectType::SymmetricKey => "SYMMETRIC_KEY",
        ObjectType::PublicKey => "PUBLIC_KEY",
        ObjectType::PrivateKey => "PRIVATE_KEY",
        ObjectType::Certificate => "CERTIFICATE",
        ObjectType::OpaqueObject => "OPAQUE_DATA",
        _ => "SECRET_DATA",
    }
}

/// Checks a policy file's shape: an object of policies, each an object of object types (or
/// `preset`/`groups`), each an object of operation → `ALLOW_ALL|ALLOW_OWNER|DISALLOW_ALL`.
///
/// # Errors
/// A message naming the first thing wrong (policy, type, operation or value).
pub fn check(policies: &Json) -> Result<(), String> {
    let Some(map) = policies.as_object() else {
        return Err("the policy file must be a JSON object of policy names".into());
    };
    let check_types = |where_: &str, types: &Json| -> Result<(), String> {
        let t = types
            .as_object()
            .ok_or_else(|| format!("{where_} must be an object of object types"))?;
        for (ty, ops) in t {
            let ops = ops
                .as_object()
                .ok_or_else(|| format!("{where_}.{ty} must be an object of operations"))?;
            for (op, rule) in ops {
                match rule.as_str() {
                    Some("ALLOW_ALL" | "ALLOW_OWNER" | "DISALLOW_ALL") => {}
                    _ => {
                        return Err(format!(
                            "{where_}.{ty}.{op} is {rule}, not ALLOW_ALL, ALLOW_OWNER or \
                             DISALLOW_ALL"
                        ));
                    }
                }
            }
        }
        Ok(())
    };
    for (name, body) in map {
        let b = body
            .as_object()
            .ok_or_else(|| format!("policy '{name}' must be an object"))?;
        if b.contains_key("preset") || b.contains_key("groups") {
            if let Some(p) = b.get("preset") {
                check_types(&format!("{name}.preset"), p)?;
            }
            if let Some(g) = b.get("groups") {
                let g = g
                    .as_object()
                    .ok_or_else(|| format!("{name}.groups must be an object of groups"))?;
                for (gname, types) in g {
                    check_types(&format!("{name}.groups.{gname}"), types)?;
                }
            }
        } else {
            check_types(name, body)?;
        }
    }
    Ok(())
}

/// Plans the grants for `objects` under `policies` (checked with [`check`]): `everyone`
/// stands for ALLOW_ALL in a preset, `groups` maps a PyKMIP group to identities.
pub fn plan(
    policies: &Json,
    objects: &[ObjectMeta],
    everyone: &[String],
    groups: &BTreeMap<String, Vec<String>>,
) -> Plan {
    let mut out = Plan::default();
    let mut missing: Vec<String> = Vec::new();
    let mut merged: BTreeMap<(String, String), (Vec<String>, String)> = BTreeMap::new();
    for m in objects {
        let policy = m.attr_str(POLICY_ATTR).unwrap_or(DEFAULT_POLICY).to_owned();
        let Some(body) = policies.get(&policy) else {
            if !missing.contains(&policy) {
                missing.push(policy);
            }
            continue;
        };
        let ty = pykmip_type(m.object_type);
        let (preset, group_rules) = if body.get("preset").is_some() || body.get("groups").is_some()
        {
            (body.get("preset"), body.get("groups"))
        } else {
            (Some(body), None)
        };
        let mut targets: Vec<(&[String], &Json, String)> = Vec::new();
        if let Some(rules) = preset.and_then(|p| p.get(ty)) {
            targets.push((everyone, rules, format!("{policy}.preset")));
        }
        if let Some(gs) = group_rules.and_then(Json::as_object) {
            for (g, types) in gs {
                let Some(rules) = types.get(ty) else { continue };
                match groups.get(g) {
                    Some(ids) => targets.push((ids.as_slice(), rules, format!("{policy}.{g}"))),
                    None => {
                        let note = format!(
                            "group '{g}' of policy '{policy}' has no identities (--group \
                             {g}=ID,...): its rules were not imported"
                        );
                        if !out.notes.contains(&note) {
                            out.notes.push(note);
                        }
                    }
                }
            }
        }
        for (ids, rules, from) in targets {
            let Some(ops) = rules.as_object() else {
                continue;
            };
            let mut perms: Vec<String> = Vec::new();
            for (op, rule) in ops {
                match rule.as_str() {
                    Some("ALLOW_ALL") => {
                        if let Some(p) = permission_of(op)
                            && !perms.iter().any(|x| x == p)
                        {
                            perms.push(p.to_owned());
                        }
                    }
                    Some("DISALLOW_ALL") if permission_of(op).is_some() => {
                        let note = format!(
                            "{from}: {ty} {op} is DISALLOW_ALL; tresor's owner and admins keep \
                             every right on their objects"
                        );
                        if !out.notes.contains(&note) {
                            out.notes.push(note);
                        }
                    }
                    _ => {}
                }
            }
            if perms.is_empty() {
                continue;
            }
            for id in ids {
                if *id == m.owner {
                    continue;
                }
                let e = merged
                    .entry((m.uid.clone(), id.clone()))
                    .or_insert_with(|| (Vec::new(), policy.clone()));
                for p in &perms {
                    if !e.0.contains(p) {
                        e.0.push(p.clone());
                    }
                }
            }
        }
    }
    for ((uid, identity), (mut perms, policy)) in merged {
        perms.sort();
        out.grants.push(PlannedGrant {
            uid,
            identity,
            perms,
            policy,
        });
    }
    for p in missing {
        out.notes.push(format!(
            "objects name policy '{p}', which the file does not define: left as they are"
        ));
    }
    out
}

fn check_identity(id: &str) -> Result<(), KmipError> {
    if id.is_empty() || id.contains(['.', ',', '=']) || id == "*" {
        return Err(usage(format!(
            "identity '{id}' must be a client certificate CN without '.', ',' or '='"
        )));
    }
    Ok(())
}

/// Runs `tresor kmip import-policy`.
///
/// # Errors
/// Usage errors (a bad file, identity or group), store errors.
pub(super) fn import_policy(
    open_store: OpenStore<'_>,
    dir: Option<&Path>,
    file: &Path,
    identities: &[String],
    group_args: &[String],
    dry_run: bool,
    as_json: bool,
) -> Result<ExitCode, KmipError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| KmipError::io(format!("reading policy file {}", file.display()), e))?;
    let policies: Json = serde_json::from_str(&text).map_err(|e| {
        usage(format!(
            "policy file {} is not JSON: {e} (PyKMIP's operation policy format)",
            file.display()
        ))
    })?;
    check(&policies).map_err(|e| usage(format!("policy file {}: {e}", file.display())))?;
    let everyone: Vec<String> = identities
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    for id in &everyone {
        check_identity(id)?;
    }
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for g in group_args {
        let (name, ids) = g.split_once('=').ok_or_else(|| {
            usage(format!(
                "--group '{g}' must be GROUP=ID[,ID...] (a PyKMIP group and the identities in it)"
            ))
        })?;
        let ids: Vec<String> = ids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        for id in &ids {
            check_identity(id)?;
        }
        groups.entry(name.to_owned()).or_default().extend(ids);
    }
    let store = open_store(dir).map_err(|e| KmipError::Store(e.to_string()))?;
    let objects: Vec<ObjectMeta> = store
        .locate(&Query::default())
        .map_err(|e| KmipError::Store(e.to_string()))?
        .into_iter()
        .filter(|m| {
            !m.names
                .iter()
                .any(|n| n.starts_with(tresor_store::secret_name::RESERVED_PREFIX))
        })
        .collect();
    let p = plan(&policies, &objects, &everyone, &groups);
    if !dry_run && !p.grants.is_empty() {
        let actor = store.actor().to_owned();
        store
            .write_as(&actor, |tx| {
                for g in &p.grants {
                    tx.update(
                        &g.uid,
                        &format!(
                            "kmip import-policy {} {} {}",
                            g.policy,
                            g.identity,
                            g.perms.join(",")
                        ),
                        |m| {
                            let grants = m
                                .attributes
                                .entry(GRANTS_ATTR.to_owned())
                                .or_insert_with(|| json!({}));
                            if !grants.is_object() {
                                *grants = json!({});
                            }
                            if let Some(o) = grants.as_object_mut() {
                                let mut have: Vec<String> = o
                                    .get(&g.identity)
                                    .and_then(Json::as_str)
                                    .map(|s| s.split(',').map(str::to_owned).collect())
                                    .unwrap_or_default();
                                for perm in &g.perms {
                                    if !have.contains(perm) {
                                        have.push(perm.clone());
                                    }
                                }
                                have.retain(|x| !x.is_empty());
                                o.insert(g.identity.clone(), json!(have.join(",")));
                            }
                            Ok(())
                        },
                    )?;
                }
                Ok(())
            })
            .map_err(|e| KmipError::Store(e.to_string()))?;
    }
    if as_json {
        let grants: Vec<Json> = p
            .grants
            .iter()
            .map(|g| {
                json!({"uid": g.uid, "identity": g.identity, "permissions": g.perms,
                       "policy": g.policy})
            })
            .collect();
        println!(
            "{}",
            json!({"dry_run": dry_run, "grants": grants, "notes": p.notes})
        );
    } else {
        for g in &p.grants {
            println!(
                "{}{}\t{}\t{}\t(policy {})",
                if dry_run { "would grant " } else { "granted " },
                g.perms.join(","),
                g.uid,
                g.identity,
                g.policy
            );
        }
        for n in &p.notes {
            eprintln!("note: {n}");
        }
        eprintln!(
            "{} grant(s) {} on {} object(s)",
            p.grants.len(),
            if dry_run { "planned" } else { "added" },
            objects.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(uid: &str, owner: &str, t: ObjectType, policy: Option<&str>) -> ObjectMeta {
        let mut m: ObjectMeta = serde_json::from_value(json!({
            "uid": uid, "object_type": t, "state": "Active", "owner": owner,
            "names": [], "attributes": {}, "created": 0, "updated": 0, "rev": 1,
            "current_version": 1
        }))
        .unwrap_or_else(|e| panic!("test object: {e}"));
        if let Some(p) = policy {
            m.attributes.insert(POLICY_ATTR.into(), json!(p));
        }
        m
    }

    #[test]
    fn allow_all_becomes_grants_and_owner_rules_do_not() {
        let pol = json!({"team": {
            "preset": {"SYMMETRIC_KEY": {"GET": "ALLOW_ALL", "LOCATE": "ALLOW_ALL",
                                         "ENCRYPT": "ALLOW_ALL", "DESTROY": "ALLOW_OWNER",
                                         "REVOKE": "DISALLOW_ALL", "CREATE": "ALLOW_ALL"}},
            "groups": {"ops": {"SYMMETRIC_KEY": {"DESTROY": "ALLOW_ALL"}}}}});
        check(&pol).unwrap();
        let objects = vec![
            obj("k1", "alice", ObjectType::SymmetricKey, Some("team")),
            obj("k2", "alice", ObjectType::SymmetricKey, None),
            obj("c1", "alice", ObjectType::Certificate, Some("team")),
        ];
        let mut groups = BTreeMap::new();
        groups.insert("ops".to_owned(), vec!["carol".to_owned()]);
        let p = plan(&pol, &objects, &["bob".into(), "alice".into()], &groups);
        assert_eq!(
            p.grants,
            vec![
                PlannedGrant {
                    uid: "k1".into(),
                    identity: "bob".into(),
                    perms: vec!["get".into(), "locate".into(), "use".into()],
                    policy: "team".into(),
                },
                PlannedGrant {
                    uid: "k1".into(),
                    identity: "carol".into(),
                    perms: vec!["destroy".into()],
                    policy: "team".into(),
                },
            ]
        );
        assert!(
            p.notes.iter().any(|n| n.contains("DISALLOW_ALL")),
            "{:?}",
            p.notes
        );
        assert!(
            p.notes.iter().any(|n| n.contains("'default'")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn the_old_flat_form_is_a_preset() {
        let pol = json!({"public": {"SECRET_DATA": {"GET": "ALLOW_ALL"}}});
        check(&pol).unwrap();
        let p = plan(
            &pol,
            &[obj("s", "alice", ObjectType::SecretData, Some("public"))],
            &["bob".into()],
            &BTreeMap::new(),
        );
        assert_eq!(p.grants.len(), 1);
        assert_eq!(p.grants[0].perms, vec!["get".to_owned()]);
    }

    #[test]
    fn bad_files_name_what_is_wrong() {
        let e = check(&json!({"p": {"SYMMETRIC_KEY": {"GET": "MAYBE"}}})).unwrap_err();
        assert!(e.contains("p.SYMMETRIC_KEY.GET"), "{e}");
        assert!(check(&json!([])).is_err());
        let e = check(&json!({"p": {"groups": []}})).unwrap_err();
        assert!(e.contains("groups"), "{e}");
    }
}
