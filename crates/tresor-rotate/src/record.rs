//! The companion record: building a rotator from its kind, reading the secrets it needs,
//! and decoding (and vetting) the configuration and journal a companion object carries.

use tresor_crypto::SecretBytes;
use tresor_store::{ObjectMeta, Store, StoreError};

use crate::config::{Journal, RotatorConfig, RotatorKind};
use crate::engine::{ATTR_CONFIG, ATTR_JOURNAL, ATTR_TARGET, COMPANION_ROLE, ROLE, bad_record};
use crate::error::{Result, RotateError};
use crate::rotator::Rotator;

/// The rotators built into this crate (by feature).
///
/// # Errors
/// [`RotateError::Unsupported`] for a kind whose feature is off, the admin secret missing.
pub fn default_factory(store: &Store, kind: &RotatorKind) -> Result<Box<dyn Rotator>> {
    match kind {
        RotatorKind::Exec { command } => Ok(Box::new(crate::exec::ExecRotator::new(command))),
        #[cfg(feature = "postgres")]
        RotatorKind::Postgres {
            dsn_secret,
            role,
            two_roles,
        } => {
            let dsn = read_secret(store, dsn_secret)?;
            let dsn = dsn.as_str().ok_or_else(|| {
                RotateError::Invalid(format!("secret '{dsn_secret}' is not UTF-8 text"))
            })?;
            let r =
                crate::postgres::PostgresRotator::new(dsn, role, *two_roles).map_err(|why| {
                    RotateError::Invalid(format!("admin secret '{dsn_secret}': {why}"))
                })?;
            Ok(Box::new(r))
        }
        #[cfg(feature = "aws-iam")]
        RotatorKind::AwsIam {
            user,
            endpoint,
            region,
        } => Ok(Box::new(crate::aws_iam::AwsIamRotator::new(
            user,
            endpoint.as_deref(),
            region,
        ))),
        #[allow(unreachable_patterns)]
        other => {
            let _ = store;
            Err(RotateError::Unsupported(other.name()))
        }
    }
}

/// The current value of a vault secret.
///
/// # Errors
/// [`RotateError::NotFound`].
pub fn read_secret(store: &Store, name: &str) -> Result<SecretBytes> {
    match store.read_by_name(name)? {
        Some((m, v)) if is_secret(&m) => Ok(v),
        _ => Err(RotateError::NotFound(name.to_owned())),
    }
}

pub(crate) fn is_secret(m: &ObjectMeta) -> bool {
    tresor_vault::vault_view(m).is_some()
        && !tresor_store::reserved::is_reserved_name(m.name().unwrap_or(""))
}

pub(crate) fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Invalid {
        uid: String::new(),
        why: format!("rotator record: {e}"),
    }
}

pub(crate) fn config_of(c: &ObjectMeta) -> std::result::Result<RotatorConfig, String> {
    let v = c
        .attributes
        .get(ATTR_CONFIG)
        .ok_or("the rotator configuration is missing")?;
    serde_json::from_value(v.clone()).map_err(|e| format!("rotator configuration: {e}"))
}

pub(crate) fn journal_of(c: &ObjectMeta) -> std::result::Result<Journal, String> {
    match c.attributes.get(ATTR_JOURNAL) {
        None => Ok(Journal::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("rotation journal: {e}")),
    }
}

/// A companion is honoured only when it is tresor's: role `rotator`, pointing at this very
/// secret (not one that was deleted and re-created under the name), owned by the acting
/// identity (on a server: its local owner, never a client).
pub(crate) fn check_companion(
    name: &str,
    c: &ObjectMeta,
    secret: &ObjectMeta,
    actor: &str,
) -> Result<()> {
    if c.attr_str(ROLE) != Some(COMPANION_ROLE) {
        return Err(bad_record(name, "its companion object is not a rotator"));
    }
    if c.attr_str(ATTR_TARGET) != Some(secret.uid.as_str()) {
        return Err(bad_record(
            name,
            "it was attached to another secret of the same name (removed and re-added since); run 'tresor rotator set' again",
        ));
    }
    if c.owner != actor {
        return Err(bad_record(
            name,
            format!("its rotator belongs to '{}', not to '{actor}'", c.owner),
        ));
    }
    Ok(())
}
