use std::path::PathBuf;

/// Everything that can go wrong in the vault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No vault at the folder.
    #[error("no vault at '{}'", .0.display())]
    NotInitialized(PathBuf),
    /// `init` over an existing vault.
    #[error("a vault already exists at '{}'; it was left untouched", .0.display())]
    AlreadyInitialized(PathBuf),
    /// The key file is gone.
    #[error("the vault key file '{}' is missing", .0.display())]
    KeyFileMissing(PathBuf),
    /// A passphrase is needed and none was given.
    #[error("this vault is protected by a passphrase and none was given")]
    PassphraseRequired,
    /// The passphrase does not open the key file.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// No secret matches.
    #[error("no secret matches '{0}'")]
    NotFound(String),
    /// A filter that must name one secret matched several.
    #[error("'{filter}' matches {count} secrets ({}), expected one", names.join(", "))]
    Ambiguous {
        /// The filter.
        filter: String,
        /// How many matched.
        count: usize,
        /// The first few names.
        names: Vec<String>,
    },
    /// A secret with that name exists.
    #[error("secret '{0}' already exists")]
    Exists(String),
    /// A filter did not parse.
    #[error(transparent)]
    Filter(#[from] crate::filter::FilterError),
    /// A name part is invalid.
    #[error(transparent)]
    Name(#[from] crate::filter::NameError),
    /// An env.template is invalid.
    #[error(transparent)]
    Template(#[from] crate::template::TemplateError),
    /// A .env file is invalid.
    #[error(transparent)]
    Dotenv(#[from] crate::dotenv::DotenvError),
    /// A seeqret vault or export could not be read.
    #[error(transparent)]
    Seeqret(#[from] crate::seeqret::SeeqretError),
    /// No such user in this vault.
    #[error("unknown user '{0}'")]
    UnknownUser(String),
    /// The user exists already.
    #[error("user '{0}' already exists")]
    UserExists(String),
    /// A public key could not be read.
    #[error("invalid public key: {0}")]
    BadPublicKey(String),
    /// An export, backup or import file was rejected.
    #[error("rejected {what}: {why}")]
    Rejected {
        /// What file.
        what: &'static str,
        /// Why.
        why: String,
    },
    /// An import or forced write would touch tresor's own objects or a non-secret object.
    #[error("refused to write '{name}': {why}")]
    Reserved {
        /// The full name of the refused target.
        name: String,
        /// Why it is refused.
        why: &'static str,
    },
    /// The operation is refused (e.g. an empty filter for `rm`).
    #[error("{0}")]
    Refused(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tresor_store::StoreError),
    /// Cryptography failed.
    #[error(transparent)]
    Crypto(#[from] tresor_crypto::CryptoError),
    /// A file could not be read or written.
    #[error("{what} '{}': {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl VaultError {
    pub(crate) fn io(
        what: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> VaultError {
        let path = path.to_owned();
        move |source| VaultError::Io { what, path, source }
    }

    /// A hint telling the user what to do next, where one helps.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            VaultError::NotInitialized(_) => "run 'tresor init' first, or point TRESOR_VAULT at your vault".into(),
            VaultError::AlreadyInitialized(_) => "use another folder, or remove the old vault yourself if you really mean it".into(),
            VaultError::KeyFileMissing(_) => "restore the key file from your backup; without it the vault cannot be opened".into(),
            VaultError::PassphraseRequired => "set TRESOR_PASSPHRASE, pass --passphrase-file FILE, run from a terminal, or 'tresor unlock' first".into(),
            VaultError::WrongPassphrase => "check the passphrase; nothing was changed".into(),
            VaultError::NotFound(_) => "'tresor list' shows what the vault holds".into(),
            VaultError::Ambiguous { .. } => "narrow the filter to APP:ENV:KEY, or pass --all where the command allows it".into(),
            VaultError::Exists(_) => "pass --force to store a new version (the old one stays in 'tresor history')".into(),
            VaultError::Reserved { .. } => "nothing was written; rename the secret (the 'tresor' app and names starting 'tresor:' or 'tresor-key:' are tresor's own)".into(),
            VaultError::UnknownUser(_) => "'tresor users' lists known users; add one with 'tresor add user'".into(),
            VaultError::Store(tresor_store::StoreError::Corrupt { .. }) => "move the vault folder aside, then rebuild it from a backup with 'tresor restore BACKUP --key-file OLD_FOLDER/vault.key'".into(),
            VaultError::Store(tresor_store::StoreError::Crypto(_)) | VaultError::Crypto(_) => {
                "the vault key does not match this vault, or the database was altered".into()
            }
            _ => return None,
        })
    }
}

/// Result alias for the vault.
pub type Result<T, E = VaultError> = std::result::Result<T, E>;
