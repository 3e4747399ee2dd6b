//! Does this process have a session keyring of its own?

use crate::KeyringError;

/// Which session keyring the calling process has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// The process has a session keyring of its own (from `pam_keyinit`,
    /// `keyctl session`, systemd's `KeyringMode=`...).
    Own {
        /// Serial number of the session keyring.
        id: i32,
    },
    /// The process has no session keyring of its own: `@s` is the per-user
    /// default session keyring `_uid_ses.<uid>`, shared with every other
    /// such process of the user (cron jobs, containers, `su` shells, ...).
    UserSessionDefault {
        /// Serial number of the user-session keyring.
        id: i32,
    },
}

impl SessionStatus {
    /// Returns true if and only if the session keyring is the per-user
    /// default one.
    pub fn is_user_session_default(&self) -> bool {
        matches!(self, SessionStatus::UserSessionDefault { .. })
    }
}

/// Explains the [`SessionStatus::UserSessionDefault`] case to a user.
pub const NO_SESSION_HINT: &str = "this process has no session keyring of its own: ring 'session' \
is the per-user default session keyring, shared by every process of this user that has no session \
either, and it is not tied to a login. tresor never joins or replaces a session keyring for you. \
Use '--ring user' (works everywhere), or start a session first with `keyctl session - COMMAND`.";

/// Finds out whether the calling process has its own session keyring.
///
/// Neither creates nor joins a session keyring. (If the process had none at
/// all, the kernel installs the user-session keyring as its session keyring,
/// exactly as any other `@s` lookup does.)
///
/// # Errors
///
/// The kernel's error if either keyring cannot be resolved.
///
/// # Examples
///
/// ```
/// let status = tresor_keyring::session_status()?;
/// if status.is_user_session_default() {
///     eprintln!("hint: {}", tresor_keyring::NO_SESSION_HINT);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn session_status() -> Result<SessionStatus, KeyringError> {
    let session = serial_of(-3, "session")?;
    let user_session = serial_of(-5, "user-session")?;
    if session == user_session {
        Ok(SessionStatus::UserSessionDefault { id: user_session })
    } else {
        Ok(SessionStatus::Own { id: session })
    }
}

/// Resolves a special id to its serial number without creating anything.
fn serial_of(special: i32, ring: &str) -> Result<i32, KeyringError> {
    crate::ffi::get_keyring_id(special).map_err(|e| KeyringError::from_errno(e, "open", ring, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ids_are_real_keyrings() {
        let st = session_status().unwrap();
        let id = match st {
            SessionStatus::Own { id } | SessionStatus::UserSessionDefault { id } => id,
        };
        let d = crate::ffi::describe(id).unwrap();
        assert!(d.starts_with("keyring;"), "{d}");
        if st.is_user_session_default() {
            assert!(d.contains("_uid_ses."), "{d}");
        }
    }
}
