//! A fixture for migration tests: secrets written as a tresor from before metadata MACs
//! wrote them.

use crate::{Backend, ObjectType, State};

/// Writes secrets `(name, value)` the way a tresor from before metadata MACs did: rows without
/// a MAC, no `metadata-mac` setting, the audit key and chain as usual. The caller then puts
/// the schema back (drops the `mac` column, resets the schema version) for a SQL backend.
/// Returns the uids. For migration tests only.
///
/// # Errors
/// Backend or key-provider errors.
pub fn write_pre_mac_secrets(
    backend: &dyn Backend,
    provider: &dyn tresor_crypto::KeyProvider,
    actor: &str,
    secrets: &[(&str, &[u8])],
) -> crate::Result<Vec<String>> {
    use tresor_crypto::envelope;
    let sealed = match backend.meta_get(crate::store::AUDIT_KEY)? {
        Some(s) => s,
        None => {
            let mut k = [0u8; 32];
            tresor_crypto::random_fill(&mut k)?;
            let s = envelope::seal(provider, crate::store::AUDIT_KEY_AAD, &k)?;
            backend.meta_init(crate::store::AUDIT_KEY, &s.to_bytes())?
        }
    };
    let key = envelope::open(
        provider,
        crate::store::AUDIT_KEY_AAD,
        &envelope::Sealed::from_bytes(&sealed)?,
    )?;
    let signer = crate::AuditSigner::new(key);
    let mut batch = crate::Batch::default();
    let mut uids = Vec::new();
    let t = crate::now();
    for (name, value) in secrets {
        let uid = crate::new_uid()?;
        let meta = crate::ObjectMeta {
            uid: uid.clone(),
            object_type: ObjectType::SecretData,
            state: State::Active,
            owner: actor.to_owned(),
            names: vec![(*name).to_owned()],
            attributes: crate::Attributes::new(),
            current_version: 1,
            created: t,
            updated: t,
            rev: 1,
            mac: None,
        };
        let aad = crate::model::material_aad(&uid, 1, ObjectType::SecretData);
        batch.writes.push(crate::Write::PutObject {
            meta,
            expect: crate::Precondition::Absent,
        });
        batch
            .writes
            .push(crate::Write::PutVersion(crate::SealedVersion {
                uid: uid.clone(),
                version: 1,
                created: t,
                created_by: actor.to_owned(),
                sealed: Some(envelope::seal(provider, &aad, value)?.to_bytes()),
            }));
        batch.audit.push(crate::AuditDraft {
            actor: actor.to_owned(),
            action: "create".into(),
            uid: Some(uid.clone()),
            detail: format!("SecretData {name}"),
        });
        uids.push(uid);
    }
    backend.commit(&batch, &signer)?;
    Ok(uids)
}
