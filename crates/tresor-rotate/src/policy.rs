//! The value policy: length and alphabet of a generated value, drawn from the OS RNG.

use serde::{Deserialize, Serialize};
use tresor_crypto::SecretBytes;

use crate::{Result, RotateError};

/// Letters and digits.
pub const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// How a generated value looks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValuePolicy {
    /// Number of characters.
    pub length: usize,
    /// The characters to draw from (each equally likely), ASCII printable without space.
    pub alphabet: String,
}

impl Default for ValuePolicy {
    fn default() -> Self {
        ValuePolicy {
            length: 32,
            alphabet: ALNUM.into(),
        }
    }
}

impl ValuePolicy {
    /// A policy from a length and an alphabet name (`alnum`, `hex`, `symbols`) or a literal
    /// list of characters.
    ///
    /// # Errors
    /// [`RotateError::Invalid`] for a length outside 16..=256 or an alphabet with fewer than
    /// 10 distinct characters, a space, a quote or a non-ASCII character.
    ///
    /// # Examples
    /// ```
    /// use tresor_rotate::ValuePolicy;
    /// let p = ValuePolicy::new(24, "hex")?;
    /// let v = p.generate()?;
    /// assert_eq!(v.expose().len(), 24);
    /// assert!(v.expose().iter().all(|c| c.is_ascii_hexdigit()));
    /// # Ok::<(), tresor_rotate::RotateError>(())
    /// ```
    pub fn new(length: usize, alphabet: &str) -> Result<Self> {
        let alphabet = match alphabet {
            "alnum" => ALNUM.to_owned(),
            "hex" => "0123456789abcdef".to_owned(),
            "symbols" => format!("{ALNUM}-_.~!@#%^*+=,:"),
            other => other.to_owned(),
        };
        if !(16..=256).contains(&length) {
            return Err(RotateError::Invalid(format!(
                "value length {length} is outside 16..=256"
            )));
        }
        let mut chars: Vec<char> = alphabet.chars().collect();
        if let Some(c) = chars
            .iter()
            .find(|c| !c.is_ascii_graphic() || matches!(c, '\'' | '"' | '\\' | '`'))
        {
            return Err(RotateError::Invalid(format!(
                "alphabet character {c:?} is not allowed (printable ASCII without quotes, backslash or space)"
            )));
        }
        chars.sort_unstable();
        chars.dedup();
        if chars.len() < 10 {
            return Err(RotateError::Invalid(format!(
                "alphabet has {} distinct characters; give at least 10 (or alnum, hex, symbols)",
                chars.len()
            )));
        }
        Ok(ValuePolicy {
            length,
            alphabet: chars.into_iter().collect(),
        })
    }

    /// A fresh value: `length` characters of the alphabet, unbiased (rejection sampling over
    /// bytes from the OS CSPRNG).
    ///
    /// # Errors
    /// [`RotateError::Invalid`] if the system generator fails or the policy is malformed.
    pub fn generate(&self) -> Result<SecretBytes> {
        let alphabet = self.alphabet.as_bytes();
        let n = alphabet.len();
        if !(2..=256).contains(&n) || self.length == 0 {
            return Err(RotateError::Invalid("malformed value policy".into()));
        }
        // Largest multiple of n not above 256: bytes at or over it are drawn again.
        let limit = 256 - (256 % n);
        let mut out = zeroize::Zeroizing::new(Vec::with_capacity(self.length));
        let mut buf = zeroize::Zeroizing::new([0u8; 64]);
        while out.len() < self.length {
            tresor_crypto::random_fill(&mut buf[..])
                .map_err(|e| RotateError::Invalid(format!("random generator: {e}")))?;
            for &b in buf.iter() {
                if (b as usize) < limit && out.len() < self.length {
                    out.push(alphabet[b as usize % n]);
                }
            }
        }
        Ok(SecretBytes::new(out.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_policy_and_differ() {
        let p = ValuePolicy::default();
        let a = p.generate().unwrap();
        let b = p.generate().unwrap();
        assert_eq!(a.expose().len(), 32);
        assert!(a.expose().iter().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(ValuePolicy::new(8, "alnum").is_err());
        assert!(ValuePolicy::new(32, "abc").is_err());
        assert!(ValuePolicy::new(32, "abcdefghij'").is_err());
        assert!(ValuePolicy::new(32, "abcdefghij k").is_err());
        assert_eq!(ValuePolicy::new(32, "symbols").unwrap().length, 32);
    }

    #[test]
    fn every_character_is_drawn() {
        let p = ValuePolicy::new(256, "0123456789").unwrap();
        let v = p.generate().unwrap();
        for c in b"0123456789" {
            assert!(v.expose().contains(c));
        }
    }
}
