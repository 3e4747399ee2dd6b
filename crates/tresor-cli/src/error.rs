//! How an error ends the `tresor` process: the message (the error and its causes, each
//! once), the hint, and the exit code, decided here for every door's errors.
//!
//! Exit codes: 0 success; 1 a negative answer (no such secret, key, rotator or keyring
//! key: scripts test for it); 2 any other error; 3 an ambiguous filter; 4 a kernel keyring
//! refusal (permission or quota). Hints are the libraries' own (`VaultError::hint` and the
//! like): the Python door shows them too. No library decides an exit code.

use std::process::ExitCode;

use crate::output;

/// Prints `error: …` and an optional `hint: …`; returns the exit code for the error.
pub(crate) fn report(e: &anyhow::Error) -> ExitCode {
    // A closed pipe (e.g. `tresor list | head`) is not an error.
    if e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    }) {
        return ExitCode::SUCCESS;
    }
    let (code, hint) = classify(e);
    let msg = message(e);
    if output::color_stderr() {
        eprintln!("\x1b[31merror:\x1b[0m {msg}");
    } else {
        eprintln!("error: {msg}");
    }
    if let Some(h) = hint {
        eprintln!("hint: {h}");
    }
    ExitCode::from(code)
}

/// The error and its causes joined by `: `, each cause once: many errors (`VaultError::Io`,
/// the store's I/O errors) already print their source, which the chain would repeat.
fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

fn classify(e: &anyhow::Error) -> (u8, Option<String>) {
    use tresor_vault::VaultError;
    for c in e.chain() {
        // Metadata edited outside tresor (issue 13): an error, with what to do about it.
        let store = c.downcast_ref::<tresor_store::StoreError>().or_else(|| {
            match c.downcast_ref::<VaultError>() {
                Some(VaultError::Store(s)) => Some(s),
                _ => None,
            }
        });
        if let Some(tresor_store::StoreError::Tampered { .. }) = store {
            return (
                2,
                Some(
                    "tresor refuses objects whose owner, grants, names, versions or state were changed outside it; run 'tresor audit --verify', then restore from a backup or find who wrote the database"
                        .into(),
                ),
            );
        }
        if let Some(v) = c.downcast_ref::<VaultError>() {
            let code = match v {
                VaultError::NotFound(_) => 1,
                VaultError::Ambiguous { .. } => 3,
                _ => 2,
            };
            return (code, v.hint());
        }
        #[cfg(feature = "s3")]
        if let Some(s) = c.downcast_ref::<tresor_s3::S3Error>() {
            let missing = matches!(
                s,
                tresor_s3::S3Error::NotFound(_)
                    | tresor_s3::S3Error::Store(tresor_store::StoreError::NotFound(_))
            );
            return (if missing { 1 } else { 2 }, s.hint());
        }
        if let Some(r) = c.downcast_ref::<tresor_rotate::RotateError>() {
            use tresor_rotate::RotateError;
            let missing = matches!(r, RotateError::NotFound(_) | RotateError::NoRotator(_));
            return (if missing { 1 } else { 2 }, r.hint());
        }
        if let Some(k) = c.downcast_ref::<tresor_keyring::KeyringError>() {
            use tresor_keyring::KeyringError;
            let code = match k {
                KeyringError::NotFound { .. } | KeyringError::RingNotFound { .. } => 1,
                KeyringError::PermissionDenied { .. } | KeyringError::QuotaExceeded { .. } => 4,
                _ => 2,
            };
            return (code, k.hint());
        }
    }
    (2, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: impl Into<anyhow::Error>) -> u8 {
        classify(&e.into()).0
    }

    /// Every door's "not there" is 1, a filter matching several is 3, a keyring refusal 4,
    /// anything else 2 — also when the error arrives wrapped in context.
    #[test]
    fn each_doors_errors_get_their_exit_code() {
        use tresor_vault::VaultError;
        assert_eq!(code(VaultError::NotFound("a:b:C".into())), 1);
        assert_eq!(
            code(VaultError::Ambiguous {
                filter: "a:*:C".into(),
                count: 2,
                names: vec!["a:b:C".into(), "a:c:C".into()],
            }),
            3
        );
        assert_eq!(
            code(tresor_rotate::RotateError::NoRotator("a:b:C".into())),
            1
        );
        assert_eq!(
            code(tresor_rotate::RotateError::NotFound("a:b:C".into())),
            1
        );
        #[cfg(feature = "s3")]
        {
            assert_eq!(code(tresor_s3::S3Error::NotFound("k".into())), 1);
            assert_eq!(
                code(tresor_s3::S3Error::Store(
                    tresor_store::StoreError::NotFound("u".into())
                )),
                1
            );
        }
        let keyring = tresor_keyring::KeyringError::NotFound {
            ring: "user".into(),
            name: "k".into(),
        };
        assert_eq!(code(keyring), 1);
        use tresor_keyring::KeyringError;
        let ring = KeyringError::RingNotFound { ring: "@x".into() };
        assert_eq!(code(ring), 1);
        let denied = KeyringError::PermissionDenied {
            op: "read",
            ring: "user".into(),
            name: "k".into(),
            errno: libc::EACCES,
        };
        assert_eq!(code(denied), 4);
        let quota = KeyringError::QuotaExceeded {
            ring: "user".into(),
            name: "k".into(),
            maxkeys: "200".into(),
            maxbytes: "20000".into(),
            quota_files: "see /proc/sys/kernel/keys/maxkeys and maxbytes",
        };
        assert_eq!(code(quota), 4);
        let bad = KeyringError::InvalidTimeout {
            input: "soon".into(),
        };
        assert_eq!(code(bad), 2);
        let wrapped = anyhow::Error::from(tresor_rotate::RotateError::NoRotator("x".into()))
            .context("rotating x");
        assert_eq!(classify(&wrapped).0, 1);
        assert_eq!(code(std::io::Error::other("disk")), 2);
    }
}
