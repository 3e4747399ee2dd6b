use zeroize::Zeroize;

/// A secret value: zeroized on drop, redacted in `Debug`, with no `Display`.
///
/// The only way to read it is [`Secret::expose`].
///
/// ```
/// let s = tresor_crypto::Secret::new(b"hunter2".to_vec());
/// assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
/// assert_eq!(s.expose(), b"hunter2");
/// ```
pub struct Secret<T: Zeroize>(T);

/// A secret byte string.
pub type SecretBytes = Secret<Vec<u8>>;

impl<T: Zeroize> Secret<T> {
    /// Wraps `value`; it will be zeroized when the wrapper drops.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// Borrows the secret value.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Borrows the secret value mutably.
    pub fn expose_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Zeroize + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Secret(self.0.clone())
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl SecretBytes {
    /// Interprets the secret as UTF-8 text, if it is.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl From<String> for SecretBytes {
    fn from(s: String) -> Self {
        Secret(s.into_bytes())
    }
}

impl From<&str> for SecretBytes {
    fn from(s: &str) -> Self {
        Secret(s.as_bytes().to_vec())
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        crate::ct_eq(&self.0, &other.0)
    }
}
