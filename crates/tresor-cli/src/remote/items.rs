//! How remote mode shows what the server answers: an object's description as a vault
//! secret, Read Names refusals in words.

use tresor_kmip::client::SecretDescription;
use tresor_kmip::enums::ResultReason;
use tresor_store::secret_name::SecretName;
use tresor_vault::SecretInfo;

/// Hides tresor's own objects; names every other object as the local vault does.
pub(super) fn view(d: &SecretDescription) -> Option<(String, String, String)> {
    SecretName::view(
        None,
        |_| None,
        d.name.as_deref(),
        &d.uid,
        || d.object_type.to_ascii_lowercase(),
    )
    .map(SecretName::into_parts)
}

/// Returns true if and only if a Read Names refusal means "no such secret or version" (an
/// object the identity may not see answers exactly as an absent one).
pub(super) fn missing_reason(r: ResultReason) -> bool {
    r == ResultReason::ITEM_NOT_FOUND
        || r == ResultReason::OBJECT_NOT_FOUND
        || r == ResultReason::KEY_VALUE_NOT_PRESENT
        || r == ResultReason::OBJECT_DESTROYED
}

/// A Read Names refusal in words.
pub(super) fn refusal(r: ResultReason) -> String {
    let why = match r {
        ResultReason::PERMISSION_DENIED => "this identity may not read it (no get grant)",
        ResultReason::NOT_EXTRACTABLE => "it is not extractable",
        ResultReason::SENSITIVE => "it is sensitive (never sent in clear)",
        _ => "",
    };
    let name = r.name().unwrap_or("error");
    if why.is_empty() {
        name.to_owned()
    } else {
        format!("{why} ({name})")
    }
}

pub(super) fn info(d: &SecretDescription, app: String, env: String, key: String) -> SecretInfo {
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
